//! The current user's sharing context, as the generated policies read it.
//!
//! The policies call plain, parallel-safe functions (src/member.rs): no
//! sub-selects, so every backend that evaluates a query — the leader, a
//! parallel worker — answers them itself, for the user that
//! `sharing.identity` (src/identity.rs) names. This module computes and
//! remembers what they ask: whether the user is active, their view_all /
//! modify_all, the criteria rules that reach them, the owners and shared
//! records they reach per table and level, the profile's action flags.
//!
//! The answers come from the `_*_of(uid, …)` SQL functions of
//! `sql/engine.sql`, run as the extension's owner, and are remembered per
//! **model generation**: a number that every change of the sharing model
//! moves (statement triggers before and after each change of a catalog
//! table, from a sequence, so that no number is ever reused, not even by a
//! transaction that rolled back). The generation is read through the
//! statement's own snapshot, so a REPEATABLE READ reader keeps answers for
//! the model it sees, a transaction that changed the model sees its own
//! change, and answers outlive the transaction while nobody changes the
//! model. Shares expire: their answer also holds only until the next expiry
//! among them.
//!
//! The generation itself (and the user a login role is mapped to, which
//! depends on pg_roles) is remembered per snapshot (see [`SnapshotKey`]).

use crate::catalog::{query_one_in_snapshot, query_row_in_snapshot};
use crate::error::OrRaise;
use pg_sharing_core::policy::{Action, TableModel};
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// What identifies the data a query sees. Two MVCC snapshots with the
/// same bounds and the same transactions in progress see the same committed
/// rows (every other transaction below xmax had ended before both were
/// taken); a transaction that has written also sees its own changes, so its
/// snapshots are told apart by the transaction and the command id.
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

impl SnapshotKey {
    /// The active MVCC snapshot's key, if there is one.
    fn active() -> Option<SnapshotKey> {
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
            let ids = |p: *mut pg_sys::TransactionId, n: i32| -> Vec<u32> {
                if p.is_null() || n <= 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(p, n as usize)
                        .iter()
                        .map(|x| x.into_inner())
                        .collect()
                }
            };
            let wrote = pg_sys::GetTopTransactionIdIfAny() != pg_sys::InvalidTransactionId;
            Some(SnapshotKey {
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
}

/// What one snapshot sees that is not part of the model generation.
struct SnapshotFacts {
    key: SnapshotKey,
    generation: i64,
    /// The user a login role is mapped to by `db_role` (pg_roles names
    /// can change without a model change).
    mapped: HashMap<u32, Option<i64>>,
    /// Whether (user, parent table, parent key, level) may reach a child
    /// row through its parent (`sharing._parent_allows`).
    parents: HashMap<(Option<i64>, u32, String, i32), bool>,
}

/// Facts about a user that hold for every table.
#[derive(Clone)]
pub(crate) struct UserFacts {
    pub(crate) active: bool,
    /// view_all (reading) and modify_all (every level).
    pub(crate) view_all: bool,
    pub(crate) modify_all: bool,
    /// The active criteria and owner rules that reach the user, sorted.
    pub(crate) rules: Rc<Vec<i64>>,
}

/// What a user reaches in one table, per level (index 0: read, 1:
/// read_write, 2: read_write_delete).
#[derive(Clone)]
pub(crate) struct TableReach {
    pub(crate) owners: [Rc<HashSet<i64>>; 3],
    pub(crate) shared: [Rc<Vec<String>>; 3],
    /// The next expiry among the user's shares of the table (a timestamp
    /// as PostgreSQL stores it), if any: the answer holds until then.
    until: Option<i64>,
    /// The profile's create, read, edit, delete flags for the table.
    pub(crate) allowed: [bool; 4],
}

/// What one user's policies ask, remembered for one model generation.
#[derive(Default)]
struct UserSets {
    facts: Option<UserFacts>,
    tables: HashMap<u32, TableReach>,
}

/// Beyond this many users in one generation, start afresh (an application
/// acting for many users in turn must not grow a backend without bound).
const MAX_USERS: usize = 1024;

/// Beyond this many remembered table models, start afresh.
const MAX_MODELS: usize = 1024;

/// How many parent answers a snapshot remembers before starting over.
const MAX_PARENTS: usize = 65536;

struct Memory {
    snapshot: Option<SnapshotFacts>,
    generation: i64,
    users: HashMap<Option<i64>, UserSets>,
    /// The extension owner's role, as whom the sets are computed.
    owner: Option<pg_sys::Oid>,
    /// The models of protected tables the checks used, with the model
    /// generation and the [`MODELS_SEEN`] they were read in (a renamed
    /// column or schema changes a model without a model change).
    models: HashMap<u32, ((i64, u64), Rc<TableModel>)>,
}

thread_local! {
    /// Bumped by every relation or schema invalidation (a plain counter, so
    /// that a callback never has to borrow [`MEMORY`]).
    static MODELS_SEEN: Cell<u64> = const { Cell::new(0) };
    static MEMORY: RefCell<Memory> = RefCell::new(Memory {
        snapshot: None,
        generation: i64::MIN,
        users: HashMap::new(),
        owner: None,
        models: HashMap::new(),
    });
}

/// Runs `f` as the extension's owner (like SECURITY DEFINER without its
/// per-call setting save and restore), restoring the caller afterwards,
/// also when `f` raises an error.
pub(crate) fn as_owner<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores what GetUserIdAndSecContext returned.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let owner = MEMORY.with(|m| m.borrow().owner).unwrap_or_else(|| {
        let owner = query_one_in_snapshot::<pg_sys::Oid>(
            "SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) 'sharing'",
            &[],
        )
        .or_raise()
        .unwrap_or_else(|| crate::error::SharingError::Internal("schema sharing not found".into()).raise());
        MEMORY.with(|m| m.borrow_mut().owner = Some(owner));
        owner
    });
    let (mut user, mut context) = (pg_sys::InvalidOid, 0i32);
    // SAFETY: reads and sets backend globals, as fmgr_security_definer does.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            owner,
            context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
        );
    }
    let _restore = Restore(user, context);
    f()
}

