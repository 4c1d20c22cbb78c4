//! What the planner needs to plan a protected query well for its user.
//!
//! The policies' user-dependent parts are InitPlans, evaluated at execution:
//! the planner cannot see their values and falls back to fixed guesses (a
//! third of the table for `pk >= $param`, half for a boolean), which adds up
//! over a policy's arms and makes it scan the whole table even for a user
//! who sees a handful of rows. Each gated arm therefore also carries
//! `sharing._estimate(kind, arg)`: a function that is always true (it never
//! changes which rows pass) and whose planner support function tells the
//! planner whether the arm applies to the user planning the query — 1 if it
//! does, close to 0 if not.
//!
//! Correctness never depends on it: a plan made for one user and reused for
//! another (a prepared statement's generic plan) returns the right rows,
//! only perhaps along a slower path.

use crate::catalog::query_one_in_snapshot;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgList};
use std::cell::RefCell;
use std::collections::HashMap;

/// The kinds of arm `_estimate` describes (its first argument).
const BYPASS: i32 = 1; // arg: the access level's rank (view_all / modify_all)
const RULE: i32 = 2; // arg: a criteria rule's id

/// The selectivity of an arm that does not apply: not 0, so that the
/// planner's row counts stay positive and comparable.
const NOT_MINE: f64 = 1e-7;

/// Always true. See the module documentation.
#[pg_extern(stable, parallel_safe, cost = 1, support = _estimate_support)]
fn _estimate(_kind: i32, _arg: i64) -> bool {
    true
}

/// Answers, per statement, remembered for the next arms of the same
/// statement: planning a query on a table with 20 criteria rules asks 21
/// times. Keyed by what identifies "this statement, this identity"; a stale
/// answer could only ever make a plan slower, never a result wrong.
type StatementKey = (u32, i64, u32, Option<Option<i64>>);

thread_local! {
    static ANSWERS: RefCell<(Option<StatementKey>, HashMap<(i32, i64), bool>)> =
        RefCell::new((None, HashMap::new()));
}

fn statement_key() -> StatementKey {
    // SAFETY: backend globals, valid inside a transaction (planning is).
    unsafe {
        (
            (*pg_sys::MyProc).lxid,
            pg_sys::GetCurrentStatementStartTimestamp(),
            pg_sys::GetOuterUserId().into(),
            crate::identity::acting_key(),
        )
    }
}

fn applies_to_me(kind: i32, arg: i64) -> Option<bool> {
    let key = statement_key();
    let cached = ANSWERS.with(|a| {
        let mut a = a.borrow_mut();
        if a.0 != Some(key) {
            *a = (Some(key), HashMap::new());
        }
        a.1.get(&(kind, arg)).copied()
    });
    if cached.is_some() {
        return cached;
    }
    // The policy-facing functions: they answer for the current user only,
    // and anyone who may plan the query may call them.
    let answer = match kind {
        BYPASS => query_one_in_snapshot::<bool>("SELECT sharing._bypass($1::integer)", &[(arg as i32).into()]),
        RULE => query_one_in_snapshot::<bool>("SELECT sharing._rule_reaches_me($1)", &[arg.into()]),
        _ => return None,
    }
    .ok()
    .flatten()
    .unwrap_or(false);
    ANSWERS.with(|a| a.borrow_mut().1.insert((kind, arg), answer));
    Some(answer)
}

/// The support function of `_estimate`: answers SupportRequestSelectivity,
/// declines everything else (a NULL pointer, as the API asks).
#[pg_extern(immutable, parallel_safe)]
fn _estimate_support(request: Internal) -> Internal {
    let Some(datum) = request.unwrap() else {
        return declined();
    };
    let node = datum.cast_mut_ptr::<pg_sys::Node>();
    // SAFETY: the planner passes a valid request node; we only read its tag
    // and, for a selectivity request, its argument list of Const nodes.
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_SupportRequestSelectivity {
            return declined();
        }
        let req = node.cast::<pg_sys::SupportRequestSelectivity>();
        let args = PgList::<pg_sys::Node>::from_pg((*req).args);
        let (Some(kind), Some(arg)) = (const_arg(args.get_ptr(0)), const_arg(args.get_ptr(1))) else {
            return declined();
        };
        let Some(mine) = applies_to_me(kind as i32, arg) else {
            return declined();
        };
        (*req).selectivity = if mine { 1.0 } else { NOT_MINE };
        Internal::from(Some(pg_sys::Datum::from(req)))
    }
}

/// "Cannot help with this request": a NULL pointer, which is not SQL NULL
/// (PostgreSQL refuses a support function that returns SQL NULL).
pub fn declined() -> Internal {
    Internal::from(Some(pg_sys::Datum::from(std::ptr::null_mut::<std::ffi::c_void>())))
}

/// The integer value of a non-NULL Const argument (int4 or int8).
///
/// # Safety
/// `node` is null or points to a valid expression node.
unsafe fn const_arg(node: Option<*mut pg_sys::Node>) -> Option<i64> {
    let node = node?;
    // SAFETY: per the function's contract.
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = node.cast::<pg_sys::Const>();
        if (*c).constisnull {
            return None;
        }
        match (*c).consttype {
            pg_sys::INT4OID => Some((*c).constvalue.value() as i32 as i64),
            pg_sys::INT8OID => Some((*c).constvalue.value() as i64),
            _ => None,
        }
    }
}
