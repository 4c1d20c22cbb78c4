-- The rule list: the view sharing.rule_overview (a CRM's sharing settings
-- screen) for owner and criteria rules of every from/to type, and
-- sharing.find_rules with each filter alone and combined. Rule names are
-- unique per table; two tables may use the same name.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- CEO > Sales Manager > Sales Rep; CEO > Support; groups East and
-- "West (Coast)". Rules are created by a sharing admin.
CREATE ROLE t41_admin LOGIN IN ROLE sharing_admin;
CREATE ROLE t41_plain LOGIN;
CREATE ROLE t41_rep LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('CEO');
    PERFORM sharing.create_role('Sales Manager', parent => 'CEO');
    PERFORM sharing.create_role('Sales Rep', parent => 'Sales Manager');
    PERFORM sharing.create_role('Support', parent => 'CEO');
    PERFORM sharing.create_user('Rae Rep', 'Sales Rep', db_role => 't41_rep', id => 4101);
    PERFORM sharing.create_group('East');
    PERFORM sharing.create_group('West (Coast)');
    PERFORM sharing.add_to_group('East', 'role', 'Sales Rep');
END $$;
CREATE TABLE t41_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, billing_city text, type text,
                           amount numeric, closed boolean, opened date);
CREATE TABLE t41_leads (id bigint PRIMARY KEY, owner_id bigint NOT NULL, source text);
SELECT sharing.protect('t41_accounts'), sharing.protect('t41_leads');

SET ROLE t41_admin;
DO $$
BEGIN
    -- owner rules: from role / role and subordinates / group, to role /
    -- role and subordinates / group / all users
    PERFORM sharing.create_owner_rule('t41_accounts', 'Reps to support', 'role', 'Sales Rep', 'role', 'Support', 'read');
    PERFORM sharing.create_owner_rule('t41_accounts', 'Managers to East', 'role_and_subordinates', 'Sales Manager',
                                      'group', 'East', 'read_write', superiors_allowed => true);
    PERFORM sharing.create_owner_rule('t41_accounts', 'East to everyone', 'group', 'East', 'all_users', NULL,
                                      'read_write_delete');
    PERFORM sharing.create_owner_rule('t41_accounts', 'Support up the sales line', 'role', 'Support',
                                      'role_and_subordinates', 'Sales Manager', 'read');
    -- criteria rules: ANDed by default, patterns with parentheses, lists,
    -- null tests, text ops, exact numbers, booleans and dates
    PERFORM sharing.create_criteria_rule('t41_accounts', 'NY business to support',
        '{"conditions": [{"column": "billing_city", "op": "=", "value": "New York"},
                         {"column": "type", "op": "=", "value": "Business"}]}',
        'role', 'Support', 'read');
    PERFORM sharing.create_criteria_rule('t41_accounts', 'Big or NY business',
        '{"conditions": [{"column": "billing_city", "op": "=", "value": "New York"},
                         {"column": "type", "op": "=", "value": "Business"},
                         {"column": "amount", "op": ">=", "value": 10000}],
          "pattern": "(1 AND 2) OR 3"}',
        'group', 'West (Coast)', 'read_write', superiors_allowed => true);
    PERFORM sharing.create_criteria_rule('t41_accounts', 'Boston partners',
        '{"conditions": [{"column": "billing_city", "op": "=", "value": "Boston"},
                         {"column": "type", "op": "in", "value": ["Partner", "Reseller"]},
                         {"column": "amount", "op": "is_null"}],
          "pattern": "1 and (2 or 3)"}',
        'role_and_subordinates', 'Sales Manager', 'read');
    PERFORM sharing.create_criteria_rule('t41_accounts', 'Odd ones',
        '{"conditions": [{"column": "billing_city", "op": "starts_with", "value": "San"},
                         {"column": "type", "op": "not_in", "value": ["Business"]},
                         {"column": "amount", "op": ">", "value": 12345678901234567890.5},
                         {"column": "closed", "op": "=", "value": true},
                         {"column": "opened", "op": "<", "value": "2024-01-01"},
                         {"column": "billing_city", "op": "contains", "value": "(x)"}],
          "pattern": "((1 OR 2) AND (3 OR 4)) OR (5 AND 6)"}',
        'all_users', NULL, 'read');
    PERFORM sharing.create_criteria_rule('t41_leads', 'Web leads',
        '{"conditions": [{"column": "source", "op": "ends_with", "value": "web"}, {"column": "source", "op": "is_not_null"}],
          "pattern": "1 OR 2"}',
        'role', 'Sales Rep', 'read_write');
    -- the same name on another table is allowed
    PERFORM sharing.create_owner_rule('t41_leads', 'Reps to support', 'role', 'Sales Rep', 'role', 'Support', 'read');
END $$;
RESET ROLE;
SELECT sharing.set_rule_active(id, false) FROM sharing.rules WHERE name IN ('East to everyone', 'Web leads');

-- The view's columns.
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'sharing' AND table_name = 'rule_overview' ORDER BY ordinal_position;

-- Each rule as the settings screen shows it: type, from (owner rules:
-- "Owned by" and the principal; criteria rules: the criteria as a person
-- reads them, outer parentheses dropped, inner ones kept, numbers exact),
-- to, access, flags, who created and last modified it.
SELECT tbl, name, type, shared_from, shared_to, access, superiors_allowed, active
  FROM sharing.rule_overview ORDER BY tbl::text, name;
