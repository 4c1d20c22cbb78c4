-- Child tables ("controlled by parent"): a note is readable when its
-- account is, writable and deletable when the account is writable
-- (read_write or more), provided the profile may read the parent table;
-- and the child table's own profile flags apply on top.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Head (Hal) > Rep (Ann, Ben); Other (Cat); Lee has a profile that may not
-- edit notes; Pam one that may not read accounts; Vera one with view_all.
CREATE ROLE u26_hal LOGIN;
CREATE ROLE u26_ann LOGIN;
CREATE ROLE u26_ben LOGIN;
CREATE ROLE u26_cat LOGIN;
CREATE ROLE u26_lee LOGIN;
CREATE ROLE u26_pam LOGIN;
CREATE ROLE u26_vera LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Head');
    PERFORM sharing.create_role('Rep', parent => 'Head');
    PERFORM sharing.create_role('Other');
    PERFORM sharing.create_profile('no note edits');
    PERFORM sharing.create_profile('no accounts');
    PERFORM sharing.create_profile('viewer', view_all => true);
    PERFORM sharing.create_user('Hal', 'Head', db_role => 'u26_hal', id => 1);
    PERFORM sharing.create_user('Ann', 'Rep', db_role => 'u26_ann', id => 2);
    PERFORM sharing.create_user('Ben', 'Rep', db_role => 'u26_ben', id => 3);
    PERFORM sharing.create_user('Cat', 'Other', db_role => 'u26_cat', id => 4);
    PERFORM sharing.create_user('Lee', 'Other', profile => 'no note edits', db_role => 'u26_lee', id => 5);
    PERFORM sharing.create_user('Pam', 'Other', profile => 'no accounts', db_role => 'u26_pam', id => 6);
    PERFORM sharing.create_user('Vera', 'Other', profile => 'viewer', db_role => 'u26_vera', id => 7);
END $$;

