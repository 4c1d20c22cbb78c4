-- Parallel query: the policies and the checks are evaluated by parallel
-- workers too, for the right user. Each user's rows are recorded with
-- parallel query off, then read again with every plan forced parallel
-- (zero parallel costs, force_parallel_mode): the rows must be the same,
-- through both identity paths (act_as from an application login, a login
-- role mapped with db_role). Then can_read, can_edit, can_delete,
-- access_level and explain_access run inside parallel plans and must agree
-- with what the policies showed.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- CEO > VP > Rep East (Ann, Ben), Rep West (Cat); Dan elsewhere; Vic has
-- view_all. 2000 records, owned in turn by users 1..7. Records in Oslo are
-- shared with Rep West by a criteria rule; record 10 is shared with Dan.
CREATE ROLE r31_app LOGIN IN ROLE sharing_app;
CREATE ROLE r31_ann LOGIN;
CREATE ROLE r31_cat LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('CEO');
    PERFORM sharing.create_role('VP', parent => 'CEO');
    PERFORM sharing.create_role('Rep East', parent => 'VP');
    PERFORM sharing.create_role('Rep West', parent => 'VP');
    PERFORM sharing.create_role('Elsewhere');
    PERFORM sharing.create_profile('Viewer', view_all => true);
    PERFORM sharing.create_user('Cy', 'CEO', id => 3101);
    PERFORM sharing.create_user('Val', 'VP', id => 3102);
    PERFORM sharing.create_user('Ann', 'Rep East', db_role => 'r31_ann', id => 3103);
    PERFORM sharing.create_user('Ben', 'Rep East', id => 3104);
    PERFORM sharing.create_user('Cat', 'Rep West', db_role => 'r31_cat', id => 3105);
    PERFORM sharing.create_user('Dan', 'Elsewhere', id => 3106);
    PERFORM sharing.create_user('Vic', 'Elsewhere', profile => 'Viewer', id => 3107);
END $$;
CREATE TABLE t31 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t31 TO PUBLIC;
INSERT INTO t31 SELECT n, 3101 + n % 7, (ARRAY['Oslo', 'Lima', 'Pune'])[1 + n % 3], 'record ' || n
  FROM generate_series(1, 2000) n;
SELECT sharing.protect('t31');
SELECT sharing.create_criteria_rule('t31', 'Oslo to the West',
       '{"conditions": [{"column": "city", "op": "=", "value": "Oslo"}]}', 'role', 'Rep West', 'read') > 0 AS rule;
SELECT sharing.share_record('t31', '10', 'user', 'Dan', 'read_write');
ANALYZE t31;

-- What a user sees, as a count and a digest of the ids (a view that runs
-- with the querying user's rights, so the policies apply).
CREATE VIEW v31 WITH (security_invoker = true) AS
    SELECT sharing.current_user_id() AS uid, count(*) AS n,
           md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) AS digest
      FROM t31;
GRANT SELECT ON v31 TO PUBLIC;
-- A plan with the ids of rules masked (rule ids differ between runs).
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        RETURN NEXT regexp_replace(line, '_rule_reaches_me\(''\d+''::bigint\)', '_rule_reaches_me(<rule>)', 'g');
    END LOOP;
END $$;

-- 1. Parallel query off: each user's rows, kept in psql variables.
SET LOCAL max_parallel_workers_per_gather = 0;
SET ROLE r31_ann;
SELECT n AS ann_role_n, digest AS ann_role_digest FROM v31 \gset
SET ROLE r31_cat;
SELECT n AS cat_role_n, digest AS cat_role_digest FROM v31 \gset
SET ROLE r31_app;
SAVEPOINT s;
SELECT sharing.act_as(3101);
SELECT n AS n3101, digest AS d3101 FROM v31 \gset
SELECT sharing.act_as(3102);
SELECT n AS n3102, digest AS d3102 FROM v31 \gset
SELECT sharing.act_as(3103);
SELECT n AS n3103, digest AS d3103 FROM v31 \gset
SELECT sharing.act_as(3104);
SELECT n AS n3104, digest AS d3104 FROM v31 \gset
SELECT sharing.act_as(3105);
SELECT n AS n3105, digest AS d3105 FROM v31 \gset
SELECT sharing.act_as(3106);
SELECT n AS n3106, digest AS d3106 FROM v31 \gset
SELECT sharing.act_as(3107);
SELECT n AS n3107, digest AS d3107 FROM v31 \gset
ROLLBACK TO SAVEPOINT s;
RESET ROLE;
-- Who sees how many (the ids are compared below).
SELECT :n3101 AS cy, :n3102 AS val, :n3103 AS ann, :n3104 AS ben, :n3105 AS cat, :n3106 AS dan, :n3107 AS vic,
       :ann_role_n AS ann_by_role, :cat_role_n AS cat_by_role;

