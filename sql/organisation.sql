-- The organisation model: the admin gate, the audit trail, name lookups,
-- maintenance of the derived sets, and the functions that manage roles,
-- users, groups and profiles. Every function that changes the model is
-- SECURITY DEFINER with a fixed search_path and calls sharing._require_manage
-- first; the catalog's own triggers validate and maintain the derived sets,
-- so direct DML by an admin goes through the same checks.

-- ------------------------------------------------------------ the admin gate

-- Whether the session (its outer role, or the user it acts as) may change
-- the model: superuser, member of sharing_admin, or a manage_sharing profile.
CREATE FUNCTION sharing._may_manage() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper OR pg_has_role(r.oid, 'sharing_admin', 'MEMBER')
                       FROM pg_roles r WHERE r.oid = sharing._outer_role_oid()), false)
        OR EXISTS (SELECT 1 FROM sharing.users u JOIN sharing.profiles p ON p.id = u.profile_id
                    WHERE u.id = sharing.current_user_id() AND u.active AND p.manage_sharing)
$$;

-- Whether the session's outer role is an application login: a superuser or
-- a member of sharing_app, which may act for users (act_as) and ask about
-- any of them. Answers about the caller only, so PUBLIC may call it.
CREATE FUNCTION sharing._is_app() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper OR pg_has_role(r.oid, 'sharing_app', 'MEMBER')
                       FROM pg_roles r WHERE r.oid = sharing._outer_role_oid()), false)
$$;

