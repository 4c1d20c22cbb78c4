-- Manual (record-level) sharing: share_record / unshare_record to a user,
-- a role, a role and its subordinates or a group, at each level; who may
-- share; expiry; shares going with their record; and a share granting
-- exactly its recipients, not their superiors.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Head (Hal) > Team (Ann, Ben); Other (Cat) > OtherJr (Dan); Outside
-- (Eve, and Max whose profile may manage sharing but sees nothing).
-- Group Friends = {user Eve, role OtherJr}. Ann owns 1, 2, 3; Ben 4; Cat 5.
CREATE ROLE u25_hal LOGIN;
CREATE ROLE u25_ann LOGIN;
CREATE ROLE u25_ben LOGIN;
CREATE ROLE u25_cat LOGIN;
CREATE ROLE u25_dan LOGIN;
CREATE ROLE u25_eve LOGIN;
CREATE ROLE u25_max LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Head');
    PERFORM sharing.create_role('Team', parent => 'Head');
    PERFORM sharing.create_role('Other');
    PERFORM sharing.create_role('OtherJr', parent => 'Other');
    PERFORM sharing.create_role('Outside');
    PERFORM sharing.create_profile('sharing manager', manage_sharing => true);
    PERFORM sharing.create_user('Hal', 'Head', db_role => 'u25_hal', id => 1);
    PERFORM sharing.create_user('Ann', 'Team', db_role => 'u25_ann', id => 2);
    PERFORM sharing.create_user('Ben', 'Team', db_role => 'u25_ben', id => 3);
    PERFORM sharing.create_user('Cat', 'Other', db_role => 'u25_cat', id => 4);
    PERFORM sharing.create_user('Dan', 'OtherJr', db_role => 'u25_dan', id => 5);
    PERFORM sharing.create_user('Eve', 'Outside', db_role => 'u25_eve', id => 6);
    PERFORM sharing.create_user('Max', 'Outside', profile => 'sharing manager', db_role => 'u25_max', id => 7);
    PERFORM sharing.create_group('Friends');
    PERFORM sharing.add_to_group('Friends', 'user', 'Eve');
    PERFORM sharing.add_to_group('Friends', 'role', 'OtherJr');
END $$;

CREATE TABLE t25 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t25 TO PUBLIC;
INSERT INTO t25 VALUES (1, 2, 'a'), (2, 2, 'a'), (3, 2, 'a'), (4, 3, 'b'), (5, 4, 'c');
SELECT sharing.protect('t25');
-- The shares as stored: record, recipient, level, who shared.
CREATE FUNCTION pg_temp.shares() RETURNS TABLE (record_id text, to_type text, recipient text, access text, shared_by text)
LANGUAGE sql AS $$
    SELECT s.record_id, s.to_type,
           coalesce((SELECT name FROM sharing.users WHERE s.to_type = 'user' AND id = s.to_id),
                    (SELECT name FROM sharing.roles WHERE s.to_type IN ('role', 'role_and_subordinates') AND id = s.to_id),
                    (SELECT name FROM sharing.groups WHERE s.to_type = 'group' AND id = s.to_id)),
           s.access, coalesce((SELECT name FROM sharing.users WHERE id = s.shared_by), s.shared_by_role)
      FROM sharing.shares s WHERE s.tbl = 't25'::regclass ORDER BY 1, 2, 3
$$;

-- To a user, read: Ben reads record 1 but neither edits nor deletes it.
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '1', 'user', 'Ben', 'read');
SET ROLE u25_ben;
SELECT pg_temp.reach('t25') AS ben;
-- Sharing again replaces the level: read_write, then read_write_delete.
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '1', 'user', 'Ben', 'read_write');
SET ROLE u25_ben;
SELECT pg_temp.reach('t25') AS ben;
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '1', 'user', 'Ben', 'read_write_delete');
SET ROLE u25_ben;
SELECT pg_temp.reach('t25') AS ben;
RESET ROLE;
SELECT * FROM pg_temp.shares();
-- unshare_record takes it away again; unsharing what is not shared is 22023.
SET ROLE u25_ann;
SELECT sharing.unshare_record('t25', '1', 'user', 'Ben');
SELECT pg_temp.try($$SELECT sharing.unshare_record('t25', '1', 'user', 'Ben')$$);
SET ROLE u25_ben;
SELECT pg_temp.reach('t25') AS ben;
RESET ROLE;

