-- The sharing engine's SQL side: the once-per-statement sets the generated
-- policies read, owner-based rules, manual shares and the explanations.
-- The policy text itself is generated in Rust (src/protect.rs over
-- core/src/policy.rs).

CREATE FUNCTION sharing._level_rank(access text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE access WHEN 'read' THEN 1 WHEN 'read_write' THEN 2 WHEN 'read_write_delete' THEN 3
                       WHEN 'public_read' THEN 1 WHEN 'public_read_write' THEN 2
                       WHEN 'public_read_write_delete' THEN 3 ELSE 0 END
$$;

CREATE FUNCTION sharing._level_name(rank integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (ARRAY['none', 'read', 'read_write', 'read_write_delete'])[greatest(0, least(rank, 3)) + 1]
$$;

CREATE FUNCTION sharing._check_access(access text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF access IS NULL OR access NOT IN ('read', 'read_write', 'read_write_delete') THEN
        RAISE EXCEPTION 'invalid access "%": expected read, read_write or read_write_delete', access
            USING ERRCODE = '22023';
    END IF;
    RETURN access;
END
$$;

-- ------------------------------------------------- per-user sets, by user id
-- In plpgsql rather than sql: a sql function that is not inlined (these
-- set search_path) is planned again at every call; plpgsql keeps its plans
-- for the session, and the policies ask these at every statement.
-- Not executable by PUBLIC: they answer for any user. The policy-facing
-- functions of src/context.rs answer only for the current user.

CREATE FUNCTION sharing._active_user(uid bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT coalesce((SELECT active FROM sharing.users WHERE id = uid), false)
    );
END
$$;

-- The active rules that reach each active user (rules of any table):
-- those whose recipients include the user, and (superiors_allowed) those
-- whose recipients include a user whose role is a strict descendant of
-- the user's role. The engine asks it for one user (_rules_reaching_of);
-- the access diff for every user at once.
CREATE VIEW sharing._rules_reaching AS
SELECT u.id AS user_id, r.id AS rule_id
  FROM sharing.users u
  JOIN sharing.rules r ON r.active
 WHERE u.active AND (
           r.to_type = 'all_users'
        OR EXISTS (SELECT 1 FROM sharing._user_principals p
                    WHERE p.user_id = u.id AND p.principal_type = r.to_type AND p.principal_id = r.to_id)
        OR (r.superiors_allowed AND EXISTS (
                SELECT 1
                  FROM sharing._role_closure rc
                  JOIN sharing.users v ON v.role_id = rc.descendant_id
                  JOIN sharing._user_principals p
                    ON p.user_id = v.id AND p.principal_type = r.to_type AND p.principal_id = r.to_id
                 WHERE rc.ancestor_id = u.role_id AND rc.depth > 0)));

-- The rules that reach user `uid`, sorted: the policies ask for all of a
-- table's rules at once (src/context.rs remembers the answer).
CREATE FUNCTION sharing._rules_reaching_of(uid bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(rule_id ORDER BY rule_id), '{}') FROM sharing._rules_reaching WHERE user_id = uid);
END
$$;

-- Does rule `rid` reach user `uid` (see _rules_reaching_of).
CREATE FUNCTION sharing._rule_reaches(uid bigint, rid bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT rid = ANY (sharing._rules_reaching_of(uid)) $$;

-- Owners whose records `uid` reaches in `target` through ownership,
-- hierarchy, peers and owner-based rules, each with the highest level it
-- gives (1 read, 2 read_write, 3 read_write_delete), ordered by owner. One
-- query for every level: the engine (src/context.rs) asks it once per user
-- and table and derives the set of each level.
CREATE FUNCTION sharing._owner_levels_of(uid bigint, target regclass,
                                         OUT owners bigint[], OUT levels integer[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH me AS (
            SELECT u.id, u.role_id FROM sharing.users u WHERE u.id = uid AND u.active
        ), reach AS (
            SELECT me.id AS owner, 3 AS level FROM me
            UNION ALL
            SELECT v.id, 3
              FROM me
              JOIN sharing._role_closure rc ON rc.ancestor_id = me.role_id AND rc.depth > 0
              JOIN sharing.users v ON v.role_id = rc.descendant_id
             WHERE (SELECT grant_via_hierarchy FROM sharing.protected_tables WHERE tbl = target)
            UNION ALL
            SELECT v.id, 1
              FROM me
              JOIN sharing.roles r ON r.id = me.role_id AND r.share_with_peers
              JOIN sharing.users v ON v.role_id = me.role_id
            UNION ALL
            SELECT p.user_id, sharing._level_rank(r.access)
              FROM me, sharing.rules r
              JOIN sharing._user_principals p ON p.principal_type = r.from_type AND p.principal_id = r.from_id
             WHERE r.tbl = target AND r.rule_type = 'owner' AND r.active
               AND r.id = ANY ((SELECT sharing._rules_reaching_of(uid))::bigint[])
        ), best AS (
            SELECT owner, max(level) AS level FROM reach GROUP BY owner
        )
    SELECT coalesce(array_agg(owner ORDER BY owner), '{}'), coalesce(array_agg(level ORDER BY owner), '{}')
      INTO owners, levels
      FROM best;
END
$$;

-- Owners whose records `uid` reaches at `min_level` or more in `target`.
CREATE FUNCTION sharing._visible_owners_of(uid bigint, target regclass, min_level integer) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(o.owner ORDER BY o.owner), '{}')
      FROM sharing._owner_levels_of(uid, target) r, unnest(r.owners, r.levels) AS o (owner, level)
     WHERE o.level >= min_level
$$;

-- The records of `target` shared with `uid` (through any principal of
-- theirs) and not expired at the statement's start, each with the highest
-- level shared, ordered by key; and the next moment one of those shares
-- expires, until which the answer holds. Empty for an inactive user.
CREATE FUNCTION sharing._share_levels_of(uid bigint, target regclass,
                                         OUT records text[], OUT levels integer[], OUT until timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH mine AS (
            SELECT s.record_id, sharing._level_rank(s.access) AS level, s.expires_at
              FROM sharing.shares s
              JOIN sharing._user_principals p
                ON p.user_id = uid AND p.principal_type = s.to_type AND p.principal_id = s.to_id
             WHERE s.tbl = target
               AND (s.expires_at IS NULL OR s.expires_at > statement_timestamp())
        ), best AS (
            SELECT record_id, max(level) AS level FROM mine GROUP BY record_id
        )
    SELECT coalesce(array_agg(record_id ORDER BY record_id), '{}'),
           coalesce(array_agg(level ORDER BY record_id), '{}'),
           (SELECT min(expires_at) FROM mine)
      INTO records, levels, until
      FROM best
     WHERE sharing._active_user(uid);
END
$$;

-- The records of `target` shared with `uid` at `min_level` or more, now.
CREATE FUNCTION sharing._shared_records_of(uid bigint, target regclass, min_level integer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT s.record), '{}')
      FROM sharing._share_levels_of(uid, target) r, unnest(r.records, r.levels) AS s (record, level)
     WHERE s.level >= min_level
$$;

CREATE FUNCTION sharing._bypass_of(uid bigint, min_level integer) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT coalesce((SELECT p.modify_all OR (p.view_all AND min_level <= 1)
                           FROM sharing.users u JOIN sharing.profiles p ON p.id = u.profile_id
                          WHERE u.id = uid AND u.active), false)
    );
END
$$;

CREATE FUNCTION sharing._action_allowed_of(uid bigint, target regclass, action text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT coalesce((
            -- Editing or deleting a record one may not read is not a thing:
            -- edit and delete need the read flag too (PostgreSQL applies the
            -- SELECT policy to most UPDATEs and DELETEs anyway; this makes
            -- every one of them, and can_edit / can_delete, agree).
            SELECT coalesce((SELECT CASE action WHEN 'create' THEN pp.can_create WHEN 'read' THEN pp.can_read
                                                WHEN 'edit' THEN pp.can_edit AND pp.can_read
                                                WHEN 'delete' THEN pp.can_delete AND pp.can_read END
                               FROM sharing.profile_permissions pp
                              WHERE pp.profile_id = u.profile_id AND pp.tbl = target), true)
              FROM sharing.users u WHERE u.id = uid AND u.active), false)
    );
END
$$;

-- The policy-facing functions, which answer for the current user only
-- (_is_active, _bypass, _rule_reaches_me, _action_allowed, _member,
-- _shared; _visible_owners and _shared_records for index conditions), are
-- in src/member.rs and src/context.rs: they remember their answers per
-- model generation.

-- ------------------------------------------------------- model generation

-- Moves the model generation (sharing._model_generation). Runs before and
-- after every statement that changes a table of the model, so that what
-- the engine computed in the middle of a change (a row trigger, a volatile
-- function in the same statement) is never taken for the model after it.
CREATE FUNCTION sharing._model_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- On a Citus worker the model is a copy of the coordinator's, changed
    -- only by what the coordinator sends (sql/citus.sql).
    IF TG_WHEN = 'BEFORE' AND sharing._citus_group() > 0
       AND current_setting('sharing.applying_coordinator_change', true) IS DISTINCT FROM 'on'
       AND EXISTS (SELECT 1 FROM sharing._cluster_key) THEN
        RAISE EXCEPTION 'the sharing model cannot be changed on a Citus worker (group %)', sharing._citus_group()
            USING ERRCODE = '25006', HINT = 'Change it on the coordinator; every node gets the change.';
    END IF;
    UPDATE sharing._model_generation SET generation = nextval('sharing._model_generation_seq');
    RETURN NULL;
END
$$;

DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'profiles', 'users', 'groups', 'group_members', 'protected_tables',
                             'profile_permissions', 'rules', 'shares',
                             '_role_closure', '_group_closure', '_user_principals'] LOOP
        EXECUTE format('CREATE TRIGGER model_changed_before BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION sharing._model_changed()', t);
        EXECUTE format('CREATE TRIGGER model_changed_after AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION sharing._model_changed()', t);
    END LOOP;
END
$triggers$;

-- ------------------------------------------------- triggers on protected tables

-- Shares go with their record. After a DELETE, the shares of the deleted
-- keys; after a TRUNCATE of the protected table, all its shares; after a
-- TRUNCATE of one partition, the shares of the records that are gone.
CREATE FUNCTION sharing._forget_shares() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- A partition's shares are filed under its protected root table.
    root regclass := sharing._protected_root(TG_RELID);
    t sharing.protected_tables;
BEGIN
    SELECT * INTO t FROM sharing.protected_tables p WHERE p.tbl = root;
    IF TG_OP = 'TRUNCATE' AND TG_RELID = root THEN
        DELETE FROM sharing.shares WHERE tbl = root;
    ELSIF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('DELETE FROM sharing.shares s WHERE s.tbl = $1 '
                       'AND NOT EXISTS (SELECT 1 FROM %s r WHERE r.%I = s.record_id::%s)',
                       root, t.pk_column, t.pk_type)
          USING root;
    ELSIF EXISTS (SELECT 1 FROM sharing.shares WHERE tbl = root) THEN
        -- (Only when the table has shares: a statement on sharing.shares
        -- moves the model generation, and most deletes touch no share.)
        EXECUTE format('DELETE FROM sharing.shares WHERE tbl = $1 AND record_id IN (SELECT %I::text FROM gone)',
                       t.pk_column)
          USING root;
    END IF;
    RETURN NULL;
END
$$;

-- Changing a row's owner, primary key or parent needs full access to it.
-- A record whose key changes loses its manual shares: they are filed by
-- key, and must not pass to a later record that takes the old key.
-- SECURITY DEFINER to remove those shares; who is asking is read from the
-- session (current_user_id, the outer role), which it does not change.
CREATE FUNCTION sharing._guard_protected_columns() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass := sharing._protected_root(TG_RELID);
    pk text := (SELECT pk_column::text FROM sharing.protected_tables WHERE tbl = root);
    old_key text := to_jsonb(OLD) ->> pk;
BEGIN
    IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE oid = sharing._outer_role_oid())
       AND sharing.access_level(sharing.current_user_id(), root, old_key) <> 'read_write_delete' THEN
        RAISE EXCEPTION 'changing the owner, key or parent of % record % needs full access (read_write_delete)',
            root, old_key USING ERRCODE = '42501';
    END IF;
    IF (to_jsonb(NEW) ->> pk) IS DISTINCT FROM old_key THEN
        DELETE FROM sharing.shares s WHERE s.tbl = root AND s.record_id = old_key;
    END IF;
    RETURN NEW;
END
$$;

-- A partition created or attached after its table was protected would
-- otherwise have neither RLS nor policies, and querying it directly would
-- show every row: protect it at the end of the command that made it.
CREATE FUNCTION sharing._on_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass;
BEGIN
    FOR root IN
        SELECT DISTINCT p.tbl
          FROM pg_event_trigger_ddl_commands() c
          JOIN sharing.protected_tables p
            ON p.tbl = coalesce(pg_partition_root(c.objid::regclass), c.objid::regclass)
         WHERE c.classid = 'pg_class'::regclass AND c.object_type = 'table'
    LOOP
        PERFORM sharing._protect_new_partitions(root);
    END LOOP;
END
$$;

CREATE EVENT TRIGGER sharing_protect_new_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION sharing._on_ddl_command_end();

-- A criteria document as text for the Rust side, with every number in a
-- condition's value written as a string: jsonb keeps numbers exactly, but
-- read into Rust they would become floats (12345678901234567890123 loses
-- digits, 1e400 fails). The value is cast to the column's type either way.
CREATE FUNCTION sharing._numbers_as_strings(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'number' THEN to_jsonb(v #>> '{}')
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(x) = 'number' THEN to_jsonb(x #>> '{}')
                                                          ELSE x END ORDER BY n), '[]')
                             FROM jsonb_array_elements(v) WITH ORDINALITY AS e (x, n))
        ELSE v END
$$;

CREATE FUNCTION sharing._criteria_text(criteria jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(criteria -> 'conditions') = 'array' THEN
               jsonb_set(criteria, '{conditions}',
                         (SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(c) = 'object' AND c ? 'value'
                                                         THEN jsonb_set(c, '{value}', sharing._numbers_as_strings(c -> 'value'))
                                                         ELSE c END ORDER BY n), '[]')
                            FROM jsonb_array_elements(criteria -> 'conditions') WITH ORDINALITY AS e (c, n)))
           ELSE criteria END::text
