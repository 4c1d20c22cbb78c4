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
//!
//! The SQL run here is called directly by any client, under the client's own
//! `search_path`: every operator in it is schema-qualified
//! (`OPERATOR(pg_catalog.=)`), so that an operator a client defines in a
//! schema of its own cannot change whom the session is taken for.

use crate::catalog::query_one;
use crate::error::{OrRaise, Result, SharingError};
use pgrx::prelude::*;
use std::cell::RefCell;

/// Who the session acts as, when something set it: a user, or nobody (a
/// check about a NULL user). Any bigint is a possible user id, so "nobody"
/// is its own case rather than a reserved id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Acting {
    User(i64),
    Nobody,
}

/// One `act_as` call: the subtransaction that made it and the identity it
/// replaced, so a rolled-back savepoint can restore it.
struct ActAs {
    subxact: pg_sys::SubTransactionId,
    previous: Option<Acting>,
}

struct Identity {
    acting: Option<Acting>,
    history: Vec<ActAs>,
}

thread_local! {
    // PostgreSQL backends are single-threaded; thread_local keeps Rust happy.
    static IDENTITY: RefCell<Identity> = const { RefCell::new(Identity { acting: None, history: Vec::new() }) };
}

fn acting_user() -> Option<Acting> {
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
    struct Restore(Option<Acting>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            IDENTITY.with(|i| i.borrow_mut().acting = previous);
        }
    }
    let _restore = Restore(acting_user());
    let acting = uid.map_or(Acting::Nobody, Acting::User);
    IDENTITY.with(|i| i.borrow_mut().acting = Some(acting));
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
pub fn current_user_id() -> Option<i64> {
    match acting_user() {
        Some(Acting::User(uid)) => return Some(uid),
        Some(Acting::Nobody) => return None,
        None => {}
    }
    crate::context::mapped_user(_outer_role_oid())
}

fn act_as_checked(user_id: Option<i64>) -> Result<()> {
    let outer = _outer_role_oid();
    let allowed = query_one::<bool>(
        "SELECT r.rolsuper OR pg_catalog.pg_has_role(r.oid, 'sharing_app', 'MEMBER') \
           FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) $1",
        &[outer.into()],
    )?
    .unwrap_or(false);
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
    // SAFETY: we are inside a transaction (a function is executing).
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    IDENTITY.with(|i| {
        let mut i = i.borrow_mut();
        let previous = i.acting;
        i.history.push(ActAs { subxact, previous });
        i.acting = Some(Acting::User(user_id));
    });
    Ok(())
}

/// Acts as `user_id` until the end of the current transaction.
#[pg_extern(volatile, parallel_unsafe)]
fn act_as(user_id: Option<i64>) {
    act_as_checked(user_id).or_raise()
}
