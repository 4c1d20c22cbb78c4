-- What an administrator (crm_admin) is told about records of several
-- shards: who can see each, and why. Compared between the single node and
-- Citus by tests/citus/run.sh.
\set VERBOSITY terse
\pset footer off
SELECT r.id AS record, w.user_id, w.access, w.reasons
  FROM generate_series(1, 12) r (id), LATERAL sharing.who_can_access('accounts', r.id::text) w
 ORDER BY 1, 2;
SELECT u.id AS user_id, r.id AS record, e.access, e.reason, e.detail
  FROM (VALUES (3), (5)) u (id), generate_series(1, 12) r (id),
       LATERAL sharing.explain_access(u.id, 'accounts', r.id::text) e
 ORDER BY 1, 2, 3, 4, 5;
