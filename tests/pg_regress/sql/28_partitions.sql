-- Partitioned tables: protecting the partitioned table (its primary key is
-- the partition key) protects every partition, so querying a partition
-- directly is filtered like querying the table; shares, the guard and
-- the checks work across partitions.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Boss (Bea) > Rep (Ann, Ben). Ann owns 1, 101, 201; Ben 2, 102; Bea 3.
CREATE ROLE u28_bea LOGIN;
CREATE ROLE u28_ann LOGIN;
CREATE ROLE u28_ben LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Boss');
    PERFORM sharing.create_role('Rep', parent => 'Boss');
    PERFORM sharing.create_user('Bea', 'Boss', db_role => 'u28_bea', id => 1);
    PERFORM sharing.create_user('Ann', 'Rep', db_role => 'u28_ann', id => 2);
    PERFORM sharing.create_user('Ben', 'Rep', db_role => 'u28_ben', id => 3);
END $$;

CREATE TABLE t28 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text) PARTITION BY RANGE (id);
CREATE TABLE t28_low PARTITION OF t28 FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE t28_mid PARTITION OF t28 FOR VALUES FROM (100) TO (200)  PARTITION BY RANGE (id);
CREATE TABLE t28_mid_a PARTITION OF t28_mid FOR VALUES FROM (100) TO (150);
CREATE TABLE t28_mid_b PARTITION OF t28_mid FOR VALUES FROM (150) TO (200);
CREATE TABLE t28_high PARTITION OF t28 DEFAULT;
GRANT SELECT, INSERT, UPDATE, DELETE ON t28, t28_low, t28_mid, t28_mid_a, t28_mid_b, t28_high TO PUBLIC;
INSERT INTO t28 VALUES (1, 2, 'a'), (2, 3, 'b'), (3, 1, 'c'), (101, 2, 'a'), (102, 3, 'b'), (160, 3, 'b'), (201, 2, 'a');
SELECT sharing.protect('t28');

-- The catalog holds the partitioned table only; every relation of the
-- tree has RLS enabled and forced and the four policies.
SELECT tbl, pk_column, pk_type FROM sharing.protected_tables;
SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname LIKE 'sharing\_%') AS policies
  FROM pg_partition_tree('t28') t JOIN pg_class c ON c.oid = t.relid ORDER BY c.relname;
-- The owner column is indexed on every partition.
SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE 't28%' AND indexdef LIKE '%owner_id%' ORDER BY tablename;

-- Through the partitioned table and through each partition directly, each
-- user reaches what sharing grants, nothing more.
SET ROLE u28_ann;
SELECT pg_temp.reach('t28') AS ann_t28, pg_temp.reach('t28_low') AS ann_low;
SELECT pg_temp.reach('t28_mid') AS ann_mid, pg_temp.reach('t28_mid_b') AS ann_mid_b, pg_temp.reach('t28_high') AS ann_high;
SET ROLE u28_ben;
SELECT pg_temp.reach('t28') AS ben_t28, pg_temp.reach('t28_low') AS ben_low;
SELECT pg_temp.reach('t28_mid') AS ben_mid, pg_temp.reach('t28_mid_b') AS ben_mid_b, pg_temp.reach('t28_high') AS ben_high;
SET ROLE u28_bea;
SELECT pg_temp.reach('t28') AS bea_t28, pg_temp.reach('t28_mid_a') AS bea_mid_a;
-- Inserting straight into a partition is checked as well.
SET ROLE u28_ann;
SELECT pg_temp.rows($$INSERT INTO t28_low VALUES (4, 2, 'own')$$) AS ann_own_into_partition;
SELECT pg_temp.rows($$INSERT INTO t28_low VALUES (5, 3, 'for Ben')$$) AS ann_for_ben_into_partition;
RESET ROLE;

-- A partition created or attached after protect is protected at the end
-- of the command that made it (an event trigger): querying it directly is
-- filtered too. (The default partition is detached and attached again on
-- the way: it keeps its policies, and gets no second set.)
ALTER TABLE t28 DETACH PARTITION t28_high;
CREATE TABLE t28_created PARTITION OF t28 FOR VALUES FROM (300) TO (400);
CREATE TABLE t28_attached (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
INSERT INTO t28_attached VALUES (401, 2, 'a'), (402, 3, 'b');
ALTER TABLE t28 ATTACH PARTITION t28_attached FOR VALUES FROM (400) TO (500);
ALTER TABLE t28 ATTACH PARTITION t28_high DEFAULT;
INSERT INTO t28 VALUES (301, 2, 'a'), (302, 3, 'b');
GRANT SELECT, INSERT, UPDATE, DELETE ON t28_created, t28_attached TO PUBLIC;
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname LIKE 'sharing\_%') AS policies,
       (SELECT string_agg(g.tgname, ', ' ORDER BY g.tgname) FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) AS triggers
  FROM pg_partition_tree('t28') t JOIN pg_class c ON c.oid = t.relid ORDER BY c.relname;
