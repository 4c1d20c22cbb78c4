-- sharing.protect(): what a table needs (a table, a single-column key of a
-- supported type, a bigint owner column), what protection sets up (RLS
-- enabled and forced, four policies, an index on the owner column,
-- triggers) and what sharing.unprotect() takes away again.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- A small org: Boss above Rep; Viewer has a view_all profile.
CREATE ROLE u20_boss LOGIN;
CREATE ROLE u20_rep LOGIN;
CREATE ROLE u20_other LOGIN;
CREATE ROLE u20_viewer LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Boss');
    PERFORM sharing.create_role('Rep', parent => 'Boss');
    PERFORM sharing.create_role('Elsewhere');
    PERFORM sharing.create_profile('viewer', view_all => true);
    PERFORM sharing.create_user('Boss', 'Boss', db_role => 'u20_boss', id => 1);
    PERFORM sharing.create_user('Rep', 'Rep', db_role => 'u20_rep', id => 2);
    PERFORM sharing.create_user('Other', 'Elsewhere', db_role => 'u20_other', id => 3);
    PERFORM sharing.create_user('Viewer', 'Elsewhere', profile => 'viewer', db_role => 'u20_viewer', id => 4);
END $$;

-- Only tables can be protected: a view is refused (42P16).
CREATE TABLE t20_base (id bigint PRIMARY KEY, owner_id bigint);
CREATE VIEW t20_view AS SELECT * FROM t20_base;
SELECT pg_temp.try($$SELECT sharing.protect('t20_view')$$);
-- A table without a primary key is refused (42P16).
CREATE TABLE t20_nokey (id bigint, owner_id bigint);
SELECT pg_temp.try($$SELECT sharing.protect('t20_nokey')$$);
-- So is a two-column primary key (42P16).
CREATE TABLE t20_twokey (a bigint, b bigint, owner_id bigint, PRIMARY KEY (a, b));
SELECT pg_temp.try($$SELECT sharing.protect('t20_twokey')$$);
-- A key of a type other than bigint, integer, uuid or text is refused (42804).
CREATE TABLE t20_numkey (id numeric PRIMARY KEY, owner_id bigint);
SELECT pg_temp.try($$SELECT sharing.protect('t20_numkey')$$);
-- A missing owner column is 42703, naming the column and the table.
SELECT pg_temp.try($$SELECT sharing.protect('t20_base', owner_column => 'owner')$$);
-- An owner column that is not bigint is 42804.
CREATE TABLE t20_intowner (id bigint PRIMARY KEY, owner_id integer);
SELECT pg_temp.try($$SELECT sharing.protect('t20_intowner')$$);
-- An unknown default access is 22023, naming the value.
SELECT pg_temp.try($$SELECT sharing.protect('t20_base', default_access => 'open')$$);
-- NULL arguments are 22023.
SELECT pg_temp.try($$SELECT sharing.protect('t20_base', default_access => NULL)$$);
-- A refused protect left nothing behind.
SELECT count(*) AS catalog_rows FROM sharing.protected_tables;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relname IN ('t20_base', 't20_nokey', 't20_twokey', 't20_numkey', 't20_intowner') ORDER BY relname;
-- Protecting needs manage_sharing: a standard user gets 42501.
SET ROLE u20_rep;
SELECT pg_temp.try($$SELECT sharing.protect('t20_base')$$);
RESET ROLE;

-- A bigint key and the default owner column: protection works; a second
-- protect of the same table is 42710.
SELECT sharing.protect('t20_base');
SELECT pg_temp.try($$SELECT sharing.protect('t20_base')$$);
SELECT tbl, pk_column, pk_type, owner_column, default_access, grant_via_hierarchy
  FROM sharing.protected_tables ORDER BY tbl::text;

-- RLS is enabled and forced (the table owner is filtered too).
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 't20_base';
-- One permissive policy per command, for every role.
SELECT policyname, permissive, roles, cmd FROM pg_policies WHERE tablename = 't20_base' ORDER BY policyname;
-- The owner column had no index: protect created one.
SELECT indexdef FROM pg_indexes WHERE tablename = 't20_base' ORDER BY indexname;
-- The guard and share-cleanup triggers.
SELECT tgname FROM pg_trigger WHERE tgrelid = 't20_base'::regclass AND NOT tgisinternal ORDER BY tgname;
-- policy_sql shows the generated policies: user-dependent parts as plain
-- calls, the owner and the key tested against the user's sets.
\a
\t
SELECT sharing.policy_sql('t20_base');
\a
\t
-- policy_sql of a table that is not protected is 22023.
SELECT pg_temp.try($$SELECT sharing.policy_sql('t20_nokey')$$);

-- An index that already leads with the owner column is reused: no new one.
CREATE TABLE t20_indexed (id bigint PRIMARY KEY, owner_id bigint NOT NULL, name text);
CREATE INDEX t20_indexed_owner_name ON t20_indexed (owner_id, name);
SELECT sharing.protect('t20_indexed');
SELECT indexname FROM pg_indexes WHERE tablename = 't20_indexed' ORDER BY indexname;

