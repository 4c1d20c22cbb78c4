-- Criteria-based sharing rules: every op, patterns, NULLs, validation
-- errors that name the offending part, values that stay literals whatever
-- they contain, effect within the same transaction, superiors_allowed.
BEGIN;
-- pg_temp.try, pg_temp.reach, pg_temp.rows: tests/pg_regress/helpers.sql
\set ECHO none
\i helpers.sql
\set ECHO all

-- Olga (Ops) owns every record; Ron (Reader) receives the rules; Rhea
-- (ReaderBoss) is Ron's superior.
CREATE ROLE u24_olga LOGIN;
CREATE ROLE u24_ron LOGIN;
CREATE ROLE u24_rhea LOGIN;
DO $$
BEGIN
    PERFORM sharing.create_role('Ops');
    PERFORM sharing.create_role('ReaderBoss');
    PERFORM sharing.create_role('Reader', parent => 'ReaderBoss');
    PERFORM sharing.create_user('Olga', 'Ops', db_role => 'u24_olga', id => 1);
    PERFORM sharing.create_user('Ron', 'Reader', db_role => 'u24_ron', id => 2);
    PERFORM sharing.create_user('Rhea', 'ReaderBoss', db_role => 'u24_rhea', id => 3);
END $$;

CREATE TABLE t24 (
    id      bigint PRIMARY KEY,
    owner_id bigint NOT NULL,
    city    text,
    amount  numeric,
    stage   integer,
    closed  boolean,
    created date,
    code    varchar(10),
    note    text
);
GRANT SELECT, INSERT, UPDATE, DELETE ON t24 TO PUBLIC;
INSERT INTO t24 VALUES
    (1, 1, 'New York',  100,     1,    false, '2024-01-01', 'A-1',  NULL),
    (2, 1, 'new york',  5000,    2,    true,  '2024-06-30', 'B-2',  NULL),
    (3, 1, 'Boston',    10000,   3,    false, '2025-01-01', 'a-3',  NULL),
    (4, 1, 'Yorkshire', 20000.5, 4,    NULL,  NULL,         NULL,   NULL),
    (5, 1, NULL,        NULL,    NULL, true,  '2023-12-31', 'X''9', NULL),
    (6, 1, 'O''Hare',   0,       0,    false, '2024-01-01', 'C-3',  NULL);
SELECT sharing.protect('t24');

-- The records Ron (or, with who = 'rhea', Rhea) reads while a criteria
-- rule for the Reader role exists; the rule is created and dropped again
-- in a subtransaction. Errors are returned as text.
CREATE FUNCTION pg_temp.seen(criteria jsonb, who text DEFAULT 'ron', superiors boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    BEGIN
        PERFORM sharing.create_criteria_rule('t24', 'probe', criteria, 'role', 'Reader', 'read', superiors);
        PERFORM set_config('role', 'u24_' || who, true);
        SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') INTO result FROM t24;
        RAISE SQLSTATE 'U0001';
    EXCEPTION
        WHEN SQLSTATE 'U0001' THEN NULL;
        WHEN OTHERS THEN result := SQLSTATE || ': ' || SQLERRM;
    END;
    RETURN result;
END $$;

-- Without a rule Ron reads nothing.
SET ROLE u24_ron;
SELECT count(*) AS ron_sees FROM t24;
RESET ROLE;

-- Every op. = and the ordering ops compare as the column's type (text =
-- is exact); contains, starts_with and ends_with ignore case. A NULL
-- field matches only is_null (not !=, not not_in).
SELECT op, value, pg_temp.seen(jsonb_build_object('conditions', jsonb_build_array(
           jsonb_build_object('column', col, 'op', op) || CASE WHEN value IS NULL THEN '{}' ELSE jsonb_build_object('value', value) END))) AS ron_sees
  FROM (VALUES
    (1,  'city',    '=',           '"New York"'::jsonb),
    (2,  'city',    '!=',          '"New York"'),
    (3,  'city',    '<',           '"C"'),
    (4,  'city',    'in',          '["Boston", "Yorkshire"]'),
    (5,  'city',    'not_in',      '["Boston", "Yorkshire"]'),
    (6,  'city',    'is_null',     NULL),
    (7,  'city',    'is_not_null', NULL),
    (8,  'city',    'contains',    '"YORK"'),
    (9,  'city',    'starts_with', '"NEW"'),
    (10, 'city',    'ends_with',   '"York"'),
    (11, 'city',    'contains',    '"''"'),
    (12, 'amount',  '=',           '20000.5'),
    (13, 'amount',  '!=',          '100'),
    (14, 'amount',  '<',           '5000'),
    (15, 'amount',  '<=',          '5000'),
    (16, 'amount',  '>',           '10000'),
    (17, 'amount',  '>=',          '"10000"'),
    (18, 'amount',  'in',          '[0, "100"]'),
    (19, 'amount',  'not_in',      '[0, 100]'),
    (20, 'amount',  'is_null',     NULL),
    (21, 'stage',   '>=',          '3'),
    (22, 'closed',  '=',           'true'),
    (23, 'closed',  '!=',          'true'),
    (24, 'closed',  'is_null',     NULL),
    (25, 'created', '<',           '"2024-01-01"'),
    (26, 'created', '>=',          '"2024-06-30"'),
    (27, 'created', 'in',          '["2024-01-01", "2025-01-01"]'),
    (28, 'code',    'starts_with', '"a-"'),
    (29, 'code',    'ends_with',   '"-3"'),
    (30, 'code',    '=',           '"X''9"')
  ) AS probe (n, col, op, value)
 ORDER BY n;

