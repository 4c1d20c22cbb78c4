-- What row level security, and so pg_sharing, cannot hide: that a hidden
-- row exists. These tests PIN PostgreSQL's current behaviour so that a
-- change is noticed; docs/security.md ("What is not promised") describes
-- each. Contents of hidden rows never show: error details are suppressed.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- A statement's outcome with the error's DETAIL, if any.
CREATE FUNCTION pg_temp.try_detail(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN EXECUTE cmd; RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || ' | detail: ' || coalesce(nullif(d, ''), '(none)');
END $$;

-- Ann owns 1 (code A-1), Eve 2 (E-2), Ben 3 (B-3); a53 is private, so
-- Eve sees only 2. a53_refs (not protected) and a53_orders (protected,
-- each order its own owner) reference a53; Ben's order 30 is on Eve's 2.
CREATE ROLE a53_eve LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Staff');
    PERFORM sharing.create_user('Ann', 'Staff', id => 5302);
    PERFORM sharing.create_user('Ben', 'Staff', id => 5303);
    PERFORM sharing.create_user('Eve', 'Staff', db_role => 'a53_eve', id => 5304);
END $$;
CREATE TABLE a53 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, code text UNIQUE, note text);
CREATE TABLE a53_refs (id bigint PRIMARY KEY, account_id bigint REFERENCES a53);
CREATE TABLE a53_orders (id bigint PRIMARY KEY, owner_id bigint NOT NULL, account_id bigint REFERENCES a53);
GRANT SELECT, INSERT, UPDATE, DELETE ON a53, a53_refs, a53_orders TO PUBLIC;
INSERT INTO a53 VALUES (1, 5302, 'A-1', 'secret of Ann'), (2, 5304, 'E-2', 'Eve''s'), (3, 5303, 'B-3', 'secret of Ben');
INSERT INTO a53_orders VALUES (30, 5303, 2);
SELECT sharing.protect('a53');
SELECT sharing.protect('a53_orders');
SET ROLE a53_eve;
SELECT id, code, note FROM a53 ORDER BY id;
RESET ROLE;

-- 1. Unique constraints: inserting the key (or another unique value) of a
-- hidden row fails with 23505, so the key exists; the DETAIL that would
-- quote the existing key is suppressed on a table with row level
-- security. A free key inserts.
SET ROLE a53_eve;
SELECT pg_temp.try_detail($$INSERT INTO a53 VALUES (3, 5304, 'mine', 'probe')$$) AS hidden_key_3;
SELECT pg_temp.try_detail($$INSERT INTO a53 VALUES (9, 5304, 'B-3', 'probe')$$) AS hidden_code_b3;
SELECT pg_temp.try_detail($$INSERT INTO a53 VALUES (8, 5304, 'free', 'probe')$$) AS free_key_8;
-- ... also through ON CONFLICT DO NOTHING (0 rows: the key is taken) and
-- MERGE (a hidden row is not MATCHED; its INSERT hits the key).
SELECT pg_temp.rows($$INSERT INTO a53 VALUES (1, 5304, 'x1', 'probe') ON CONFLICT DO NOTHING$$) AS do_nothing_hidden_1;
SELECT pg_temp.rows($$INSERT INTO a53 VALUES (7, 5304, 'x7', 'probe') ON CONFLICT DO NOTHING$$) AS do_nothing_free_7;
SELECT pg_temp.try_detail($$MERGE INTO a53 t USING (VALUES (1::bigint)) v (id) ON t.id = v.id
    WHEN MATCHED THEN UPDATE SET note = 'x' WHEN NOT MATCHED THEN INSERT VALUES (v.id, 5304, 'm1', 'probe')$$) AS merge_hidden_1;
RESET ROLE;

