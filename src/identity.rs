//! Identity: who the current user is.
//!
//! 1. the user set by `sharing.act_as(user_id)` for the current transaction;
//! 2. else the user whose `db_role` is the session's outer role (after
//!    `SET ROLE`; unaffected by SECURITY DEFINER);
//! 3. else NULL.
//!
//! The acting user is carried by the setting `sharing.identity`, so that
//! PostgreSQL hands it to every backend that evaluates a query for this
//! session: parallel workers restore the leader's settings before they run
//! a plan. A setting is what a client can change, so this one is guarded:
//!
//! - it is superuser-only (`PGC_SUSET`): `SET`, `SET LOCAL`, `RESET`,
//!   `set_config`, `ALTER ROLE … SET` and a function's `SET` clause by any
//!   other role are refused by PostgreSQL itself;
//! - its check hook refuses every value except the ones this module sets
//!   (and a parallel worker restoring its leader's state), so not even a
//!   superuser's `SET` or a configuration file can name a user;
//! - `RESET ALL` leaves it alone, and `SHOW` is for superusers.
//!
//! `act_as` sets it like `SET LOCAL`: it ends with the transaction, and a
//! savepoint rolled back undoes it. [`as_user`] sets it like a function's
//! `SET` clause, for the duration of a check about another user.
//!
//! On a Citus cluster the acting user must also reach the worker backends
//! that evaluate the shard queries. `act_as` relays it there as a second
//! setting, `sharing.relayed_identity`: a token naming the user and the
//! role that acts, signed with the cluster key (`sharing._cluster_key`, a
//! table no client can read, the same on every node). Citus propagates the
//! `SET LOCAL` that sets it to every node of the transaction. Any role may
//! set that setting, but a token is believed only when its signature
//! verifies and it names the role of the backend reading it: a client
//! cannot make one, and one seen in a log cannot be used by another role.
//!
//! The SQL run here is called directly by any client, under the client's own
//! `search_path`: every operator in it is schema-qualified
//! (`OPERATOR(pg_catalog.=)`), so that an operator a client defines in a
//! schema of its own cannot change whom the session is taken for.

use crate::catalog::{query_one, query_one_in_snapshot};
use crate::error::{OrRaise, Result, SharingError};
use pg_sharing_core::relayed::Relayed;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};

/// The name of the setting that carries the acting user.
pub const SETTING: &str = "sharing.identity";

/// The name of the setting that relays the acting user to other nodes of a
/// Citus cluster.
pub const RELAYED_SETTING: &str = "sharing.relayed_identity";

/// Who the session acts as, when something set it: a user, or nobody (a
/// check about a NULL user). Any bigint is a possible user id, so "nobody"
/// is its own case rather than a reserved id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Acting {
    User(i64),
    Nobody,
}

