-- The README's day of administration (examples/admin_day.sql) runs as
-- written, on the demo org, and each user then sees what it says.
BEGIN;
-- New ids come from sequences, which other tests advance (and rollback does
-- not rewind): start them at fixed values so the output is stable.
SELECT setval('sharing.roles_id_seq', 4500), setval('sharing.profiles_id_seq', 4500),
       setval('sharing.groups_id_seq', 4500), setval('sharing.rules_id_seq', 4500);
\set QUIET on
\i ../../examples/demo_setup.sql
\set QUIET off
\i ../../examples/admin_day.sql
-- What each user sees at the end of the day.
SET ROLE crm_app;
SAVEPOINT s;
SELECT sharing.act_as(4);
SELECT string_agg(id::text, ',' ORDER BY id) AS will_accounts FROM accounts;
ROLLBACK TO SAVEPOINT s;
SELECT sharing.act_as(6);
SELECT string_agg(id::text, ',' ORDER BY id) AS lou_accounts FROM accounts;
SELECT string_agg(id::text, ',' ORDER BY id) AS lou_notes FROM account_notes;
-- the light agent cannot edit what she reads
WITH u AS (UPDATE accounts SET name = name RETURNING 1) SELECT count(*) AS lou_edits FROM u;
ROLLBACK TO SAVEPOINT s;
SELECT sharing.act_as(1);
SELECT string_agg(id::text, ',' ORDER BY id) AS ceo_notes FROM account_notes;
ROLLBACK TO SAVEPOINT s;
RESET ROLE;
ROLLBACK;