/// Forgets the snapshot's facts: a savepoint rolled back can leave the next
/// snapshot with the same key (no command id was used since) but without
/// the rolled-back writes, among them a moved model generation.
/// (What call sites remember is made again too.)
fn forget_snapshot() {
    MEMORY.with(|m| m.borrow_mut().snapshot = None);
    crate::identity::invalidate();
}

unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    if matches!(event, XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT) {
        forget_snapshot();
    }
}

unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    _my_subid: pg_sys::SubTransactionId,
    _parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        forget_snapshot();
    }
}

unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    forget_models();
}

unsafe extern "C-unwind" fn on_syscache(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    forget_models();
}

/// Moves [`MODELS_SEEN`]: every remembered table model is read again.
fn forget_models() {
    MODELS_SEEN.with(|n| n.set(n.get().wrapping_add(1)));
}

/// Installs the callbacks that forget the snapshot's facts when a
/// (sub)transaction aborts, and the remembered table models when a
/// relation or schema changes; called once from `_PG_init`.
pub fn init() {
    // SAFETY: process-lifetime callbacks, static functions, no argument.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0));
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as i32,
            Some(on_syscache),
            pg_sys::Datum::from(0),
        );
    }
}

/// The snapshot's facts, read once per snapshot.
fn with_snapshot<R>(f: impl FnOnce(&mut SnapshotFacts) -> R) -> R {
    let key = SnapshotKey::active();
    let fresh = MEMORY.with(|m| {
        let m = m.borrow();
        !matches!((&m.snapshot, &key), (Some(s), Some(k)) if s.key == *k)
    });
    if fresh {
        let generation = as_owner(|| {
            query_one_in_snapshot::<i64>("SELECT generation FROM sharing._model_generation", &[])
                .or_raise()
        })
        .unwrap_or(0);
        let facts = SnapshotFacts {
            key: key.clone().unwrap_or(SnapshotKey {
                writer: 0,
                curcid: 0,
                xmin: 0,
                xmax: 0,
                xip: Vec::new(),
                subxip: Vec::new(),
                suboverflowed: false,
            }),
            generation,
            mapped: HashMap::new(),
            parents: HashMap::new(),
        };
        if key.is_none() {
            // No snapshot to key it by: answer, remember nothing.
            let mut facts = facts;
            return f(&mut facts);
        }
        MEMORY.with(|m| m.borrow_mut().snapshot = Some(facts));
    }
    MEMORY.with(|m| f(m.borrow_mut().snapshot.as_mut().expect("set above")))
}

/// The model generation the active snapshot sees.
fn generation() -> i64 {
    with_snapshot(|s| s.generation)
}

/// The user a role is mapped to by `db_role`, remembered per snapshot.
pub fn mapped_user(role: pg_sys::Oid) -> Option<i64> {
    if let Some(known) = with_snapshot(|s| s.mapped.get(&role.to_u32()).copied()) {
        return known;
    }
    let user = as_owner(|| {
        query_one_in_snapshot::<i64>(
            "SELECT id FROM sharing.users \
              WHERE db_role OPERATOR(pg_catalog.=) \
                    (SELECT rolname FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) $1)",
            &[role.into()],
        )
        .or_raise()
    });
    with_snapshot(|s| s.mapped.insert(role.to_u32(), user));
    user
}

