//! Protecting tables: validation, catalog rows, indexes, triggers and the
//! generated policies. The public SQL functions (`sharing.protect`, …) are
//! thin wrappers in `sql/api.sql` that check the admin gate and call these.

use crate::catalog::{self, is_citus_table, protected_model, qualified_name, query_one};
use crate::context;
use crate::error::{OrRaise, Result, SharingError};
use pg_sharing_core::access::DefaultAccess;
use pg_sharing_core::policy::{TableModel, POLICY_NAMES};
use pg_sharing_core::sql::quote_ident;
use pgrx::prelude::*;
use std::cell::Cell;

thread_local! {
    /// Set while this backend (re)writes policies itself: the DDL it runs
    /// (ALTER TABLE … ROW LEVEL SECURITY) fires the event trigger that
    /// protects new partitions, which must then stand aside.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Marks the backend busy until dropped (also when an error unwinds).
struct Busy(bool);

impl Busy {
    fn enter() -> Busy {
        Busy(BUSY.with(|b| b.replace(true)))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let previous = self.0;
        BUSY.with(|b| b.set(previous));
    }
}

/// What protection needs to know about a table's primary key.
struct PrimaryKey {
    column: String,
    sql_type: String,
}

fn relkind(rel: pg_sys::Oid) -> Result<Option<String>> {
    query_one::<String>(
        "SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = $1",
        &[rel.into()],
    )
}

fn require_table(rel: pg_sys::Oid) -> Result<String> {
    let name = qualified_name(rel)?;
    match relkind(rel)?.as_deref() {
        Some("r") | Some("p") => {}
        _ => {
            return Err(SharingError::InvalidTableDefinition(format!(
                "{name} is not a table; only tables (plain or partitioned) can be protected"
            )))
        }
    }
    // A partition is protected with its partitioned table, never alone:
    // its shares, rules and triggers are those of the whole tree.
    if let Some(root) = query_one::<pg_sys::Oid>(
        "SELECT pg_catalog.pg_partition_root($1)::oid \
           FROM pg_catalog.pg_class WHERE oid = $1 AND relispartition",
        &[rel.into()],
    )? {
        return Err(SharingError::InvalidTableDefinition(format!(
            "{name} is a partition of {}; protect the partitioned table instead",
            qualified_name(root)?
        )));
    }
    // On a Citus cluster every node enforces the table with its own copy of
    // the model, which names the table: it must exist on every node.
    if citus_enabled()? && !is_citus_table(rel)? {
        return Err(SharingError::InvalidTableDefinition(format!(
            "{name} is not a Citus table; on a Citus cluster protect distributed or reference tables \
             (distribute it with create_distributed_table or create_reference_table first)"
        )));
    }
    Ok(name)
}

/// True when `sharing.enable_citus()` has run in this database.
fn citus_enabled() -> Result<bool> {
    Ok(query_one::<bool>(
        "SELECT sharing._citus_group() IS NOT NULL AND EXISTS (SELECT 1 FROM sharing._cluster_key)",
        &[],
    )?
    .unwrap_or(false))
}

/// The column that identifies a record: the primary key's only column, or,
/// in a child table whose primary key is (parent column, another column) —
/// the key Citus needs for a table co-located with its parent — the other
/// column.
fn primary_key(rel: pg_sys::Oid, name: &str, parent_column: Option<&str>) -> Result<PrimaryKey> {
    let mut columns = Spi::connect(|client| {
        let rows = client.select(
            "SELECT a.attname::text, t.typname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) \
               FROM pg_catalog.pg_index i \
               CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, n) \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
              WHERE i.indrelid = $1 AND i.indisprimary \
              ORDER BY k.n",
            None,
            &[rel.into()],
        )?;
        rows.map(|r| {
            Ok::<_, SharingError>((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
            ))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
    })?;
    let natts = columns.len();
    if natts == 0 {
        return Err(SharingError::InvalidTableDefinition(format!(
            "table {name} has no primary key; pg_sharing needs a single-column primary key"
        )));
    }
    if natts == 2 {
        if let Some(parent) = parent_column {
            columns.retain(|(column, _, _)| column != parent);
        }
    }
    if columns.len() != 1 {
        let child = if parent_column.is_some() {
            " (in a child table: the parent column and one more)"
        } else {
            ""
        };
        return Err(SharingError::InvalidTableDefinition(format!(
            "table {name} has a {natts}-column primary key; pg_sharing needs a single-column primary key{child}"
        )));
    }
    let (column, typname, sql_type) = columns.pop().expect("one column");
    if !matches!(typname.as_str(), "int8" | "int4" | "uuid" | "text") {
        return Err(SharingError::WrongType(format!(
            "primary key column \"{column}\" of table {name} has type {sql_type}; \
             supported are bigint, integer, uuid and text"
        )));
    }
    Ok(PrimaryKey { column, sql_type })
}

fn column_type(rel: pg_sys::Oid, name: &str, column: &str) -> Result<String> {
    catalog::columns(rel)?
        .into_iter()
        .find(|c| c.column.name == column)
        .map(|c| c.column.sql_type)
        .ok_or_else(|| {
            SharingError::UndefinedColumn(format!(
                "column \"{column}\" of table {name} does not exist"
            ))
        })
}

/// Creates an index on `column` unless one already leads with it.
fn ensure_index(rel: pg_sys::Oid, name: &str, column: &str) -> Result<()> {
    let indexed = query_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                         WHERE i.indrelid = $1 AND a.attname = $2)",
        &[rel.into(), column.into()],
    )?
    .unwrap_or(false);
    if !indexed {
        Spi::run(&format!("CREATE INDEX ON {name} ({})", quote_ident(column)))?;
    }
    Ok(())
}

/// Every relation of the table's partition tree (the table itself when it
/// is not partitioned), as qualified names.
pub(crate) fn partition_tree(rel: pg_sys::Oid) -> Result<Vec<String>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT format('%I.%I', n.nspname, c.relname) \
               FROM pg_catalog.pg_partition_tree($1) t \
               JOIN pg_catalog.pg_class c ON c.oid = t.relid \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
              ORDER BY t.level",
            None,
            &[rel.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.get::<String>(1)?.unwrap_or_default());
        }
        if out.is_empty() {
            out.push(qualified_name(rel)?);
        }
        Ok(out)
    })
}

