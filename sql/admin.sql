-- Administration: who did it, the rule lifecycle, the rule list, and the
-- doctor. (Runs after api.sql.)

-- ------------------------------------------------------------ who did it

-- The session as a person reads it: its outer role, and the user it acts
-- as when that differs: "crm_app as Sam Manager".
CREATE FUNCTION sharing._actor() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.rolname || coalesce(' as ' || u.name, '')
      FROM pg_roles r
      LEFT JOIN sharing.users u ON u.id = sharing.current_user_id() AND u.db_role IS DISTINCT FROM r.rolname
     WHERE r.oid = sharing._outer_role_oid()
$$;

CREATE FUNCTION sharing._stamp_rule() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- Given values (a restore, a clone's own stamp) are kept.
        NEW.created_at := coalesce(NEW.created_at, now());
        NEW.created_by := coalesce(NEW.created_by, sharing._actor());
        NEW.modified_at := coalesce(NEW.modified_at, NEW.created_at);
        NEW.modified_by := coalesce(NEW.modified_by, NEW.created_by);
    ELSE
        NEW.modified_at := now();
        NEW.modified_by := sharing._actor();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON sharing.rules
    FOR EACH ROW EXECUTE FUNCTION sharing._stamp_rule();

-- ------------------------------------------------------- rule lifecycle

CREATE FUNCTION sharing._rule(rule_id bigint) RETURNS sharing.rules
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found sharing.rules;
BEGIN
    SELECT * INTO found FROM sharing.rules r WHERE r.id = rule_id;
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'rule % does not exist', coalesce(rule_id::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    RETURN found;
END
$$;

-- Criteria rules live in the policy text: regenerate it. Owner rules are
-- read by the per-statement functions and need nothing.
CREATE FUNCTION sharing._rule_changed(changed sharing.rules) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF changed.rule_type = 'criteria' THEN
        PERFORM sharing._apply_policies(changed.tbl);
    END IF;
END
$$;

CREATE FUNCTION sharing.set_rule_active(rule_id bigint, active boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target sharing.rules;
BEGIN
    PERFORM sharing._require_manage('set_rule_active');
    target := sharing._rule(rule_id);
    IF active IS NULL THEN
        RAISE EXCEPTION 'active must be true or false' USING ERRCODE = '22023';
    END IF;
    UPDATE sharing.rules r SET active = set_rule_active.active WHERE r.id = rule_id;
    PERFORM sharing._rule_changed(target);
END
$$;

CREATE FUNCTION sharing.clone_rule(rule_id bigint, new_name text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    source sharing.rules;
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('clone_rule');
    source := sharing._rule(rule_id);
    PERFORM sharing._check_rule_name(source.tbl, new_name, NULL);
    INSERT INTO sharing.rules (tbl, name, rule_type, from_type, from_id, criteria, to_type, to_id, access,
                               superiors_allowed, active)
    VALUES (source.tbl, new_name, source.rule_type, source.from_type, source.from_id, source.criteria,
            source.to_type, source.to_id, source.access, source.superiors_allowed, source.active)
    RETURNING id INTO new_id;
    PERFORM sharing._rule_changed(source);
    RETURN new_id;
END
$$;

-- changes: any of name, from_type + from_name (owner rules), criteria
-- (criteria rules), to_type + to_name, access, superiors_allowed, active.
CREATE FUNCTION sharing.alter_rule(rule_id bigint, changes jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target sharing.rules;
    key text;
BEGIN
    PERFORM sharing._require_manage('alter_rule');
    target := sharing._rule(rule_id);
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object, got %', coalesce(changes::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    FOR key IN SELECT jsonb_object_keys(changes) LOOP
        IF key NOT IN ('name', 'from_type', 'from_name', 'criteria', 'to_type', 'to_name', 'access',
                       'superiors_allowed', 'active') THEN
            RAISE EXCEPTION 'unknown key "%" in changes (expected name, from_type, from_name, criteria, to_type, to_name, access, superiors_allowed, active)',
                key USING ERRCODE = '22023';
        END IF;
        IF key IN ('superiors_allowed', 'active') AND jsonb_typeof(changes -> key) <> 'boolean' THEN
            RAISE EXCEPTION '"%" must be true or false, got %', key, changes -> key USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF changes ? 'name' THEN
        PERFORM sharing._check_rule_name(target.tbl, changes ->> 'name', target.id);
        target.name := changes ->> 'name';
    END IF;
    IF changes ? 'from_type' OR changes ? 'from_name' THEN
        IF target.rule_type <> 'owner' THEN
            RAISE EXCEPTION 'rule "%" is a criteria rule: change its criteria, not from_type/from_name', target.name
                USING ERRCODE = '22023';
        END IF;
        target.from_type := coalesce(changes ->> 'from_type', target.from_type);
        target.from_id := sharing._principal_id(target.from_type,
                                                coalesce(changes ->> 'from_name',
                                                         sharing._principal_name(target.from_type, target.from_id)),
                                                ARRAY['role', 'role_and_subordinates', 'group']);
    END IF;
    IF changes ? 'criteria' THEN
        IF target.rule_type <> 'criteria' THEN
            RAISE EXCEPTION 'rule "%" is an owner rule: it has no criteria', target.name USING ERRCODE = '22023';
        END IF;
        PERFORM sharing._compile_criteria(target.tbl, changes -> 'criteria');
        target.criteria := changes -> 'criteria';
    END IF;
    IF changes ? 'to_type' OR changes ? 'to_name' THEN
        target.to_type := coalesce(changes ->> 'to_type', target.to_type);
        target.to_id := sharing._principal_id(target.to_type,
                                              CASE WHEN changes ? 'to_name' THEN changes ->> 'to_name'
                                                   WHEN target.to_type = 'all_users' THEN NULL
                                                   ELSE sharing._principal_name(target.to_type, target.to_id) END,
                                              ARRAY['role', 'role_and_subordinates', 'group', 'all_users']);
    END IF;
    IF changes ? 'access' THEN
        target.access := sharing._check_access(changes ->> 'access');
    END IF;
    IF changes ? 'superiors_allowed' THEN
        target.superiors_allowed := (changes ->> 'superiors_allowed')::boolean;
    END IF;
    IF changes ? 'active' THEN
        target.active := (changes ->> 'active')::boolean;
    END IF;
    UPDATE sharing.rules r
       SET name = target.name, from_type = target.from_type, from_id = target.from_id, criteria = target.criteria,
           to_type = target.to_type, to_id = target.to_id, access = target.access,
           superiors_allowed = target.superiors_allowed, active = target.active
     WHERE r.id = target.id;
    PERFORM sharing._rule_changed(target);
END
$$;

CREATE FUNCTION sharing.drop_rule(rule_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target sharing.rules;
BEGIN
    PERFORM sharing._require_manage('drop_rule');
    target := sharing._rule(rule_id);
    DELETE FROM sharing.rules r WHERE r.id = rule_id;
    PERFORM sharing._rule_changed(target);
END
$$;

-- The name of a principal given by id (NULL for all_users or a dangling id).
CREATE FUNCTION sharing._principal_name(principal_type text, principal_id bigint) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE principal_type
        WHEN 'user' THEN (SELECT name FROM sharing.users WHERE id = principal_id)
        WHEN 'group' THEN (SELECT name FROM sharing.groups WHERE id = principal_id)
        WHEN 'all_users' THEN NULL
        ELSE (SELECT name FROM sharing.roles WHERE id = principal_id)
    END
$$;

-- ------------------------------------------------------------ the rule list

CREATE VIEW sharing.rule_overview AS
SELECT r.id AS rule_id,
       r.tbl,
       r.name,
       r.rule_type AS type,
       CASE r.rule_type WHEN 'owner' THEN 'Owned by ' || sharing._principal_label(r.from_type, r.from_id)
                        ELSE sharing._describe_criteria(sharing._criteria_text(r.criteria)) END AS shared_from,
       sharing._principal_label(r.to_type, r.to_id) AS shared_to,
       r.access,
       r.superiors_allowed,
       r.active,
       r.created_at,
       r.created_by,
       r.modified_at,
       r.modified_by
  FROM sharing.rules r;

CREATE FUNCTION sharing.find_rules(search text DEFAULT NULL, tbl regclass DEFAULT NULL, shared_from text DEFAULT NULL,
                                   shared_to text DEFAULT NULL, superiors_allowed boolean DEFAULT NULL,
                                   active boolean DEFAULT NULL)
RETURNS SETOF sharing.rule_overview
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.*
      FROM sharing.rule_overview o
     WHERE ($1 IS NULL OR strpos(lower(o.name), lower($1)) > 0)
       AND ($2 IS NULL OR o.tbl = $2)
       AND ($3 IS NULL OR strpos(lower(o.shared_from), lower($3)) > 0)
       AND ($4 IS NULL OR strpos(lower(o.shared_to), lower($4)) > 0)
       AND ($5 IS NULL OR o.superiors_allowed = $5)
       AND ($6 IS NULL OR o.active = $6)
     ORDER BY o.tbl::text, o.name
$$;

-- ---------------------------------------------------------------- the doctor

-- A protected table and, when partitioned, every relation of its tree
-- (pg_partition_tree alone returns nothing for a plain table).
CREATE FUNCTION sharing._relations_of(tbl regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT tbl UNION SELECT relid FROM pg_partition_tree(tbl)
$$;

CREATE FUNCTION sharing.check()
RETURNS TABLE (severity text, object text, message text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Row-level security off or not forced on a protected table or partition.
    RETURN QUERY
        SELECT 'error', c.oid::regclass::text,
               CASE WHEN NOT c.relrowsecurity THEN 'row level security is disabled: every row is visible to everyone with table privileges'
                    ELSE 'row level security is not forced: the table owner bypasses sharing' END
          FROM sharing.protected_tables p
          JOIN LATERAL sharing._relations_of(p.tbl) t (relid) ON true
          JOIN pg_class c ON c.oid = t.relid
         WHERE NOT c.relrowsecurity OR NOT c.relforcerowsecurity
         ORDER BY 2;

    -- Policies other than ours widen access (permissive policies are ORed).
    RETURN QUERY
        SELECT 'error', pol.polrelid::regclass::text,
               format('policy %I is not generated by pg_sharing; a permissive policy widens what everyone sees', pol.polname)
          FROM pg_policy pol
          JOIN sharing.protected_tables p
            ON pol.polrelid IN (SELECT sharing._relations_of(p.tbl))
         WHERE pol.polname NOT IN ('sharing_select', 'sharing_insert', 'sharing_update', 'sharing_delete')
         ORDER BY 2, 3;

    -- Our policies missing or edited by hand.
    RETURN QUERY
        SELECT 'error', p.tbl::text, m.problem
          FROM sharing.protected_tables p,
               LATERAL sharing._policy_drift(p.tbl) m (problem)
         ORDER BY 2, 3;

    -- Roles that bypass row-level security and can log in.
    RETURN QUERY
        SELECT 'warning', r.rolname::text,
               CASE WHEN r.rolsuper THEN 'superuser that can log in: bypasses row level security on every protected table'
                    ELSE 'role with BYPASSRLS that can log in: bypasses row level security on every protected table' END
          FROM pg_roles r
         WHERE (r.rolsuper OR r.rolbypassrls) AND r.rolcanlogin
         ORDER BY 2;

    -- Views over protected tables that run with their owner's rights.
    RETURN QUERY
        SELECT DISTINCT 'warning', v.oid::regclass::text,
               format('view reads protected table %s without security_invoker: it shows the rows its owner sees', d.refobjid::regclass)
          FROM pg_depend d
          JOIN pg_rewrite rw ON rw.oid = d.objid
          JOIN pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm')
          JOIN sharing.protected_tables p ON d.refobjid IN (SELECT sharing._relations_of(p.tbl))
         WHERE d.classid = 'pg_rewrite'::regclass AND v.oid <> d.refobjid
           AND (v.relkind = 'm' OR NOT coalesce((SELECT option_value::boolean FROM pg_options_to_table(v.reloptions)
                                                  WHERE option_name = 'security_invoker'), false))
         ORDER BY 2;

    -- Owner and parent columns without an index.
    RETURN QUERY
        SELECT 'warning', p.tbl::text,
               format('column %I has no index: policies cannot use an index on it', coalesce(p.owner_column, p.parent_column))
          FROM sharing.protected_tables p
         WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                            WHERE i.indrelid = p.tbl AND a.attname = coalesce(p.owner_column, p.parent_column))
         ORDER BY 2;

    -- Users without a role; inactive users still mapped to a login role.
    RETURN QUERY
        SELECT 'warning', 'user ' || u.name, 'user has no role: no hierarchy, role or role_and_subordinates rule reaches them'
          FROM sharing.users u WHERE u.role_id IS NULL ORDER BY u.name;
    RETURN QUERY
        SELECT 'info', 'user ' || u.name,
               format('inactive user is still mapped to database role %I (who sees nothing through it)', u.db_role)
          FROM sharing.users u WHERE NOT u.active AND u.db_role IS NOT NULL ORDER BY u.name;
    -- db_role mappings to roles that no longer exist.
    RETURN QUERY
        SELECT 'warning', 'user ' || u.name, format('database role %I no longer exists', u.db_role)
          FROM sharing.users u
         WHERE u.db_role IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = u.db_role)
         ORDER BY u.name;

    -- Rules whose principals are gone.
    RETURN QUERY
        SELECT 'error', format('rule %s on %s', r.name, r.tbl),
               format('rule refers to a %s that no longer exists (id %s)', x.kind, x.id)
          FROM sharing.rules r
          CROSS JOIN LATERAL (VALUES (r.from_type, r.from_id), (r.to_type, r.to_id)) x (kind, id)
         WHERE x.kind IS NOT NULL AND x.kind <> 'all_users'
           AND sharing._principal_name(x.kind, x.id) IS NULL
         ORDER BY 2;

    -- Derived sets out of step with the model.
    RETURN QUERY
        SELECT 'error', 'derived sets', d.problem FROM sharing._derived_drift() d (problem) ORDER BY 3;
END
$$;

-- Differences between the maintained derived sets and a recomputation
-- from the model (written independently of the refresh functions).
CREATE FUNCTION sharing._derived_drift() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain (ancestor_id, descendant_id, depth) AS (
        SELECT id, id, 0 FROM sharing.roles
        UNION ALL
        SELECT r.parent_id, c.descendant_id, c.depth + 1
          FROM chain c JOIN sharing.roles r ON r.id = c.ancestor_id
         WHERE r.parent_id IS NOT NULL AND c.depth < 1000
    ), nested (group_id, member_group_id) AS (
        SELECT id, id FROM sharing.groups
        UNION
        SELECT n.group_id, gm.member_id
          FROM nested n JOIN sharing.group_members gm ON gm.group_id = n.member_group_id AND gm.member_type = 'group'
    ), direct (user_id, principal_type, principal_id) AS (
        SELECT id, 'user', id FROM sharing.users
        UNION ALL SELECT id, 'role', role_id FROM sharing.users WHERE role_id IS NOT NULL
        UNION ALL SELECT u.id, 'role_and_subordinates', c.ancestor_id
                    FROM sharing.users u JOIN chain c ON c.descendant_id = u.role_id
    ), principals AS (
        SELECT * FROM direct
        UNION
        SELECT d.user_id, 'group', n.group_id
          FROM direct d
          JOIN sharing.group_members gm ON gm.member_type = d.principal_type AND gm.member_id = d.principal_id
          JOIN nested n ON n.member_group_id = gm.group_id
    ), expected_closure AS (
        SELECT ancestor_id, descendant_id, depth FROM chain
    )
    (SELECT format('role closure misses (%s, %s)', ancestor_id, descendant_id)
       FROM (SELECT ancestor_id, descendant_id, depth FROM expected_closure
             EXCEPT SELECT ancestor_id, descendant_id, depth FROM sharing._role_closure) x)
    UNION ALL
    (SELECT format('role closure has stale (%s, %s)', ancestor_id, descendant_id)
       FROM (SELECT ancestor_id, descendant_id, depth FROM sharing._role_closure
             EXCEPT SELECT ancestor_id, descendant_id, depth FROM expected_closure) x)
    UNION ALL
    (SELECT format('group closure misses (%s, %s)', group_id, member_group_id)
       FROM (SELECT * FROM nested EXCEPT SELECT group_id, member_group_id FROM sharing._group_closure) x)
    UNION ALL
    (SELECT format('group closure has stale (%s, %s)', group_id, member_group_id)
       FROM (SELECT group_id, member_group_id FROM sharing._group_closure EXCEPT SELECT * FROM nested) x)
    UNION ALL
    (SELECT format('user %s misses principal %s %s', user_id, principal_type, principal_id)
       FROM (SELECT * FROM principals
             EXCEPT SELECT user_id, principal_type, principal_id FROM sharing._user_principals) x)
    UNION ALL
    (SELECT format('user %s has stale principal %s %s', user_id, principal_type, principal_id)
       FROM (SELECT user_id, principal_type, principal_id FROM sharing._user_principals
             EXCEPT SELECT * FROM principals) x)
$$;
