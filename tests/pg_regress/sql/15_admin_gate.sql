-- Administration: every function that changes the model needs
-- manage_sharing (membership of sharing_admin, or a profile with
-- manage_sharing); the catalog tables are writable directly by sharing
-- admins only, through the same validation; every change is audited.
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- Ids are set explicitly so that the audit's before/after can be shown
-- whole (sequences are not transactional: later tests simply go on from here).
SELECT setval('sharing.roles_id_seq', 15000) > 0 AS set,
       setval('sharing.users_id_seq', 15000) > 0 AS set,
       setval('sharing.groups_id_seq', 15000) > 0 AS set,
       setval('sharing.profiles_id_seq', 15000) > 0 AS set,
       setval('sharing.rules_id_seq', 15000) > 0 AS set;

CREATE ROLE t15_plain LOGIN;
CREATE ROLE t15_admin LOGIN IN ROLE sharing_admin;
CREATE ROLE t15_manager LOGIN;
CREATE ROLE t15_staff LOGIN;
CREATE ROLE t15_app LOGIN IN ROLE sharing_app;
SELECT sharing.create_role('Base') AS base_role_id;
SELECT sharing.create_profile('sharing manager', manage_sharing => true) AS profile_id;
SELECT sharing.create_user('Mia Manager', 'Base', 'sharing manager', 't15_manager', 1501);
SELECT sharing.create_user('Sam Staff', 'Base', 'standard', 't15_staff', 1502);
-- one table (and one child table) per caller below, to protect
DO $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['a', 'm', 'x', 'p', 's', 'y', 'z', 'i'] LOOP
        EXECUTE format('CREATE TABLE t15_tbl_%s (id bigint PRIMARY KEY, owner_id bigint NOT NULL, name text)', s);
        EXECUTE format('CREATE TABLE t15_child_%s (id bigint PRIMARY KEY, parent_id bigint NOT NULL)', s);
    END LOOP;
END
$$;

-- Every model-changing function, in an order where each call can succeed;
-- `s` names the objects so that each caller works on its own.
CREATE FUNCTION pg_temp.gate(s text) RETURNS TABLE (n integer, fn text, result text)
LANGUAGE plpgsql AS $$
DECLARE
    calls text[] := ARRAY[
        $c$SELECT sharing.create_role('R %1$s')$c$,
        $c$SELECT sharing.create_role('R %1$s 2')$c$,
        $c$SELECT sharing.move_role('R %1$s 2', 'R %1$s')$c$,
        $c$SELECT sharing.drop_role('R %1$s 2')$c$,
        $c$SELECT sharing.create_user('U %1$s', 'R %1$s')$c$,
        $c$SELECT sharing.alter_user('U %1$s', '{"active": false}')$c$,
        $c$SELECT sharing.create_group('G %1$s')$c$,
        $c$SELECT sharing.add_to_group('G %1$s', 'user', 'U %1$s')$c$,
        $c$SELECT sharing.remove_from_group('G %1$s', 'user', 'U %1$s')$c$,
        $c$SELECT sharing.drop_group('G %1$s')$c$,
        $c$SELECT sharing.create_profile('P %1$s')$c$,
        $c$SELECT sharing.protect('t15_tbl_%1$s')$c$,
        $c$SELECT sharing.set_profile_permission('P %1$s', 't15_tbl_%1$s', 'edit', false)$c$,
        $c$SELECT sharing.set_default_access('t15_tbl_%1$s', 'public_read')$c$,
        $c$SELECT sharing.create_owner_rule('t15_tbl_%1$s', 'owner rule', 'role', 'R %1$s', 'all_users', NULL, 'read')$c$,
        $c$SELECT sharing.create_criteria_rule('t15_tbl_%1$s', 'criteria rule',
               '{"conditions": [{"column": "name", "op": "=", "value": "x"}]}', 'role', 'R %1$s', 'read')$c$,
        $c$SELECT sharing.protect_child('t15_child_%1$s', 'parent_id', 't15_tbl_%1$s')$c$,
        $c$SELECT sharing.unprotect('t15_child_%1$s')$c$];
BEGIN
    FOR i IN 1 .. cardinality(calls) LOOP
        n := i;
        fn := substring(calls[i] FROM 'sharing\.([a-z_]+)\(');
        result := pg_temp.try(format(calls[i], s));
        RETURN NEXT;
    END LOOP;
END
$$;
-- The same, summarised by outcome.
CREATE FUNCTION pg_temp.gate_summary(s text) RETURNS TABLE (outcome text, calls bigint)
LANGUAGE sql AS $$
    SELECT split_part(result, ':', 1), count(*) FROM pg_temp.gate(s) GROUP BY 1 ORDER BY 1
$$;
-- The audit since a moment, in order, without the log's own id and time
-- and the timestamps kept in the rows.
CREATE FUNCTION pg_temp.audit_since(mark timestamptz)
RETURNS TABLE (db_role text, acting_user bigint, action text, object text, before jsonb, after jsonb)
LANGUAGE sql AS $$
    SELECT a.db_role, a.acting_user, a.action, a.object,
           a.before - 'protected_at' - 'created_at' - 'modified_at',
           a.after - 'protected_at' - 'created_at' - 'modified_at'
      FROM sharing.audit_log a WHERE a.at > mark ORDER BY a.at, a.action, a.object
