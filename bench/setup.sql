-- The benchmark's CRM org, generated and deterministic by seed. Run by
-- bench/bench.py with psql variables :rows and :seed, as a superuser, in a
-- fresh database.
--
--   10,000 users in a role tree 6 levels deep (1 CEO, 4 VPs, 16 directors,
--   64 managers, 256 team leads, 1,024 rep roles), 200 groups (50 nested),
--   profiles standard, light_agent (read only) and analyst (view_all);
--   accounts (:rows rows; five owners own 1% each), private; 20 owner rules,
--   20 criteria rules, manual shares on 1% of the rows; notes, 3 per account,
--   controlled by their account.
--
-- With -v citus=1, on a Citus coordinator with its workers: the model is
-- made the model of every node first (sharing.enable_citus), accounts and
-- its unprotected copy are distributed by id, and notes by account_id,
-- co-located with accounts (so its key is (account_id, id)).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION pg_sharing;
\if :citus
SELECT sharing.enable_citus();
\endif
SELECT setseed(:seed::float8 / 1000000);

-- ----------------------------------------------------------- the organisation
-- Role k (1-based, breadth first): level by k; parent of role k > 1 is
-- (k - 2) / 4 + 1.
INSERT INTO sharing.roles (id, name, parent_id, share_with_peers)
SELECT k, 'role ' || k, CASE WHEN k > 1 THEN (k - 2) / 4 + 1 END, k % 7 = 0
  FROM generate_series(1, 1365) k;
SELECT setval(pg_get_serial_sequence('sharing.roles', 'id'), 1365);

SELECT sharing.create_profile('light_agent');
SELECT sharing.create_profile('analyst', view_all => true);

-- Users 1..341 head the roles of levels 1-5 (user k in role k); the other
-- 9,659 are spread over the 1,024 leaf roles (342..1365).
INSERT INTO sharing.users (id, name, role_id, profile_id)
SELECT u, 'user ' || u,
       CASE WHEN u <= 341 THEN u ELSE 342 + (u - 342) % 1024 END,
       (SELECT id FROM sharing.profiles
         WHERE name = CASE WHEN u % 500 = 17 THEN 'light_agent'
                           WHEN u % 2000 = 33 THEN 'analyst' ELSE 'standard' END)
  FROM generate_series(1, 10000) u;
SELECT setval(pg_get_serial_sequence('sharing.users', 'id'), 10000);

INSERT INTO sharing.groups (id, name) SELECT g, 'group ' || g FROM generate_series(1, 200) g;
SELECT setval(pg_get_serial_sequence('sharing.groups', 'id'), 200);
-- 20 random users per group; every 10th group also a role and subordinates;
-- groups 151..200 contain group g - 150.
INSERT INTO sharing.group_members (group_id, member_type, member_id)
SELECT DISTINCT g, 'user', 342 + floor(random() * 9659)::int
  FROM generate_series(1, 200) g, generate_series(1, 20);
INSERT INTO sharing.group_members (group_id, member_type, member_id)
SELECT g, 'role_and_subordinates', 86 + g FROM generate_series(10, 200, 10) g;
INSERT INTO sharing.group_members (group_id, member_type, member_id)
SELECT g, 'group', g - 150 FROM generate_series(151, 200) g;

-- ------------------------------------------------------------------- the data
CREATE TABLE accounts (
    id           bigint PRIMARY KEY,
    owner_id     bigint NOT NULL,
    name         text NOT NULL,
    industry     text NOT NULL,
    billing_city text NOT NULL,
    type         text NOT NULL,
    amount       numeric NOT NULL,
    updated_at   timestamptz NOT NULL
);
\if :citus
CREATE TABLE notes (
    id         bigint NOT NULL,
    account_id bigint NOT NULL,
    body       text NOT NULL,
    PRIMARY KEY (account_id, id)
);
SELECT create_distributed_table('accounts', 'id');
SELECT create_distributed_table('notes', 'account_id', colocate_with => 'accounts');
\else
CREATE TABLE notes (
    id         bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    body       text NOT NULL
);
\endif