fn children_of(rel: pg_sys::Oid) -> Result<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT tbl::oid FROM sharing.protected_tables WHERE parent_tbl = $1 ORDER BY tbl::oid",
            None,
            &[rel.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(oid) = row.get::<pg_sys::Oid>(1)? {
                out.push(oid);
            }
        }
        Ok(out)
    })
}

/// Drops a trigger of ours if the relation has it (child tables have no
/// share-cleanup triggers), without DROP … IF EXISTS's notice. A trigger
/// cloned onto a partition goes with its parent's.
fn drop_trigger(relation: &str, trigger: &str) -> Result<()> {
    if has_trigger(relation, trigger)? {
        Spi::run(&format!(
            "DROP TRIGGER {} ON {relation}",
            quote_ident(trigger)
        ))?;
    }
    Ok(())
}

fn drop_policies(relation: &str) -> Result<()> {
    for policy in POLICY_NAMES {
        let exists = query_one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = $1::regclass AND polname = $2)",
            &[relation.into(), policy.into()],
        )?
        .unwrap_or(false);
        if exists {
            Spi::run(&format!("DROP POLICY {policy} ON {relation}"))?;
        }
    }
    Ok(())
}

fn forced(relation: &str) -> Result<bool> {
    Ok(query_one::<bool>(
        "SELECT relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = $1::regclass",
        &[relation.into()],
    )?
    .unwrap_or(false))
}

fn has_policy(relation: &str) -> Result<bool> {
    Ok(query_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = $1::regclass AND polname = $2)",
        &[relation.into(), POLICY_NAMES[0].into()],
    )?
    .unwrap_or(false))
}

/// (Re)generates the policies of a protected table, on every relation of its
/// partition tree, and of the child tables that follow it.
pub fn apply_policies(rel: pg_sys::Oid) -> Result<()> {
    let _busy = Busy::enter();
    let model = protected_model(rel)?;
    for relation in partition_tree(rel)? {
        drop_policies(&relation)?;
        Spi::run(&format!(
            "ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY"
        ))?;
        for statement in model.policies(&relation) {
            Spi::run(&statement)?;
        }
    }
    for child in children_of(rel)? {
        apply_policies(child)?;
    }
    Ok(())
}

