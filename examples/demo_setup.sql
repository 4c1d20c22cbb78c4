-- A small CRM org: a CEO, a sales manager with two reps, a support agent,
-- and a private accounts table. Run as a superuser in a fresh database
-- (scripts/demo.sh does; the regression suite runs it in a transaction).
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pg_sharing;

-- Login roles: one per person (psql, BI tools) and one for the application.
CREATE ROLE ceo LOGIN;
CREATE ROLE sales_manager LOGIN;
CREATE ROLE rep_east LOGIN;
CREATE ROLE rep_west LOGIN;
CREATE ROLE support_agent LOGIN;
CREATE ROLE crm_app LOGIN IN ROLE sharing_app;

-- The role hierarchy.
SELECT sharing.create_role('CEO');
SELECT sharing.create_role('Sales Manager', parent => 'CEO');
SELECT sharing.create_role('Sales Rep', parent => 'Sales Manager');
SELECT sharing.create_role('Support', parent => 'CEO');

-- Users, each mapped to their login role; ids are the application's own.
SELECT sharing.create_user('Carol CEO',     'CEO',           db_role => 'ceo',           id => 1);
SELECT sharing.create_user('Sam Manager',   'Sales Manager', db_role => 'sales_manager', id => 2);
SELECT sharing.create_user('Erin East',     'Sales Rep',     db_role => 'rep_east',      id => 3);
SELECT sharing.create_user('Will West',     'Sales Rep',     db_role => 'rep_west',      id => 4);
SELECT sharing.create_user('Sue Support',   'Support',       db_role => 'support_agent', id => 5);

-- A private accounts table, owned by users.
CREATE TABLE accounts (
    id           bigint PRIMARY KEY,
    owner_id     bigint NOT NULL,
    name         text NOT NULL,
    billing_city text,
    amount       numeric NOT NULL DEFAULT 0
);
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO PUBLIC;

INSERT INTO accounts VALUES
    (101, 3, 'Acme East',      'New York', 50000),
    (102, 3, 'Boston Widgets', 'Boston',   12000),
    (201, 4, 'West Coast Co',  'Seattle',  8000),
    (202, 4, 'Big Apple Bank', 'New York', 90000),
    (301, 2, 'Manager Deal',   'Chicago',  30000),
    (401, 5, 'Support Corp',   'Denver',   1000);

SELECT sharing.protect('accounts', owner_column => 'owner_id', default_access => 'private');

-- Support sees (read only) every New York account, through a criteria rule.
SELECT sharing.create_criteria_rule('accounts', 'New York accounts to support',
    '{"conditions": [{"column": "billing_city", "op": "=", "value": "New York"}]}',
    'role', 'Support', 'read');

-- Will (connected as himself) shares one of his accounts with Erin, read-only.
SET ROLE rep_west;
SELECT sharing.share_record('accounts', '201', 'user', 'Erin East', 'read');
RESET ROLE;
