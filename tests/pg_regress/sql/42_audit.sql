-- The audit log: every change to the model (organisation, protection,
-- default access, rules, shares) with the db role, the acting user, the
-- action, the object and the row before and after. Append-only; readable
-- by sharing_admin members only; pruned by its owner.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- Ids are shown in before/after: start the sequences at known values
-- (sequences are not transactional; later tests go on from there). Rule
-- and share ids, and the timestamps, are left out of what is shown.
SELECT setval('sharing.roles_id_seq', 42000) > 0 AS set, setval('sharing.groups_id_seq', 42000) > 0 AS set,
       setval('sharing.profiles_id_seq', 42000) > 0 AS set;
-- The audit since a moment, in order: who (db role, acting user), what
-- (action, object) and the row before and after.
CREATE FUNCTION pg_temp.audit_since(mark timestamptz)
RETURNS TABLE (db_role text, acting_user bigint, action text, object text, before jsonb, after jsonb)
LANGUAGE sql AS $$
    SELECT a.db_role, a.acting_user, a.action, a.object,
           a.before - ARRAY['protected_at', 'created_at', 'modified_at']
                    - CASE WHEN a.action LIKE '% rules' OR a.action LIKE '% shares' THEN ARRAY['id'] ELSE '{}' END,
           a.after - ARRAY['protected_at', 'created_at', 'modified_at']
                   - CASE WHEN a.action LIKE '% rules' OR a.action LIKE '% shares' THEN ARRAY['id'] ELSE '{}' END
      FROM sharing.audit_log a WHERE a.at > mark ORDER BY a.at, a.action, a.object
$$;

-- The actors: an application (sharing_app) acting as Ada, whose profile
-- has manage_sharing; Ada connecting with her own login role; a member of
-- sharing_admin mapped to no user; Rita, a standard user who owns record
-- 1; a plain login role.
CREATE ROLE t42_app LOGIN IN ROLE sharing_app;
CREATE ROLE t42_ada LOGIN;
CREATE ROLE t42_admin LOGIN IN ROLE sharing_admin;
CREATE ROLE t42_rita LOGIN;
CREATE ROLE t42_plain LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_profile('t42 admins', manage_sharing => true);
    PERFORM sharing.create_role('t42 Top');
    PERFORM sharing.create_role('t42 Sales', parent => 't42 Top');
    PERFORM sharing.create_user('Ada', 't42 Top', 't42 admins', db_role => 't42_ada', id => 4201);
    PERFORM sharing.create_user('Rita', 't42 Sales', db_role => 't42_rita', id => 4202);
