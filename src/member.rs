//! `sharing._member(key, set, target, level)`: is `key` in the bigint array
//! `set` — the owner test of the generated policies.
//!
//! `owner_id = ANY ($visible_owners)` would do, but PostgreSQL searches a
//! non-constant array linearly for every row: a VP who sees the records of
//! 4,000 owners pays 4,000 comparisons per row. `_member` builds a hash set
//! of the array once per query (kept in the call site's `fn_extra`, keyed
//! by the array it was built from) and then answers in constant time.
//!
//! Its planner support function keeps everything the plain form had:
//! - an index condition `key = ANY (set)` (exact, not lossy), so the owner
//!   column's index answers the arm and a BitmapOr over the arms remains;
//! - a selectivity computed from the set of the user planning the query
//!   (`target` and `level` say which set: `sharing._visible_owners`), so
//!   the planner sees that a rep's records are a handful and a VP's are
//!   40% of the table. Estimates only steer the plan: a plan made for one
//!   user and reused for another stays correct.

use crate::catalog::query_one_in_snapshot;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgList};
use std::collections::HashSet;

extension_sql!(
    r#"
CREATE FUNCTION sharing._member(key bigint, set bigint[], target regclass, level integer) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._member_support
AS 'MODULE_PATHNAME', 'sharing_member';
COMMENT ON FUNCTION sharing._member(bigint, bigint[], regclass, integer) IS
    'key = ANY (set), hashed; target and level only inform the planner (see src/member.rs)';
"#,
    name = "member",
    requires = [_member_support]
);

/// The hash set of one call site, and the array it was built from.
struct Built {
    array: pg_sys::Datum,
    set: HashSet<i64>,
}

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_sharing_member() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// Frees a call site's set when its memory context goes.
unsafe extern "C-unwind" fn drop_built(arg: *mut std::ffi::c_void) {
    // SAFETY: `arg` is the Box leaked in `built_for`, dropped exactly once.
    drop(unsafe { Box::from_raw(arg.cast::<Built>()) });
}

/// Whether `key` is in `array`, through the call site's hash set, built at
/// most once per call site and array.
///
/// # Safety
/// `fcinfo` is the current call's, `array` a non-NULL bigint[] datum.
unsafe fn contains(fcinfo: pg_sys::FunctionCallInfo, array: pg_sys::Datum, key: i64) -> bool {
    // SAFETY: per the contract; fn_extra is ours (NULL or a Built leaked
    // below, living until fn_mcxt is reset or deleted).
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let existing = (*flinfo).fn_extra.cast::<Built>();
        if !existing.is_null() && (*existing).array == array {
            return (*existing).set.contains(&key);
        }
        let arr = pg_sys::pg_detoast_datum(array.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        let mut elems: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut n: i32 = 0;
        // (PostgreSQL 15's deconstruct_array_builtin does not know bigint.)
        pg_sys::deconstruct_array(arr, pg_sys::INT8OID, 8, true, b'd' as std::ffi::c_char, &mut elems, &mut nulls, &mut n);
        let mut set = HashSet::with_capacity(n.max(0) as usize);
        for i in 0..n.max(0) as usize {
            if !*nulls.add(i) {
                set.insert((*elems.add(i)).value() as i64);
            }
        }
        let found = set.contains(&key);
        if existing.is_null() {
            let built = Box::into_raw(Box::new(Built { array, set }));
            let cb = pg_sys::MemoryContextAlloc(
                (*flinfo).fn_mcxt,
                std::mem::size_of::<pg_sys::MemoryContextCallback>(),
            )
            .cast::<pg_sys::MemoryContextCallback>();
            cb.write(pg_sys::MemoryContextCallback {
                func: Some(drop_built),
                arg: built.cast(),
                next: std::ptr::null_mut(),
            });
            pg_sys::MemoryContextRegisterResetCallback((*flinfo).fn_mcxt, cb);
            (*flinfo).fn_extra = built.cast();
        } else {
            // Another array at this call site (a rescan): rebuild in place.
            (*existing).array = array;
            (*existing).set = set;
        }
        found
    }
}

#[unsafe(no_mangle)]
#[pg_guard]
pub unsafe extern "C-unwind" fn sharing_member(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: called by fmgr as a STRICT function of four arguments: the
    // first two are present and non-NULL.
    unsafe {
        let args = (*fcinfo).args.as_slice(2);
        pg_sys::Datum::from(contains(fcinfo, args[1].value, args[0].value.value() as i64))
    }
}

