//! Reading the catalog into the pure models of `pg_sharing_core`.

use crate::error::{Result, SharingError};
use pg_sharing_core::access::{DefaultAccess, Level};
use pg_sharing_core::criteria::{self, Column, Criteria, TypeFamily};
use pg_sharing_core::policy::{CompiledCondition, CriteriaRule, Kind, TableModel, ROW};
use pgrx::prelude::*;

/// A column with what casting a literal to its type needs.
pub struct ColumnInfo {
    pub column: Column,
    pub type_oid: pg_sys::Oid,
    pub typmod: i32,
}

/// The first column of the first row of a query, or None when the query
/// returns no row (or NULL).
pub fn query_one<T: pgrx::FromDatum + pgrx::IntoDatum>(
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> Result<Option<T>> {
    // `select`, unlike Spi::get_one_with_args, does not assign a
    // transaction id: these run in every protected query, also in
    // parallel mode.
    match Spi::connect(|client| client.select(sql, Some(1), args)?.first().get_one::<T>()) {
        Ok(v) => Ok(v),
        Err(pgrx::spi::Error::InvalidPosition) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Like [`query_one`], but always read-only in the active snapshot, also
/// in a transaction that has written: no command counter increment and no
/// new snapshot. For what runs inside any query, also in parallel mode
/// (the policies' context, planner estimates), where SPI's writable mode
/// is refused ("cannot start commands during a parallel operation").
pub fn query_one_in_snapshot<T: pgrx::FromDatum>(
    sql: &'static str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> Result<Option<T>> {
    Ok(query_row_in_snapshot(sql, args, |row| row.get::<T>(1))?.flatten())
}

/// The first row of a query, as `read` takes it from a [`Row`], or None
/// when the query returns no row; run like [`query_one_in_snapshot`]. The
/// query is planned once per backend (a kept SPI plan, which PostgreSQL
/// re-plans when what it depends on changes), since these run for every
/// new user and snapshot.
pub fn query_row_in_snapshot<R>(
    sql: &'static str,
    args: &[pgrx::datum::DatumWithOid<'_>],
    read: impl FnOnce(&Row) -> R,
) -> Result<Option<R>> {
    let mut types: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
    let mut values: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| {
            a.datum()
                .map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::os::raw::c_char> = args
        .iter()
        .map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::os::raw::c_char)
        .collect();
    let text = std::ffi::CString::new(sql)
        .map_err(|_| SharingError::Internal("query text contains NUL".into()))?;
    // SAFETY: a balanced SPI_connect / SPI_finish around one read-only
    // execution; the result is converted to owned Rust values before
    // SPI_finish frees the tuple table. An ERROR unwinds through pgrx and
    // PostgreSQL's end-of-transaction cleanup closes the SPI connection.
    // Kept plans live in CacheMemoryContext for the backend's life.
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            return Err(SharingError::Internal("SPI_connect failed".into()));
        }
        let key = (sql, types.clone());
        let plan = match PLANS.with(|p| p.borrow().get(&key).copied()) {
            Some(plan) => plan,
            None => {
                let plan =
                    pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
                if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
                    pg_sys::SPI_finish();
                    return Err(SharingError::Internal(format!(
                        "cannot prepare an internal query (SPI code {})",
                        std::ptr::addr_of!(pg_sys::SPI_result).read()
                    )));
                }
                PLANS.with(|p| p.borrow_mut().insert(key, plan));
                plan
            }
        };
        let rc = pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), true, 1);
        let result = if rc != pg_sys::SPI_OK_SELECT as i32 {
            Err(SharingError::Internal(format!(
                "read-only query failed with SPI code {rc}"
            )))
        } else if pg_sys::SPI_processed == 0 || pg_sys::SPI_tuptable.is_null() {
            Ok(None)
        } else {
            let table = pg_sys::SPI_tuptable;
            Ok(Some(read(&Row {
                tuple: *(*table).vals,
                desc: (*table).tupdesc,
            })))
        };
        pg_sys::SPI_finish();
        result
    }
}