-- Identifiers that need quoting (mixed case, spaces, quotes) work as table,
-- key and owner column names.
CREATE TABLE "T20 Odd ""Table""" ("Record Id" bigint PRIMARY KEY, "Owner ""Id""" bigint NOT NULL);
SELECT sharing.protect('"T20 Odd ""Table"""', owner_column => 'Owner "Id"');
INSERT INTO "T20 Odd ""Table""" VALUES (1, 1), (2, 2), (3, 3);
GRANT SELECT ON "T20 Odd ""Table""" TO PUBLIC;
SET ROLE u20_rep;
SELECT string_agg("Record Id"::text, ',' ORDER BY "Record Id") AS rep_sees FROM "T20 Odd ""Table""";
SET ROLE u20_boss;
SELECT string_agg("Record Id"::text, ',' ORDER BY "Record Id") AS boss_sees FROM "T20 Odd ""Table""";
RESET ROLE;

-- uuid, integer and text keys work: the owner sees their rows, the
-- hierarchy reaches down, a stranger sees nothing, and view_all (whose
-- policy arm is a range on the key from the type's smallest value) sees
-- every row.
CREATE TABLE t20_uuid (id uuid PRIMARY KEY, owner_id bigint NOT NULL);
CREATE TABLE t20_int (id integer PRIMARY KEY, owner_id bigint NOT NULL);
CREATE TABLE t20_text (id text PRIMARY KEY, owner_id bigint NOT NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON t20_base, t20_uuid, t20_int, t20_text TO PUBLIC;
INSERT INTO t20_uuid VALUES ('00000000-0000-0000-0000-000000000000', 2), ('ffffffff-ffff-ffff-ffff-ffffffffffff', 3),
                            ('6b1e6c2a-6f57-4c7f-9b0e-2b8e8c0d5a11', 1);
INSERT INTO t20_int VALUES (-2147483648, 2), (2147483647, 3), (0, 1);
INSERT INTO t20_text VALUES ('', 2), ('zzz', 3), ('Ärger', 1), ('A', 2);
SELECT sharing.protect('t20_uuid');
SELECT sharing.protect('t20_int');
SELECT sharing.protect('t20_text');
SELECT tbl, pk_column, pk_type FROM sharing.protected_tables WHERE tbl::text LIKE 't20\_%' ORDER BY tbl::text;
SET ROLE u20_rep;
SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_uuid) AS uuid_rows,
       (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_int) AS int_rows,
       (SELECT string_agg(quote_literal(id), ',' ORDER BY id COLLATE "C") FROM t20_text) AS text_rows;
SET ROLE u20_boss;
SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_uuid) AS uuid_rows,
       (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_int) AS int_rows,
       (SELECT string_agg(quote_literal(id), ',' ORDER BY id COLLATE "C") FROM t20_text) AS text_rows;
SET ROLE u20_other;
SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_uuid) AS uuid_rows,
       (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_int) AS int_rows,
       (SELECT string_agg(quote_literal(id), ',' ORDER BY id COLLATE "C") FROM t20_text) AS text_rows;
SET ROLE u20_viewer;
SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_uuid) AS uuid_rows,
       (SELECT string_agg(id::text, ',' ORDER BY id) FROM t20_int) AS int_rows,
       (SELECT string_agg(quote_literal(id), ',' ORDER BY id COLLATE "C") FROM t20_text) AS text_rows;
-- view_all reads but does not write.
WITH u AS (UPDATE t20_text SET owner_id = owner_id RETURNING 1) SELECT count(*) AS viewer_updates FROM u;
-- Keys of each type work in the checks too.
SELECT sharing.can_read(4, 't20_uuid', 'ffffffff-ffff-ffff-ffff-ffffffffffff') AS uuid_read,
       sharing.can_read(4, 't20_int', '-2147483648') AS int_read,
       sharing.can_read(4, 't20_text', '') AS text_read,
       sharing.can_edit(4, 't20_text', '') AS text_edit;
RESET ROLE;

-- unprotect removes the policies, the catalog rows (with the table's rules,
-- shares and profile permissions), the triggers, and turns RLS off.
INSERT INTO t20_base VALUES (1, 1), (2, 2);
SELECT sharing.create_owner_rule('t20_base', 'rep to others', 'role', 'Rep', 'role', 'Elsewhere', 'read') IS NOT NULL AS rule_created;
SELECT sharing.share_record('t20_base', '1', 'user', 'Other', 'read');
SELECT sharing.set_profile_permission('viewer', 't20_base', 'edit', false);
SELECT sharing.unprotect('t20_base');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 't20_base';
SELECT count(*) AS policies FROM pg_policies WHERE tablename = 't20_base';
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 't20_base'::regclass AND NOT tgisinternal;
SELECT (SELECT count(*) FROM sharing.protected_tables WHERE tbl = 't20_base'::regclass) AS tables,
       (SELECT count(*) FROM sharing.rules WHERE tbl = 't20_base'::regclass) AS rules,
       (SELECT count(*) FROM sharing.shares WHERE tbl = 't20_base'::regclass) AS shares,
       (SELECT count(*) FROM sharing.profile_permissions WHERE tbl = 't20_base'::regclass) AS permissions;
-- Now every role sees every row again (plain table privileges only).
SET ROLE u20_other;
SELECT string_agg(id::text, ',' ORDER BY id) AS other_sees FROM t20_base;
RESET ROLE;
-- unprotect of a table that is not protected is 22023; it needs manage_sharing (42501).
SELECT pg_temp.try($$SELECT sharing.unprotect('t20_base')$$);
SET ROLE u20_rep;
SELECT pg_temp.try($$SELECT sharing.unprotect('t20_int')$$);
RESET ROLE;
-- The table can be protected again after unprotect.
SELECT sharing.protect('t20_base', default_access => 'public_read');
SELECT count(*) AS policies FROM pg_policies WHERE tablename = 't20_base';
ROLLBACK;
