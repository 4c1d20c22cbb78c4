-- Changes of the model made by an administrator (crm_admin, a member of
-- sharing_admin) between the two rounds of tests/citus/run.sh: each must
-- reach every node, and be undone everywhere when it is rolled back.
\set ON_ERROR_STOP on
\set VERBOSITY terse
-- a dry run lists the change and changes nothing (on Citus without the
-- access impact, which access_diff does not compute there yet)
SELECT * FROM sharing.apply_config(
    jsonb_set(sharing.export_config(), '{roles}', (sharing.export_config() -> 'roles') || '[{"name": "Dry", "parent": null}]'),
    dry_run => true);
SELECT count(*) AS dry_role_left FROM sharing.roles WHERE name = 'Dry';
-- rolled back: must change nothing anywhere
BEGIN;
SELECT sharing.set_default_access('accounts', 'public_read_write');
ROLLBACK;
SELECT sharing.move_role('Support', 'Sales Manager');
SELECT sharing.unshare_record('accounts', '3', 'user', 'Erin East');
SELECT sharing.set_rule_active((SELECT id FROM sharing.rules WHERE name = 'West to East'), false);
SELECT sharing.create_criteria_rule('accounts', 'Big deals to reps',
    '{"conditions": [{"column": "amount", "op": ">=", "value": 900}]}',
    'role', 'Sales Rep', 'read');
SELECT sharing.alter_user('Sam Manager', '{"active": false}');
SELECT sharing.remove_from_group('Key accounts team', 'user', 'Sue Support');
SELECT sharing.add_to_group('Key accounts team', 'role', 'Sales Rep');
SELECT sharing.set_profile_permission('standard', 'accounts', 'delete', false);
