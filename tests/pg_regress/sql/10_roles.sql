-- The role hierarchy: create_role, move_role, drop_role, and the role
-- closure (sharing._role_closure) the policies read.
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- The hierarchy by name.
CREATE FUNCTION pg_temp.tree() RETURNS TABLE (role text, parent text, share_with_peers boolean)
LANGUAGE sql AS $$
    SELECT r.name, p.name, r.share_with_peers
      FROM sharing.roles r LEFT JOIN sharing.roles p ON p.id = r.parent_id
     ORDER BY r.name
$$;
-- The closure by name, without the depth-0 row every role has.
CREATE FUNCTION pg_temp.closure() RETURNS TABLE (ancestor text, descendant text, depth integer)
LANGUAGE sql AS $$
    SELECT a.name, d.name, c.depth
      FROM sharing._role_closure c
      JOIN sharing.roles a ON a.id = c.ancestor_id
      JOIN sharing.roles d ON d.id = c.descendant_id
     WHERE c.depth > 0
     ORDER BY d.name, c.depth
$$;

-- create_role returns the id of the new row.
SELECT sharing.create_role('CEO') AS ceo_id \gset
SELECT name, parent_id, share_with_peers FROM sharing.roles WHERE id = :ceo_id;

-- a role with a parent, and one whose users share with their peers
SELECT sharing.create_role('Sales VP', 'CEO') > 0 AS created;
SELECT sharing.create_role('Sales Manager', parent => 'Sales VP') > 0 AS created;
SELECT sharing.create_role('Sales Rep', 'Sales Manager', share_with_peers => true) > 0 AS created;
SELECT sharing.create_role('Support', 'CEO') > 0 AS created;
SELECT sharing.create_role('Support Agent', 'Support') > 0 AS created;
-- a NULL share_with_peers means the default (false)
SELECT sharing.create_role('Auditor', NULL, NULL) > 0 AS created;
SELECT * FROM pg_temp.tree();

-- every role is its own ancestor at depth 0, and only its own
SELECT count(*) = (SELECT count(*) FROM sharing.roles) AS one_self_row_per_role
  FROM sharing._role_closure WHERE depth = 0 AND ancestor_id = descendant_id;
-- every strict ancestor, with its distance
SELECT * FROM pg_temp.closure();

-- names are unique
SELECT pg_temp.try($$SELECT sharing.create_role('CEO')$$);
SELECT pg_temp.try($$SELECT sharing.create_role('Sales Rep', 'Support')$$);
-- names must not be empty or NULL
SELECT pg_temp.try($$SELECT sharing.create_role('')$$);
SELECT pg_temp.try($$SELECT sharing.create_role('   ')$$);
SELECT pg_temp.try($$SELECT sharing.create_role(NULL)$$);
-- the parent must exist
SELECT pg_temp.try($$SELECT sharing.create_role('Orphan', 'No Such Role')$$);
-- nothing was created by the refused calls
SELECT count(*) AS roles FROM sharing.roles;

