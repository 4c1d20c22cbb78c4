-- Config as code: the whole model as one JSON document (export_config), and
-- applying such a document (apply_config): idempotent, reporting every
-- change, all or nothing, with a dry run. Applying goes through the same
-- public functions an admin calls, so the same validation applies.

-- For admins only (42501 otherwise): the document holds the manual shares,
-- which only sharing admins may read.
CREATE FUNCTION sharing.export_config() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sharing._require_manage('export_config');
    WITH RECURSIVE table_depth (tbl, depth) AS (
        SELECT tbl, 0 FROM sharing.protected_tables WHERE parent_tbl IS NULL
        UNION ALL
        SELECT p.tbl, d.depth + 1 FROM sharing.protected_tables p JOIN table_depth d ON p.parent_tbl = d.tbl
    )
    SELECT jsonb_build_object(
        'version', 1,
        'roles', coalesce((
            SELECT jsonb_agg(jsonb_build_object('name', r.name, 'parent', p.name, 'share_with_peers', r.share_with_peers)
                             ORDER BY r.name)
              FROM sharing.roles r LEFT JOIN sharing.roles p ON p.id = r.parent_id), '[]'),
        'profiles', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'name', pr.name, 'manage_sharing', pr.manage_sharing, 'view_all', pr.view_all,
                       'modify_all', pr.modify_all,
                       'permissions', coalesce((
                           SELECT jsonb_agg(jsonb_build_object('table', pp.tbl::text, 'create', pp.can_create,
                                                               'read', pp.can_read, 'edit', pp.can_edit,
                                                               'delete', pp.can_delete) ORDER BY pp.tbl::text)
                             FROM sharing.profile_permissions pp WHERE pp.profile_id = pr.id), '[]'))
                             ORDER BY pr.name)
              FROM sharing.profiles pr), '[]'),
        'users', coalesce((
            SELECT jsonb_agg(jsonb_build_object('name', u.name, 'id', u.id, 'role', r.name, 'profile', pr.name,
                                                'db_role', u.db_role, 'active', u.active) ORDER BY u.id)
              FROM sharing.users u
              LEFT JOIN sharing.roles r ON r.id = u.role_id
              JOIN sharing.profiles pr ON pr.id = u.profile_id), '[]'),
        'groups', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'name', g.name,
                       'members', coalesce((
                           SELECT jsonb_agg(jsonb_build_object('type', gm.member_type, 'name', n.name)
                                            ORDER BY gm.member_type, n.name)
                             FROM sharing.group_members gm
                             LEFT JOIN sharing._principal_names n
                               ON n.principal_type = gm.member_type AND n.principal_id = gm.member_id
                            WHERE gm.group_id = g.id), '[]'))
                             ORDER BY g.name)
              FROM sharing.groups g), '[]'),
        'tables', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'table', p.tbl::text, 'owner_column', p.owner_column, 'default_access', p.default_access,
                       'grant_via_hierarchy', p.grant_via_hierarchy, 'parent', p.parent_tbl::text,
                       'parent_column', p.parent_column)) ORDER BY d.depth, p.tbl::text)
              FROM sharing.protected_tables p JOIN table_depth d ON d.tbl = p.tbl), '[]'),
        'rules', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'table', r.tbl::text, 'name', r.name, 'type', r.rule_type, 'from_type', r.from_type,
                       'from_name', sharing._principal_name(r.from_type, r.from_id), 'criteria', r.criteria,
                       'to_type', r.to_type, 'to_name', sharing._principal_name(r.to_type, r.to_id),
                       'access', r.access, 'superiors_allowed', r.superiors_allowed, 'active', r.active))
                             ORDER BY r.tbl::text, r.name)
              FROM sharing.rules r), '[]'),
        -- Expired shares grant nothing and are left out.
        'shares', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'table', s.tbl::text, 'record_id', s.record_id, 'to_type', s.to_type,
                       'to_name', n.name, 'access', s.access,
                       'expires_at', to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
                             ORDER BY s.tbl::text, s.record_id, s.to_type, n.name)
              FROM sharing.shares s
              LEFT JOIN sharing._principal_names n ON n.principal_type = s.to_type AND n.principal_id = s.to_id
             WHERE s.expires_at IS NULL OR s.expires_at > statement_timestamp()), '[]'))
