-- sharing.access_diff on the benchmark's organisation (bench/setup.sql),
-- run by scripts/bench.sh --access-diff: three changes an administrator
-- makes, each timed as its access diff and, side by side, as applying the
-- same document and rolling it back (what a dry run without the access
-- impact costs); the median of :repeat runs of each. Prints a markdown table.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET bench.repeat = :'repeat';
CREATE TEMP TABLE doc AS SELECT sharing.export_config() AS c;

CREATE TEMP TABLE change (n integer, what text, doc jsonb);
-- A new criteria rule, to a director's role and subordinates (about 660
-- users): the accounts above 99,000 (1%) and their notes.
INSERT INTO change
SELECT 1, 'a new criteria rule to a director and subordinates',
       jsonb_set(c, '{rules}', (c -> 'rules') ||
           '[{"name": "bench rule", "table": "public.accounts", "type": "criteria",
              "criteria": {"conditions": [{"column": "amount", "op": ">", "value": 99000}]},
              "to_type": "role_and_subordinates", "to_name": "role 10", "access": "read"}]')
  FROM doc;
-- A manager's role moves to another director.
INSERT INTO change
SELECT 2, 'a manager''s role moves to another director',
       jsonb_set(c, '{roles}', (SELECT jsonb_agg(CASE WHEN r ->> 'name' = 'role 30'
                                                      THEN jsonb_set(r, '{parent}', '"role 9"') ELSE r END)
                                  FROM jsonb_array_elements(c -> 'roles') r))
  FROM doc;
-- A user joins the group most rules share with.
INSERT INTO change
SELECT 3, 'a user joins the group most rules share with',
       jsonb_set(c, '{groups}', (SELECT jsonb_agg(CASE WHEN g ->> 'name' = (
                                                          SELECT r ->> 'to_name' FROM jsonb_array_elements(c -> 'rules') r
                                                           WHERE r ->> 'to_type' = 'group'
                                                           GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
                                                       THEN jsonb_set(g, '{members}', (g -> 'members') ||
                                                                      '[{"type": "user", "name": "user 5000"}]')
                                                       ELSE g END)
                                   FROM jsonb_array_elements(c -> 'groups') g))
  FROM doc;

CREATE TEMP TABLE timing (n integer, run integer, pairs bigint, gained bigint, lost bigint,
                          diff_ms numeric, apply_ms numeric);
DO $$
DECLARE
    ch record;
    t timestamptz;
    pairs bigint;
    gained bigint;
    lost bigint;
    diff_ms numeric;
BEGIN
    FOR run IN 1 .. current_setting('bench.repeat')::integer LOOP
        FOR ch IN SELECT * FROM change ORDER BY n LOOP
            t := clock_timestamp();
            SELECT count(*), coalesce(sum(d.gained), 0), coalesce(sum(d.lost), 0) INTO pairs, gained, lost
              FROM sharing.access_diff(ch.doc) d;
            diff_ms := extract(epoch FROM clock_timestamp() - t) * 1000;
            t := clock_timestamp();
            BEGIN
                PERFORM sharing._apply_config(sharing._config_document(ch.doc));
                RAISE EXCEPTION 'undo' USING ERRCODE = 'SH001';
            EXCEPTION WHEN SQLSTATE 'SH001' THEN
                NULL;
            END;
            INSERT INTO timing VALUES (ch.n, run, pairs, gained, lost, diff_ms,
                                       extract(epoch FROM clock_timestamp() - t) * 1000);
        END LOOP;
    END LOOP;
END
$$;

\pset format unaligned
\pset tuples_only on
SELECT format('access_diff at %s accounts, %s users; median of %s runs each',
              (SELECT count(*) FROM accounts), (SELECT count(*) FROM sharing.users),
              current_setting('bench.repeat'));
SELECT '';
SELECT '| change | (user, table) pairs changed | records gained | records lost | access_diff (s) | apply and roll back (s) | ratio |';
SELECT '|---|---:|---:|---:|---:|---:|---:|';
SELECT format('| %s | %s | %s | %s | %s | %s | %s |', c.what, t.pairs, t.gained, t.lost,
              round(t.diff / 1000, 2), round(t.apply / 1000, 2), round(t.diff / t.apply, 1))
  FROM change c
  JOIN (SELECT n, max(pairs) AS pairs, max(gained) AS gained, max(lost) AS lost,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY diff_ms)::numeric AS diff,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY apply_ms)::numeric AS apply
          FROM timing GROUP BY n) t ON t.n = c.n
 ORDER BY c.n;
