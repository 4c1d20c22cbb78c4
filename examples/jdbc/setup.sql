-- For examples/jdbc/JdbcExamples.java, on a copy of the org of
-- examples/demo_setup.sql, as a superuser: a BI gateway login that serves
-- several people by switching to their login roles with SET ROLE (as some
-- BI servers and admin tools do), instead of connecting as each of them.
\set ON_ERROR_STOP on
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi_gateway') THEN
        CREATE ROLE bi_gateway LOGIN;
    END IF;
END $$;
-- Membership lets bi_gateway SET ROLE to each of them; its own login is
-- mapped to no user, so without SET ROLE it sees nothing.
GRANT rep_east, rep_west, support_agent TO bi_gateway;
