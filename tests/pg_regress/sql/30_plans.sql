-- Plans: the user-dependent parts are plain calls (no InitPlans, no
-- sub-selects) whose sets are computed once per statement, and the owner
-- and key comparisons stay indexable; nothing about the user is fixed at
-- plan time, so a prepared statement executed after the identity changes
-- shows the new user's rows.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Boss (Bo) > Rep (Ann, Ben); 27 more users in a role of their own. 3000
-- records, 100 per user: record n is owned by user n % 30 + 1.
CREATE ROLE u30_bo LOGIN;
CREATE ROLE u30_ann LOGIN;
CREATE ROLE u30_app LOGIN IN ROLE sharing_app;
DO $$
BEGIN
    PERFORM sharing.create_role('Boss');
    PERFORM sharing.create_role('Rep', parent => 'Boss');
    PERFORM sharing.create_role('Elsewhere');
    PERFORM sharing.create_user('Bo', 'Boss', db_role => 'u30_bo', id => 1);
    PERFORM sharing.create_user('Ann', 'Rep', db_role => 'u30_ann', id => 2);
    PERFORM sharing.create_user('Ben', 'Rep', id => 3);
    FOR n IN 4..30 LOOP
        PERFORM sharing.create_user('User ' || n, 'Elsewhere', id => n);
    END LOOP;
END $$;
CREATE TABLE t30 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t30 TO PUBLIC;
INSERT INTO t30 SELECT n, n % 30 + 1, 'record ' || n FROM generate_series(1, 3000) n;
SELECT sharing.protect('t30');
-- Record 7 (user 8's) is shared with Ann.
SELECT sharing.share_record('t30', '7', 'user', 'Ann', 'read');
ANALYZE t30;

-- As a mapped user, with sequential scans off: the facts and sets the
-- policy needs (is the user active, may the profile read, view_all,
-- visible owners, shared records) are plain calls; the owner column and
-- the key are searched through their indexes, with the user's sets
-- evaluated once per index scan.
SET ROLE u30_ann;
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM t30;
SELECT count(*) AS ann_rows, min(id), max(id) FROM t30;
-- The same for UPDATE and DELETE.
EXPLAIN (COSTS OFF) UPDATE t30 SET note = 'x' WHERE id < 100;
EXPLAIN (COSTS OFF) DELETE FROM t30 WHERE id < 100;
RESET enable_seqscan;
RESET ROLE;

-- A statement prepared while acting as Ann, executed after the identity
-- changes, returns the new user's rows: the plan is shared (a generic plan
-- is forced), the sets are not.
SET ROLE u30_app;
SET LOCAL plan_cache_mode = force_generic_plan;
SAVEPOINT as_user;
SELECT sharing.act_as(2);
PREPARE visible(bigint) AS SELECT sharing.current_user_id() AS acting_as, count(*) AS rows, min(id), max(id) FROM t30 WHERE id <= $1;
EXECUTE visible(3000);
EXECUTE visible(100);
-- Rolling the savepoint back ends acting as Ann: the app role itself is
-- no user and sees nothing.
ROLLBACK TO SAVEPOINT as_user;
EXECUTE visible(3000);
-- Acting as Ben (a peer of Ann: his records, not hers).
SELECT sharing.act_as(3);
EXECUTE visible(3000);
-- Acting as Bo (Ann's and Ben's superior) without a rollback in between.
SELECT sharing.act_as(1);
EXECUTE visible(3000);
ROLLBACK TO SAVEPOINT as_user;
SELECT sharing.act_as(8);
EXECUTE visible(3000);
-- The generic plan keeps the sets as calls, evaluated at execution.
EXPLAIN (COSTS OFF) EXECUTE visible(3000);
ROLLBACK TO SAVEPOINT as_user;
RESET ROLE;
-- The same statement, prepared as one login role and executed after SET
-- ROLE to another mapped user.
SET ROLE u30_ann;
PREPARE visible_by_role AS SELECT sharing.current_user_id() AS acting_as, count(*) AS rows FROM t30;
EXECUTE visible_by_role;
SET ROLE u30_bo;
EXECUTE visible_by_role;
RESET ROLE;
DEALLOCATE visible;
DEALLOCATE visible_by_role;
ROLLBACK;
