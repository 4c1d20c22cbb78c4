-- The access diff: what applying a configuration document would change in
-- who may read, edit and delete which records, before it is applied
-- (sharing.access_diff; apply_config's dry run reports it too). The steps
-- are in src/diff.rs; this file holds the inputs digest and the driver.

-- Per active-or-not user and protected table, a digest of everything the
-- user's access to the table's records depends on: the user's own row,
-- profile flags and permissions, the table's settings, the users below
-- the user's role and beside it, the rules of the table that reach the
-- user (with their definitions and, for owner rules, the users they share
-- from), the shares that reach the user; a child table's digest includes
-- its parent's. Two models that give a (user, table) the same digest give
-- the user the same access to the table; the diff looks closer only at the
-- pairs whose digest differs.
CREATE FUNCTION sharing._access_inputs() RETURNS TABLE (user_id bigint, tbl regclass, digest text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE principal_users AS (
            SELECT p.principal_type, p.principal_id, md5(string_agg(p.user_id::text, ',' ORDER BY p.user_id)) AS users
              FROM sharing._user_principals p
             GROUP BY 1, 2
        ), below AS (
            SELECT rc.ancestor_id AS role_id, md5(string_agg(v.id::text, ',' ORDER BY v.id)) AS users
              FROM sharing._role_closure rc
              JOIN sharing.users v ON v.role_id = rc.descendant_id
             WHERE rc.depth > 0
             GROUP BY 1
        ), peers AS (
            SELECT v.role_id, md5(string_agg(v.id::text, ',' ORDER BY v.id)) AS users
              FROM sharing.users v
             WHERE v.role_id IS NOT NULL
             GROUP BY 1
        ), rules AS (
            SELECT rr.user_id, r.tbl,
                   md5(string_agg(ROW(r.id, r.rule_type, r.access, r.criteria, r.from_type, r.from_id, pu.users)::text,
                                  ';' ORDER BY r.id)) AS rules
              FROM sharing._rules_reaching rr
              JOIN sharing.rules r ON r.id = rr.rule_id
              LEFT JOIN principal_users pu
                ON r.rule_type = 'owner' AND pu.principal_type = r.from_type AND pu.principal_id = r.from_id
             GROUP BY 1, 2
        ), shares AS (
            SELECT p.user_id, s.tbl,
                   md5(string_agg(ROW(s.record_id, s.access, s.expires_at)::text,
                                  ';' ORDER BY s.record_id, s.access, s.expires_at)) AS shares
              FROM sharing.shares s
              JOIN sharing._user_principals p ON p.principal_type = s.to_type AND p.principal_id = s.to_id
             WHERE s.expires_at IS NULL OR s.expires_at > statement_timestamp()
             GROUP BY 1, 2
        ), own AS (
            SELECT u.id AS user_id, t.tbl, t.parent_tbl,
                   ROW(u.active, u.role_id, pr.view_all, pr.modify_all,
                       pp.can_create, pp.can_read, pp.can_edit, pp.can_delete,
                       t.owner_column, t.default_access, t.grant_via_hierarchy, t.parent_tbl, t.parent_column,
                       CASE WHEN t.grant_via_hierarchy THEN b.users END,
                       CASE WHEN ro.share_with_peers THEN pe.users END,
                       ru.rules, sh.shares)::text AS inputs
              FROM sharing.users u
              JOIN sharing.profiles pr ON pr.id = u.profile_id
              LEFT JOIN sharing.roles ro ON ro.id = u.role_id
              CROSS JOIN sharing.protected_tables t
              LEFT JOIN sharing.profile_permissions pp ON pp.profile_id = u.profile_id AND pp.tbl = t.tbl
              LEFT JOIN below b ON b.role_id = u.role_id
              LEFT JOIN peers pe ON pe.role_id = u.role_id
              LEFT JOIN rules ru ON ru.user_id = u.id AND ru.tbl = t.tbl
              LEFT JOIN shares sh ON sh.user_id = u.id AND sh.tbl = t.tbl
        ), chain AS (
            SELECT o.user_id, o.tbl, md5(o.inputs) AS digest FROM own o WHERE o.parent_tbl IS NULL
            UNION ALL
            SELECT o.user_id, o.tbl, md5(o.inputs || c.digest)
              FROM chain c JOIN own o ON o.parent_tbl = c.tbl AND o.user_id = c.user_id
        )
    SELECT c.user_id, c.tbl, c.digest FROM chain c
$$;

-- Whether the access diff runs here: not on a Citus cluster yet.
CREATE FUNCTION sharing._diff_runs() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT EXISTS (SELECT 1 FROM sharing.protected_tables t WHERE sharing._is_citus_table(t.tbl))
$$;

-- Applies a validated document (sharing._config_document) in a
-- subtransaction that is rolled back, and returns the changes it made.
-- Around it, the access diff's steps (src/diff.rs) learn what it would
-- change in who may read, edit and delete what, which _diff_report() then
-- returns, where the diff runs (diffed; see _diff_runs). access_diff and
-- apply_config's dry run share it.
CREATE FUNCTION sharing._try_config(doc jsonb, OUT changes text[], OUT diffed boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- (Compiling its large one-off queries would take longer than running them.)
SET jit = off
AS $$
BEGIN
    diffed := sharing._diff_runs();
    IF diffed THEN
        PERFORM sharing._diff_before_inputs();
    END IF;
    BEGIN
        changes := sharing._apply_config(doc);
        IF diffed THEN
            PERFORM sharing._diff_after_inputs();
        END IF;
        RAISE EXCEPTION 'undo' USING ERRCODE = 'SH001';
    EXCEPTION WHEN SQLSTATE 'SH001' THEN
        NULL;
    END;
    IF diffed THEN
        PERFORM sharing._diff_compare();
    END IF;
END
$$;

CREATE FUNCTION sharing.access_diff(config jsonb)
RETURNS TABLE (user_id bigint, user_name text, tbl regclass, gained bigint, lost bigint,
               sample_gained text[], sample_lost text[],
               edit_gained bigint, edit_lost bigint, delete_gained bigint, delete_lost bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sharing._require_manage('access_diff');
    IF NOT sharing._diff_runs() THEN
        RAISE EXCEPTION 'access_diff does not run on a Citus cluster yet'
            USING ERRCODE = '0A000', HINT = 'Run it on a single-node copy of the model and data.';
    END IF;
    PERFORM sharing._try_config(sharing._config_document(config));
    RETURN QUERY SELECT r.* FROM sharing._diff_report() r ORDER BY r.tbl::text, r.user_id;
END
$$;