SET ROLE u28_ann;
SELECT pg_temp.reach('t28_created') AS ann_created, pg_temp.reach('t28_attached') AS ann_attached;
RESET ROLE;
-- A partition cannot be protected on its own (42P16).
SELECT pg_temp.try($$SELECT sharing.protect('t28_low')$$);

-- Rules and default access reach the partitions: set_default_access
-- regenerates the policies of every partition.
SELECT sharing.set_default_access('t28', 'public_read');
SET ROLE u28_ann;
SELECT pg_temp.reach('t28_mid_b') AS ann_mid_b;
RESET ROLE;
SELECT sharing.set_default_access('t28', 'private');
SAVEPOINT rule;
SELECT sharing.create_criteria_rule('t28', 'b to reps', '{"conditions": [{"column": "note", "op": "=", "value": "b"}]}',
                                    'role', 'Rep', 'read') IS NOT NULL AS created;
SET ROLE u28_ann;
SELECT pg_temp.reach('t28') AS ann_t28, pg_temp.reach('t28_mid_b') AS ann_mid_b;
RESET ROLE;
ROLLBACK TO SAVEPOINT rule;

-- Shares are filed under the partitioned table and grant in every
-- partition; the checks take the partitioned table, or a row read from a
-- partition.
SELECT sharing.share_record('t28', '160', 'user', 'Ann', 'read');
SELECT sharing.share_record('t28', '2', 'user', 'Ann', 'read');
SELECT sharing.share_record('t28', '102', 'user', 'Ann', 'read_write');
SELECT tbl, record_id FROM sharing.shares ORDER BY record_id;
SET ROLE u28_ann;
SELECT pg_temp.reach('t28_mid_b') AS ann_mid_b, pg_temp.reach('t28_low') AS ann_low;
RESET ROLE;
SELECT sharing.access_level(2, 't28', '160') AS level_160, sharing.can_edit(2, 't28', '160') AS edit_160,
       sharing.can_read(2, 't28', '202') AS read_missing;
SELECT id, sharing.can_read(2, p) AS ann_reads, sharing.can_delete(2, p) AS ann_deletes FROM t28_mid_b p ORDER BY id;
-- The guard works on partitions: Ann (read_write on record 102) edits it
-- but may not take it, updating the partition directly (42501); WITH
-- CHECK keeps her own record 101 from moving to Ben through the
-- partition either.
SET ROLE u28_ann;
SELECT pg_temp.rows($$UPDATE t28_mid_a SET note = 'edited' WHERE id = 102$$) AS edit_102;
SELECT pg_temp.rows($$UPDATE t28_mid_a SET owner_id = 2 WHERE id = 102$$) AS take_102;
SELECT pg_temp.rows($$UPDATE t28_mid_a SET owner_id = 3 WHERE id = 101$$) AS give_101;
RESET ROLE;
-- Deleting a record, through the partition or the partitioned table,
-- removes its shares.
SET ROLE u28_ben;
DELETE FROM t28_mid_b WHERE id = 160;
DELETE FROM t28 WHERE id = 2;
RESET ROLE;
SELECT tbl, record_id FROM sharing.shares ORDER BY record_id;
-- A key change that moves a row to another partition removes its shares too.
SELECT sharing.share_record('t28', '101', 'user', 'Ben', 'read');
SET ROLE u28_ann;
UPDATE t28 SET id = 250 WHERE id = 101;
RESET ROLE;
SELECT tbl, record_id FROM sharing.shares ORDER BY record_id;
-- Truncating one partition removes the shares of its records only.
SELECT sharing.share_record('t28', '1', 'user', 'Ben', 'read');
TRUNCATE t28_mid_a;
SELECT tbl, record_id FROM sharing.shares ORDER BY record_id;

-- unprotect takes RLS, policies and triggers off every partition.
SELECT sharing.unprotect('t28');
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) AS triggers
  FROM pg_partition_tree('t28') t JOIN pg_class c ON c.oid = t.relid ORDER BY c.relname;
ROLLBACK;
