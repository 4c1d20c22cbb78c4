//! Administration helpers that need Rust: describing criteria for the rule
//! list, and comparing the policies on a table with what the model
//! generates (for `sharing.check()`).

use crate::catalog::protected_model;
use crate::error::{OrRaise, Result};
use crate::protect::partition_tree;
use pg_sharing_core::criteria::{self, Column, TypeFamily};
use pg_sharing_core::policy::POLICY_NAMES;
use pgrx::prelude::*;
use pgrx::JsonB;
use std::collections::BTreeMap;

/// How a person reads a criteria document (given as text by
/// `sharing._criteria_text`, numbers exact), without checking it against a
/// table: the rule list must render even if a column was dropped since.
#[pg_extern(immutable, strict, parallel_safe)]
fn _describe_criteria(criteria: &str) -> String {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(criteria) else {
        return criteria.to_string();
    };
    // Every column named in the document, typed as text: every op fits
    // text, and a description needs nothing more.
    let columns: Vec<Column> = doc
        .get("conditions")
        .and_then(|c| c.as_array())
        .map(|conds| {
            conds
                .iter()
                .filter_map(|c| c.get("column").and_then(|n| n.as_str()))
                .map(|name| Column {
                    name: name.to_string(),
                    sql_type: "text".into(),
                    family: TypeFamily::Text,
                })
                .collect()
        })
        .unwrap_or_default();
    match criteria::parse(&doc, &columns, "") {
        Ok(c) => c.describe(),
        Err(_) => criteria.to_string(),
    }
}

/// What makes a generated policy what it is: its command, whether it is
/// permissive, the roles it applies to, and its expressions as PostgreSQL
/// deparses them.
#[derive(Debug, PartialEq)]
struct Shape {
    cmd: String,
    permissive: bool,
    roles: String,
    qual: Option<String>,
    check: Option<String>,
}

type PolicyShape = BTreeMap<String, Shape>;

fn policy_shapes(relation: &str) -> Result<PolicyShape> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT polname::text, polcmd::text, polpermissive, \
                    pg_catalog.array_to_string(polroles::pg_catalog.regrole[], ','), \
                    pg_catalog.pg_get_expr(polqual, polrelid), pg_catalog.pg_get_expr(polwithcheck, polrelid) \
               FROM pg_catalog.pg_policy WHERE polrelid = $1::regclass \
                AND polname OPERATOR(pg_catalog.=) ANY ($2)",
            None,
            &[relation.into(), POLICY_NAMES.to_vec().into()],
        )?;
        let mut out = BTreeMap::new();
        for row in rows {
            out.insert(
                row.get::<String>(1)?.unwrap_or_default(),
                Shape {
                    cmd: row.get::<String>(2)?.unwrap_or_default(),
                    permissive: row.get::<bool>(3)?.unwrap_or(false),
                    roles: row.get::<String>(4)?.unwrap_or_default(),
                    qual: row.get::<String>(5)?,
                    check: row.get::<String>(6)?,
                },
            );
        }
        Ok(out)
    })
}

fn policy_drift(tbl: pg_sys::Oid) -> Result<Vec<String>> {
    let model = protected_model(tbl)?;
    let mut problems = Vec::new();
    for relation in partition_tree(tbl)? {
        // What the model generates, deparsed by PostgreSQL itself on a
        // scratch copy of the table's columns, so formatting cannot differ.
        Spi::run(&format!(
            "CREATE TEMP TABLE _sharing_expected (LIKE {relation}) ON COMMIT DROP"
        ))?;
        for statement in model.policies("pg_temp._sharing_expected") {
            Spi::run(&statement)?;
        }
        // Deparsed sub-selects qualify the outer row by relation name:
        // read the scratch table's name as the real one's.
        let relname = crate::catalog::query_one::<String>(
            "SELECT pg_catalog.quote_ident(relname::text) FROM pg_catalog.pg_class WHERE oid = $1::regclass",
            &[relation.as_str().into()],
        )?
        .unwrap_or_default();
        let expected: PolicyShape = policy_shapes("pg_temp._sharing_expected")?
            .into_iter()
            .map(|(name, shape)| {
                let rename = |e: Option<String>| {
                    e.map(|t| t.replace("_sharing_expected.", &format!("{relname}.")))
                };
                let shape = Shape {
                    qual: rename(shape.qual),
                    check: rename(shape.check),
                    ..shape
                };
                (name, shape)
            })
            .collect();
        Spi::run("DROP TABLE pg_temp._sharing_expected")?;
        let actual = policy_shapes(&relation)?;
        for (name, shape) in &expected {
            match actual.get(name) {
                None => problems.push(format!("policy {name} on {relation} is missing")),
                Some(found) if found != shape => problems.push(format!(
                    "policy {name} on {relation} differs from what the model generates (edited by hand?)"
                )),
                Some(_) => {}
            }
        }
    }
    Ok(problems)
}

/// Problems with the generated policies of a protected table: missing, or
/// different from what the model generates.
#[pg_extern(volatile, parallel_unsafe)]
fn _policy_drift(tbl: pg_sys::Oid) -> SetOfIterator<'static, String> {
    SetOfIterator::new(policy_drift(tbl).or_raise())
}

/// Parses and checks a configuration document (given as the text of the
/// jsonb); returns it with every default filled in, or raises 22023 naming
/// the JSON path of the problem. Taken as text, not jsonb: pgrx's jsonb
/// conversion panics (XX000) on what serde_json refuses — nesting deeper
/// than 128, a number beyond f64 — where a document error is due.
#[pg_extern(immutable, strict, parallel_safe)]
fn _validate_config(config: &str) -> JsonB {
    let invalid = |e: String| crate::error::SharingError::InvalidArgument(e);
    let doc: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| invalid(format!("invalid configuration: {e}")))
        .or_raise();
    let parsed = pg_sharing_core::config::parse(&doc)
        .map_err(|e| invalid(format!("invalid configuration at {e}")))
        .or_raise();
    JsonB(serde_json::to_value(parsed).expect("a parsed config serializes"))
}
