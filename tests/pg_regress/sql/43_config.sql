-- Config as code: export_config writes the whole model as one document;
-- apply_config makes the model equal to a document, reports each change,
-- changes nothing the second time, changes nothing on a dry run, refuses a
-- bad document with its JSON path and SQLSTATE, all or nothing; both are
-- for admins only.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- The same, with the error's hint.
CREATE FUNCTION pg_temp.try_hint(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE cmd;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (hint: ' || nullif(hint, '') || ')', '');
END $$;
-- A document with the future expiry of its shares replaced by a mark, for
-- printing.
CREATE FUNCTION pg_temp.printable(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(doc, '{shares}', coalesce((
        SELECT jsonb_agg(CASE WHEN s.value ? 'expires_at' THEN s.value || '{"expires_at": "<in 30 days>"}' ELSE s.value END
                         ORDER BY s.n)
          FROM jsonb_array_elements(doc -> 'shares') WITH ORDINALITY AS s (value, n)), '[]'))
$$;
-- A document edited: in array `section`, every element containing `match`
-- gets `patch` merged in (a JSON null patch removes the element).
CREATE FUNCTION pg_temp.edit(doc jsonb, section text, match jsonb, patch jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(doc, ARRAY[section], coalesce((
        SELECT jsonb_agg(CASE WHEN e.value @> match THEN e.value || patch ELSE e.value END ORDER BY e.n)
          FROM jsonb_array_elements(doc -> section) WITH ORDINALITY AS e (value, n)
         WHERE NOT (e.value @> match AND patch = 'null')), '[]'))
$$;
-- What each user of this test reaches: accounts read and edited, notes
-- read, leads read (one line per user, through their login role).
CREATE FUNCTION pg_temp.seen() RETURNS TABLE (who text, accounts text, edits text, notes text, leads text)
LANGUAGE plpgsql AS $$
BEGIN
    FOREACH who IN ARRAY ARRAY['cleo', 'sid', 'rex', 'rae', 'sue', 'stu', 'opal'] LOOP
        PERFORM set_config('role', 't43_' || who, true);
        SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') INTO accounts FROM t43_accounts;
        BEGIN
            WITH u AS (UPDATE t43_accounts SET note = 'x' RETURNING id)
            SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') INTO edits FROM u;
            RAISE SQLSTATE 'U0001';
        EXCEPTION WHEN SQLSTATE 'U0001' THEN NULL;
        END;
        SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') INTO notes FROM t43_notes;
        SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') INTO leads FROM t43_leads;
        RETURN NEXT;
    END LOOP;
    RESET ROLE;
END $$;

-- ------------------------------------------------------------------ a model
-- CEO (Cleo) > Sales (Sid) > Reps (Rex, Rae);
-- CEO > Support (Sue, with the "agent light" profile that may not edit
-- leads; Stu, inactive; share_with_peers). Opal has no role and the "ops" profile
-- (manage_sharing). Groups: East = {user Rex, role Support}; All Sales =
-- {group East, role Sales and subordinates}. Tables: accounts (private),
-- its child notes, leads (public_read, no hierarchy). Rules: Reps' accounts
-- to Support; New York accounts to East (read_write, superiors allowed);
-- an inactive one. Shares: account 4 with Sue; account 6 with East until
-- 30 days from now.
CREATE ROLE t43_cleo LOGIN;
CREATE ROLE t43_sid LOGIN;
CREATE ROLE t43_rex LOGIN;
CREATE ROLE t43_rae LOGIN;
CREATE ROLE t43_sue LOGIN;
CREATE ROLE t43_stu LOGIN;
CREATE ROLE t43_opal LOGIN;
CREATE ROLE t43_admin LOGIN IN ROLE sharing_admin;
CREATE TABLE t43_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text, note text);
CREATE TABLE t43_notes (id bigint PRIMARY KEY, account_id bigint NOT NULL);
CREATE TABLE t43_leads (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON t43_accounts, t43_notes, t43_leads TO PUBLIC;
INSERT INTO t43_accounts VALUES (1, 4303, 'New York', NULL), (2, 4304, 'Boston', NULL), (3, 4302, 'New York', NULL),
                                (4, 4301, 'Paris', NULL), (5, 4305, 'Paris', NULL), (6, 4301, 'Boston', NULL);
INSERT INTO t43_notes VALUES (10, 1), (40, 4);
INSERT INTO t43_leads VALUES (100, 4303), (500, 4305);
DO $$
BEGIN
    PERFORM sharing.create_role('CEO');
    PERFORM sharing.create_role('Sales', 'CEO');
    PERFORM sharing.create_role('Reps', 'Sales');
    PERFORM sharing.create_role('Support', 'CEO', share_with_peers => true);
    PERFORM sharing.create_profile('agent light');
    PERFORM sharing.create_profile('ops', manage_sharing => true);
    PERFORM sharing.create_user('Cleo', 'CEO', db_role => 't43_cleo', id => 4301);
    PERFORM sharing.create_user('Sid', 'Sales', db_role => 't43_sid', id => 4302);
    PERFORM sharing.create_user('Rex', 'Reps', db_role => 't43_rex', id => 4303);
    PERFORM sharing.create_user('Rae', 'Reps', db_role => 't43_rae', id => 4304);
    PERFORM sharing.create_user('Sue', 'Support', 'agent light', db_role => 't43_sue', id => 4305);
    PERFORM sharing.create_user('Stu', 'Support', db_role => 't43_stu', id => 4306);
    PERFORM sharing.alter_user('Stu', '{"active": false}');
    PERFORM sharing.create_user('Opal', NULL, 'ops', db_role => 't43_opal', id => 4307);
    PERFORM sharing.create_group('East');
    PERFORM sharing.add_to_group('East', 'user', 'Rex');
    PERFORM sharing.add_to_group('East', 'role', 'Support');
    PERFORM sharing.create_group('All Sales');
    PERFORM sharing.add_to_group('All Sales', 'group', 'East');
    PERFORM sharing.add_to_group('All Sales', 'role_and_subordinates', 'Sales');
    PERFORM sharing.protect('t43_accounts');
    PERFORM sharing.protect_child('t43_notes', 'account_id', 't43_accounts');
    PERFORM sharing.protect('t43_leads', default_access => 'public_read', grant_via_hierarchy => false);
    PERFORM sharing.set_profile_permission('agent light', 't43_leads', 'edit', false);
    PERFORM sharing.create_owner_rule('t43_accounts', 'Reps to support', 'role', 'Reps', 'role', 'Support', 'read');
    PERFORM sharing.create_criteria_rule('t43_accounts', 'NY to East',
        '{"conditions": [{"column": "city", "op": "=", "value": "New York"}]}', 'group', 'East', 'read_write', true);
    PERFORM sharing.set_rule_active(sharing.create_owner_rule('t43_accounts', 'Old', 'group', 'East', 'all_users', NULL, 'read'),
                                    false);
    PERFORM sharing.share_record('t43_accounts', '4', 'user', 'Sue', 'read');
    PERFORM sharing.share_record('t43_accounts', '6', 'group', 'East', 'read_write', now() + interval '30 days');
END $$;
SELECT * FROM pg_temp.seen();

-- ------------------------------------------------------------------ export
-- The whole model as one document: roles with parents, profiles with
-- per-table permissions (the predefined ones included), users with ids,
-- login roles and the inactive one, groups with nested members, tables
-- (parents before children), rules (criteria as given, the inactive one),
-- shares.
SELECT sharing.export_config() AS doc \gset
SELECT jsonb_pretty(pg_temp.printable(:'doc'));
-- The expiry is exported exactly (UTC, microseconds).
SELECT (:'doc'::jsonb #>> '{shares,1,expires_at}') ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS iso_utc,
       (:'doc'::jsonb #>> '{shares,1,expires_at}')::timestamptz
           = (SELECT expires_at FROM sharing.shares WHERE record_id = '6') AS exact;
-- Exporting again gives the same document.
SELECT sharing.export_config() = :'doc' AS same_again;

-- ---------------------------------------------------------------- idempotent
-- Applying the exported document to the same model changes nothing and
-- reports nothing, with or without a dry run.
SELECT count(*) AS planned FROM sharing.apply_config(:'doc', dry_run => true);
SELECT count(*) AS applied FROM sharing.apply_config(:'doc');
SELECT sharing.export_config() = :'doc' AS unchanged;

-- ------------------------------------------------------- from an empty model
-- An empty document removes everything but the profiles: rules, shares,
-- groups, protections and roles go; users are deactivated (they keep their
-- ids, which owner columns hold) and lose the roles that go.
SAVEPOINT empty;
SELECT string_agg(format('%s: %s/%s/%s/%s', who, accounts, edits, notes, leads), '; ' ORDER BY who) AS seen_before
  FROM pg_temp.seen() \gset
SELECT * FROM sharing.apply_config('{"version": 1}');
SELECT (SELECT count(*) FROM sharing.roles) AS roles, (SELECT count(*) FROM sharing.groups) AS groups,
       (SELECT count(*) FROM sharing.rules) AS rules, (SELECT count(*) FROM sharing.shares) AS shares,
       (SELECT count(*) FROM sharing.protected_tables) AS tables,
       (SELECT count(*) FROM sharing.users WHERE active OR role_id IS NOT NULL) AS users_left;
-- (and the users and custom profiles deleted by hand: an empty model)
DELETE FROM sharing.users WHERE id BETWEEN 4301 AND 4307;
DELETE FROM sharing.profiles WHERE name IN ('agent light', 'ops');
-- A dry run reports what applying the document would do, and does nothing.
SELECT array_agg(c) AS planned FROM sharing.apply_config(:'doc', dry_run => true) c \gset
SELECT c AS planned_change FROM unnest(:'planned'::text[]) WITH ORDINALITY AS p (c, n) ORDER BY n;
SELECT (SELECT count(*) FROM sharing.roles) AS roles, (SELECT count(*) FROM sharing.users) AS users,
       (SELECT count(*) FROM sharing.protected_tables) AS tables;
-- Applying does exactly that; the model is the exported one again, and
-- every user sees exactly the rows they saw.
SELECT array_agg(c) = :'planned'::text[] AS as_planned FROM sharing.apply_config(:'doc') c;
SELECT sharing.export_config() = :'doc' AS same_model;
SELECT string_agg(format('%s: %s/%s/%s/%s', who, accounts, edits, notes, leads), '; ' ORDER BY who) = :'seen_before' AS same_rows
  FROM pg_temp.seen();
-- The second time, nothing.
SELECT count(*) AS applied_again FROM sharing.apply_config(:'doc');
ROLLBACK TO SAVEPOINT empty;

-- ------------------------------------------------------- a modified document
-- Support moved under Sales, Rae deactivated, Reps to support at
-- read_write, Rex out of East, account 4 no longer shared with Sue.
SELECT pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(:'doc',
           'roles', '{"name": "Support"}', '{"parent": "Sales"}'),
           'users', '{"name": "Rae"}', '{"active": false}'),
           'rules', '{"name": "Reps to support"}', '{"access": "read_write"}'),
           'groups', '{"name": "East"}', '{"members": [{"type": "role", "name": "Support"}]}'),
           'shares', '{"record_id": "4", "to_name": "Sue"}', 'null') AS doc2 \gset
-- The dry run reports exactly those changes and changes nothing.
SELECT * FROM sharing.apply_config(:'doc2', dry_run => true);
SELECT sharing.export_config() = :'doc' AS unchanged;
-- Applying reports the same and takes effect at once: Sid (Sales) now
-- reaches Support's records through the hierarchy (Sue's 5), Rae sees
-- nothing, Sue edits the Reps' accounts (Rae's 2), Rex no longer reaches
-- what East does (the New York account 3, the share of 6), Sue no longer
-- reads account 4.
SELECT * FROM pg_temp.seen();
SELECT * FROM sharing.apply_config(:'doc2');
SELECT * FROM pg_temp.seen();
SELECT sharing.export_config() = :'doc2' AS model_is_doc2;
SELECT count(*) AS applied_again FROM sharing.apply_config(:'doc2');
-- Back to the first document: the reverse changes.
SELECT * FROM sharing.apply_config(:'doc');
SELECT sharing.export_config() = :'doc' AS model_is_doc;
-- Record ids are compared as the table's key reads them: "04" is record 4,
-- so nothing changes.
SELECT count(*) AS applied FROM sharing.apply_config(pg_temp.edit(:'doc', 'shares', '{"record_id": "4"}', '{"record_id": "04"}'));

