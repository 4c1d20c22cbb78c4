-- Organisation-wide default access (OWD): for two users in unrelated roles,
-- what each can read, edit and delete under each default, and
-- set_default_access taking effect at once.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Two users in unrelated roles, an inactive user, and a login role that is
-- no user at all.
CREATE ROLE u21_ann LOGIN;
CREATE ROLE u21_bob LOGIN;
CREATE ROLE u21_gone LOGIN;
CREATE ROLE u21_nobody LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Sales');
    PERFORM sharing.create_role('Service');
    PERFORM sharing.create_user('Ann', 'Sales', db_role => 'u21_ann', id => 1);
    PERFORM sharing.create_user('Bob', 'Service', db_role => 'u21_bob', id => 2);
    PERFORM sharing.create_user('Gone', 'Service', db_role => 'u21_gone', id => 3);
    PERFORM sharing.alter_user('Gone', '{"active": false}');
END $$;

CREATE TABLE t21 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t21 TO PUBLIC;
INSERT INTO t21 VALUES (11, 1, 'ann'), (12, 1, 'ann'), (21, 2, 'bob'), (22, 2, 'bob'), (31, 3, 'gone');

-- private (the default): each user reaches their own records only.
SELECT sharing.protect('t21');
SELECT default_access FROM sharing.protected_tables WHERE tbl = 't21'::regclass;
SET ROLE u21_ann;
SELECT pg_temp.reach('t21') AS ann;
SET ROLE u21_bob;
SELECT pg_temp.reach('t21') AS bob;
SET ROLE u21_gone;
SELECT pg_temp.reach('t21') AS inactive_user;
SET ROLE u21_nobody;
SELECT pg_temp.reach('t21') AS unmapped_role;
RESET ROLE;

-- public_read: every active user reads every record; editing and deleting
-- stay as private.
SELECT sharing.set_default_access('t21', 'public_read');
SET ROLE u21_ann;
SELECT pg_temp.reach('t21') AS ann;
SET ROLE u21_bob;
SELECT pg_temp.reach('t21') AS bob;
SET ROLE u21_gone;
SELECT pg_temp.reach('t21') AS inactive_user;
SET ROLE u21_nobody;
SELECT pg_temp.reach('t21') AS unmapped_role;
RESET ROLE;

-- public_read_write: every active user reads and edits every record;
-- deleting stays as private.
SELECT sharing.set_default_access('t21', 'public_read_write');
SET ROLE u21_ann;
SELECT pg_temp.reach('t21') AS ann;
SET ROLE u21_bob;
SELECT pg_temp.reach('t21') AS bob;
SET ROLE u21_gone;
SELECT pg_temp.reach('t21') AS inactive_user;
SET ROLE u21_nobody;
SELECT pg_temp.reach('t21') AS unmapped_role;
RESET ROLE;

-- public_read_write_delete: every active user reads, edits and deletes
-- every record.
SELECT sharing.set_default_access('t21', 'public_read_write_delete');
SET ROLE u21_ann;
SELECT pg_temp.reach('t21') AS ann;
SET ROLE u21_bob;
SELECT pg_temp.reach('t21') AS bob;
SET ROLE u21_gone;
SELECT pg_temp.reach('t21') AS inactive_user;
SET ROLE u21_nobody;
SELECT pg_temp.reach('t21') AS unmapped_role;
RESET ROLE;

-- The checks agree with each default (Ann on Bob's record 21).
SELECT d AS default_access, sharing.access_level(1, 't21', '21') AS level,
       sharing.can_read(1, 't21', '21') AS can_read, sharing.can_edit(1, 't21', '21') AS can_edit,
       sharing.can_delete(1, 't21', '21') AS can_delete
  FROM unnest(ARRAY['private', 'public_read', 'public_read_write', 'public_read_write_delete']) WITH ORDINALITY AS x (d, n),
       LATERAL (SELECT sharing.set_default_access('t21', d)) s
 ORDER BY n;

-- Under public_read_write_delete every user has full access to everyone's
-- records, so inserting a record owned by someone else is allowed; under
-- the other defaults it is refused (42501).
SELECT sharing.set_default_access('t21', 'public_read_write_delete');
SET ROLE u21_ann;
SELECT pg_temp.try($$INSERT INTO t21 VALUES (13, 2, 'ann for bob')$$) AS insert_for_bob;
RESET ROLE;
SELECT sharing.set_default_access('t21', 'public_read_write');
SET ROLE u21_ann;
SELECT pg_temp.try($$INSERT INTO t21 VALUES (14, 2, 'ann for bob')$$) AS insert_for_bob;
SELECT pg_temp.try($$INSERT INTO t21 VALUES (14, 1, 'ann for ann')$$) AS insert_for_self;
RESET ROLE;

-- Switching back to private takes effect at once, in the same transaction.
SELECT sharing.set_default_access('t21', 'private');
SET ROLE u21_ann;
SELECT pg_temp.reach('t21') AS ann;
RESET ROLE;

-- set_default_access: an unknown value is 22023; a child table has no
-- default of its own (22023); a table that is not protected is 22023;
-- it needs manage_sharing (42501).
SELECT pg_temp.try($$SELECT sharing.set_default_access('t21', 'public')$$);
SELECT pg_temp.try($$SELECT sharing.set_default_access('t21', NULL)$$);
CREATE TABLE t21_notes (id bigint PRIMARY KEY, t21_id bigint NOT NULL, note text);
SELECT sharing.protect_child('t21_notes', 't21_id', 't21');
SELECT pg_temp.try($$SELECT sharing.set_default_access('t21_notes', 'public_read')$$);
CREATE TABLE t21_plain (id bigint PRIMARY KEY, owner_id bigint);
SELECT pg_temp.try($$SELECT sharing.set_default_access('t21_plain', 'public_read')$$);
SET ROLE u21_ann;
SELECT pg_temp.try($$SELECT sharing.set_default_access('t21', 'public_read')$$);
RESET ROLE;
SELECT default_access FROM sharing.protected_tables WHERE tbl = 't21'::regclass;
ROLLBACK;
