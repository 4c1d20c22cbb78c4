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
//! The SQL run here is called directly by any client, under the client's own
//! `search_path`: every operator in it is schema-qualified
//! (`OPERATOR(pg_catalog.=)`), so that an operator a client defines in a
//! schema of its own cannot change whom the session is taken for.

use crate::catalog::query_one;
use crate::error::{OrRaise, Result, SharingError};
use pgrx::prelude::*;
use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};

/// The name of the setting that carries the acting user.
pub const SETTING: &str = "sharing.identity";

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
    /// True only while this module sets the setting.
    static SETTING_IT: Cell<bool> = const { Cell::new(false) };
}

/// Bumped by every change of the setting: what the policies remember per
/// call site is valid while this stays the same. A plain static rather than
/// a thread-local (read at every row; a backend has one thread).
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The setting's storage, owned by PostgreSQL's GUC machinery.
static mut VALUE: *mut c_char = std::ptr::null_mut();

/// A number that changes whenever the identity may have changed (and when
/// [`invalidate`] is called).
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

/// Moves [`epoch`]: what call sites remember is made again.
pub fn invalidate() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C-unwind" fn check_identity(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a valid pointer to a (possibly NULL) string.
    let text = unsafe {
        if newval.is_null() || (*newval).is_null() {
            return true;
        }
        CStr::from_ptr(*newval).to_str().unwrap_or("\u{0}")
    };
    // The boot value, and what PostgreSQL restores, are "not acting".
    if text.is_empty() {
        return true;
    }
    // SAFETY: a backend global.
    let restoring_in_worker = unsafe { pg_sys::InitializingParallelWorker };
    (SETTING_IT.with(Cell::get) || restoring_in_worker) && Acting::decode(text).is_some()
}

unsafe extern "C-unwind" fn assign_identity(newval: *const c_char, _extra: *mut c_void) {
    // SAFETY: a valid (possibly NULL) string, checked by check_identity.
    let text = unsafe {
        if newval.is_null() {
            ""
        } else {
            CStr::from_ptr(newval).to_str().unwrap_or("")
        }
    };
    ACTING.with(|a| a.set(Acting::decode(text).unwrap_or(None)));
    invalidate();
}

/// Defines the setting; called once from `_PG_init`.
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
    Ok(())
}

/// Acts as `user_id` until the end of the current transaction.
#[pg_extern(volatile, parallel_unsafe)]
fn act_as(user_id: Option<i64>) {
    act_as_checked(user_id).or_raise()
}
