-- The demo org end to end: each user sees exactly their rows, through
-- act_as (the application path) and through their own login role.
BEGIN;
\set QUIET on
\i ../../examples/demo_setup.sql
\set QUIET off
-- the application path: act_as inside a savepoint; rolling the savepoint
-- back also undoes act_as.
SET ROLE crm_app;
SAVEPOINT as_user;
SELECT sharing.act_as(1);
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
ROLLBACK TO SAVEPOINT as_user;
SELECT sharing.act_as(2);
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
ROLLBACK TO SAVEPOINT as_user;
SELECT sharing.act_as(3);
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
ROLLBACK TO SAVEPOINT as_user;
SELECT sharing.act_as(4);
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
ROLLBACK TO SAVEPOINT as_user;
SELECT sharing.act_as(5);
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
ROLLBACK TO SAVEPOINT as_user;
-- crm_app itself is no user: it sees nothing.
SELECT sharing.current_user_id(), count(*) AS visible FROM accounts;
RESET ROLE;
-- the db_role path
SET ROLE ceo;
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
SET ROLE sales_manager;
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
SET ROLE rep_east;
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
SET ROLE rep_west;
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
SET ROLE support_agent;
SELECT sharing.current_user_id(), string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
RESET ROLE;
ROLLBACK;
