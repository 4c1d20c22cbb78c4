-- Identity: sharing.current_user_id() is the user set by act_as for the
-- transaction, else the user mapped to the current (outer) role, else NULL.
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

CREATE ROLE t14_alice LOGIN;
CREATE ROLE t14_ivan LOGIN;
CREATE ROLE t14_plain LOGIN;
CREATE ROLE t14_app LOGIN IN ROLE sharing_app;
CREATE ROLE t14_app_person LOGIN IN ROLE sharing_app;
CREATE ROLE t14_admin LOGIN IN ROLE sharing_admin;
CREATE ROLE t14_super LOGIN SUPERUSER;
SELECT sharing.create_role('Staff') > 0 AS created;
SELECT sharing.create_user('Alice', 'Staff', db_role => 't14_alice', id => 1401);
SELECT sharing.create_user('Bob', 'Staff', id => 1402);
SELECT sharing.create_user('Ivan Inactive', 'Staff', db_role => 't14_ivan', id => 1403);
SELECT sharing.create_user('Carol at the app', 'Staff', db_role => 't14_app_person', id => 1404);
SELECT sharing.alter_user('Ivan Inactive', '{"active": false}');
-- a private table: each user sees their own rows
CREATE TABLE t14_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, name text);
GRANT SELECT ON t14_accounts TO PUBLIC;
INSERT INTO t14_accounts VALUES (1, 1401, 'Alice''s'), (2, 1402, 'Bob''s'), (3, 1403, 'Ivan''s');
SELECT sharing.protect('t14_accounts');
-- Who the session is (the role set by SET ROLE), and what it sees.
CREATE FUNCTION pg_temp.whoami() RETURNS TABLE (outer_role name, user_id bigint, sees text)
LANGUAGE sql AS $$
    SELECT current_user, sharing.current_user_id(),
           coalesce((SELECT string_agg(name, ', ' ORDER BY id) FROM public.t14_accounts), '(nothing)')
$$;

-- an unmapped role is nobody
SELECT sharing.current_user_id() AS superuser_unmapped;
SET ROLE t14_plain;
SELECT * FROM pg_temp.whoami();
RESET ROLE;

-- db_role: connected as (here: SET ROLE to) a mapped login role, the
-- session is that user and sees that user's rows
SET ROLE t14_alice;
SELECT * FROM pg_temp.whoami();
RESET ROLE;

-- the identity follows the outer role, not the owner of a SECURITY
-- DEFINER function
CREATE FUNCTION t14_definer() RETURNS TABLE (inside_as name, user_id bigint)
LANGUAGE sql SECURITY DEFINER AS $$ SELECT current_user, sharing.current_user_id() $$;
SET ROLE t14_alice;
SELECT * FROM t14_definer();
RESET ROLE;

-- an inactive user mapped by db_role is still identified, but sees no row
-- of a protected table, not even their own
SET ROLE t14_ivan;
SELECT * FROM pg_temp.whoami();
RESET ROLE;

-- act_as, by a member of sharing_app: the session acts as that user
SET ROLE t14_app;
SELECT * FROM pg_temp.whoami();
SAVEPOINT app;
SELECT sharing.act_as(1402);
SELECT * FROM pg_temp.whoami();
-- act_as may be called again to act as someone else
SELECT sharing.act_as(1401);
SELECT * FROM pg_temp.whoami();
ROLLBACK TO SAVEPOINT app;
RESET ROLE;

-- act_as comes before db_role: an application role that is itself mapped
-- to a user acts as the user it names
SET ROLE t14_app_person;
SELECT sharing.current_user_id() AS mapped;
SAVEPOINT app;
SELECT sharing.act_as(1401);
SELECT sharing.current_user_id() AS acting;
ROLLBACK TO SAVEPOINT app;
SELECT sharing.current_user_id() AS mapped_again;
RESET ROLE;

-- act_as, by a superuser
SET ROLE t14_super;
SAVEPOINT su;
SELECT sharing.act_as(1402);
SELECT sharing.current_user_id();
ROLLBACK TO SAVEPOINT su;
RESET ROLE;

-- act_as is refused (42501) to anyone else: a plain login role, a mapped
-- user, a sharing admin
SET ROLE t14_plain;
SELECT pg_temp.try($$SELECT sharing.act_as(1401)$$);
SELECT sharing.current_user_id() AS still_nobody;
SET ROLE t14_alice;
SELECT pg_temp.try($$SELECT sharing.act_as(1402)$$);
SELECT sharing.current_user_id() AS still_alice;
SET ROLE t14_admin;
SELECT pg_temp.try($$SELECT sharing.act_as(1401)$$);
-- (also when the user does not exist: nothing is revealed)
SET ROLE t14_plain;
SELECT pg_temp.try($$SELECT sharing.act_as(999999)$$);
RESET ROLE;

