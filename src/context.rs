//! The current user's sharing context, as the generated policies read it.
//!
//! Each policy arm that depends on the user is an InitPlan calling one of
//! the functions below (`_is_active`, `_bypass`, `_visible_owners`,
//! `_shared_records`, `_rule_reaches_me`, `_action_allowed`, and `_gate`
//! for the gated arms). They answer for `sharing.current_user_id()` only
//! and run as the extension's owner (SECURITY DEFINER, fixed search_path),
//! so any role can evaluate a policy without reading the catalog itself —
//! except `_gate`, called once per row, which answers from what the others
//! remembered and asks them otherwise.
//!
//! (The ones taking a table are declared with SQL of their own, so that
//! their argument is a `regclass` as everywhere else in the API.)
//!
//! The answers come from the `_*_of(uid, …)` SQL functions of
//! `sql/engine.sql`, and are remembered for as long as they cannot change:
//! as long as the snapshot sees the same data (see [`SnapshotKey`]). A query with 20 criteria rules thus computes each
//! set once, and the next statement that sees the same data reuses it,
//! instead of planning and running a SQL function per arm every time.
//! A savepoint rolled back and a transaction that wrote forget everything.

use crate::catalog::query_one_in_snapshot;
use crate::error::OrRaise;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// What identifies the data a query sees. Two MVCC snapshots with the
/// same bounds and the same transactions in progress see the same committed
/// rows (every other transaction below xmax had ended before both were
/// taken); a transaction that has written also sees its own changes, so its
/// snapshots are told apart by the transaction and the command id. A
/// read-only transaction's answers thus serve the next statements and
/// transactions until another transaction starts or ends.
#[derive(Clone, PartialEq, Eq, Debug)]
struct SnapshotKey {
    /// The local transaction id if the transaction has written, else 0.
    writer: u32,
    curcid: u32,
    xmin: u32,
    xmax: u32,
    /// In progress when the snapshot was taken (on a standby, all of them
    /// are in `subxip`).
    xip: Vec<u32>,
    subxip: Vec<u32>,
    suboverflowed: bool,
}

/// The active snapshot's identifying fields, borrowed: compared against
/// the remembered key without copying (the policies' key bounds ask once
/// per row).
struct SnapshotView<'a> {
    writer: u32,
    curcid: u32,
    xmin: u32,
    xmax: u32,
    xip: &'a [pg_sys::TransactionId],
    subxip: &'a [pg_sys::TransactionId],
    suboverflowed: bool,
}

/// The active MVCC snapshot, if there is one. The view is only used within
/// the call that took it, while the snapshot stays active.
fn active_snapshot<'a>() -> Option<SnapshotView<'a>> {
    // SAFETY: backend globals; GetActiveSnapshot is only called when a
    // snapshot is active, and its arrays hold xcnt / subxcnt ids.
    unsafe {
        if !pg_sys::ActiveSnapshotSet() {
            return None;
        }
        let snap = pg_sys::GetActiveSnapshot();
        if snap.is_null() || (*snap).snapshot_type != pg_sys::SnapshotType::SNAPSHOT_MVCC {
            return None;
        }
        let ids = |p: *mut pg_sys::TransactionId, n: i32| -> &'a [pg_sys::TransactionId] {
            if p.is_null() || n <= 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p, n as usize)
            }
        };
        let wrote = pg_sys::GetTopTransactionIdIfAny() != pg_sys::InvalidTransactionId;
        Some(SnapshotView {
            writer: if wrote { (*pg_sys::MyProc).lxid } else { 0 },
            curcid: (*snap).curcid,
            xmin: (*snap).xmin.into_inner(),
            xmax: (*snap).xmax.into_inner(),
            xip: ids((*snap).xip, (*snap).xcnt as i32),
            subxip: ids((*snap).subxip, (*snap).subxcnt),
            suboverflowed: (*snap).suboverflowed,
        })
    }
}

impl SnapshotKey {
    fn of(view: &SnapshotView<'_>) -> SnapshotKey {
        let ids = |xs: &[pg_sys::TransactionId]| xs.iter().map(|x| x.into_inner()).collect();
        SnapshotKey {
            writer: view.writer,
            curcid: view.curcid,
            xmin: view.xmin,
            xmax: view.xmax,
            xip: ids(view.xip),
            subxip: ids(view.subxip),
            suboverflowed: view.suboverflowed,
        }
    }

