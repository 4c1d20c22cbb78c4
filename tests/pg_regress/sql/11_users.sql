-- Users: create_user, alter_user, the db_role mapping, and the principals
-- each user acts through (sharing._user_principals).
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- The users by name, with their role, profile and mapping.
CREATE FUNCTION pg_temp.users() RETURNS TABLE (name text, role text, profile text, db_role name, active boolean)
LANGUAGE sql AS $$
    SELECT u.name, r.name, p.name, u.db_role, u.active
      FROM sharing.users u
      LEFT JOIN sharing.roles r ON r.id = u.role_id
      JOIN sharing.profiles p ON p.id = u.profile_id
     ORDER BY u.name
$$;
-- The principals of a user, by name.
CREATE FUNCTION pg_temp.principals(user_name text) RETURNS TABLE (principal_type text, principal text)
LANGUAGE sql AS $$
    SELECT p.principal_type, coalesce(r.name, g.name, u.name)
      FROM sharing._user_principals p
      JOIN sharing.users me ON me.id = p.user_id
      LEFT JOIN sharing.roles r ON p.principal_type IN ('role', 'role_and_subordinates') AND r.id = p.principal_id
      LEFT JOIN sharing.groups g ON p.principal_type = 'group' AND g.id = p.principal_id
      LEFT JOIN sharing.users u ON p.principal_type = 'user' AND u.id = p.principal_id
     WHERE me.name = user_name
     ORDER BY 1, 2
$$;

CREATE ROLE t11_alice LOGIN;
CREATE ROLE t11_bob LOGIN;
CREATE ROLE t11_carol LOGIN;
SELECT sharing.create_role('Director') > 0 AS created;
SELECT sharing.create_role('Manager', 'Director') > 0 AS created;
SELECT sharing.create_role('Agent', 'Manager') > 0 AS created;
SELECT sharing.create_role('Partner') > 0 AS created;
SELECT sharing.create_profile('light agent') > 0 AS created;

-- an application keeps its own ids: create_user returns the id it was given
SELECT sharing.create_user('Alice', 'Manager', db_role => 't11_alice', id => 1001);
-- without an id, the next free one is generated, skipping ids that the
-- application took for itself
SELECT nextval(pg_get_serial_sequence('sharing.users', 'id')) AS next_id \gset
SELECT sharing.create_user('Taken One', 'Agent', id => :next_id + 1) - :next_id AS offset;
SELECT sharing.create_user('Taken Two', 'Agent', id => :next_id + 2) - :next_id AS offset;
SELECT sharing.create_user('Generated', 'Agent') - :next_id AS offset;
-- the profile defaults to standard; it can be named
SELECT sharing.create_user('Bob', 'Agent', 'light agent', 't11_bob', 1002);
-- a user may have no role (yet)
SELECT sharing.create_user('Newcomer', NULL, id => 1003);
SELECT * FROM pg_temp.users();

-- db_role maps a login role to its user: connected as t11_alice, the
-- session is Alice
SET ROLE t11_alice;
SELECT sharing.current_user_id();
RESET ROLE;

-- the role, the profile and the login role must exist
SELECT pg_temp.try($$SELECT sharing.create_user('Eve', 'No Such Role')$$);
SELECT pg_temp.try($$SELECT sharing.create_user('Eve', 'Agent', 'no such profile')$$);
SELECT pg_temp.try($$SELECT sharing.create_user('Eve', 'Agent', db_role => 't11_no_such_login')$$);
-- name, id and db_role are each unique; the message names the holder
SELECT pg_temp.try($$SELECT sharing.create_user('Alice', 'Agent')$$);
SELECT pg_temp.try($$SELECT sharing.create_user('Eve', 'Agent', id => 1001)$$);
SELECT pg_temp.try($$SELECT sharing.create_user('Eve', 'Agent', db_role => 't11_alice')$$);
-- a name must not be empty
SELECT pg_temp.try($$SELECT sharing.create_user('', 'Agent')$$);
SELECT pg_temp.try($$SELECT sharing.create_user(' ', 'Agent')$$);
SELECT pg_temp.try($$SELECT sharing.create_user(NULL, 'Agent')$$);
-- none of the refused calls created anyone
SELECT count(*) AS users FROM sharing.users;

-- a user acts through themselves, their role, and role_and_subordinates of
-- their role and of every role above it
SELECT * FROM pg_temp.principals('Alice');
SELECT * FROM pg_temp.principals('Bob');
-- without a role, only through themselves
SELECT * FROM pg_temp.principals('Newcomer');

