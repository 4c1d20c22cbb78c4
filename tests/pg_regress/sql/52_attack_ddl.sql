-- Attacks through DDL and the catalog: a user (not the table's owner,
-- not an admin) trying to switch protection off or to rewrite the sharing
-- model; and what a careless DBA's grants and ownership hand over, with
-- what sharing.check() says about each.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Boss (Bo) > Staff (Ann); Out (Eve; Max, whose profile may manage
-- sharing). Owen's login owns the table. The app login is in sharing_app,
-- Ada's in sharing_admin. a52: Ann owns 1, Eve 2, Bo 3. Group Crew = {Ann}.
CREATE ROLE a52_ann LOGIN;
CREATE ROLE a52_eve LOGIN;
CREATE ROLE a52_max LOGIN;
CREATE ROLE a52_owen LOGIN;
CREATE ROLE a52_app LOGIN IN ROLE sharing_app;
CREATE ROLE a52_ada LOGIN IN ROLE sharing_admin;
DO $$
BEGIN
    PERFORM sharing.create_role('Boss');
    PERFORM sharing.create_role('Staff', 'Boss');
    PERFORM sharing.create_role('Out');
    PERFORM sharing.create_profile('a52 managers', manage_sharing => true);
    PERFORM sharing.create_user('Bo', 'Boss', id => 5201);
    PERFORM sharing.create_user('Ann', 'Staff', db_role => 'a52_ann', id => 5202);
    PERFORM sharing.create_user('Eve', 'Out', db_role => 'a52_eve', id => 5204);
    PERFORM sharing.create_user('Max', 'Out', profile => 'a52 managers', db_role => 'a52_max', id => 5207);
    PERFORM sharing.create_group('Crew');
    PERFORM sharing.add_to_group('Crew', 'user', 'Ann');
