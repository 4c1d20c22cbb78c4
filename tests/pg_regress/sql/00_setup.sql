-- Installs the extension once for the whole regression suite. Every other
-- test file runs in a transaction and rolls back.
CREATE EXTENSION pg_sharing;
SELECT extname, extnamespace::regnamespace AS schema, extrelocatable FROM pg_extension WHERE extname = 'pg_sharing';
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('sharing_admin', 'sharing_app') ORDER BY rolname;
SELECT name, manage_sharing, view_all, modify_all FROM sharing.profiles ORDER BY id;