    fn is(&self, view: &SnapshotView<'_>) -> bool {
        let same = |mine: &[u32], theirs: &[pg_sys::TransactionId]| {
            mine.len() == theirs.len() && mine.iter().zip(theirs).all(|(a, b)| *a == b.into_inner())
        };
        self.writer == view.writer
            && self.curcid == view.curcid
            && self.xmin == view.xmin
            && self.xmax == view.xmax
            && self.suboverflowed == view.suboverflowed
            && same(&self.xip, view.xip)
            && same(&self.subxip, view.subxip)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Question {
    /// The user a session's outer role is mapped to (by db_role).
    MappedUser(u32),
    Active(Option<i64>),
    Bypass(Option<i64>, i32),
    RulesReaching(Option<i64>),
    VisibleOwners(Option<i64>, u32, i32),
    /// Shares expire: the answer holds for one statement time.
    SharedRecords(Option<i64>, u32, i32, i64),
    ActionAllowed(Option<i64>, u32, String),
}

#[derive(Clone)]
enum Answer {
    User(Option<i64>),
    Bool(bool),
    Ids(Vec<i64>),
    Keys(Vec<String>),
}

struct Memory {
    key: Option<SnapshotKey>,
    answers: HashMap<Question, Answer>,
}

thread_local! {
    static MEMORY: RefCell<Memory> = RefCell::new(Memory { key: None, answers: HashMap::new() });
}

/// Forgets every remembered answer.
pub fn forget() {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        m.key = None;
        m.answers.clear();
    });
}

/// `use` of the remembered answer to `q` for the active snapshot, if there
/// is one; nothing is copied or allocated.
fn peek<R>(q: &Question, use_: impl FnOnce(&Answer) -> R) -> Option<R> {
    let view = active_snapshot()?;
    MEMORY.with(|m| {
        let m = m.borrow();
        match &m.key {
            Some(key) if key.is(&view) => m.answers.get(q).map(use_),
            _ => None,
        }
    })
}

/// The remembered answer to `q` for the active snapshot, or `compute`'s
/// (remembered for the next time).
fn remembered(q: Question, compute: impl FnOnce() -> Answer) -> Answer {
    if let Some(a) = peek(&q, Answer::clone) {
        return a;
    }
    let a = compute();
    // (Viewed after computing: the query that computed it ran in, and
    // left, the same active snapshot.)
    let Some(view) = active_snapshot() else {
        return a;
    };
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if !m.key.as_ref().is_some_and(|key| key.is(&view)) {
            m.key = Some(SnapshotKey::of(&view));
            m.answers.clear();
        }
        m.answers.insert(q, a.clone());
    });
    a
}

/// The user a role is mapped to by `db_role`, remembered like the rest.
pub fn mapped_user(role: pg_sys::Oid) -> Option<i64> {
    let answer = remembered(Question::MappedUser(role.into()), || {
        Answer::User(
            query_one_in_snapshot::<i64>(
                "SELECT id FROM sharing.users \
                  WHERE db_role OPERATOR(pg_catalog.=) \
                        (SELECT rolname FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) $1)",
                &[role.into()],
            )
            .or_raise(),
        )
    });
    match answer {
        Answer::User(u) => u,
        _ => unreachable!("MappedUser answers with a user"),
    }
}

fn me() -> Option<i64> {
    crate::identity::current_user_id()
}

/// The remembered answer to `q`, else the first column of `sql`'s first
/// row (the type's default when there is none).
fn ask<T: pgrx::FromDatum + Default>(
    q: Question,
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
    wrap: fn(T) -> Answer,
    unwrap: fn(Answer) -> Option<T>,
) -> T {
    let answer = remembered(q, || wrap(query_one_in_snapshot::<T>(sql, args).or_raise().unwrap_or_default()));
    unwrap(answer).expect("each kind of question has its own kind of answer")
}

fn ask_bool(q: Question, sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> bool {
    ask(q, sql, args, Answer::Bool, |a| match a {
        Answer::Bool(b) => Some(b),
        _ => None,
    })
}

fn ask_ids(q: Question, sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Vec<i64> {
    ask(q, sql, args, Answer::Ids, |a| match a {
        Answer::Ids(ids) => Some(ids),
        _ => None,
    })
}

#[pg_extern(stable, parallel_restricted, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn _is_active() -> bool {
    let uid = me();
    ask_bool(Question::Active(uid), "SELECT sharing._active_user($1)", &[uid.into()])
}

#[pg_extern(stable, parallel_restricted, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn _bypass(min_level: i32) -> bool {
    let uid = me();
    ask_bool(
        Question::Bypass(uid, min_level),
        "SELECT sharing._bypass_of($1, $2)",
        &[uid.into(), min_level.into()],
    )
}