CREATE FUNCTION sharing._require_manage(fn text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT sharing._may_manage() THEN
        RAISE EXCEPTION 'permission denied for function sharing.%', fn
            USING ERRCODE = '42501',
                  HINT = 'Changing the sharing model needs membership of sharing_admin or a profile with manage_sharing.';
    END IF;
END
$$;

-- ----------------------------------------------------------------- the audit

CREATE FUNCTION sharing._audit_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- group_members repeats member_id in a typed column (for foreign keys); the
    -- audit shows it once.
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END - ARRAY['member_user_id', 'member_role_id', 'member_group_id'];
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END - ARRAY['member_user_id', 'member_role_id', 'member_group_id'];
BEGIN
    IF old_row IS NOT DISTINCT FROM new_row THEN
        RETURN NULL;
    END IF;
    INSERT INTO sharing.audit_log (db_role, acting_user, action, object, before, after)
    VALUES ((SELECT rolname FROM pg_roles WHERE oid = sharing._outer_role_oid()),
            sharing.current_user_id(),
            lower(TG_OP) || ' ' || TG_TABLE_NAME,
            TG_TABLE_NAME || ' ' || (coalesce(new_row, old_row) ->> TG_ARGV[0]),
            old_row, new_row);
    RETURN NULL;
END
$$;

CREATE FUNCTION sharing._audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Pruning (DELETE) is allowed to the table owner only; see docs.
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'sharing.audit_log is append-only' USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON sharing.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._audit_log_is_append_only();

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.roles
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('name');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.users
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('name');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.groups
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('name');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.group_members
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('group_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.profiles
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('name');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.profile_permissions
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('tbl');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.protected_tables
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('tbl');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.rules
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('name');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sharing.shares
    FOR EACH ROW EXECUTE FUNCTION sharing._audit_trigger('record_id');

-- ------------------------------------------------------------- name lookups

-- The id of a role, user, group or profile by name; 42704 naming it if there
-- is none. `kind` is one of those four words, never caller input.
CREATE FUNCTION sharing._id_by_name(kind text, object_name text) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found bigint;
BEGIN
    EXECUTE format('SELECT id FROM sharing.%I WHERE name = $1', kind || 's') INTO found USING object_name;
    IF found IS NULL THEN
        RAISE EXCEPTION '% "%" does not exist', kind, object_name USING ERRCODE = '42704';
    END IF;
    RETURN found;
END
$$;

-- Names are unique (a btree index each): longer than 1000 bytes is refused
-- here, naming the problem, rather than by the index (54000, "index row
-- requires … bytes").
CREATE FUNCTION sharing._check_name_length(kind text, new_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF octet_length(new_name) > 1000 THEN
        RAISE EXCEPTION '% name is too long (% bytes; at most 1000)', kind, octet_length(new_name)
            USING ERRCODE = '22001';
    END IF;
END
$$;

-- A new role, user, group or profile name: not empty, not taken.
CREATE FUNCTION sharing._check_new_name(kind text, new_name text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    taken boolean;
BEGIN
    IF new_name IS NULL OR btrim(new_name) = '' THEN
        RAISE EXCEPTION '% name must not be empty', kind USING ERRCODE = '22023';
    END IF;
    PERFORM sharing._check_name_length(kind, new_name);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM sharing.%I WHERE name = $1)', kind || 's') INTO taken USING new_name;
    IF taken THEN
        RAISE EXCEPTION '% "%" already exists', kind, new_name USING ERRCODE = '23505';
    END IF;
END
$$;

CREATE FUNCTION sharing._role_id(role_name text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._id_by_name('role', role_name) $$;

CREATE FUNCTION sharing._user_id(user_name text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._id_by_name('user', user_name) $$;

CREATE FUNCTION sharing._group_id(group_name text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._id_by_name('group', group_name) $$;

CREATE FUNCTION sharing._profile_id(profile_name text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT sharing._id_by_name('profile', profile_name) $$;

-- Resolves a (type, name) principal of a rule, share or group membership.
-- `allowed` lists the types the caller accepts, for the error message.
CREATE FUNCTION sharing._principal_id(principal_type text, principal_name text, allowed text[]) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF principal_type IS NULL OR NOT principal_type = ANY (allowed) THEN
        RAISE EXCEPTION 'invalid type "%": expected one of %', principal_type, array_to_string(allowed, ', ')
            USING ERRCODE = '22023';
    END IF;
    IF principal_type = 'all_users' THEN
        IF principal_name IS NOT NULL THEN
            RAISE EXCEPTION 'type all_users takes no name (got "%")', principal_name USING ERRCODE = '22023';
        END IF;
        RETURN NULL;
    END IF;
    IF principal_name IS NULL THEN
        RAISE EXCEPTION 'a name is required for type %', principal_type USING ERRCODE = '22023';
    END IF;
    RETURN CASE principal_type
        WHEN 'user' THEN sharing._user_id(principal_name)
        WHEN 'group' THEN sharing._group_id(principal_name)
        ELSE sharing._role_id(principal_name)
    END;
END
$$;

-- Every principal that has a name, by kind and id (all_users has none):
-- for joins, where a name is wanted for many rows.
CREATE VIEW sharing._principal_names AS
    SELECT 'user'::text AS principal_type, u.id AS principal_id, u.name FROM sharing.users u
    UNION ALL
    SELECT 'group', g.id, g.name FROM sharing.groups g
    UNION ALL
    SELECT k.kind, r.id, r.name FROM sharing.roles r, (VALUES ('role'), ('role_and_subordinates')) AS k (kind);

-- The name of a principal given by id (NULL for all_users or a dangling id).
CREATE FUNCTION sharing._principal_name(principal_type text, principal_id bigint) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT n.name FROM sharing._principal_names n
     WHERE n.principal_type = _principal_name.principal_type AND n.principal_id = _principal_name.principal_id
$$;

-- A principal as the rule list and explanations show it ("Role: Sales").
CREATE FUNCTION sharing._principal_label(principal_type text, principal_id bigint) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE principal_type
        WHEN 'all_users' THEN 'All users'
        ELSE CASE principal_type
                 WHEN 'user' THEN 'User: '
                 WHEN 'role' THEN 'Role: '
                 WHEN 'role_and_subordinates' THEN 'Role and subordinates: '
                 WHEN 'group' THEN 'Group: '
             END || coalesce(sharing._principal_name(principal_type, principal_id), '#' || principal_id)
    END
$$;

-- ------------------------------------------------------ derived-set upkeep

-- Recomputes the principals of the given users (all users when NULL).
CREATE FUNCTION sharing._refresh_principals(only_users bigint[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM sharing._user_principals WHERE only_users IS NULL OR user_id = ANY (only_users);
    INSERT INTO sharing._user_principals (user_id, principal_type, principal_id)
    WITH affected AS (
        SELECT id, role_id FROM sharing.users WHERE only_users IS NULL OR id = ANY (only_users)
    ), direct AS (
        SELECT id AS user_id, 'user'::text AS principal_type, id AS principal_id FROM affected
        UNION ALL
        SELECT id, 'role', role_id FROM affected WHERE role_id IS NOT NULL
        UNION ALL
        SELECT a.id, 'role_and_subordinates', rc.ancestor_id
          FROM affected a JOIN sharing._role_closure rc ON rc.descendant_id = a.role_id
    )
    SELECT user_id, principal_type, principal_id FROM direct
    UNION
    SELECT d.user_id, 'group', gc.group_id
      FROM direct d
      JOIN sharing.group_members gm ON gm.member_type = d.principal_type AND gm.member_id = d.principal_id
      JOIN sharing._group_closure gc ON gc.member_group_id = gm.group_id;
$$;

-- The role closure as the roles table defines it now (no cycle check).
CREATE FUNCTION sharing._role_closure_rows()
RETURNS TABLE (ancestor_id bigint, descendant_id bigint, depth integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE up (role_id, ancestor_id, depth) AS (
        SELECT id, id, 0 FROM sharing.roles
        UNION ALL
        SELECT up.role_id, r.parent_id, up.depth + 1
          FROM up JOIN sharing.roles r ON r.id = up.ancestor_id
         WHERE r.parent_id IS NOT NULL
    )
    SELECT ancestor_id, role_id, depth FROM up
$$;

-- Recomputes the role closure; refuses a cycle, naming it from superior to
-- subordinate ("A → B → A": B's parent is A and A's parent is B). Several
-- roles of one cycle could name it: the one with the first name does.
-- Writes only the rows that change and returns the roles whose ancestors
-- changed: only their users' principals need recomputing (moving a role
-- with 600 users below it then touches those 600, not all 10,000).
CREATE FUNCTION sharing._refresh_role_closure() RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cycle_path text;
    changed bigint[];
BEGIN
    WITH RECURSIVE up (ancestor_id, path, is_cycle) AS (
        SELECT id, ARRAY[id], false FROM sharing.roles
        UNION ALL
        SELECT r.parent_id, up.path || r.parent_id, r.parent_id = ANY (up.path)
          FROM up JOIN sharing.roles r ON r.id = up.ancestor_id
         WHERE r.parent_id IS NOT NULL AND NOT up.is_cycle
    )
    SELECT string_agg(r.name, ' → ' ORDER BY p.ord DESC) INTO cycle_path
      FROM (SELECT up.path FROM up JOIN sharing.roles start ON start.id = up.path[1]
             -- walks that start on the cycle itself come back to their start
             WHERE up.is_cycle AND up.ancestor_id = up.path[1]
             ORDER BY start.name LIMIT 1) c,
           unnest(c.path) WITH ORDINALITY AS p (role_id, ord)
      JOIN sharing.roles r ON r.id = p.role_id;
    IF cycle_path IS NOT NULL THEN
        RAISE EXCEPTION 'role hierarchy cycle: %', cycle_path USING ERRCODE = '23514';
    END IF;

    -- The roles whose (ancestor, depth) rows differ: replace just theirs.
    changed := ARRAY(
        SELECT DISTINCT d.descendant_id FROM (
            (SELECT * FROM sharing._role_closure_rows()
             EXCEPT SELECT ancestor_id, descendant_id, depth FROM sharing._role_closure)
            UNION ALL
            (SELECT ancestor_id, descendant_id, depth FROM sharing._role_closure
             EXCEPT SELECT * FROM sharing._role_closure_rows())) d);
    IF cardinality(changed) > 0 THEN
        DELETE FROM sharing._role_closure WHERE descendant_id = ANY (changed);
        INSERT INTO sharing._role_closure (ancestor_id, descendant_id, depth)
        SELECT * FROM sharing._role_closure_rows() r WHERE r.descendant_id = ANY (changed);
    END IF;
    RETURN changed;
END
$$;

-- Recomputes the group closure; refuses a cycle, naming it from container
-- to member ("A → B → A": B is a member of A and A a member of B). The
-- shortest cycle is named, starting at the group with the first name.
CREATE FUNCTION sharing._refresh_group_closure() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cycle_path text;
BEGIN
    DELETE FROM sharing._group_closure;
    INSERT INTO sharing._group_closure (group_id, member_group_id)
    WITH RECURSIVE down (group_id, member_group_id) AS (
        SELECT id, id FROM sharing.groups
        UNION
        SELECT down.group_id, gm.member_id
          FROM down JOIN sharing.group_members gm
            ON gm.group_id = down.member_group_id AND gm.member_type = 'group'
    )
    SELECT group_id, member_group_id FROM down;

    -- Cheap test first: two groups that contain each other.
    IF NOT EXISTS (SELECT 1 FROM sharing._group_closure c
                     JOIN sharing._group_closure back
                       ON back.group_id = c.member_group_id AND back.member_group_id = c.group_id
                    WHERE c.group_id <> c.member_group_id) THEN
        RETURN;
    END IF;
    WITH RECURSIVE walk (start_id, reached, path) AS (
        SELECT gm.group_id, gm.member_id, ARRAY[gm.group_id, gm.member_id]
          FROM sharing.group_members gm WHERE gm.member_type = 'group'
        UNION ALL
        SELECT w.start_id, gm.member_id, w.path || gm.member_id
          FROM walk w JOIN sharing.group_members gm ON gm.group_id = w.reached AND gm.member_type = 'group'
         WHERE w.reached <> w.start_id AND NOT gm.member_id = ANY (w.path[2:])
    )
    SELECT string_agg(g.name, ' → ' ORDER BY p.ord) INTO cycle_path
      FROM (SELECT w.path FROM walk w JOIN sharing.groups start ON start.id = w.start_id
             WHERE w.reached = w.start_id
             ORDER BY cardinality(w.path), start.name, w.path LIMIT 1) c,
           unnest(c.path) WITH ORDINALITY AS p (group_id, ord)
      JOIN sharing.groups g ON g.id = p.group_id;
    RAISE EXCEPTION 'group membership cycle: %', cycle_path USING ERRCODE = '23514';
END
$$;

-- The upkeep triggers are SECURITY DEFINER: a sharing_admin member writing
-- the catalog directly may not write the derived sets (nor call the
-- internal functions that rebuild them) by themselves.
CREATE FUNCTION sharing._roles_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed_roles bigint[] := sharing._refresh_role_closure();
BEGIN
    PERFORM sharing._refresh_principals(
        ARRAY(SELECT u.id FROM sharing.users u WHERE u.role_id = ANY (changed_roles)));
    RETURN NULL;
END
$$;

CREATE FUNCTION sharing._groups_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._refresh_group_closure();
    DELETE FROM sharing._user_principals WHERE principal_type = 'group';
    INSERT INTO sharing._user_principals (user_id, principal_type, principal_id)
    SELECT DISTINCT up.user_id, 'group', gc.group_id
      FROM sharing._user_principals up
      JOIN sharing.group_members gm ON gm.member_type = up.principal_type AND gm.member_id = up.principal_id
      JOIN sharing._group_closure gc ON gc.member_group_id = gm.group_id
     WHERE up.principal_type <> 'group';
    RETURN NULL;
END
$$;

CREATE FUNCTION sharing._users_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._refresh_principals(ARRAY(SELECT id FROM changed_users));
    RETURN NULL;
END
$$;

-- A group member must name an existing user, role or group; a deleted user,
-- role or group leaves no dangling membership behind.
CREATE FUNCTION sharing._check_group_member() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.member_type IS NULL OR NEW.member_type NOT IN ('user', 'role', 'role_and_subordinates', 'group') THEN
        RAISE EXCEPTION 'invalid member type "%": expected one of user, role, role_and_subordinates, group',
            NEW.member_type USING ERRCODE = '23514';
    END IF;
    IF NOT (CASE NEW.member_type
        WHEN 'user' THEN EXISTS (SELECT 1 FROM sharing.users WHERE id = NEW.member_id)
        WHEN 'group' THEN EXISTS (SELECT 1 FROM sharing.groups WHERE id = NEW.member_id)
        ELSE EXISTS (SELECT 1 FROM sharing.roles WHERE id = NEW.member_id)
    END) THEN
        RAISE EXCEPTION 'group member % % does not exist', NEW.member_type, NEW.member_id
            USING ERRCODE = '23503';
    END IF;
    NEW.member_user_id := CASE WHEN NEW.member_type = 'user' THEN NEW.member_id END;
    NEW.member_role_id := CASE WHEN NEW.member_type IN ('role', 'role_and_subordinates') THEN NEW.member_id END;
    NEW.member_group_id := CASE WHEN NEW.member_type = 'group' THEN NEW.member_id END;
    IF NEW.member_type = 'group' AND NEW.member_id = NEW.group_id THEN
        RAISE EXCEPTION 'group "%" cannot be a member of itself',
            (SELECT name FROM sharing.groups WHERE id = NEW.group_id) USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END
$$;

-- A role or group that a rule still names cannot go (the rule would name
-- nobody); whatever else names a deleted user, role or group goes with it:
-- its group memberships and the manual shares made to it.
CREATE FUNCTION sharing._forget_principal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := CASE TG_TABLE_NAME WHEN 'users' THEN 'user' WHEN 'groups' THEN 'group' ELSE 'role' END;
    types text[] := CASE kind WHEN 'role' THEN ARRAY['role', 'role_and_subordinates'] ELSE ARRAY[kind] END;
    rules_left bigint;
BEGIN
    SELECT count(*) INTO rules_left FROM sharing.rules
     WHERE (from_type = ANY (types) AND from_id = OLD.id) OR (to_type = ANY (types) AND to_id = OLD.id);
    IF rules_left > 0 THEN
        RAISE EXCEPTION '% "%" is still used by % rule(s)', kind, OLD.name, rules_left USING ERRCODE = '23503';
    END IF;
    DELETE FROM sharing.group_members WHERE member_id = OLD.id AND member_type = ANY (types);
    DELETE FROM sharing.shares WHERE to_id = OLD.id AND to_type = ANY (types);
    RETURN OLD;
END
$$;

-- Ids are what rules, shares, memberships and the application's own tables
-- (owner columns) hold: a user, role, group or profile keeps its id.
CREATE FUNCTION sharing._keep_id() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the id of % "%" cannot change (from % to %)',
        rtrim(TG_TABLE_NAME, 's'), OLD.name, OLD.id, NEW.id USING ERRCODE = '0A000';
END
$$;

CREATE FUNCTION sharing._check_user() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Checked when set: a mapping whose login role was dropped since does
    -- not block other changes to the user (deactivating them, say).
    IF TG_OP = 'UPDATE' AND NEW.db_role IS NOT DISTINCT FROM OLD.db_role THEN
        RETURN NEW;
    END IF;
    IF NEW.db_role IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.db_role) THEN
        RAISE EXCEPTION 'database role "%" does not exist', NEW.db_role USING ERRCODE = '42704';
    END IF;
    RETURN NEW;
END
$$;

-- The predefined profiles are part of the extension (created by its script,
-- not kept by pg_dump): they keep their name and flags. Custom profiles
-- (sharing.create_profile) are for anything else.
CREATE FUNCTION sharing._keep_predefined_profile() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'profile "%" is predefined and cannot be %', OLD.name,
        CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'changed' END USING ERRCODE = '0A000',
        HINT = 'Create a profile of your own with sharing.create_profile().';
END
$$;

CREATE TRIGGER check_user BEFORE INSERT OR UPDATE OF db_role ON sharing.users
    FOR EACH ROW EXECUTE FUNCTION sharing._check_user();
CREATE TRIGGER forget_principal BEFORE DELETE ON sharing.users
    FOR EACH ROW EXECUTE FUNCTION sharing._forget_principal();
CREATE TRIGGER forget_principal BEFORE DELETE ON sharing.roles
    FOR EACH ROW EXECUTE FUNCTION sharing._forget_principal();
CREATE TRIGGER forget_principal BEFORE DELETE ON sharing.groups
    FOR EACH ROW EXECUTE FUNCTION sharing._forget_principal();
CREATE TRIGGER check_member BEFORE INSERT OR UPDATE ON sharing.group_members
    FOR EACH ROW EXECUTE FUNCTION sharing._check_group_member();
CREATE TRIGGER keep_id BEFORE UPDATE OF id ON sharing.users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION sharing._keep_id();
CREATE TRIGGER keep_id BEFORE UPDATE OF id ON sharing.roles
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION sharing._keep_id();
CREATE TRIGGER keep_id BEFORE UPDATE OF id ON sharing.groups
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION sharing._keep_id();
CREATE TRIGGER keep_id BEFORE UPDATE OF id ON sharing.profiles
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION sharing._keep_id();
CREATE TRIGGER keep_predefined BEFORE UPDATE OR DELETE ON sharing.profiles
    FOR EACH ROW WHEN (OLD.name IN ('administrator', 'standard'))
    EXECUTE FUNCTION sharing._keep_predefined_profile();

CREATE TRIGGER derive AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.roles
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._roles_changed();
CREATE TRIGGER derive AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.groups
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._groups_changed();
CREATE TRIGGER derive AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.group_members
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._groups_changed();
CREATE TRIGGER derive_insert AFTER INSERT ON sharing.users
    REFERENCING NEW TABLE AS changed_users
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._users_changed();
CREATE TRIGGER derive_update AFTER UPDATE ON sharing.users
    REFERENCING NEW TABLE AS changed_users
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._users_changed();

-- Model changes by two admins at once are serialised: the derived sets are
-- rebuilt from the model, so each rebuild must see the other's commit.
CREATE FUNCTION sharing._take_model_lock() RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock(hashtext('pg_sharing model')) $$;

CREATE FUNCTION sharing._lock_model() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._take_model_lock();
    RETURN NULL;
END
$$;

CREATE TRIGGER lock_model BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.roles
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._lock_model();
CREATE TRIGGER lock_model BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.users
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._lock_model();
CREATE TRIGGER lock_model BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.groups
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._lock_model();
CREATE TRIGGER lock_model BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON sharing.group_members
    FOR EACH STATEMENT EXECUTE FUNCTION sharing._lock_model();

-- -------------------------------------------------------------------- roles

CREATE FUNCTION sharing.create_role(name text, parent text DEFAULT NULL, share_with_peers boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_role');
    PERFORM sharing._check_new_name('role', name);
    INSERT INTO sharing.roles (name, parent_id, share_with_peers)
    VALUES (name, CASE WHEN parent IS NOT NULL THEN sharing._role_id(parent) END, coalesce(share_with_peers, false))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

CREATE FUNCTION sharing.move_role(name text, new_parent text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved bigint;
    target bigint;
    chain text;
BEGIN
    PERFORM sharing._require_manage('move_role');
    moved := sharing._role_id(name);
    target := CASE WHEN new_parent IS NOT NULL THEN sharing._role_id(new_parent) END;
    IF target IS NOT NULL AND EXISTS (SELECT 1 FROM sharing._role_closure
                                       WHERE ancestor_id = moved AND descendant_id = target) THEN
        SELECT string_agg(r.name, ' → ' ORDER BY rc.depth DESC) INTO chain
          FROM sharing._role_closure rc JOIN sharing.roles r ON r.id = rc.ancestor_id
         WHERE rc.descendant_id = target
           AND rc.depth <= (SELECT depth FROM sharing._role_closure WHERE ancestor_id = moved AND descendant_id = target);
        RAISE EXCEPTION 'moving role "%" under "%" would create a cycle: % → %', name, new_parent, chain, name
            USING ERRCODE = '23514';
    END IF;
    UPDATE sharing.roles SET parent_id = target WHERE id = moved;
END
$$;

CREATE FUNCTION sharing.drop_role(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped bigint;
    users_left bigint;
    children_left bigint;
    rules_left bigint;
BEGIN
    PERFORM sharing._require_manage('drop_role');
    dropped := sharing._role_id(name);
    SELECT count(*) INTO users_left FROM sharing.users WHERE role_id = dropped;
    SELECT count(*) INTO children_left FROM sharing.roles WHERE parent_id = dropped;
    SELECT count(*) INTO rules_left FROM sharing.rules
     WHERE (from_type IN ('role', 'role_and_subordinates') AND from_id = dropped)
        OR (to_type IN ('role', 'role_and_subordinates') AND to_id = dropped);
    IF users_left > 0 OR children_left > 0 OR rules_left > 0 THEN
        RAISE EXCEPTION 'role "%" is still in use: % user(s), % subordinate role(s), % rule(s)',
            name, users_left, children_left, rules_left USING ERRCODE = '23503';
    END IF;
    -- Its group memberships and the shares made to it go too (_forget_principal).
    DELETE FROM sharing.roles WHERE id = dropped;
END
$$;

-- -------------------------------------------------------------------- users

CREATE FUNCTION sharing.create_user(name text, role text, profile text DEFAULT 'standard',
                                    db_role name DEFAULT NULL, id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_user');
    PERFORM sharing._check_new_name('user', name);
    IF create_user.id IS NOT NULL AND EXISTS (SELECT 1 FROM sharing.users u WHERE u.id = create_user.id) THEN
        RAISE EXCEPTION 'user id % is already taken by user "%"', create_user.id,
            (SELECT u.name FROM sharing.users u WHERE u.id = create_user.id) USING ERRCODE = '23505';
    END IF;
    IF create_user.db_role IS NOT NULL AND EXISTS (SELECT 1 FROM sharing.users u WHERE u.db_role = create_user.db_role) THEN
        RAISE EXCEPTION 'database role "%" is already mapped to user "%"', create_user.db_role,
            (SELECT u.name FROM sharing.users u WHERE u.db_role = create_user.db_role) USING ERRCODE = '23505';
    END IF;
    new_id := create_user.id;
    IF new_id IS NULL THEN
        -- Skip ids an application chose itself.
        LOOP
            new_id := nextval(pg_get_serial_sequence('sharing.users', 'id'));
            EXIT WHEN NOT EXISTS (SELECT 1 FROM sharing.users u WHERE u.id = new_id);
        END LOOP;
    END IF;
    INSERT INTO sharing.users (id, name, role_id, profile_id, db_role)
    VALUES (new_id, name,
            CASE WHEN role IS NOT NULL THEN sharing._role_id(role) END,
            sharing._profile_id(coalesce(profile, 'standard')),
            create_user.db_role);
    RETURN new_id;
END
$$;

-- `changes` is an object with any of: role (a role name, or null for no
-- role), profile (a profile name), db_role (a database role, or null to
-- unmap), active (true/false), name (the new name).
CREATE FUNCTION sharing.alter_user(name text, changes jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target sharing.users;
    key text;
    value jsonb;
BEGIN
    PERFORM sharing._require_manage('alter_user');
    -- The model lock before the row lock: another model change holds the
    -- first and, rebuilding the derived sets, takes KEY SHARE on user rows
    -- (foreign keys); the other order deadlocks.
    PERFORM sharing._take_model_lock();
    SELECT * INTO target FROM sharing.users u WHERE u.name = alter_user.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" does not exist', name USING ERRCODE = '42704';
    END IF;
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object, got %', coalesce(changes::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    FOR key, value IN SELECT e.key, e.value FROM jsonb_each(changes) e ORDER BY e.key LOOP
        IF key NOT IN ('role', 'profile', 'db_role', 'active', 'name') THEN
            RAISE EXCEPTION 'unknown key "%" in changes (expected role, profile, db_role, active, name)', key
                USING ERRCODE = '22023';
        END IF;
        IF key = 'active' AND jsonb_typeof(value) <> 'boolean' THEN
            RAISE EXCEPTION '"active" must be true or false, got %', value USING ERRCODE = '22023';
        END IF;
        IF key <> 'active' AND NOT (jsonb_typeof(value) = 'string'
                                    OR (key IN ('role', 'db_role') AND jsonb_typeof(value) = 'null')) THEN
            RAISE EXCEPTION '"%" must be %, got %', key,
                CASE WHEN key IN ('role', 'db_role') THEN 'a name or null' ELSE 'a name' END, value
                USING ERRCODE = '22023';
        END IF;
        CASE key
        WHEN 'role' THEN
            target.role_id := CASE WHEN value <> 'null' THEN sharing._role_id(value #>> '{}') END;
        WHEN 'profile' THEN
            target.profile_id := sharing._profile_id(value #>> '{}');
        WHEN 'db_role' THEN
            target.db_role := value #>> '{}';
            IF EXISTS (SELECT 1 FROM sharing.users u WHERE u.db_role = target.db_role AND u.id <> target.id) THEN
                RAISE EXCEPTION 'database role "%" is already mapped to user "%"', target.db_role,
                    (SELECT u.name FROM sharing.users u WHERE u.db_role = target.db_role) USING ERRCODE = '23505';
            END IF;
        WHEN 'active' THEN
            target.active := value::boolean;
        WHEN 'name' THEN
            IF btrim(value #>> '{}') = '' THEN
                RAISE EXCEPTION 'user name must not be empty' USING ERRCODE = '22023';
            END IF;
            PERFORM sharing._check_name_length('user', value #>> '{}');
            target.name := value #>> '{}';
            IF EXISTS (SELECT 1 FROM sharing.users u WHERE u.name = target.name AND u.id <> target.id) THEN
                RAISE EXCEPTION 'user "%" already exists', target.name USING ERRCODE = '23505';
            END IF;
        END CASE;
    END LOOP;
    UPDATE sharing.users u
       SET name = target.name, role_id = target.role_id, profile_id = target.profile_id,
           db_role = target.db_role, active = target.active
     WHERE u.id = target.id;
END
$$;

-- ------------------------------------------------------------------- groups

CREATE FUNCTION sharing.create_group(name text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_group');
    PERFORM sharing._check_new_name('group', name);
    INSERT INTO sharing.groups (name) VALUES (name) RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

CREATE FUNCTION sharing.add_to_group(group_name text, member_type text, member_name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gid bigint;
    mid bigint;
    chain text;
BEGIN
    PERFORM sharing._require_manage('add_to_group');
    gid := sharing._group_id(group_name);
    mid := sharing._principal_id(member_type, member_name, ARRAY['user', 'role', 'role_and_subordinates', 'group']);
    IF member_type = 'group' THEN
        IF mid = gid THEN
            RAISE EXCEPTION 'group "%" cannot be a member of itself', group_name USING ERRCODE = '23514';
        END IF;
        -- A cycle if the new member already contains the group (the closure
        -- answers that); then name the shortest such path.
        IF EXISTS (SELECT 1 FROM sharing._group_closure c WHERE c.group_id = mid AND c.member_group_id = gid) THEN
            WITH RECURSIVE walk (reached, path) AS (
                SELECT mid, ARRAY[mid]
                UNION ALL
                SELECT gm.member_id, w.path || gm.member_id
                  FROM walk w JOIN sharing.group_members gm ON gm.group_id = w.reached AND gm.member_type = 'group'
                 WHERE NOT gm.member_id = ANY (w.path)
            )
            SELECT string_agg(g.name, ' → ' ORDER BY p.ord) INTO chain
              FROM (SELECT path FROM walk WHERE walk.reached = gid ORDER BY cardinality(path), path LIMIT 1) w,
                   unnest(ARRAY[gid] || w.path) WITH ORDINALITY AS p (id, ord)
              JOIN sharing.groups g ON g.id = p.id;
            RAISE EXCEPTION 'adding group "%" to group "%" would create a cycle: %', member_name, group_name, chain
                USING ERRCODE = '23514';
        END IF;
    END IF;
    INSERT INTO sharing.group_members (group_id, member_type, member_id)
    VALUES (gid, member_type, mid)
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION sharing.remove_from_group(group_name text, member_type text, member_name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gid bigint;
    mid bigint;
BEGIN
    PERFORM sharing._require_manage('remove_from_group');
    gid := sharing._group_id(group_name);
    mid := sharing._principal_id(member_type, member_name, ARRAY['user', 'role', 'role_and_subordinates', 'group']);
    DELETE FROM sharing.group_members gm
     WHERE gm.group_id = gid AND gm.member_type = remove_from_group.member_type AND gm.member_id = mid;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% "%" is not a member of group "%"', member_type, member_name, group_name
            USING ERRCODE = '22023';
    END IF;
END
$$;

CREATE FUNCTION sharing.drop_group(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('drop_group');
    -- Refused while a rule names it; its memberships (both ways) and the
    -- shares made to it go with it (_forget_principal, the foreign keys).
    DELETE FROM sharing.groups g WHERE g.id = sharing._group_id(drop_group.name);
END
$$;

-- ----------------------------------------------------------------- profiles

CREATE FUNCTION sharing.create_profile(name text, manage_sharing boolean DEFAULT false,
                                       view_all boolean DEFAULT false, modify_all boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM sharing._require_manage('create_profile');
    PERFORM sharing._check_new_name('profile', name);
    INSERT INTO sharing.profiles (name, manage_sharing, view_all, modify_all)
    VALUES (name, coalesce(manage_sharing, false), coalesce(view_all, false), coalesce(modify_all, false))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

CREATE FUNCTION sharing.set_profile_permission(profile text, tbl regclass, action text, allowed boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid bigint;
BEGIN
    PERFORM sharing._require_manage('set_profile_permission');
    pid := sharing._profile_id(profile);
    IF tbl IS NULL OR NOT EXISTS (SELECT 1 FROM sharing.protected_tables p WHERE p.tbl = set_profile_permission.tbl) THEN
        RAISE EXCEPTION 'table % is not protected by pg_sharing', coalesce(tbl::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF action IS NULL OR action NOT IN ('create', 'read', 'edit', 'delete') THEN
        RAISE EXCEPTION 'invalid action "%": expected create, read, edit or delete', action USING ERRCODE = '22023';
    END IF;
    IF allowed IS NULL THEN
        RAISE EXCEPTION 'allowed must be true or false' USING ERRCODE = '22023';
    END IF;
    -- One upsert: a new row starts from the defaults (every action allowed).
    INSERT INTO sharing.profile_permissions AS pp (profile_id, tbl, can_create, can_read, can_edit, can_delete)
    VALUES (pid, tbl, action <> 'create' OR allowed, action <> 'read' OR allowed,
            action <> 'edit' OR allowed, action <> 'delete' OR allowed)
    ON CONFLICT ON CONSTRAINT profile_permissions_pkey DO UPDATE
       SET can_create = CASE WHEN action = 'create' THEN allowed ELSE pp.can_create END,
           can_read   = CASE WHEN action = 'read'   THEN allowed ELSE pp.can_read END,
           can_edit   = CASE WHEN action = 'edit'   THEN allowed ELSE pp.can_edit END,
           can_delete = CASE WHEN action = 'delete' THEN allowed ELSE pp.can_delete END;
END
$$;