/// `key = ANY (set)` as a ScalarArrayOpExpr with the btree equality of
/// `opfamily` (None if the family has no bigint equality).
///
/// # Safety
/// `key` and `set` are valid expression nodes.
unsafe fn equals_any(opfamily: pg_sys::Oid, key: *mut pg_sys::Node, set: *mut pg_sys::Node) -> Option<*mut pg_sys::Node> {
    // SAFETY: catalog lookups and node construction in the current context.
    unsafe {
        let opno = pg_sys::get_opfamily_member(
            opfamily,
            pg_sys::INT8OID,
            pg_sys::INT8OID,
            pg_sys::BTEqualStrategyNumber as i16,
        );
        if opno == pg_sys::InvalidOid {
            return None;
        }
        let mut saop = PgBox::<pg_sys::ScalarArrayOpExpr>::alloc_node(pg_sys::NodeTag::T_ScalarArrayOpExpr);
        saop.opno = opno;
        saop.opfuncid = pg_sys::get_opcode(opno);
        saop.useOr = true;
        saop.inputcollid = pg_sys::InvalidOid;
        let mut args = PgList::<pg_sys::Node>::new();
        args.push(pg_sys::copyObjectImpl(key.cast()).cast());
        args.push(pg_sys::copyObjectImpl(set.cast()).cast());
        saop.args = args.into_pg();
        saop.location = -1;
        Some(saop.into_pg().cast())
    }
}

/// "Cannot help with this request": a NULL pointer, which is not SQL NULL
/// (PostgreSQL refuses a support function that returns SQL NULL).
fn declined() -> Internal {
    Internal::from(Some(pg_sys::Datum::from(std::ptr::null_mut::<std::ffi::c_void>())))
}

/// The planning user's owner set for (target, level), as a Const array.
fn planning_users_set(target: pg_sys::Oid, level: i32) -> Option<*mut pg_sys::Node> {
    let owners = query_one_in_snapshot::<Vec<i64>>(
        "SELECT sharing._visible_owners($1, $2)",
        &[target.into(), level.into()],
    )
    .ok()
    .flatten()?;
    let mut datums: Vec<pg_sys::Datum> = owners.iter().map(|o| pg_sys::Datum::from(*o)).collect();
    // SAFETY: builds a bigint[] and a Const over it in the current context.
    unsafe {
        let arr = pg_sys::construct_array(
            datums.as_mut_ptr(),
            datums.len() as i32,
            pg_sys::INT8OID,
            8,
            true,
            b'd' as std::ffi::c_char,
        );
        Some(
            pg_sys::makeConst(
                pg_sys::INT8ARRAYOID,
                -1,
                pg_sys::InvalidOid,
                -1,
                pg_sys::Datum::from(arr),
                false,
                false,
            )
            .cast(),
        )
    }
}

fn const_oid_and_int(target: *mut pg_sys::Node, level: *mut pg_sys::Node) -> Option<(pg_sys::Oid, i32)> {
    // SAFETY: the planner's argument nodes; only Consts are read.
    unsafe {
        if target.is_null() || level.is_null() {
            return None;
        }
        if (*target).type_ != pg_sys::NodeTag::T_Const || (*level).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let (t, l) = (target.cast::<pg_sys::Const>(), level.cast::<pg_sys::Const>());
        if (*t).constisnull || (*l).constisnull {
            return None;
        }
        Some((pg_sys::Oid::from((*t).constvalue.value() as u32), (*l).constvalue.value() as i32))
    }
}

#[pg_extern(immutable, parallel_safe)]
fn _member_support(request: Internal) -> Internal {
    let Some(datum) = request.unwrap() else {
        return declined();
    };
    let node = datum.cast_mut_ptr::<pg_sys::Node>();
    // SAFETY: the planner passes a valid request node of the tag it has.
    unsafe {
        if node.is_null() {
            return declined();
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_SupportRequestIndexCondition => {
                let req = node.cast::<pg_sys::SupportRequestIndexCondition>();
                let func = (*req).node;
                if (*req).indexarg != 0 || (*func).type_ != pg_sys::NodeTag::T_FuncExpr {
                    return declined();
                }
                let args = PgList::<pg_sys::Node>::from_pg((*func.cast::<pg_sys::FuncExpr>()).args);
                let (Some(key), Some(set)) = (args.get_ptr(0), args.get_ptr(1)) else {
                    return declined();
                };
                let Some(cond) = equals_any((*req).opfamily, key, set) else {
                    return declined();
                };
                (*req).lossy = false;
                let mut out = PgList::<pg_sys::Node>::new();
                out.push(cond);
                Internal::from(Some(pg_sys::Datum::from(out.into_pg())))
            }
            pg_sys::NodeTag::T_SupportRequestSelectivity => {
                let req = node.cast::<pg_sys::SupportRequestSelectivity>();
                let args = PgList::<pg_sys::Node>::from_pg((*req).args);
                let (Some(key), Some(target), Some(level)) = (args.get_ptr(0), args.get_ptr(2), args.get_ptr(3)) else {
                    return declined();
                };
                let Some((target, level)) = const_oid_and_int(target, level) else {
                    return declined();
                };
                let Some(set) = planning_users_set(target, level) else {
                    return declined();
                };
                let Some(clause) = equals_any(pg_sys::INTEGER_BTREE_FAM_OID, key, set) else {
                    return declined();
                };
                (*req).selectivity = pg_sys::clause_selectivity(
                    (*req).root,
                    clause,
                    (*req).varRelid,
                    (*req).jointype,
                    (*req).sjinfo,
                );
                Internal::from(Some(pg_sys::Datum::from(req)))
            }
            _ => declined(),
        }
    }
}