-- act_as of an unknown user (22023), of an inactive user (42501), of NULL
-- (22023: not a silent no-op)
SET ROLE t14_app;
SELECT pg_temp.try($$SELECT sharing.act_as(999999)$$);
SELECT pg_temp.try($$SELECT sharing.act_as(1403)$$);
SELECT pg_temp.try($$SELECT sharing.act_as(NULL)$$);
SELECT sharing.current_user_id() AS still_nobody;

-- ROLLBACK TO SAVEPOINT undoes act_as: the identity before the savepoint
-- comes back, also across nested savepoints
SAVEPOINT one;
SELECT sharing.act_as(1401);
SAVEPOINT two;
SELECT sharing.act_as(1402);
SELECT sharing.current_user_id() AS in_two;
ROLLBACK TO SAVEPOINT two;
SELECT sharing.current_user_id() AS back_in_one;
ROLLBACK TO SAVEPOINT one;
SELECT sharing.current_user_id() AS back_before_one;

-- after RELEASE SAVEPOINT, act_as is still in effect (until the end of
-- the transaction, or a rollback to an enclosing savepoint)
SAVEPOINT outer_sp;
SAVEPOINT inner_sp;
SELECT sharing.act_as(1402);
RELEASE SAVEPOINT inner_sp;
SELECT * FROM pg_temp.whoami();
ROLLBACK TO SAVEPOINT outer_sp;
SELECT sharing.current_user_id() AS after_outer_rollback;

-- an act_as in a PL/pgSQL block that fails is undone with the block; one
-- in a block that succeeds stays
SAVEPOINT blocks;
DO $$
BEGIN
    BEGIN
        PERFORM sharing.act_as(1401);
        RAISE NOTICE 'inside the block: %', sharing.current_user_id();
        RAISE EXCEPTION 'fail';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'after the failed block: %', sharing.current_user_id();
    END;
    BEGIN
        PERFORM sharing.act_as(1402);
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    RAISE NOTICE 'after the block that succeeded: %', sharing.current_user_id();
END
$$;
ROLLBACK TO SAVEPOINT blocks;
RESET ROLE;

-- no setting changes the identity: not SET, not set_config, whatever the name
SET ROLE t14_plain;
SET sharing.user_id = '1401';
SET sharing.current_user_id = '1401';
SET pg_sharing.acting_user = '1401';
SELECT set_config('sharing.act_as', '1401', true) IS NOT NULL AS set;
SELECT set_config('sharing.user', '1401', false) IS NOT NULL AS set;
SET application_name = '1401';
SELECT * FROM pg_temp.whoami();
RESET ROLE;
SET ROLE t14_alice;
SET sharing.user_id = '1402';
SELECT * FROM pg_temp.whoami();
RESET ROLE;

-- nor does an operator of a client's own: identity and the act_as check
-- use pg_catalog's operators whatever the search_path says
CREATE SCHEMA t14_evil;
CREATE FUNCTION t14_evil.yes(name, name) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION t14_evil.yes(oid, oid) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION t14_evil.yes(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR t14_evil.= (leftarg = name, rightarg = name, function = t14_evil.yes);
CREATE OPERATOR t14_evil.= (leftarg = oid, rightarg = oid, function = t14_evil.yes);
CREATE OPERATOR t14_evil.= (leftarg = bigint, rightarg = bigint, function = t14_evil.yes);
GRANT USAGE ON SCHEMA t14_evil TO PUBLIC;
SET ROLE t14_plain;
SET search_path = t14_evil, pg_catalog, public;
SELECT * FROM pg_temp.whoami();
SELECT pg_temp.try($$SELECT sharing.act_as(1401)$$);
RESET search_path;
RESET ROLE;
ROLLBACK;

-- act_as ends with the transaction: a pooled connection does not carry one
-- client's identity over to the next
BEGIN;
SELECT sharing.create_user('Temp', NULL, id => 1499);
SELECT sharing.act_as(1499);
SELECT sharing.current_user_id() AS in_transaction;
ROLLBACK;
BEGIN;
SELECT sharing.current_user_id() AS next_transaction;
ROLLBACK;