-- More changes a document may make in one go, whatever its order:
-- the hierarchy turned upside down (Reps at the top), the nesting of
-- groups reversed (listed East first), a user renamed (matched by id), a
-- rule changing type (dropped and created anew), a new table with a child
-- table listed before it, a new role, profile and table permission.
SAVEPOINT reshaped;
CREATE TABLE t43_projects (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
CREATE TABLE t43_tasks (id bigint PRIMARY KEY, project_id bigint NOT NULL);
SELECT pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(pg_temp.edit(:'doc',
           'roles', '{"name": "Reps"}', '{"parent": null}'),
           'roles', '{"name": "Sales"}', '{"parent": "Reps"}'),
           'roles', '{"name": "CEO"}', '{"parent": "Sales"}'),
           'groups', '{"name": "All Sales"}', '{"members": [{"type": "role_and_subordinates", "name": "Sales"}]}'),
           'groups', '{"name": "East"}', '{"members": [{"type": "group", "name": "All Sales"}, {"type": "user", "name": "Rex Ray"}]}'),
           'users', '{"name": "Rex"}', '{"name": "Rex Ray"}'),
           'rules', '{"name": "Old"}', '{"type": "criteria", "from_type": null, "from_name": null,
                                         "criteria": {"conditions": [{"column": "city", "op": "=", "value": "Paris"}]}}') AS doc3 \gset
SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'doc3'::jsonb,
           '{groups}', (SELECT jsonb_agg(g ORDER BY g ->> 'name' DESC) FROM jsonb_array_elements(:'doc3'::jsonb -> 'groups') g)),
           '{tables}', '[{"table": "public.t43_tasks", "parent": "public.t43_projects", "parent_column": "project_id"}]'
                       || (:'doc3'::jsonb -> 'tables')
                       || '[{"table": "public.t43_projects", "owner_column": "owner_id"}]'),
           '{roles}', (:'doc3'::jsonb -> 'roles') || '[{"name": "Interns", "parent": "Reps"}]'),
           '{profiles}', (:'doc3'::jsonb -> 'profiles')
                         || '[{"name": "interns", "permissions": [{"table": "public.t43_leads", "create": false}]}]') AS doc3 \gset
SELECT jsonb_strip_nulls(:'doc3'::jsonb -> 'groups') AS groups, :'doc3'::jsonb -> 'tables' AS tables;
SELECT * FROM sharing.apply_config(:'doc3');
SELECT r.name, p.name AS parent FROM sharing.roles r LEFT JOIN sharing.roles p ON p.id = r.parent_id ORDER BY r.name;
SELECT count(*) AS applied_again FROM sharing.apply_config(:'doc3');
ROLLBACK TO SAVEPOINT reshaped;

