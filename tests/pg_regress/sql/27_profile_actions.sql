-- Profiles act on top of sharing: view_all and modify_all bypass sharing,
-- per-table flags (create, read, edit, delete) deny an action to everyone
-- with the profile; inserting for someone else, changing a row's owner or
-- key (the guard) and moving a row out of reach (WITH CHECK).
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Mgr (Mia) > Rep (Ann, Ben); Other: Vic (view_all), Mo (modify_all),
-- Lia (a light agent: may not edit t27), Nick (may not create in t27),
-- Dee (may not delete in t27). User N owns record N0.
CREATE ROLE u27_mia LOGIN;
CREATE ROLE u27_ann LOGIN;
CREATE ROLE u27_ben LOGIN;
CREATE ROLE u27_vic LOGIN;
CREATE ROLE u27_mo LOGIN;
CREATE ROLE u27_lia LOGIN;
CREATE ROLE u27_nick LOGIN;
CREATE ROLE u27_dee LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Mgr');
    PERFORM sharing.create_role('Rep', parent => 'Mgr');
    PERFORM sharing.create_role('Other');
    PERFORM sharing.create_profile('viewer', view_all => true);
    PERFORM sharing.create_profile('modifier', modify_all => true);
    PERFORM sharing.create_profile('light agent');
    PERFORM sharing.create_profile('no create');
    PERFORM sharing.create_profile('no delete');
    PERFORM sharing.create_user('Mia', 'Mgr', db_role => 'u27_mia', id => 1);
    PERFORM sharing.create_user('Ann', 'Rep', db_role => 'u27_ann', id => 2);
    PERFORM sharing.create_user('Ben', 'Rep', db_role => 'u27_ben', id => 3);
    PERFORM sharing.create_user('Vic', 'Other', profile => 'viewer', db_role => 'u27_vic', id => 4);
    PERFORM sharing.create_user('Mo', 'Other', profile => 'modifier', db_role => 'u27_mo', id => 5);
    PERFORM sharing.create_user('Lia', 'Other', profile => 'light agent', db_role => 'u27_lia', id => 6);
    PERFORM sharing.create_user('Nick', 'Other', profile => 'no create', db_role => 'u27_nick', id => 7);
    PERFORM sharing.create_user('Dee', 'Other', profile => 'no delete', db_role => 'u27_dee', id => 8);
END $$;

CREATE TABLE t27 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
CREATE TABLE t27_other (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t27, t27_other TO PUBLIC;
INSERT INTO t27 SELECT n * 10, n, 'user ' || n FROM generate_series(1, 8) n;
INSERT INTO t27_other SELECT * FROM t27;
SELECT sharing.protect('t27');
SELECT sharing.protect('t27_other');
SELECT sharing.set_profile_permission('light agent', 't27', 'edit', false);
SELECT sharing.set_profile_permission('no create', 't27', 'create', false);
SELECT sharing.set_profile_permission('no delete', 't27', 'delete', false);
SELECT p.name, pp.tbl, pp.can_create, pp.can_read, pp.can_edit, pp.can_delete
  FROM sharing.profile_permissions pp JOIN sharing.profiles p ON p.id = pp.profile_id ORDER BY p.name, pp.tbl::text;

-- view_all reads every record and edits or deletes only what sharing
-- grants (his own; and record 20 once it is shared read_write with him).
SET ROLE u27_vic;
SELECT pg_temp.reach('t27') AS vic;
RESET ROLE;
SELECT sharing.share_record('t27', '20', 'user', 'Vic', 'read_write');
SET ROLE u27_vic;
SELECT pg_temp.reach('t27') AS vic;
RESET ROLE;

-- modify_all reads, edits and deletes every record.
SET ROLE u27_mo;
SELECT pg_temp.reach('t27') AS mo;
RESET ROLE;

-- The light agent reads her own record and one shared with full access,
-- deletes them, but never edits, not even her own; elsewhere (t27_other)
-- she edits as usual. She may still create records.
SELECT sharing.share_record('t27', '30', 'user', 'Lia', 'read_write_delete');
SET ROLE u27_lia;
SELECT pg_temp.reach('t27') AS lia;
SELECT pg_temp.reach('t27_other') AS lia_other_table;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 6 WHERE id = 30$$) AS lia_takes_record;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (61, 6, 'new')$$) AS lia_inserts;
RESET ROLE;
SELECT sharing.can_read(6, 't27', '60') AS can_read, sharing.can_edit(6, 't27', '60') AS can_edit,
       sharing.can_delete(6, 't27', '60') AS can_delete, sharing.access_level(6, 't27', '60') AS level;

-- can_create = false: Nick cannot insert, even a record of his own; he
-- still reads, edits and deletes his record, and inserts elsewhere.
SET ROLE u27_nick;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (71, 7, 'new')$$) AS nick_inserts;
SELECT pg_temp.rows($$INSERT INTO t27_other VALUES (71, 7, 'new')$$) AS nick_inserts_other_table;
SELECT pg_temp.reach('t27') AS nick;
-- can_delete = false: Dee reads and edits her record but deletes nothing.
SET ROLE u27_dee;
SELECT pg_temp.reach('t27') AS dee;
RESET ROLE;

