-- Groups (teams): create_group, add_to_group with every member type,
-- nesting resolved transitively, cycles, remove_from_group, drop_group.
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- Which user is in which group, as resolved in sharing._user_principals.
CREATE FUNCTION pg_temp.memberships() RETURNS TABLE (user_name text, group_name text)
LANGUAGE sql AS $$
    SELECT u.name, g.name
      FROM sharing._user_principals p
      JOIN sharing.users u ON u.id = p.user_id
      JOIN sharing.groups g ON g.id = p.principal_id
     WHERE p.principal_type = 'group'
     ORDER BY 1, 2
$$;
-- The direct members of every group, by name.
CREATE FUNCTION pg_temp.members() RETURNS TABLE (group_name text, member_type text, member text)
LANGUAGE sql AS $$
    SELECT g.name, m.member_type,
           CASE m.member_type
               WHEN 'user' THEN (SELECT name FROM sharing.users WHERE id = m.member_id)
               WHEN 'group' THEN (SELECT name FROM sharing.groups WHERE id = m.member_id)
               ELSE (SELECT name FROM sharing.roles WHERE id = m.member_id)
           END
      FROM sharing.group_members m JOIN sharing.groups g ON g.id = m.group_id
     ORDER BY 1, 2, 3
$$;

SELECT sharing.create_role('Director') > 0 AS created;
SELECT sharing.create_role('Manager', 'Director') > 0 AS created;
SELECT sharing.create_role('Agent', 'Manager') > 0 AS created;
SELECT sharing.create_role('Partner') > 0 AS created;
SELECT sharing.create_user('Alice', 'Manager', id => 1) AS id;
SELECT sharing.create_user('Bob', 'Agent', id => 2) AS id;
SELECT sharing.create_user('Carol', 'Partner', id => 3) AS id;
SELECT sharing.create_user('Dave', NULL, id => 4) AS id;
SELECT sharing.create_user('Erin', 'Director', id => 5) AS id;

-- create_group returns the id of the new row
SELECT sharing.create_group('Team East') AS east_id \gset
SELECT name FROM sharing.groups WHERE id = :east_id;
SELECT sharing.create_group('Team West') > 0 AS created;
SELECT sharing.create_group('All Sales') > 0 AS created;
SELECT sharing.create_group('Company') > 0 AS created;
SELECT sharing.create_group('Empty') > 0 AS created;
-- group names are unique and not empty
SELECT pg_temp.try($$SELECT sharing.create_group('Team East')$$);
SELECT pg_temp.try($$SELECT sharing.create_group('')$$);
SELECT pg_temp.try($$SELECT sharing.create_group(NULL)$$);
-- a new group has no members and every group contains itself
SELECT count(*) AS members FROM sharing.group_members;
SELECT count(*) AS memberships FROM pg_temp.memberships();
SELECT count(*) FILTER (WHERE group_id = member_group_id) AS self_rows, count(*) AS closure_rows
  FROM sharing._group_closure;

-- member_type user: that user
SELECT sharing.add_to_group('Team East', 'user', 'Dave');
-- member_type role_and_subordinates: the role's users and every user
-- below it (Alice the manager, Bob the agent)
SELECT sharing.add_to_group('Team East', 'role_and_subordinates', 'Manager');
-- member_type role: that role's users only (Alice, not Bob)
SELECT sharing.add_to_group('Team West', 'role', 'Manager');
SELECT sharing.add_to_group('Team West', 'role', 'Partner');
SELECT * FROM pg_temp.memberships();

-- member_type group: nesting, resolved transitively (Company contains
-- All Sales, which contains both teams)
SELECT sharing.add_to_group('All Sales', 'group', 'Team East');
SELECT sharing.add_to_group('All Sales', 'group', 'Team West');
SELECT sharing.add_to_group('Company', 'group', 'All Sales');
SELECT sharing.add_to_group('Company', 'user', 'Erin');
SELECT * FROM pg_temp.members();
-- a user belongs to many groups: Alice is in both teams directly (by role
-- and by role_and_subordinates) and in All Sales and Company by nesting
SELECT * FROM pg_temp.memberships();
-- the group closure: each group with every group it contains
SELECT g.name AS group_name, m.name AS contains
  FROM sharing._group_closure c
  JOIN sharing.groups g ON g.id = c.group_id
  JOIN sharing.groups m ON m.id = c.member_group_id
 WHERE c.group_id <> c.member_group_id
 ORDER BY 1, 2;

