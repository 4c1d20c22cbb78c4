-- The Citus test's organisation and data, loaded the same way into a single
-- node (-v citus=0) and into a Citus coordinator (-v citus=1): what every
-- user sees must then be the same on both (tests/citus/run.sh).
\set ON_ERROR_STOP on
CREATE EXTENSION pg_sharing;
\if :citus
-- Before anything else: every later change of the model travels.
SELECT sharing.enable_citus();
\endif

CREATE ROLE ceo LOGIN;
CREATE ROLE sales_manager LOGIN;
CREATE ROLE rep_east LOGIN;
CREATE ROLE rep_west LOGIN;
CREATE ROLE support_agent LOGIN;
CREATE ROLE outsider LOGIN;
CREATE ROLE crm_app LOGIN IN ROLE sharing_app;
CREATE ROLE crm_admin LOGIN IN ROLE sharing_admin;

SELECT sharing.create_role('CEO');
SELECT sharing.create_role('Sales Manager', parent => 'CEO');
SELECT sharing.create_role('Sales Rep', parent => 'Sales Manager');
SELECT sharing.create_role('Support', parent => 'CEO');
SELECT sharing.create_user('Carol CEO',   'CEO',           db_role => 'ceo',           id => 1);
SELECT sharing.create_user('Sam Manager', 'Sales Manager', db_role => 'sales_manager', id => 2);
SELECT sharing.create_user('Erin East',   'Sales Rep',     db_role => 'rep_east',      id => 3);
SELECT sharing.create_user('Will West',   'Sales Rep',     db_role => 'rep_west',      id => 4);
SELECT sharing.create_user('Sue Support', 'Support',       db_role => 'support_agent', id => 5);
SELECT sharing.create_group('Key accounts team');
SELECT sharing.add_to_group('Key accounts team', 'user', 'Sue Support');

CREATE TABLE accounts (
    id           bigint PRIMARY KEY,
    owner_id     bigint NOT NULL,
    name         text NOT NULL,
    billing_city text,
    amount       numeric NOT NULL DEFAULT 0
);
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO PUBLIC;
\if :citus
SELECT create_distributed_table('accounts', 'id', shard_count => 4);
\endif
INSERT INTO accounts
SELECT g, 1 + g % 5, 'Account ' || g,
       (ARRAY['New York', 'Boston', 'Seattle', 'Chicago', 'Denver'])[1 + g % 7 % 5],
       (g * 37) % 1000
  FROM generate_series(1, 60) g;

-- Tasks follow their account: a child table, co-located with accounts on
-- Citus (distributed by account_id), so its key is (account_id, id).
CREATE TABLE tasks (
    account_id bigint NOT NULL,
    id         bigint NOT NULL,
    title      text NOT NULL,
    PRIMARY KEY (account_id, id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO PUBLIC;
\if :citus
SELECT create_distributed_table('tasks', 'account_id', colocate_with => 'accounts');
\endif
INSERT INTO tasks SELECT 1 + g % 60, g, 'Task ' || g FROM generate_series(1, 120) g;

-- Campaigns: a reference table on Citus (every node holds all its rows).
CREATE TABLE campaigns (id bigint PRIMARY KEY, owner_id bigint NOT NULL, title text NOT NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON campaigns TO PUBLIC;
\if :citus
SELECT create_reference_table('campaigns');
\endif
INSERT INTO campaigns SELECT g, 1 + g % 5, 'Campaign ' || g FROM generate_series(1, 15) g;

SELECT sharing.protect('accounts', owner_column => 'owner_id', default_access => 'private');
SELECT sharing.protect_child('tasks', 'account_id', 'accounts');
SELECT sharing.protect('campaigns', owner_column => 'owner_id', default_access => 'private');
SELECT sharing.create_criteria_rule('accounts', 'New York accounts to support',
    '{"conditions": [{"column": "billing_city", "op": "=", "value": "New York"}]}',
    'role', 'Support', 'read');
SELECT sharing.create_owner_rule('accounts', 'West to East', 'role', 'Sales Rep', 'role', 'Support', 'read_write');
SET ROLE rep_west;
SELECT sharing.share_record('accounts', '3', 'user', 'Erin East', 'read');
SELECT sharing.share_record('accounts', '8', 'group', 'Key accounts team', 'read_write');
SELECT sharing.share_record('campaigns', '3', 'role', 'Support', 'read');
RESET ROLE;