-- Patterns: condition numbers with AND, OR (any case) and parentheses;
-- AND binds tighter than OR; without a pattern every condition is ANDed.
-- Conditions: 1 = city starts with "new" (1,2), 2 = amount < 1000 (1,6),
-- 3 = stage >= 4 (4).
SELECT pattern, pg_temp.seen(jsonb_build_object('conditions', '[
           {"column": "city", "op": "starts_with", "value": "new"},
           {"column": "amount", "op": "<", "value": 1000},
           {"column": "stage", "op": ">=", "value": 4}]'::jsonb) || coalesce(jsonb_build_object('pattern', pattern), '{}')) AS ron_sees
  FROM (VALUES (1, NULL), (2, '(1 AND 2) OR 3'), (3, '1 AND (2 OR 3)'), (4, '1 OR 2 AND 3'),
               (5, '1 or 2 or 3'), (6, '((1) OR (3)) and 2 OR 3')) AS p (n, pattern)
 ORDER BY n;

-- A value with quotes and SQL in it is one literal: it matches only the
-- field that holds exactly that text, and the policy shows it quoted.
UPDATE t24 SET note = $$x'); DROP TABLE t24; --$$ WHERE id = 3;
UPDATE t24 SET note = $$Robert"); DELETE FROM t24 WHERE ("1" = "1$$ WHERE id = 4;
SELECT pg_temp.seen('{"conditions": [{"column": "note", "op": "=", "value": "x''); DROP TABLE t24; --"}]}') AS ron_sees;
SELECT pg_temp.seen('{"conditions": [{"column": "note", "op": "in", "value": ["Robert\"); DELETE FROM t24 WHERE (\"1\" = \"1", "a''b"]}]}') AS ron_sees;
SELECT pg_temp.seen('{"conditions": [{"column": "note", "op": "contains", "value": "'') OR true OR (''"}]}') AS ron_sees;
SELECT pg_temp.seen('{"conditions": [{"column": "note", "op": "ends_with", "value": "\\'' OR 1=1 --"}]}') AS ron_sees;
SAVEPOINT quoted;
SELECT sharing.create_criteria_rule('t24', 'quotes', '{"conditions": [
    {"column": "note", "op": "=", "value": "x''); DROP TABLE t24; --"},
    {"column": "city", "op": "contains", "value": "a\\b''c"}], "pattern": "1 OR 2"}', 'role', 'Reader', 'read') AS quotes_rule \gset
\a
\t
SELECT replace(split_part(sharing.policy_sql('t24'), E'\n', 1), '_rule_reaches_me(' || :quotes_rule || ')', '_rule_reaches_me(<rule id>)');
\a
\t
SET ROLE u24_ron;
SELECT string_agg(id::text, ',' ORDER BY id) AS ron_sees FROM t24;
RESET ROLE;
ROLLBACK TO SAVEPOINT quoted;
SELECT count(*) AS t24_rows FROM t24;