-- ------------------------------------------------------------ bad documents
-- Refused before anything is done, naming the JSON path (22023): not an
-- object, an unknown key, a wrong type, another version, a missing key, an
-- undefined role, a role cycle, a group cycle, a rule on a child table, a
-- share twice.
SELECT n, pg_temp.try(format('SELECT count(*) FROM sharing.apply_config(%L)', bad)) AS result
  FROM (VALUES
    (1,  '[]'::jsonb),
    (2,  pg_temp.edit(:'doc', 'users', '{"name": "Rex"}', '{"rol": "Reps"}')),
    (3,  pg_temp.edit(:'doc', 'roles', '{"name": "Support"}', '{"share_with_peers": "yes"}')),
    (4,  jsonb_set(:'doc', '{version}', '2')),
    (5,  :'doc'::jsonb - 'version'),
    (6,  pg_temp.edit(:'doc', 'users', '{"name": "Rex"}', '{"role": "Nope"}')),
    (7,  pg_temp.edit(:'doc', 'roles', '{"name": "CEO"}', '{"parent": "Reps"}')),
    (8,  pg_temp.edit(:'doc', 'groups', '{"name": "East"}', '{"members": [{"type": "group", "name": "All Sales"}]}')),
    (9,  pg_temp.edit(:'doc', 'rules', '{"name": "Old"}', '{"table": "public.t43_notes"}')),
    (10, jsonb_set(:'doc', '{shares}', (:'doc'::jsonb -> 'shares') || (:'doc'::jsonb -> 'shares' -> 0))),
    (11, pg_temp.edit(:'doc', 'rules', '{"name": "Old"}', '{"to_type": "user", "to_name": "Rex"}')),
    (12, jsonb_set(:'doc', '{groups,0,members,0}', '{"type": "team", "name": "East"}'))
  ) AS b (n, bad)
 ORDER BY n;