-- alter_user: role
SELECT sharing.alter_user('Bob', '{"role": "Partner"}');
SELECT * FROM pg_temp.users() WHERE name = 'Bob';
SELECT * FROM pg_temp.principals('Bob');
-- alter_user: role null takes the role away
SELECT sharing.alter_user('Bob', '{"role": null}');
SELECT * FROM pg_temp.principals('Bob');
SELECT sharing.alter_user('Bob', '{"role": "Agent"}');
-- alter_user: profile
SELECT sharing.alter_user('Bob', '{"profile": "standard"}');
-- alter_user: db_role (mapping t11_carol instead of t11_bob)
SELECT sharing.alter_user('Bob', '{"db_role": "t11_carol"}');
SET ROLE t11_bob;
SELECT sharing.current_user_id() AS as_t11_bob;
SET ROLE t11_carol;
SELECT sharing.current_user_id() AS as_t11_carol;
RESET ROLE;
-- alter_user: db_role null unmaps
SELECT sharing.alter_user('Bob', '{"db_role": null}');
SET ROLE t11_carol;
SELECT sharing.current_user_id() AS as_t11_carol;
RESET ROLE;
-- alter_user: active
SELECT sharing.alter_user('Bob', '{"active": false}');
SELECT * FROM pg_temp.users() WHERE name = 'Bob';
-- an inactive user keeps their principals (access is refused elsewhere)
SELECT * FROM pg_temp.principals('Bob');
SELECT sharing.alter_user('Bob', '{"active": true}');
-- alter_user: name (the id stays)
SELECT sharing.alter_user('Bob', '{"name": "Robert"}');
SELECT id, name FROM sharing.users WHERE id = 1002;
-- several keys at once
SELECT sharing.alter_user('Robert', '{"name": "Bob", "role": "Manager", "profile": "light agent",
                                      "db_role": "t11_bob", "active": false}');
SELECT * FROM pg_temp.users() WHERE name = 'Bob';
SELECT * FROM pg_temp.principals('Bob');
-- an empty object changes nothing
SELECT sharing.alter_user('Bob', '{}');
SELECT * FROM pg_temp.users() WHERE name = 'Bob';

-- bad input to alter_user, each refused with the offending part named
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"colour": "blue"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '["role", "Agent"]')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '"Agent"')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', NULL)$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"active": "yes"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"active": null}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"role": "No Such Role"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"role": 7}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"profile": "no such profile"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"profile": null}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"db_role": "t11_no_such_login"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"db_role": "t11_alice"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"name": "Alice"}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"name": ""}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"name": null}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"name": 42}')$$);
SELECT pg_temp.try($$SELECT sharing.alter_user('Nobody', '{"active": true}')$$);
-- a refused change is not applied in part: the valid keys before the bad
-- one changed nothing either
SELECT pg_temp.try($$SELECT sharing.alter_user('Bob', '{"active": true, "role": "Agent", "colour": "blue"}')$$);
SELECT * FROM pg_temp.users() WHERE name = 'Bob';
-- renaming a user to their own name, or mapping their own login role
-- again, is no conflict
SELECT sharing.alter_user('Bob', '{"name": "Bob", "db_role": "t11_bob"}');

-- a user whose login role was dropped since can still be changed (here:
-- deactivated); the mapping is checked only when it is set
CREATE ROLE t11_leaver LOGIN;
SELECT sharing.create_user('Leaver', 'Agent', db_role => 't11_leaver', id => 1004);
DROP ROLE t11_leaver;
SELECT sharing.alter_user('Leaver', '{"active": false}');
SELECT * FROM pg_temp.users() WHERE name = 'Leaver';

-- changing a user's role changes their groups resolved through roles
SELECT sharing.create_group('Management') > 0 AS created;
SELECT sharing.add_to_group('Management', 'role_and_subordinates', 'Manager');
SELECT * FROM pg_temp.principals('Alice') WHERE principal_type = 'group';
SELECT sharing.alter_user('Alice', '{"role": "Partner"}');
SELECT * FROM pg_temp.principals('Alice') WHERE principal_type = 'group';
SELECT sharing.alter_user('Alice', '{"role": "Agent"}');
SELECT * FROM pg_temp.principals('Alice') WHERE principal_type = 'group';
ROLLBACK;