impl Acting {
    /// The setting's text: `u:<id>`, `-` for nobody; `""` is "not acting".
    fn encode(acting: Option<Acting>) -> String {
        match acting {
            None => String::new(),
            Some(Acting::Nobody) => "-".into(),
            Some(Acting::User(id)) => format!("u:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Option<Acting>> {
        match text {
            "" => Some(None),
            "-" => Some(Some(Acting::Nobody)),
            _ => text
                .strip_prefix("u:")?
                .parse()
                .ok()
                .map(|id| Some(Acting::User(id))),
        }
    }
}

thread_local! {
    // PostgreSQL backends are single-threaded; thread_local keeps Rust happy.
    /// The setting's value as the assign hook last parsed it.
    static ACTING: Cell<Option<Acting>> = const { Cell::new(None) };
    /// The relayed setting's value as its assign hook last parsed it.
    static RELAYED: RefCell<Option<Relayed>> = const { RefCell::new(None) };
    /// The cluster key, once read (None: not read yet; Some(None): none).
    static CLUSTER_KEY: RefCell<Option<Option<Vec<u8>>>> = const { RefCell::new(None) };
    /// The relayed user last verified: (epoch, outer role, user). Valid
    /// while the epoch stays (a new token moves it) and the role is the
    /// same, so a token is verified once, not at every lookup.
    static VERIFIED: Cell<Option<(u64, u32, i64)>> = const { Cell::new(None) };
    /// True only while this module sets the setting.
    static SETTING_IT: Cell<bool> = const { Cell::new(false) };
}

/// Bumped by every change of the setting: what the policies remember per
/// call site is valid while this stays the same. A plain static rather than
/// a thread-local (read at every row; a backend has one thread).
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The setting's storage, owned by PostgreSQL's GUC machinery.
static mut VALUE: *mut c_char = std::ptr::null_mut();

/// The relayed setting's storage, owned by PostgreSQL's GUC machinery.
static mut RELAYED_VALUE: *mut c_char = std::ptr::null_mut();

/// A number that changes whenever the identity may have changed (and when
/// [`invalidate`] is called).
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

/// Moves [`epoch`]: what call sites remember is made again.
pub fn invalidate() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// A setting's value as a hook receives it (NULL is ""); None when it is
/// not UTF-8, which no value this module accepts is.
///
/// # Safety
/// `value` is NULL or a NUL-terminated string that outlives the result.
unsafe fn value_text<'a>(value: *const c_char) -> Option<&'a str> {
    if value.is_null() {
        return Some("");
    }
    // SAFETY: the caller's promise.
    unsafe { CStr::from_ptr(value) }.to_str().ok()
}

/// True while a parallel worker restores its leader's settings.
fn restoring_in_worker() -> bool {
    // SAFETY: a backend global.
    unsafe { pg_sys::InitializingParallelWorker }
}

unsafe extern "C-unwind" fn check_identity(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a valid pointer to a (possibly NULL) string.
    let Some(text) = (unsafe { value_text(*newval) }) else {
        return false;
    };
    // The boot value, and what PostgreSQL restores, are "not acting".
    if text.is_empty() {
        return true;
    }
    (SETTING_IT.with(Cell::get) || restoring_in_worker()) && Acting::decode(text).is_some()
}

unsafe extern "C-unwind" fn assign_identity(newval: *const c_char, _extra: *mut c_void) {
    // SAFETY: a valid (possibly NULL) string, checked by check_identity.
    let text = unsafe { value_text(newval) }.unwrap_or("");
    ACTING.with(|a| a.set(Acting::decode(text).unwrap_or(None)));
    invalidate();
}

/// A relayed identity is taken from `SET` (what Citus sends) and from a
/// parallel worker's restore only: never from a file, a connection option,
/// or a role's or database's settings, which would make it last.
unsafe extern "C-unwind" fn check_relayed(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a valid pointer to a (possibly NULL) string.
    let text = unsafe { value_text(*newval) };
    if text == Some("") {
        return true;
    }
    let ok = (source == pg_sys::GucSource::PGC_S_SESSION || restoring_in_worker())
        && text.and_then(Relayed::decode).is_some();
    if !ok {
        // SAFETY: sets the error code of the check's failure report.
        unsafe {
            pg_sys::GUC_check_errcode(pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE as i32)
        };
    }
    ok
}

unsafe extern "C-unwind" fn assign_relayed(newval: *const c_char, _extra: *mut c_void) {
    // SAFETY: a valid (possibly NULL) string, checked by check_relayed.
    let text = unsafe { value_text(newval) }.unwrap_or("");
    RELAYED.with(|r| *r.borrow_mut() = Relayed::decode(text));
    invalidate();
}

/// Defines the settings; called once from `_PG_init`.
pub fn init() {
    let name = CString::new(SETTING).expect("no NUL");
    let short = c"The pg_sharing user this transaction acts as (set by sharing.act_as only).";
    let flags = pg_sys::GUC_NO_SHOW_ALL
        | pg_sys::GUC_NO_RESET_ALL
        | pg_sys::GUC_NOT_IN_SAMPLE
        | pg_sys::GUC_DISALLOW_IN_FILE
        | pg_sys::GUC_DISALLOW_IN_AUTO_FILE
        | pg_sys::GUC_SUPERUSER_ONLY;
    // SAFETY: defines a process-lifetime setting whose storage is a static
    // that only PostgreSQL's GUC code writes; the hooks are static.
    unsafe {
        pg_sys::DefineCustomStringVariable(
            name.into_raw(),
            short.as_ptr(),
            std::ptr::null(),
            &raw mut VALUE,
            c"".as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            flags as i32,
            Some(check_identity),
            Some(assign_identity),
            None,
        );
    }
    let name = CString::new(RELAYED_SETTING).expect("no NUL");
    let short =
        c"The pg_sharing user relayed from a Citus coordinator (set by sharing.act_as only).";
    // SAFETY: as above. Any role may set it (Citus sets it as the session's
    // role); the check hook and the signature decide what is believed.
    unsafe {
        pg_sys::DefineCustomStringVariable(
            name.into_raw(),
            short.as_ptr(),
            std::ptr::null(),
            &raw mut RELAYED_VALUE,
            c"".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            flags as i32,
            Some(check_relayed),
            Some(assign_relayed),
            None,
        );
    }
}

/// The cluster key, read once per backend as the extension's owner; None
/// outside a Citus cluster set up with `sharing.enable_citus()`.
fn cluster_key(reload: bool) -> Option<Vec<u8>> {
    if !reload {
        if let Some(known) = CLUSTER_KEY.with(|k| k.borrow().clone()) {
            return known;
        }
    }
    let key = crate::context::as_owner(|| {
        query_one_in_snapshot::<Vec<u8>>("SELECT key FROM sharing._cluster_key", &[]).or_raise()
    });
    CLUSTER_KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    key
}

/// The name of a role.
fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: GetUserNameFromId raises an error for a role that does not
    // exist; the string it returns is palloc'd and copied here.
    unsafe {
        CStr::from_ptr(pg_sys::GetUserNameFromId(role, false))
            .to_string_lossy()
            .into_owned()
    }
}

/// The user relayed to this backend, or None when nothing is relayed; an
/// error when the relayed token does not verify:
/// it was not made by a node of this cluster, or for another role (a
/// superuser's backend, which could read the key anyway, takes any).
fn relayed_user() -> Option<i64> {
    let relayed = RELAYED.with(|r| r.borrow().clone())?;
    // SAFETY: a backend global, valid inside a transaction.
    let outer = unsafe { pg_sys::GetOuterUserId() };
    let stamp = (epoch(), outer.to_u32());
    if let Some((e, r, uid)) = VERIFIED.with(Cell::get) {
        if (e, r) == stamp {
            return Some(uid);
        }
    }
    // SAFETY: a valid role of this session.
    let superuser = unsafe { pg_sys::superuser_arg(outer) };
    let role = role_name(outer);
    let verifies = |reload| cluster_key(reload).is_some_and(|key| relayed.verifies(&key));
    if (relayed.role == role || superuser) && (verifies(false) || verifies(true)) {
        VERIFIED.with(|v| v.set(Some((stamp.0, stamp.1, relayed.user_id))));
        return Some(relayed.user_id);
    }
    SharingError::PermissionDenied(format!(
        "the identity relayed in {RELAYED_SETTING} (role \"{}\") is not valid for role \"{role}\" on this node",
        relayed.role
    ))
    .raise()
}

/// On a node of a Citus cluster, relays `user_id` to the other nodes of
/// this transaction, for connections made as the current role: a signed
/// token set with `SET LOCAL`, which Citus propagates to every node
/// (`citus.propagate_set_commands = local`, set here for the transaction).
/// Nothing outside a cluster.
fn relay(user_id: i64) -> Result<()> {
    let citus = c"citus.propagate_set_commands";
    // SAFETY: reads a setting by name; NULL when Citus is not loaded.
    let loaded = unsafe { !pg_sys::GetConfigOption(citus.as_ptr(), true, false).is_null() };
    if !loaded {
        return Ok(());
    }
    let Some(key) = cluster_key(false) else {
        return Ok(());
    };
    // SAFETY: a backend global, valid inside a transaction.
    let role = role_name(unsafe { pg_sys::GetUserId() });
    let token = Relayed::sign(&key, user_id, &role).encode();
    Spi::run("SELECT pg_catalog.set_config('citus.propagate_set_commands', 'local', true)")?;
    set_relayed(&token)
}

/// `SET LOCAL` of the relayed setting, through SPI so that Citus sees it
/// (it propagates a `SET LOCAL` in a transaction block, where `act_as`
/// belongs).
fn set_relayed(text: &str) -> Result<()> {
    Spi::run(&format!(
        "SET LOCAL {RELAYED_SETTING} = {}",
        pgrx::spi::quote_literal(text)
    ))?;
    Ok(())
}

/// Sets the setting with PostgreSQL's `action` (LOCAL for act_as, SAVE
/// inside a nesting level for as_user).
fn set(acting: Option<Acting>, action: pg_sys::GucAction::Type) {
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            SETTING_IT.with(|s| s.set(false));
        }
    }
    let name = CString::new(SETTING).expect("no NUL");
    let value = CString::new(Acting::encode(acting)).expect("no NUL");
    SETTING_IT.with(|s| s.set(true));
    let _done = Done;
    // SAFETY: sets a setting we defined, inside a transaction; errors are
    // raised as PostgreSQL errors.
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            pgrx::PgLogLevel::ERROR as i32,
            false,
        );
    }
}

