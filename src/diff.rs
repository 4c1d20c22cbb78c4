//! The access diff's steps (`sharing.access_diff`, sql/diff.sql).
//!
//! The driver applies the configuration document in a subtransaction it
//! rolls back, and calls these steps around it. What they learn is kept
//! here, in the backend's memory, across the rollback:
//!
//! 1. before: the inputs digest of every (user, table)
//!    (`sharing._access_inputs`);
//! 2. after the change: the digests again. The pairs whose digest moved are
//!    the candidates; for each, what the engine's functions answer under
//!    the new model ([`Standing`], from src/context.rs);
//! 3. before, again: the same under the old model; from the two, the
//!    [`Region`] of the table whose access can differ; what the policies
//!    look at in the region's rows, read once per region
//!    ([`RowFacts`]); each user's access to each of those rows under
//!    either model ([`Standing::actions`]); the records gained and lost.
//!
//! So the work grows with what the change touches (the candidates and
//! their regions), not with users times rows.

use crate::catalog::query_one;
use crate::context;
use crate::error::{OrRaise, Result};
use crate::identity::as_user;
use pg_sharing_core::diff::{
    facts_query, region, tally, Change, Region, RootFacts, RowFacts, Standing,
};
use pg_sharing_core::policy::{CompiledCondition, Kind, TableModel};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// A user and a protected table.
type Pair = (i64, u32);

/// The rows of a region as read once: the conditions they were read with
/// and their facts.
type RegionRows = (Vec<CompiledCondition>, Vec<RowFacts>);

/// How many records of each read change the report names.
const SAMPLES: usize = 5;

/// One line of the report: user, table and what changes.
type Line = (i64, u32, Change);

#[derive(Default)]
struct Diff {
    inputs_before: HashMap<Pair, String>,
    /// The pairs to look at, in a stable order, with the standing after.
    after: BTreeMap<Pair, Standing>,
    report: Vec<Line>,
    /// User names, after the change where the user exists then.
    names: HashMap<i64, String>,
}

thread_local! {
    static DIFF: RefCell<Diff> = RefCell::new(Diff::default());
}

/// Every (user, table) with the digest of its inputs.
fn inputs() -> Result<HashMap<Pair, String>> {
    Ok(Spi::connect(|client| {
        client
            .select(
                "SELECT user_id, tbl::oid, digest FROM sharing._access_inputs()",
                None,
                &[],
            )?
            .map(|row| {
                Ok((
                    (
                        row.get::<i64>(1)?.unwrap_or_default(),
                        row.get::<pg_sys::Oid>(2)?.map_or(0, |o| o.to_u32()),
                    ),
                    row.get::<String>(3)?.unwrap_or_default(),
                ))
            })
            .collect::<std::result::Result<HashMap<_, _>, pgrx::spi::Error>>()
    })?)
}

fn names() -> Result<Vec<(i64, String)>> {
    Ok(Spi::connect(|client| {
        client
            .select("SELECT id, name FROM sharing.users", None, &[])?
            .map(|row| {
                Ok((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                ))
            })
            .collect::<std::result::Result<Vec<_>, pgrx::spi::Error>>()
    })?)
}

/// What the engine holds for the current user and `tbl` (and its parents).
fn standing(tbl: pg_sys::Oid) -> Standing {
    let model = context::protected_model(tbl);
    let (facts, reach) = context::standing(tbl);
    let best = |i: usize, level: &mut i32| *level = (*level).max(i as i32 + 1);
    let mut owners: BTreeMap<i64, i32> = BTreeMap::new();
    let mut shared: BTreeMap<String, i32> = BTreeMap::new();
    for i in 0..3 {
        for owner in reach.owners[i].iter() {
            best(i, owners.entry(*owner).or_default());
        }
        for key in reach.shared[i].iter() {
            best(i, shared.entry(key.clone()).or_default());
        }
    }
    let parent = match &model.kind {
        Kind::Child { .. } => {
            let parent: pg_sys::Oid = query_one(
                "SELECT parent_tbl::oid FROM sharing.protected_tables WHERE tbl OPERATOR(pg_catalog.=) $1",
                &[tbl.into()],
            )
            .or_raise()
            .expect("a child table has a parent");
            Some(Box::new(standing(parent)))
        }
        Kind::Owned { .. } => None,
    };
    Standing {
        model: model.as_ref().clone(),
        active: facts.active,
        view_all: facts.view_all,
        modify_all: facts.modify_all,
        allowed: [reach.allowed[1], reach.allowed[2], reach.allowed[3]],
        owners,
        shared,
        rules: facts.rules.as_ref().clone(),
        parent,
    }
}

