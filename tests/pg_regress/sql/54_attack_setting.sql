-- Attacks on the setting that carries the acting user, sharing.identity
-- (docs/security.md): what act_as sets, and what parallel workers inherit.
-- Nobody but pg_sharing's own code may give it a value: not a client role
-- with SET, SET LOCAL, RESET, set_config, a function's SET clause or ALTER
-- ROLE … SET; not a superuser either (the check hook refuses every value
-- pg_sharing did not set); not a value set as a placeholder before the
-- library was loaded in the session; and RESET ALL does not end an act_as.
-- Unlike the other tests this one commits its organisation: it needs fresh
-- sessions (\c) in which pg_sharing is not loaded yet. It cleans up at the
-- end.
\set SHOW_CONTEXT never

-- Boss (5401) > Eve (5402, login s54_eve). Boss owns 1, 2; Eve owns 3.
CREATE ROLE s54_eve LOGIN;
CREATE ROLE s54_plain LOGIN;
CREATE ROLE s54_app LOGIN IN ROLE sharing_app;
SELECT sharing.create_role('s54 Head') > 0 AS role;
SELECT sharing.create_role('s54 Team', 's54 Head') > 0 AS role;
SELECT sharing.create_user('Boss', 's54 Head', id => 5401);
SELECT sharing.create_user('Eve', 's54 Team', db_role => 's54_eve', id => 5402);
CREATE SCHEMA s54;
GRANT USAGE ON SCHEMA s54 TO PUBLIC;
CREATE TABLE s54.t (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT ON s54.t TO PUBLIC;
INSERT INTO s54.t VALUES (1, 5401, 'boss'), (2, 5401, 'boss'), (3, 5402, 'eve');
SELECT sharing.protect('s54.t');
-- Who the session is taken for, and the ids it sees.
CREATE VIEW s54.whoami WITH (security_invoker = true) AS
    SELECT current_user AS role, sharing.current_user_id() AS user_id,
           coalesce((SELECT string_agg(id::text, ',' ORDER BY id) FROM s54.t), '-') AS sees;
GRANT SELECT ON s54.whoami TO PUBLIC;

-- 1. A placeholder set before pg_sharing is loaded: a fresh session, a
-- client role, nothing of pg_sharing called yet. PostgreSQL keeps the
-- value as a placeholder until the library defines the setting, then
-- applies it with the rights of the role that set it: refused.
\c - s54_plain
SELECT count(*) AS pg_sharing_loaded FROM pg_catalog.pg_settings WHERE name = 'sharing.identity';
SET sharing.identity = 'u:5401';
SELECT * FROM s54.whoami;
\c - s54_eve
SET sharing.identity = 'u:5401';
SELECT * FROM s54.whoami;

-- The same placeholder set by a superuser before the library is loaded,
-- then SET ROLE to a client role: the check hook refuses the value when
-- the library defines the setting.
\c - postgres
-- pg_temp.try: tests/pg_regress/helpers.sql (this session's; \c ends it)
\set ECHO none
\i helpers.sql
\set ECHO all
SET sharing.identity = 'u:5401';
SET ROLE s54_plain;
SELECT * FROM s54.whoami;
RESET ROLE;

-- 2. Once loaded: a client role can neither set, reset nor read it.
SET ROLE s54_eve;
SELECT pg_temp.try($$SET sharing.identity = 'u:5401'$$) AS "SET";
BEGIN;
SELECT pg_temp.try($$SET LOCAL sharing.identity = 'u:5401'$$) AS "SET LOCAL";
ROLLBACK;
SELECT pg_temp.try($$RESET sharing.identity$$) AS "RESET";
SELECT pg_temp.try($$SELECT set_config('sharing.identity', 'u:5401', false)$$) AS set_config;
SELECT pg_temp.try($$SELECT set_config('sharing.identity', 'u:5401', true)$$) AS "set_config local";
SELECT pg_temp.try($$SHOW sharing.identity$$) AS "SHOW";
SELECT pg_temp.try($$SELECT current_setting('sharing.identity')$$) AS current_setting;
SELECT count(*) AS listed FROM pg_catalog.pg_settings WHERE name = 'sharing.identity';
SELECT pg_temp.try($$ALTER ROLE s54_eve SET sharing.identity = 'u:5401'$$) AS "ALTER ROLE SET";
SELECT pg_temp.try($$CREATE FUNCTION pg_temp.boss() RETURNS bigint LANGUAGE sql
                   SET sharing.identity = 'u:5401' AS 'SELECT sharing.current_user_id()'$$) AS "function SET";
SELECT * FROM s54.whoami;
RESET ROLE;

-- 3. Not even a superuser can name a user with it: every value but the
-- empty one ("not acting") is refused, whichever way it is set.
SELECT pg_temp.try($$SET sharing.identity = 'u:5401'$$) AS "SET";
SELECT pg_temp.try($$SET sharing.identity = '-'$$) AS "SET nobody";
SELECT pg_temp.try($$SELECT set_config('sharing.identity', 'u:5401', true)$$) AS set_config;
SELECT pg_temp.try($$ALTER ROLE s54_plain SET sharing.identity = 'u:5401'$$) AS "ALTER ROLE SET";
SELECT pg_temp.try($$ALTER DATABASE pg_sharing_regress SET sharing.identity = 'u:5401'$$) AS "ALTER DATABASE SET";
SELECT pg_temp.try($$CREATE FUNCTION s54.boss() RETURNS bigint LANGUAGE sql
                   SET sharing.identity = 'u:5401' AS 'SELECT sharing.current_user_id()'$$) AS "function SET";
SELECT setconfig FROM pg_catalog.pg_db_role_setting WHERE setrole = 's54_plain'::regrole;
ALTER SYSTEM SET sharing.identity = 'u:5401';

-- A connection option (what PGOPTIONS sends): a placeholder until the
-- library loads, then refused.
\c -reuse-previous=on "user=s54_plain options=-csharing.identity=u:5401"
SELECT * FROM s54.whoami;

-- A role setting stored before the library was loaded (in a session that
-- never loads it) is applied at login as a placeholder, and refused when
-- the library defines the setting.
\c -reuse-previous=on "user=postgres options="
ALTER ROLE s54_plain SET sharing.identity = 'u:5401';
\c - s54_plain
SELECT * FROM s54.whoami;
\c - postgres
ALTER ROLE s54_plain RESET sharing.identity;
\set ECHO none
\i helpers.sql
\set ECHO all

-- 4. act_as sets it; RESET ALL and a failed attempt to change it leave it
-- as act_as set it; the transaction's end clears it.
SET ROLE s54_app;
BEGIN;
SELECT sharing.act_as(5402);
RESET ALL;
SELECT * FROM s54.whoami;
SELECT pg_temp.try($$SET LOCAL sharing.identity = 'u:5401'$$) AS "SET LOCAL";
SELECT * FROM s54.whoami;
COMMIT;
SELECT * FROM s54.whoami;
RESET ROLE;

-- Clean up.
SELECT sharing.unprotect('s54.t');
DROP SCHEMA s54 CASCADE;
SELECT sharing.alter_user('Eve', '{"db_role": null, "active": false}');
DROP ROLE s54_eve, s54_plain, s54_app;
