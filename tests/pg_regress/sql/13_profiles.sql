-- Profiles ("roles observe, profiles act"): the predefined profiles,
-- create_profile, and set_profile_permission on a protected table.
BEGIN;
\set SHOW_CONTEXT never
-- Runs a statement; 'ok', or the error's SQLSTATE and message.
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- Every per-table permission row, by name.
CREATE FUNCTION pg_temp.permissions() RETURNS TABLE (profile text, tbl regclass, can_create boolean,
                                                     can_read boolean, can_edit boolean, can_delete boolean)
LANGUAGE sql AS $$
    SELECT p.name, pp.tbl, pp.can_create, pp.can_read, pp.can_edit, pp.can_delete
      FROM sharing.profile_permissions pp JOIN sharing.profiles p ON p.id = pp.profile_id
     ORDER BY 1, 2::text
$$;

-- predefined: administrator (manage_sharing, view_all, modify_all) and
-- standard (none of those)
SELECT name, manage_sharing, view_all, modify_all FROM sharing.profiles ORDER BY name;

-- create_profile returns the id of the new row; every flag defaults to false
SELECT sharing.create_profile('light agent') AS light_id \gset
SELECT name, manage_sharing, view_all, modify_all FROM sharing.profiles WHERE id = :light_id;
SELECT sharing.create_profile('sharing manager', manage_sharing => true) > 0 AS created;
SELECT sharing.create_profile('auditor', view_all => true) > 0 AS created;
SELECT sharing.create_profile('data steward', false, true, true) > 0 AS created;
-- a NULL flag is false
SELECT sharing.create_profile('nulls', NULL, NULL, NULL) > 0 AS created;
SELECT name, manage_sharing, view_all, modify_all FROM sharing.profiles ORDER BY name;
-- names are unique and not empty
SELECT pg_temp.try($$SELECT sharing.create_profile('standard')$$);
SELECT pg_temp.try($$SELECT sharing.create_profile('auditor', view_all => false)$$);
SELECT pg_temp.try($$SELECT sharing.create_profile('')$$);
SELECT pg_temp.try($$SELECT sharing.create_profile(NULL)$$);

-- the predefined profiles keep their name and flags, and cannot be deleted
SELECT pg_temp.try($$UPDATE sharing.profiles SET view_all = true WHERE name = 'standard'$$);
SELECT pg_temp.try($$UPDATE sharing.profiles SET name = 'admin' WHERE name = 'administrator'$$);
SELECT pg_temp.try($$DELETE FROM sharing.profiles WHERE name = 'standard'$$);
-- (a no-op update is no change)
SELECT pg_temp.try($$UPDATE sharing.profiles SET view_all = view_all WHERE name = 'standard'$$);
-- a custom profile can be changed directly by an admin
UPDATE sharing.profiles SET name = 'null flags' WHERE name = 'nulls';
DELETE FROM sharing.profiles WHERE name = 'null flags';

-- per-table permissions: a protected table with a bigint key and owner
CREATE TABLE t13_cases (id bigint PRIMARY KEY, owner_id bigint NOT NULL, subject text);
CREATE TABLE t13_notes (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
SELECT sharing.protect('t13_cases');
SELECT sharing.protect('t13_notes');
-- no rows yet: every action is allowed by default
SELECT count(*) AS permission_rows FROM sharing.profile_permissions;
-- a "light agent" may not edit cases; the other actions stay allowed
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'edit', false);
SELECT * FROM pg_temp.permissions();
-- each action has its own flag, and a second call keeps the first
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'delete', false);
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'create', false);
SELECT * FROM pg_temp.permissions();
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'create', true);
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'read', false);
SELECT * FROM pg_temp.permissions();
-- setting the same value again changes nothing
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'read', false);
SELECT * FROM pg_temp.permissions();
-- per profile and per table
SELECT sharing.set_profile_permission('data steward', 't13_cases', 'delete', false);
SELECT sharing.set_profile_permission('light agent', 't13_notes', 'edit', false);
SELECT sharing.set_profile_permission('standard', 't13_notes', 'delete', false);
SELECT * FROM pg_temp.permissions();

-- bad input: an unknown action, profile or table, a table that is not
-- protected, a NULL allowed
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_cases', 'update', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_cases', 'EDIT', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_cases', NULL, false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('no such profile', 't13_cases', 'edit', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission(NULL, 't13_cases', 'edit', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_no_such_table', 'edit', false)$$);
CREATE TABLE t13_unprotected (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_unprotected', 'edit', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', NULL, 'edit', false)$$);
SELECT pg_temp.try($$SELECT sharing.set_profile_permission('light agent', 't13_cases', 'edit', NULL)$$);
-- none of them changed anything
SELECT * FROM pg_temp.permissions();

-- the flags act: an owner with the light agent profile reads their case
-- but may not edit or delete it; the data steward (modify_all) may edit
-- every case but delete none; a standard user is unaffected on cases
SELECT sharing.set_profile_permission('light agent', 't13_cases', 'read', true);
SELECT sharing.create_role('Support') > 0 AS created;
SELECT sharing.create_user('Lena Light', 'Support', 'light agent', id => 1301);
SELECT sharing.create_user('Stan Steward', 'Support', 'data steward', id => 1302);
SELECT sharing.create_user('Sid Standard', 'Support', id => 1303);
INSERT INTO t13_cases VALUES (1, 1301, 'Lena''s case'), (2, 1303, 'Sid''s case');
SELECT u.name, c.id AS case_id,
       sharing.can_read(u.id, 't13_cases', c.id::text) AS can_read,
       sharing.can_edit(u.id, 't13_cases', c.id::text) AS can_edit,
       sharing.can_delete(u.id, 't13_cases', c.id::text) AS can_delete
  FROM sharing.users u CROSS JOIN t13_cases c
 ORDER BY u.name, c.id;

-- unprotecting a table removes its permission rows
SELECT sharing.unprotect('t13_notes');
SELECT * FROM pg_temp.permissions();
ROLLBACK;