fn install_triggers(rel: pg_sys::Oid, guarded: &[&str], forget_shares: bool) -> Result<()> {
    let name = qualified_name(rel)?;
    let citus = is_citus_table(rel)?;
    if citus {
        // Citus creates triggers on the shards only when told to: the guard
        // reads the model and the record on the node of the shard.
        Spi::run("SELECT pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true)")?;
    }
    let changed: Vec<String> = guarded
        .iter()
        .map(|c| format!("OLD.{0} IS DISTINCT FROM NEW.{0}", quote_ident(c)))
        .collect();
    Spi::run(&format!(
        "CREATE TRIGGER sharing_guard BEFORE UPDATE ON {name} FOR EACH ROW WHEN ({}) \
         EXECUTE FUNCTION sharing._guard_protected_columns()",
        changed.join(" OR ")
    ))?;
    // On Citus, a shard's trigger could not change the model of the other
    // nodes: the shares of deleted records are removed by
    // sharing.forget_orphan_shares (docs/scaling.md).
    if forget_shares && !citus {
        for relation in partition_tree(rel)? {
            install_share_triggers(&relation)?;
        }
    }
    Ok(())
}

/// The statement-level triggers that remove a record's shares with it.
/// Statement triggers are not cloned to partitions: every relation of a
/// partition tree gets its own.
fn install_share_triggers(relation: &str) -> Result<()> {
    if !has_trigger(relation, "sharing_forget_shares")? {
        Spi::run(&format!(
            "CREATE TRIGGER sharing_forget_shares AFTER DELETE ON {relation} \
             REFERENCING OLD TABLE AS gone FOR EACH STATEMENT \
             EXECUTE FUNCTION sharing._forget_shares()"
        ))?;
    }
    if !has_trigger(relation, "sharing_forget_shares_truncate")? {
        Spi::run(&format!(
            "CREATE TRIGGER sharing_forget_shares_truncate AFTER TRUNCATE ON {relation} \
             FOR EACH STATEMENT EXECUTE FUNCTION sharing._forget_shares()"
        ))?;
    }
    Ok(())
}

fn has_trigger(relation: &str, trigger: &str) -> Result<bool> {
    Ok(query_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger \
                         WHERE tgrelid = $1::regclass AND tgname = $2 AND tgparentid = 0)",
        &[relation.into(), trigger.into()],
    )?
    .unwrap_or(false))
}

/// Protects the relations of a protected table's partition tree that have
/// no policies yet: partitions created or attached after `protect`. Called
/// by the event trigger at the end of CREATE TABLE / ALTER TABLE; a no-op
/// while pg_sharing itself is rewriting policies.
fn protect_new_partitions(rel: pg_sys::Oid) -> Result<()> {
    if BUSY.with(|b| b.get()) {
        return Ok(());
    }
    let _busy = Busy::enter();
    let Some(model) = catalog::table_model(rel)? else {
        return Ok(());
    };
    let owned = matches!(model.kind, pg_sharing_core::policy::Kind::Owned { .. });
    for relation in partition_tree(rel)? {
        // FORCE ROW LEVEL SECURITY already on: protected before, only its
        // policies not (yet) there. That is a restore in progress (pg_dump
        // sets FORCE with the table and creates the policies later), which
        // must not find our policies in its way.
        if has_policy(&relation)? || forced(&relation)? {
            continue;
        }
        for statement in model.policies(&relation) {
            Spi::run(&statement)?;
        }
        Spi::run(&format!(
            "ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY"
        ))?;
        if owned {
            install_share_triggers(&relation)?;
        }
    }
    Ok(())
}

fn require_unprotected(rel: pg_sys::Oid, name: &str) -> Result<()> {
    let protected = query_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM sharing.protected_tables WHERE tbl = $1)",
        &[rel.into()],
    )?
    .unwrap_or(false);
    if protected {
        return Err(SharingError::DuplicateObject(format!(
            "table {name} is already protected by pg_sharing"
        )));
    }
    Ok(())
}

