-- What one user sees and may change, through one identity path; run by
-- tests/citus/run.sh on a single node and on the Citus coordinator, as a
-- login role mapped to the user (-v app=0) or as crm_app acting as the user
-- (-v app=1), with -v uid=<user id>. Every write is rolled back.
\set VERBOSITY terse
\set ON_ERROR_STOP off
\pset footer off

-- Each block is one transaction; the application path acts as the user
-- in every one of them.
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
SELECT sharing.current_user_id() AS "me";
-- multi-shard: the whole list, an aggregate, a group by, an ordered limit
SELECT string_agg(id::text, ',' ORDER BY id) AS visible FROM accounts;
SELECT count(*), sum(amount) FROM accounts;
SELECT billing_city, count(*), sum(amount) FROM accounts GROUP BY billing_city ORDER BY billing_city;
SELECT id, amount FROM accounts ORDER BY amount DESC, id LIMIT 5;
-- the child table, alone and joined to its parent (co-located on Citus)
SELECT count(*) AS tasks, string_agg(id::text, ',' ORDER BY id) AS task_ids FROM tasks;
SELECT a.id, count(t.id) AS tasks
  FROM accounts a JOIN tasks t ON t.account_id = a.id
 GROUP BY a.id ORDER BY a.id LIMIT 10;
SELECT id, title FROM tasks WHERE account_id = 8 ORDER BY id;
-- the reference table, alone and joined to the distributed one
SELECT string_agg(id::text, ',' ORDER BY id) AS campaigns FROM campaigns;
SELECT c.id, count(a.id) AS accounts
  FROM campaigns c JOIN accounts a ON a.owner_id = c.owner_id
 GROUP BY c.id ORDER BY c.id;
-- router (one shard)
SELECT id, name FROM accounts WHERE id = 3;
SELECT id, name FROM accounts WHERE id = 8;
SELECT id, name FROM accounts WHERE id = 10;
COMMIT;

-- writes: what an UPDATE and a DELETE reach, and an INSERT's check
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
WITH changed AS (UPDATE accounts SET amount = amount + 1 WHERE id IN (2, 3, 5, 8, 10, 12) RETURNING id)
SELECT string_agg(id::text, ',' ORDER BY id) AS updated FROM changed;
WITH gone AS (DELETE FROM accounts WHERE id IN (2, 3, 5, 8, 10, 12) RETURNING id)
SELECT string_agg(id::text, ',' ORDER BY id) AS deleted FROM gone;
ROLLBACK;
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
INSERT INTO accounts VALUES (1000 + :uid, :uid, 'Mine', 'Boston', 1) RETURNING id;
ROLLBACK;
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
INSERT INTO accounts VALUES (2000 + :uid, 1 + :uid % 5, 'Someone else''s', 'Boston', 1) RETURNING id;
ROLLBACK;

BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
WITH changed AS (UPDATE tasks SET title = title || '!' WHERE account_id IN (2, 3, 8) RETURNING id)
SELECT string_agg(id::text, ',' ORDER BY id) AS tasks_updated FROM changed;
INSERT INTO tasks VALUES (8, 900, 'New task') RETURNING id;
ROLLBACK;
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
WITH changed AS (UPDATE campaigns SET title = title || '!' RETURNING id)
SELECT string_agg(id::text, ',' ORDER BY id) AS campaigns_updated FROM changed;
WITH gone AS (DELETE FROM campaigns WHERE id < 8 RETURNING id)
SELECT string_agg(id::text, ',' ORDER BY id) AS campaigns_deleted FROM gone;
INSERT INTO campaigns VALUES (100 + :uid, :uid, 'Mine') RETURNING id;
ROLLBACK;

-- the checks, for this user, on records of several shards
SELECT id, sharing.access_level(:uid, 'accounts', id::text) AS level,
       sharing.can_read(:uid, 'accounts', id::text) AS read,
       sharing.can_edit(:uid, 'accounts', id::text) AS edit,
       sharing.can_delete(:uid, 'accounts', id::text) AS delete
  FROM generate_series(1, 12) id ORDER BY id;
SELECT id, sharing.access_level(:uid, 'tasks', id::text) AS task_level
  FROM generate_series(1, 12) id ORDER BY id;
SELECT id, sharing.access_level(:uid, 'campaigns', id::text) AS campaign_level
  FROM campaigns ORDER BY id;

-- a prepared statement executed again and again (PostgreSQL switches to a
-- generic plan after five runs)
PREPARE one(bigint) AS SELECT id FROM accounts WHERE id = $1;
PREPARE mine AS SELECT count(*) FROM accounts;
BEGIN;
\if :app
SELECT sharing.act_as(:uid) \gset
\endif
EXECUTE one(1); EXECUTE one(2); EXECUTE one(3); EXECUTE one(4); EXECUTE one(5); EXECUTE one(6); EXECUTE one(9);
EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine;
COMMIT;
