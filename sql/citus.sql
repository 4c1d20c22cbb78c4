-- pg_sharing on a Citus cluster (docs/scaling.md#citus).
--
-- Every node keeps its own copy of the sharing model in the ordinary tables
-- of schema sharing, so that the policies of a shard evaluate on the node
-- that holds it, from local tables, exactly as on one node. The model is
-- changed on the coordinator; each change reaches the other nodes in the
-- same distributed transaction (two-phase commit) through
-- sharing._model_log, a Citus reference table: the coordinator writes the
-- image of every statement that changed a table of the model into it, and
-- a BEFORE INSERT trigger on each node's copy of it applies the image to
-- that node's tables and keeps nothing. The derived sets (closures, user
-- principals) and the model generation are then maintained on each node by
-- the same triggers as on one node.
--
-- Nothing here does anything until sharing.enable_citus() runs on the
-- coordinator.

-- The key that signs the identities act_as relays to the other nodes
-- (src/identity.rs). The same on every node (it comes with the model); no
-- client can read it.
CREATE TABLE sharing._cluster_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       bytea NOT NULL CHECK (length(key) >= 32)
);

-- Images of model changes on their way to every node; never holds a row.
CREATE TABLE sharing._model_log (
    origin integer NOT NULL,  -- the Citus group of the node that made the change
    tbl    text NOT NULL,     -- a table of schema sharing, or '*' for a snapshot
    op     text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SNAPSHOT')),
    rows   jsonb
);

-- The tables of the model that travel, in an order where every table comes
-- after the tables it references. The derived sets do not travel: each node
-- derives them.
CREATE FUNCTION sharing._replicated_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['profiles', 'roles', 'users', 'groups', 'group_members', 'protected_tables',
                 'profile_permissions', 'rules', 'shares', '_cluster_key']
$$;

-- This node's Citus group (0 on the coordinator); NULL without Citus.
CREATE FUNCTION sharing._citus_group() RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g integer;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO g;
    RETURN g;
END
$$;

-- True when rel is a Citus table (distributed, reference or Citus local).
CREATE FUNCTION sharing._is_citus_table(rel regclass) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
       INTO found USING rel;
    RETURN found;
END
$$;

-- Applies one image to this node's copy of table "tbl" of the model.
-- Rows are matched by primary key; an UPDATE or DELETE that does not find
-- every row it names means this node's copy is not the coordinator's: an
-- error, which aborts the change on every node.
CREATE FUNCTION sharing._apply_model_change(tbl text, op text, rows jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass := format('sharing.%I', tbl)::regclass;
    cols text;
    sets text;
    keys text;
    n bigint;
BEGIN
    IF NOT tbl = ANY (sharing._replicated_tables()) THEN
        RAISE EXCEPTION 'table sharing.% is not replicated', tbl USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('%1$I = r.%1$I', a.attname), ', ' ORDER BY a.attnum)
      INTO cols, sets
      FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg(format('t.%1$I = r.%1$I', a.attname), ' AND ')
      INTO keys
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = rel AND i.indisprimary;
    IF op = 'INSERT' THEN
        EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM jsonb_populate_recordset(NULL::%s, $1)',
                       rel, cols, cols, rel) USING rows;
    ELSIF op = 'UPDATE' THEN
        EXECUTE format('UPDATE %s t SET %s FROM jsonb_populate_recordset(NULL::%s, $1) r WHERE %s',
                       rel, sets, rel, keys) USING rows;
    ELSIF op = 'DELETE' THEN
        EXECUTE format('DELETE FROM %s t USING jsonb_populate_recordset(NULL::%s, $1) r WHERE %s',
                       rel, rel, keys) USING rows;
    ELSIF op = 'TRUNCATE' THEN
        EXECUTE format('TRUNCATE %s CASCADE', rel);
    END IF;
    IF op IN ('UPDATE', 'DELETE') THEN
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> jsonb_array_length(rows) THEN
            RAISE EXCEPTION 'the sharing model of this node (Citus group %) differs from the coordinator''s: '
                            '% of sharing.% found % of % rows', sharing._citus_group(), op, tbl, n,
                            jsonb_array_length(rows)
                USING ERRCODE = '55000',
                      HINT = 'Run SELECT sharing.enable_citus() on the coordinator to copy its model to every node.';
        END IF;
    END IF;
END
$$;

-- Replaces this node's whole model with the coordinator's.
CREATE FUNCTION sharing._apply_model_snapshot(model jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('sharing.%I', x), ', ') || ' CASCADE'
               FROM unnest(sharing._replicated_tables()) x);
    FOREACH t IN ARRAY sharing._replicated_tables() LOOP
        IF jsonb_array_length(model -> t) > 0 THEN
            PERFORM sharing._apply_model_change(t, 'INSERT', model -> t);
        END IF;
    END LOOP;
END
$$;

