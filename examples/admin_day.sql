-- A day of sharing administration, on the demo org (examples/demo_setup.sql).
-- Run as a sharing admin (a member of sharing_admin, or a superuser).

-- 09:00 A new support agent starts, with a "light agent" profile: reads
-- accounts, never edits them.
SELECT sharing.create_profile('light agent');
SELECT sharing.set_profile_permission('light agent', 'accounts', 'edit', false);
SELECT sharing.create_user('Lou Light', 'Support', profile => 'light agent', id => 6);

-- 09:30 Notes on accounts follow their account ("controlled by parent").
CREATE TABLE account_notes (id bigint PRIMARY KEY, account_id bigint NOT NULL, body text);
GRANT SELECT, INSERT, UPDATE, DELETE ON account_notes TO PUBLIC;
INSERT INTO account_notes VALUES (1, 101, 'call back'), (2, 202, 'renewal'), (3, 301, 'pricing');
SELECT sharing.protect_child('account_notes', 'account_id', 'accounts');

-- 10:00 The East team: a group, and a rule sharing its members' accounts
-- with the whole sales organisation, read-only.
SELECT sharing.create_group('East');
SELECT sharing.add_to_group('East', 'user', 'Erin East');
SELECT sharing.create_owner_rule('accounts', 'East accounts to sales', 'group', 'East',
                                 'role_and_subordinates', 'Sales Manager', 'read');

-- 11:00 Big deals go to the CEO's office for edit, by criteria.
SELECT sharing.create_criteria_rule('accounts', 'Big deals',
    '{"conditions": [{"column": "amount", "op": ">=", "value": 40000},
                     {"column": "billing_city", "op": "in", "value": ["New York", "Chicago"]}],
      "pattern": "1 AND 2"}',
    'role', 'CEO', 'read_write');

-- 12:00 What rules are there, and which mention "east"?
SELECT name, type, shared_from, shared_to, access, active FROM sharing.rule_overview ORDER BY name;
SELECT name FROM sharing.find_rules(search => 'east');

-- 14:00 A question from Will: why can he see account 101?
SELECT * FROM sharing.explain_access(4, 'accounts', '101');
-- ...and who can see the Big Apple Bank account?
SELECT user_id, user_name, access FROM sharing.who_can_access('accounts', '202');

-- 15:00 The big-deals rule is paused for a review, then changed.
SELECT sharing.set_rule_active((SELECT rule_id FROM sharing.rule_overview WHERE name = 'Big deals'), false);
SELECT sharing.alter_rule((SELECT rule_id FROM sharing.rule_overview WHERE name = 'Big deals'),
                          '{"access": "read", "active": true}');

-- 16:00 Sue leaves the company; sales reps start seeing each other's
-- accounts (read-only).
SELECT sharing.alter_user('Sue Support', '{"active": false}');
UPDATE sharing.roles SET share_with_peers = true WHERE name = 'Sales Rep';

-- 17:00 Keep the model in git, and check the database's health.
SELECT jsonb_pretty(sharing.export_config() -> 'rules') IS NOT NULL AS exported;
SELECT * FROM sharing.apply_config(sharing.export_config(), dry_run => true);   -- no changes
SELECT severity, object, message FROM sharing.check()
 WHERE object NOT IN (SELECT rolname FROM pg_roles WHERE rolsuper) ORDER BY 1, 2, 3;