INSERT INTO accounts
SELECT n,
       -- five owners hold 1% of the rows each; the rest is uniform
       CASE WHEN n % 100 < 5 THEN 342 + (n % 100) * 1931 ELSE 1 + floor(random() * 10000)::bigint END,
       'account ' || n,
       (ARRAY['Banking', 'Retail', 'Energy', 'Health', 'Media', 'Telecom', 'Transport', 'Software'])[1 + floor(random() * 8)::int],
       (ARRAY['New York', 'London', 'Paris', 'Berlin', 'Tokyo', 'Sydney', 'Toronto', 'Madrid', 'Rome', 'Oslo',
              'Vienna', 'Dublin', 'Lisbon', 'Prague', 'Seoul', 'Austin', 'Denver', 'Boston', 'Chicago', 'Miami'])[1 + floor(random() * 20)::int],
       (ARRAY['Customer', 'Partner', 'Prospect', 'Reseller'])[1 + floor(random() * 4)::int],
       round((random() * 100000)::numeric, 2),
       timestamptz '2026-01-01' + random() * interval '300 days'
  FROM generate_series(1, :rows) n;
CREATE INDEX ON accounts (owner_id);
CREATE INDEX ON accounts (updated_at);

INSERT INTO notes SELECT a * 3 + k, a, 'note ' || k || ' on account ' || a
  FROM generate_series(1, :rows) a, generate_series(0, 2) k;
CREATE INDEX ON notes (account_id);

-- A copy of accounts for the naive setup (N) and the unprotected one (U),
-- same rows, same indexes.
CREATE TABLE accounts_naive (LIKE accounts INCLUDING ALL);
\if :citus
SELECT create_distributed_table('accounts_naive', 'id', colocate_with => 'accounts');
\endif
INSERT INTO accounts_naive SELECT * FROM accounts;

-- ------------------------------------------------------------ sharing model
SELECT sharing.protect('accounts', owner_column => 'owner_id', default_access => 'private');
SELECT sharing.protect_child('notes', parent_column => 'account_id', parent => 'accounts');
SELECT sharing.set_profile_permission('light_agent', 'accounts', a, false)
  FROM unnest(ARRAY['create', 'edit', 'delete']) a;

-- 20 owner rules: records of a manager's team to a group or a peer team,
-- and two directors' teams (under VP 3) to VP 2.
SELECT sharing.create_owner_rule('accounts', 'director ' || k || ' to VP 2',
           'role_and_subordinates', 'role ' || k, 'role', 'role 2', 'read')
  FROM generate_series(10, 11) k;
SELECT sharing.create_owner_rule('accounts', 'owner rule ' || k,
           'role_and_subordinates', 'role ' || (22 + k * 3),
           CASE WHEN k % 2 = 0 THEN 'group' ELSE 'role_and_subordinates' END,
           CASE WHEN k % 2 = 0 THEN 'group ' || (k * 9) ELSE 'role ' || (86 + k * 11) END,
           CASE WHEN k % 3 = 0 THEN 'read_write' ELSE 'read' END)
  FROM generate_series(1, 18) k;

-- 20 criteria rules on industry, city, type and amount, to groups and roles.
SELECT sharing.create_criteria_rule('accounts', 'criteria rule ' || k,
           jsonb_build_object('conditions', jsonb_build_array(
               jsonb_build_object('column', 'industry', 'op', '=', 'value',
                   (ARRAY['Banking', 'Retail', 'Energy', 'Health', 'Media', 'Telecom', 'Transport', 'Software'])[1 + k % 8]),
               jsonb_build_object('column', 'billing_city', 'op', '=', 'value',
                   (ARRAY['New York', 'London', 'Paris', 'Berlin', 'Tokyo'])[1 + k % 5]))),
           CASE WHEN k % 2 = 0 THEN 'group' ELSE 'role' END,
           CASE WHEN k % 2 = 0 THEN 'group ' || (k * 7 + 3) ELSE 'role ' || (350 + k * 37) END,
           'read')
  FROM generate_series(1, 20) k;

-- Manual shares on 1% of the accounts, each to a random user.
INSERT INTO sharing.shares (tbl, record_id, to_type, to_id, access)
SELECT 'accounts'::regclass, n::text, 'user', 342 + floor(random() * 9659)::bigint, 'read'
  FROM generate_series(1, :rows, 100) n;

ANALYZE;
