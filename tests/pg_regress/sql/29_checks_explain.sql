-- The checks (access_level, can_read / can_edit / can_delete by id and by
-- row) agree with what SELECT, UPDATE and DELETE do; explain_access names
-- every path; who_can_access lists everyone; asking about someone else
-- needs manage_sharing or sharing_app.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- What the checks say a user reaches, in the form pg_temp.reach prints.
CREATE FUNCTION pg_temp.checks(tbl regclass, uid bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; u text; d text;
BEGIN
    EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FILTER (WHERE sharing.can_read($1, %1$L, id::text)),
                           string_agg(id::text, '','' ORDER BY id) FILTER (WHERE sharing.can_edit($1, %1$L, id::text)),
                           string_agg(id::text, '','' ORDER BY id) FILTER (WHERE sharing.can_delete($1, %1$L, id::text))
                      FROM %1$s', tbl) USING uid INTO r, u, d;
    RETURN format('read: %s | update: %s | delete: %s', coalesce(r, '-'), coalesce(u, '-'), coalesce(d, '-'));
END $$;
-- pg_temp.reach as another login role.
CREATE FUNCTION pg_temp.reach_as(who name, tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    PERFORM set_config('role', who, true);
    result := pg_temp.reach(tbl);
    PERFORM set_config('role', 'none', true);
    RETURN result;
END $$;

-- CEO (Cleo) > Mgr (Mona) > Rep (Rita, Rick, Ian; peers share) ; CEO >
-- Support (Sue); Partner (Pat); Vic (view_all), Mo (modify_all), Max
-- (manage_sharing) have no role. Ian is inactive.
CREATE ROLE u29_cleo LOGIN;
CREATE ROLE u29_mona LOGIN;
CREATE ROLE u29_rita LOGIN;
CREATE ROLE u29_rick LOGIN;
CREATE ROLE u29_sue LOGIN;
CREATE ROLE u29_vic LOGIN;
CREATE ROLE u29_mo LOGIN;
CREATE ROLE u29_ian LOGIN;
CREATE ROLE u29_max LOGIN;
CREATE ROLE u29_pat LOGIN;
CREATE ROLE u29_app LOGIN IN ROLE sharing_app;
CREATE ROLE u29_stranger LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('CEO');
    PERFORM sharing.create_role('Mgr', parent => 'CEO');
    PERFORM sharing.create_role('Rep', parent => 'Mgr', share_with_peers => true);
    PERFORM sharing.create_role('Support', parent => 'CEO');
    PERFORM sharing.create_role('Partner');
    PERFORM sharing.create_profile('viewer', view_all => true);
    PERFORM sharing.create_profile('modifier', modify_all => true);
    PERFORM sharing.create_profile('sharing manager', manage_sharing => true);
    PERFORM sharing.create_user('Cleo', 'CEO', db_role => 'u29_cleo', id => 1);
    PERFORM sharing.create_user('Mona', 'Mgr', db_role => 'u29_mona', id => 2);
    PERFORM sharing.create_user('Rita', 'Rep', db_role => 'u29_rita', id => 3);
    PERFORM sharing.create_user('Rick', 'Rep', db_role => 'u29_rick', id => 4);
    PERFORM sharing.create_user('Sue', 'Support', db_role => 'u29_sue', id => 5);
    PERFORM sharing.create_user('Vic', NULL, profile => 'viewer', db_role => 'u29_vic', id => 6);
    PERFORM sharing.create_user('Mo', NULL, profile => 'modifier', db_role => 'u29_mo', id => 7);
    PERFORM sharing.create_user('Ian', 'Rep', db_role => 'u29_ian', id => 8);
    PERFORM sharing.create_user('Max', NULL, profile => 'sharing manager', db_role => 'u29_max', id => 9);
    PERFORM sharing.create_user('Pat', 'Partner', db_role => 'u29_pat', id => 10);
END $$;

-- Records: 1 Rita (New York), 2 Rick (Boston), 3 Mona, 4 Sue, 5 Ian.
CREATE TABLE t29 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text, note text);
CREATE TABLE t29_notes (id bigint PRIMARY KEY, t29_id bigint NOT NULL, note text);
CREATE TABLE t29_pub (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t29, t29_notes, t29_pub TO PUBLIC;
INSERT INTO t29 VALUES (1, 3, 'New York', ''), (2, 4, 'Boston', ''), (3, 2, 'Chicago', ''), (4, 5, 'Denver', ''), (5, 8, 'Austin', '');
INSERT INTO t29_notes VALUES (11, 1, ''), (21, 2, '');
INSERT INTO t29_pub VALUES (1, 3, '');
SELECT sharing.protect('t29');
SELECT sharing.protect_child('t29_notes', 't29_id', 't29');
SELECT sharing.protect('t29_pub', default_access => 'public_read');
-- An owner rule (Rep records to Support, read), a criteria rule (Boston
-- to Partner, read_write), shares by Rita (record 1 to Pat, full) and by
-- Mona (record 1 to Support, read).
SELECT sharing.create_owner_rule('t29', 'Reps to support', 'role', 'Rep', 'role', 'Support', 'read') IS NOT NULL AS created;
SELECT sharing.create_criteria_rule('t29', 'Boston to partners', '{"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}',
                                    'role', 'Partner', 'read_write') IS NOT NULL AS created;
SET ROLE u29_rita;
SELECT sharing.share_record('t29', '1', 'user', 'Pat', 'read_write_delete');
SET ROLE u29_mona;
SELECT sharing.share_record('t29', '1', 'role', 'Support', 'read');
RESET ROLE;
SELECT sharing.alter_user('Ian', '{"active": false}');

-- The level sharing grants each user on each record (before the profile's
-- action flags).
SELECT u.id, u.name,
       sharing.access_level(u.id, 't29', '1') AS r1, sharing.access_level(u.id, 't29', '2') AS r2,
       sharing.access_level(u.id, 't29', '3') AS r3, sharing.access_level(u.id, 't29', '4') AS r4,
       sharing.access_level(u.id, 't29', '5') AS r5
  FROM sharing.users u ORDER BY u.id;
-- For every user, what the policies let them do (SELECT, UPDATE, DELETE)
-- and whether can_read / can_edit / can_delete say exactly the same.
SELECT u.name, pg_temp.reach_as(u.db_role, 't29') AS policies,
       pg_temp.reach_as(u.db_role, 't29') = pg_temp.checks('t29', u.id) AS checks_agree
  FROM sharing.users u ORDER BY u.id;
SELECT u.name, pg_temp.reach_as(u.db_role, 't29_notes') AS policies,
       pg_temp.reach_as(u.db_role, 't29_notes') = pg_temp.checks('t29_notes', u.id) AS checks_agree
  FROM sharing.users u ORDER BY u.id;
-- The row signatures agree with the id signatures.
SELECT t.id, sharing.can_read(4, t) AS rick_reads, sharing.can_edit(4, t) AS rick_edits, sharing.can_delete(4, t) AS rick_deletes,
       sharing.can_read(10, t) AS pat_reads, sharing.can_edit(10, t) AS pat_edits, sharing.can_delete(10, t) AS pat_deletes
  FROM t29 t ORDER BY t.id;
SELECT n.id, sharing.can_read(10, n) AS pat_reads, sharing.can_delete(10, n) AS pat_deletes FROM t29_notes n ORDER BY n.id;
-- An unknown record, an id that is no key, and NULL are 'none', not errors;
-- an unknown or NULL user is 'none'; a table that is not protected, or a
-- value that is no row of a protected table, is an error (22023).
SELECT sharing.access_level(3, 't29', '99') AS unknown_record, sharing.access_level(3, 't29', 'abc') AS not_a_key,
       sharing.access_level(3, 't29', NULL) AS null_record, sharing.can_read(3, 't29', '99') AS can_read_unknown,
       sharing.access_level(99, 't29', '1') AS unknown_user, sharing.access_level(NULL, 't29', '1') AS null_user;
CREATE TABLE t29_plain (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO t29_plain VALUES (1, 3);
SELECT pg_temp.try($$SELECT sharing.access_level(3, 't29_plain', '1')$$);
SELECT pg_temp.try($$SELECT sharing.can_read(3, p) FROM t29_plain p$$);
SELECT pg_temp.try($$SELECT sharing.can_read(3, 42)$$);

-- explain_access lists every path that grants access.
SELECT 'Rita on 1' AS who, e.* FROM sharing.explain_access(3, 't29', '1') e;
SELECT 'Mona on 1' AS who, e.* FROM sharing.explain_access(2, 't29', '1') e;
SELECT 'Cleo on 1' AS who, e.* FROM sharing.explain_access(1, 't29', '1') e;
SELECT 'Rick on 1' AS who, e.* FROM sharing.explain_access(4, 't29', '1') e;
SELECT 'Sue on 1' AS who, e.* FROM sharing.explain_access(5, 't29', '1') e;
SELECT 'Pat on 1' AS who, e.* FROM sharing.explain_access(10, 't29', '1') e;
SELECT 'Pat on 2' AS who, e.* FROM sharing.explain_access(10, 't29', '2') e;
SELECT 'Vic on 2' AS who, e.* FROM sharing.explain_access(6, 't29', '2') e;
SELECT 'Mo on 2' AS who, e.* FROM sharing.explain_access(7, 't29', '2') e;
SELECT 'Mona on 5' AS who, e.* FROM sharing.explain_access(2, 't29', '5') e;
SELECT 'Sue on pub 1' AS who, e.* FROM sharing.explain_access(5, 't29_pub', '1') e;
SELECT 'Rita on note 11' AS who, e.* FROM sharing.explain_access(3, 't29_notes', '11') e;
SELECT 'Pat on note 21' AS who, e.* FROM sharing.explain_access(10, 't29_notes', '21') e;
-- ... and nothing when there is no path: Sue on Mona's record, the
-- inactive Ian on his own record, an unknown record.
SELECT count(*) AS sue_on_3 FROM sharing.explain_access(5, 't29', '3');
SELECT count(*) AS ian_on_5 FROM sharing.explain_access(8, 't29', '5');
SELECT count(*) AS rita_on_99 FROM sharing.explain_access(3, 't29', '99');
-- Every path explain_access shows is one the level agrees with: the
-- highest access it lists is the level, for every user and record.
SELECT count(*) AS disagreements
  FROM sharing.users u CROSS JOIN generate_series(1, 5) r
 WHERE sharing.access_level(u.id, 't29', r::text)
       <> coalesce((SELECT e.access FROM sharing.explain_access(u.id, 't29', r::text) e
                     ORDER BY sharing._level_rank(e.access) DESC LIMIT 1), 'none');

-- who_can_access: every active user with access, their level and reasons.
SELECT * FROM sharing.who_can_access('t29', '1');
SELECT * FROM sharing.who_can_access('t29_notes', '21');
SELECT count(*) AS nobody FROM sharing.who_can_access('t29', '99');

-- Anyone may ask about themselves; asking about someone else needs
-- manage_sharing or sharing_app (42501); who_can_access needs them too.
SET ROLE u29_rita;
SELECT sharing.access_level(3, 't29', '2') AS own_level, sharing.can_read(3, 't29', '2') AS own_read,
       (SELECT count(*) FROM sharing.explain_access(3, 't29', '2')) AS own_paths;
SELECT pg_temp.try($$SELECT sharing.access_level(4, 't29', '2')$$) AS about_rick;
SELECT pg_temp.try($$SELECT sharing.can_edit(4, 't29', '2')$$) AS about_rick;
SELECT pg_temp.try($$SELECT sharing.can_delete(4, t) FROM t29 t WHERE id = 1$$) AS about_rick_row;
SELECT pg_temp.try($$SELECT * FROM sharing.explain_access(4, 't29', '2')$$) AS about_rick;
SELECT pg_temp.try($$SELECT * FROM sharing.who_can_access('t29', '1')$$) AS who;
-- An unmapped role is nobody: it may ask about nobody (NULL), not others.
SET ROLE u29_stranger;
SELECT sharing.access_level(NULL, 't29', '1') AS nobody_level;
SELECT pg_temp.try($$SELECT sharing.access_level(3, 't29', '1')$$) AS about_rita;
-- manage_sharing (Max) may ask about anyone.
SET ROLE u29_max;
SELECT sharing.access_level(3, 't29', '1') AS rita_level, sharing.can_read(10, 't29', '2') AS pat_reads_2,
       (SELECT count(*) FROM sharing.who_can_access('t29', '1')) AS with_access;
-- So may a sharing_app member, with or without acting as a user.
SET ROLE u29_app;
SELECT sharing.access_level(3, 't29', '1') AS rita_level, (SELECT count(*) FROM sharing.who_can_access('t29', '1')) AS with_access;
SAVEPOINT acting;
SELECT sharing.act_as(4);
SELECT sharing.current_user_id() AS acting_as, sharing.access_level(3, 't29', '1') AS rita_level;
ROLLBACK TO SAVEPOINT acting;
RESET ROLE;
ROLLBACK;
