-- Attacks on rows: a user trying to see, change or remove rows sharing
-- does not give them. The table owner under FORCE RLS; a leaky function,
-- operator and cast in WHERE; COPY; INSERT ... ON CONFLICT and MERGE
-- against hidden rows; RETURNING; updates that move a row out of reach or
-- change its owner; DELETE; views with and without security_invoker;
-- partitions queried directly (also after DETACH); child rows of hidden
-- parents. Each shows exactly the ids, rows or SQLSTATE the attacker gets.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Head (Hal) > Team (Ann, Ben); Out (Eve, Owen). Owen's login owns the
-- tables (a DBA account that is also a user).
-- a51: Ann owns 1, 2; Ben 3; Eve 4; Hal 5; Owen 6. Ann shares 2 with Eve
-- (read) and 1 with Ben (read_write).
-- a51_notes (child of a51): note 10*N+1 on account N.
-- a51_parts (partitioned by id): 10 Ann, 40 Eve (low); 110 Ben, 140 Eve (high).
CREATE ROLE a51_ann LOGIN;
CREATE ROLE a51_ben LOGIN;
CREATE ROLE a51_eve LOGIN;
CREATE ROLE a51_hal LOGIN;
CREATE ROLE a51_owen LOGIN;
CREATE ROLE a51_plain LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Head');
    PERFORM sharing.create_role('Team', 'Head');
    PERFORM sharing.create_role('Out');
    PERFORM sharing.create_user('Hal', 'Head', db_role => 'a51_hal', id => 5101);
    PERFORM sharing.create_user('Ann', 'Team', db_role => 'a51_ann', id => 5102);
    PERFORM sharing.create_user('Ben', 'Team', db_role => 'a51_ben', id => 5103);
    PERFORM sharing.create_user('Eve', 'Out', db_role => 'a51_eve', id => 5104);
    PERFORM sharing.create_user('Owen', 'Out', db_role => 'a51_owen', id => 5106);
END $$;
CREATE TABLE a51 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE INDEX ON a51 (owner_id);
CREATE TABLE a51_notes (id bigint PRIMARY KEY, account_id bigint NOT NULL, note text);
CREATE TABLE a51_parts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text) PARTITION BY RANGE (id);
CREATE TABLE a51_parts_low PARTITION OF a51_parts FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE a51_parts_high PARTITION OF a51_parts FOR VALUES FROM (100) TO (1000);
GRANT SELECT, INSERT, UPDATE, DELETE ON a51, a51_notes, a51_parts, a51_parts_low, a51_parts_high TO PUBLIC;
INSERT INTO a51 VALUES (1, 5102, 'ann 1'), (2, 5102, 'ann 2'), (3, 5103, 'ben 3'), (4, 5104, 'eve 4'),
                       (5, 5101, 'hal 5'), (6, 5106, 'owen 6');
INSERT INTO a51_notes VALUES (11, 1, 'on ann 1'), (21, 2, 'on ann 2'), (31, 3, 'on ben 3'), (41, 4, 'on eve 4'),
                             (51, 5, 'on hal 5');
INSERT INTO a51_parts VALUES (10, 5102, 'ann'), (40, 5104, 'eve'), (110, 5103, 'ben'), (140, 5104, 'eve');
ALTER TABLE a51 OWNER TO a51_owen;
ALTER TABLE a51_notes OWNER TO a51_owen;
ALTER TABLE a51_parts OWNER TO a51_owen;
ALTER TABLE a51_parts_low OWNER TO a51_owen;
ALTER TABLE a51_parts_high OWNER TO a51_owen;
SELECT sharing.protect('a51');
SELECT sharing.protect_child('a51_notes', 'account_id', 'a51');
SELECT sharing.protect('a51_parts');
SET ROLE a51_ann;
SELECT sharing.share_record('a51', '2', 'user', 'Eve', 'read');
SELECT sharing.share_record('a51', '1', 'user', 'Ben', 'read_write');
RESET ROLE;
SET ROLE a51_eve;
SELECT pg_temp.reach('a51') AS eve_baseline;
RESET ROLE;

-- 1. The table owner, under FORCE ROW LEVEL SECURITY, is filtered like
-- anyone: Owen reaches his own row 6, and no other, in each table.
SET ROLE a51_owen;
SELECT pg_temp.reach('a51') AS owner_owen;
SELECT coalesce(string_agg(id::text, ','), '-') AS owen_notes FROM a51_notes;
SELECT coalesce(string_agg(id::text, ','), '-') AS owen_parts FROM a51_parts;
RESET ROLE;