-- Valid in itself but wrong for this database, refused when applied with
-- the path of the item and the SQLSTATE of the cause; whatever was done
-- before it (here a new role, created first) is undone: a table that does
-- not exist (42P01), a login role that does not exist (42704), criteria
-- for a column the table lacks (22023), a changed predefined profile
-- (0A000), an expiry that is no time (22007) or in the past (22023), a
-- record that does not exist (22023). (A wrong type is refused before.)
SELECT n, pg_temp.try(format('SELECT count(*) FROM sharing.apply_config(%L)',
                             jsonb_set(bad, '{roles}', (bad -> 'roles') || '[{"name": "Extra"}]'))) AS result
  FROM (VALUES
    (1, jsonb_set(:'doc', '{tables}', (:'doc'::jsonb -> 'tables') || '[{"table": "public.t43_missing", "owner_column": "owner_id"}]')),
    (2, pg_temp.edit(:'doc', 'users', '{"name": "Rae"}', '{"db_role": "t43_no_such_login"}')),
    (3, pg_temp.edit(:'doc', 'rules', '{"name": "NY to East"}',
                     '{"criteria": {"conditions": [{"column": "town", "op": "=", "value": "x"}]}}')),
    (4, pg_temp.edit(:'doc', 'profiles', '{"name": "standard"}', '{"view_all": true}')),
    (5, pg_temp.edit(:'doc', 'shares', '{"record_id": "6"}', '{"expires_at": "soon"}')),
    (6, pg_temp.edit(:'doc', 'shares', '{"record_id": "6"}', '{"expires_at": "2001-01-01T00:00:00Z"}')),
    (7, pg_temp.edit(:'doc', 'shares', '{"record_id": "4"}', '{"record_id": "99"}')),
    (8, pg_temp.edit(:'doc', 'profiles', '{"name": "agent light"}', '{"permissions": [{"table": "public.t43_accounts", "edit": "no"}]}'))
  ) AS b (n, bad)
 ORDER BY n;
-- (a table is named with its schema: the hint says so)
SELECT pg_temp.try_hint(format('SELECT count(*) FROM sharing.apply_config(%L)',
    jsonb_set(:'doc', '{tables}', (:'doc'::jsonb -> 'tables') || '[{"table": "t43_leads", "owner_column": "owner_id"}]')));
SELECT count(*) AS extra_roles FROM sharing.roles WHERE name = 'Extra';
SELECT sharing.export_config() = :'doc' AS unchanged;
-- NULL arguments.
SELECT pg_temp.try($$SELECT count(*) FROM sharing.apply_config(NULL)$$);
SELECT pg_temp.try(format('SELECT count(*) FROM sharing.apply_config(%L, NULL)', :'doc'));

-- ------------------------------------------------------------- who may
-- Exporting and applying are for admins: not for a plain user (42501),
-- for a sharing_admin member and for a user whose profile has
-- manage_sharing.
SET ROLE t43_rex;
SELECT pg_temp.try(format('SELECT count(*) FROM sharing.apply_config(%L)', :'doc'));
SELECT pg_temp.try(format('SELECT count(*) FROM sharing.apply_config(%L, true)', :'doc'));
SELECT pg_temp.try($$SELECT sharing.export_config()$$);
SET ROLE t43_admin;
SELECT sharing.export_config() = :'doc' AS admin_exports, count(*) AS admin_applies
  FROM sharing.apply_config(:'doc');
SET ROLE t43_opal;
SELECT sharing.export_config() = :'doc' AS ops_exports, count(*) AS ops_applies
  FROM sharing.apply_config(:'doc');
RESET ROLE;
ROLLBACK;