/// Whether the current user reaches `level` on the record `key` of the
/// protected table `parent`, remembered per snapshot (a child table's
/// policy asks once per row; the rows of one parent ask the same).
pub fn parent_allows(
    parent: pg_sys::Oid,
    key: &str,
    level: i32,
    compute: impl FnOnce() -> bool,
) -> bool {
    let memo = (
        crate::identity::current_user_id(),
        parent.to_u32(),
        key.to_owned(),
        level,
    );
    if let Some(known) = with_snapshot(|s| s.parents.get(&memo).copied()) {
        return known;
    }
    let allowed = compute();
    with_snapshot(|s| {
        if s.parents.len() >= MAX_PARENTS {
            s.parents.clear();
        }
        s.parents.insert(memo, allowed)
    });
    allowed
}

/// `f` over the current user's remembered sets for the generation the
/// snapshot sees (empty when the generation moved).
fn with_sets<R>(f: impl FnOnce(Option<i64>, &mut UserSets) -> R) -> R {
    let uid = crate::identity::current_user_id();
    let generation = generation();
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.generation != generation || (m.users.len() >= MAX_USERS && !m.users.contains_key(&uid))
        {
            m.generation = generation;
            m.users.clear();
        }
        f(uid, m.users.entry(uid).or_default())
    })
}

/// The remembered answer picked by `get`, or the one `compute` makes for
/// the user (computed outside the memory's borrow: it runs queries).
fn answer<T: Clone>(
    get: impl Fn(&mut UserSets) -> Option<T>,
    compute: impl FnOnce(Option<i64>) -> T,
    put: impl FnOnce(&mut UserSets, T),
) -> T {
    let (uid, known) = with_sets(|uid, sets| (uid, get(sets)));
    if let Some(known) = known {
        return known;
    }
    let value = as_owner(|| compute(uid));
    let stored = value.clone();
    with_sets(|_, sets| put(sets, stored));
    value
}

/// The current user's facts, from one query.
fn facts() -> UserFacts {
    answer(
        |s| s.facts.clone(),
        |uid| {
            query_row_in_snapshot(
                "SELECT sharing._active_user($1), sharing._bypass_of($1, 1), \
                        sharing._bypass_of($1, 2), sharing._rules_reaching_of($1)",
                &[uid.into()],
                |row| UserFacts {
                    active: row.get(1).unwrap_or(false),
                    view_all: row.get(2).unwrap_or(false),
                    modify_all: row.get(3).unwrap_or(false),
                    rules: Rc::new(row.get::<Vec<i64>>(4).unwrap_or_default()),
                },
            )
            .or_raise()
            .expect("a row")
        },
        |s, v| s.facts = Some(v),
    )
}

/// What the current user reaches in `target`, from one query, valid until
/// the next expiry of a share.
fn reach(target: pg_sys::Oid) -> TableReach {
    // SAFETY: reads a backend global.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    answer(
        |s| {
            s.tables
                .get(&target.to_u32())
                .filter(|r| r.until.is_none_or(|until| now < until))
                .cloned()
        },
        |uid| {
            query_row_in_snapshot(
                "SELECT o.owners, o.levels, s.records, s.levels, s.until, \
                        sharing._action_allowed_of($1, $2, 'create'), sharing._action_allowed_of($1, $2, 'read'), \
                        sharing._action_allowed_of($1, $2, 'edit'), sharing._action_allowed_of($1, $2, 'delete') \
                   FROM sharing._owner_levels_of($1, $2) o, sharing._share_levels_of($1, $2) s",
                &[uid.into(), target.into()],
                |row| {
                    let owners: Vec<i64> = row.get(1).unwrap_or_default();
                    let owner_levels: Vec<i32> = row.get(2).unwrap_or_default();
                    let records: Vec<String> = row.get(3).unwrap_or_default();
                    let record_levels: Vec<i32> = row.get(4).unwrap_or_default();
                    let owners: [Rc<HashSet<i64>>; 3] = std::array::from_fn(|i| {
                        Rc::new(by_level(&owners, &owner_levels, i).copied().collect())
                    });
                    let shared: [Rc<Vec<String>>; 3] = std::array::from_fn(|i| {
                        Rc::new(by_level(&records, &record_levels, i).cloned().collect())
                    });
                    TableReach {
                        owners,
                        shared,
                        until: row
                            .get::<pgrx::datum::TimestampWithTimeZone>(5)
                            .map(|t| t.into_inner()),
                        allowed: std::array::from_fn(|i| row.get(6 + i as i32).unwrap_or(false)),
                    }
                },
            )
            .or_raise()
            .expect("a row")
        },
        |s, v| {
            s.tables.insert(target.to_u32(), v);
        },
    )
}

