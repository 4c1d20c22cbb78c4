-- Attacks on identity: a client trying to be taken for another user.
-- Settings named like ours, objects named like ours earlier on the
-- search_path and in pg_temp, SET ROLE, act_as without sharing_app, the
-- internal functions called directly, act_as outliving its transaction,
-- and cached plans re-executed after the identity changed. Each attack
-- shows exactly who the session is taken for and which rows it sees.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Head (Hal) > Team (Ann, Ben); Out (Eve, Carol). Carol's login is also
-- a sharing_app member (an application account that is a person too).
-- Ann owns 1, 2; Ben 3; Eve 4; Hal 5; Carol 6.
CREATE ROLE a50_ann LOGIN;
CREATE ROLE a50_ben LOGIN;
CREATE ROLE a50_eve LOGIN;
CREATE ROLE a50_carol LOGIN IN ROLE sharing_app;
CREATE ROLE a50_plain LOGIN;
CREATE ROLE a50_app LOGIN IN ROLE sharing_app;
CREATE ROLE a50_admin LOGIN IN ROLE sharing_admin;
CREATE ROLE a50_manager LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Head');
    PERFORM sharing.create_role('Team', 'Head');
    PERFORM sharing.create_role('Out');
    PERFORM sharing.create_profile('a50 managers', manage_sharing => true);
    PERFORM sharing.create_user('Hal', 'Head', id => 5001);
    PERFORM sharing.create_user('Ann', 'Team', db_role => 'a50_ann', id => 5002);
    PERFORM sharing.create_user('Ben', 'Team', db_role => 'a50_ben', id => 5003);
    PERFORM sharing.create_user('Eve', 'Out', db_role => 'a50_eve', id => 5004);
    PERFORM sharing.create_user('Carol', 'Out', db_role => 'a50_carol', id => 5006);
    PERFORM sharing.create_user('Max', 'Out', profile => 'a50 managers', db_role => 'a50_manager', id => 5007);
END $$;
CREATE TABLE a50 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON a50 TO PUBLIC;
INSERT INTO a50 VALUES (1, 5002, 'ann'), (2, 5002, 'ann'), (3, 5003, 'ben'), (4, 5004, 'eve'),
                       (5, 5001, 'hal'), (6, 5006, 'carol');
SELECT sharing.protect('a50');
-- Who the session is taken for, and the ids it sees.
CREATE FUNCTION pg_temp.whoami() RETURNS TABLE (role name, user_id bigint, sees text)
LANGUAGE sql AS $$
    SELECT current_user, sharing.current_user_id(),
           coalesce((SELECT string_agg(id::text, ',' ORDER BY id) FROM public.a50), '-')
$$;

-- 1. Settings. No setting, whatever its name, is read for identity: SET,
-- SET LOCAL, set_config (session and local), in a DO block.
SET ROLE a50_eve;
SET sharing.user_id = '5002';
SET sharing.current_user_id = '5002';
SET LOCAL sharing.acting_user = '5002';
SET pg_sharing.user_id = '5002';
SET pg_sharing.act_as = '5002';
SELECT set_config('sharing.act_as', '5002', false) AS set, set_config('pg_sharing.current_user', '5002', true) AS set;
DO $$ BEGIN PERFORM set_config('sharing.user', '5002', true); END $$;
SET application_name = '5002';
SELECT * FROM pg_temp.whoami();
-- The same for a role that is nobody.
SET ROLE a50_plain;
SET sharing.user_id = '5002';
SELECT * FROM pg_temp.whoami();
-- Settings that would switch off what protects rows are refused or fail
-- closed: session_replication_role (it disables triggers) needs a
-- superuser (42501); row_security = off may be set, but makes a query on a
-- protected table an error, not a bypass (42501). (SET SESSION
-- AUTHORIZATION: itest/tests/attacks.rs, as it depends on the login.)
SELECT pg_temp.try($$SET session_replication_role = replica$$);
SET ROLE a50_eve;
SAVEPOINT rs;
SET LOCAL row_security = off;
SELECT pg_temp.try($$SELECT count(*) FROM a50$$);
ROLLBACK TO SAVEPOINT rs;
RESET ROLE;
RESET sharing.user_id;
RESET sharing.current_user_id;
RESET pg_sharing.user_id;
RESET pg_sharing.act_as;
RESET application_name;