/// Runs `f` with the current user temporarily set to `uid`, like a
/// function's `SET` clause: parallel workers that `f`'s queries start see
/// it too. The previous identity comes back when `f` returns or raises.
pub fn as_user<R>(uid: Option<i64>, f: impl FnOnce() -> R) -> R {
    // SAFETY: opens a GUC nesting level, closed below.
    let nest = unsafe { pg_sys::NewGUCNestLevel() };
    set(
        Some(uid.map_or(Acting::Nobody, Acting::User)),
        pg_sys::GucAction::GUC_ACTION_SAVE,
    );
    // The level is popped on the way out, an error included: whoever catches
    // the error (without rolling back a subtransaction) finds the identity
    // it had. An abort would pop it too; popping twice is harmless.
    PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| {
            // SAFETY: pops exactly the level opened above (a no-op when an
            // abort already did).
            unsafe { pg_sys::AtEOXact_GUC(true, nest) }
        })
        .execute()
}

/// The session's outer role: the login role, or the role set by `SET ROLE`,
/// but not a SECURITY DEFINER function's owner.
#[pg_extern(stable, parallel_safe)]
fn _outer_role_oid() -> pg_sys::Oid {
    // SAFETY: reads a backend global; always valid inside a transaction.
    unsafe { pg_sys::GetOuterUserId() }
}