thread_local! {
    /// The kept plans of [`query_row_in_snapshot`], by query and argument types.
    static PLANS: std::cell::RefCell<std::collections::HashMap<(&'static str, Vec<pg_sys::Oid>), pg_sys::SPIPlanPtr>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A row of [`query_row_in_snapshot`]'s result.
pub struct Row {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
}

impl Row {
    /// Column `n` (from 1), None when NULL.
    pub fn get<T: pgrx::FromDatum>(&self, n: i32) -> Option<T> {
        // SAFETY: the tuple and descriptor of the current SPI result, read
        // before SPI_finish; values are copied into Rust types.
        unsafe {
            let mut isnull = false;
            let datum = pg_sys::SPI_getbinval(self.tuple, self.desc, n, &mut isnull);
            let typoid = pg_sys::SPI_gettypeid(self.desc, n);
            T::from_polymorphic_datum(datum, isnull, typoid)
        }
    }
}

/// The qualified, quoted name of a relation (`"public"."accounts"`).
pub fn qualified_name(rel: pg_sys::Oid) -> Result<String> {
    query_one::<String>(
        "SELECT format('%I.%I', n.nspname, c.relname) \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.oid = $1",
        &[rel.into()],
    )?
    .ok_or_else(|| {
        SharingError::UndefinedTable(format!("relation with OID {} does not exist", rel.to_u32()))
    })
}

/// The user-visible columns of a relation, in order.
pub fn columns(rel: pg_sys::Oid) -> Result<Vec<ColumnInfo>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                    coalesce(bt.typname, t.typname)::text, a.atttypid, a.atttypmod \
               FROM pg_catalog.pg_attribute a \
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
               LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
              ORDER BY a.attnum",
            None,
            &[rel.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.get(1)?.unwrap_or_default();
            let sql_type: String = row.get(2)?.unwrap_or_default();
            let typname: String = row.get(3)?.unwrap_or_default();
            out.push(ColumnInfo {
                column: Column {
                    name,
                    sql_type,
                    family: TypeFamily::of_typname(&typname),
                },
                type_oid: row.get(4)?.unwrap_or(pg_sys::InvalidOid),
                typmod: row.get(5)?.unwrap_or(-1),
            });
        }
        Ok(out)
    })
}

/// Parses and validates criteria for `rel`, including that every value
/// casts to its column's type.
pub fn compile_criteria(rel: pg_sys::Oid, doc: &serde_json::Value) -> Result<Criteria> {
    let infos = columns(rel)?;
    let cols: Vec<Column> = infos.iter().map(|c| c.column.clone()).collect();
    let table = qualified_name(rel)?;
    let parsed =
        criteria::parse(doc, &cols, &table).map_err(|e| SharingError::InvalidArgument(e.0))?;
    for (n, value, _) in parsed.literals() {
        let col = &parsed.conditions[n - 1].column;
        let info = infos
            .iter()
            .find(|i| i.column.name == col.name)
            .expect("parsed columns come from this list");
        check_cast(value, info).map_err(|reason| {
            SharingError::InvalidArgument(format!(
                "value \"{value}\" in criteria condition {n} does not fit column \"{}\" of type {}: {reason}",
                col.name, col.sql_type
            ))
        })?;
    }
    Ok(parsed)
}

/// Runs the type's input function on `value`; the error message if it fails.
fn check_cast(value: &str, info: &ColumnInfo) -> std::result::Result<(), String> {
    if value.contains('\0') {
        return Err("contains a NUL character".into());
    }
    let cvalue = std::ffi::CString::new(value).map_err(|e| e.to_string())?;
    let type_oid = info.type_oid;
    let typmod = info.typmod;
    PgTryBuilder::new(|| {
        let mut input = pg_sys::InvalidOid;
        let mut ioparam = pg_sys::InvalidOid;
        // SAFETY: valid type OID from pg_attribute; out-pointers are locals;
        // the C string lives until the call returns. Errors are caught below.
        unsafe {
            pg_sys::getTypeInputInfo(type_oid, &mut input, &mut ioparam);
            pg_sys::OidInputFunctionCall(input, cvalue.as_ptr() as *mut _, ioparam, typmod);
        }
        Ok(())
    })
    .catch_others(|e| match e {
        pg_sys::panic::CaughtError::PostgresError(report)
        | pg_sys::panic::CaughtError::ErrorReport(report) => Err(report.message().to_string()),
        _ => Err("invalid value".into()),
    })
    .execute()
}