$$;
SELECT clock_timestamp() AS mark \gset

-- a plain login role may call none of them: 42501, naming the function
SET ROLE t15_plain;
SELECT * FROM pg_temp.gate('p');
-- nor may a user whose profile lacks manage_sharing (through db_role) ...
SET ROLE t15_staff;
SELECT * FROM pg_temp.gate_summary('s');
-- ... nor an application that acts as no one, or as such a user
SET ROLE t15_app;
SELECT * FROM pg_temp.gate_summary('z');
SAVEPOINT app;
SELECT sharing.act_as(1502);
SELECT * FROM pg_temp.gate_summary('y');
ROLLBACK TO SAVEPOINT app;
RESET ROLE;
-- the refused calls changed nothing and left no trace in the audit
SELECT count(*) AS audit_rows FROM sharing.audit_log WHERE at > :'mark';
SELECT count(*) AS protected_tables FROM sharing.protected_tables;

-- a member of sharing_admin may call every one
SET ROLE t15_admin;
SELECT * FROM pg_temp.gate_summary('a');
RESET ROLE;
-- so may a user whose profile has manage_sharing, connected through db_role
SELECT clock_timestamp() AS mark \gset
SET ROLE t15_manager;
SELECT * FROM pg_temp.gate('m');
RESET ROLE;
-- and every change lands in the audit log: the db role, the acting user,
-- the action, the object, and the row before and after
SELECT * FROM pg_temp.audit_since(:'mark');
-- an application acting as such a user may, too; the audit names both
SELECT clock_timestamp() AS mark \gset
SET ROLE t15_app;
SAVEPOINT app;
SELECT sharing.act_as(1501);
SELECT * FROM pg_temp.gate_summary('x');
RESET ROLE;
SELECT db_role, acting_user, count(*) AS changes FROM pg_temp.audit_since(:'mark') GROUP BY 1, 2;
-- (act_as lasts until the end of the transaction or, as here, the rollback
-- of its savepoint: SET ROLE does not end it)
SELECT sharing.current_user_id() AS still_acting;
ROLLBACK TO SAVEPOINT app;
SELECT sharing.current_user_id() AS no_longer_acting;
-- (the rollback also undid RESET ROLE)
RESET ROLE;
-- the profile acts only while the user is active
SELECT sharing.alter_user('Mia Manager', '{"active": false}');
SET ROLE t15_manager;
SELECT * FROM pg_temp.gate_summary('i');
RESET ROLE;
SELECT sharing.alter_user('Mia Manager', '{"active": true}');

-- non-admins may read the catalog but not write it, not even with a
-- manage_sharing profile (that is what the functions are for)
CREATE FUNCTION pg_temp.dml() RETURNS TABLE (tbl text, op text, result text)
LANGUAGE sql AS $$
    SELECT t, op, pg_temp.try(CASE op
        WHEN 'insert' THEN format('INSERT INTO sharing.%I SELECT * FROM sharing.%I WHERE false', t, t)
        WHEN 'update' THEN format('UPDATE sharing.%I SET %I = %I', t,
                                  CASE t WHEN 'group_members' THEN 'member_type' WHEN 'profile_permissions' THEN 'can_read' ELSE 'name' END,
                                  CASE t WHEN 'group_members' THEN 'member_type' WHEN 'profile_permissions' THEN 'can_read' ELSE 'name' END)
        ELSE format('DELETE FROM sharing.%I WHERE false', t) END)
      FROM unnest(ARRAY['roles', 'users', 'groups', 'group_members', 'profiles', 'profile_permissions']) t,
           unnest(ARRAY['insert', 'update', 'delete']) op
$$;
SET ROLE t15_plain;
SELECT (SELECT count(*) FROM sharing.roles) AS roles, (SELECT count(*) FROM sharing.users) AS users;
SELECT * FROM pg_temp.dml();
SET ROLE t15_manager;
SELECT result, count(*) FROM pg_temp.dml() GROUP BY 1;
-- nor call the internals that the public functions use
SELECT pg_temp.try($$SELECT sharing._refresh_role_closure()$$);
SELECT pg_temp.try($$SELECT sharing._protect_table('t15_tbl_p'::regclass, 'owner_id', 'private', true)$$);
SELECT pg_temp.try($$SELECT sharing._require_manage('anything')$$);
RESET ROLE;

-- a sharing admin may write the catalog directly; the same validation
-- applies and the derived sets follow
SELECT clock_timestamp() AS mark \gset
SET ROLE t15_admin;
INSERT INTO sharing.roles (id, name) VALUES (15101, 'Direct Top');
INSERT INTO sharing.roles (id, name, parent_id) VALUES (15102, 'Direct Mid', 15101), (15103, 'Direct Low', 15102);
INSERT INTO sharing.users (id, name, role_id, profile_id) VALUES (1503, 'Dora Direct', 15103, 2);
-- (an UPDATE that changes nothing is not a change)
UPDATE sharing.roles SET name = name WHERE id = 15101;
SELECT a.name AS ancestor, c.depth FROM sharing._role_closure c JOIN sharing.roles a ON a.id = c.ancestor_id
 WHERE c.descendant_id = 15103 ORDER BY c.depth;