fn protect_table(
    rel: pg_sys::Oid,
    owner_column: &str,
    default_access: &str,
    grant_via_hierarchy: bool,
) -> Result<()> {
    let name = require_table(rel)?;
    require_unprotected(rel, &name)?;
    let pk = primary_key(rel, &name, None)?;
    let owner_type = column_type(rel, &name, owner_column)?;
    if owner_type != "bigint" {
        return Err(SharingError::WrongType(format!(
            "owner column \"{owner_column}\" of table {name} has type {owner_type}; it must be bigint"
        )));
    }
    default_access
        .parse::<DefaultAccess>()
        .map_err(SharingError::InvalidArgument)?;
    Spi::run_with_args(
        "INSERT INTO sharing.protected_tables (tbl, pk_column, pk_type, owner_column, default_access, grant_via_hierarchy) \
         VALUES ($1::oid::regclass, $2, $3, $4, $5, $6)",
        &[
            rel.into(),
            pk.column.as_str().into(),
            pk.sql_type.as_str().into(),
            owner_column.into(),
            default_access.into(),
            grant_via_hierarchy.into(),
        ],
    )?;
    ensure_index(rel, &name, owner_column)?;
    install_triggers(rel, &[owner_column, &pk.column], true)?;
    apply_policies(rel)
}

fn protect_child_table(rel: pg_sys::Oid, parent_column: &str, parent: pg_sys::Oid) -> Result<()> {
    let name = require_table(rel)?;
    require_unprotected(rel, &name)?;
    let pk = primary_key(rel, &name, Some(parent_column))?;
    let parent_model = protected_model(parent)?;
    let column_type = column_type(rel, &name, parent_column)?;
    if column_type != parent_model.pk_type {
        return Err(SharingError::WrongType(format!(
            "parent column \"{parent_column}\" of table {name} has type {column_type}, \
             but the primary key of {} has type {}",
            parent_model.table, parent_model.pk_type
        )));
    }
    Spi::run_with_args(
        "INSERT INTO sharing.protected_tables (tbl, pk_column, pk_type, parent_tbl, parent_column) \
         VALUES ($1::oid::regclass, $2, $3, $4::oid::regclass, $5)",
        &[
            rel.into(),
            pk.column.as_str().into(),
            pk.sql_type.as_str().into(),
            parent.into(),
            parent_column.into(),
        ],
    )?;
    ensure_index(rel, &name, parent_column)?;
    install_triggers(rel, &[parent_column, &pk.column], false)?;
    apply_policies(rel)
}

fn unprotect_table(rel: pg_sys::Oid) -> Result<()> {
    let _busy = Busy::enter();
    let model = protected_model(rel)?;
    let children = children_of(rel)?;
    if !children.is_empty() {
        let names: Vec<String> = children
            .iter()
            .map(|c| qualified_name(*c))
            .collect::<Result<_>>()?;
        return Err(SharingError::InvalidArgument(format!(
            "table {} still controls child table(s) {}; unprotect them first",
            model.table,
            names.join(", ")
        )));
    }
    for relation in partition_tree(rel)? {
        drop_policies(&relation)?;
        Spi::run(&format!(
            "ALTER TABLE {relation} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY"
        ))?;
        drop_trigger(&relation, "sharing_forget_shares")?;
        drop_trigger(&relation, "sharing_forget_shares_truncate")?;
    }
    drop_trigger(&model.table, "sharing_guard")?;
    Spi::run_with_args(
        "DELETE FROM sharing.protected_tables WHERE tbl = $1",
        &[rel.into()],
    )?;
    Ok(())
}

#[pg_extern(volatile, parallel_unsafe)]
fn _protect_table(
    tbl: pg_sys::Oid,
    owner_column: &str,
    default_access: &str,
    grant_via_hierarchy: bool,
) {
    protect_table(tbl, owner_column, default_access, grant_via_hierarchy).or_raise()
}

#[pg_extern(volatile, parallel_unsafe)]
fn _protect_child_table(tbl: pg_sys::Oid, parent_column: &str, parent: pg_sys::Oid) {
    protect_child_table(tbl, parent_column, parent).or_raise()
}