/// The items whose level reaches level index `i` (0: read, …).
fn by_level<'a, T>(items: &'a [T], levels: &'a [i32], i: usize) -> impl Iterator<Item = &'a T> {
    items
        .iter()
        .zip(levels)
        .filter(move |(_, l)| **l > i as i32)
        .map(|(item, _)| item)
}

/// The index (0..3) of a policy level (1 read … 3 read_write_delete).
fn level_index(level: i32) -> usize {
    level.clamp(1, 3) as usize - 1
}

/// Everything the current user's policies on `target` ask, as the engine
/// holds it for the model the snapshot sees (the access diff compares two
/// models' answers, src/diff.rs).
pub(crate) fn standing(target: pg_sys::Oid) -> (UserFacts, TableReach) {
    (facts(), reach(target))
}

/// Is the current user an active user.
pub fn active() -> bool {
    facts().active
}

/// Does the current user's profile grant every record at `level`
/// (view_all for reading, modify_all for every level).
pub fn bypass(level: i32) -> bool {
    let f = facts();
    f.active && (f.modify_all || (f.view_all && level <= 1))
}

/// Does rule `rid` reach the current user.
pub fn rule_reaches(rid: i64) -> bool {
    facts().rules.binary_search(&rid).is_ok()
}

/// Does the current user's profile allow `action` on `target`.
pub fn action_allowed(target: pg_sys::Oid, action: &str) -> bool {
    // The columns of `reach`'s query, in this order.
    let i = match Action::parse(action) {
        Some(Action::Create) => 0,
        Some(Action::Read) => 1,
        Some(Action::Edit) => 2,
        Some(Action::Delete) => 3,
        None => return false,
    };
    reach(target).allowed[i]
}

/// The owners whose records in `target` the current user reaches at `level`.
pub fn owners(target: pg_sys::Oid, level: i32) -> Rc<HashSet<i64>> {
    reach(target).owners[level_index(level)].clone()
}

/// The keys (as text, in the key type's canonical form) of the records of
/// `target` shared with the current user at `level` or more, now.
pub fn shared(target: pg_sys::Oid, level: i32) -> Rc<Vec<String>> {
    reach(target).shared[level_index(level)].clone()
}

/// The model of protected table `rel` (None if it is not protected), as
/// the checks (`_access_rank`, `_record_key`, …) use it: read once per
/// model generation instead of once per call.
pub fn table_model(rel: pg_sys::Oid) -> Option<Rc<TableModel>> {
    let seen = MODELS_SEEN.with(Cell::get);
    let stamp = (generation(), seen);
    let known = MEMORY.with(|m| {
        m.borrow()
            .models
            .get(&rel.to_u32())
            .filter(|(s, _)| *s == stamp)
            .map(|(_, model)| model.clone())
    });
    if known.is_some() {
        return known;
    }
    let model = Rc::new(crate::catalog::table_model(rel).or_raise()?);
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.models.len() >= MAX_MODELS {
            m.models.clear();
        }
        m.models.insert(rel.to_u32(), (stamp, model.clone()))
    });
    Some(model)
}

/// Like [`table_model`], but a table that is not protected is an error.
pub fn protected_model(rel: pg_sys::Oid) -> Rc<TableModel> {
    table_model(rel).unwrap_or_else(|| crate::catalog::not_protected(rel).raise())
}

/// The sorted owners of [`owners`], as an array for SQL.
fn sorted(set: &HashSet<i64>) -> Vec<i64> {
    let mut v: Vec<i64> = set.iter().copied().collect();
    v.sort_unstable();
    v
}

// --------------------------------------------- the current user's sets
// For the index conditions of the set tests (src/member.rs). They answer
// for the current user only, so PUBLIC may call them. Not SECURITY
// DEFINER: they switch to the owner only to compute.

#[pg_extern(sql = r#"
CREATE FUNCTION sharing._visible_owners(target regclass, min_level integer) RETURNS bigint[]
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', '_visible_owners_wrapper';
"#)]
fn _visible_owners(target: pg_sys::Oid, min_level: i32) -> Vec<i64> {
    sorted(&owners(target, min_level))
}

#[pg_extern(sql = r#"
CREATE FUNCTION sharing._shared_records(target regclass, min_level integer) RETURNS text[]
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', '_shared_records_wrapper';
"#)]
fn _shared_records(target: pg_sys::Oid, min_level: i32) -> Vec<String> {
    shared(target, min_level).as_ref().clone()
}
