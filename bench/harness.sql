-- What bench/bench.py needs besides the data: the naive setup (N), the
-- application role, the in-server timer, and for the application request
-- (pgbench) the hand-written hierarchy RLS (H) and the (user, record) pairs.
-- Run after bench/setup.sql.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- The application login (P and N run as it, so RLS applies; L and U run as
-- the superuser, on unprotected tables).
CREATE ROLE bench_app LOGIN IN ROLE sharing_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, notes, accounts_naive TO bench_app;

-- With -v citus=1 (a Citus cluster): the timer only; N, H and the
-- application request's pairs are for the single node.

\if :citus
\else
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

\endif

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

\if :citus
\else
-- ------------------------------------------ H: hand-written hierarchy RLS
-- The best a skilled DBA writes by hand for the role hierarchy alone (no
-- rules, no shares): a closure table, materialised once, of the owners each
-- user sees (themselves and the users of the roles below theirs), read once
-- per statement for the user the request names in app.user_id. Computed
-- from sharing.roles and sharing.users, as bench/setup.sql made them.
CREATE SCHEMA hand;
CREATE TABLE hand.visible (user_id bigint PRIMARY KEY, owners bigint[] NOT NULL);
INSERT INTO hand.visible
WITH RECURSIVE below (ancestor_id, descendant_id) AS (
        SELECT parent_id, id FROM sharing.roles WHERE parent_id IS NOT NULL
        UNION ALL
        SELECT r.parent_id, b.descendant_id FROM below b JOIN sharing.roles r ON r.id = b.ancestor_id
         WHERE r.parent_id IS NOT NULL)
SELECT u.id, array(SELECT u.id
                   UNION
                   SELECT v.id FROM below b JOIN sharing.users v ON v.role_id = b.descendant_id
                    WHERE b.ancestor_id = u.role_id)
  FROM sharing.users u WHERE u.active;
CREATE FUNCTION hand.visible_owners() RETURNS bigint[]
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT owners FROM hand.visible
                      WHERE user_id = nullif(current_setting('app.user_id', true), '')::bigint), '{}')
$$;
-- A copy of accounts (same rows, same indexes: id, owner_id, updated_at).
CREATE TABLE accounts_hand (LIKE accounts INCLUDING ALL);
INSERT INTO accounts_hand SELECT * FROM accounts_naive;
ALTER TABLE accounts_hand ENABLE ROW LEVEL SECURITY;
CREATE POLICY hand_owners ON accounts_hand
    USING (owner_id = ANY ((SELECT hand.visible_owners())::bigint[]));
-- Its login: no superuser, no BYPASSRLS, owns nothing.
CREATE ROLE bench_hand LOGIN;
GRANT USAGE ON SCHEMA hand TO bench_hand;
GRANT SELECT ON hand.visible TO bench_hand;
GRANT SELECT, UPDATE ON accounts_hand TO bench_hand;

-- ------------------------------------------ the application request's pairs
-- One (user, record) pair per user who owns a record and may edit: the
-- user and the first record they own, numbered 1..N for pgbench to pick at
-- random. light_agent users may not edit (bench/setup.sql), so are left out.
CREATE TABLE bench_pairs (n bigint PRIMARY KEY, uid bigint NOT NULL, id bigint NOT NULL);
INSERT INTO bench_pairs
SELECT row_number() OVER (ORDER BY uid), uid, id
  FROM (SELECT DISTINCT ON (a.owner_id) a.owner_id AS uid, a.id
          FROM accounts_naive a
          JOIN sharing.users u ON u.id = a.owner_id AND u.active
          JOIN sharing.profiles p ON p.id = u.profile_id AND p.name <> 'light_agent'
         ORDER BY a.owner_id, a.id) own;
GRANT SELECT ON bench_pairs TO bench_app, bench_hand;
ANALYZE hand.visible, accounts_hand, bench_pairs;
\endif
