-- The role hierarchy: a superior reaches (reads, edits, deletes) the
-- records of users below them at every depth; peers (same role) do not,
-- unless the role shares with peers (then read only); grant_via_hierarchy
-- false stops superiors (not peers); moving a role takes effect at once;
-- inactive owners' records stay reachable; inactive users reach nothing.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- CEO > VP > Manager (Mona, Max) > Rep (Rita, Rick); Support (Sue) under
-- CEO; Nora has no role. Each user owns one record: user N owns record N0.
CREATE ROLE u22_ceo LOGIN;
CREATE ROLE u22_vp LOGIN;
CREATE ROLE u22_mona LOGIN;
CREATE ROLE u22_rita LOGIN;
CREATE ROLE u22_rick LOGIN;
CREATE ROLE u22_max LOGIN;
CREATE ROLE u22_sue LOGIN;
CREATE ROLE u22_nora LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('CEO');
    PERFORM sharing.create_role('VP', parent => 'CEO');
    PERFORM sharing.create_role('Manager', parent => 'VP');
    PERFORM sharing.create_role('Rep', parent => 'Manager');
    PERFORM sharing.create_role('Support', parent => 'CEO');
    PERFORM sharing.create_user('Cleo', 'CEO', db_role => 'u22_ceo', id => 1);
    PERFORM sharing.create_user('Vic', 'VP', db_role => 'u22_vp', id => 2);
    PERFORM sharing.create_user('Mona', 'Manager', db_role => 'u22_mona', id => 3);
    PERFORM sharing.create_user('Rita', 'Rep', db_role => 'u22_rita', id => 4);
    PERFORM sharing.create_user('Rick', 'Rep', db_role => 'u22_rick', id => 5);
    PERFORM sharing.create_user('Max', 'Manager', db_role => 'u22_max', id => 6);
    PERFORM sharing.create_user('Sue', 'Support', db_role => 'u22_sue', id => 7);
    PERFORM sharing.create_user('Nora', NULL, db_role => 'u22_nora', id => 8);
END $$;

CREATE TABLE t22 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t22 TO PUBLIC;
INSERT INTO t22 SELECT n * 10, n, 'user ' || n FROM generate_series(1, 8) n;
SELECT sharing.protect('t22');

-- Superiors reach their subordinates' records at every depth with full
-- access. Peers reach nothing of each other: Mona and Max both reach the
-- Reps' records, but not each other's; Rita does not reach Rick's. Sue's
-- branch is apart; Nora, without a role, is nobody's subordinate.
SET ROLE u22_ceo;
SELECT pg_temp.reach('t22') AS ceo;
SET ROLE u22_vp;
SELECT pg_temp.reach('t22') AS vp;
SET ROLE u22_mona;
SELECT pg_temp.reach('t22') AS manager_mona;
SET ROLE u22_max;
SELECT pg_temp.reach('t22') AS manager_max;
SET ROLE u22_rita;
SELECT pg_temp.reach('t22') AS rep_rita;
SET ROLE u22_sue;
SELECT pg_temp.reach('t22') AS support_sue;
SET ROLE u22_nora;
SELECT pg_temp.reach('t22') AS no_role_nora;
RESET ROLE;

-- share_with_peers on Rep: Rita and Rick read each other's records, but
-- neither edits nor deletes them. Manager does not share with peers, so
-- Mona and Max still see nothing of each other.
UPDATE sharing.roles SET share_with_peers = true WHERE name = 'Rep';
SET ROLE u22_rita;
SELECT pg_temp.reach('t22') AS rep_rita;
SET ROLE u22_rick;
SELECT pg_temp.reach('t22') AS rep_rick;
SET ROLE u22_mona;
SELECT pg_temp.reach('t22') AS manager_mona;
RESET ROLE;
-- A role created with share_with_peers behaves the same.
SELECT sharing.create_role('Pair', share_with_peers => true) IS NOT NULL AS created;
SELECT sharing.alter_user('Max', '{"role": "Pair"}');
SELECT sharing.alter_user('Sue', '{"role": "Pair"}');
SET ROLE u22_max;
SELECT pg_temp.reach('t22') AS max_in_pair;
RESET ROLE;
SELECT sharing.alter_user('Max', '{"role": "Manager"}');
SELECT sharing.alter_user('Sue', '{"role": "Support"}');

-- grant_via_hierarchy => false: superiors reach nothing of their
-- subordinates; peers that share still read each other's records.
CREATE TABLE t22_flat (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t22_flat TO PUBLIC;
INSERT INTO t22_flat SELECT id, owner_id, note FROM t22;
SELECT sharing.protect('t22_flat', grant_via_hierarchy => false);
SET ROLE u22_ceo;
SELECT pg_temp.reach('t22_flat') AS ceo;
SET ROLE u22_mona;
SELECT pg_temp.reach('t22_flat') AS manager_mona;
SET ROLE u22_rita;
SELECT pg_temp.reach('t22_flat') AS rep_rita;
RESET ROLE;

-- move_role takes effect at once, for every table: Rep moves under
-- Support. Mona and Vic lose Rita's and Rick's records, Sue gains them,
-- Cleo keeps them.
SELECT sharing.move_role('Rep', 'Support');
SET ROLE u22_mona;
SELECT pg_temp.reach('t22') AS manager_mona;
SET ROLE u22_vp;
SELECT pg_temp.reach('t22') AS vp;
SET ROLE u22_sue;
SELECT pg_temp.reach('t22') AS support_sue;
SET ROLE u22_ceo;
SELECT pg_temp.reach('t22') AS ceo;
RESET ROLE;
-- Moved to the top of the forest, Rep has no superiors at all.
SELECT sharing.move_role('Rep', NULL);
SET ROLE u22_ceo;
SELECT pg_temp.reach('t22') AS ceo;
RESET ROLE;
SELECT sharing.move_role('Rep', 'Manager');

-- An inactive owner's records stay reachable by everyone else's paths:
-- Rick is deactivated; his superiors still reach record 50 with full
-- access and his peer Rita still reads it.
SELECT sharing.alter_user('Rick', '{"active": false}');
SET ROLE u22_mona;
SELECT pg_temp.reach('t22') AS manager_mona;
SET ROLE u22_rita;
SELECT pg_temp.reach('t22') AS rep_rita;
-- Rick himself reaches nothing, not even his own record, and cannot insert.
SET ROLE u22_rick;
SELECT pg_temp.reach('t22') AS inactive_rick;
SELECT pg_temp.try($$INSERT INTO t22 VALUES (51, 5, 'new')$$) AS inactive_insert;
RESET ROLE;
-- An inactive superior reaches nothing either, while the hierarchy above
-- still reaches through the inactive user's role.
SELECT sharing.alter_user('Mona', '{"active": false}');
SET ROLE u22_mona;
SELECT pg_temp.reach('t22') AS inactive_mona;
SET ROLE u22_vp;
SELECT pg_temp.reach('t22') AS vp;
RESET ROLE;
-- Reactivated, Rick has his access back at once.
SELECT sharing.alter_user('Rick', '{"active": true}');
SET ROLE u22_rick;
SELECT pg_temp.reach('t22') AS rick_again;
RESET ROLE;
ROLLBACK;
