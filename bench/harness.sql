-- What bench/bench.py needs besides the data: the naive setup (N), the
-- application role and the in-server timer. Run after bench/setup.sql.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- The application login (P and N run as it, so RLS applies; L and U run as
-- the superuser, on unprotected tables).
CREATE ROLE bench_app LOGIN IN ROLE sharing_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, notes, accounts_naive TO bench_app;

-- ------------------------------------------------------------ N: the naive
-- What a DBA writes by hand without pg_sharing: a policy calling a plpgsql
-- can_read(current user, row) that walks the hierarchy with a recursive CTE
-- and checks shares and rules row by row.
CREATE SCHEMA naive;
GRANT USAGE ON SCHEMA naive TO PUBLIC;
CREATE FUNCTION naive.can_read(uid bigint, r accounts_naive) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    my_role bigint;
    owner_role bigint;
    rule record;
BEGIN
    IF uid IS NULL THEN RETURN false; END IF;
    IF r.owner_id = uid THEN RETURN true; END IF;
    SELECT role_id INTO my_role FROM sharing.users WHERE id = uid AND active;
    IF NOT FOUND THEN RETURN false; END IF;
    SELECT role_id INTO owner_role FROM sharing.users WHERE id = r.owner_id;
    -- Superiors: is my role a strict ancestor of the owner's role?
    IF EXISTS (WITH RECURSIVE up(id) AS (
                   SELECT parent_id FROM sharing.roles WHERE id = owner_role
                   UNION ALL
                   SELECT ro.parent_id FROM sharing.roles ro JOIN up ON ro.id = up.id)
               SELECT 1 FROM up WHERE id = my_role) THEN
        RETURN true;
    END IF;
    -- Manual shares to me.
    IF EXISTS (SELECT 1 FROM sharing.shares s
                WHERE s.tbl = 'public.accounts'::regclass AND s.record_id = r.id::text
                  AND s.to_type = 'user' AND s.to_id = uid) THEN
        RETURN true;
    END IF;
    -- Rules whose recipients include me (role, or a group I am in,
    -- resolved recursively), and whose source or criteria match the row.
    FOR rule IN SELECT * FROM sharing.rules WHERE tbl = 'public.accounts'::regclass AND active LOOP
        IF NOT ((rule.to_type = 'role' AND rule.to_id = my_role)
             OR (rule.to_type = 'role_and_subordinates' AND EXISTS (
                    WITH RECURSIVE up(id) AS (SELECT my_role UNION ALL
                        SELECT ro.parent_id FROM sharing.roles ro JOIN up ON ro.id = up.id WHERE ro.parent_id IS NOT NULL)
                    SELECT 1 FROM up WHERE id = rule.to_id))
             OR (rule.to_type = 'group' AND EXISTS (
                    WITH RECURSIVE g(id) AS (
                        SELECT group_id FROM sharing.group_members
                         WHERE (member_type = 'user' AND member_id = uid)
                            OR (member_type = 'role' AND member_id = my_role)
                        UNION
                        SELECT gm.group_id FROM sharing.group_members gm JOIN g
                            ON gm.member_type = 'group' AND gm.member_id = g.id)
                    SELECT 1 FROM g WHERE id = rule.to_id))) THEN
            CONTINUE;
        END IF;
        IF rule.rule_type = 'criteria' THEN
            IF r.industry = rule.criteria #>> '{conditions,0,value}'
               AND r.billing_city = rule.criteria #>> '{conditions,1,value}' THEN
                RETURN true;
            END IF;
        ELSIF EXISTS (WITH RECURSIVE up(id) AS (SELECT owner_role UNION ALL
                          SELECT ro.parent_id FROM sharing.roles ro JOIN up ON ro.id = up.id WHERE ro.parent_id IS NOT NULL)
                      SELECT 1 FROM up WHERE id = rule.from_id) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;
ALTER TABLE accounts_naive ENABLE ROW LEVEL SECURITY;
CREATE POLICY naive_read ON accounts_naive FOR SELECT
    USING (naive.can_read(sharing.current_user_id(), accounts_naive));

-- ------------------------------------------------------------------ the timer
-- Runs `q` n times as `as_role` acting for `uid` (both NULL: as the caller)
-- and returns each run's wall time in ms, planning included: dynamic SQL is
-- planned at every EXECUTE, as a client's simple query is.
CREATE SCHEMA bench;
CREATE FUNCTION bench.time_query(q text, n integer, uid bigint DEFAULT NULL, as_role text DEFAULT NULL)
RETURNS float8[]
LANGUAGE plpgsql
AS $$
DECLARE
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    IF as_role IS NOT NULL THEN
        PERFORM set_config('role', as_role, true);
    END IF;
    IF uid IS NOT NULL THEN
        PERFORM sharing.act_as(uid);
    END IF;
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        times := times || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END LOOP;
    RETURN times;
END
$$;