-- On each node's copy of sharing._model_log: applies what another node
-- changed, and keeps no row.
CREATE FUNCTION sharing._model_log_arrived() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.origin IS DISTINCT FROM sharing._citus_group() THEN
        -- (What lets the change past sharing._model_changed on a worker.)
        PERFORM set_config('sharing.applying_coordinator_change', 'on', true);
        IF NEW.op = 'SNAPSHOT' THEN
            PERFORM sharing._apply_model_snapshot(NEW.rows);
        ELSE
            PERFORM sharing._apply_model_change(NEW.tbl, NEW.op, NEW.rows);
        END IF;
        PERFORM set_config('sharing.applying_coordinator_change', 'off', true);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER arrived BEFORE INSERT ON sharing._model_log
    FOR EACH ROW EXECUTE FUNCTION sharing._model_log_arrived();

-- On the coordinator's tables of the model (installed by enable_citus):
-- sends the image of the statement's change to every node.
CREATE FUNCTION sharing._model_log_send() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    images jsonb;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT jsonb_agg(to_jsonb(n)) INTO images FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(to_jsonb(o)) INTO images FROM old_rows o;
    END IF;
    IF TG_OP = 'TRUNCATE' OR images IS NOT NULL THEN
        -- One connection per node for the rest of the transaction: a model
        -- change is often followed by DDL on the protected tables' shards
        -- (policies), which in parallel mode could wait, in another backend
        -- of the same transaction, for what this write locked on a worker.
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        INSERT INTO sharing._model_log (origin, tbl, op, rows)
        VALUES (sharing._citus_group(), TG_TABLE_NAME, TG_OP, images);
    END IF;
    RETURN NULL;
END
$$;

-- Makes this database's model the model of every node of its Citus
-- cluster and keeps it so: run on the coordinator, as a superuser, after
-- the workers are added (citus_add_node) and again after adding a worker.
-- Idempotent; copies the whole model to every node each time.
CREATE FUNCTION sharing.enable_citus() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    model jsonb := '{}';
    rows jsonb;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied for function sharing.enable_citus: it must be run by a superuser'
            USING ERRCODE = '42501';
    END IF;
    IF sharing._citus_group() IS NULL THEN
        RAISE EXCEPTION 'sharing.enable_citus: extension citus is not installed in database %', current_database()
            USING ERRCODE = '55000', HINT = 'CREATE EXTENSION citus on every node first.';
    END IF;
    IF sharing._citus_group() <> 0 THEN
        RAISE EXCEPTION 'sharing.enable_citus: this node is a Citus worker (group %); run it on the coordinator',
            sharing._citus_group() USING ERRCODE = '55000';
    END IF;
    INSERT INTO sharing._cluster_key (key)
    VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))
    ON CONFLICT DO NOTHING;
    IF NOT sharing._is_citus_table('sharing._model_log') THEN
        -- Its trigger must run on every node's copy.
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
        PERFORM create_reference_table('sharing._model_log');
    ELSE
        -- A node added since: give it a copy.
        PERFORM replicate_reference_tables();
    END IF;
    FOREACH t IN ARRAY sharing._replicated_tables() LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = format('sharing.%I', t)::regclass
                                                 AND tgname = 'model_log_insert') THEN
            EXECUTE format('CREATE TRIGGER model_log_insert AFTER INSERT ON sharing.%I '
                           'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION sharing._model_log_send()', t);
            EXECUTE format('CREATE TRIGGER model_log_update AFTER UPDATE ON sharing.%I '
                           'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION sharing._model_log_send()', t);
            EXECUTE format('CREATE TRIGGER model_log_delete AFTER DELETE ON sharing.%I '
                           'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION sharing._model_log_send()', t);
            EXECUTE format('CREATE TRIGGER model_log_truncate AFTER TRUNCATE ON sharing.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION sharing._model_log_send()', t);
        END IF;
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(x)), ''[]'') FROM sharing.%I x', t) INTO rows;
        model := model || jsonb_build_object(t, rows);
    END LOOP;
    INSERT INTO sharing._model_log (origin, tbl, op, rows) VALUES (0, '*', 'SNAPSHOT', model);
END
$$;

-- The protected table a relation belongs to: itself, the root of its
-- partition tree, or, for a shard of a Citus table (on the node that holds
-- it), that table.
CREATE FUNCTION sharing._protected_root(rel regclass) RETURNS regclass
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    logical regclass;
BEGIN
    IF sharing._citus_group() IS NOT NULL THEN
        EXECUTE 'SELECT s.logicalrelid
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_dist_shard s
                     ON s.shardid::text = substring(c.relname from ''_([0-9]+)$'')
                   JOIN pg_catalog.pg_class l ON l.oid = s.logicalrelid
                  WHERE c.oid = $1 AND c.relnamespace = l.relnamespace
                    AND c.relname = l.relname || ''_'' || s.shardid'
           INTO logical USING rel;
    END IF;
    logical := coalesce(logical, rel);
    RETURN coalesce(pg_partition_root(logical), logical);