-- A rule takes effect in the same transaction that creates it, for
-- existing and new records, and policies follow at once.
SAVEPOINT same_tx;
SELECT sharing.create_criteria_rule('t24', 'Boston', '{"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}',
                                    'role', 'Reader', 'read_write') IS NOT NULL AS created;
SET ROLE u24_ron;
SELECT string_agg(id::text, ',' ORDER BY id) AS ron_sees FROM t24;
RESET ROLE;
INSERT INTO t24 (id, owner_id, city) VALUES (7, 1, 'Boston');
SET ROLE u24_ron;
SELECT string_agg(id::text, ',' ORDER BY id) AS ron_sees FROM t24;
-- read_write: Ron edits the matching records ...
WITH u AS (UPDATE t24 SET note = 'seen by Ron' RETURNING 1) SELECT count(*) AS ron_updates FROM u;
-- ... but not so that a record leaves his reach (WITH CHECK, 42501) ...
SELECT pg_temp.try($$UPDATE t24 SET city = 'Paris' WHERE id = 3$$) AS move_out;
-- ... and does not delete them.
WITH d AS (DELETE FROM t24 RETURNING 1) SELECT count(*) AS ron_deletes FROM d;
RESET ROLE;
-- A record that stops matching leaves Ron's reach at once.
UPDATE t24 SET city = 'Paris' WHERE id = 7;
SET ROLE u24_ron;
SELECT string_agg(id::text, ',' ORDER BY id) AS ron_sees FROM t24;
RESET ROLE;
ROLLBACK TO SAVEPOINT same_tx;

-- superiors_allowed: without it Rhea, Ron's superior, gains nothing from a
-- rule for Ron's role; with it she reads what Ron reads.
SELECT pg_temp.seen('{"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}', 'rhea') AS rhea_without;
SELECT pg_temp.seen('{"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}', 'rhea', true) AS rhea_with;
SELECT pg_temp.seen('{"conditions": [{"column": "city", "op": "=", "value": "Boston"}]}', 'ron', true) AS ron_with;

-- Validation: each error is 22023 and names the condition, the column, the
-- op, the value or the pattern position at fault.
SELECT n, pg_temp.try(format('SELECT sharing.create_criteria_rule(%L, %L, %L, %L, %L, %L)',
                             't24', 'bad', criteria, 'role', 'Reader', 'read')) AS error
  FROM (VALUES
    (1,  '{"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "cty", "op": "=", "value": "x"}]}'),
    (2,  '{"conditions": [{"column": "amount", "op": "contains", "value": "1"}]}'),
    (3,  '{"conditions": [{"column": "closed", "op": "<", "value": true}]}'),
    (4,  '{"conditions": [{"column": "amount", "op": ">=", "value": "abc"}]}'),
    (5,  '{"conditions": [{"column": "stage", "op": "=", "value": 2.5}]}'),
    (6,  '{"conditions": [{"column": "created", "op": "=", "value": "2024-02-30"}]}'),
    (7,  '{"conditions": [{"column": "amount", "op": "in", "value": [1, "x"]}]}'),
    (8,  '{"conditions": [{"column": "code", "op": "=", "value": "much too long for ten"}]}'),
    (9,  '{"conditions": [{"column": "city", "op": "like", "value": "x"}]}'),
    (10, '{"conditions": [{"column": "city", "op": "in", "value": "x"}]}'),
    (11, '{"conditions": [{"column": "city", "op": "in", "value": []}]}'),
    (12, '{"conditions": [{"column": "city", "op": "is_null", "value": "x"}]}'),
    (13, '{"conditions": [{"column": "city", "op": "="}]}'),
    (14, '{"conditions": [{"column": "city", "op": "=", "value": null}]}'),
    (15, '{"conditions": [{"column": "city", "op": "=", "value": {"a": 1}}]}'),
    (16, '{"conditions": []}'),
    (17, '{"conditions": [{"column": "city", "op": "=", "value": "x"}], "pattern": "1 AND"}'),
    (18, '{"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "city", "op": "=", "value": "y"}], "pattern": "(1 OR 2"}'),
    (19, '{"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "city", "op": "=", "value": "y"}], "pattern": "1 XOR 2"}'),
    (20, '{"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "city", "op": "=", "value": "y"}], "pattern": "1 AND 3"}'),
    (21, '{"conditions": [{"column": "city", "op": "=", "value": "x"}, {"column": "city", "op": "=", "value": "y"}], "pattern": "1"}'),
    (22, '{"conditions": [{"column": "city", "op": "=", "value": "x"}], "pattern": "1; DROP TABLE t24"}'),
    (23, '{"conditions": [{"column": "city", "op": "=", "value": "x"}], "pattern": ""}'),
    (24, '{"conditions": [{"column": "city", "op": "=", "value": "x"}], "pattern": 1}'),
    (25, '{"conditions": [{"column": "city", "op": "=", "value": "x", "extra": 1}]}'),
    (26, '{"condition": []}'),
    (27, '[1, 2]'),
    (28, '{"conditions": [{"column": "created", "op": ">=", "value": "today"}]}')
  ) AS bad (n, criteria)
 ORDER BY n;