$$;

-- sharing._record_key(target, record_id), a record id as the table's key
-- type prints it, is in src/protect.rs (over core/src/key.rs).

-- -------------------------------------------------------- owner-based rules

CREATE FUNCTION sharing._require_protected(target regclass, owned_only boolean) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sharing.protected_tables WHERE tbl = target) THEN
        RAISE EXCEPTION 'table % is not protected by pg_sharing', target USING ERRCODE = '22023',
            HINT = 'Protect it first with sharing.protect().';
    END IF;
    IF owned_only AND EXISTS (SELECT 1 FROM sharing.protected_tables WHERE tbl = target AND owner_column IS NULL) THEN
        RAISE EXCEPTION 'table % is controlled by its parent: it has no default access, rules or shares of its own', target
            USING ERRCODE = '22023';
    END IF;
END
$$;

CREATE FUNCTION sharing._check_rule_name(target regclass, rule_name text, except_rule bigint) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF rule_name IS NULL OR btrim(rule_name) = '' THEN
        RAISE EXCEPTION 'rule name must not be empty' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM sharing.rules WHERE tbl = target AND name = rule_name
                                              AND id IS DISTINCT FROM except_rule) THEN
        RAISE EXCEPTION 'a rule named "%" already exists on table %', rule_name, target USING ERRCODE = '23505';
    END IF;