/// What the policies look at in the rows of `region` of the table of
/// `model`, in key order (read as the caller: the extension's owner).
fn facts(model: &TableModel, region: &Region, conditions: &[CompiledCondition]) -> Vec<RowFacts> {
    let query = facts_query(model, region, conditions);
    Spi::connect(|client| {
        client
            .select(&query, None, &[])?
            .map(|r| {
                let root = match r.get::<String>(2)? {
                    Some(key) => Some(RootFacts {
                        key,
                        owner: r.get::<i64>(3)?,
                        matches: r
                            .get::<Vec<i32>>(4)?
                            .unwrap_or_default()
                            .into_iter()
                            .map(|i| i as usize)
                            .collect(),
                    }),
                    None => None,
                };
                Ok(RowFacts {
                    key: r.get::<String>(1)?.unwrap_or_default(),
                    root,
                })
            })
            .collect::<std::result::Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(crate::error::SharingError::from)
    .or_raise()
}

/// Step 1: the inputs before the change.
#[pg_extern(volatile)]
fn _diff_before_inputs() {
    let inputs = inputs().or_raise();
    let names = names().or_raise();
    DIFF.with(|d| {
        *d.borrow_mut() = Diff {
            inputs_before: inputs,
            names: names.into_iter().collect(),
            ..Diff::default()
        }
    });
}

/// Step 2 (the change applied): the candidates and their standing after.
#[pg_extern(volatile)]
fn _diff_after_inputs() {
    let after = inputs().or_raise();
    let before = DIFF.with(|d| std::mem::take(&mut d.borrow_mut().inputs_before));
    // Tables protected on one side only are not compared.
    let tables = |m: &HashMap<Pair, String>| m.keys().map(|p| p.1).collect::<HashSet<u32>>();
    let common: HashSet<u32> = tables(&before)
        .intersection(&tables(&after))
        .copied()
        .collect();
    let candidates: BTreeSet<Pair> = before
        .keys()
        .chain(after.keys())
        .filter(|p| common.contains(&p.1) && before.get(p) != after.get(p))
        .copied()
        .collect();
    let standings: BTreeMap<Pair, Standing> = candidates
        .into_iter()
        .map(|(uid, tbl)| ((uid, tbl), as_user(Some(uid), || standing(tbl.into()))))
        .collect();
    let names = names().or_raise();
    DIFF.with(|d| {
        let mut d = d.borrow_mut();
        d.after = standings;
        d.names.extend(names);
    });
}

/// Step 3 (the change undone): the regions, the facts of their rows, and
/// what each candidate gains and loses.
#[pg_extern(volatile)]
fn _diff_compare() {
    let after = DIFF.with(|d| std::mem::take(&mut d.borrow_mut().after));
    // Users a change reaches alike share a region (a new criteria rule's
    // matches): its rows are read once.
    let mut known: HashMap<(u32, String), Rc<RegionRows>> = HashMap::new();
    let mut report = Vec::new();
    for ((uid, tbl), standing_after) in after {
        check_for_interrupts!();
        let standing_before = as_user(Some(uid), || standing(tbl.into()));
        let r = region(&standing_before, &standing_after);
        if r == Region::Same {
            continue;
        }
        let model = &standing_before.model;
        let mut conditions = standing_before.root_conditions();
        for c in standing_after.root_conditions() {
            if !conditions.contains(&c) {
                conditions.push(c);
            }
        }
        let text = r.predicate(model, &format!("{}.", model.table), 0);
        let read = known
            .entry((tbl, text))
            .or_insert_with(|| {
                let rows = facts(model, &r, &conditions);
                Rc::new((conditions, rows))
            })
            .clone();
        let (conditions, rows) = (&read.0, &read.1);
        let (before, after) = (
            standing_before.judge(conditions),
            standing_after.judge(conditions),
        );
        // A change that reaches every row of every user costs users times
        // rows: let a cancel or statement_timeout stop it.
        let change = tally(
            rows.iter().enumerate().map(|(i, row)| {
                if i % 65536 == 0 {
                    check_for_interrupts!();
                }
                (row.key.as_str(), before.actions(row), after.actions(row))
            }),
            SAMPLES,
        );
        if !change.is_empty() {
            report.push((uid, tbl, change));
        }
    }
    DIFF.with(|d| d.borrow_mut().report = report);
}

/// Step 5: per user and table whose access changes, the records gained and
/// lost; forgets the diff.
#[allow(clippy::type_complexity)] // the report's columns, as pgrx spells them
#[pg_extern(sql = r#"
CREATE FUNCTION sharing._diff_report()
RETURNS TABLE (user_id bigint, user_name text, tbl regclass, gained bigint, lost bigint,
               sample_gained text[], sample_lost text[],
               edit_gained bigint, edit_lost bigint, delete_gained bigint, delete_lost bigint)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', '_diff_report_wrapper';
"#)]
fn _diff_report() -> TableIterator<
    'static,
    (
        name!(user_id, i64),
        name!(user_name, Option<String>),
        name!(tbl, pg_sys::Oid),
        name!(gained, i64),
        name!(lost, i64),
        name!(sample_gained, Vec<String>),
        name!(sample_lost, Vec<String>),
        name!(edit_gained, i64),
        name!(edit_lost, i64),
        name!(delete_gained, i64),
        name!(delete_lost, i64),
    ),
> {
    let diff = DIFF.with(|d| std::mem::take(&mut *d.borrow_mut()));
    let names = diff.names;
    let report: Vec<_> = diff
        .report
        .into_iter()
        .map(|(uid, tbl, c)| {
            (
                uid,
                names.get(&uid).cloned(),
                pg_sys::Oid::from(tbl),
                c.gained[0],
                c.lost[0],
                c.sample_gained,
                c.sample_lost,
                c.gained[1],
                c.lost[1],
                c.gained[2],
                c.lost[2],
            )
        })
        .collect();
    TableIterator::new(report)
}