-- Accounts: Ann owns 1, Ben 2, Cat 3, Lee 5, Pam 6. Notes: N1, N2 on
-- account N (11, 12 on 1, ...); note 99 has no account. Files hang off
-- notes (a grandchild): file 111 on note 11, 211 on note 21.
CREATE TABLE t26 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE TABLE t26_notes (id bigint PRIMARY KEY, account_id bigint, note text);
CREATE TABLE t26_files (id text PRIMARY KEY, note_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t26, t26_notes, t26_files TO PUBLIC;
INSERT INTO t26 VALUES (1, 2, 'a'), (2, 3, 'b'), (3, 4, 'c'), (5, 5, 'l'), (6, 6, 'p');
INSERT INTO t26_notes VALUES (11, 1, 'n'), (12, 1, 'n'), (21, 2, 'n'), (31, 3, 'n'), (51, 5, 'n'), (61, 6, 'n'), (99, NULL, 'orphan');
INSERT INTO t26_files VALUES ('111', 11, 'f'), ('211', 21, 'f');
SELECT sharing.protect('t26');
SELECT sharing.protect_child('t26_notes', 'account_id', 't26');
SELECT sharing.protect_child('t26_files', 'note_id', 't26_notes');
SELECT tbl, pk_column, pk_type, owner_column, default_access, parent_tbl, parent_column
  FROM sharing.protected_tables ORDER BY tbl::text;
-- The child is protected like any table: RLS forced, four policies, an
-- index on the parent column, the guard trigger.
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('t26_notes', 't26_files') ORDER BY relname;
SELECT tablename, count(*) AS policies FROM pg_policies WHERE tablename IN ('t26_notes', 't26_files') GROUP BY tablename ORDER BY tablename;
SELECT indexdef FROM pg_indexes WHERE tablename = 't26_notes' ORDER BY indexname;
SELECT tgname FROM pg_trigger WHERE tgrelid = 't26_notes'::regclass AND NOT tgisinternal ORDER BY tgname;

-- Owners and superiors reach the notes (and files) of the accounts they
-- reach, with full access; others nothing; the note without an account
-- is nobody's.
SET ROLE u26_ann;
SELECT pg_temp.reach('t26_notes') AS ann_notes, pg_temp.reach('t26_files') AS ann_files;
SET ROLE u26_hal;
SELECT pg_temp.reach('t26_notes') AS hal_notes, pg_temp.reach('t26_files') AS hal_files;
SET ROLE u26_cat;
SELECT pg_temp.reach('t26_notes') AS cat_notes, pg_temp.reach('t26_files') AS cat_files;
RESET ROLE;

-- Read on the account gives read on its notes; read_write on the account
-- gives read, write and delete on its notes.
SELECT sharing.share_record('t26', '3', 'user', 'Ann', 'read');
SELECT sharing.share_record('t26', '2', 'user', 'Ann', 'read_write');
SET ROLE u26_ann;
SELECT pg_temp.reach('t26') AS ann_accounts;
SELECT pg_temp.reach('t26_notes') AS ann_notes;
SELECT pg_temp.reach('t26_files') AS ann_files;
-- Inserting a note needs write access to its account (42501 otherwise).
SELECT pg_temp.rows($$INSERT INTO t26_notes VALUES (13, 1, 'mine')$$) AS on_own_account;
SELECT pg_temp.rows($$INSERT INTO t26_notes VALUES (22, 2, 'shared rw')$$) AS on_rw_account;
SELECT pg_temp.rows($$INSERT INTO t26_notes VALUES (32, 3, 'shared read')$$) AS on_read_account;
SELECT pg_temp.rows($$INSERT INTO t26_notes VALUES (98, NULL, 'no account')$$) AS on_no_account;
-- Moving a note to another account needs full access to the note (the
-- guard) and write access to the new account (WITH CHECK): note 21
-- (account 2, read_write) moves to Ann's account 1; note 12 cannot move
-- to account 3, which Ann only reads; note 31, read-only to Ann, is not
-- reached by her UPDATE at all.
SELECT pg_temp.rows($$UPDATE t26_notes SET account_id = 1 WHERE id = 21$$) AS rw_to_own;
SELECT pg_temp.rows($$UPDATE t26_notes SET account_id = 3 WHERE id = 12$$) AS own_to_read;
SELECT pg_temp.rows($$UPDATE t26_notes SET account_id = 2 WHERE id = 31$$) AS read_to_rw;
RESET ROLE;
SELECT id, account_id FROM t26_notes ORDER BY id;
-- Cat has full access to his note 31 but cannot move it to Ann's account,
-- which he cannot write (WITH CHECK, 42501).
SET ROLE u26_cat;
SELECT pg_temp.rows($$UPDATE t26_notes SET account_id = 1 WHERE id = 31$$) AS to_foreign;
RESET ROLE;

-- The parent's default access, rules and criteria rules reach the
-- children: public_read on accounts lets every active user read every
-- note (not the orphan); public_read_write lets them edit and delete.
-- A criteria rule (Pam's account 6 read to Other) and an owner rule (Rep
-- accounts read_write to Other) give Cat read on note 61 and full access
-- to the Reps' notes.
SELECT sharing.set_default_access('t26', 'public_read');
SET ROLE u26_cat;
SELECT pg_temp.reach('t26_notes') AS cat_notes;
RESET ROLE;
SELECT sharing.set_default_access('t26', 'public_read_write');
SET ROLE u26_cat;
SELECT pg_temp.reach('t26_notes') AS cat_notes;
SELECT pg_temp.reach('t26_files') AS cat_files;
RESET ROLE;
SELECT sharing.set_default_access('t26', 'private');
SAVEPOINT rules;
SELECT sharing.create_criteria_rule('t26', 'p to Other', '{"conditions": [{"column": "note", "op": "=", "value": "p"}]}',
                                    'role', 'Other', 'read') IS NOT NULL AS created;
SELECT sharing.create_owner_rule('t26', 'Ben to Other', 'role', 'Rep', 'role', 'Other', 'read_write') IS NOT NULL AS created;
SET ROLE u26_cat;
SELECT pg_temp.reach('t26') AS cat_accounts;
SELECT pg_temp.reach('t26_notes') AS cat_notes;
RESET ROLE;
ROLLBACK TO SAVEPOINT rules;

-- Profile flags: the child table's own flags apply on top. Lee may not
-- edit notes: he reads and deletes the note of his account but does not
-- edit it, while he still edits the account itself.
SELECT sharing.set_profile_permission('no note edits', 't26_notes', 'edit', false);
SET ROLE u26_lee;
SELECT pg_temp.reach('t26') AS lee_accounts;
SELECT pg_temp.reach('t26_notes') AS lee_notes;
RESET ROLE;
-- A profile that may not read the parent table reaches none of its
-- children, not even those of its own accounts.
SELECT sharing.set_profile_permission('no accounts', 't26', 'read', false);
SET ROLE u26_pam;
SELECT pg_temp.reach('t26') AS pam_accounts;
SELECT pg_temp.reach('t26_notes') AS pam_notes;
SELECT pg_temp.try($$INSERT INTO t26_notes VALUES (62, 6, 'new')$$) AS pam_insert;
RESET ROLE;
SELECT sharing.can_read(6, 't26_notes', '61') AS pam_can_read, sharing.access_level(6, 't26_notes', '61') AS pam_level;
-- view_all reads every child row (as it reads every parent row), writes none.
SET ROLE u26_vera;
SELECT pg_temp.reach('t26_notes') AS vera_notes;
RESET ROLE;

-- Bad input: the parent column's type differs from the parent's key
-- (42804), the parent is not protected (22023), the column is missing
-- (42703), a table is its own parent (22023), the child is already
-- protected (42710), the child has no single-column key (42P16), and a
-- caller without manage_sharing (42501).
CREATE TABLE t26_badtype (id bigint PRIMARY KEY, account_id integer);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_badtype', 'account_id', 't26')$$);
CREATE TABLE t26_unprotected (id bigint PRIMARY KEY, owner_id bigint);
CREATE TABLE t26_orphans (id bigint PRIMARY KEY, parent_id bigint);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_orphans', 'parent_id', 't26_unprotected')$$);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_orphans', 'account', 't26')$$);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26', 'owner_id', 't26')$$);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_notes', 'account_id', 't26')$$);
CREATE TABLE t26_nokey (id bigint, account_id bigint);
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_nokey', 'account_id', 't26')$$);
-- A key of two columns must be (parent column, one more); three columns,
-- or two without the parent column, are refused.
CREATE TABLE t26_wide (account_id bigint, a bigint, b bigint, PRIMARY KEY (account_id, a, b));
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_wide', 'account_id', 't26')$$);
CREATE TABLE t26_pair (account_id bigint, a bigint, b bigint, PRIMARY KEY (a, b));
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_pair', 'account_id', 't26')$$);
SET ROLE u26_ann;
SELECT pg_temp.try($$SELECT sharing.protect_child('t26_orphans', 'parent_id', 't26')$$);
RESET ROLE;