END
$$;

CREATE FUNCTION sharing.create_owner_rule(tbl regclass, name text, from_type text, from_name text,
                                          to_type text, to_name text, access text,
                                          superiors_allowed boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_owner_rule');
    PERFORM sharing._require_protected(tbl, true);
    PERFORM sharing._check_rule_name(tbl, name, NULL);
    INSERT INTO sharing.rules (tbl, name, rule_type, from_type, from_id, to_type, to_id, access, superiors_allowed)
    VALUES (tbl, name, 'owner', from_type,
            sharing._principal_id(from_type, from_name, ARRAY['role', 'role_and_subordinates', 'group']),
            to_type,
            sharing._principal_id(to_type, to_name, ARRAY['role', 'role_and_subordinates', 'group', 'all_users']),
            sharing._check_access(access), coalesce(superiors_allowed, false))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- ------------------------------------------------------------ manual shares

CREATE FUNCTION sharing.share_record(tbl regclass, record_id text, to_type text, to_name text,
                                     access text, expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me bigint := sharing.current_user_id();
    my_level text;
    recipient bigint;
    key text;
BEGIN
    PERFORM sharing._require_protected(tbl, true);
    PERFORM sharing._check_access(access);
    recipient := sharing._principal_id(to_type, to_name, ARRAY['user', 'role', 'role_and_subordinates', 'group']);
    key := sharing._record_key(tbl, record_id);
    -- The permission comes first: to a user without access, a record that
    -- does not exist and one they may not see look the same.
    IF NOT sharing._may_manage() THEN
        my_level := CASE WHEN key IS NULL THEN 'none' ELSE sharing.access_level(me, tbl, key) END;
        IF my_level <> 'read_write_delete' THEN
            RAISE EXCEPTION 'permission denied to share % record %: sharing needs full access (you have %)',
                tbl, coalesce(record_id, 'NULL'), my_level USING ERRCODE = '42501';
        END IF;
    END IF;
    IF key IS NULL OR NOT sharing._record_exists(tbl, key) THEN
        RAISE EXCEPTION 'record % does not exist in table %', coalesce(record_id, 'NULL'), tbl USING ERRCODE = '22023';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= statement_timestamp() THEN
        RAISE EXCEPTION 'expires_at % is in the past', expires_at USING ERRCODE = '22023';
    END IF;
    -- Who shared: the acting user, and the session's outer role (after
    -- SET ROLE), not the login role.
    INSERT INTO sharing.shares AS s (tbl, record_id, to_type, to_id, access, expires_at, shared_by, shared_by_role)
    VALUES (tbl, key, to_type, recipient, access, expires_at, me,
            (SELECT rolname FROM pg_roles WHERE oid = sharing._outer_role_oid()))
    ON CONFLICT ON CONSTRAINT shares_tbl_record_id_to_type_to_id_key
    DO UPDATE SET access = EXCLUDED.access, expires_at = EXCLUDED.expires_at, shared_by = EXCLUDED.shared_by,
                  shared_by_role = EXCLUDED.shared_by_role, created_at = now();
END
$$;

CREATE FUNCTION sharing.unshare_record(tbl regclass, record_id text, to_type text, to_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recipient bigint;
    key text;
BEGIN
    PERFORM sharing._require_protected(tbl, true);
    recipient := sharing._principal_id(to_type, to_name, ARRAY['user', 'role', 'role_and_subordinates', 'group']);
    key := sharing._record_key(tbl, record_id);
    IF NOT sharing._may_manage()
       AND (key IS NULL OR sharing.access_level(sharing.current_user_id(), tbl, key) <> 'read_write_delete') THEN
        RAISE EXCEPTION 'permission denied to unshare % record %: needs full access', tbl, coalesce(record_id, 'NULL')
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM sharing.shares s
     WHERE s.tbl = unshare_record.tbl AND s.record_id = key
       AND s.to_type = unshare_record.to_type AND s.to_id = recipient;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% record % is not shared with % "%"', tbl, record_id, to_type, to_name
            USING ERRCODE = '22023';
    END IF;
END
$$;