-- Numbers keep every digit (the policy compares with the number as
-- written); a number too large for the column is an error naming the
-- condition, and a document nested too deeply is refused (22023).
-- (20000.500000000000000000001 is not record 4's 20000.5; as a float it would be.)
SELECT pg_temp.seen('{"conditions": [{"column": "amount", "op": "=", "value": 20000.500000000000000000001}]}') AS ron_sees;
SAVEPOINT big;
SELECT sharing.create_criteria_rule('t24', 'big', '{"conditions": [{"column": "amount", "op": "in", "value": [123456789012345678901234.5, 20000.5]}]}',
                                    'role', 'Reader', 'read') IS NOT NULL AS created;
SELECT position($$IN ('123456789012345678901234.5'::numeric, '20000.5'::numeric)$$ IN sharing.policy_sql('t24')) > 0 AS exact_in_policy;
ROLLBACK TO SAVEPOINT big;
SELECT regexp_replace(pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'huge', '{"conditions": [{"column": "stage", "op": ">", "value": 1e400}]}', 'role', 'Reader', 'read')$$),
                      '0{200}0{200}', '<400 zeros>', 'g') AS huge;
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'deep', ('{"conditions": [{"column": "city", "op": "=", "value": ' || repeat('[', 200) || repeat(']', 200) || '}]}')::jsonb, 'role', 'Reader', 'read')$$) AS deep;

-- NULL criteria, a bad recipient, a bad access, a child table and a caller
-- without manage_sharing are refused too.
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'bad', NULL, 'role', 'Reader', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'bad', '{"conditions": [{"column": "city", "op": "=", "value": "x"}]}', 'role', 'Nope', 'read')$$);
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'bad', '{"conditions": [{"column": "city", "op": "=", "value": "x"}]}', 'role', 'Reader', 'all')$$);
CREATE TABLE t24_notes (id bigint PRIMARY KEY, t24_id bigint NOT NULL, note text);
SELECT sharing.protect_child('t24_notes', 't24_id', 't24');
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24_notes', 'bad', '{"conditions": [{"column": "note", "op": "=", "value": "x"}]}', 'role', 'Reader', 'read')$$);
SELECT sharing.create_criteria_rule('t24', 'dup', '{"conditions": [{"column": "city", "op": "=", "value": "x"}]}', 'role', 'Reader', 'read') IS NOT NULL AS created;
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'dup', '{"conditions": [{"column": "city", "op": "=", "value": "y"}]}', 'role', 'Reader', 'read')$$);
SET ROLE u24_olga;
SELECT pg_temp.try($$SELECT sharing.create_criteria_rule('t24', 'mine', '{"conditions": [{"column": "city", "op": "=", "value": "x"}]}', 'role', 'Reader', 'read')$$);
RESET ROLE;
-- Only the one valid rule was stored.
SELECT name, rule_type, criteria FROM sharing.rules ORDER BY name;
ROLLBACK;
