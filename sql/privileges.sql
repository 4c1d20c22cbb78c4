-- Privileges, granted last (finalize): nothing in schema sharing is open
-- to PUBLIC unless listed here.

REVOKE ALL ON ALL TABLES IN SCHEMA sharing FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sharing FROM PUBLIC;
GRANT USAGE ON SCHEMA sharing TO PUBLIC;

-- The organisation and the rule list are readable by everyone (an
-- application shows names); who shares what, and the audit, are not.
GRANT SELECT ON sharing.rule_overview TO PUBLIC;
GRANT SELECT ON sharing.roles, sharing.users, sharing.groups, sharing.group_members, sharing.profiles,
                sharing.profile_permissions, sharing.protected_tables, sharing.rules
   TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON sharing.roles, sharing.users, sharing.groups, sharing.group_members,
                sharing.profiles, sharing.profile_permissions
   TO sharing_admin;
GRANT SELECT ON sharing.shares, sharing.audit_log, sharing._role_closure, sharing._group_closure,
                sharing._user_principals
   TO sharing_admin;

-- Public functions: everything not starting with "_", plus the ones the
-- generated policies call.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'sharing'::regnamespace
           AND (p.proname NOT LIKE '\_%'
                OR p.proname IN ('_is_active', '_rule_reaches_me', '_visible_owners', '_shared_records',
                                 '_bypass', '_action_allowed', '_outer_role_oid', '_is_app', '_level_rank', '_member',
                                 '_shared', '_parent_allows'))
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', fn);
    END LOOP;
END
$grants$;
