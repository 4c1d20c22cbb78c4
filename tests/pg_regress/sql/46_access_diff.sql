-- access_diff: what a configuration document would change in who may
-- read, edit and delete which records, before it is applied; nothing is
-- changed. apply_config's dry run reports the same. The access-diff
-- integration test checks it against the reference evaluator on random
-- organisations; this shows it on the demo org.
BEGIN;
\set SHOW_CONTEXT never
\set ECHO none
SET client_min_messages = warning;
\o /dev/null
\i ../../examples/demo_setup.sql
\i helpers.sql
\o
RESET client_min_messages;
\set ECHO all
-- A document edited: in array `section`, every element containing `match`
-- gets `patch` merged in.
CREATE FUNCTION pg_temp.edit(doc jsonb, section text, match jsonb, patch jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(doc, ARRAY[section], (
        SELECT jsonb_agg(CASE WHEN e.value @> match THEN e.value || patch ELSE e.value END ORDER BY e.n)
          FROM jsonb_array_elements(doc -> section) WITH ORDINALITY AS e (value, n)))
$$;
SELECT sharing.export_config() AS doc \gset
SELECT md5(sharing.export_config()::text) AS before \gset

-- Nothing changes: no line.
SELECT count(*) FROM sharing.access_diff(:'doc');

-- A new criteria rule: Boston accounts to the sales reps, read_write.
-- Will West gains 102 (Erin's, in Boston) for reading and editing; Erin
-- owns it already.
SELECT * FROM sharing.access_diff(jsonb_set(:'doc', '{rules}', (:'doc'::jsonb -> 'rules') ||
    '[{"name": "Boston to reps", "table": "public.accounts", "type": "criteria",
       "criteria": {"conditions": [{"column": "billing_city", "op": "=", "value": "Boston"}]},
       "to_type": "role", "to_name": "Sales Rep", "access": "read_write"}]'));

-- The New York rule switched off: Sue Support loses the two New York
-- accounts.
SELECT user_name, tbl, gained, lost, sample_lost, edit_lost
  FROM sharing.access_diff(pg_temp.edit(:'doc', 'rules', '{"name": "New York accounts to support"}', '{"active": false}'));

-- Erin moves to the Support role: she keeps her own accounts, gains the
-- New York rule's (Will's 202); Sam (Sales Manager) loses Erin's accounts
-- through the hierarchy.
SELECT user_id, user_name, tbl, gained, lost, sample_gained, sample_lost, edit_gained, edit_lost,
       delete_gained, delete_lost
  FROM sharing.access_diff(pg_temp.edit(:'doc', 'users', '{"name": "Erin East"}', '{"role": "Support"}'));

-- Nothing was changed by any of it.
SELECT md5(sharing.export_config()::text) = :'before' AS unchanged;

-- apply_config's dry run lists the changes and then their access impact.
SELECT * FROM sharing.apply_config(pg_temp.edit(:'doc', 'rules', '{"name": "New York accounts to support"}', '{"access": "read_write"}'),
                                   dry_run => true);

-- Bad input: the errors of apply_config, nothing applied.
SELECT pg_temp.try($$SELECT * FROM sharing.access_diff(NULL)$$);
SELECT pg_temp.try($$SELECT * FROM sharing.access_diff('{"roles": 5}')$$);
SELECT pg_temp.try($$SELECT * FROM sharing.access_diff(jsonb_set(sharing.export_config(), '{users,0,role}', '"No Such Role"'))$$);
SELECT md5(sharing.export_config()::text) = :'before' AS unchanged;

-- Only for those who manage sharing: it tells who sees what.
SET ROLE rep_east;
SELECT pg_temp.try(format('SELECT * FROM sharing.access_diff(%L)', :'doc'));
RESET ROLE;
ROLLBACK;
