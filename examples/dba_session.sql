-- A DBA session on pg_sharing: change the sharing model as a document
-- (config as code), then look at it the way an administrator does — the
-- rule list, "why can this user see that record?", "who can see it?" — and
-- run the doctor.
--
--   psql -h … -U postgres -d crm -f examples/dba_session.sql
--
-- Run as a superuser or a member of sharing_admin, on a fresh copy of the
-- org in examples/demo_setup.sql (it adds a group and a rule). Each step
-- checks its outcome with pg_temp.expect, so psql exits non-zero on any
-- surprise.
\set ON_ERROR_STOP on
\pset footer off

-- A tiny assertion helper for this session only (pg_temp: gone at disconnect).
CREATE FUNCTION pg_temp.expect(ok boolean, what text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'expectation failed: %', what;
    END IF;
    RETURN 'ok   ' || what;
END $$;

\echo '1. The whole model as one document, as you would keep it in git'
SELECT sharing.export_config() AS config \gset
SELECT jsonb_pretty(:'config'::jsonb -> 'rules') AS rules_in_the_document;
SELECT pg_temp.expect(count(*) = 0, 'applying the exported document changes nothing')
FROM sharing.apply_config(:'config');

\echo '2. Edit the document: a "Key Accounts" team that reads every account of 50,000 or more'
SELECT jsonb_set(jsonb_set(:'config'::jsonb,
         '{groups}', (:'config'::jsonb -> 'groups') || $json$[
            {"name": "Key Accounts",
             "members": [{"type": "user", "name": "Erin East"},
                         {"type": "user", "name": "Sue Support"}]}]$json$),
         '{rules}', (:'config'::jsonb -> 'rules') || $json$[
            {"table": "public.accounts", "name": "Big accounts to key accounts", "type": "criteria",
             "criteria": {"conditions": [{"column": "amount", "op": ">=", "value": 50000}]},
             "to_type": "group", "to_name": "Key Accounts", "access": "read"}]$json$)
       AS new_config \gset

\echo '   dry run: what would change'
SELECT * FROM sharing.apply_config(:'new_config', dry_run => true);
SELECT pg_temp.expect(NOT EXISTS (SELECT FROM sharing.groups WHERE name = 'Key Accounts')
                      AND NOT sharing.can_read(3, 'accounts', '202'),
                      'the dry run changed nothing');

\echo '   apply it (all or nothing), then again'
SELECT pg_temp.expect(array_agg(change ORDER BY change) = ARRAY[
           'add user Erin East to group Key Accounts',
           'add user Sue Support to group Key Accounts',
           'create group Key Accounts',
           'create rule Big accounts to key accounts on public.accounts'],
       'applying the new document reports the group, its members and the rule')
FROM sharing.apply_config(:'new_config') AS change;
SELECT pg_temp.expect(count(*) = 0, 'applying it a second time changes nothing')
FROM sharing.apply_config(:'new_config');
SELECT pg_temp.expect(sharing.can_read(3, 'accounts', '202') AND NOT sharing.can_edit(3, 'accounts', '202'),
                      'Erin (Key Accounts) now reads account 202, and cannot edit it');
SET ROLE rep_east;   -- Erin's login role: what she sees when she connects herself
SELECT pg_temp.expect(array_agg(id ORDER BY id) = '{101,102,201,202}', 'as rep_east, the rows are 101, 102, 201 and 202')
FROM accounts;
RESET ROLE;

\echo '3. The rule list, as a CRM settings screen shows it'
SELECT name, shared_from, shared_to, access, superiors_allowed, active
FROM sharing.rule_overview
WHERE tbl = 'accounts'::regclass
ORDER BY name;
SELECT pg_temp.expect(shared_from = 'amount >= 50000' AND shared_to = 'Group: Key Accounts' AND active,
                      'rule_overview lists the new rule: "amount >= 50000" to "Group: Key Accounts"')
FROM sharing.rule_overview
WHERE name = 'Big accounts to key accounts';

\echo '4. Why can Erin (user 3) see account 202?'
SELECT * FROM sharing.explain_access(3, 'accounts', '202');
SELECT pg_temp.expect(array_agg(reason || ': ' || detail) = ARRAY['rule: criteria rule "Big accounts to key accounts"'],
                      'explain_access names the rule as the one path')
FROM sharing.explain_access(3, 'accounts', '202');

\echo '5. Who can see account 202, and why?'
SELECT user_id, user_name, access, reasons FROM sharing.who_can_access('accounts', '202') ORDER BY user_id;
SELECT pg_temp.expect(array_agg(user_id || ' ' || access ORDER BY user_id) = ARRAY[
           '1 read_write_delete',   -- Carol, CEO: hierarchy (Will reports to her)
           '2 read_write_delete',   -- Sam, Will's manager: hierarchy
           '3 read',                -- Erin: the new rule
           '4 read_write_delete',   -- Will: owner
           '5 read'],               -- Sue: New York rule and the new rule
       'who_can_access lists the five users with their levels')
FROM sharing.who_can_access('accounts', '202');

\echo '6. The doctor'
SELECT * FROM sharing.check();
SELECT pg_temp.expect(count(*) FILTER (WHERE severity = 'error') = 0, 'check() finds no errors')
FROM sharing.check();

\echo '   a view over a protected table without security_invoker shows its owner''s rows: check() warns'
CREATE VIEW big_accounts AS SELECT id, name, amount FROM accounts WHERE amount >= 50000;
SELECT * FROM sharing.check() WHERE object = 'public.big_accounts';
SELECT pg_temp.expect(count(*) = 1, 'check() reports the view big_accounts')
FROM sharing.check() WHERE object = 'public.big_accounts';
ALTER VIEW big_accounts SET (security_invoker = true);
SELECT pg_temp.expect(count(*) = 0, 'with security_invoker the view is filtered per user, and check() is quiet')
FROM sharing.check() WHERE object = 'public.big_accounts';
