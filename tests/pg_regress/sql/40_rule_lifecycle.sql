-- The rule lifecycle: set_rule_active, clone_rule, alter_rule (every key,
-- and bad input), drop_rule; the effect of each on the rows users see; who
-- created and last modified a rule; every change in the audit log.
BEGIN;
\set SHOW_CONTEXT never
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all
-- What every user of this test reaches in t40, one line each.
CREATE FUNCTION pg_temp.everyone() RETURNS TABLE (who text, reach text) LANGUAGE plpgsql AS $$
BEGIN
    FOREACH who IN ARRAY ARRAY['bob', 'rita', 'pat', 'sue'] LOOP
        PERFORM set_config('role', 't40_' || who, true);
        reach := pg_temp.reach('t40');
        RETURN NEXT;
    END LOOP;
    RESET ROLE;
END $$;

-- Boss (Bob) > Rep (Rita); Partner (Pat); Support (Sue). Group Partners =
-- {user Pat}. Rita owns records 1 (New York) and 2 (Boston), Bob owns 3
-- (New York), Pat owns 4 (Boston), Sue owns 5 (Paris). Two admins (members
-- of sharing_admin, mapped to no user) make the changes.
-- Role and group ids show in the audit below: start them at a known value
-- (sequences are not transactional; later tests go on from there).
SELECT setval('sharing.roles_id_seq', 40000) > 0 AS set, setval('sharing.groups_id_seq', 40000) > 0 AS set;
CREATE ROLE t40_bob LOGIN;
CREATE ROLE t40_rita LOGIN;
CREATE ROLE t40_pat LOGIN;
CREATE ROLE t40_sue LOGIN;
CREATE ROLE t40_admin1 LOGIN IN ROLE sharing_admin;
CREATE ROLE t40_admin2 LOGIN IN ROLE sharing_admin;
DO $$
BEGIN
    PERFORM sharing.create_role('Boss');
    PERFORM sharing.create_role('Rep', parent => 'Boss');
    PERFORM sharing.create_role('Partner');
    PERFORM sharing.create_role('Support');
    PERFORM sharing.create_user('Bob', 'Boss', db_role => 't40_bob', id => 4001);
    PERFORM sharing.create_user('Rita', 'Rep', db_role => 't40_rita', id => 4002);
    PERFORM sharing.create_user('Pat', 'Partner', db_role => 't40_pat', id => 4003);
    PERFORM sharing.create_user('Sue', 'Support', db_role => 't40_sue', id => 4004);
    PERFORM sharing.create_group('Partners');
    PERFORM sharing.add_to_group('Partners', 'user', 'Pat');
END $$;
CREATE TABLE t40 (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON t40 TO PUBLIC;
INSERT INTO t40 VALUES (1, 4002, 'New York', NULL), (2, 4002, 'Boston', NULL), (3, 4001, 'New York', NULL),
                       (4, 4003, 'Boston', NULL), (5, 4004, 'Paris', NULL);
SELECT sharing.protect('t40');
-- The audit of this test starts here.
SELECT clock_timestamp() AS mark \gset

-- Without rules: owners, and Bob above Rita.
SELECT * FROM pg_temp.everyone();

-- Two rules, created by the first admin: Rep's records to Partner (owner
-- rule, read) and New York records to Support (criteria rule, read).
SET ROLE t40_admin1;
SELECT sharing.create_owner_rule('t40', 'Reps to partners', 'role', 'Rep', 'role', 'Partner', 'read') AS owner_rule \gset
SELECT sharing.create_criteria_rule('t40', 'New York to support',
    '{"conditions": [{"column": "city", "op": "=", "value": "New York"}]}', 'role', 'Support', 'read') AS criteria_rule \gset
RESET ROLE;
SELECT * FROM pg_temp.everyone();

-- ------------------------------------------------------------ set_rule_active

