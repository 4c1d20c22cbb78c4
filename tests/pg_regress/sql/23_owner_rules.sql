-- Owner-based sharing rules: records owned by the users of a role, a role
-- and its subordinates or a group, shared with a role, a role and its
-- subordinates, a group or all users, at read, read_write or
-- read_write_delete; superiors_allowed extends a rule to the recipients'
-- superiors. Each case runs in a savepoint that is rolled back.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Top (Tina) > Sales (Sal) > East (Erin), West (Wes) > WestJr (Walt);
-- Top > Support (Sue) > SupportJr (Jo); Partner (Pat) stands alone.
-- Groups: Mixed = {user Erin, role WestJr}; Partners = {user Pat, group
-- Inner}; Inner = {role East}. User N owns record N0.
CREATE ROLE u23_tina LOGIN;
CREATE ROLE u23_sal LOGIN;
CREATE ROLE u23_erin LOGIN;
CREATE ROLE u23_wes LOGIN;
CREATE ROLE u23_walt LOGIN;
CREATE ROLE u23_sue LOGIN;
CREATE ROLE u23_jo LOGIN;
CREATE ROLE u23_pat LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Top');
    PERFORM sharing.create_role('Sales', parent => 'Top');
    PERFORM sharing.create_role('East', parent => 'Sales');
    PERFORM sharing.create_role('West', parent => 'Sales');
    PERFORM sharing.create_role('WestJr', parent => 'West');
    PERFORM sharing.create_role('Support', parent => 'Top');
    PERFORM sharing.create_role('SupportJr', parent => 'Support');
    PERFORM sharing.create_role('Partner');
    PERFORM sharing.create_user('Tina', 'Top', db_role => 'u23_tina', id => 1);
    PERFORM sharing.create_user('Sal', 'Sales', db_role => 'u23_sal', id => 2);
    PERFORM sharing.create_user('Erin', 'East', db_role => 'u23_erin', id => 3);
    PERFORM sharing.create_user('Wes', 'West', db_role => 'u23_wes', id => 4);
    PERFORM sharing.create_user('Walt', 'WestJr', db_role => 'u23_walt', id => 5);
    PERFORM sharing.create_user('Sue', 'Support', db_role => 'u23_sue', id => 6);
    PERFORM sharing.create_user('Jo', 'SupportJr', db_role => 'u23_jo', id => 7);
    PERFORM sharing.create_user('Pat', 'Partner', db_role => 'u23_pat', id => 8);
    PERFORM sharing.create_group('Mixed');
    PERFORM sharing.add_to_group('Mixed', 'user', 'Erin');
    PERFORM sharing.add_to_group('Mixed', 'role', 'WestJr');
    PERFORM sharing.create_group('Inner');
    PERFORM sharing.add_to_group('Inner', 'role', 'East');
    PERFORM sharing.create_group('Partners');
    PERFORM sharing.add_to_group('Partners', 'user', 'Pat');
    PERFORM sharing.add_to_group('Partners', 'group', 'Inner');
END $$;