#[pg_extern(volatile, parallel_unsafe)]
fn _unprotect_table(tbl: pg_sys::Oid) {
    unprotect_table(tbl).or_raise()
}

#[pg_extern(volatile, parallel_unsafe)]
fn _protect_new_partitions(tbl: pg_sys::Oid) {
    protect_new_partitions(tbl).or_raise()
}

#[pg_extern(volatile, parallel_unsafe)]
fn _apply_policies(tbl: pg_sys::Oid) {
    apply_policies(tbl).or_raise()
}

/// The policy statements the model generates for a protected table.
#[pg_extern(stable, parallel_safe)]
fn _policy_sql(tbl: pg_sys::Oid) -> String {
    let model = protected_model(tbl).or_raise();
    let mut out: Vec<String> = model
        .policies(&model.table)
        .into_iter()
        .map(|s| format!("{s};"))
        .collect();
    out.push(String::new());
    out.join("\n")
}

/// Validates criteria for a table; returns how a person reads them. Takes
/// the document as text from `sharing._criteria_text` (numbers as exact
/// strings), not as jsonb: pgrx would turn a number into an f64, losing
/// digits or failing outright (1e400). `sharing._compile_criteria(oid,
/// jsonb)` in api.sql is the jsonb front door.
#[pg_extern(stable, parallel_safe)]
fn _compile_criteria(tbl: pg_sys::Oid, criteria: &str) -> String {
    catalog::compile_criteria(tbl, &catalog::criteria_doc(criteria).or_raise())
        .or_raise()
        .describe()
}

/// A record id as the table's key type prints it ('01' → '1' for a bigint
/// key, upper- to lower-case for a uuid), or NULL when it is no value of
/// that type (so no record's id) or the table is not protected. Shares are
/// filed under this form (core/src/key.rs).
#[pg_extern(sql = r#"
CREATE FUNCTION sharing._record_key(target regclass, record_id text) RETURNS text
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', '_record_key_wrapper';
"#)]
fn _record_key(target: Option<pg_sys::Oid>, record_id: Option<&str>) -> Option<String> {
    let (target, record_id) = (target?, record_id?);
    pg_sharing_core::key::canonical(&context::table_model(target)?.pk_type, record_id)
}

/// Whether a record with this key exists (RLS aside).
#[pg_extern(stable, parallel_safe)]
fn _record_exists(tbl: pg_sys::Oid, record_id: &str) -> bool {
    let model = context::protected_model(tbl);
    query_one::<bool>(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = $1::{})",
            model.table,
            quote_ident(&model.pk_column),
            model.pk_type
        ),
        &[record_id.into()],
    )
    .or_raise()
    .unwrap_or(false)
}

/// The level (0..3) `user_id` has on a record, evaluated with the very
/// predicates of the policies; 0 for an unknown record.
#[pg_extern(stable, parallel_safe)]
fn _access_rank(user_id: Option<i64>, tbl: pg_sys::Oid, record_id: &str) -> i32 {
    let model = context::protected_model(tbl);
    if !model.citus {
        let query = model.level_query();
        return crate::identity::as_user(user_id, || {
            query_one::<i32>(&query, &[record_id.into()])
                .or_raise()
                .unwrap_or(0)
        });
    }
    // On Citus a query of the table runs on the node of its shard, for the
    // session's user: read the record, then evaluate the predicates here,
    // for user_id.
    let Some(row) = citus_record(tbl, &model, record_id).or_raise() else {
        return 0;
    };
    crate::identity::as_user(user_id, || level_of_row(&model, row))
}