SELECT DISTINCT created_by, modified_by, created_at = modified_at AS unmodified
  FROM sharing.rule_overview WHERE name NOT IN ('East to everyone', 'Web leads');
SELECT DISTINCT created_by, modified_by FROM sharing.rule_overview WHERE name IN ('East to everyone', 'Web leads');
-- The labels follow renames: the rule stores ids, the list shows names.
SAVEPOINT renamed;
UPDATE sharing.roles SET name = 'Customer Support' WHERE name = 'Support';
UPDATE sharing.groups SET name = 'East Coast' WHERE name = 'East';
SELECT name, shared_from, shared_to FROM sharing.rule_overview
 WHERE name IN ('Reps to support', 'Managers to East', 'East to everyone') ORDER BY tbl::text, name;
ROLLBACK TO SAVEPOINT renamed;

-- Everyone may read the rule list: the view and find_rules (a plain login
-- role, a mapped user, a sharing admin).
SET ROLE t41_plain;
SELECT count(*) AS rules_seen FROM sharing.rule_overview;
SELECT count(*) AS rules_found FROM sharing.find_rules('reps');
SET ROLE t41_rep;
SELECT name, shared_from FROM sharing.rule_overview WHERE type = 'criteria' AND tbl = 't41_leads'::regclass;
SET ROLE t41_admin;
SELECT count(*) AS rules_seen FROM sharing.rule_overview;
RESET ROLE;

-- find_rules without filters: every rule, ordered by table and name.
SELECT f.tbl, f.name FROM sharing.find_rules() WITH ORDINALITY f ORDER BY f.ordinality;

-- search: a case-insensitive substring of the name.
SELECT search, string_agg(f.tbl || ': ' || f.name, '; ' ORDER BY f.ordinality) AS found
  FROM unnest(ARRAY['support', 'SUPPORT', 'Reps', 'east', 'NY', 'to', 'no such rule', '']) AS s (search)
  LEFT JOIN LATERAL sharing.find_rules(search) WITH ORDINALITY f ON true
 GROUP BY search ORDER BY search;

-- tbl: the rules of one table.
SELECT name FROM sharing.find_rules(tbl => 't41_leads') ORDER BY name;

-- shared_from / shared_to: case-insensitive substrings of the labels.
SELECT 'shared_from ' || filter AS filter, string_agg(f.name, '; ' ORDER BY f.ordinality) AS found
  FROM unnest(ARRAY['sales manager', 'Role:', 'group', 'billing_city = New York', 'amount', '(x)']) AS s (filter)
  LEFT JOIN LATERAL sharing.find_rules(shared_from => filter) WITH ORDINALITY f ON true
 GROUP BY filter
UNION ALL
SELECT 'shared_to ' || filter, string_agg(f.name, '; ' ORDER BY f.ordinality)
  FROM unnest(ARRAY['support', 'Role and subordinates', 'group:', 'all users', 'west (coast)']) AS s (filter)
  LEFT JOIN LATERAL sharing.find_rules(shared_to => filter) WITH ORDINALITY f ON true
 GROUP BY filter
 ORDER BY 1;

-- superiors_allowed and active: exact.
SELECT name FROM sharing.find_rules(superiors_allowed => true) ORDER BY name;
SELECT name FROM sharing.find_rules(superiors_allowed => false) ORDER BY name;
SELECT name FROM sharing.find_rules(active => false) ORDER BY name;
SELECT count(*) AS active_rules FROM sharing.find_rules(active => true);

-- Filters combine (AND).
SELECT name FROM sharing.find_rules('reps', tbl => 't41_accounts');
SELECT name FROM sharing.find_rules(shared_from => 'role', shared_to => 'role', active => true) ORDER BY name;
SELECT name FROM sharing.find_rules(tbl => 't41_accounts', superiors_allowed => false, active => true,
                                    shared_to => 'support') ORDER BY name;
SELECT name FROM sharing.find_rules('e', 't41_accounts', 'owned by', 'e', true, true);
SELECT name FROM sharing.find_rules('web', tbl => 't41_accounts');
-- (positional arguments: search, tbl, shared_from, shared_to,
-- superiors_allowed, active)
SELECT name FROM sharing.find_rules(NULL, 't41_leads', NULL, NULL, NULL, false);

-- Rule names are unique per table (23505, for either kind of rule, and
-- when renaming or cloning), but another table may use the same name.
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t41_accounts', 'Reps to support', 'role', 'CEO', 'role', 'Support', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t41_accounts', 'Reps to support',
    '{"conditions": [{"column": "type", "op": "=", "value": "x"}]}', 'role', 'Support', 'read')$$);
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)',
    (SELECT id FROM sharing.rules WHERE name = 'Odd ones'), '{"name": "Reps to support"}'));
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)',
    (SELECT id FROM sharing.rules WHERE name = 'Odd ones'), 'Reps to support'));
-- (names are compared exactly: another case is another name)
SELECT pg_temp.try($$SELECT sharing.create_owner_rule('t41_accounts', 'reps to support', 'role', 'CEO', 'role', 'Support', 'read')$$);
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)',
    (SELECT id FROM sharing.rules WHERE name = 'Web leads'), 'Odd ones'));
SELECT tbl, name FROM sharing.rule_overview WHERE lower(name) IN ('reps to support', 'odd ones') ORDER BY tbl::text, name;
ROLLBACK;