CREATE TABLE t23 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE TABLE t23_other (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t23, t23_other TO PUBLIC;
INSERT INTO t23 SELECT n * 10, n, 'user ' || n FROM generate_series(1, 8) n;
INSERT INTO t23_other SELECT id, owner_id, note FROM t23;
SELECT sharing.protect('t23');
SELECT sharing.protect('t23_other');

-- Without rules, Pat reaches only his own record.
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;

-- from role West, read: Pat reads Wes's record, not that of Walt (WestJr,
-- below West); he edits and deletes only his own. Other tables are not
-- affected.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'West to partners', 'role', 'West', 'role', 'Partner', 'read') IS NOT NULL AS created;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
SELECT pg_temp.reach('t23_other') AS pat_other_table;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- from role_and_subordinates West, read_write: Wes's and Walt's records,
-- read and edited, not deleted.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'West and below to partners', 'role_and_subordinates', 'West', 'role', 'Partner', 'read_write') IS NOT NULL AS created;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- from group Mixed (user Erin, role WestJr), read_write_delete: Erin's and
-- Walt's records, with full access.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'Mixed to partners', 'group', 'Mixed', 'role', 'Partner', 'read_write_delete') IS NOT NULL AS created;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- to role_and_subordinates Support: Sue and Jo (below her) both read
-- Erin's record; Jo's superior Sue was a recipient herself. Pat is not.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'East to support', 'role', 'East', 'role_and_subordinates', 'Support', 'read') IS NOT NULL AS created;
SET ROLE u23_sue;
SELECT pg_temp.reach('t23') AS sue;
SET ROLE u23_jo;
SELECT pg_temp.reach('t23') AS jo;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- to role (not and subordinates) Support: Sue reads Erin's record, Jo
-- (SupportJr) does not.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'East to support only', 'role', 'East', 'role', 'Support', 'read') IS NOT NULL AS created;
SET ROLE u23_sue;
SELECT pg_temp.reach('t23') AS sue;
SET ROLE u23_jo;
SELECT pg_temp.reach('t23') AS jo;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- to group Partners (user Pat, and through the nested group Inner the
-- role East): Pat and Erin read Wes's record; Wes's own access is unchanged.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'West to the partners group', 'role', 'West', 'group', 'Partners', 'read') IS NOT NULL AS created;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
SET ROLE u23_erin;
SELECT pg_temp.reach('t23') AS erin;
SET ROLE u23_walt;
SELECT pg_temp.reach('t23') AS walt;
RESET ROLE;
-- Group membership changes take effect at once: Walt joins Partners.
SELECT sharing.add_to_group('Partners', 'user', 'Walt');
SET ROLE u23_walt;
SELECT pg_temp.reach('t23') AS walt;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- to all_users (no name), read_write: every user reads and edits Pat's record.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'Partner to everyone', 'role', 'Partner', 'all_users', NULL, 'read_write') IS NOT NULL AS created;
SET ROLE u23_erin;
SELECT pg_temp.reach('t23') AS erin;
SET ROLE u23_jo;
SELECT pg_temp.reach('t23') AS jo;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- superiors_allowed false (the default): a rule to SupportJr reaches Jo,
-- not Sue, Jo's superior.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'East to support juniors', 'role', 'East', 'role', 'SupportJr', 'read_write') IS NOT NULL AS created;
SET ROLE u23_jo;
SELECT pg_temp.reach('t23') AS jo;
SET ROLE u23_sue;
SELECT pg_temp.reach('t23') AS sue;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- superiors_allowed true: Sue, whose role is above a recipient's, gets the
-- same access as Jo; Pat, above nobody, still nothing.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'East to support juniors and up', 'role', 'East', 'role', 'SupportJr', 'read_write', superiors_allowed => true) IS NOT NULL AS created;
SET ROLE u23_jo;
SELECT pg_temp.reach('t23') AS jo;
SET ROLE u23_sue;
SELECT pg_temp.reach('t23') AS sue;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- superiors_allowed with a group recipient: the superiors of every member
-- (Erin's superior Sal, through the nested group) read Sue's record; so
-- does Tina, who already had it through the hierarchy.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'Support to partners and up', 'role', 'Support', 'group', 'Partners', 'read', superiors_allowed => true) IS NOT NULL AS created;
SET ROLE u23_sal;
SELECT pg_temp.reach('t23') AS sal;
SET ROLE u23_erin;
SELECT pg_temp.reach('t23') AS erin;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- Several rules add up: the highest level wins.
SAVEPOINT rule;
SELECT sharing.create_owner_rule('t23', 'West read', 'role', 'West', 'role', 'Partner', 'read') IS NOT NULL AS created;
SELECT sharing.create_owner_rule('t23', 'West and below write', 'role_and_subordinates', 'West', 'role', 'Partner', 'read_write') IS NOT NULL AS created;
SELECT sharing.create_owner_rule('t23', 'Walt delete', 'role', 'WestJr', 'role', 'Partner', 'read_write_delete') IS NOT NULL AS created;
SET ROLE u23_pat;
SELECT pg_temp.reach('t23') AS pat;
RESET ROLE;
-- The rules are listed with their types, resolved ids and defaults.
SELECT name, rule_type, from_type, (SELECT name FROM sharing.roles WHERE id = from_id) AS from_role,
       to_type, (SELECT name FROM sharing.roles WHERE id = to_id) AS to_role, access, superiors_allowed, active
  FROM sharing.rules WHERE tbl = 't23'::regclass ORDER BY name;
ROLLBACK TO SAVEPOINT rule;

-- Bad input: unknown role or group (42704), a type that does not exist or
-- does not fit (22023), all_users with a name or another type without one
-- (22023), a bad access level (22023), a rule name already used on the
-- table (23505), an empty name (22023), a child table or an unprotected
-- table (22023), and a caller without manage_sharing (42501).
SELECT sharing.create_owner_rule('t23', 'taken', 'role', 'West', 'role', 'Partner', 'read') IS NOT NULL AS created;
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'Nope', 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role_and_subordinates', 'Nope', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'group', 'Nope', 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'group', 'Nope', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'user', 'Wes', 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'all_users', NULL, 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'user', 'Pat', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'everyone', NULL, 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'all_users', 'Pat', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role', NULL, 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role', 'Partner', 'write')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role', 'Partner', 'none')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role', 'Partner', NULL)$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'taken', 'role', 'East', 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', ' ', 'role', 'East', 'role', 'Partner', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', NULL, 'role', 'East', 'role', 'Partner', 'read')$$);
-- The same name on another table is fine.
SELECT sharing.create_owner_rule('t23_other', 'taken', 'role', 'West', 'role', 'Partner', 'read') IS NOT NULL AS created;
CREATE TABLE t23_notes (id bigint PRIMARY KEY, t23_id bigint NOT NULL, note text);
SELECT sharing.protect_child('t23_notes', 't23_id', 't23');
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23_notes', 'r1', 'role', 'West', 'role', 'Partner', 'read')$$);
CREATE TABLE t23_plain (id bigint PRIMARY KEY, owner_id bigint);
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23_plain', 'r1', 'role', 'West', 'role', 'Partner', 'read')$$);
SET ROLE u23_wes;
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t23', 'r1', 'role', 'West', 'role', 'Partner', 'read')$$);
RESET ROLE;
-- None of the refused rules was stored.
SELECT tbl, name FROM sharing.rules ORDER BY tbl::text, name;
ROLLBACK;