/// A record of a protected table as jsonb, read as the extension's owner
/// (no policy applies). On Citus, from this node's shards when it holds the
/// record (on a worker, inside a shard query, a query of the distributed
/// table is not allowed): the one shard the key hashes to when the table is
/// distributed by its key, else every shard of the table on this node (a
/// child distributed by its parent column). Else through the table.
fn citus_record(tbl: pg_sys::Oid, model: &TableModel, key: &str) -> Result<Option<pgrx::JsonB>> {
    let read = |relation: &str| {
        query_one::<pgrx::JsonB>(
            &format!(
                "SELECT pg_catalog.to_jsonb(t) FROM {relation} t WHERE t.{} OPERATOR(pg_catalog.=) $1::{} LIMIT 1",
                quote_ident(&model.pk_column),
                model.pk_type
            ),
            &[key.into()],
        )
    };
    context::as_owner(|| {
        if model.citus {
            // (shard_name leaves out the schema public: put it back, the
            // search_path here is pg_catalog's.)
            let local_shards = query_one::<Vec<String>>(
                "SELECT pg_catalog.array_agg(x.q) \
                   FROM pg_catalog.pg_dist_partition p \
                   JOIN pg_catalog.pg_dist_shard sh ON sh.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid \
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid \
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                  CROSS JOIN LATERAL pg_catalog.shard_name(p.logicalrelid, sh.shardid) s \
                  CROSS JOIN LATERAL (SELECT CASE WHEN pg_catalog.strpos(s, '.') OPERATOR(pg_catalog.=) 0 \
                                                  THEN pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' \
                                                       OPERATOR(pg_catalog.||) s \
                                                  ELSE s END) AS x (q) \
                  WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1 \
                    AND pg_catalog.to_regclass(x.q) IS NOT NULL \
                    AND (pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) IS DISTINCT FROM $3 \
                         OR sh.shardid OPERATOR(pg_catalog.=) \
                            pg_catalog.get_shard_id_for_distribution_column(p.logicalrelid, $2))",
                &[tbl.into(), key.into(), model.pk_column.as_str().into()],
            )?
            .unwrap_or_default();
            if !local_shards.is_empty() {
                let union = local_shards
                    .iter()
                    .map(|shard| format!("SELECT * FROM {shard}"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                if let Some(row) = read(&format!("({union})"))? {
                    return Ok(Some(row));
                }
            }
        }
        read(&model.table)
    })
}

/// The current user's level (0..3) on a record given as jsonb.
fn level_of_row(model: &TableModel, row: pgrx::JsonB) -> i32 {
    query_one::<i32>(&model.level_query_of_row(), &[row.into()])
        .or_raise()
        .unwrap_or(0)
}

/// Whether the current user has `level` (1..3) or more on the record `key`
/// of `parent`: the arm of a co-located child table's policies on Citus
/// (a policy there cannot hold the sub-query that reads the parent on one
/// node).
#[pg_extern(stable, parallel_safe)]
fn _parent_allows(parent: pg_sys::Oid, key: Option<&str>, level: i32) -> bool {
    let Some(key) = key else {
        return false;
    };
    // As the extension's owner, like the policies' own lookups: the model's
    // queries use functions no client may call. The user is the session's
    // (the outer role's), which this does not change.
    context::parent_allows(parent, key, level, || {
        context::as_owner(|| {
            let model = context::protected_model(parent);
            match citus_record(parent, &model, key).or_raise() {
                Some(row) => level_of_row(&model, row) >= level,
                None => false,
            }
        })
    })
}

/// The ids of the active criteria rules of `tbl` whose criteria the record
/// matches (whoever they reach).
#[pg_extern(stable, parallel_safe)]
fn _criteria_rules_matching(tbl: pg_sys::Oid, record_id: &str) -> Vec<i64> {
    let model = context::protected_model(tbl);
    let pg_sharing_core::policy::Kind::Owned { criteria_rules, .. } = &model.kind else {
        return Vec::new();
    };
    if criteria_rules.is_empty() {
        return Vec::new();
    }
    let row = format!("{}.", model.table);
    let cases: Vec<String> = criteria_rules
        .iter()
        .map(|r| {
            format!(
                "CASE WHEN {} THEN {}::bigint END",
                r.condition.with_row(&row),
                r.id
            )
        })
        .collect();
    let query = format!(
        "SELECT pg_catalog.array_remove(ARRAY[{}], NULL) FROM {} WHERE {row}{} = $1::{}",
        cases.join(", "),
        model.table,
        quote_ident(&model.pk_column),
        model.pk_type
    );
    query_one::<Vec<i64>>(&query, &[record_id.into()])
        .or_raise()
        .unwrap_or_default()
}