-- adding a member twice is a no-op
SELECT sharing.add_to_group('Team East', 'user', 'Dave');
SELECT count(*) AS members FROM sharing.group_members;

-- bad members: an unknown type, an unknown user, role or group, no name
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'team', 'Dave')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'all_users', NULL)$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', NULL, 'Dave')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'user', 'Nobody')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'role', 'Nobody')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'role_and_subordinates', 'Nobody')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'group', 'Nobody')$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'user', NULL)$$);
SELECT pg_temp.try($$SELECT sharing.add_to_group('No Such Group', 'user', 'Dave')$$);

-- cycles are refused: a group in itself ...
SELECT pg_temp.try($$SELECT sharing.add_to_group('Company', 'group', 'Company')$$);
-- ... two groups in each other ...
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team West', 'group', 'All Sales')$$);
-- ... and longer cycles; the message names the path, container first
SELECT pg_temp.try($$SELECT sharing.add_to_group('Team East', 'group', 'Company')$$);
-- the refused additions changed nothing
SELECT count(*) AS members FROM sharing.group_members;
SELECT count(*) AS closure_rows FROM sharing._group_closure;

-- a group may contain another through two paths (no cycle)
SELECT sharing.add_to_group('Company', 'group', 'Team West');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Carol';

-- remove_from_group: Dave leaves Team East, and so All Sales and Company
SELECT sharing.remove_from_group('Team East', 'user', 'Dave');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Dave';
-- removing a nested group: Team West leaves All Sales; Carol stays in
-- Company through the second path, but not in All Sales
SELECT sharing.remove_from_group('All Sales', 'group', 'Team West');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Carol';
SELECT sharing.remove_from_group('Company', 'group', 'Team West');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Carol';
-- removing a role: Partner leaves Team West
SELECT sharing.remove_from_group('Team West', 'role', 'Partner');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Carol';
-- removing what is not a member is an error naming it
SELECT pg_temp.try($$SELECT sharing.remove_from_group('Team East', 'user', 'Dave')$$);
SELECT pg_temp.try($$SELECT sharing.remove_from_group('Team East', 'role', 'Manager')$$);
SELECT pg_temp.try($$SELECT sharing.remove_from_group('Team East', 'group', 'Company')$$);
SELECT pg_temp.try($$SELECT sharing.remove_from_group('Team East', 'user', 'Nobody')$$);
SELECT pg_temp.try($$SELECT sharing.remove_from_group('No Such Group', 'user', 'Dave')$$);
SELECT pg_temp.try($$SELECT sharing.remove_from_group('Team East', 'team', 'Dave')$$);

-- a user changing role changes the groups resolved through roles: Bob,
-- agent (below Manager), is in Team East; as partner he is not
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Bob';
SELECT sharing.alter_user('Bob', '{"role": "Partner"}');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Bob';
SELECT sharing.alter_user('Bob', '{"role": "Agent"}');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Bob';
-- so does moving a role: Agent out from under Manager takes Bob out of
-- Team East (through role_and_subordinates Manager)
SELECT sharing.move_role('Agent', 'Partner');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Bob';
SELECT sharing.move_role('Agent', 'Manager');
SELECT * FROM pg_temp.memberships() WHERE user_name = 'Bob';

-- drop_group is refused while a rule names the group, as source or as
-- recipient
CREATE TABLE t12_deals (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
SELECT sharing.protect('t12_deals');
SELECT sharing.create_owner_rule('t12_deals', 'east to company', 'group', 'Team East',
                                 'group', 'Company', 'read') > 0 AS created;
SELECT pg_temp.try($$SELECT sharing.drop_group('Team East')$$);
SELECT pg_temp.try($$SELECT sharing.drop_group('Company')$$);
SELECT pg_temp.try($$SELECT sharing.drop_group('No Such Group')$$);
-- an unused group can be dropped: its own members, its membership of other
-- groups and the shares made to it go with it
SELECT sharing.add_to_group('Empty', 'user', 'Alice');
SELECT sharing.add_to_group('Company', 'group', 'Empty');
INSERT INTO t12_deals VALUES (1, 1);
SELECT sharing.share_record('t12_deals', '1', 'group', 'Empty', 'read');
SELECT count(*) AS shares FROM sharing.shares;
SELECT sharing.drop_group('Empty');
SELECT * FROM pg_temp.members();
SELECT count(*) AS shares FROM sharing.shares;
SELECT * FROM pg_temp.memberships();
ROLLBACK;