-- An inactive owner rule grants nothing: Pat is back to his own record.
SELECT sharing.set_rule_active(:owner_rule, false);
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT name, active FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;
-- Reactivating restores the access.
SELECT sharing.set_rule_active(:owner_rule, true);
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';

-- An inactive criteria rule grants nothing, and the policies no longer
-- contain its condition; reactivating puts it back.
SELECT strpos(sharing.policy_sql('t40'), '''New York''::text') > 0 AS policy_has_rule;
SELECT sharing.set_rule_active(:criteria_rule, false);
SELECT strpos(sharing.policy_sql('t40'), '''New York''::text') > 0 AS policy_has_rule;
SELECT * FROM pg_temp.everyone() WHERE who = 'sue';
SELECT sharing.set_rule_active(:criteria_rule, true);
SELECT strpos(sharing.policy_sql('t40'), '''New York''::text') > 0 AS policy_has_rule;
SELECT * FROM pg_temp.everyone() WHERE who = 'sue';

-- Bad input: an unknown rule (22023), a NULL flag (22023); a caller
-- without manage_sharing (42501).
SELECT pg_temp.try($$SELECT sharing.set_rule_active(-1, false)$$);
SELECT pg_temp.try($$SELECT sharing.set_rule_active(NULL, false)$$);
SELECT pg_temp.try(format('SELECT sharing.set_rule_active(%s, NULL)', :owner_rule));
SET ROLE t40_pat;
SELECT pg_temp.try(format('SELECT sharing.set_rule_active(%s, false)', :owner_rule));
RESET ROLE;
-- Setting the flag a rule already has changes nothing: not its stamps
-- (modified_by still names the last real change), and nothing is audited.
SELECT count(*) AS audit_rows FROM sharing.audit_log WHERE at > :'mark' \gset
SET ROLE t40_admin2;
SELECT sharing.set_rule_active(:owner_rule, true);
SELECT sharing.alter_rule(:owner_rule, '{"access": "read", "active": true}');
RESET ROLE;
SELECT modified_by FROM sharing.rules WHERE id = :owner_rule;
SELECT count(*) - :audit_rows AS new_audit_rows FROM sharing.audit_log WHERE at > :'mark';

-- ------------------------------------------------------------------ clone_rule

-- A clone is a new rule with the same definition under a new name.
SELECT sharing.clone_rule(:owner_rule, 'Reps to partners (copy)') AS owner_clone \gset
SELECT sharing.clone_rule(:criteria_rule, 'New York to support (copy)') AS criteria_clone \gset
SELECT :owner_clone <> :owner_rule AND :criteria_clone <> :criteria_rule AS new_ids;
SELECT name, type, shared_from, shared_to, access, superiors_allowed, active
  FROM sharing.rule_overview WHERE tbl = 't40'::regclass ORDER BY name;
-- The clones are independent: changing a clone leaves its original alone
-- (the copy of Reps to partners grants read_write: Pat edits Rita's
-- records, the original still says read; the copy of New York to support
-- now shares Boston's records: Sue reads both cities) ...
SELECT sharing.alter_rule(:owner_clone, '{"access": "read_write"}');
SELECT sharing.alter_rule(:criteria_clone, '{"criteria": {"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}}');
SELECT name, shared_from, access FROM sharing.rule_overview WHERE tbl = 't40'::regclass ORDER BY name;
SELECT * FROM pg_temp.everyone() WHERE who IN ('pat', 'sue') ORDER BY who;
-- ... and dropping the originals leaves the clones granting (Pat still
-- edits Rita's records; Sue reads Boston's records, New York's no more).
SELECT sharing.drop_rule(:owner_rule);
SELECT sharing.drop_rule(:criteria_rule);
SELECT name FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;
SELECT * FROM pg_temp.everyone() WHERE who IN ('pat', 'sue') ORDER BY who;
-- A clone of an inactive rule is inactive too.
SELECT sharing.set_rule_active(:owner_clone, false);
SELECT sharing.clone_rule(:owner_clone, 'Inactive copy') AS inactive_clone \gset
SELECT name, active FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;
SELECT sharing.drop_rule(:inactive_clone);
SELECT sharing.set_rule_active(:owner_clone, true);
-- Bad input: a name the table already has (23505), an empty name (22023),
-- an unknown rule (22023), a caller without manage_sharing (42501).
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)', :owner_clone, 'New York to support (copy)'));
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)', :owner_clone, ' '));
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, NULL)', :owner_clone));
SELECT pg_temp.try($$SELECT sharing.clone_rule(-1, 'x')$$);
SET ROLE t40_rita;
SELECT pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)', :owner_clone, 'x'));
RESET ROLE;

-- ------------------------------------------------------------------ alter_rule

-- Back to a known state: one owner rule (Rep's records to Partner, read)
-- and one criteria rule (New York to Support, read).
SELECT sharing.alter_rule(:owner_clone, '{"name": "Reps to partners", "access": "read"}');
SELECT sharing.alter_rule(:criteria_clone, '{"name": "New York to support",
    "criteria": {"conditions": [{"column": "city", "op": "=", "value": "New York"}]}}');
SELECT name, type, shared_from, shared_to, access, superiors_allowed, active
  FROM sharing.rule_overview WHERE tbl = 't40'::regclass ORDER BY name;
SELECT * FROM pg_temp.everyone();

-- name: renamed; the rows users see do not change. Another rule's name is
-- refused (23505); keeping its own name is fine.
SELECT sharing.alter_rule(:owner_clone, '{"name": "Rep records for partners"}');
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"name": "New York to support"}'));
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"name": "Rep records for partners"}'));
SELECT name FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;

-- from_name: records owned by Boss (Bob's record 3) instead of Rep's.
SELECT sharing.alter_rule(:owner_clone, '{"from_name": "Boss"}');
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
-- from_type alone keeps the name: role_and_subordinates Boss (Bob's and
-- Rita's records).
SELECT sharing.alter_rule(:owner_clone, '{"from_type": "role_and_subordinates"}');
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
-- ... so from_type group alone looks for a group named Boss, and there is
-- none (42704): the rule is unchanged (the role's id is not taken for a
-- group's: group Partners has the same id as role Boss here).
SELECT (SELECT id FROM sharing.roles WHERE name = 'Boss') = (SELECT id FROM sharing.groups WHERE name = 'Partners') AS same_id;
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"from_type": "group"}'));
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :owner_clone;
-- (likewise to_type: group alone looks for a group named Partner)
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"to_type": "group"}'));
-- from_type and from_name together: group Partners (Pat's own record, so
-- Pat sees no more than his own).
SELECT sharing.alter_rule(:owner_clone, '{"from_type": "group", "from_name": "Partners"}');
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT sharing.alter_rule(:owner_clone, '{"from_type": "role", "from_name": "Rep"}');
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :owner_clone;

-- to_type / to_name: to group Partners (Pat still reads Rita's records) ...
SELECT sharing.alter_rule(:owner_clone, '{"to_type": "group", "to_name": "Partners"}');
SELECT shared_to FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
-- ... to role Support (to_name alone: Sue reads Rita's records, Pat no more) ...
SELECT sharing.alter_rule(:owner_clone, '{"to_type": "role", "to_name": "Support"}');
SELECT shared_to FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone() WHERE who IN ('pat', 'sue') ORDER BY who;
-- ... to_type alone keeps the name: role_and_subordinates Support ...
SELECT sharing.alter_rule(:owner_clone, '{"to_type": "role_and_subordinates"}');
SELECT shared_to FROM sharing.rule_overview WHERE rule_id = :owner_clone;
-- ... to all users (no name needed, none allowed): everyone reads Rita's
-- records ...
SELECT sharing.alter_rule(:owner_clone, '{"to_type": "all_users"}');
SELECT shared_to FROM sharing.rule_overview WHERE rule_id = :owner_clone;
SELECT * FROM pg_temp.everyone();
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"to_type": "all_users", "to_name": "Pat"}'));
-- ... and from all users back to a role, which needs a name (22023).
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"to_type": "role"}'));
SELECT sharing.alter_rule(:owner_clone, '{"to_type": "role", "to_name": "Partner"}');
SELECT shared_to FROM sharing.rule_overview WHERE rule_id = :owner_clone;

-- access: read_write_delete lets Pat edit and delete Rita's records.
SELECT sharing.alter_rule(:owner_clone, '{"access": "read_write_delete"}');
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT sharing.alter_rule(:owner_clone, '{"access": "read"}');

-- superiors_allowed: a rule sharing Pat's records with Rep reaches Rita;
-- with superiors_allowed it reaches Bob (Boss, above Rep) too.
SELECT sharing.create_owner_rule('t40', 'Partner to reps', 'role', 'Partner', 'role', 'Rep', 'read') AS up_rule \gset
SELECT * FROM pg_temp.everyone() WHERE who IN ('bob', 'rita') ORDER BY who;
SELECT sharing.alter_rule(:up_rule, '{"superiors_allowed": true}');
SELECT * FROM pg_temp.everyone() WHERE who IN ('bob', 'rita') ORDER BY who;
SELECT sharing.alter_rule(:up_rule, '{"superiors_allowed": false}');
SELECT * FROM pg_temp.everyone() WHERE who = 'bob';

-- criteria: Boston instead of New York (Sue reads 2 and 4, not 1 and 3).
SELECT sharing.alter_rule(:criteria_clone, '{"criteria": {"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}}');
SELECT shared_from FROM sharing.rule_overview WHERE rule_id = :criteria_clone;
SELECT * FROM pg_temp.everyone() WHERE who = 'sue';
SELECT strpos(sharing.policy_sql('t40'), '''Boston''::text') > 0 AS policy_has_boston,
       strpos(sharing.policy_sql('t40'), '''New York''::text') > 0 AS policy_has_new_york;
-- the recipients of a criteria rule change like an owner rule's.
SELECT sharing.alter_rule(:criteria_clone, '{"to_type": "group", "to_name": "Partners", "access": "read_write"}');
SELECT * FROM pg_temp.everyone() WHERE who IN ('pat', 'sue') ORDER BY who;

-- active: through alter_rule too, for either kind; with other keys at once.
SELECT sharing.alter_rule(:criteria_clone, '{"active": false}');
SELECT sharing.alter_rule(:owner_clone, '{"active": false, "access": "read_write"}');
SELECT name, access, active FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT strpos(sharing.policy_sql('t40'), '''Boston''::text') > 0 AS policy_has_rule;
SELECT sharing.alter_rule(:criteria_clone, '{"active": true}');
SELECT sharing.alter_rule(:owner_clone, '{"active": true}');
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';

-- Bad input, each refused with the rule left as it was: an unknown rule
-- (22023), a changes value that is not an object or NULL (22023), an
-- unknown key (22023), criteria on an owner rule and from_* on a criteria
-- rule (22023), invalid criteria naming the condition (22023), unknown
-- principals (42704) and types (22023), a bad access (22023), flags that
-- are not booleans and names that are not strings (22023), a caller
-- without manage_sharing (42501).
SELECT to_jsonb(r) - 'modified_at' - 'modified_by' AS owner_before FROM sharing.rules r WHERE id = :owner_clone \gset
SELECT to_jsonb(r) - 'modified_at' - 'modified_by' AS criteria_before FROM sharing.rules r WHERE id = :criteria_clone \gset
SELECT change, pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', CASE WHEN on_criteria THEN :criteria_clone ELSE :owner_clone END, change)) AS result
  FROM (VALUES
    (1,  false, '[]'),
    (2,  false, '"access"'),
    (3,  false, '{"acces": "read"}'),
    (4,  false, '{"access": "read", "tbl": "t40"}'),
    (5,  false, '{"criteria": {"conditions": [{"column": "city", "op": "=", "value": "x"}]}}'),
    (6,  true,  '{"from_type": "role"}'),
    (7,  true,  '{"from_name": "Rep"}'),
    (8,  true,  '{"criteria": {"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "citty", "op": "=", "value": "y"}]}}'),
    (9,  true,  '{"criteria": {"conditions": [{"column": "city", "op": "between", "value": "x"}]}}'),
    (10, true,  '{"criteria": {"conditions": [{"column": "city", "op": "=", "value": "x"}], "pattern": "1 OR 2"}}'),
    (11, true,  '{"criteria": null}'),
    (12, true,  '{"criteria": "city = x"}'),
    (13, false, '{"from_name": "Nobody"}'),
    (14, false, '{"from_type": "user", "from_name": "Pat"}'),
    (15, false, '{"from_type": "all_users"}'),
    (16, false, '{"to_name": "Nobody"}'),
    (17, false, '{"to_type": "user", "to_name": "Pat"}'),
    (18, false, '{"to_type": "everyone"}'),
    (19, false, '{"access": "write"}'),
    (20, false, '{"access": "none"}'),
    (21, false, '{"access": null}'),
    (22, false, '{"superiors_allowed": "yes"}'),
    (23, false, '{"active": 1}'),
    (24, false, '{"active": null}'),
    (25, false, '{"name": ""}'),
    (26, false, '{"name": null}'),
    (27, false, '{"name": 42}'),
    (28, false, '{"access": ["read"]}'),
    (29, false, '{"to_name": {"name": "Partner"}}')
  ) AS c (n, on_criteria, change)
 ORDER BY n;
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, NULL)', :owner_clone));
SELECT pg_temp.try($$SELECT sharing.alter_rule(-1, '{"access": "read"}')$$);
SET ROLE t40_sue;
SELECT pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{"access": "read_write_delete"}'));
RESET ROLE;
SELECT to_jsonb(r) - 'modified_at' - 'modified_by' = :'owner_before' AS owner_rule_unchanged,
       to_jsonb(r2) - 'modified_at' - 'modified_by' = :'criteria_before' AS criteria_rule_unchanged
  FROM sharing.rules r, sharing.rules r2 WHERE r.id = :owner_clone AND r2.id = :criteria_clone;

-- ------------------------------------------------------------------ drop_rule

-- Dropping a rule takes its access away at once: Pat loses Rita's records
-- (owner rule) and, with the criteria rule gone, the Boston records.
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT sharing.drop_rule(:owner_clone);
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT sharing.drop_rule(:criteria_clone);
SELECT * FROM pg_temp.everyone() WHERE who = 'pat';
SELECT strpos(sharing.policy_sql('t40'), '''Boston''::text') > 0 AS policy_has_rule;
-- A dropped rule is gone: dropping, altering, cloning or activating it
-- again is an unknown rule (22023).
SELECT regexp_replace(pg_temp.try(format('SELECT sharing.drop_rule(%s)', :owner_clone)), 'rule \d+ ', 'rule <id> ') AS result;
SELECT regexp_replace(pg_temp.try(format('SELECT sharing.alter_rule(%s, %L)', :owner_clone, '{}')), 'rule \d+ ', 'rule <id> ') AS result;
SELECT regexp_replace(pg_temp.try(format('SELECT sharing.clone_rule(%s, %L)', :owner_clone, 'again')), 'rule \d+ ', 'rule <id> ') AS result;
SELECT regexp_replace(pg_temp.try(format('SELECT sharing.set_rule_active(%s, true)', :owner_clone)), 'rule \d+ ', 'rule <id> ') AS result;
SELECT pg_temp.try($$SELECT sharing.drop_rule(NULL)$$);
SET ROLE t40_bob;
SELECT pg_temp.try(format('SELECT sharing.drop_rule(%s)', :up_rule));
RESET ROLE;
SELECT name FROM sharing.rules WHERE tbl = 't40'::regclass ORDER BY name;

-- ------------------------------------------------------- who and when

-- A new rule is created and last modified by its creator; the outer role
-- names them (an application acting as a user adds "as <user>").
SET ROLE t40_admin1;
SELECT sharing.create_owner_rule('t40', 'Stamped', 'role', 'Rep', 'role', 'Support', 'read') AS stamped \gset
RESET ROLE;
SELECT created_by, modified_by, created_by = modified_by AS same_by, created_at = modified_at AS same_at
  FROM sharing.rule_overview WHERE rule_id = :stamped;
-- Changed by another admin: modified_by names them, created_by stays, and
-- modified_at moves on. (Within one transaction now() does not move: the
-- rule's stamps are first put an hour back, with the triggers of
-- sharing.rules off for that one statement, so that no stamp or audit
-- follows it.)
ALTER TABLE sharing.rules DISABLE TRIGGER USER;
UPDATE sharing.rules SET modified_at = modified_at - interval '1 hour', created_at = created_at - interval '1 hour'
 WHERE id = :stamped;
ALTER TABLE sharing.rules ENABLE TRIGGER USER;
SELECT modified_at AS before_alter FROM sharing.rules WHERE id = :stamped \gset
SET ROLE t40_admin2;
SELECT sharing.alter_rule(:stamped, '{"access": "read_write"}');
RESET ROLE;
SELECT created_by, modified_by, modified_at > :'before_alter'::timestamptz AS modified_later,
       modified_at = now() AS modified_now, created_at < modified_at AS created_earlier
  FROM sharing.rule_overview WHERE rule_id = :stamped;
-- So do set_rule_active and a user with manage_sharing (through its db_role,
-- or through an application acting as them).
SELECT sharing.create_profile('t40 rule admin', manage_sharing => true) > 0 AS created;
SELECT sharing.alter_user('Sue', '{"profile": "t40 rule admin"}');
SET ROLE t40_sue;
SELECT sharing.set_rule_active(:stamped, false);
RESET ROLE;
SELECT created_by, modified_by FROM sharing.rule_overview WHERE rule_id = :stamped;
SAVEPOINT acting;
SELECT sharing.act_as(4004);
SELECT sharing.set_rule_active(:stamped, true);
SELECT created_by, modified_by FROM sharing.rule_overview WHERE rule_id = :stamped;
ROLLBACK TO SAVEPOINT acting;
-- A clone is a new rule: created (and modified) by whoever cloned it.
SET ROLE t40_admin2;
SELECT sharing.clone_rule(:stamped, 'Stamped copy') AS stamped_copy \gset
RESET ROLE;
SELECT name, created_by, modified_by FROM sharing.rule_overview WHERE rule_id IN (:stamped, :stamped_copy) ORDER BY name;

-- ------------------------------------------------------------------ the audit

-- Every change to a rule is in the audit log: who (db role and acting
-- user), the action, the rule, and what changed (the keys whose values
-- differ, stamps left out). Refused calls and the no-op left nothing.
SELECT a.db_role, a.acting_user, a.action, a.object,
       CASE a.action
           WHEN 'update rules' THEN (SELECT jsonb_object_agg(k.key, k.value) FROM jsonb_each(a.after) k
                                      WHERE k.key NOT IN ('modified_at', 'modified_by')
                                        AND k.value IS DISTINCT FROM a.before -> k.key)
           WHEN 'insert rules' THEN jsonb_build_object('access', a.after -> 'access', 'active', a.after -> 'active')
       END AS change
  FROM sharing.audit_log a
 WHERE a.at > :'mark' AND a.action LIKE '% rules'
 ORDER BY a.at, a.action, a.object;
-- The audited rows carry the whole rule, before and after.
SELECT jsonb_object_keys(after) AS audited_key FROM sharing.audit_log
 WHERE at > :'mark' AND action = 'insert rules' AND object = 'rules Stamped'
 ORDER BY 1;
ROLLBACK;