-- move_role: the moved role takes its whole subtree along, and the
-- closure follows at once (Sales Manager's team now reports to Support)
SELECT sharing.move_role('Sales Manager', 'Support');
SELECT * FROM pg_temp.tree();
SELECT * FROM pg_temp.closure();

-- moving to the top level with a NULL parent
SELECT sharing.move_role('Support', NULL);
SELECT * FROM pg_temp.tree();
SELECT * FROM pg_temp.closure();

-- moving back under the CEO
SELECT sharing.move_role('Support', 'CEO');
SELECT * FROM pg_temp.closure() WHERE ancestor = 'CEO';

-- moving a role under itself or under one of its subordinates is a
-- cycle: refused, and the message names the path
SELECT pg_temp.try($$SELECT sharing.move_role('Support', 'Support')$$);
SELECT pg_temp.try($$SELECT sharing.move_role('Support', 'Sales Manager')$$);
SELECT pg_temp.try($$SELECT sharing.move_role('CEO', 'Sales Rep')$$);
-- the refused moves changed nothing
SELECT * FROM pg_temp.tree();

-- moving an unknown role, or under an unknown parent
SELECT pg_temp.try($$SELECT sharing.move_role('No Such Role', 'CEO')$$);
SELECT pg_temp.try($$SELECT sharing.move_role('Support', 'No Such Role')$$);

-- a move is seen by the users' principals too: a user in Sales Rep acts
-- through role_and_subordinates of every role above theirs
SELECT sharing.create_user('Rita Rep', 'Sales Rep') > 0 AS created;
CREATE FUNCTION pg_temp.principals(user_name text) RETURNS TABLE (principal_type text, principal text)
LANGUAGE sql AS $$
    SELECT p.principal_type,
           coalesce(r.name, g.name, u.name)
      FROM sharing._user_principals p
      JOIN sharing.users me ON me.id = p.user_id
      LEFT JOIN sharing.roles r ON p.principal_type IN ('role', 'role_and_subordinates') AND r.id = p.principal_id
      LEFT JOIN sharing.groups g ON p.principal_type = 'group' AND g.id = p.principal_id
      LEFT JOIN sharing.users u ON p.principal_type = 'user' AND u.id = p.principal_id
     WHERE me.name = user_name
     ORDER BY 1, 2
$$;
SELECT * FROM pg_temp.principals('Rita Rep');
SELECT sharing.move_role('Sales Manager', 'Sales VP');
SELECT * FROM pg_temp.principals('Rita Rep');

-- drop_role is refused while users hold the role ...
SELECT pg_temp.try($$SELECT sharing.drop_role('Sales Rep')$$);
-- ... while subordinate roles report to it ...
SELECT pg_temp.try($$SELECT sharing.drop_role('Sales Manager')$$);
-- ... and while a sharing rule names it, as recipient or as source
CREATE TABLE t10_deals (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
SELECT sharing.protect('t10_deals');
SELECT sharing.create_owner_rule('t10_deals', 'auditors see support deals',
                                 'role_and_subordinates', 'Support', 'role', 'Auditor', 'read') > 0 AS created;
SELECT sharing.create_owner_rule('t10_deals', 'agents share with all',
                                 'role', 'Support Agent', 'all_users', NULL, 'read') > 0 AS created;
SELECT pg_temp.try($$SELECT sharing.drop_role('Auditor')$$);
SELECT pg_temp.try($$SELECT sharing.drop_role('Support Agent')$$);
-- several reasons at once are all counted
SELECT pg_temp.try($$SELECT sharing.drop_role('Support')$$);
-- dropping an unknown role
SELECT pg_temp.try($$SELECT sharing.drop_role('No Such Role')$$);

-- an unused role can be dropped: its row and its closure rows go
SELECT sharing.create_role('Support Trainee', 'Support Agent') > 0 AS created;
SELECT count(*) AS closure_rows FROM sharing._role_closure;
SELECT sharing.drop_role('Support Trainee');
SELECT count(*) AS closure_rows FROM sharing._role_closure;
SELECT * FROM pg_temp.tree();

-- a dropped role's group memberships and the manual shares made to it go
-- with it
SELECT sharing.create_group('Everyone in Auditing') > 0 AS created;
SELECT sharing.create_role('Interim') > 0 AS created;
SELECT sharing.add_to_group('Everyone in Auditing', 'role_and_subordinates', 'Interim');
SELECT sharing.add_to_group('Everyone in Auditing', 'role', 'Interim');
INSERT INTO t10_deals VALUES (1, 0);
SELECT sharing.share_record('t10_deals', '1', 'role', 'Interim', 'read');
SELECT sharing.share_record('t10_deals', '1', 'role_and_subordinates', 'Interim', 'read');
SELECT (SELECT count(*) FROM sharing.group_members) AS memberships, (SELECT count(*) FROM sharing.shares) AS shares;
SELECT sharing.drop_role('Interim');
SELECT (SELECT count(*) FROM sharing.group_members) AS memberships, (SELECT count(*) FROM sharing.shares) AS shares;

-- a role freed of its users can be dropped
SELECT sharing.alter_user('Rita Rep', '{"role": "Sales Manager"}');
SELECT sharing.drop_role('Sales Rep');
SELECT * FROM pg_temp.closure();
ROLLBACK;