END $$;
CREATE TABLE t42 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE TABLE t42_notes (id bigint PRIMARY KEY, t42_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t42, t42_notes TO PUBLIC;
INSERT INTO t42 VALUES (1, 4202, 'Rita''s'), (2, 4201, 'Ada''s');

-- ------------------------------------------------------------ organisation
-- Through the application acting as Ada: the db role is the application's
-- login role, the acting user is Ada. (Rolled back afterwards, which also
-- ends act_as, and takes these changes out of the log again.)
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_app;
SAVEPOINT acting;
SELECT sharing.act_as(4201);
DO $$
BEGIN
    PERFORM sharing.create_role('t42 Temp');
    PERFORM sharing.move_role('t42 Temp', 't42 Sales');
    PERFORM sharing.create_user('Sam', 't42 Temp', id => 4203);
    PERFORM sharing.alter_user('Sam', '{"active": false, "profile": "t42 admins", "role": "t42 Sales"}');
    PERFORM sharing.drop_role('t42 Temp');
END $$;
-- (the log is read as the superuser; act_as outlives RESET ROLE)
RESET ROLE;
SELECT * FROM pg_temp.audit_since(:'mark');
ROLLBACK TO SAVEPOINT acting;
RESET ROLE;
SELECT sharing.current_user_id() AS acting_as, count(*) AS audit_rows FROM sharing.audit_log WHERE at > :'mark';

-- Through Ada's own login role (her db_role): db role and acting user
-- both name her.
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_ada;
DO $$
BEGIN
    PERFORM sharing.create_group('t42 Team');
    PERFORM sharing.add_to_group('t42 Team', 'user', 'Rita');
    PERFORM sharing.add_to_group('t42 Team', 'role_and_subordinates', 't42 Sales');
    PERFORM sharing.remove_from_group('t42 Team', 'user', 'Rita');
    PERFORM sharing.create_group('t42 Gone');
    PERFORM sharing.drop_group('t42 Gone');
    PERFORM sharing.create_profile('t42 light', view_all => true);
END $$;
-- (a refused call leaves nothing)
SELECT pg_temp.try($$SELECT sharing.create_role('t42 Sales')$$);
RESET ROLE;
SELECT * FROM pg_temp.audit_since(:'mark');

-- --------------------------------------------- protection and default access
-- Through a sharing_admin member: the acting user is empty.
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_admin;
SELECT sharing.protect('t42');
SELECT sharing.set_default_access('t42', 'public_read');
SELECT sharing.protect_child('t42_notes', 't42_id', 't42');
SELECT sharing.set_profile_permission('t42 light', 't42', 'edit', false);
SELECT sharing.unprotect('t42_notes');
RESET ROLE;
SELECT * FROM pg_temp.audit_since(:'mark');

-- ------------------------------------------------------------------- rules
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_admin;
SELECT sharing.create_owner_rule('t42', 'Top to team', 'role', 't42 Top', 'group', 't42 Team', 'read') AS rule_id \gset
SELECT sharing.create_criteria_rule('t42', 'Notes', '{"conditions": [{"column": "note", "op": "is_not_null"}]}',
                                    'all_users', NULL, 'read') IS NOT NULL AS created;
SELECT sharing.alter_rule(:rule_id, '{"access": "read_write", "superiors_allowed": true}');
SELECT sharing.set_rule_active(:rule_id, false);
SELECT sharing.drop_rule(:rule_id);
RESET ROLE;
SELECT * FROM pg_temp.audit_since(:'mark');

-- ------------------------------------------------------------------ shares
-- By an admin (shared_by is nobody: the admin is mapped to no user) and by
-- Rita, who owns record 1 (through her login role).
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_admin;
SELECT sharing.share_record('t42', '2', 'group', 't42 Team', 'read');
RESET ROLE;
SET ROLE t42_rita;
SELECT sharing.share_record('t42', '1', 'user', 'Ada', 'read_write');
SELECT sharing.share_record('t42', '1', 'user', 'Ada', 'read');
SELECT sharing.unshare_record('t42', '1', 'user', 'Ada');
RESET ROLE;
-- Shares go with their record: deleting the record is audited as the
-- share's deletion.
DELETE FROM t42 WHERE id = 2;
SELECT * FROM pg_temp.audit_since(:'mark');

-- ------------------------------------------------------ direct catalog writes
-- A sharing admin writing the organisation tables directly is audited
-- the same way.
SELECT clock_timestamp() AS mark \gset
SET ROLE t42_admin;
UPDATE sharing.roles SET share_with_peers = true WHERE name = 't42 Sales';
UPDATE sharing.users SET name = 'Rita R.' WHERE name = 'Rita';
RESET ROLE;
SELECT * FROM pg_temp.audit_since(:'mark');

-- ----------------------------------------------------------- the log itself
-- Append-only: nobody may UPDATE it, not even its owner (42501).
SELECT pg_temp.try($$UPDATE sharing.audit_log SET db_role = 'someone else'$$) AS owner_update;
SET ROLE t42_admin;
SELECT pg_temp.try($$UPDATE sharing.audit_log SET db_role = 'someone else'$$) AS admin_update;
-- A sharing_admin member may read it, but not write or delete it.
SELECT count(*) > 0 AS admin_reads FROM sharing.audit_log;
SELECT pg_temp.try($$INSERT INTO sharing.audit_log (db_role, action, object) VALUES ('x', 'forged', 'x')$$) AS admin_insert;
SELECT pg_temp.try($$DELETE FROM sharing.audit_log$$) AS admin_delete;
-- Nobody else may read it (42501): not a plain login role, not a standard
-- user, not even a user whose profile has manage_sharing (the log is a
-- table, and table privileges know login roles, not profiles), nor the
-- application acting as them.
SET ROLE t42_plain;
SELECT pg_temp.try($$SELECT count(*) FROM sharing.audit_log$$) AS plain_reads;
SET ROLE t42_rita;
SELECT pg_temp.try($$SELECT count(*) FROM sharing.audit_log$$) AS rita_reads;
SET ROLE t42_ada;
SELECT pg_temp.try($$SELECT count(*) FROM sharing.audit_log$$) AS ada_reads;
SET ROLE t42_app;
SAVEPOINT acting;
SELECT sharing.act_as(4201);
SELECT pg_temp.try($$SELECT count(*) FROM sharing.audit_log$$) AS app_as_ada_reads;
ROLLBACK TO SAVEPOINT acting;
RESET ROLE;
-- The owner (here the superuser that created the extension) prunes it.
SELECT count(*) > 0 AS has_rows FROM sharing.audit_log;
WITH pruned AS (DELETE FROM sharing.audit_log WHERE at < clock_timestamp() RETURNING 1)
SELECT count(*) > 0 AS pruned FROM pruned;
SELECT count(*) AS rows_left FROM sharing.audit_log;
ROLLBACK;