/// The pg_sharing user this session acts as, or NULL.
#[pg_extern(stable, parallel_safe)]
pub fn current_user_id() -> Option<i64> {
    match ACTING.with(Cell::get) {
        Some(Acting::User(uid)) => return Some(uid),
        Some(Acting::Nobody) => return None,
        None => {}
    }
    if let Some(uid) = relayed_user() {
        return Some(uid);
    }
    crate::context::mapped_user(_outer_role_oid())
}

fn act_as_checked(user_id: Option<i64>) -> Result<()> {
    let allowed = query_one::<bool>("SELECT sharing._is_app()", &[])?.unwrap_or(false);
    if !allowed {
        return Err(SharingError::PermissionDenied(
            "permission denied for function sharing.act_as: only members of sharing_app may act on behalf of users"
                .into(),
        ));
    }
    // Not a no-op: an application that means "nobody" must not keep acting
    // as the user it set before.
    let Some(user_id) = user_id else {
        return Err(SharingError::InvalidArgument(
            "sharing.act_as: user_id must not be NULL".into(),
        ));
    };
    match query_one::<bool>(
        "SELECT active FROM sharing.users WHERE id OPERATOR(pg_catalog.=) $1",
        &[user_id.into()],
    )? {
        None => {
            return Err(SharingError::InvalidArgument(format!(
                "user {user_id} does not exist"
            )))
        }
        Some(false) => {
            return Err(SharingError::PermissionDenied(format!(
                "user {user_id} is inactive and cannot be acted as"
            )))
        }
        Some(true) => {}
    }
    set(
        Some(Acting::User(user_id)),
        pg_sys::GucAction::GUC_ACTION_LOCAL,
    );
    relay(user_id)
}

/// Acts as `user_id` until the end of the current transaction.
#[pg_extern(volatile, parallel_unsafe)]
fn act_as(user_id: Option<i64>) {
    act_as_checked(user_id).or_raise()
}
