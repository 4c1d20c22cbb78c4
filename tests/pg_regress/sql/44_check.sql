-- sharing.check(), the doctor: each finding is set up, observed, and
-- undone (a savepoint rolled back). The output is filtered to the objects
-- of this test, so that nothing else in the cluster (the bootstrap
-- superuser, say) shows.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- Role and group ids show in the derived-set findings: start them at known
-- values (sequences are not transactional; later tests go on from there).
SELECT setval('sharing.roles_id_seq', 44000) > 0 AS set, setval('sharing.groups_id_seq', 44000) > 0 AS set;
-- The findings about this test's objects: its tables, views and login
-- roles (named t44...), its users (named T44 ...), its rules, and derived
-- sets naming its ids (44...).
CREATE FUNCTION pg_temp.findings() RETURNS TABLE (severity text, object text, message text) LANGUAGE sql AS $$
    SELECT c.severity, c.object, c.message FROM sharing.check() c
     WHERE c.object ~ 't44' OR c.object LIKE 'user T44%'
        OR (c.object = 'derived sets' AND c.message ~ '\m44\d+')
     ORDER BY 1, 2, 3
$$;

-- Accounts (protected, with a child table notes), a partitioned table
-- (protected on every partition), an unprotected table. Top > Rep; users
-- T44 Tom (Top) and T44 Rae (Rep), with login roles; group Team = {role
-- Rep}. Rules: Rep's accounts to Top's role, Team's accounts to all users,
-- Paris accounts to Top and below.
CREATE ROLE t44_tom LOGIN;
CREATE ROLE t44_rae LOGIN;
CREATE ROLE t44_plain LOGIN;
CREATE TABLE t44_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text);
CREATE TABLE t44_notes (id bigint PRIMARY KEY, account_id bigint NOT NULL);
CREATE TABLE t44_events (id bigint PRIMARY KEY, owner_id bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE t44_events_eu PARTITION OF t44_events FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE t44_events_us PARTITION OF t44_events FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE t44_plain (id bigint PRIMARY KEY, owner_id bigint);
GRANT SELECT ON t44_accounts, t44_notes, t44_events, t44_plain TO PUBLIC;
DO $$
BEGIN
    PERFORM sharing.create_role('Top');
    PERFORM sharing.create_role('Rep', 'Top');
    PERFORM sharing.create_user('T44 Tom', 'Top', db_role => 't44_tom', id => 4401);
    PERFORM sharing.create_user('T44 Rae', 'Rep', db_role => 't44_rae', id => 4402);
    PERFORM sharing.create_group('Team');
    PERFORM sharing.add_to_group('Team', 'role', 'Rep');
    PERFORM sharing.protect('t44_accounts');
    PERFORM sharing.protect_child('t44_notes', 'account_id', 't44_accounts');
    PERFORM sharing.protect('t44_events');
    PERFORM sharing.create_owner_rule('t44_accounts', 'Reps up', 'role', 'Rep', 'role', 'Top', 'read');
    PERFORM sharing.create_owner_rule('t44_accounts', 'Team out', 'group', 'Team', 'all_users', NULL, 'read');
    PERFORM sharing.create_criteria_rule('t44_accounts', 'Paris', '{"conditions": [{"column": "city", "op": "=", "value": "Paris"}]}',
                                         'role_and_subordinates', 'Top', 'read');
END $$;

-- A model in good order: nothing to report about it.
SELECT * FROM pg_temp.findings();
-- Anyone may run the doctor.
SET ROLE t44_plain;
SELECT count(*) >= 0 AS ran FROM sharing.check();
RESET ROLE;

-- ------------------------------------------------------ row level security
-- RLS disabled on a protected table, not forced on another, disabled on
-- one partition: errors (the table owner, or everyone, bypasses sharing).
SAVEPOINT finding;
ALTER TABLE t44_accounts DISABLE ROW LEVEL SECURITY;
ALTER TABLE t44_notes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE t44_events_us DISABLE ROW LEVEL SECURITY;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- -------------------------------------------------------------- policies
-- A generated policy edited by hand (ALTER POLICY), another dropped, one
-- dropped on a partition: errors naming the policy and the relation.
SAVEPOINT finding;
ALTER POLICY sharing_select ON t44_accounts USING (true);
DROP POLICY sharing_delete ON t44_notes;
DROP POLICY sharing_update ON t44_events_eu;
SELECT * FROM pg_temp.findings();
-- Regenerating a table's policies (any change to its model does) mends
-- them, for the table and its child tables.
SELECT sharing.set_default_access('t44_accounts', 'private');
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;
-- So is a policy given to other roles by hand, or made restrictive.
SAVEPOINT finding;
ALTER POLICY sharing_insert ON t44_accounts TO t44_plain;
DROP POLICY sharing_select ON t44_notes;
CREATE POLICY sharing_select ON t44_notes AS RESTRICTIVE FOR SELECT USING (true);
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- Other policies on protected tables: a permissive one widens what
-- everyone sees (error); a restrictive one narrows it, so the checks and
-- explanations disagree with what users see (warning); on a partition too.
SAVEPOINT finding;
CREATE POLICY everyone ON t44_accounts USING (true);
CREATE POLICY only_europe ON t44_notes AS RESTRICTIVE USING (id > 0);
CREATE POLICY partition_backdoor ON t44_events_eu FOR SELECT USING (true);
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;
-- (policies on tables pg_sharing does not protect are none of its business)
SAVEPOINT finding;
ALTER TABLE t44_plain ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON t44_plain USING (true);
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ------------------------------------------------- roles that bypass RLS
-- Login roles that are superusers or have BYPASSRLS: warnings. Roles that
-- cannot log in are not reported (a member would have to SET ROLE to them,
-- and that is a superuser's or the member's explicit choice).
SAVEPOINT finding;
CREATE ROLE t44_super SUPERUSER LOGIN;
CREATE ROLE t44_bypass BYPASSRLS LOGIN;
CREATE ROLE t44_super_nologin SUPERUSER NOLOGIN;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ------------------------------------------------------------------ views
-- A view over a protected table runs with its owner's rights unless it is
-- security_invoker: a warning; also a view over such a view, a view over a
-- child table or a partition, and a materialized view (it keeps what its
-- owner saw). A security_invoker view over the table is fine, and so is a
-- view over an unprotected table.
SAVEPOINT finding;
CREATE VIEW t44_v_owner AS SELECT id, city FROM t44_accounts;
CREATE VIEW t44_v_invoker WITH (security_invoker) AS SELECT id, city FROM t44_accounts;
CREATE VIEW t44_v_invoker_on WITH (security_invoker = on) AS SELECT id FROM t44_notes;
CREATE VIEW t44_v_over_invoker AS SELECT * FROM t44_v_invoker;
CREATE VIEW t44_v_invoker_over_invoker WITH (security_invoker) AS SELECT * FROM t44_v_invoker;
CREATE VIEW t44_v_notes AS SELECT n.id, a.city FROM t44_notes n JOIN t44_accounts a ON a.id = n.account_id;
CREATE VIEW t44_v_partition AS SELECT id FROM t44_events_eu;
CREATE VIEW t44_v_plain AS SELECT id FROM t44_plain;
CREATE MATERIALIZED VIEW t44_mv AS SELECT id FROM t44_accounts WITH NO DATA;
SELECT * FROM pg_temp.findings();
-- Setting security_invoker on a view mends it.
ALTER VIEW t44_v_owner SET (security_invoker = true);
ALTER VIEW t44_v_over_invoker SET (security_invoker);
SELECT * FROM pg_temp.findings();
-- (and turning it off again is seen)
ALTER VIEW t44_v_invoker SET (security_invoker = false);
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ---------------------------------------------------------------- indexes
-- The owner column of a protected table and the parent column of a child
-- table without an index (protect creates them; here they are dropped):
-- warnings. An index that does not lead with the column does not count.
SAVEPOINT finding;
DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN SELECT i.indexrelid::regclass FROM pg_index i
                WHERE i.indrelid IN ('t44_accounts'::regclass, 't44_notes'::regclass) AND NOT i.indisprimary LOOP
        EXECUTE format('DROP INDEX %s', idx);
    END LOOP;
END $$;
CREATE INDEX ON t44_accounts (city, owner_id);
SELECT * FROM pg_temp.findings();
-- An index that leads with it mends it.
CREATE INDEX ON t44_accounts (owner_id, city);
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ------------------------------------------------------------------ users
-- A user without a role (warning), an inactive user still mapped to a
-- login role (info), a user mapped to a login role dropped since
-- (warning). An inactive user mapped to nobody is fine.
SAVEPOINT finding;
CREATE ROLE t44_gone LOGIN;
SELECT sharing.create_user('T44 Roleless', NULL, id => 4403);
SELECT sharing.alter_user('T44 Rae', '{"active": false}');
SELECT sharing.create_user('T44 Ghost', 'Rep', db_role => 't44_gone', id => 4404);
SELECT sharing.create_user('T44 Gone', 'Rep', id => 4405);
SELECT sharing.alter_user('T44 Gone', '{"active": false}');
DROP ROLE t44_gone;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ------------------------------------------------------------------ rules
-- A rule whose role or group is gone grants nothing through it: an error
-- per missing principal, naming the side. The catalog refuses to delete a
-- role or group that a rule uses (23503); the inconsistency is made here
-- by switching that trigger (forget_principal) off, as only a superuser
-- can. (Tom, whose role went with it, is a user without a role.)
SAVEPOINT finding;
SELECT pg_temp.try($$SELECT sharing.drop_group('Team')$$);
ALTER TABLE sharing.roles DISABLE TRIGGER forget_principal;
ALTER TABLE sharing.groups DISABLE TRIGGER forget_principal;
UPDATE sharing.users SET role_id = NULL WHERE id = 4401;
UPDATE sharing.roles SET parent_id = NULL WHERE name = 'Rep';
DELETE FROM sharing.roles WHERE name = 'Top';
DELETE FROM sharing.groups WHERE name = 'Team';
ALTER TABLE sharing.roles ENABLE TRIGGER forget_principal;
ALTER TABLE sharing.groups ENABLE TRIGGER forget_principal;
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ------------------------------------------------------------ derived sets
-- The derived sets are maintained by triggers; corrupted by hand (as only
-- the superuser can), they are out of step with the model: a principal a
-- user lacks, one they should not have, a role closure entry missing, a
-- stale group closure entry. Each is an error.
SAVEPOINT finding;
SELECT sharing.create_group('Other');
DELETE FROM sharing._user_principals WHERE user_id = 4402 AND principal_type = 'group';
INSERT INTO sharing._user_principals VALUES (4401, 'user', 4402);
DELETE FROM sharing._role_closure
 WHERE ancestor_id = (SELECT id FROM sharing.roles WHERE name = 'Top')
   AND descendant_id = (SELECT id FROM sharing.roles WHERE name = 'Rep');
INSERT INTO sharing._group_closure VALUES ((SELECT id FROM sharing.groups WHERE name = 'Other'),
                                           (SELECT id FROM sharing.groups WHERE name = 'Team'));
SELECT (SELECT id FROM sharing.roles WHERE name = 'Top') AS top, (SELECT id FROM sharing.roles WHERE name = 'Rep') AS rep,
       (SELECT id FROM sharing.groups WHERE name = 'Team') AS team, (SELECT id FROM sharing.groups WHERE name = 'Other') AS other;
SELECT * FROM pg_temp.findings();
-- A change that rebuilds them for the users concerned mends them (here a
-- role moved and back: the closure and the principals of its users; and
-- an update of Tom: his principals). Upkeep is incremental: a change
-- rebuilds what it affects, not every user's.
SELECT sharing.move_role('Rep', NULL), sharing.move_role('Rep', 'Top');
UPDATE sharing.users SET active = active WHERE id = 4401;
SELECT sharing.add_to_group('Other', 'user', 'T44 Tom'), sharing.remove_from_group('Other', 'user', 'T44 Tom');
SELECT * FROM pg_temp.findings();
ROLLBACK TO SAVEPOINT finding;

-- ----------------------------------------------------------- all at once
-- Several findings together, each reported once, in order of severity.
SAVEPOINT finding;
ALTER TABLE t44_notes NO FORCE ROW LEVEL SECURITY;
CREATE VIEW t44_v_all AS SELECT * FROM t44_notes;
CREATE ROLE t44_bypass_too BYPASSRLS LOGIN;
SELECT sharing.create_user('T44 Nobody', NULL, id => 4406);
SELECT severity, count(*) FROM pg_temp.findings() GROUP BY severity ORDER BY severity;
ROLLBACK TO SAVEPOINT finding;
SELECT * FROM pg_temp.findings();
ROLLBACK;