#[pg_extern(stable, parallel_restricted, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn _rule_reaches_me(rid: i64) -> bool {
    let uid = me();
    // All the rules reaching the user, asked once: a table's policy has an
    // arm per criteria rule.
    ask_ids(Question::RulesReaching(uid), "SELECT sharing._rules_reaching_of($1)", &[uid.into()])
        .binary_search(&rid)
        .is_ok()
}

/// The gate of a policy arm for the current user: `kind` 1 is view_all /
/// modify_all at access level `arg` (as `_bypass`), 2 is "criteria rule
/// `arg` reaches me" (as `_rule_reaches_me`). The arms' key bounds call it
/// once per row they test, so it is neither SECURITY DEFINER nor has a SET
/// clause (their per-call cost, a GUC save and restore, would dominate): it
/// answers from the remembered answers and, the first time in a snapshot,
/// asks the SECURITY DEFINER function, which remembers its answer.
#[pg_extern(stable, parallel_restricted)]
fn _gate(kind: i32, arg: i64) -> bool {
    let uid = me();
    let (known, ask) = match kind {
        1 => (
            peek(&Question::Bypass(uid, arg as i32), |a| matches!(a, Answer::Bool(true))),
            "SELECT sharing._bypass($1::integer)",
        ),
        2 => (
            peek(&Question::RulesReaching(uid), |a| {
                matches!(a, Answer::Ids(ids) if ids.binary_search(&arg).is_ok())
            }),
            "SELECT sharing._rule_reaches_me($1)",
        ),
        _ => crate::error::SharingError::InvalidArgument(format!("unknown gate kind {kind}"))
            .raise(),
    };
    known.unwrap_or_else(|| query_one_in_snapshot::<bool>(ask, &[arg.into()]).or_raise().unwrap_or(false))
}

#[pg_extern(sql = r#"
CREATE FUNCTION sharing._action_allowed(target regclass, action text) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', '_action_allowed_wrapper';
"#)]
fn _action_allowed(target: pg_sys::Oid, action: &str) -> bool {
    let uid = me();
    ask_bool(
        Question::ActionAllowed(uid, target.into(), action.to_owned()),
        "SELECT sharing._action_allowed_of($1, $2::regclass, $3)",
        &[uid.into(), target.into(), action.into()],
    )
}

#[pg_extern(sql = r#"
CREATE FUNCTION sharing._visible_owners(target regclass, min_level integer) RETURNS bigint[]
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', '_visible_owners_wrapper';
"#)]
fn _visible_owners(target: pg_sys::Oid, min_level: i32) -> Vec<i64> {
    let uid = me();
    ask_ids(
        Question::VisibleOwners(uid, target.into(), min_level),
        "SELECT sharing._visible_owners_of($1, $2::regclass, $3)",
        &[uid.into(), target.into(), min_level.into()],
    )
}

#[pg_extern(sql = r#"
CREATE FUNCTION sharing._shared_records(target regclass, min_level integer) RETURNS text[]
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', '_shared_records_wrapper';
"#)]
fn _shared_records(target: pg_sys::Oid, min_level: i32) -> Vec<String> {
    let uid = me();
    // SAFETY: reads a backend global.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    ask(
        Question::SharedRecords(uid, target.into(), min_level, now),
        "SELECT sharing._shared_records_of($1, $2::regclass, $3)",
        &[uid.into(), target.into(), min_level.into()],
        Answer::Keys,
        |a| match a {
            Answer::Keys(keys) => Some(keys),
            _ => None,
        },
    )
}

unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    // Answers made in a transaction that wrote are keyed by it and useless
    // afterwards; an aborted one's must never be reused.
    // SAFETY: reads backend globals during the transaction's end.
    let wrote = unsafe { pg_sys::GetTopTransactionIdIfAny() != pg_sys::InvalidTransactionId };
    if wrote || matches!(event, XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT) {
        forget();
    }
}

unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    _my_subid: pg_sys::SubTransactionId,
    _parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        forget();
    }
}

/// Installs the callbacks that forget at transaction end and when a
/// savepoint is rolled back; called once from `_PG_init`.
pub fn init() {
    // SAFETY: process-lifetime callbacks, static functions, no argument.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}
