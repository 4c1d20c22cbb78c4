-- Helpers shared by the regression tests, included with
-- `\i helpers.sql` (tests run from tests/pg_regress). Each test runs in a
-- transaction, so these pg_temp functions last for that test only.

-- A statement's outcome: 'ok', or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE cmd; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- What the current role reaches in a table: the ids it can SELECT, the ids
-- an UPDATE of a non-protected column reaches, the ids a DELETE reaches.
-- The UPDATE and DELETE are undone. The counts come from
-- `WITH u AS (UPDATE … RETURNING 1) SELECT count(*) FROM u`; the ids from
-- RETURNING id; a disagreement between the two would be printed.
CREATE FUNCTION pg_temp.reach(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text; u text; d text; un bigint; dn bigint;
BEGIN
    EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FROM %s', tbl) INTO r;
    BEGIN
        EXECUTE format('WITH u AS (UPDATE %s SET note = ''edited'' RETURNING 1) SELECT count(*) FROM u', tbl) INTO un;
        RAISE SQLSTATE 'U0001';
    EXCEPTION WHEN SQLSTATE 'U0001' THEN NULL;
    END;
    BEGIN
        EXECUTE format('WITH u AS (UPDATE %s SET note = ''edited'' RETURNING id) SELECT string_agg(id::text, '','' ORDER BY id) FROM u', tbl) INTO u;
        RAISE SQLSTATE 'U0001';
    EXCEPTION WHEN SQLSTATE 'U0001' THEN NULL;
    END;
    BEGIN
        EXECUTE format('WITH d AS (DELETE FROM %s RETURNING 1) SELECT count(*) FROM d', tbl) INTO dn;
        RAISE SQLSTATE 'U0001';
    EXCEPTION WHEN SQLSTATE 'U0001' THEN NULL;
    END;
    BEGIN
        EXECUTE format('WITH d AS (DELETE FROM %s RETURNING id) SELECT string_agg(id::text, '','' ORDER BY id) FROM d', tbl) INTO d;
        RAISE SQLSTATE 'U0001';
    EXCEPTION WHEN SQLSTATE 'U0001' THEN NULL;
    END;
    RETURN format('read: %s | update: %s | delete: %s', coalesce(r, '-'),
                  coalesce(u, '-') || CASE WHEN un <> cardinality(string_to_array(u, ',')) OR (u IS NULL AND un <> 0)
                                           THEN ' (count ' || un || ')' ELSE '' END,
                  coalesce(d, '-') || CASE WHEN dn <> cardinality(string_to_array(d, ',')) OR (d IS NULL AND dn <> 0)
                                           THEN ' (count ' || dn || ')' ELSE '' END);
END $$;

-- How many rows a statement changed, or its error.
CREATE FUNCTION pg_temp.rows(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN EXECUTE cmd; GET DIAGNOSTICS n = ROW_COUNT; RETURN n || ' row(s)';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- Many attempts summed up: each result is 'SQLSTATE|what was tried'; one
-- row per outcome, naming what had it unless it is the expected 42501.
CREATE FUNCTION pg_temp.outcomes(results text[]) RETURNS TABLE (outcome text, what text) LANGUAGE sql AS $$
    SELECT split_part(r, '|', 1),
           CASE WHEN split_part(r, '|', 1) = '42501' THEN 'all of them'
                ELSE string_agg(split_part(r, '|', 2), ', ' ORDER BY r) END
      FROM unnest(results) r GROUP BY 1 ORDER BY 1
$$;