$$;

-- Runs one step of applying a document; an error names the JSON path of
-- the item that caused it and keeps its SQLSTATE.
CREATE FUNCTION sharing._config_step(path text, statement text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    state text;
    msg text;
BEGIN
    EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RAISE EXCEPTION 'applying configuration at %: %', path, msg USING ERRCODE = state;
END
$$;

-- Makes the model equal to `doc` (already validated); returns the changes.
CREATE FUNCTION sharing._apply_config(doc jsonb) RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changes text[] := '{}';
    item jsonb;
    sub jsonb;
    i integer;
    j integer;
    path text;
    existing record;
    delta jsonb;
    rid bigint;
    target regclass;
    expires timestamptz;
BEGIN
    -- Profiles: created or updated (profiles missing from the document stay).
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'profiles') WITH ORDINALITY LOOP
        path := format('$.profiles[%s]', i);
        SELECT * INTO existing FROM sharing.profiles WHERE name = item ->> 'name';
        IF existing IS NULL THEN
            PERFORM sharing._config_step(path, format('SELECT sharing.create_profile(%L, %L, %L, %L)', item ->> 'name',
                item -> 'manage_sharing', item -> 'view_all', item -> 'modify_all'));
            changes := changes || format('create profile %s', item ->> 'name');
        ELSIF (existing.manage_sharing, existing.view_all, existing.modify_all)
              IS DISTINCT FROM ((item ->> 'manage_sharing')::boolean, (item ->> 'view_all')::boolean, (item ->> 'modify_all')::boolean) THEN
            -- (through a step: the predefined profiles refuse changes, 0A000)
            PERFORM sharing._config_step(path, format(
                'UPDATE sharing.profiles SET manage_sharing = %L, view_all = %L, modify_all = %L WHERE id = %s',
                item ->> 'manage_sharing', item ->> 'view_all', item ->> 'modify_all', existing.id));
            changes := changes || format('update profile %s', item ->> 'name');
        END IF;
    END LOOP;

    -- Roles: create the missing ones, then set every parent and peers flag,
    -- parents before children: each move then goes under a role whose own
    -- place is final, so no intermediate state has a cycle (swapping two
    -- roles' places works).
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'roles') WITH ORDINALITY LOOP
        IF NOT EXISTS (SELECT 1 FROM sharing.roles WHERE name = item ->> 'name') THEN
            PERFORM sharing._config_step(format('$.roles[%s]', i),
                format('SELECT sharing.create_role(%L, NULL, %L)', item ->> 'name', item -> 'share_with_peers'));
            changes := changes || format('create role %s', item ->> 'name');
        END IF;
    END LOOP;
    FOR item, i IN WITH RECURSIVE listed (entry, pos) AS (
                        SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'roles') WITH ORDINALITY
                    ), depth (name, d) AS (
                        SELECT l.entry ->> 'name', 0 FROM listed l WHERE l.entry ->> 'parent' IS NULL
                        UNION ALL
                        SELECT l.entry ->> 'name', depth.d + 1 FROM listed l JOIN depth ON l.entry ->> 'parent' = depth.name
                    )
                    SELECT l.entry, l.pos FROM listed l JOIN depth ON depth.name = l.entry ->> 'name'
                     ORDER BY depth.d, l.pos LOOP
        path := format('$.roles[%s]', i);
        SELECT r.share_with_peers, p.name AS parent INTO existing
          FROM sharing.roles r LEFT JOIN sharing.roles p ON p.id = r.parent_id WHERE r.name = item ->> 'name';
        IF existing.parent IS DISTINCT FROM item ->> 'parent' THEN
            PERFORM sharing._config_step(path, format('SELECT sharing.move_role(%L, %L)', item ->> 'name', item ->> 'parent'));
            changes := changes || format('move role %s under %s', item ->> 'name', coalesce(item ->> 'parent', '(top)'));
        END IF;
        IF existing.share_with_peers IS DISTINCT FROM (item ->> 'share_with_peers')::boolean THEN
            UPDATE sharing.roles SET share_with_peers = (item ->> 'share_with_peers')::boolean WHERE name = item ->> 'name';
            changes := changes || format('set share_with_peers of role %s to %s', item ->> 'name', item ->> 'share_with_peers');
        END IF;
    END LOOP;

    -- Users: created or altered; users missing from the document are deactivated.
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'users') WITH ORDINALITY LOOP
        path := format('$.users[%s]', i);
        -- The user with the document's id (renamed, when the name differs),
        -- else the one with its name.
        SELECT u.id, u.name, u.active, u.db_role::text AS db_role, r.name AS role, p.name AS profile INTO existing
          FROM sharing.users u LEFT JOIN sharing.roles r ON r.id = u.role_id JOIN sharing.profiles p ON p.id = u.profile_id
         WHERE u.id = (item ->> 'id')::bigint OR (u.name = item ->> 'name' AND NOT EXISTS (
                   SELECT 1 FROM sharing.users x WHERE x.id = (item ->> 'id')::bigint))
         ORDER BY u.id = (item ->> 'id')::bigint DESC NULLS LAST LIMIT 1;
        IF existing IS NULL OR existing.id IS NULL THEN
            PERFORM sharing._config_step(path, format('SELECT sharing.create_user(%L, %L, %L, %L, %L)', item ->> 'name',
                item ->> 'role', item ->> 'profile', item ->> 'db_role', item ->> 'id'));
            IF NOT (item ->> 'active')::boolean THEN
                PERFORM sharing._config_step(path, format('SELECT sharing.alter_user(%L, %L)', item ->> 'name', '{"active": false}'));
            END IF;
            changes := changes || format('create user %s', item ->> 'name');
        ELSE
            IF item ->> 'id' IS NOT NULL AND (item ->> 'id')::bigint <> existing.id THEN
                RAISE EXCEPTION 'applying configuration at %.id: user "%" exists with id %, not %', path,
                    item ->> 'name', existing.id, item ->> 'id' USING ERRCODE = '22023';
            END IF;
            delta := '{}';
            IF existing.name <> item ->> 'name' THEN delta := delta || jsonb_build_object('name', item -> 'name'); END IF;
            IF existing.role IS DISTINCT FROM item ->> 'role' THEN delta := delta || jsonb_build_object('role', item -> 'role'); END IF;
            IF existing.profile IS DISTINCT FROM item ->> 'profile' THEN delta := delta || jsonb_build_object('profile', item -> 'profile'); END IF;
            IF existing.db_role IS DISTINCT FROM item ->> 'db_role' THEN delta := delta || jsonb_build_object('db_role', item -> 'db_role'); END IF;
            IF existing.active IS DISTINCT FROM (item ->> 'active')::boolean THEN delta := delta || jsonb_build_object('active', item -> 'active'); END IF;
            IF delta <> '{}' THEN
                PERFORM sharing._config_step(path, format('SELECT sharing.alter_user(%L, %L)', existing.name, delta));
                changes := changes || format('alter user %s: %s', existing.name, delta);
            END IF;
        END IF;
    END LOOP;
    -- A user the document no longer has is deactivated, not deleted (owner
    -- columns hold their id); one whose role the document no longer has
    -- loses it, so that the role can go.
    FOR existing IN SELECT u.name, u.active, r.name AS role,
                           r.id IS NOT NULL
                           AND r.name NOT IN (SELECT value ->> 'name' FROM jsonb_array_elements(doc -> 'roles')) AS role_goes
                      FROM sharing.users u LEFT JOIN sharing.roles r ON r.id = u.role_id
                     WHERE u.name NOT IN (SELECT value ->> 'name' FROM jsonb_array_elements(doc -> 'users'))
                     ORDER BY u.id LOOP
        delta := '{}';
        IF existing.active THEN
            delta := delta || '{"active": false}';
        END IF;
        IF existing.role_goes THEN
            delta := delta || '{"role": null}';
        END IF;
        IF delta <> '{}' THEN
            PERFORM sharing.alter_user(existing.name, delta);
            IF existing.active THEN
                changes := changes || format('deactivate user %s (not in the configuration)', existing.name);
            END IF;
            IF existing.role_goes THEN
                changes := changes || format('take role %s from user %s (neither is in the configuration)',
                                             existing.role, existing.name);
            END IF;
        END IF;
    END LOOP;

    -- Groups and their members.
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'groups') WITH ORDINALITY LOOP
        IF NOT EXISTS (SELECT 1 FROM sharing.groups WHERE name = item ->> 'name') THEN
            PERFORM sharing._config_step(format('$.groups[%s]', i), format('SELECT sharing.create_group(%L)', item ->> 'name'));
            changes := changes || format('create group %s', item ->> 'name');
        END IF;
    END LOOP;
    -- Members the document no longer has go first, then the new ones come:
    -- moving a nested group around never passes through a cycle.
    -- (Each side read once and matched by hashing; a member the document
    -- lists but the group lacks is checked once more as it is added.)
    FOR existing IN WITH listed AS MATERIALIZED (
                        SELECT d.value ->> 'name' AS group_name, d.ordinality AS i, d.value -> 'members' AS members
                          FROM jsonb_array_elements(doc -> 'groups') WITH ORDINALITY d),
                    held AS MATERIALIZED (
                        SELECT g.name AS group_name, gm.member_type, n.name AS member
                          FROM sharing.group_members gm JOIN sharing.groups g ON g.id = gm.group_id
                          LEFT JOIN sharing._principal_names n
                            ON n.principal_type = gm.member_type AND n.principal_id = gm.member_id)
                    SELECT l.group_name, h.member_type, h.member
                      FROM listed l JOIN held h ON h.group_name = l.group_name
                     WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(l.members) m
                                        WHERE m ->> 'type' = h.member_type AND m ->> 'name' = h.member)
                     ORDER BY l.i, 2, 3 LOOP
        PERFORM sharing.remove_from_group(existing.group_name, existing.member_type, existing.member);
        changes := changes || format('remove %s %s from group %s', existing.member_type, existing.member, existing.group_name);
    END LOOP;
    FOR item, sub, i, j IN WITH held AS MATERIALIZED (
                               SELECT g.name AS group_name, gm.member_type, n.name AS member
                                 FROM sharing.group_members gm JOIN sharing.groups g ON g.id = gm.group_id
                                 LEFT JOIN sharing._principal_names n
                                   ON n.principal_type = gm.member_type AND n.principal_id = gm.member_id)
                           SELECT d.value, m.value, d.ordinality - 1, m.ordinality - 1
                             FROM jsonb_array_elements(doc -> 'groups') WITH ORDINALITY d,
                                  jsonb_array_elements(d.value -> 'members') WITH ORDINALITY m
                            WHERE NOT EXISTS (SELECT 1 FROM held h
                                               WHERE h.group_name = d.value ->> 'name'
                                                 AND h.member_type = m.value ->> 'type' AND h.member = m.value ->> 'name')
                            ORDER BY d.ordinality, m.ordinality LOOP
        IF NOT EXISTS (SELECT 1 FROM sharing.group_members gm JOIN sharing.groups g ON g.id = gm.group_id
                        WHERE g.name = item ->> 'name' AND gm.member_type = sub ->> 'type'
                          AND sharing._principal_name(gm.member_type, gm.member_id) = sub ->> 'name') THEN
            PERFORM sharing._config_step(format('$.groups[%s].members[%s]', i, j),
                format('SELECT sharing.add_to_group(%L, %L, %L)', item ->> 'name', sub ->> 'type', sub ->> 'name'));
            changes := changes || format('add %s %s to group %s', sub ->> 'type', sub ->> 'name', item ->> 'name');
        END IF;
    END LOOP;

    -- Protected tables, parents before their children (whatever the order
    -- of the document).
    FOR item, i IN WITH RECURSIVE listed (entry, pos) AS (
                        SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'tables') WITH ORDINALITY
                    ), depth (name, d) AS (
                        SELECT l.entry ->> 'table', 0 FROM listed l WHERE l.entry ->> 'parent' IS NULL
                        UNION ALL
                        SELECT l.entry ->> 'table', depth.d + 1 FROM listed l JOIN depth ON l.entry ->> 'parent' = depth.name
                    )
                    SELECT l.entry, l.pos FROM listed l JOIN depth ON depth.name = l.entry ->> 'table'
                     ORDER BY depth.d, l.pos LOOP
        path := format('$.tables[%s]', i);
        target := to_regclass(item ->> 'table');
        IF target IS NULL AND strpos(item ->> 'table', '.') = 0 THEN
            RAISE EXCEPTION 'applying configuration at %.table: table "%" does not exist', path, item ->> 'table'
                USING ERRCODE = '42P01',
                      HINT = 'A configuration names tables with their schema, as export_config does: public.accounts.';
        ELSIF target IS NULL THEN
            RAISE EXCEPTION 'applying configuration at %.table: table "%" does not exist', path, item ->> 'table'
                USING ERRCODE = '42P01';
        END IF;
        SELECT * INTO existing FROM sharing.protected_tables WHERE tbl = target;
        IF existing IS NULL OR existing.tbl IS NULL THEN
            IF item ->> 'owner_column' IS NOT NULL THEN
                PERFORM sharing._config_step(path, format('SELECT sharing.protect(%L, %L, %L, %L)', target,
                    item ->> 'owner_column', coalesce(item ->> 'default_access', 'private'),
                    coalesce(item ->> 'grant_via_hierarchy', 'true')));
            ELSE
                PERFORM sharing._config_step(path, format('SELECT sharing.protect_child(%L, %L, %L)', target,
                    item ->> 'parent_column', item ->> 'parent'));
            END IF;
            changes := changes || format('protect table %s', item ->> 'table');
        ELSIF existing.owner_column IS DISTINCT FROM item ->> 'owner_column'
           OR existing.parent_column IS DISTINCT FROM item ->> 'parent_column'
           OR existing.parent_tbl IS DISTINCT FROM to_regclass(item ->> 'parent') THEN
            RAISE EXCEPTION 'applying configuration at %: table % is protected differently (unprotect it first)',
                path, item ->> 'table' USING ERRCODE = '22023';
        ELSIF existing.owner_column IS NOT NULL THEN
            IF existing.default_access IS DISTINCT FROM coalesce(item ->> 'default_access', 'private') THEN
                PERFORM sharing.set_default_access(target, coalesce(item ->> 'default_access', 'private'));
                changes := changes || format('set default access of %s to %s', item ->> 'table', coalesce(item ->> 'default_access', 'private'));
            END IF;
            IF existing.grant_via_hierarchy IS DISTINCT FROM coalesce((item ->> 'grant_via_hierarchy')::boolean, true) THEN
                UPDATE sharing.protected_tables SET grant_via_hierarchy = coalesce((item ->> 'grant_via_hierarchy')::boolean, true)
                 WHERE tbl = target;
                changes := changes || format('set grant_via_hierarchy of %s to %s', item ->> 'table',
                                             coalesce(item ->> 'grant_via_hierarchy', 'true'));
            END IF;
        END IF;
    END LOOP;

    -- Per-table profile flags: as listed; a table not listed allows everything.
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'profiles') WITH ORDINALITY LOOP
        FOR sub, j IN SELECT value, ordinality - 1 FROM jsonb_array_elements(item -> 'permissions') WITH ORDINALITY LOOP
            SELECT pp.* INTO existing FROM sharing.profile_permissions pp JOIN sharing.profiles p ON p.id = pp.profile_id
             WHERE p.name = item ->> 'name' AND pp.tbl = to_regclass(sub ->> 'table');
            IF (existing.can_create, existing.can_read, existing.can_edit, existing.can_delete)
               IS DISTINCT FROM ((sub ->> 'create')::boolean, (sub ->> 'read')::boolean, (sub ->> 'edit')::boolean, (sub ->> 'delete')::boolean) THEN
                PERFORM sharing._config_step(format('$.profiles[%s].permissions[%s]', i, j), format(
                    'SELECT sharing.set_profile_permission(%1$L, %2$L, ''create'', %3$L), sharing.set_profile_permission(%1$L, %2$L, ''read'', %4$L),
                            sharing.set_profile_permission(%1$L, %2$L, ''edit'', %5$L), sharing.set_profile_permission(%1$L, %2$L, ''delete'', %6$L)',
                    item ->> 'name', sub ->> 'table', sub -> 'create', sub -> 'read', sub -> 'edit', sub -> 'delete'));
                changes := changes || format('set permissions of profile %s on %s', item ->> 'name', sub ->> 'table');
            END IF;
        END LOOP;
        FOR existing IN SELECT pp.tbl FROM sharing.profile_permissions pp JOIN sharing.profiles p ON p.id = pp.profile_id
                         WHERE p.name = item ->> 'name'
                           AND pp.tbl NOT IN (SELECT to_regclass(value ->> 'table') FROM jsonb_array_elements(item -> 'permissions'))
                         ORDER BY pp.tbl::text LOOP
            DELETE FROM sharing.profile_permissions pp USING sharing.profiles p
             WHERE p.id = pp.profile_id AND p.name = item ->> 'name' AND pp.tbl = existing.tbl;
            changes := changes || format('reset permissions of profile %s on %s', item ->> 'name', existing.tbl);
        END LOOP;
    END LOOP;

    -- Rules, matched by table and name.
    -- (a rule whose type the document changes is dropped and created anew)
    FOR existing IN SELECT r.id, r.tbl, r.name FROM sharing.rules r
                     WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(doc -> 'rules') d
                                        WHERE to_regclass(d ->> 'table') = r.tbl AND d ->> 'name' = r.name
                                          AND d ->> 'type' = r.rule_type)
                     ORDER BY r.tbl::text, r.name LOOP
        PERFORM sharing.drop_rule(existing.id);
        changes := changes || format('drop rule %s on %s', existing.name, existing.tbl);
    END LOOP;
    FOR item, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(doc -> 'rules') WITH ORDINALITY LOOP
        path := format('$.rules[%s]', i);
        SELECT r.*, sharing._principal_name(r.from_type, r.from_id) AS from_name,
               sharing._principal_name(r.to_type, r.to_id) AS to_name INTO existing
          FROM sharing.rules r WHERE r.tbl = to_regclass(item ->> 'table') AND r.name = item ->> 'name';
        IF existing IS NULL OR existing.id IS NULL THEN
            IF item ->> 'type' = 'owner' THEN
                PERFORM sharing._config_step(path, format('SELECT sharing.create_owner_rule(%L, %L, %L, %L, %L, %L, %L, %L)',
                    item ->> 'table', item ->> 'name', item ->> 'from_type', item ->> 'from_name', item ->> 'to_type',
                    item ->> 'to_name', item ->> 'access', item -> 'superiors_allowed'));
            ELSE
                PERFORM sharing._config_step(path, format('SELECT sharing.create_criteria_rule(%L, %L, %L, %L, %L, %L, %L)',
                    item ->> 'table', item ->> 'name', item -> 'criteria', item ->> 'to_type', item ->> 'to_name',
                    item ->> 'access', item -> 'superiors_allowed'));
            END IF;
            IF NOT (item ->> 'active')::boolean THEN
                SELECT id INTO rid FROM sharing.rules WHERE tbl = to_regclass(item ->> 'table') AND name = item ->> 'name';
                PERFORM sharing.set_rule_active(rid, false);
            END IF;
            changes := changes || format('create rule %s on %s', item ->> 'name', item ->> 'table');
        ELSE
            delta := '{}';
            IF existing.from_type IS DISTINCT FROM item ->> 'from_type' OR existing.from_name IS DISTINCT FROM item ->> 'from_name' THEN
                delta := delta || jsonb_build_object('from_type', item -> 'from_type', 'from_name', item -> 'from_name');
            END IF;
            IF existing.criteria IS DISTINCT FROM item -> 'criteria' AND existing.rule_type = 'criteria' THEN
                delta := delta || jsonb_build_object('criteria', item -> 'criteria');
            END IF;
            IF existing.to_type IS DISTINCT FROM item ->> 'to_type' OR existing.to_name IS DISTINCT FROM item ->> 'to_name' THEN
                delta := delta || jsonb_build_object('to_type', item -> 'to_type', 'to_name', item -> 'to_name');
            END IF;
            IF existing.access IS DISTINCT FROM item ->> 'access' THEN delta := delta || jsonb_build_object('access', item -> 'access'); END IF;
            IF existing.superiors_allowed IS DISTINCT FROM (item ->> 'superiors_allowed')::boolean THEN
                delta := delta || jsonb_build_object('superiors_allowed', item -> 'superiors_allowed');
            END IF;
            IF existing.active IS DISTINCT FROM (item ->> 'active')::boolean THEN delta := delta || jsonb_build_object('active', item -> 'active'); END IF;
            IF delta <> '{}' THEN
                PERFORM sharing._config_step(path, format('SELECT sharing.alter_rule(%L, %L)', existing.id, delta));
                changes := changes || format('alter rule %s on %s: %s', item ->> 'name', item ->> 'table', delta);
            END IF;
        END IF;
    END LOOP;

    -- Manual shares, matched by table, record (its key as the table's key
    -- type reads it: "05" is record 5) and recipient. Expired shares
    -- grant nothing and are not exported: they are left alone.
    -- Each side read once and matched by hashing: an organisation has
    -- thousands of shares.
    FOR existing IN WITH listed AS MATERIALIZED (
                        SELECT to_regclass(d ->> 'table') AS tbl,
                               sharing._record_key(to_regclass(d ->> 'table'), d ->> 'record_id') AS record_id,
                               d ->> 'to_type' AS to_type, d ->> 'to_name' AS to_name
                          FROM jsonb_array_elements(doc -> 'shares') d)
                    SELECT s.tbl, s.record_id, s.to_type, s.to_name
                      FROM (SELECT s.tbl, s.record_id, s.to_type, n.name AS to_name
                              FROM sharing.shares s
                              LEFT JOIN sharing._principal_names n
                                ON n.principal_type = s.to_type AND n.principal_id = s.to_id
                             WHERE s.expires_at IS NULL OR s.expires_at > statement_timestamp()) s
                     WHERE NOT EXISTS (SELECT 1 FROM listed l
                                        WHERE l.tbl = s.tbl AND l.record_id = s.record_id
                                          AND l.to_type = s.to_type AND l.to_name = s.to_name)
                     ORDER BY 1, 2, 3, 4 LOOP
        PERFORM sharing.unshare_record(existing.tbl, existing.record_id, existing.to_type, existing.to_name);
        changes := changes || format('unshare %s record %s from %s %s', existing.tbl, existing.record_id, existing.to_type, existing.to_name);
    END LOOP;
    -- (Those held exactly as listed, expiry written as export_config
    -- writes it, are left out at once; the others are checked one by one.)
    FOR item, i IN WITH listed AS MATERIALIZED (
                       SELECT d.value, d.ordinality - 1 AS i, to_regclass(d.value ->> 'table') AS tbl,
                              sharing._record_key(to_regclass(d.value ->> 'table'), d.value ->> 'record_id') AS record_id
                         FROM jsonb_array_elements(doc -> 'shares') WITH ORDINALITY d)
                   SELECT l.value, l.i FROM listed l
                    WHERE NOT EXISTS (
                              SELECT 1 FROM sharing.shares s
                                JOIN sharing._principal_names n ON n.principal_type = s.to_type AND n.principal_id = s.to_id
                               WHERE s.tbl = l.tbl AND s.record_id = l.record_id
                                 AND s.to_type = l.value ->> 'to_type' AND n.name = l.value ->> 'to_name'
                                 AND s.access = l.value ->> 'access'
                                 AND to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                                     IS NOT DISTINCT FROM l.value ->> 'expires_at')
                    ORDER BY l.i LOOP
        BEGIN
            expires := (item ->> 'expires_at')::timestamptz;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'applying configuration at $.shares[%].expires_at: %', i, SQLERRM USING ERRCODE = SQLSTATE;
        END;
        IF NOT EXISTS (SELECT 1 FROM sharing.shares s
                        WHERE s.tbl = to_regclass(item ->> 'table')
                          AND s.record_id = sharing._record_key(s.tbl, item ->> 'record_id')
                          AND s.to_type = item ->> 'to_type' AND sharing._principal_name(s.to_type, s.to_id) = item ->> 'to_name'
                          AND s.access = item ->> 'access'
                          AND s.expires_at IS NOT DISTINCT FROM expires) THEN
            PERFORM sharing._config_step(format('$.shares[%s]', i), format('SELECT sharing.share_record(%L, %L, %L, %L, %L, %L)',
                item ->> 'table', item ->> 'record_id', item ->> 'to_type', item ->> 'to_name', item ->> 'access',
                item ->> 'expires_at'));
            changes := changes || format('share %s record %s with %s %s (%s)', item ->> 'table', item ->> 'record_id',
                                         item ->> 'to_type', item ->> 'to_name', item ->> 'access');
        END IF;
    END LOOP;

    -- What the document no longer has: groups, protected tables (children
    -- first), roles (deepest first).
    FOR existing IN SELECT name FROM sharing.groups
                     WHERE name NOT IN (SELECT value ->> 'name' FROM jsonb_array_elements(doc -> 'groups')) ORDER BY name LOOP
        PERFORM sharing.drop_group(existing.name);
        changes := changes || format('drop group %s', existing.name);
    END LOOP;
    FOR existing IN WITH RECURSIVE depth (tbl, d) AS (
                        SELECT tbl, 0 FROM sharing.protected_tables WHERE parent_tbl IS NULL
                        UNION ALL SELECT p.tbl, depth.d + 1 FROM sharing.protected_tables p JOIN depth ON p.parent_tbl = depth.tbl)
                    SELECT tbl FROM depth
                     WHERE tbl NOT IN (SELECT to_regclass(value ->> 'table') FROM jsonb_array_elements(doc -> 'tables'))
                     ORDER BY d DESC, tbl::text LOOP
        PERFORM sharing.unprotect(existing.tbl);
        changes := changes || format('unprotect table %s', existing.tbl);
    END LOOP;
    FOR existing IN SELECT r.name FROM sharing.roles r JOIN sharing._role_closure rc ON rc.descendant_id = r.id
                     WHERE r.name NOT IN (SELECT value ->> 'name' FROM jsonb_array_elements(doc -> 'roles'))
                     GROUP BY r.name ORDER BY max(rc.depth) DESC, r.name LOOP
        PERFORM sharing._config_step('$.roles', format('SELECT sharing.drop_role(%L)', existing.name));
        changes := changes || format('drop role %s', existing.name);
    END LOOP;
    RETURN changes;