-- To a role: Cat (Other) reads record 2; Dan (OtherJr, below) does not.
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '2', 'role', 'Other', 'read');
SET ROLE u25_cat;
SELECT pg_temp.reach('t25') AS cat;
SET ROLE u25_dan;
SELECT pg_temp.reach('t25') AS dan;
-- To a role and its subordinates: both Cat and Dan, here at read_write.
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '3', 'role_and_subordinates', 'Other', 'read_write');
SET ROLE u25_cat;
SELECT pg_temp.reach('t25') AS cat;
SET ROLE u25_dan;
SELECT pg_temp.reach('t25') AS dan;
-- To a group: Eve, and Dan through his role, at read_write_delete.
SET ROLE u25_ann;
SELECT sharing.share_record('t25', '1', 'group', 'Friends', 'read_write_delete');
SET ROLE u25_eve;
SELECT pg_temp.reach('t25') AS eve;
SET ROLE u25_dan;
SELECT pg_temp.reach('t25') AS dan;
SET ROLE u25_cat;
SELECT pg_temp.reach('t25') AS cat;
RESET ROLE;
SELECT * FROM pg_temp.shares();

-- A share grants exactly its recipients: Dan's superior Cat gains nothing
-- from a share to Dan or to Dan's role.
SET ROLE u25_ben;
SELECT sharing.share_record('t25', '4', 'user', 'Dan', 'read_write_delete');
SELECT sharing.share_record('t25', '4', 'role', 'OtherJr', 'read');
SET ROLE u25_dan;
SELECT pg_temp.reach('t25') AS dan;
SET ROLE u25_cat;
SELECT pg_temp.reach('t25') AS cat;
RESET ROLE;

-- Who may share: the owner and the owner's superiors (full access) may;
-- Max may, by his manage_sharing profile, though he reads nothing. A user
-- with less than full access may not (42501), nor may one with no access,
-- and to them a record that does not exist looks the same.
SET ROLE u25_hal;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '2', 'user', 'Eve', 'read')$$) AS superior;
SET ROLE u25_max;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '5', 'user', 'Eve', 'read')$$) AS manager;
SELECT count(*) AS max_reads FROM t25;
SET ROLE u25_cat;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '3', 'user', 'Eve', 'read')$$) AS read_write_share;
SELECT pg_temp.try($$SELECT sharing.unshare_record('t25', '3', 'role_and_subordinates', 'Other')$$) AS read_write_unshare;
SET ROLE u25_ben;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '2', 'user', 'Ben', 'read')$$) AS no_access;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '99', 'user', 'Eve', 'read')$$) AS no_such_record;
-- Full access through a share is full access: Eve (read_write_delete on
-- record 1 through Friends) may share it on.
SET ROLE u25_eve;
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '1', 'user', 'Ben', 'read')$$) AS reshare;
RESET ROLE;
SELECT * FROM pg_temp.shares();

-- Bad input: a record that does not exist or is no key of the table's
-- type (22023, for someone who may share), a bad recipient type (22023),
-- an unknown recipient (42704), a bad level (22023), a child table or an
-- unprotected table (22023).
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '99', 'user', 'Eve', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', 'abc', 'user', 'Eve', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', NULL, 'user', 'Eve', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '1', 'all_users', NULL, 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '1', 'user', 'Nobody', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '1', 'group', 'Nobody', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.share_record('t25', '1', 'user', 'Eve', 'owner')$$);
CREATE TABLE t25_notes (id bigint PRIMARY KEY, t25_id bigint NOT NULL, note text);
SELECT sharing.protect_child('t25_notes', 't25_id', 't25');
INSERT INTO t25_notes VALUES (1, 1, 'n');
SELECT pg_temp.try($$SELECT sharing.share_record('t25_notes', '1', 'user', 'Eve', 'read')$$);
CREATE TABLE t25_plain (id bigint PRIMARY KEY, owner_id bigint);
SELECT pg_temp.try($$SELECT sharing.share_record('t25_plain', '1', 'user', 'Eve', 'read')$$);

