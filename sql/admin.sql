-- Administration: who did it, the rule lifecycle, the rule list, and the
-- doctor. (Runs after api.sql.)

-- ------------------------------------------------------------ who did it

-- The session as a person reads it: its outer role, and the user it acts
-- as when that differs: "crm_app as Sam Manager".
CREATE FUNCTION sharing._actor() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
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
    -- Every way a rule gets its name (create, clone, alter, apply_config,
    -- direct writes) comes through here.
    PERFORM sharing._check_name_length('rule', NEW.name);
    IF TG_OP = 'INSERT' THEN
        -- Given values (a restore, a clone's own stamp) are kept.
        NEW.created_at := coalesce(NEW.created_at, now());
        NEW.created_by := coalesce(NEW.created_by, sharing._actor());
        NEW.modified_at := coalesce(NEW.modified_at, NEW.created_at);
        NEW.modified_by := coalesce(NEW.modified_by, NEW.created_by);
    ELSIF (to_jsonb(NEW) - ARRAY['modified_at', 'modified_by'])
          IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['modified_at', 'modified_by'])
          -- (a Citus worker keeps the coordinator's stamps: sql/citus.sql)
          AND current_setting('sharing.applying_coordinator_change', true) IS DISTINCT FROM 'on' THEN
        NEW.modified_at := now();
        NEW.modified_by := sharing._actor();
    END IF;
    -- (An update that changes nothing else, such as activating an active
    -- rule, is no modification: it keeps the stamps, and leaves no audit.)
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
-- A type given without a name keeps the rule's current name (role West →
-- role_and_subordinates West); a name without a type keeps the type.
CREATE FUNCTION sharing.alter_rule(rule_id bigint, changes jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    original sharing.rules;
    target sharing.rules;
    key text;
    value jsonb;
BEGIN
    PERFORM sharing._require_manage('alter_rule');
    original := sharing._rule(rule_id);
    target := original;
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object, got %', coalesce(changes::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    FOR key, value IN SELECT e.key, e.value FROM jsonb_each(changes) e ORDER BY e.key LOOP
        IF key NOT IN ('name', 'from_type', 'from_name', 'criteria', 'to_type', 'to_name', 'access',
                       'superiors_allowed', 'active') THEN
            RAISE EXCEPTION 'unknown key "%" in changes (expected name, from_type, from_name, criteria, to_type, to_name, access, superiors_allowed, active)',
                key USING ERRCODE = '22023';
        END IF;
        IF key IN ('superiors_allowed', 'active') AND jsonb_typeof(value) <> 'boolean' THEN
            RAISE EXCEPTION '"%" must be true or false, got %', key, value USING ERRCODE = '22023';
        END IF;
        -- Names, types and the access level are strings (to_name may be
        -- null, for all_users): 42 is no rule name, ["read"] no access.
        IF (key IN ('name', 'from_type', 'from_name', 'to_type', 'access') AND jsonb_typeof(value) <> 'string')
           OR (key = 'to_name' AND jsonb_typeof(value) NOT IN ('string', 'null')) THEN
            RAISE EXCEPTION '"%" must be a string%, got %', key, CASE WHEN key = 'to_name' THEN ' or null' ELSE '' END, value
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF changes ? 'name' THEN
        PERFORM sharing._check_rule_name(original.tbl, changes ->> 'name', original.id);
        target.name := changes ->> 'name';
    END IF;
    IF changes ? 'from_type' OR changes ? 'from_name' THEN
        IF original.rule_type <> 'owner' THEN
            RAISE EXCEPTION 'rule "%" is a criteria rule: change its criteria, not from_type/from_name', original.name
                USING ERRCODE = '22023';
        END IF;
        -- The current name is looked up under the current type: the id
        -- alone means another principal under another type.
        target.from_type := coalesce(changes ->> 'from_type', original.from_type);
        target.from_id := sharing._principal_id(target.from_type,
                                                coalesce(changes ->> 'from_name',
                                                         sharing._principal_name(original.from_type, original.from_id)),
                                                ARRAY['role', 'role_and_subordinates', 'group']);
    END IF;
    IF changes ? 'criteria' THEN
        IF original.rule_type <> 'criteria' THEN
            RAISE EXCEPTION 'rule "%" is an owner rule: it has no criteria', original.name USING ERRCODE = '22023';
        END IF;
        PERFORM sharing._compile_criteria(original.tbl, changes -> 'criteria');
        target.criteria := changes -> 'criteria';
    END IF;
    IF changes ? 'to_type' OR changes ? 'to_name' THEN
        target.to_type := coalesce(changes ->> 'to_type', original.to_type);
        target.to_id := sharing._principal_id(target.to_type,
                                              CASE WHEN changes ? 'to_name' THEN changes ->> 'to_name'
                                                   WHEN target.to_type = 'all_users' THEN NULL
                                                   ELSE sharing._principal_name(original.to_type, original.to_id) END,
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

-- ------------------------------------------------------------ the rule list

-- The view's rows come from find_rules, which is SECURITY DEFINER: a
-- view's functions run with the rights of whoever reads it, and the
-- helpers that render labels and criteria are internal (not executable by
-- PUBLIC). So the view is first declared with its columns only, then
-- defined over the function that returns its rows.
CREATE VIEW sharing.rule_overview AS
SELECT NULL::bigint AS rule_id, NULL::regclass AS tbl, NULL::text AS name, NULL::text AS type,
       NULL::text AS shared_from, NULL::text AS shared_to, NULL::text AS access,
       NULL::boolean AS superiors_allowed, NULL::boolean AS active, NULL::timestamptz AS created_at,
       NULL::text AS created_by, NULL::timestamptz AS modified_at, NULL::text AS modified_by
 WHERE false;

-- Search by name (case-insensitive substring) and filter: tbl exactly,
-- shared_from / shared_to as case-insensitive substrings of the labels,
-- the flags exactly. NULL filters nothing.
CREATE FUNCTION sharing.find_rules(search text DEFAULT NULL, tbl regclass DEFAULT NULL, shared_from text DEFAULT NULL,
                                   shared_to text DEFAULT NULL, superiors_allowed boolean DEFAULT NULL,
                                   active boolean DEFAULT NULL)
RETURNS SETOF sharing.rule_overview
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.*
      FROM (SELECT r.id AS rule_id,
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
              FROM sharing.rules r) o
     WHERE ($1 IS NULL OR strpos(lower(o.name), lower($1)) > 0)
       AND ($2 IS NULL OR o.tbl = $2)
       AND ($3 IS NULL OR strpos(lower(o.shared_from), lower($3)) > 0)
       AND ($4 IS NULL OR strpos(lower(o.shared_to), lower($4)) > 0)
       AND ($5 IS NULL OR o.superiors_allowed = $5)
       AND ($6 IS NULL OR o.active = $6)
     ORDER BY o.tbl::text, o.name
$$;

CREATE OR REPLACE VIEW sharing.rule_overview AS
SELECT * FROM sharing.find_rules();

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

    -- Policies other than ours: a permissive one widens access (permissive
    -- policies are ORed with ours); a restrictive one narrows it, so that
    -- can_read, explain_access and who_can_access no longer tell the truth.
    RETURN QUERY
        SELECT CASE WHEN pol.polpermissive THEN 'error' ELSE 'warning' END, pol.polrelid::regclass::text,
               CASE WHEN pol.polpermissive
                    THEN format('policy %I is not generated by pg_sharing; a permissive policy widens what everyone sees', pol.polname)
                    ELSE format('policy %I is not generated by pg_sharing; a restrictive policy narrows what users see, so the checks and explanations disagree with it', pol.polname) END
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

    -- On a Citus coordinator: the shards and the workers' copies of the
    -- model (sql/citus.sql).
    RETURN QUERY SELECT * FROM sharing._citus_findings();

    -- Roles that bypass row-level security and can log in.
    RETURN QUERY
        SELECT 'warning', r.rolname::text,
               CASE WHEN r.rolsuper THEN 'superuser that can log in: bypasses row level security on every protected table'
                    ELSE 'role with BYPASSRLS that can log in: bypasses row level security on every protected table' END
          FROM pg_roles r
         WHERE (r.rolsuper OR r.rolbypassrls) AND r.rolcanlogin
         ORDER BY 2;

    -- Logins with CREATEROLE (not superusers, reported above): on
    -- PostgreSQL 15 they may grant themselves sharing_app or any mapped
    -- login role, and so act as any user.
    RETURN QUERY
        SELECT 'warning', r.rolname::text,
               'role with CREATEROLE that can log in: it can grant itself sharing_app or any mapped login role, and so act as any user'
          FROM pg_roles r
         WHERE r.rolcreaterole AND r.rolcanlogin AND NOT r.rolsuper
         ORDER BY 2;

    -- TRUNCATE granted on a protected table or partition to anyone but its
    -- owner: TRUNCATE is not subject to row level security.
    RETURN QUERY
        SELECT DISTINCT 'warning', c.oid::regclass::text,
               format('%s may TRUNCATE it: TRUNCATE is not subject to row level security and removes every row, visible or not',
                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END)
          FROM sharing.protected_tables p
          JOIN LATERAL sharing._relations_of(p.tbl) t (relid) ON true
          JOIN pg_class c ON c.oid = t.relid
         CROSS JOIN LATERAL aclexplode(c.relacl) a
         WHERE a.privilege_type = 'TRUNCATE' AND a.grantee <> c.relowner
         ORDER BY 2, 3;

    -- LEAKPROOF functions outside the system's own: PostgreSQL may run
    -- them before the policies, on rows the policies hide.
    RETURN QUERY
        SELECT 'warning', f.oid::regprocedure::text,
               'function is LEAKPROOF: it may run before the row level security policies and see rows they hide'
          FROM pg_proc f
         WHERE f.proleakproof
           AND f.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
         ORDER BY 2;

    -- Views over protected tables (directly, or through other views) that
    -- run with their owner's rights; materialized views keep the rows their
    -- owner saw.
    RETURN QUERY
        WITH RECURSIVE protected_rel (relid, tbl) AS (
            SELECT t.relid, p.tbl FROM sharing.protected_tables p, LATERAL sharing._relations_of(p.tbl) t (relid)
        ), reads (view_oid, relid, tbl) AS (
            SELECT rw.ev_class, pr.relid, pr.tbl
              FROM pg_depend d
              JOIN pg_rewrite rw ON rw.oid = d.objid
              JOIN protected_rel pr ON pr.relid = d.refobjid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND rw.ev_class <> d.refobjid
            UNION
            SELECT rw.ev_class, reads.relid, reads.tbl
              FROM reads
              JOIN pg_depend d ON d.refobjid = reads.view_oid AND d.refclassid = 'pg_class'::regclass
                              AND d.classid = 'pg_rewrite'::regclass
              JOIN pg_rewrite rw ON rw.oid = d.objid AND rw.ev_class <> d.refobjid
        )
        SELECT DISTINCT 'warning', v.oid::regclass::text,
               format(CASE WHEN v.relkind = 'm'
                           THEN 'materialized view reads protected table %s%s: it keeps the rows its owner saw when it was refreshed'
                           ELSE 'view reads protected table %s%s without security_invoker: it shows the rows its owner sees' END,
                      reads.relid::regclass,
                      CASE WHEN reads.relid <> reads.tbl THEN format(' (a partition of %s)', reads.tbl) ELSE '' END)
          FROM reads
          JOIN pg_class v ON v.oid = reads.view_oid AND v.relkind IN ('v', 'm')
         WHERE v.relkind = 'm'
            OR NOT coalesce((SELECT option_value::boolean FROM pg_options_to_table(v.reloptions)
                              WHERE option_name = 'security_invoker'), false)
         ORDER BY 2, 3;

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
               format(CASE x.side WHEN 'from' THEN 'the %s whose records it shares (id %s) no longer exists: the rule grants nothing'
                                  ELSE 'the %s it shares with (id %s) no longer exists: the rule grants nothing' END,
                      CASE x.kind WHEN 'group' THEN 'group' ELSE 'role' END, x.id)
          FROM sharing.rules r
          CROSS JOIN LATERAL (VALUES ('from', r.from_type, r.from_id), ('to', r.to_type, r.to_id)) x (side, kind, id)
         WHERE x.kind IS NOT NULL AND x.kind <> 'all_users'
           AND sharing._principal_name(x.kind, x.id) IS NULL
         ORDER BY 2, 3;

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