SELECT principal_type, principal_id FROM sharing._user_principals WHERE user_id = 1503 ORDER BY 1, 2;
-- a cycle through a direct UPDATE of parent_id is refused, naming it from
-- superior to subordinate
SELECT pg_temp.try($$UPDATE sharing.roles SET parent_id = 15103 WHERE name = 'Direct Top'$$);
-- (and a role as its own parent)
SELECT pg_temp.try($$UPDATE sharing.roles SET parent_id = 15102 WHERE name = 'Direct Mid'$$);
-- bad rows: empty or duplicate name, unknown parent
SELECT pg_temp.try($$INSERT INTO sharing.roles (name) VALUES ('  ')$$);
SELECT pg_temp.try($$INSERT INTO sharing.roles (name) VALUES ('Direct Top')$$);
SELECT pg_temp.try($$INSERT INTO sharing.roles (name, parent_id) VALUES ('Direct Orphan', 999999)$$);
-- a user's login role must exist; ids are kept
SELECT pg_temp.try($$INSERT INTO sharing.users (name, profile_id, db_role) VALUES ('Ghost', 2, 't15_no_such_login')$$);
SELECT pg_temp.try($$UPDATE sharing.users SET db_role = 't15_no_such_login' WHERE id = 1503$$);
SELECT pg_temp.try($$UPDATE sharing.users SET id = 1599 WHERE id = 1503$$);
SELECT pg_temp.try($$UPDATE sharing.roles SET id = 15199 WHERE id = 15103$$);
-- a direct role change of a user updates their principals
UPDATE sharing.users SET role_id = 15101 WHERE id = 1503;
SELECT principal_type, principal_id FROM sharing._user_principals WHERE user_id = 1503 ORDER BY 1, 2;
-- group members must exist; no group may contain itself, directly or not
INSERT INTO sharing.groups (id, name) VALUES (15201, 'Direct A'), (15202, 'Direct B'), (15203, 'Direct C');
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15201, 'user', 999999)$$);
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15201, 'role', 999999)$$);
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15201, 'group', 999999)$$);
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15201, 'team', 1503)$$);
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15201, 'group', 15201)$$);
INSERT INTO sharing.group_members VALUES (15201, 'group', 15202), (15202, 'group', 15203), (15203, 'user', 1503);
SELECT pg_temp.try($$INSERT INTO sharing.group_members VALUES (15203, 'group', 15201)$$);
SELECT pg_temp.try($$UPDATE sharing.group_members SET member_type = 'group', member_id = 15201 WHERE group_id = 15203$$);
SELECT principal_type, principal_id FROM sharing._user_principals WHERE user_id = 1503 ORDER BY 1, 2;
DELETE FROM sharing.group_members WHERE group_id = 15202;
SELECT principal_type, principal_id FROM sharing._user_principals WHERE user_id = 1503 ORDER BY 1, 2;
-- a role or group that a rule names cannot be deleted; a role that users
-- hold cannot either
SELECT pg_temp.try($$DELETE FROM sharing.roles WHERE name = 'R a'$$);
SELECT pg_temp.try($$DELETE FROM sharing.roles WHERE name = 'Base'$$);
SELECT sharing.create_owner_rule('t15_tbl_a', 'group rule', 'group', 'Direct A', 'all_users', NULL, 'read') > 0 AS created;
SELECT pg_temp.try($$DELETE FROM sharing.groups WHERE id = 15201$$);
-- a whole subtree may go in one statement
DELETE FROM sharing.users WHERE id = 1503;
DELETE FROM sharing.roles WHERE id IN (15101, 15102, 15103);
SELECT count(*) AS direct_roles FROM sharing.roles WHERE name LIKE 'Direct%';
-- the derived sets, the audit, the rules and the protected tables are not
-- writable, not even by sharing admins
SELECT pg_temp.try($$DELETE FROM sharing._role_closure$$);
SELECT pg_temp.try($$DELETE FROM sharing._user_principals$$);
SELECT pg_temp.try($$DELETE FROM sharing._group_closure$$);
SELECT pg_temp.try($$UPDATE sharing.rules SET access = 'read_write'$$);
SELECT pg_temp.try($$UPDATE sharing.protected_tables SET default_access = 'public_read_write'$$);
SELECT pg_temp.try($$INSERT INTO sharing.audit_log (db_role, action, object) VALUES ('x', 'forged', 'x')$$);
SELECT pg_temp.try($$UPDATE sharing.audit_log SET db_role = 'someone else'$$);
SELECT pg_temp.try($$DELETE FROM sharing.audit_log$$);
RESET ROLE;
-- the direct writes were audited like the functions' (no-op and refused
-- statements left nothing)
SELECT * FROM pg_temp.audit_since(:'mark');
-- the audit log is append-only, even for its owner
SELECT pg_temp.try($$UPDATE sharing.audit_log SET db_role = 'someone else'$$);
ROLLBACK;
