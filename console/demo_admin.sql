-- The sharing console's administrator for the demo org (examples/demo_setup.sql):
-- the login role org_admin, a member of sharing_admin (which may read the
-- audit log and the shares), mapped to the user Ada Admin with the predefined
-- profile administrator (manage_sharing, view_all, modify_all). Run as a
-- superuser after demo_setup.sql (scripts/demo.sh --keep and the console
-- test do). The demo's own logins keep the standard profile.
\set ON_ERROR_STOP on
CREATE ROLE org_admin LOGIN IN ROLE sharing_admin;
SELECT sharing.create_user('Ada Admin', 'CEO', profile => 'administrator', db_role => 'org_admin');