-- A child whose primary key is (parent column, id), as Citus needs for a
-- table co-located with its parent: accepted; its records are named by the
-- other column, and it follows the parent like any child.
CREATE TABLE t26_tasks (account_id bigint, id bigint, note text, PRIMARY KEY (account_id, id));
GRANT SELECT, INSERT, UPDATE, DELETE ON t26_tasks TO PUBLIC;
INSERT INTO t26_tasks VALUES (1, 101, 't'), (2, 201, 't'), (3, 301, 't');
SELECT sharing.protect_child('t26_tasks', 'account_id', 't26');
SELECT pk_column, pk_type, parent_column FROM sharing.protected_tables WHERE tbl = 't26_tasks'::regclass;
-- (Tasks 101, 201, 301 hang off accounts 1, 2, 3, as notes 11, 21, 31 do:
-- the same reach.)
SET ROLE u26_ann;
SELECT pg_temp.reach('t26_tasks') AS ann_tasks, pg_temp.reach('t26_notes') AS ann_notes;
RESET ROLE;
SET ROLE u26_hal;
SELECT pg_temp.reach('t26_tasks') AS hal_tasks, pg_temp.reach('t26_notes') AS hal_notes;
RESET ROLE;
SELECT sharing.can_read(2, 't26_tasks', '101') AS ann_101, sharing.can_read(2, 't26_tasks', '201') AS ann_201,
       sharing.access_level(1, 't26_tasks', '201') AS hal_201;
SELECT sharing.unprotect('t26_tasks');

-- A parent with children cannot be unprotected (22023, naming them); the
-- children first, then the parent, works.
SELECT pg_temp.try($$SELECT sharing.unprotect('t26')$$);
SELECT pg_temp.try($$SELECT sharing.unprotect('t26_notes')$$);
SELECT sharing.unprotect('t26_files');
SELECT sharing.unprotect('t26_notes');
SELECT sharing.unprotect('t26');
SELECT count(*) AS protected_tables FROM sharing.protected_tables;
SELECT count(*) AS policies FROM pg_policies WHERE tablename IN ('t26', 't26_notes', 't26_files');
ROLLBACK;