-- 2. Every plan forced parallel. The plan of a user's query: a Gather, the
-- policy evaluated by the workers.
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL min_parallel_index_scan_size = 0;
SET LOCAL force_parallel_mode = on;
SET ROLE r31_ann;
SELECT * FROM pg_temp.plan('SELECT count(*) FROM t31');
-- Each user's rows, read in parallel, are the ones read serially.
SET ROLE r31_app;
SAVEPOINT s;
SELECT sharing.act_as(3101);
SELECT uid, n, digest = :'d3101' AS same_rows FROM v31;
SELECT sharing.act_as(3102);
SELECT uid, n, digest = :'d3102' AS same_rows FROM v31;
SELECT sharing.act_as(3103);
SELECT uid, n, digest = :'d3103' AS same_rows FROM v31;
SELECT sharing.act_as(3104);
SELECT uid, n, digest = :'d3104' AS same_rows FROM v31;
SELECT sharing.act_as(3105);
SELECT uid, n, digest = :'d3105' AS same_rows FROM v31;
SELECT sharing.act_as(3106);
SELECT uid, n, digest = :'d3106' AS same_rows FROM v31;
SELECT sharing.act_as(3107);
SELECT uid, n, digest = :'d3107' AS same_rows FROM v31;
-- A parallel aggregate (partial counts from the workers) agrees too.
SELECT count(*) = :n3107 AS vic_parallel_count_agrees FROM t31;
ROLLBACK TO SAVEPOINT s;
-- The application login itself is no user: nothing, in parallel too.
SELECT count(*) AS app_alone FROM t31;
SET ROLE r31_ann;
SELECT uid, n, digest = :'ann_role_digest' AS same_rows FROM v31;
SET ROLE r31_cat;
SELECT uid, n, digest = :'cat_role_digest' AS same_rows FROM v31;
RESET ROLE;

-- 3. The checks inside parallel plans (they failed with 25000 "cannot
-- start subtransactions during a parallel operation" before): the plan
-- has a Gather, and each user's can_read count over all records is the
-- number of rows the policies showed.
EXPLAIN (COSTS OFF) SELECT id, sharing.can_read(3101, 't31', id::text) FROM t31 WHERE city = 'Oslo' ORDER BY note LIMIT 5;
SELECT id, sharing.can_read(3105, 't31', id::text) AS cat_reads, sharing.can_edit(3105, 't31', id::text) AS cat_edits,
       sharing.can_delete(3106, 't31', id::text) AS dan_deletes, sharing.access_level(3106, 't31', id::text) AS dan_level
  FROM t31 WHERE id IN (9, 10, 11, 12) ORDER BY note LIMIT 5;
SELECT u.uid, u.n AS policy_rows,
       (SELECT count(*) FROM t31 t WHERE sharing.can_read(u.uid, 't31', t.id::text)) AS can_read_rows
  FROM (VALUES (3101, :n3101), (3102, :n3102), (3103, :n3103), (3104, :n3104), (3105, :n3105), (3106, :n3106), (3107, :n3107)) u (uid, n) ORDER BY u.uid;
-- access_level and explain_access, serially and in parallel, agree.
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL force_parallel_mode = off;
CREATE TABLE t31_levels AS
    SELECT u AS uid, t.id, sharing.access_level(u, 't31', t.id::text) AS level,
           (SELECT count(*) FROM sharing.explain_access(u, 't31', t.id::text)) AS paths
      FROM t31 t, unnest(ARRAY[3102, 3105, 3106]) u WHERE t.id <= 300;
SELECT uid, level, count(*) FROM t31_levels GROUP BY uid, level ORDER BY uid, level;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM t31_levels l WHERE l.level <> sharing.access_level(l.uid, 't31', l.id::text);
SELECT count(*) AS compared,
       count(*) FILTER (WHERE l.level <> sharing.access_level(l.uid, 't31', l.id::text)) AS level_disagreements,
       count(*) FILTER (WHERE l.paths <> (SELECT count(*) FROM sharing.explain_access(l.uid, 't31', l.id::text))) AS path_disagreements
  FROM t31_levels l;
-- The check about a NULL user, and a key that is no bigint, in parallel.
SELECT sharing.can_read(NULL, 't31', '1') AS null_user, sharing.access_level(3101, 't31', 'x1') AS not_a_key,
       sharing.access_level(3101, 't31', ' 0001 ') AS padded_key;
ROLLBACK;