-- 2. Foreign keys. A table without protection referencing a53: a hidden
-- parent is accepted (FK checks bypass row level security), a missing one
-- is 23503 (its DETAIL, naming only Eve's own value, shows). A protected
-- table with owners of its own probes the same way: Eve's order on the
-- hidden account 3 is accepted. Deleting Eve's visible row that a hidden
-- order references fails (23503), revealing that the order exists; the
-- DETAIL names no key.
SET ROLE a53_eve;
SELECT pg_temp.try_detail($$INSERT INTO a53_refs VALUES (1, 3)$$) AS ref_to_hidden_3;
SELECT pg_temp.try_detail($$INSERT INTO a53_refs VALUES (2, 999)$$) AS ref_to_missing_999;
SELECT pg_temp.try_detail($$INSERT INTO a53_orders VALUES (31, 5304, 3)$$) AS order_on_hidden_3;
SELECT pg_temp.try_detail($$DELETE FROM a53 WHERE id = 2$$) AS delete_referenced_2;
RESET ROLE;
SELECT id FROM a53_refs ORDER BY id;
-- A protected child table (protect_child) is no probe either: a note on a
-- hidden parent and one on a missing parent are the same 42501.
CREATE TABLE a53_notes (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES a53);
GRANT SELECT, INSERT ON a53_notes TO PUBLIC;
SELECT sharing.protect_child('a53_notes', 'account_id', 'a53');
SET ROLE a53_eve;
SELECT pg_temp.try_detail($$INSERT INTO a53_notes VALUES (1, 3)$$) AS note_on_hidden_3;
SELECT pg_temp.try_detail($$INSERT INTO a53_notes VALUES (2, 999)$$) AS note_on_missing_999;
RESET ROLE;

-- Referential actions run below row level security: Eve deleting her own
-- account 60 also deletes Ben's line 61 on it (ON DELETE CASCADE), a row
-- she could neither see nor delete.
CREATE TABLE a53_lines (id bigint PRIMARY KEY, owner_id bigint NOT NULL,
                        account_id bigint REFERENCES a53 ON DELETE CASCADE);
GRANT SELECT, INSERT, UPDATE, DELETE ON a53_lines TO PUBLIC;
INSERT INTO a53 VALUES (60, 5304, 'E-60', 'Eve''s too');
INSERT INTO a53_lines VALUES (61, 5303, 60);
SELECT sharing.protect('a53_lines');
SET ROLE a53_eve;
SELECT count(*) AS lines_eve_sees FROM a53_lines;
SELECT pg_temp.rows($$DELETE FROM a53_lines WHERE id = 61$$) AS eve_deletes_line_61;
SELECT pg_temp.rows($$DELETE FROM a53 WHERE id = 60$$) AS eve_deletes_account_60;
RESET ROLE;
SELECT count(*) AS ben_lines_left FROM a53_lines;

-- 3. EXPLAIN ANALYZE shows how many rows the policy removed: Eve learns
-- the table's size (here 3 visible + 2 removed = all 5 rows).
CREATE FUNCTION pg_temp.removed_by_filter(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE line text; n bigint := 0;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        IF line ~ 'Rows Removed by Filter' THEN
            n := n + substring(line from '(\d+)\s*$')::bigint;
        END IF;
    END LOOP;
    RETURN n;
END $$;
SET ROLE a53_eve;
SELECT count(*) AS eve_sees, pg_temp.removed_by_filter('SELECT * FROM a53') AS explain_says_removed FROM a53;
RESET ROLE;
SELECT count(*) AS really_in_table FROM a53;

-- 4. Statistics: after ANALYZE, pg_class.reltuples tells anyone the row
-- count; pg_stats (value histograms, most common values) stays hidden
-- from a user that row level security filters.
ANALYZE a53;
SET ROLE a53_eve;
SELECT reltuples AS reltuples_seen_by_eve FROM pg_class WHERE oid = 'a53'::regclass;
SELECT count(*) AS pg_stats_rows_for_eve FROM pg_stats WHERE tablename = 'a53';
RESET ROLE;
SELECT count(*) > 0 AS pg_stats_rows_for_superuser FROM pg_stats WHERE tablename = 'a53';

-- 5. Physical positions: the ctid of Eve's row 2 shows that a row she
-- does not see lies before it.
SET ROLE a53_eve;
SELECT ctid, id FROM a53 WHERE id = 2;
RESET ROLE;

-- 6. A LEAKPROOF function (only a superuser can declare one) may run
-- before the policies and sees every row: never mark user functions
-- LEAKPROOF. check() warns about each one.
CREATE FUNCTION public.a53_trusted(id bigint, note text) RETURNS boolean LANGUAGE plpgsql LEAKPROOF COST 0.0001 AS $$
BEGIN RAISE NOTICE 'leakproof function saw % %', id, note; RETURN true; END $$;
SET ROLE a53_eve;
SELECT id FROM a53 WHERE public.a53_trusted(id, note) ORDER BY id;
RESET ROLE;
SELECT severity, object, message FROM sharing.check() WHERE object ~ 'a53' ORDER BY 1, 2, 3;
ROLLBACK;