-- A record id is filed as the key's type prints it: '05' is record 5, and
-- unsharing, explaining and the cleanup on delete all find the share.
SELECT sharing.share_record('t25', '05', 'user', 'Eve', 'read_write');
SELECT * FROM pg_temp.shares() WHERE record_id = '5';
SELECT access, reason, detail FROM sharing.explain_access(6, 't25', '5') ORDER BY reason;
SELECT sharing.unshare_record('t25', '005', 'user', 'Eve');
SELECT count(*) AS shares_of_5 FROM sharing.shares WHERE record_id IN ('5', '05', '005');

-- expires_at: a time in the past is refused (22023); a future one grants
-- until it passes, with nothing to run: here a superuser moves it into
-- the past, and the share stops granting at once.
SELECT regexp_replace(pg_temp.try($$SELECT sharing.share_record('t25', '5', 'user', 'Eve', 'read', now() - interval '1 day')$$),
                      'expires_at .* is', 'expires_at <yesterday> is') AS past;
SELECT sharing.share_record('t25', '5', 'user', 'Eve', 'read', now() + interval '1 day');
SET ROLE u25_eve;
SELECT pg_temp.reach('t25') AS eve;
RESET ROLE;
SELECT sharing.can_read(6, 't25', '5') AS can_read_before;
UPDATE sharing.shares SET expires_at = statement_timestamp() - interval '1 second'
 WHERE tbl = 't25'::regclass AND record_id = '5';
SET ROLE u25_eve;
SELECT pg_temp.reach('t25') AS eve;
RESET ROLE;
SELECT sharing.can_read(6, 't25', '5') AS can_read_after,
       (SELECT count(*) FROM sharing.explain_access(6, 't25', '5')) AS paths_after;

-- Shares go with their record: deleting record 1 (as its owner) removes
-- its shares; a new record with the same id inherits nothing.
SELECT count(*) AS shares_of_1 FROM sharing.shares WHERE tbl = 't25'::regclass AND record_id = '1';
SET ROLE u25_ann;
DELETE FROM t25 WHERE id = 1;
INSERT INTO t25 VALUES (1, 2, 'again');
SET ROLE u25_eve;
SELECT pg_temp.reach('t25') AS eve;
RESET ROLE;
SELECT count(*) AS shares_of_1 FROM sharing.shares WHERE tbl = 't25'::regclass AND record_id = '1';
-- A record whose key changes loses its shares (they are filed by key):
-- Hal gives record 2, shared with Other and Eve, the key 6, and a new
-- record 2 shares nothing with anyone.
SELECT record_id, to_type, recipient FROM pg_temp.shares() WHERE record_id IN ('2', '6');
SET ROLE u25_hal;
UPDATE t25 SET id = 6 WHERE id = 2;
INSERT INTO t25 VALUES (2, 1, 'new record 2');
RESET ROLE;
SELECT record_id, to_type, recipient FROM pg_temp.shares() WHERE record_id IN ('2', '6');
SET ROLE u25_eve;
SELECT pg_temp.reach('t25') AS eve;
RESET ROLE;
-- ... and TRUNCATE removes every share of the table.
SELECT count(*) AS shares_left FROM sharing.shares WHERE tbl = 't25'::regclass;
TRUNCATE t25, t25_notes;
SELECT count(*) AS shares_left FROM sharing.shares WHERE tbl = 't25'::regclass;
ROLLBACK;