/// Parses a criteria document given as text by `sharing._criteria_text`.
pub fn criteria_doc(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| SharingError::InvalidArgument(format!("criteria cannot be read: {e}")))
}

fn load_criteria_rules(rel: pg_sys::Oid) -> Result<Vec<CriteriaRule>> {
    // The documents as text with their numbers as exact strings: reading
    // jsonb into serde_json would make every number an f64.
    let rows: Vec<(i64, String, String)> = Spi::connect(|client| {
        let rows = client.select(
            "SELECT id, access, sharing._criteria_text(criteria) FROM sharing.rules \
              WHERE tbl = $1 AND rule_type = 'criteria' AND active ORDER BY id",
            None,
            &[rel.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let id: i64 = row.get(1)?.unwrap_or_default();
            let access: String = row.get(2)?.unwrap_or_default();
            let criteria: Option<String> = row.get(3)?;
            out.push((id, access, criteria.unwrap_or_default()));
        }
        Ok::<_, SharingError>(out)
    })?;
    let mut rules = Vec::with_capacity(rows.len());
    for (id, access, text) in rows {
        let compiled = compile_criteria(rel, &criteria_doc(&text)?)?;
        rules.push(CriteriaRule {
            id,
            access: access.parse::<Level>().map_err(SharingError::Internal)?,
            condition: CompiledCondition(compiled.to_sql(ROW)),
        });
    }
    Ok(rules)
}

/// The policy model of a protected table, or None if it is not protected.
pub fn table_model(rel: pg_sys::Oid) -> Result<Option<TableModel>> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<pg_sys::Oid>,
        Option<String>,
    );
    let row: Option<Row> = Spi::connect(|client| {
        let mut rows = client.select(
            "SELECT pk_column::text, pk_type, owner_column::text, default_access, parent_tbl::oid, parent_column::text \
               FROM sharing.protected_tables WHERE tbl = $1",
            None,
            &[rel.into()],
        )?;
        match rows.next() {
            None => Ok::<_, SharingError>(None),
            Some(r) => Ok(Some((
                r.get(1)?.unwrap_or_default(),
                r.get(2)?.unwrap_or_default(),
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))),
        }
    })?;
    let Some((pk_column, pk_type, owner_column, default_access, parent_tbl, parent_column)) = row
    else {
        return Ok(None);
    };
    let kind = match (owner_column, parent_tbl, parent_column) {
        (Some(owner_column), None, None) => Kind::Owned {
            owner_column,
            default_access: default_access
                .unwrap_or_default()
                .parse::<DefaultAccess>()
                .map_err(SharingError::Internal)?,
            criteria_rules: load_criteria_rules(rel)?,
        },
        (None, Some(parent), Some(parent_column)) => Kind::Child {
            parent_column,
            parent: Box::new(table_model(parent)?.ok_or_else(|| {
                SharingError::Internal(format!("parent of {} is not protected", rel.to_u32()))
            })?),
        },
        _ => {
            return Err(SharingError::Internal(
                "inconsistent protected_tables row".into(),
            ))
        }
    };
    let citus = is_citus_table(rel)?;
    Ok(Some(TableModel {
        table: qualified_name(rel)?,
        pk_column,
        pk_type,
        kind,
        citus,
    }))
}

/// True when `rel` is a Citus table (distributed, reference or Citus
/// local); false without Citus.
pub fn is_citus_table(rel: pg_sys::Oid) -> Result<bool> {
    Ok(query_one::<bool>(
        "SELECT sharing._is_citus_table($1::regclass)",
        &[rel.into()],
    )?
    .unwrap_or(false))
}

/// Like [`table_model`], but a table that is not protected is an error.
pub fn protected_model(rel: pg_sys::Oid) -> Result<TableModel> {
    table_model(rel)?.ok_or_else(|| not_protected(rel))
}

/// The error for a table that pg_sharing does not protect.
pub fn not_protected(rel: pg_sys::Oid) -> SharingError {
    SharingError::InvalidArgument(format!(
        "table {} is not protected by pg_sharing",
        qualified_name(rel).unwrap_or_else(|_| rel.to_u32().to_string())
    ))
}
