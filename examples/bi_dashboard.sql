-- A BI dashboard on pg_sharing: plain aggregate queries, run by a person's
-- own login role. The login role is mapped to a user (create_user(…,
-- db_role => 'rep_east')), so the connection IS that user: every query
-- sees that user's rows and nothing else, with no act_as and no filter in
-- the SQL. It runs unchanged on a hot-standby replica (read-only, no
-- temporary objects).
--
--   psql -h … -U rep_east -d crm -f examples/bi_dashboard.sql
--
-- Expects the org of examples/demo_setup.sql; the last query checks the
-- totals this login must see and makes psql exit non-zero if they differ.
\set ON_ERROR_STOP on
\pset footer off

SELECT current_user AS login, sharing.current_user_id() AS user_id,
       (SELECT name FROM sharing.users WHERE id = sharing.current_user_id()) AS user_name;

\echo 'Pipeline by city'
SELECT billing_city, count(*) AS accounts, sum(amount) AS pipeline
FROM accounts
GROUP BY billing_city
ORDER BY pipeline DESC;

\echo 'Pipeline by owner'
SELECT u.name AS owner, count(*) AS accounts, sum(a.amount) AS pipeline
FROM accounts a
JOIN sharing.users u ON u.id = a.owner_id
GROUP BY u.name
ORDER BY pipeline DESC;

\echo 'Largest accounts'
SELECT id, name, billing_city, amount
FROM accounts
ORDER BY amount DESC
LIMIT 3;

-- The check: what each login of the demo org must see in total. Any other
-- login (one mapped to no user, like the application's crm_app) sees nothing.
WITH expected(login, accounts, pipeline, ids) AS (VALUES
        ('ceo',           6, 191000, '101,102,201,202,301,401'),
        ('sales_manager', 5, 190000, '101,102,201,202,301'),
        ('rep_east',      3,  70000, '101,102,201'),
        ('rep_west',      2,  98000, '201,202'),
        ('support_agent', 3, 141000, '101,202,401')),
     seen AS (
        SELECT count(*) AS accounts, coalesce(sum(amount), 0) AS pipeline,
               coalesce(string_agg(id::text, ',' ORDER BY id), '') AS ids
        FROM accounts)
SELECT format('%s accounts (%s) worth %s', seen.accounts, seen.ids, seen.pipeline) AS seen,
       (seen.accounts, seen.pipeline, seen.ids)
         = (coalesce(e.accounts, 0), coalesce(e.pipeline, 0), coalesce(e.ids, '')) AS dashboard_ok
FROM seen
LEFT JOIN expected e ON e.login = current_user \gset

\if :dashboard_ok
\echo 'ok  ' :USER 'sees' :seen
\else
\warn 'MISMATCH:' :USER 'sees' :seen
DO $$ BEGIN RAISE EXCEPTION 'dashboard totals differ from what this login may see'; END $$;
\endif