END
$$;

-- The document apply_config applies: validated, criteria as given (the
-- validated copy went through f64 numbers).
CREATE FUNCTION sharing._config_document(config jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb;
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'configuration must not be NULL' USING ERRCODE = '22023';
    END IF;
    doc := sharing._validate_config(config::text);
    RETURN jsonb_set(doc, '{rules}', (
        SELECT coalesce(jsonb_agg(CASE WHEN r.value ->> 'type' = 'criteria'
                                       THEN jsonb_set(r.value, '{criteria}', config -> 'rules' -> (r.n - 1)::int -> 'criteria')
                                       ELSE r.value END ORDER BY r.n), '[]')
          FROM jsonb_array_elements(doc -> 'rules') WITH ORDINALITY AS r (value, n)));
END
$$;

CREATE FUNCTION sharing.apply_config(config jsonb, dry_run boolean DEFAULT false) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb;
    changes text[];
    diffed boolean;
BEGIN
    PERFORM sharing._require_manage('apply_config');
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'dry_run must be true or false' USING ERRCODE = '22023';
    END IF;
    doc := sharing._config_document(config);
    IF NOT dry_run THEN
        RETURN QUERY SELECT unnest(sharing._apply_config(doc));
        RETURN;
    END IF;
    -- Undo everything, keep the report, and add what the changes would do
    -- to who may read, edit and delete what (not on Citus yet).
    SELECT * INTO changes, diffed FROM sharing._try_config(doc);
    RETURN QUERY SELECT unnest(changes);
    IF diffed THEN
        RETURN QUERY
            SELECT format('access of %s (user %s) to %s: read +%s -%s, edit +%s -%s, delete +%s -%s',
                          d.user_name, d.user_id, d.tbl, d.gained, d.lost, d.edit_gained, d.edit_lost,
                          d.delete_gained, d.delete_lost)
              FROM sharing._diff_report() d
             ORDER BY d.tbl::text, d.user_id;
    END IF;
END
$$;
