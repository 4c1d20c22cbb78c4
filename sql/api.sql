-- The public API over the Rust internals: protection, criteria rules,
-- checks and explanations; then privileges. Runs last (finalize).

-- ---------------------------------------------------------------- protection

-- Only application tables can be protected: not pg_sharing's own catalog
-- (row level security there would recurse through current_user_id and
-- lock every user out), nor the system catalogs.
CREATE FUNCTION sharing._require_application_table(tbl regclass) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ns regnamespace := (SELECT c.relnamespace::regnamespace FROM pg_class c WHERE c.oid = tbl);
BEGIN
    IF ns IN ('sharing'::regnamespace, 'pg_catalog'::regnamespace, 'information_schema'::regnamespace,
              'pg_toast'::regnamespace) THEN
        RAISE EXCEPTION 'table % belongs to schema %: only application tables can be protected', tbl, ns
            USING ERRCODE = '22023';
    END IF;
END
$$;

CREATE FUNCTION sharing.protect(tbl regclass, owner_column name DEFAULT 'owner_id',
                                default_access text DEFAULT 'private',
                                grant_via_hierarchy boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('protect');
    IF tbl IS NULL OR owner_column IS NULL OR default_access IS NULL OR grant_via_hierarchy IS NULL THEN
        RAISE EXCEPTION 'sharing.protect: no argument may be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM sharing._require_application_table(tbl);
    PERFORM sharing._protect_table(tbl, owner_column, default_access, grant_via_hierarchy);
END
$$;

CREATE FUNCTION sharing.protect_child(tbl regclass, parent_column name, parent regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('protect_child');
    IF tbl IS NULL OR parent_column IS NULL OR parent IS NULL THEN
        RAISE EXCEPTION 'sharing.protect_child: no argument may be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM sharing._require_application_table(tbl);
    IF tbl = parent THEN
        RAISE EXCEPTION 'table % cannot be its own parent', tbl USING ERRCODE = '22023';
    END IF;
    PERFORM sharing._protect_child_table(tbl, parent_column, parent);
END
$$;

CREATE FUNCTION sharing.unprotect(tbl regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('unprotect');
    PERFORM sharing._require_protected(tbl, false);
    PERFORM sharing._unprotect_table(tbl);
END
$$;

CREATE FUNCTION sharing.set_default_access(tbl regclass, access text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('set_default_access');
    PERFORM sharing._require_protected(tbl, true);
    IF access IS NULL OR access NOT IN ('private', 'public_read', 'public_read_write', 'public_read_write_delete') THEN
        RAISE EXCEPTION 'invalid default access "%": expected private, public_read, public_read_write or public_read_write_delete',
            access USING ERRCODE = '22023';
    END IF;
    UPDATE sharing.protected_tables p SET default_access = access WHERE p.tbl = set_default_access.tbl;
    PERFORM sharing._apply_policies(tbl);
END
$$;

CREATE FUNCTION sharing.policy_sql(tbl regclass) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_protected(tbl, false);
    RETURN sharing._policy_sql(tbl);
END
$$;

-- ----------------------------------------------------------- criteria rules

-- Validates criteria for a table (22023 naming the fault); returns how a
-- person reads them. The Rust side takes the document as text.
CREATE FUNCTION sharing._compile_criteria(tbl oid, criteria jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._compile_criteria(tbl, sharing._criteria_text(criteria)) $$;

CREATE FUNCTION sharing.create_criteria_rule(tbl regclass, name text, criteria jsonb, to_type text,
                                             to_name text, access text, superiors_allowed boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_criteria_rule');
    PERFORM sharing._require_protected(tbl, true);
    PERFORM sharing._check_rule_name(tbl, name, NULL);
    IF criteria IS NULL THEN
        RAISE EXCEPTION 'criteria must not be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM sharing._compile_criteria(tbl, criteria);
    INSERT INTO sharing.rules (tbl, name, rule_type, criteria, to_type, to_id, access, superiors_allowed)
    VALUES (tbl, name, 'criteria', criteria, to_type,
            sharing._principal_id(to_type, to_name, ARRAY['role', 'role_and_subordinates', 'group', 'all_users']),
            sharing._check_access(access), coalesce(superiors_allowed, false))
    RETURNING id INTO new_id;
    PERFORM sharing._apply_policies(tbl);
    RETURN new_id;
END
$$;

-- ------------------------------------------------------------------- checks

-- Asking about another user needs manage_sharing or sharing_app; anyone may
-- ask about themselves.
CREATE FUNCTION sharing._require_may_inspect(uid bigint) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF uid IS DISTINCT FROM sharing.current_user_id()
       AND NOT sharing._may_manage()
       AND NOT sharing._is_app() THEN
        RAISE EXCEPTION 'permission denied to inspect the access of user %', uid USING ERRCODE = '42501',
            HINT = 'Only the user themselves, sharing admins and sharing_app members may ask.';
    END IF;
END
$$;

CREATE FUNCTION sharing.access_level(user_id bigint, tbl regclass, record_id text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text;
BEGIN
    PERFORM sharing._require_may_inspect(user_id);
    PERFORM sharing._require_protected(tbl, false);
    -- An id that is no value of the key's type names no record: 'none'.
    key := sharing._record_key(tbl, record_id);
    IF key IS NULL THEN
        RETURN 'none';
    END IF;
    RETURN sharing._level_name(sharing._access_rank(user_id, tbl, key));
END
$$;

CREATE FUNCTION sharing._can(user_id bigint, tbl regclass, record_id text, action text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sharing._level_rank(sharing.access_level(user_id, tbl, record_id))
               >= CASE action WHEN 'read' THEN 1 WHEN 'edit' THEN 2 ELSE 3 END
       AND sharing._action_allowed_of(user_id, tbl, action)
$$;

CREATE FUNCTION sharing.can_read(user_id bigint, tbl regclass, record_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, tbl, record_id, 'read') $$;

CREATE FUNCTION sharing.can_edit(user_id bigint, tbl regclass, record_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, tbl, record_id, 'edit') $$;

CREATE FUNCTION sharing.can_delete(user_id bigint, tbl regclass, record_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, tbl, record_id, 'delete') $$;

-- The protected table a row (of the table or one of its partitions) belongs
-- to, and the row's key as text.
CREATE FUNCTION sharing._row_record(rec anyelement, OUT tbl regclass, OUT record_id text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
BEGIN
    SELECT c.oid INTO rel FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid WHERE t.oid = pg_typeof(rec);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'sharing.can_read expects a row of a protected table, got a value of type %', pg_typeof(rec)
            USING ERRCODE = '22023';
    END IF;
    tbl := coalesce(pg_partition_root(rel), rel);
    PERFORM sharing._require_protected(tbl, false);
    record_id := to_jsonb(rec) ->> (SELECT pk_column FROM sharing.protected_tables p WHERE p.tbl = _row_record.tbl);
END
$$;

CREATE FUNCTION sharing.can_read(user_id bigint, rec anyelement) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, r.tbl, r.record_id, 'read') FROM sharing._row_record(rec) r $$;

CREATE FUNCTION sharing.can_edit(user_id bigint, rec anyelement) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, r.tbl, r.record_id, 'edit') FROM sharing._row_record(rec) r $$;

CREATE FUNCTION sharing.can_delete(user_id bigint, rec anyelement) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._can(user_id, r.tbl, r.record_id, 'delete') FROM sharing._row_record(rec) r $$;

-- ------------------------------------------------------------- explanations

-- Every path that grants `uid` access to a record, before the profile's
-- per-table action flags. Mirrors the predicates of core/src/policy.rs.
CREATE FUNCTION sharing._explain(uid bigint, target regclass, rid text)
RETURNS TABLE (access text, reason text, detail text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sharing.protected_tables;
    me sharing.users;
    owner_id bigint;
    parent_id text;
    exists_ boolean;
BEGIN
    SELECT * INTO t FROM sharing.protected_tables p WHERE p.tbl = target;
    SELECT * INTO me FROM sharing.users u WHERE u.id = uid AND u.active;
    -- The key as shares file it; no key (e.g. a child row without a
    -- parent), or no such record: no path.
    rid := sharing._record_key(target, rid);
    IF me.id IS NULL OR rid IS NULL OR NOT sharing._record_exists(target, rid) THEN
        RETURN;
    END IF;

    RETURN QUERY
        SELECT 'read_write_delete', 'profile', format('profile "%s" has modify_all', p.name)
          FROM sharing.profiles p WHERE p.id = me.profile_id AND p.modify_all
        UNION ALL
        SELECT 'read', 'profile', format('profile "%s" has view_all', p.name)
          FROM sharing.profiles p WHERE p.id = me.profile_id AND p.view_all AND NOT p.modify_all;

    IF t.parent_tbl IS NOT NULL THEN
        IF NOT sharing._action_allowed_of(uid, t.parent_tbl, 'read') THEN
            RETURN;
        END IF;
        EXECUTE format('SELECT %I::text FROM %s WHERE %I = $1::%s', t.parent_column, target, t.pk_column, t.pk_type)
           INTO parent_id USING rid;
        RETURN QUERY
            SELECT CASE WHEN sharing._level_rank(e.access) >= 2 THEN 'read_write_delete' ELSE 'read' END,
                   'parent',
                   format('%s record %s: %s (%s)', t.parent_tbl, parent_id, e.reason, e.detail)
              FROM sharing._explain(uid, t.parent_tbl, parent_id) e
             WHERE e.reason <> 'profile';
        RETURN;
    END IF;

    EXECUTE format('SELECT %I FROM %s WHERE %I = $1::%s', t.owner_column, target, t.pk_column, t.pk_type)
       INTO owner_id USING rid;

    IF t.default_access <> 'private' THEN
        RETURN QUERY SELECT sharing._level_name(sharing._level_rank(t.default_access)), 'default access', t.default_access;
    END IF;
    IF owner_id = uid THEN
        RETURN QUERY SELECT 'read_write_delete', 'owner', me.name;
    END IF;
    IF t.grant_via_hierarchy THEN
        RETURN QUERY
            SELECT 'read_write_delete', 'hierarchy', format('via subordinate %s (role %s)', o.name, r.name)
              FROM sharing.users o
              JOIN sharing._role_closure rc ON rc.descendant_id = o.role_id AND rc.ancestor_id = me.role_id AND rc.depth > 0
              JOIN sharing.roles r ON r.id = o.role_id
             WHERE o.id = owner_id;
    END IF;
    RETURN QUERY
        SELECT 'read', 'peers', format('peer %s in role %s', o.name, r.name)
          FROM sharing.users o JOIN sharing.roles r ON r.id = o.role_id AND r.share_with_peers
         WHERE o.id = owner_id AND o.id <> uid AND o.role_id = me.role_id;
    RETURN QUERY
        SELECT r.access, 'rule', format('owner rule "%s"', r.name)
          FROM sharing.rules r
         WHERE r.tbl = target AND r.rule_type = 'owner' AND r.active
           AND EXISTS (SELECT 1 FROM sharing._user_principals p
                        WHERE p.user_id = owner_id AND p.principal_type = r.from_type AND p.principal_id = r.from_id)
           AND sharing._rule_reaches(uid, r.id)
         ORDER BY r.id;
    RETURN QUERY
        SELECT r.access, 'rule', format('criteria rule "%s"', r.name)
          FROM sharing.rules r
         WHERE r.id = ANY (sharing._criteria_rules_matching(target, rid))
           AND sharing._rule_reaches(uid, r.id)
         ORDER BY r.id;
    RETURN QUERY
        SELECT s.access, 'share',
               format('shared with %s by %s', sharing._principal_label(s.to_type, s.to_id),
                      coalesce((SELECT u.name FROM sharing.users u WHERE u.id = s.shared_by), s.shared_by_role))
          FROM sharing.shares s
          JOIN sharing._user_principals p ON p.user_id = uid AND p.principal_type = s.to_type AND p.principal_id = s.to_id
         WHERE s.tbl = target AND s.record_id = rid
           AND (s.expires_at IS NULL OR s.expires_at > statement_timestamp())
         ORDER BY s.id;
END
$$;

CREATE FUNCTION sharing.explain_access(user_id bigint, tbl regclass, record_id text)
RETURNS TABLE (access text, reason text, detail text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_may_inspect(user_id);
    PERFORM sharing._require_protected(tbl, false);
    RETURN QUERY SELECT * FROM sharing._explain(user_id, tbl, record_id);
END
$$;

CREATE FUNCTION sharing.who_can_access(tbl regclass, record_id text)
RETURNS TABLE (user_id bigint, user_name text, access text, reasons text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text;
BEGIN
    IF NOT sharing._may_manage() AND NOT sharing._is_app() THEN
        RAISE EXCEPTION 'permission denied for function sharing.who_can_access' USING ERRCODE = '42501';
    END IF;
    PERFORM sharing._require_protected(tbl, false);
    key := sharing._record_key(tbl, record_id);
    IF key IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT u.id, u.name, lvl.access,
               ARRAY(SELECT e.reason || ': ' || e.detail FROM sharing._explain(u.id, tbl, key) e)
          FROM sharing.users u
         CROSS JOIN LATERAL (SELECT sharing._level_name(sharing._access_rank(u.id, tbl, key)) AS access) lvl
         WHERE u.active AND lvl.access <> 'none'
         ORDER BY u.id;
END
$$;