-- 2. Objects named like ours earlier on the search_path: a schema of
-- Eve's own with current_user_id, act_as, users, _visible_owners,
-- _is_active, _bypass, _action_allowed and _shared_records that would
-- make her Ann with every row. Nothing of ours resolves a name through
-- the caller's search_path.
CREATE SCHEMA a50_evil AUTHORIZATION a50_eve;
SET ROLE a50_eve;
CREATE FUNCTION a50_evil.current_user_id() RETURNS bigint LANGUAGE sql AS 'SELECT 5002::bigint';
CREATE FUNCTION a50_evil.act_as(bigint) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION a50_evil._visible_owners(regclass, integer) RETURNS bigint[] LANGUAGE sql
    AS 'SELECT ARRAY[5001, 5002, 5003, 5004, 5006]::bigint[]';
CREATE FUNCTION a50_evil._is_active() RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION a50_evil._bypass(integer) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION a50_evil._action_allowed(regclass, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION a50_evil._shared_records(regclass, integer) RETURNS text[] LANGUAGE sql AS $$SELECT '{1,2,3,4,5,6}'::text[]$$;
CREATE FUNCTION a50_evil._outer_role_oid() RETURNS oid LANGUAGE sql AS $$SELECT 'a50_ann'::regrole::oid$$;
CREATE TABLE a50_evil.users (id bigint, name text, db_role name, active boolean, role_id bigint, profile_id bigint);
INSERT INTO a50_evil.users VALUES (5002, 'Ann', 'a50_eve', true, NULL, NULL);
CREATE TABLE a50_evil.pg_roles (oid oid, rolname name, rolsuper boolean);
INSERT INTO a50_evil.pg_roles VALUES ('a50_eve'::regrole::oid, 'a50_ann', true);
CREATE TABLE a50_evil._role_closure (ancestor_id bigint, descendant_id bigint, depth integer);
CREATE TABLE a50_evil.shares (tbl regclass, record_id text, to_type text, to_id bigint, access text);
SET search_path = a50_evil, public;
SELECT current_user_id() AS evil_function_answers;
SELECT * FROM pg_temp.whoami();
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
SELECT sharing.can_read(5004, 'a50', '1') AS can_read_1, sharing.access_level(5004, 'a50', '3') AS level_3;
-- ... also with pg_catalog put after her schema
SET search_path = a50_evil, pg_catalog, public;
SELECT * FROM pg_temp.whoami();
-- ... and in pg_temp, searched first for tables when it is not listed
-- (functions and operators are never looked up there unqualified).
CREATE TEMP TABLE users (id bigint, name text, db_role name, active boolean, role_id bigint, profile_id bigint);
INSERT INTO pg_temp.users VALUES (5002, 'Ann', 'a50_eve', true, NULL, NULL);
CREATE TEMP TABLE pg_roles (oid oid, rolname name, rolsuper boolean);
INSERT INTO pg_temp.pg_roles VALUES ('a50_eve'::regrole::oid, 'a50_ann', true);
CREATE TEMP TABLE shares (tbl regclass, record_id text, to_type text, to_id bigint, access text);
INSERT INTO pg_temp.shares VALUES ('a50', '1', 'user', 5004, 'read_write_delete');
CREATE FUNCTION pg_temp.current_user_id() RETURNS bigint LANGUAGE sql AS 'SELECT 5002::bigint';
SET search_path = pg_temp, a50_evil, public;
SELECT * FROM pg_temp.whoami();
SELECT pg_temp.reach('a50') AS eve;
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
SELECT pg_temp.try($$SELECT sharing.who_can_access('a50', '1')$$);
RESET search_path;
-- She cannot put anything into schema sharing itself (42501).
SELECT pg_temp.try($$CREATE FUNCTION sharing.current_user_id(integer) RETURNS bigint LANGUAGE sql AS 'SELECT 5002::bigint'$$);
SELECT pg_temp.try($$CREATE TABLE sharing.evil (id int)$$);
SELECT pg_temp.try($$CREATE OR REPLACE FUNCTION sharing.current_user_id() RETURNS bigint LANGUAGE sql AS 'SELECT 5002::bigint'$$);
SELECT pg_temp.try($$ALTER FUNCTION sharing.current_user_id() RENAME TO x$$);
RESET ROLE;

-- 3. SET ROLE. (SET ROLE / set_config('role') / a function's SET role to
-- a mapped role one is not a member of, and SET SESSION AUTHORIZATION, are
-- refused with 42501 over a real login: itest/tests/attacks.rs. Here the
-- session's login is a superuser, who may set any role.)
-- Membership without SET ROLE does not make Eve Ann: identity follows the
-- current role, not the roles it inherits from.
GRANT a50_ann TO a50_eve;
SET ROLE a50_eve;
SELECT * FROM pg_temp.whoami();
-- Once granted, SET ROLE to the mapped role makes her Ann, with Ann's rows
-- and nothing more (granting a mapped role hands over that identity).
SET ROLE a50_ann;
SELECT * FROM pg_temp.whoami();
RESET ROLE;
REVOKE a50_ann FROM a50_eve;
-- A SECURITY DEFINER function owned by Ann, called by Eve: Ann's
-- privileges, Eve's identity and rows.
CREATE FUNCTION public.a50_ann_definer() RETURNS TABLE (inside_as name, user_id bigint, sees text)
LANGUAGE sql SECURITY DEFINER AS $$
    SELECT current_user, sharing.current_user_id(),
           coalesce((SELECT string_agg(id::text, ',' ORDER BY id) FROM public.a50), '-')
$$;
ALTER FUNCTION public.a50_ann_definer() OWNER TO a50_ann;
SET ROLE a50_eve;
SELECT * FROM public.a50_ann_definer();
RESET ROLE;

-- 4. act_as without sharing_app: 42501 for a plain role, a mapped user, a
-- sharing_admin member, a user whose profile may manage sharing; also
-- through a SECURITY DEFINER wrapper owned by a superuser or by a
-- sharing_app member (the check is on the session's role). Eve cannot
-- grant herself sharing_app (42501).
SET ROLE a50_plain;
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
SET ROLE a50_eve;
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
SET ROLE a50_admin;
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
SET ROLE a50_manager;
SELECT pg_temp.try($$SELECT sharing.act_as(5002)$$);
RESET ROLE;
CREATE FUNCTION public.a50_su_act_as(uid bigint) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT sharing.act_as(uid)::text || sharing.current_user_id() $$;
CREATE FUNCTION public.a50_app_act_as(uid bigint) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT sharing.act_as(uid)::text || sharing.current_user_id() $$;
ALTER FUNCTION public.a50_app_act_as(bigint) OWNER TO a50_app;
SET ROLE a50_eve;
SELECT pg_temp.try($$SELECT public.a50_su_act_as(5002)$$);
SELECT pg_temp.try($$SELECT public.a50_app_act_as(5002)$$);
SELECT pg_temp.try($$GRANT sharing_app TO a50_eve$$);
SELECT pg_temp.try($$GRANT sharing_admin TO a50_eve$$);
SELECT * FROM pg_temp.whoami();
RESET ROLE;

-- 5. The internal functions. Exactly these `_` functions may be called by
-- PUBLIC; each answers only for the current user:
SELECT p.oid::regprocedure AS public_internal_function, p.prosecdef AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'sharing'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('a50_plain', p.oid, 'EXECUTE')
 ORDER BY 1::text;
-- Every other internal function is 42501 to a plain role, a mapped user
-- and a user whose profile may manage sharing; calling each one shows it
-- (with non-NULL arguments: a STRICT function called with a NULL is
-- folded to NULL by the planner, before any privilege check, and runs
-- nothing):
CREATE FUNCTION pg_temp.call_internals() RETURNS TABLE (outcome text, functions text) LANGUAGE plpgsql AS $$
DECLARE
    f record; res text; results text[] := '{}';
BEGIN
    FOR f IN
        SELECT p.oid, p.proname, p.prokind,
               (SELECT string_agg(CASE t::regtype::text
                                       WHEN 'anyelement' THEN '1' WHEN 'bigint' THEN '5002::bigint'
                                       WHEN 'integer' THEN '1' WHEN 'boolean' THEN 'false'
                                       WHEN 'oid' THEN '''a50''::regclass::oid' WHEN 'regclass' THEN '''a50''::regclass'
                                       WHEN 'text' THEN '''1''::text' WHEN 'jsonb' THEN '''{}''::jsonb'
                                       WHEN 'text[]' THEN '''{}''::text[]' WHEN 'bigint[]' THEN '''{5002}''::bigint[]'
                                       ELSE format('NULL::%s', t::regtype) END, ', ' ORDER BY ord)
                  FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a (t, ord)) AS args
          FROM pg_proc p
         WHERE p.pronamespace = 'sharing'::regnamespace AND p.proname LIKE '\_%'
           AND p.proname NOT IN ('_is_active', '_rule_reaches_me', '_visible_owners', '_shared_records',
                                 '_bypass', '_action_allowed', '_outer_role_oid', '_level_rank')
    LOOP
        res := pg_temp.try(format(CASE WHEN f.prokind = 'p' THEN 'CALL sharing.%I(%s)' ELSE 'SELECT sharing.%I(%s)' END,
                                  f.proname, coalesce(f.args, '')));
        results := results || (split_part(res, ':', 1) || '|' || f.oid::regprocedure::text);
    END LOOP;
    -- Only the outcomes, and the functions for any outcome but 42501.
    RETURN QUERY SELECT * FROM pg_temp.outcomes(results);
END $$;
SET ROLE a50_plain;
SELECT * FROM pg_temp.call_internals();
SET ROLE a50_eve;
SELECT * FROM pg_temp.call_internals();
SET ROLE a50_manager;
SELECT * FROM pg_temp.call_internals();
-- The ones that answer for any user, named: 42501, with the message.
SET ROLE a50_eve;
SELECT pg_temp.try($$SELECT sharing._visible_owners_of(5002, 'a50', 1)$$);
SELECT pg_temp.try($$SELECT sharing._shared_records_of(5002, 'a50', 1)$$);
SELECT pg_temp.try($$SELECT sharing._owner_levels_of(5002, 'a50')$$);
SELECT pg_temp.try($$SELECT sharing._share_levels_of(5002, 'a50')$$);
SELECT pg_temp.try($$SELECT sharing._bypass_of(5001, 1)$$);
SELECT pg_temp.try($$SELECT sharing._action_allowed_of(5002, 'a50', 'read')$$);
SELECT pg_temp.try($$SELECT sharing._access_rank(5002, 'a50'::regclass, '1')$$);
SELECT pg_temp.try($$SELECT * FROM sharing._explain(5002, 'a50', '1')$$);
SELECT pg_temp.try($$SELECT sharing._can(5002, 'a50', '1', 'read')$$);
SELECT pg_temp.try($$SELECT sharing._record_exists('a50'::regclass, '3')$$);
SELECT pg_temp.try($$SELECT sharing._rule_reaches(5002, 1)$$);
SELECT pg_temp.try($$SELECT sharing._active_user(5002)$$);
-- The current-user ones answer for Eve only, whatever level is passed
-- (zero or negative included).
SELECT sharing._visible_owners('a50', 1) AS owners_read, sharing._visible_owners('a50', -1000) AS owners_negative,
       sharing._visible_owners('a50', 0) AS owners_zero, sharing._shared_records('a50', -1) AS shared,
       sharing._bypass(0) AS bypass_zero, sharing._bypass(-1) AS bypass_negative, sharing._is_active() AS active;
-- The public checks answer about Eve only (42501 for anyone else), and a
-- forged row does not fool the row form: it is judged by its key.
SELECT sharing.can_read(5004, 'a50', '3') AS can_read_3, sharing.can_read(5004, ROW(3, 5004, 'forged')::a50) AS can_read_forged_3,
       sharing.can_edit(5004, ROW(4, 5004, 'x')::a50) AS can_edit_own_4,
       sharing.access_level(5004, 'a50', '3') AS level_3, sharing.access_level(5004, 'a50', '999') AS level_missing;
SELECT * FROM sharing.explain_access(5004, 'a50', '3');
SELECT pg_temp.try($$SELECT sharing.can_read(5002, 'a50', '1')$$);
SELECT pg_temp.try($$SELECT sharing.can_edit(5002, ROW(1, 5002, 'x')::a50)$$);
SELECT pg_temp.try($$SELECT sharing.access_level(5001, 'a50', '5')$$);
SELECT pg_temp.try($$SELECT * FROM sharing.explain_access(5002, 'a50', '1')$$);
SELECT pg_temp.try($$SELECT * FROM sharing.who_can_access('a50', '1')$$);
SELECT pg_temp.try($$SELECT sharing.export_config()$$);
SELECT pg_temp.try($$SELECT * FROM sharing.apply_config('{}'::jsonb, true)$$);
-- NULL is not a loophole: asking about user NULL is asking about someone
-- else.
SELECT pg_temp.try($$SELECT sharing.access_level(NULL, 'a50', '3')$$);
RESET ROLE;

-- 6. act_as does not outlive what it was done in: a rolled-back savepoint,
-- a failed PL/pgSQL block, a failed statement inside a savepoint. (End of
-- transaction: at the end of this file and in itest/tests/attacks.rs.)
SET ROLE a50_app;
SAVEPOINT s;
SELECT sharing.act_as(5002);
SELECT * FROM pg_temp.whoami();
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.whoami();
SAVEPOINT s;
SELECT sharing.act_as(5003), 1 / 0;
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.whoami();
SAVEPOINT s;
DO $$ BEGIN PERFORM sharing.act_as(5002); PERFORM 1 / 0; EXCEPTION WHEN division_by_zero THEN NULL; END $$;
SELECT * FROM pg_temp.whoami();
ROLLBACK TO SAVEPOINT s;

-- 7. Cached plans. A prepared statement executed six times as Ann (so that
-- the generic plan is in use), then as Ben in the same session: Ben's
-- rows. The same with a parameter, with plan_cache_mode forcing the
-- generic plan, in a PL/pgSQL function's cached plan, and across SET ROLE.
SAVEPOINT plans;
PREPARE a50_ids AS SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') AS ids FROM a50;
PREPARE a50_one (bigint) AS SELECT count(*) AS n FROM a50 WHERE id = $1;
SELECT sharing.act_as(5002);
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_one(1);
EXECUTE a50_one(1);
EXECUTE a50_one(1);
EXECUTE a50_one(1);
EXECUTE a50_one(1);
EXECUTE a50_one(1);
SELECT generic_plans > 0 AS generic_plan_used FROM pg_prepared_statements WHERE name = 'a50_ids';
SELECT sharing.act_as(5003);
EXECUTE a50_ids;
EXECUTE a50_one(1);
EXECUTE a50_one(3);
SELECT sharing.act_as(5001);
EXECUTE a50_ids;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT sharing.act_as(5004);
EXECUTE a50_ids;
EXECUTE a50_one(4);
EXECUTE a50_one(1);
CREATE FUNCTION pg_temp.count_a50() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM public.a50); END $$;
SELECT sharing.act_as(5001);
SELECT pg_temp.count_a50(), pg_temp.count_a50(), pg_temp.count_a50(), pg_temp.count_a50(), pg_temp.count_a50(), pg_temp.count_a50();
SELECT sharing.act_as(5004);
SELECT pg_temp.count_a50() AS eve_counts;
-- ... the app's session after its acting ended: nobody, nothing
ROLLBACK TO SAVEPOINT plans;
EXECUTE a50_ids;
RESET ROLE;
DEALLOCATE a50_ids;
DEALLOCATE a50_one;
PREPARE a50_ids AS SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') AS ids FROM a50;
SET ROLE a50_ann;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
EXECUTE a50_ids;
SET ROLE a50_ben;
EXECUTE a50_ids;
SET ROLE a50_plain;
EXECUTE a50_ids;
RESET ROLE;
DEALLOCATE a50_ids;

-- 8. Parallel query: acting as Ann from Carol's login (mapped to Carol)
-- with every parallel plan forced; workers must not fall back to Carol.
SET ROLE a50_carol;
SAVEPOINT par;
SET LOCAL max_parallel_workers_per_gather = 4;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL force_parallel_mode = on;
SELECT * FROM pg_temp.whoami();
SELECT sharing.act_as(5002);
SELECT * FROM pg_temp.whoami();
SELECT count(*) AS ann_count, string_agg(id::text, ',' ORDER BY id) AS ann_ids FROM a50;
ROLLBACK TO SAVEPOINT par;
RESET ROLE;
ROLLBACK;

-- act_as ends with the transaction however it ends: ROLLBACK after an
-- error, ROLLBACK AND CHAIN (COMMIT and COMMIT AND CHAIN: itest).
BEGIN;
SELECT sharing.create_user('A50 Temp', NULL, id => 5099);
SELECT sharing.act_as(5099);
SELECT 1 / 0;
ROLLBACK;
SELECT sharing.current_user_id() AS after_error_rollback;
BEGIN;
SELECT sharing.create_user('A50 Temp', NULL, id => 5099);
SELECT sharing.act_as(5099);
ROLLBACK AND CHAIN;
SELECT sharing.current_user_id() AS after_rollback_and_chain;
ROLLBACK;