END $$;
CREATE TABLE a52 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE INDEX ON a52 (owner_id);
CREATE TABLE a52_parts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text) PARTITION BY RANGE (id);
CREATE TABLE a52_parts_1 PARTITION OF a52_parts FOR VALUES FROM (MINVALUE) TO (100);
GRANT SELECT, INSERT, UPDATE, DELETE ON a52, a52_parts, a52_parts_1 TO PUBLIC;
INSERT INTO a52 VALUES (1, 5202, 'ann'), (2, 5204, 'eve'), (3, 5201, 'bo');
ALTER TABLE a52 OWNER TO a52_owen;
SELECT sharing.protect('a52');
SELECT sharing.protect('a52_parts');
SELECT sharing.create_owner_rule('a52', 'Crew to Boss', 'group', 'Crew', 'role', 'Boss', 'read') > 0 AS rule_created;
CREATE SCHEMA a52_evil AUTHORIZATION a52_eve;
CREATE TABLE a52_evil.eves (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
ALTER TABLE a52_evil.eves OWNER TO a52_eve;
-- Every finding of sharing.check() about this test's objects.
CREATE FUNCTION pg_temp.findings() RETURNS TABLE (severity text, object text, message text) LANGUAGE sql AS $$
    SELECT c.severity, c.object, c.message FROM sharing.check() c
     WHERE c.object ~ 'a52' OR c.message ~ 'a52' ORDER BY 1, 2, 3
$$;
SELECT * FROM pg_temp.findings();
SET ROLE a52_eve;
SELECT pg_temp.reach('a52') AS eve_baseline;
RESET ROLE;

-- 1. DDL on a protected table by a user who does not own it (in a schema
-- of her own where she needs one): each is refused with 42501 and nothing
-- changes. (GRANT by a non-owner grants nothing, with a WARNING.)
SET ROLE a52_eve;
SELECT cmd, pg_temp.try(cmd) AS outcome FROM (VALUES
    ('TRUNCATE a52'),
    ('TRUNCATE a52_parts_1'),
    ('ALTER TABLE a52 DISABLE ROW LEVEL SECURITY'),
    ('ALTER TABLE a52 NO FORCE ROW LEVEL SECURITY'),
    ('ALTER TABLE a52_parts_1 DISABLE ROW LEVEL SECURITY'),
    ('DROP POLICY sharing_select ON a52'),
    ('ALTER POLICY sharing_select ON a52 USING (true)'),
    ('CREATE POLICY mine ON a52 FOR SELECT USING (true)'),
    ('CREATE TRIGGER spy BEFORE UPDATE ON a52 FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()'),
    ('ALTER TABLE a52 DISABLE TRIGGER ALL'),
    ('CREATE RULE spy AS ON UPDATE TO a52 DO ALSO NOTHING'),
    ('ALTER TABLE a52 OWNER TO a52_eve'),
    ('ALTER TABLE a52 RENAME TO a52_mine'),
    ('ALTER TABLE a52 ALTER COLUMN owner_id DROP NOT NULL'),
    ('ALTER TABLE a52 ADD COLUMN spy text'),
    ('CREATE INDEX ON a52 (note)'),
    ('DROP TABLE a52'),
    ('COMMENT ON TABLE a52 IS ''mine'''),
    ('CREATE TABLE a52_evil.heir () INHERITS (a52)'),
    ('CREATE TABLE a52_evil.parts_2 PARTITION OF a52_parts FOR VALUES FROM (100) TO (200)'),
    ('ALTER TABLE a52_parts ATTACH PARTITION a52_evil.eves FOR VALUES FROM (100) TO (200)'),
    ('ALTER TABLE a52_parts DETACH PARTITION a52_parts_1'),
    ('ALTER TABLE a52_evil.eves ADD FOREIGN KEY (id) REFERENCES a52'),
    ('CREATE TRIGGER spy AFTER INSERT ON a52_evil.eves FOR EACH ROW EXECUTE FUNCTION sharing._forget_shares()'),
    ('GRANT TRUNCATE ON a52 TO a52_eve')
) AS c (cmd);
RESET ROLE;
SELECT relname, relrowsecurity, relforcerowsecurity, relowner::regrole,
       (SELECT string_agg(polname, ', ' ORDER BY polname) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE relname IN ('a52', 'a52_parts_1') ORDER BY 1;
SELECT count(*) AS rows_left FROM a52;

-- 2. Writing the sharing catalog directly. Every table in schema sharing,
-- INSERT / UPDATE / DELETE / TRUNCATE: 42501 for a user, for a user whose
-- profile may manage sharing (the functions are the way for them), and
-- for the application login.
CREATE FUNCTION pg_temp.write_catalog() RETURNS TABLE (outcome text, statements text) LANGUAGE plpgsql AS $$
DECLARE
    t regclass; col name; verb text; res text; results text[] := '{}';
BEGIN
    FOR t, col IN
        SELECT c.oid, (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = 1)
          FROM pg_class c WHERE c.relnamespace = 'sharing'::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        FOREACH verb IN ARRAY ARRAY['INSERT INTO %1$s DEFAULT VALUES', 'UPDATE %1$s SET %2$I = %2$I',
                                    'DELETE FROM %1$s', 'TRUNCATE %1$s'] LOOP
            res := pg_temp.try(format(verb, t, col));
            results := results || (split_part(res, ':', 1) || '|' || format(verb, t, col));
        END LOOP;
    END LOOP;
    -- Only the outcomes, and the statements for any outcome but 42501.
    RETURN QUERY SELECT * FROM pg_temp.outcomes(results);
END $$;
SET ROLE a52_eve;
SELECT * FROM pg_temp.write_catalog();
SET ROLE a52_max;
SELECT * FROM pg_temp.write_catalog();
SET ROLE a52_app;
SELECT * FROM pg_temp.write_catalog();
-- The ones that would make Eve someone else, named.
SET ROLE a52_eve;
SELECT pg_temp.try($$UPDATE sharing.users SET profile_id = (SELECT id FROM sharing.profiles WHERE name = 'administrator') WHERE id = 5204$$) AS make_me_admin;
SELECT pg_temp.try($$UPDATE sharing.users SET db_role = 'a52_eve' WHERE id = 5201$$) AS become_bo;
SELECT pg_temp.try($$UPDATE sharing.users SET role_id = (SELECT id FROM sharing.roles WHERE name = 'Boss') WHERE id = 5204$$) AS promote_me;
SELECT pg_temp.try($$INSERT INTO sharing.shares (tbl, record_id, to_type, to_id, access) VALUES ('a52', '1', 'user', 5204, 'read_write_delete')$$) AS share_to_me;
SELECT pg_temp.try($$INSERT INTO sharing.group_members (group_id, member_type, member_id) SELECT id, 'user', 5204 FROM sharing.groups WHERE name = 'Crew'$$) AS join_crew;
SELECT pg_temp.try($$UPDATE sharing.rules SET to_type = 'all_users', to_id = NULL$$) AS widen_rule;
SELECT pg_temp.try($$UPDATE sharing.protected_tables SET default_access = 'public_read_write_delete'$$) AS open_table;
SELECT pg_temp.try($$DELETE FROM sharing.audit_log$$) AS erase_audit;
-- ... and reading what is not hers to read: shares, audit, derived sets.
SELECT pg_temp.try($$SELECT count(*) FROM sharing.shares$$) AS read_shares;
SELECT pg_temp.try($$SELECT count(*) FROM sharing.audit_log$$) AS read_audit;
SELECT pg_temp.try($$SELECT count(*) FROM sharing._user_principals$$) AS read_principals;
SELECT pg_temp.try($$SELECT count(*) FROM sharing._role_closure$$) AS read_closure;
SELECT pg_temp.reach('a52') AS eve_unchanged;
RESET ROLE;
-- A sharing_admin member may write the organisation (through the same
-- validation) but not shares, rules, protected tables, the derived sets or
-- the audit log (42501); nobody rewrites the audit log, not even a
-- superuser.
SET ROLE a52_ada;
SELECT pg_temp.try($$INSERT INTO sharing.shares (tbl, record_id, to_type, to_id, access) VALUES ('a52', '1', 'user', 5204, 'read')$$) AS admin_writes_share;
SELECT pg_temp.try($$UPDATE sharing.rules SET access = 'read_write_delete'$$) AS admin_writes_rule;
SELECT pg_temp.try($$UPDATE sharing.protected_tables SET default_access = 'public_read'$$) AS admin_writes_protected;
SELECT pg_temp.try($$INSERT INTO sharing._user_principals VALUES (5204, 'group', 1)$$) AS admin_writes_principals;
SELECT pg_temp.try($$DELETE FROM sharing.audit_log$$) AS admin_erases_audit;
RESET ROLE;
SELECT pg_temp.try($$UPDATE sharing.audit_log SET db_role = 'nobody'$$) AS superuser_rewrites_audit;

-- 3. The model's functions, called by a user without manage_sharing and
-- by the application login not acting for anyone: 42501 for each.
CREATE FUNCTION pg_temp.change_model() RETURNS TABLE (call text, outcome text) LANGUAGE sql AS $$
    SELECT c, split_part(pg_temp.try(c), ':', 1) FROM (VALUES
        ('SELECT sharing.create_role(''Mine'')'),
        ('SELECT sharing.move_role(''Out'', ''Boss'')'),
        ('SELECT sharing.drop_role(''Staff'')'),
        ('SELECT sharing.create_user(''Spy'', ''Boss'', db_role => ''a52_eve'')'),
        ('SELECT sharing.alter_user(''Eve'', ''{"profile": "administrator"}'')'),
        ('SELECT sharing.alter_user(''Bo'', ''{"db_role": "a52_eve"}'')'),
        ('SELECT sharing.alter_user(''Ann'', ''{"active": false}'')'),
        ('SELECT sharing.create_group(''Mine'')'),
        ('SELECT sharing.add_to_group(''Crew'', ''user'', ''Eve'')'),
        ('SELECT sharing.remove_from_group(''Crew'', ''user'', ''Ann'')'),
        ('SELECT sharing.drop_group(''Crew'')'),
        ('SELECT sharing.create_profile(''Mine'', view_all => true)'),
        ('SELECT sharing.set_profile_permission(''standard'', ''a52'', ''read'', false)'),
        ('SELECT sharing.protect(''a52_eves'')'),
        ('SELECT sharing.unprotect(''a52'')'),
        ('SELECT sharing.set_default_access(''a52'', ''public_read_write_delete'')'),
        ('SELECT sharing.create_owner_rule(''a52'', ''All'', ''role'', ''Boss'', ''all_users'', NULL, ''read'')'),
        ('SELECT sharing.create_criteria_rule(''a52'', ''All'', ''{"conditions": [{"column": "id", "op": "is_not_null"}]}'', ''all_users'', NULL, ''read'')'),
        ('SELECT sharing.set_rule_active((SELECT id FROM sharing.rules WHERE name = ''Crew to Boss''), false)'),
        ('SELECT sharing.alter_rule((SELECT id FROM sharing.rules WHERE name = ''Crew to Boss''), ''{"to_type": "all_users"}'')'),
        ('SELECT sharing.clone_rule((SELECT id FROM sharing.rules WHERE name = ''Crew to Boss''), ''Copy'')'),
        ('SELECT sharing.drop_rule((SELECT id FROM sharing.rules WHERE name = ''Crew to Boss''))'),
        ('SELECT sharing.share_record(''a52'', ''1'', ''user'', ''Eve'', ''read'')'),
        ('SELECT sharing.unshare_record(''a52'', ''1'', ''user'', ''Ann'')'),
        ('SELECT sharing.export_config()'),
        ('SELECT sharing.apply_config(''{}'')')
    ) AS x (c)
$$;
SET ROLE a52_eve;
SELECT * FROM pg_temp.change_model();
SET ROLE a52_app;
SELECT outcome, count(*) FROM pg_temp.change_model() GROUP BY 1 ORDER BY 1;
RESET ROLE;
SELECT count(*) AS audit_entries_by_eve_or_app FROM sharing.audit_log WHERE db_role IN ('a52_eve', 'a52_app');

-- 4. protect() on pg_sharing's own catalog or a system catalog is refused
-- (22023), even for a superuser: row level security on sharing.users
-- would recurse through current_user_id and lock every user out.
SET ROLE a52_max;
SELECT pg_temp.try($$SELECT sharing.protect('sharing.users', 'id')$$) AS protect_users;
SELECT pg_temp.try($$SELECT sharing.protect('sharing.shares', 'id')$$) AS protect_shares;
SELECT pg_temp.try($$SELECT sharing.protect_child('sharing.users', 'role_id', 'a52')$$) AS protect_child_users;
RESET ROLE;
SELECT pg_temp.try($$SELECT sharing.protect('sharing.rules', 'id')$$) AS superuser_protects_rules;
SELECT pg_temp.try($$SELECT sharing.protect('pg_catalog.pg_class', 'oid')$$) AS protect_pg_class;
SELECT count(*) AS sharing_tables_with_rls FROM pg_class
 WHERE relnamespace = 'sharing'::regnamespace AND relrowsecurity;

-- 5. What a careless DBA hands over. Whoever owns a table (or is a member
-- of its owning role) can switch its protection off: that is
-- PostgreSQL's rule, and sharing.check() reports every such change.
-- Each is undone before the next.
SAVEPOINT careless;
SET ROLE a52_owen;
ALTER TABLE a52 NO FORCE ROW LEVEL SECURITY;
SELECT pg_temp.reach('a52') AS owner_without_force;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
SET ROLE a52_owen;
ALTER TABLE a52 DISABLE ROW LEVEL SECURITY;
SET ROLE a52_eve;
SELECT pg_temp.reach('a52') AS eve_rls_disabled;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
SET ROLE a52_owen;
CREATE POLICY open_door ON a52 FOR SELECT USING (true);
SET ROLE a52_eve;
SELECT pg_temp.reach('a52') AS eve_extra_policy;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
SET ROLE a52_owen;
DROP POLICY sharing_select ON a52;
SET ROLE a52_eve;
SELECT pg_temp.reach('a52') AS eve_select_policy_dropped;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
-- Membership of the owning role carries the owner's rights.
GRANT a52_owen TO a52_eve;
SET ROLE a52_eve;
SELECT pg_temp.try($$ALTER TABLE a52 DISABLE ROW LEVEL SECURITY$$) AS member_of_owner_disables;
SELECT pg_temp.reach('a52') AS eve_via_owner_role;
RESET ROLE;
ROLLBACK TO SAVEPOINT careless;
-- TRUNCATE is not subject to row level security: granted (GRANT ALL
-- grants it too), it removes rows Eve cannot see. check() warns.
GRANT ALL ON a52 TO a52_eve;
SELECT * FROM pg_temp.findings();
SET ROLE a52_eve;
SELECT pg_temp.try($$TRUNCATE a52$$) AS eve_truncates;
RESET ROLE;
SELECT count(*) AS rows_left_after_truncate FROM a52;
ROLLBACK TO SAVEPOINT careless;
-- db_role maps a role by name: dropping a mapped login leaves the
-- mapping (check() warns), and a new role created with that name is that
-- user. Drop or remap the user with the role.
DROP ROLE a52_ann;
SELECT * FROM pg_temp.findings();
CREATE ROLE a52_ann LOGIN;
SET ROLE a52_ann;
SELECT sharing.current_user_id() AS new_role_is, string_agg(id::text, ',' ORDER BY id) AS new_role_sees FROM a52;
RESET ROLE;
ROLLBACK TO SAVEPOINT careless;
-- A login with CREATEROLE (PostgreSQL 15) can grant itself sharing_app
-- and any mapped login role, and so become anyone; check() warns.
CREATE ROLE a52_hr LOGIN CREATEROLE;
SET ROLE a52_hr;
GRANT sharing_app TO a52_hr;
SAVEPOINT hr;
SELECT sharing.act_as(5202);
SELECT sharing.current_user_id() AS hr_acts_as, string_agg(id::text, ',' ORDER BY id) AS hr_sees FROM a52;
ROLLBACK TO SAVEPOINT hr;
GRANT a52_ann TO a52_hr;
SET ROLE a52_ann;
SELECT sharing.current_user_id() AS hr_became, string_agg(id::text, ',' ORDER BY id) AS hr_sees FROM a52;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
-- A login with BYPASSRLS sees every row; check() warns.
CREATE ROLE a52_bi LOGIN BYPASSRLS;
SET ROLE a52_bi;
SELECT string_agg(id::text, ',' ORDER BY id) AS bypassrls_sees FROM a52;
RESET ROLE;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT careless;
SELECT * FROM pg_temp.findings();
ROLLBACK;
