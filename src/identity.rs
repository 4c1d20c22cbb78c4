//! Identity: who the current user is.
//!
//! 1. the user set by `sharing.act_as(user_id)` for the current transaction;
//! 2. else the user whose `db_role` is the session's outer role (after
//!    `SET ROLE`; unaffected by SECURITY DEFINER);
//! 3. else NULL.
//!
//! The acting user lives in backend memory, never in a setting a client can
//! `SET`. It is cleared at commit, rollback and prepare; an `act_as` inside a
//! savepoint that is rolled back is undone (the identity before the
//! savepoint comes back), like `SET LOCAL`.

use crate::catalog::query_one;
use crate::error::{OrRaise, Result, SharingError};
use pgrx::prelude::*;
use std::cell::RefCell;

/// One `act_as` call: the subtransaction that made it and the identity it
/// replaced, so a rolled-back savepoint can restore it.
struct ActAs {
    subxact: pg_sys::SubTransactionId,
    previous: Option<i64>,
}

struct Identity {
    acting: Option<i64>,
    history: Vec<ActAs>,
}

thread_local! {
    // PostgreSQL backends are single-threaded; thread_local keeps Rust happy.
    static IDENTITY: RefCell<Identity> = const { RefCell::new(Identity { acting: None, history: Vec::new() }) };
}

fn acting_user() -> Option<i64> {
    IDENTITY.with(|i| i.borrow().acting)
}

fn clear() {
    IDENTITY.with(|i| {
        let mut i = i.borrow_mut();
        i.acting = None;
        i.history.clear();
    });
}

unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PREPARE
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
    ) {
        clear();
    }
}

unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::SubXactEvent::*;
    IDENTITY.with(|i| {
        let mut i = i.borrow_mut();
        match event {
            SUBXACT_EVENT_ABORT_SUB => {
                // Undo, newest first, every act_as made in the aborted savepoint.
                while i.history.last().is_some_and(|h| h.subxact == my_subid) {
                    let undone = i.history.pop().expect("checked above");
                    i.acting = undone.previous;
                }
            }
            SUBXACT_EVENT_COMMIT_SUB => {
                for h in i.history.iter_mut().filter(|h| h.subxact == my_subid) {
                    h.subxact = parent_subid;
                }
            }
            _ => {}
        }
    });
}

/// Installs the transaction callbacks; called once from `_PG_init`.
pub fn init() {
    // SAFETY: registering process-lifetime callbacks with static functions
    // and no argument; PostgreSQL calls them on this backend's thread.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

/// Runs `f` with the current user temporarily set to `uid`, restoring the
/// previous identity afterwards, also when `f` raises an error.
pub fn as_user<R>(uid: Option<i64>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<i64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            IDENTITY.with(|i| i.borrow_mut().acting = previous);
        }
    }
    let _restore = Restore(acting_user());
    // A NULL user is "nobody": an id that no user can have.
    IDENTITY.with(|i| i.borrow_mut().acting = Some(uid.unwrap_or(i64::MIN)));
    f()
}

/// The session's outer role: the login role, or the role set by `SET ROLE`,
/// but not a SECURITY DEFINER function's owner.
#[pg_extern(stable, parallel_restricted)]
fn _outer_role_oid() -> pg_sys::Oid {
    // SAFETY: reads a backend global; always valid inside a transaction.
    unsafe { pg_sys::GetOuterUserId() }
}

/// The pg_sharing user this session acts as, or NULL.
#[pg_extern(stable, parallel_restricted)]
fn current_user_id() -> Option<i64> {
    if let Some(uid) = acting_user() {
        return (uid != i64::MIN).then_some(uid);
    }
    query_one::<i64>(
        "SELECT id FROM sharing.users WHERE db_role = (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = $1)",
        &[_outer_role_oid().into()],
    )
    .or_raise()
}

fn act_as_checked(user_id: i64) -> Result<()> {
    let outer = _outer_role_oid();
    let allowed = query_one::<bool>(
        "SELECT r.rolsuper OR pg_catalog.pg_has_role(r.oid, 'sharing_app', 'MEMBER') \
           FROM pg_catalog.pg_roles r WHERE r.oid = $1",
        &[outer.into()],
    )?
    .unwrap_or(false);
    if !allowed {
        return Err(SharingError::PermissionDenied(
            "permission denied for function sharing.act_as: only members of sharing_app may act on behalf of users"
                .into(),
        ));
    }
    match query_one::<bool>(
        "SELECT active FROM sharing.users WHERE id = $1",
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
    // SAFETY: we are inside a transaction (a function is executing).
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    IDENTITY.with(|i| {
        let mut i = i.borrow_mut();
        let previous = i.acting;
        i.history.push(ActAs { subxact, previous });
        i.acting = Some(user_id);
    });
    Ok(())
}

/// Acts as `user_id` until the end of the current transaction.
#[pg_extern(volatile, parallel_unsafe)]
fn act_as(user_id: i64) {
    act_as_checked(user_id).or_raise()
}