-- A per-table flag set to false binds view_all and modify_all holders too:
-- modify_all without delete deletes nothing; view_all without read reads
-- nothing, not even his own record.
SAVEPOINT flags;
SELECT sharing.set_profile_permission('modifier', 't27', 'delete', false);
SELECT sharing.set_profile_permission('viewer', 't27', 'read', false);
SET ROLE u27_mo;
SELECT pg_temp.reach('t27') AS mo;
SET ROLE u27_vic;
SELECT pg_temp.reach('t27') AS vic;
RESET ROLE;
ROLLBACK TO SAVEPOINT flags;

-- Inserting a record owned by someone else: allowed for a manager
-- inserting for a subordinate, refused (42501) for a rep inserting for a
-- peer or a superior, and for a user inserting for an unknown owner.
SET ROLE u27_mia;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (21, 2, 'for Ann, by Mia')$$) AS manager_for_subordinate;
SET ROLE u27_ann;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (31, 3, 'for Ben, by Ann')$$) AS rep_for_peer;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (11, 1, 'for Mia, by Ann')$$) AS rep_for_superior;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (91, 9, 'for nobody')$$) AS rep_for_unknown;
RESET ROLE;
-- Full access to a peer's records (an owner rule read_write_delete) lets
-- Ann insert for Ben; reading them (peers sharing) or read_write does not.
SAVEPOINT insert_rules;
UPDATE sharing.roles SET share_with_peers = true WHERE name = 'Rep';
SET ROLE u27_ann;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (31, 3, 'for Ben, by Ann')$$) AS with_peers;
RESET ROLE;
SELECT sharing.create_owner_rule('t27', 'Ben rw to Ann', 'role', 'Rep', 'role', 'Rep', 'read_write') IS NOT NULL AS created;
SET ROLE u27_ann;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (31, 3, 'for Ben, by Ann')$$) AS with_read_write_rule;
RESET ROLE;
SELECT sharing.create_owner_rule('t27', 'Ben rwd to Ann', 'role', 'Rep', 'role', 'Rep', 'read_write_delete') IS NOT NULL AS created;
SET ROLE u27_ann;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (31, 3, 'for Ben, by Ann')$$) AS with_full_access_rule;
RESET ROLE;
ROLLBACK TO SAVEPOINT insert_rules;
-- modify_all inserts for anyone.
SET ROLE u27_mo;
SELECT pg_temp.rows($$INSERT INTO t27 VALUES (12, 1, 'for Mia, by Mo')$$) AS modify_all_for_anyone;
RESET ROLE;

-- Changing the owner: Mia (full access through the hierarchy) hands Ann's
-- record to Ben, who stays within her reach; Mo (modify_all) hands it to
-- Lia. Ann cannot hand her own record to Ben: it would leave her reach
-- (WITH CHECK, 42501).
SET ROLE u27_mia;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 3 WHERE id = 21$$) AS manager_reassigns;
SET ROLE u27_mo;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 6 WHERE id = 21$$) AS modify_all_reassigns;
SET ROLE u27_ann;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 3 WHERE id = 20$$) AS rep_gives_away;
RESET ROLE;
SELECT id, owner_id FROM t27 WHERE id IN (20, 21) ORDER BY id;
-- The guard: with read_write (not full) access, Ben edits Ann's record
-- but may not change its owner or its key (42501, from the guard), even
-- to an owner within his reach.
SAVEPOINT guard;
SELECT sharing.share_record('t27', '20', 'user', 'Ben', 'read_write');
SET ROLE u27_ben;
SELECT pg_temp.rows($$UPDATE t27 SET note = 'edited by Ben' WHERE id = 20$$) AS ben_edits;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 3 WHERE id = 20$$) AS ben_takes_owner;
SELECT pg_temp.rows($$UPDATE t27 SET id = 22 WHERE id = 20$$) AS ben_changes_key;
RESET ROLE;
-- With full access (read_write_delete, shared) the guard lets him, and
-- WITH CHECK decides: he may make the record his own (it stays within
-- his reach), but not give it a new key (his share is on key 20, so the
-- record would leave his reach: 42501).
SELECT sharing.share_record('t27', '20', 'user', 'Ben', 'read_write_delete');
SET ROLE u27_ben;
SELECT pg_temp.rows($$UPDATE t27 SET id = 22 WHERE id = 20$$) AS ben_changes_key;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 3 WHERE id = 20$$) AS ben_takes_owner;
RESET ROLE;
SELECT id, owner_id, note FROM t27 WHERE id IN (20, 22) ORDER BY id;
ROLLBACK TO SAVEPOINT guard;
-- The light agent never reaches a row with UPDATE, so she cannot change
-- an owner either (0 rows, no error); view_all alone does not either.
SET ROLE u27_lia;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 2 WHERE id = 60$$) AS light_agent_reassigns;
SET ROLE u27_vic;
SELECT pg_temp.rows($$UPDATE t27 SET owner_id = 4 WHERE id = 10$$) AS view_all_reassigns;
RESET ROLE;
ROLLBACK;