END
$$;

-- Removes the shares of records of tbl that no longer exist; returns how
-- many. On one node a trigger does this with every DELETE; on Citus the
-- shards have no such trigger (it could not change the model of the other
-- nodes), so run this after deleting records (e.g. from a nightly job).
CREATE FUNCTION sharing.forget_orphan_shares(tbl regclass) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sharing.protected_tables;
    shared text[];
    alive text[];
    n bigint;
BEGIN
    PERFORM sharing._require_manage('forget_orphan_shares');
    PERFORM sharing._require_protected(tbl, true);
    SELECT * INTO t FROM sharing.protected_tables p WHERE p.tbl = forget_orphan_shares.tbl;
    SELECT array_agg(DISTINCT s.record_id) INTO shared FROM sharing.shares s WHERE s.tbl = t.tbl;
    IF shared IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT array_agg(r.%1$I::text) FROM %2$s r WHERE r.%1$I = ANY ($1::%3$s[])',
                   t.pk_column, t.tbl, t.pk_type)
       INTO alive USING shared;
    DELETE FROM sharing.shares s
     WHERE s.tbl = t.tbl AND s.record_id <> ALL (coalesce(alive, '{}'));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A digest of this node's model, the derived sets included: equal on every
-- node of a cluster whose copies agree.
CREATE FUNCTION sharing._model_digest() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    part text;
    digest text := '';
BEGIN
    FOREACH t IN ARRAY sharing._replicated_tables()
                       || ARRAY['_role_closure', '_group_closure', '_user_principals'] LOOP
        EXECUTE format('SELECT coalesce(md5(string_agg(to_jsonb(x)::text, '','' ORDER BY to_jsonb(x)::text)), '''') '
                       'FROM sharing.%I x', t) INTO part;
        digest := digest || t || ':' || part || ';';
    END LOOP;
    RETURN md5(digest);
END
$$;

-- What sharing.check() reports about a Citus cluster, on its coordinator:
-- shards of protected tables without row level security, our policies or
-- the guard; workers whose model is not the coordinator's; protected tables
-- that are not Citus tables.
CREATE FUNCTION sharing._citus_findings()
RETURNS TABLE (severity text, object text, message text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    digest text;
BEGIN
    IF sharing._citus_group() IS DISTINCT FROM 0 OR NOT EXISTS (SELECT 1 FROM sharing._cluster_key) THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT 'error', p.tbl::text,
               'protected table is not a Citus table: the workers do not have it, and the model cannot reach them'
          FROM sharing.protected_tables p
         WHERE NOT sharing._is_citus_table(p.tbl)
         ORDER BY 2;
    RETURN QUERY EXECUTE $q$
        SELECT 'error', format('%s shard %s on %s:%s', p.tbl, r.shardid, r.nodename, r.nodeport),
               CASE WHEN NOT r.success THEN 'cannot be checked: ' || r.result
                    ELSE 'shard ' || CASE split_part(r.result, ':', 1)
                                         WHEN 'false' THEN 'has row level security disabled or not forced'
                                         ELSE format('has %s of the 4 pg_sharing policies and %s guard trigger(s)',
                                                     split_part(r.result, ':', 2), split_part(r.result, ':', 3)) END END
          FROM sharing.protected_tables p
         CROSS JOIN LATERAL pg_catalog.run_command_on_placements(p.tbl,
               $c$SELECT (c.relrowsecurity AND c.relforcerowsecurity)::text || ':'
                      || (SELECT count(*) FROM pg_catalog.pg_policy o WHERE o.polrelid = c.oid
                             AND o.polname IN ('sharing_select', 'sharing_insert', 'sharing_update', 'sharing_delete'))
                      || ':' || (SELECT count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid
                                    AND g.tgname LIKE 'sharing\_guard%%')
                   FROM pg_catalog.pg_class c WHERE c.oid = '%s'::regclass$c$) r
         WHERE sharing._is_citus_table(p.tbl)
           AND (NOT r.success OR r.result <> 'true:4:1')
         ORDER BY 2 $q$;
    digest := sharing._model_digest();
    RETURN QUERY EXECUTE $q$
        SELECT 'error', format('worker %s:%s', w.nodename, w.nodeport),
               CASE WHEN NOT w.success THEN 'its model cannot be checked: ' || w.result
                    ELSE 'its copy of the sharing model differs from the coordinator''s; '
                         'SELECT sharing.enable_citus() copies the model to every node again' END
          FROM pg_catalog.run_command_on_workers('SELECT sharing._model_digest()') w
         WHERE NOT w.success OR w.result <> $1
         ORDER BY 2 $q$ USING digest;
END
$$;