-- 2. A leaky function in WHERE sees only the rows the policy lets
-- through (it is not LEAKPROOF, so the policy's quals run first): in
-- SELECT, UPDATE, DELETE, a join, a sub-select, ORDER BY, GROUP BY, a
-- CTE, and a leaky operator. Only 2 and 4 may appear.
CREATE FUNCTION pg_temp.leak(id bigint, note text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN RAISE NOTICE 'saw % %', id, note; RETURN true; END $$;
CREATE FUNCTION pg_temp.leak_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN RAISE NOTICE 'operator saw %', $1; RETURN $1 = $2; END $$;
CREATE OPERATOR pg_temp.=== (leftarg = bigint, rightarg = bigint, function = pg_temp.leak_eq);
SET ROLE a51_eve;
SELECT id FROM a51 WHERE pg_temp.leak(id, note) ORDER BY id;
SELECT id FROM a51 WHERE pg_temp.leak(id, note) AND id = 3;
SELECT pg_temp.rows($$UPDATE a51 SET note = note WHERE pg_temp.leak(id, note)$$) AS updated;
SELECT pg_temp.rows($$DELETE FROM a51 WHERE pg_temp.leak(id, note) AND false$$) AS deleted;
SELECT a.id FROM a51 a JOIN a51 b ON pg_temp.leak(a.id, b.note) AND a.id = b.id ORDER BY 1;
SELECT (SELECT note FROM a51 WHERE id = 3) AS ben_3_by_subselect,
       EXISTS (SELECT 1 FROM a51 WHERE pg_temp.leak(id, note) AND id = 5) AS hal_5_exists;
SELECT id FROM a51 ORDER BY pg_temp.leak(id, note), id;
SELECT pg_temp.leak(owner_id, 'group') FROM a51 GROUP BY owner_id ORDER BY owner_id;
WITH c AS MATERIALIZED (SELECT * FROM a51) SELECT id FROM c WHERE pg_temp.leak(id, note) ORDER BY id;
SELECT id FROM a51 WHERE id OPERATOR(pg_temp.===) 3;
SELECT id FROM a51 WHERE id OPERATOR(pg_temp.===) 4;
-- A cast that fails and a division by zero run after the policy too:
-- the error quotes a row Eve can see (2, not the hidden 1 before it),
-- and the hidden row 3 never divides.
SELECT pg_temp.try($$SELECT id FROM a51 WHERE note::integer > 0$$) AS cast_error;
SELECT id FROM a51 WHERE 1 / (id - 3) <> 0 ORDER BY id;
RESET ROLE;

-- 3. COPY: COPY tbl TO and COPY (query) TO show the visible rows only.
-- COPY of a partitioned table shows nothing at all: with row level
-- security PostgreSQL copies ONLY the parent, which holds no rows (a
-- superuser gets "cannot copy from partitioned table"); COPY (SELECT ...)
-- shows the visible rows of every partition. COPY FROM into a protected
-- table is refused (0A000); COPY to a server file needs
-- pg_write_server_files (42501).
SET ROLE a51_eve;
COPY a51 TO STDOUT;
COPY (SELECT id, note FROM a51 ORDER BY id) TO STDOUT;
COPY a51_notes (id, account_id) TO STDOUT;
COPY a51_parts TO STDOUT;
COPY (SELECT * FROM a51_parts ORDER BY id) TO STDOUT;
COPY a51_parts_high TO STDOUT;
SAVEPOINT copy_in;
COPY a51 FROM STDIN;
\.
ROLLBACK TO SAVEPOINT copy_in;
SELECT pg_temp.try($$COPY a51 TO '/tmp/a51.out'$$);
RESET ROLE;

-- 4. INSERT ... ON CONFLICT DO UPDATE against a row Eve cannot edit: an
-- RLS error (42501) whatever the WHERE says, so the WHERE is no oracle on
-- the hidden row's contents, and no leaky function in it runs; the row is
-- unchanged. Against her own row it updates, RETURNING her row.
SET ROLE a51_eve;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (3, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned'$$) AS hidden_3;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (3, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned' WHERE a51.note = 'ben 3'$$) AS where_true;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (3, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned' WHERE a51.note = 'nope'$$) AS where_false;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (3, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned' WHERE pg_temp.leak(a51.id, a51.note) AND false$$) AS leaky_where;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (2, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned'$$) AS read_only_2;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (9, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = excluded.note || ' ' || a51.note$$) AS fresh_9;
INSERT INTO a51 VALUES (4, 5104, 'x') ON CONFLICT (id) DO UPDATE SET note = 'eve again' RETURNING *;
-- MERGE: a hidden row is never MATCHED (nor seen by a leaky condition);
-- a row she may only read is matched, and updating it is 42501.
MERGE INTO a51 t USING (VALUES (3::bigint)) v (id) ON t.id = v.id
    WHEN MATCHED AND pg_temp.leak(t.id, t.note) THEN UPDATE SET note = 'pwned';
SELECT pg_temp.try($$MERGE INTO a51 t USING (VALUES (2::bigint)) v (id) ON t.id = v.id WHEN MATCHED THEN UPDATE SET note = 'pwned'$$) AS merge_read_only_2;
SELECT pg_temp.try($$MERGE INTO a51 t USING (VALUES (3::bigint)) v (id) ON t.id = v.id WHEN MATCHED THEN DELETE$$) AS merge_delete_hidden_3;
RESET ROLE;
SELECT id, owner_id, note FROM a51 ORDER BY id;

-- 5. RETURNING shows only rows the statement reached; INSERT of a row
-- owned by someone she cannot write for is 42501 (and so cannot be used
-- to plant rows on others).
SET ROLE a51_eve;
UPDATE a51 SET note = note RETURNING id, note;
DELETE FROM a51 WHERE id IN (1, 2, 3, 5, 6) RETURNING id;
SELECT pg_temp.try($$INSERT INTO a51 VALUES (7, 5102, 'planted on Ann') RETURNING *$$) AS plant_on_ann;
INSERT INTO a51 VALUES (8, 5104, 'eve 8') RETURNING *;
RESET ROLE;

-- 6. Moving a row out of reach. Eve handing her row 4 to Ann: 42501 (the
-- new row must still be hers to edit). Ben, with read_write on Ann's row
-- 1, changing its owner to himself or its key: 42501 (needs full
-- access). Ben editing a column of row 1: allowed. Hal (Ann's superior)
-- moving Ann's row 1 to Ben: allowed; Eve's read share on 2 stays with
-- the row.
SET ROLE a51_eve;
SELECT pg_temp.try($$UPDATE a51 SET owner_id = 5102 WHERE id = 4$$) AS give_away;
SELECT pg_temp.rows($$UPDATE a51 SET owner_id = 5104 WHERE id = 2$$) AS take_read_only_2;
SELECT pg_temp.rows($$UPDATE a51 SET owner_id = 5104 WHERE id = 3$$) AS take_hidden_3;
SET ROLE a51_ben;
SELECT pg_temp.try($$UPDATE a51 SET owner_id = 5103 WHERE id = 1$$) AS ben_takes_1;
SELECT pg_temp.try($$UPDATE a51 SET id = 100 WHERE id = 1$$) AS ben_rekeys_1;
SELECT pg_temp.rows($$UPDATE a51 SET note = 'ben edited' WHERE id = 1$$) AS ben_edits_1;
SET ROLE a51_hal;
SELECT pg_temp.rows($$UPDATE a51 SET owner_id = 5103 WHERE id = 1$$) AS hal_moves_1;
SET ROLE a51_ann;
SELECT pg_temp.reach('a51') AS ann_after_move;
RESET ROLE;

-- 7. DELETE of hidden rows deletes nothing: by key, all, by a join.
SET ROLE a51_eve;
SELECT pg_temp.rows($$DELETE FROM a51 WHERE id = 3$$) AS hidden_3;
SELECT pg_temp.rows($$DELETE FROM a51 WHERE id = 2$$) AS read_only_2;
SELECT pg_temp.rows($$DELETE FROM a51 WHERE owner_id <> 5104$$) AS not_mine;
SELECT pg_temp.rows($$DELETE FROM a51_parts WHERE id = 110$$) AS hidden_part_110;
RESET ROLE;
SELECT count(*) AS rows_left FROM a51;

-- 8. Views. Without security_invoker a view runs with its owner's
-- privileges: owned by a superuser (who bypasses row level security) it
-- shows Eve every row — sharing.check() reports it. Owned by the table
-- owner (FORCE RLS) the policies still apply, to the session's user.
-- With security_invoker it is filtered like the table, and check() is
-- quiet about it. A security_barrier view adds nothing to leak through.
CREATE VIEW a51_by_superuser AS SELECT id, note FROM a51;
CREATE VIEW a51_by_owner AS SELECT id, note FROM a51;
ALTER VIEW a51_by_owner OWNER TO a51_owen;
CREATE VIEW a51_invoker WITH (security_invoker = true) AS SELECT id, note FROM a51;
CREATE VIEW a51_barrier WITH (security_barrier = true, security_invoker = true) AS SELECT id, note FROM a51;
GRANT SELECT ON a51_by_superuser, a51_by_owner, a51_invoker, a51_barrier TO PUBLIC;
SET ROLE a51_eve;
SELECT string_agg(id::text, ',' ORDER BY id) AS by_superuser FROM a51_by_superuser;
SELECT string_agg(id::text, ',' ORDER BY id) AS by_owner FROM a51_by_owner;
SELECT string_agg(id::text, ',' ORDER BY id) AS invoker FROM a51_invoker;
SELECT id FROM a51_barrier WHERE pg_temp.leak(id, note) ORDER BY id;
RESET ROLE;
SELECT severity, object, message FROM sharing.check() WHERE object LIKE '%a51%' ORDER BY 1, 2, 3;

-- 9. Partitions queried directly are protected too; so is one created
-- after the table was protected; a partition detached keeps its row
-- level security and policies (a detached table is nobody's to read).
SET ROLE a51_eve;
SELECT pg_temp.reach('a51_parts_low') AS low, pg_temp.reach('a51_parts_high') AS high;
RESET ROLE;
CREATE TABLE a51_parts_new PARTITION OF a51_parts FOR VALUES FROM (1000) TO (2000);
INSERT INTO a51_parts VALUES (1010, 5102, 'ann new'), (1040, 5104, 'eve new');
GRANT SELECT ON a51_parts_new TO PUBLIC;
ALTER TABLE a51_parts DETACH PARTITION a51_parts_high;
SELECT relname, relrowsecurity, relforcerowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE relname IN ('a51_parts_new', 'a51_parts_high') ORDER BY 1;
SET ROLE a51_eve;
SELECT coalesce(string_agg(id::text, ','), '-') AS new_partition FROM a51_parts_new;
SELECT coalesce(string_agg(id::text, ','), '-') AS detached FROM a51_parts_high;
SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') AS whole FROM a51_parts;
RESET ROLE;

-- 10. Child rows of hidden parents: notes show with their parent only;
-- a note cannot be put on a hidden parent or one she may only read
-- (42501), nor moved there; notes of hidden parents are not deleted.
SET ROLE a51_eve;
SELECT pg_temp.reach('a51_notes') AS eve_notes;
SELECT pg_temp.try($$INSERT INTO a51_notes VALUES (32, 3, 'on hidden 3')$$) AS note_on_hidden;
SELECT pg_temp.try($$INSERT INTO a51_notes VALUES (22, 2, 'on read-only 2')$$) AS note_on_read_only;
SELECT pg_temp.try($$UPDATE a51_notes SET account_id = 3 WHERE id = 41$$) AS move_to_hidden;
SELECT pg_temp.rows($$DELETE FROM a51_notes WHERE account_id = 3$$) AS delete_hidden_notes;
SELECT pg_temp.try($$INSERT INTO a51_notes VALUES (42, 4, 'on own 4') ON CONFLICT (id) DO NOTHING$$) AS note_on_own;
SELECT pg_temp.try($$INSERT INTO a51_notes VALUES (31, 4, 'steal 31') ON CONFLICT (id) DO UPDATE SET account_id = 4$$) AS steal_note_31;
RESET ROLE;
SELECT id, account_id, note FROM a51_notes ORDER BY id;

-- 11. The sharing functions are no existence oracle: for the hidden
-- record 3 and the missing record 999 Eve gets the same answers.
SET ROLE a51_eve;
SELECT r AS record, pg_temp.try(format('SELECT sharing.share_record(''a51'', %L, ''user'', ''Eve'', ''read'')', r)) AS share,
       pg_temp.try(format('SELECT sharing.unshare_record(''a51'', %L, ''user'', ''Ann'')', r)) AS unshare,
       sharing.access_level(5104, 'a51', r) AS level, sharing.can_read(5104, 'a51', r) AS can_read,
       (SELECT count(*) FROM sharing.explain_access(5104, 'a51', r)) AS paths
  FROM (VALUES ('3'), ('999')) v (r);
RESET ROLE;
ROLLBACK;
