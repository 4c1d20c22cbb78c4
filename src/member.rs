//! The per-row functions of the generated policies and their planner
//! support.
//!
//! Every policy arm that depends on the user is a plain call of one of
//! these (no sub-select), so any backend evaluating the query answers it:
//!
//! - `sharing._member(owner, target, level)`: the row's owner is one whose
//!   records the current user reaches at `level` in `target`;
//! - `sharing._shared(key, target, level)`: the record is shared with the
//!   current user at `level` or more;
//! - `sharing._is_active()`, `_bypass(level)`, `_rule_reaches_me(rule)`,
//!   `_action_allowed(target, action)`: facts about the current user that
//!   open or close a whole arm.
//!
//! Each call site remembers its answer (or the user's hash set) in its
//! `fn_extra` for as long as the identity, the transaction and the command
//! are the same, so a row costs a comparison of three numbers and a hash
//! lookup; the answers themselves come from src/context.rs.
//!
//! Their planner support gives the planner what the old InitPlans hid:
//! - an index condition `owner = ANY (sharing._visible_owners(target,
//!   level))` (or `key = ANY (sharing._shared_records(…)::keytype[])`),
//!   exact, evaluated once per index scan, so the owner column's and the
//!   key's index answer their arms and a BitmapOr over the arms remains;
//! - a selectivity computed for the user planning the query (the set, or
//!   the fact, folded as PostgreSQL folds any stable call for its
//!   estimates). Estimates only steer the plan: a plan made for one user
//!   and reused for another stays correct.

use crate::context;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal, PgList};
use std::collections::HashSet;
use std::ffi::CStr;
use std::rc::Rc;

extension_sql!(
    r#"
CREATE FUNCTION sharing._member(key bigint, target regclass, level integer) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_member';
COMMENT ON FUNCTION sharing._member(bigint, regclass, integer) IS
    'the owner key is one whose records the current user reaches at level in target (see src/member.rs)';
CREATE FUNCTION sharing._shared(key anyelement, target regclass, level integer) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_shared';
COMMENT ON FUNCTION sharing._shared(anyelement, regclass, integer) IS
    'the record with this key is shared with the current user at level or more (see src/member.rs)';
CREATE FUNCTION sharing._is_active() RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_is_active';
CREATE FUNCTION sharing._bypass(min_level integer) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_bypass';
CREATE FUNCTION sharing._rule_reaches_me(rid bigint) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_rule_reaches_me';
CREATE FUNCTION sharing._action_allowed(target regclass, action text) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE COST 1
SUPPORT sharing._policy_support
AS 'MODULE_PATHNAME', 'sharing_action_allowed';
"#,
    name = "policy_functions",
    requires = [_policy_support]
);

// ------------------------------------------------------- call-site memory

/// When a call site's answer was made: the identity, the transaction and
/// the command. Within one statement none of them moves (a model change
/// is a write, which the next command sees with a new command id).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    identity: u64,
    lxid: u32,
    cid: u32,
}

unsafe extern "C" {
    /// PostgreSQL's `GetCurrentCommandId`, called directly rather than
    /// through pgrx's error boundary (a `sigsetjmp` per call, at every row):
    /// with `used = false` it only reads a backend global and cannot raise.
    #[link_name = "GetCurrentCommandId"]
    fn current_command_id(used: bool) -> u32;
}

impl Stamp {
    fn now() -> Stamp {
        // SAFETY: backend globals; MyProc is set in every backend that runs
        // queries.
        unsafe {
            Stamp {
                identity: crate::identity::epoch(),
                lxid: (*pg_sys::MyProc).lxid,
                cid: current_command_id(false),
            }
        }
    }
}

struct Site<T> {
    stamp: Stamp,
    value: T,
}

/// Frees a call site's memory when its memory context goes.
unsafe extern "C-unwind" fn drop_site<T>(arg: *mut std::ffi::c_void) {
    // SAFETY: `arg` is the Box leaked in `at_site`, dropped exactly once.
    drop(unsafe { Box::from_raw(arg.cast::<Site<T>>()) });
}

/// This call site's value, if it was made with the current stamp. Reads
/// only memory and backend globals: it cannot raise an error, so the fast
/// path of the policy functions calls it without pgrx's error boundary.
///
/// # Safety
/// As for [`at_site`].
unsafe fn fresh<'a, T: 'static>(fcinfo: pg_sys::FunctionCallInfo) -> Option<&'a T> {
    // SAFETY: per the contract.
    unsafe {
        let existing = (*(*fcinfo).flinfo).fn_extra.cast::<Site<T>>();
        (!existing.is_null() && (*existing).stamp == Stamp::now()).then(|| &(*existing).value)
    }
}

/// `use_` of this call site's value, made by `make` unless the site holds
/// one with the current stamp.
///
/// # Safety
/// `fcinfo` is the current call's, and this call site only ever stores a
/// `Site<T>` of this `T` (one function, one `T`).
unsafe fn at_site<T: 'static, R>(
    fcinfo: pg_sys::FunctionCallInfo,
    make: impl FnOnce(&mut pg_sys::FmgrInfo) -> T,
    use_: impl FnOnce(&T) -> R,
) -> R {
    let stamp = Stamp::now();
    // SAFETY: per the contract; fn_extra is NULL or our Site<T>, living
    // until fn_mcxt is reset or deleted.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let existing = (*flinfo).fn_extra.cast::<Site<T>>();
        if !existing.is_null() && (*existing).stamp == stamp {
            return use_(&(*existing).value);
        }
        let value = make(&mut *flinfo);
        if existing.is_null() {
            let site = Box::into_raw(Box::new(Site { stamp, value }));
            let cb = pg_sys::MemoryContextAlloc(
                (*flinfo).fn_mcxt,
                std::mem::size_of::<pg_sys::MemoryContextCallback>(),
            )
            .cast::<pg_sys::MemoryContextCallback>();
            cb.write(pg_sys::MemoryContextCallback {
                func: Some(drop_site::<T>),
                arg: site.cast(),
                next: std::ptr::null_mut(),
            });
            pg_sys::MemoryContextRegisterResetCallback((*flinfo).fn_mcxt, cb);
            (*flinfo).fn_extra = site.cast();
        } else {
            (*existing).stamp = stamp;
            (*existing).value = value;
        }
        use_(&(*(*flinfo).fn_extra.cast::<Site<T>>()).value)
    }
}

/// Declares the raw V1 C function `$sym` (for the SQL above). `$fast`
/// (an `unsafe fn(FunctionCallInfo) -> Option<bool>` that must not raise
/// or panic) answers from the call site's remembered value when it can,
/// at every row, without pgrx's error boundary; otherwise `$body` (an
/// `unsafe fn(FunctionCallInfo) -> bool`) runs inside it.
macro_rules! v1_function {
    ($finfo:ident, $sym:ident, $fast:ident, $body:ident) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $sym(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
            // SAFETY: called by fmgr with the arguments the SQL declares;
            // STRICT functions' arguments are non-NULL. `$fast` neither
            // raises nor panics.
            if let Some(answer) = unsafe { $fast(fcinfo) } {
                return pg_sys::Datum::from(answer);
            }
            #[pg_guard]
            unsafe extern "C-unwind" fn guarded(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
                // SAFETY: as above.
                unsafe { pg_sys::Datum::from($body(fcinfo)) }
            }
            // SAFETY: as above.
            unsafe { guarded(fcinfo) }
        }
    };
}

/// The fast path of a policy function whose remembered value is a `bool`.
///
/// # Safety
/// As for [`fresh`].
unsafe fn fresh_bool(fcinfo: pg_sys::FunctionCallInfo) -> Option<bool> {
    // SAFETY: per the contract.
    unsafe { fresh::<bool>(fcinfo).copied() }
}

/// Argument `i` of the current call.
///
/// # Safety
/// The call has at least `i + 1` arguments.
unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, i: usize) -> pg_sys::Datum {
    // SAFETY: per the contract.
    unsafe { (*fcinfo).args.as_slice(i + 1)[i].value }
}

unsafe fn arg_i32(fcinfo: pg_sys::FunctionCallInfo, i: usize) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { arg(fcinfo, i).value() as i32 }
}

unsafe fn arg_oid(fcinfo: pg_sys::FunctionCallInfo, i: usize) -> pg_sys::Oid {
    // SAFETY: the caller's contract.
    unsafe { pg_sys::Oid::from(arg(fcinfo, i).value() as u32) }
}

/// # Safety
/// Called by fmgr, through `sharing_member`.
unsafe fn sharing_member_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe {
        let key = arg(fcinfo, 0).value() as i64;
        at_site(
            fcinfo,
            |_| context::owners(arg_oid(fcinfo, 1), arg_i32(fcinfo, 2)),
            |owners: &Rc<HashSet<i64>>| owners.contains(&key),
        )
    }
}
/// # Safety
/// As for [`fresh`].
unsafe fn sharing_member_fast(fcinfo: pg_sys::FunctionCallInfo) -> Option<bool> {
    // SAFETY: per the contract; the first argument is a bigint.
    unsafe {
        let key = arg(fcinfo, 0).value() as i64;
        fresh::<Rc<HashSet<i64>>>(fcinfo).map(|owners| owners.contains(&key))
    }
}
v1_function!(
    pg_finfo_sharing_member,
    sharing_member,
    sharing_member_fast,
    sharing_member_body
);

/// The shared keys of a call site, in the form its key type compares in.
enum SharedKeys {
    /// bigint / integer / smallint keys, and which of them.
    Integers(HashSet<i64>, pg_sys::Oid),
    /// Other keys, by their output text, with the type's output function.
    Texts(HashSet<String>, pg_sys::Oid),
}

/// # Safety
/// Called by fmgr, through `sharing_shared`.
unsafe fn sharing_shared_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe {
        let key = arg(fcinfo, 0);
        at_site(
            fcinfo,
            |flinfo| {
                let keys = context::shared(arg_oid(fcinfo, 1), arg_i32(fcinfo, 2));
                let key_type = pg_sys::get_fn_expr_argtype(flinfo, 0);
                if [pg_sys::INT8OID, pg_sys::INT4OID, pg_sys::INT2OID].contains(&key_type) {
                    SharedKeys::Integers(
                        keys.iter().filter_map(|k| k.parse().ok()).collect(),
                        key_type,
                    )
                } else {
                    let (mut output, mut varlena) = (pg_sys::InvalidOid, false);
                    pg_sys::getTypeOutputInfo(key_type, &mut output, &mut varlena);
                    SharedKeys::Texts(keys.iter().cloned().collect(), output)
                }
            },
            |keys: &SharedKeys| match keys {
                SharedKeys::Integers(set, key_type) => set.contains(&integer_key(key, *key_type)),
                SharedKeys::Texts(set, output) => {
                    if set.is_empty() {
                        return false;
                    }
                    let text = pg_sys::OidOutputFunctionCall(*output, key);
                    let found = CStr::from_ptr(text).to_str().is_ok_and(|t| set.contains(t));
                    pg_sys::pfree(text.cast());
                    found
                }
            },
        )
    }
}
/// The fast path of `_shared` for integer keys (a text key's output
/// function may raise: it goes the guarded way).
///
/// # Safety
/// As for [`fresh`].
unsafe fn sharing_shared_fast(fcinfo: pg_sys::FunctionCallInfo) -> Option<bool> {
    // SAFETY: per the contract.
    unsafe {
        match fresh::<SharedKeys>(fcinfo)? {
            SharedKeys::Integers(set, key_type) => {
                Some(set.contains(&integer_key(arg(fcinfo, 0), *key_type)))
            }
            SharedKeys::Texts(..) => None,
        }
    }
}

/// An integer key's value, by its type.
fn integer_key(key: pg_sys::Datum, key_type: pg_sys::Oid) -> i64 {
    match key_type {
        pg_sys::INT4OID => key.value() as i32 as i64,
        pg_sys::INT2OID => key.value() as i16 as i64,
        _ => key.value() as i64,
    }
}
v1_function!(
    pg_finfo_sharing_shared,
    sharing_shared,
    sharing_shared_fast,
    sharing_shared_body
);

/// # Safety
/// Called by fmgr, through `sharing_is_active`.
unsafe fn sharing_is_active_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe { at_site(fcinfo, |_| context::active(), |b: &bool| *b) }
}
v1_function!(
    pg_finfo_sharing_is_active,
    sharing_is_active,
    fresh_bool,
    sharing_is_active_body
);

/// # Safety
/// Called by fmgr, through `sharing_bypass`.
unsafe fn sharing_bypass_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe {
        at_site(
            fcinfo,
            |_| context::bypass(arg_i32(fcinfo, 0)),
            |b: &bool| *b,
        )
    }
}
v1_function!(
    pg_finfo_sharing_bypass,
    sharing_bypass,
    fresh_bool,
    sharing_bypass_body
);

/// # Safety
/// Called by fmgr, through `sharing_rule_reaches_me`.
unsafe fn sharing_rule_reaches_me_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe {
        at_site(
            fcinfo,
            |_| context::rule_reaches(arg(fcinfo, 0).value() as i64),
            |b: &bool| *b,
        )
    }
}
v1_function!(
    pg_finfo_sharing_rule_reaches_me,
    sharing_rule_reaches_me,
    fresh_bool,
    sharing_rule_reaches_me_body
);

/// # Safety
/// Called by fmgr, through `sharing_action_allowed`.
unsafe fn sharing_action_allowed_body(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the arguments the SQL declares.
    unsafe {
        at_site(
            fcinfo,
            |_| {
                let action =
                    pgrx::text_to_rust_str(arg(fcinfo, 1).cast_mut_ptr()).unwrap_or_default();
                context::action_allowed(arg_oid(fcinfo, 0), action)
            },
            |b: &bool| *b,
        )
    }
}
v1_function!(
    pg_finfo_sharing_action_allowed,
    sharing_action_allowed,
    fresh_bool,
    sharing_action_allowed_body
);

// ------------------------------------------------------------ the planner

/// "Cannot help with this request": a NULL pointer, which is not SQL NULL
/// (PostgreSQL refuses a support function that returns SQL NULL).
fn declined() -> Internal {
    Internal::from(Some(pg_sys::Datum::from(std::ptr::null_mut::<
        std::ffi::c_void,
    >())))
}

/// `sharing.<name>(target regclass, level integer)`, the set function of a
/// set arm, called with `target` and `level`.
///
/// # Safety
/// `target` and `level` are valid expression nodes.
unsafe fn set_call(
    name: &CStr,
    rettype: pg_sys::Oid,
    target: *mut pg_sys::Node,
    level: *mut pg_sys::Node,
) -> Option<*mut pg_sys::Node> {
    // SAFETY: catalog lookup and node construction in the current context.
    unsafe {
        let mut names = PgList::<pg_sys::Node>::new();
        names.push(pg_sys::makeString(pg_sys::pstrdup(c"sharing".as_ptr())).cast());
        names.push(pg_sys::makeString(pg_sys::pstrdup(name.as_ptr())).cast());
        let mut argtypes = [pg_sys::REGCLASSOID, pg_sys::INT4OID];
        let funcid = pg_sys::LookupFuncName(names.into_pg(), 2, argtypes.as_mut_ptr(), true);
        if funcid == pg_sys::InvalidOid {
            return None;
        }
        let mut args = PgList::<pg_sys::Node>::new();
        args.push(pg_sys::copyObjectImpl(target.cast()).cast());
        args.push(pg_sys::copyObjectImpl(level.cast()).cast());
        Some(
            pg_sys::makeFuncExpr(
                funcid,
                rettype,
                args.into_pg(),
                pg_sys::InvalidOid,
                pg_sys::InvalidOid,
                pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
            )
            .cast(),
        )
    }
}

/// `key = ANY (set)` with the btree equality of `opfamily` for the key's
/// type (None if the family has none).
///
/// # Safety
/// `key` and `set` are valid expression nodes.
unsafe fn equals_any(
    opfamily: pg_sys::Oid,
    key: *mut pg_sys::Node,
    set: *mut pg_sys::Node,
) -> Option<*mut pg_sys::Node> {
    // SAFETY: catalog lookups and node construction in the current context.
    unsafe {
        let key_type = pg_sys::exprType(key);
        let opno = pg_sys::get_opfamily_member(
            opfamily,
            key_type,
            key_type,
            pg_sys::BTEqualStrategyNumber as i16,
        );
        if opno == pg_sys::InvalidOid {
            return None;
        }
        let mut saop =
            PgBox::<pg_sys::ScalarArrayOpExpr>::alloc_node(pg_sys::NodeTag::T_ScalarArrayOpExpr);
        saop.opno = opno;
        saop.opfuncid = pg_sys::get_opcode(opno);
        saop.useOr = true;
        saop.inputcollid = pg_sys::exprCollation(key);
        let mut args = PgList::<pg_sys::Node>::new();
        args.push(pg_sys::copyObjectImpl(key.cast()).cast());
        args.push(set);
        saop.args = args.into_pg();
        saop.location = -1;
        Some(saop.into_pg().cast())
    }
}

/// The arm of a set function (`_member` or `_shared`) as `key = ANY (set)`
/// whose set is evaluated at execution, for the opfamily's equality.
///
/// # Safety
/// `func` is a FuncExpr of `_member` or `_shared`.
unsafe fn set_arm(func: *mut pg_sys::FuncExpr, opfamily: pg_sys::Oid) -> Option<*mut pg_sys::Node> {
    // SAFETY: per the contract.
    unsafe {
        let args = PgList::<pg_sys::Node>::from_pg((*func).args);
        let (key, target, level) = (args.get_ptr(0)?, args.get_ptr(1)?, args.get_ptr(2)?);
        let name = CStr::from_ptr(pg_sys::get_func_name((*func).funcid));
        let set = if name == c"_member" {
            set_call(c"_visible_owners", pg_sys::INT8ARRAYOID, target, level)?
        } else if name == c"_shared" {
            let texts = set_call(c"_shared_records", pg_sys::TEXTARRAYOID, target, level)?;
            let key_type = pg_sys::exprType(key);
            if key_type == pg_sys::TEXTOID {
                texts
            } else {
                let array_type = pg_sys::get_array_type(key_type);
                if array_type == pg_sys::InvalidOid {
                    return None;
                }
                let cast = pg_sys::coerce_to_target_type(
                    std::ptr::null_mut(),
                    texts,
                    pg_sys::TEXTARRAYOID,
                    array_type,
                    -1,
                    pg_sys::CoercionContext::COERCION_EXPLICIT,
                    pg_sys::CoercionForm::COERCE_EXPLICIT_CAST,
                    -1,
                );
                if cast.is_null() {
                    return None;
                }
                cast
            }
        } else {
            return None;
        };
        equals_any(opfamily, key, set)
    }
}

/// Whether the function is a per-row set test (`_member`, `_shared`).
///
/// # Safety
/// `funcid` names a function.
unsafe fn is_set_test(funcid: pg_sys::Oid) -> bool {
    // SAFETY: per the contract.
    unsafe {
        let name = CStr::from_ptr(pg_sys::get_func_name(funcid));
        name == c"_member" || name == c"_shared"
    }
}

/// The planner support of the policy functions: index conditions for the
/// set tests, and selectivities for the planning user.
#[pg_extern(immutable, parallel_safe)]
fn _policy_support(request: Internal) -> Internal {
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
                let func = func.cast::<pg_sys::FuncExpr>();
                if !is_set_test((*func).funcid) {
                    return declined();
                }
                let Some(cond) = set_arm(func, (*req).opfamily) else {
                    return declined();
                };
                (*req).lossy = false;
                let mut out = PgList::<pg_sys::Node>::new();
                out.push(cond);
                Internal::from(Some(pg_sys::Datum::from(out.into_pg())))
            }
            pg_sys::NodeTag::T_SupportRequestSelectivity => {
                let req = node.cast::<pg_sys::SupportRequestSelectivity>();
                let selectivity = if let Some(sel) = owners_selectivity(req) {
                    sel
                } else if is_set_test((*req).funcid) {
                    // The set test as `key = ANY (set)`, the planning user's
                    // set folded in, priced by the key column's statistics.
                    let func = pg_sys::makeFuncExpr(
                        (*req).funcid,
                        pg_sys::BOOLOID,
                        (*req).args,
                        pg_sys::InvalidOid,
                        (*req).inputcollid,
                        pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
                    );
                    let Some(clause) = set_arm(func, key_btree_family(func)) else {
                        return declined();
                    };
                    let folded = pg_sys::estimate_expression_value((*req).root, clause);
                    pg_sys::clause_selectivity(
                        (*req).root,
                        folded,
                        (*req).varRelid,
                        (*req).jointype,
                        (*req).sjinfo,
                    )
                } else {
                    // A fact about the planning user: all rows or none.
                    let call = pg_sys::makeFuncExpr(
                        (*req).funcid,
                        pg_sys::BOOLOID,
                        (*req).args,
                        pg_sys::InvalidOid,
                        (*req).inputcollid,
                        pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
                    );
                    let folded = pg_sys::estimate_expression_value((*req).root, call.cast());
                    if folded.is_null() || (*folded).type_ != pg_sys::NodeTag::T_Const {
                        return declined();
                    }
                    let c = folded.cast::<pg_sys::Const>();
                    if !(*c).constisnull && (*c).constvalue.value() != 0 {
                        1.0
                    } else {
                        0.0
                    }
                };
                (*req).selectivity = selectivity;
                Internal::from(Some(pg_sys::Datum::from(req)))
            }
            _ => declined(),
        }
    }
}

/// The selectivity of `_member(owner, target, level)` for the planning
/// user, from the owner column's statistics: the frequencies of the most
/// common owners in the user's set, and the average frequency of the other
/// owners for the rest of it. Linear in the set and the MCV list, where
/// `owner = ANY ('{…}')` costs the planner a statistics lookup per element
/// (milliseconds for a VP's thousands of owners, at every planning). None
/// when this is not `_member` or there are no statistics.
///
/// # Safety
/// `req` is the planner's request.
unsafe fn owners_selectivity(req: *mut pg_sys::SupportRequestSelectivity) -> Option<f64> {
    // SAFETY: per the contract; the statistics tuple is released below.
    unsafe {
        if CStr::from_ptr(pg_sys::get_func_name((*req).funcid)) != c"_member" {
            return None;
        }
        let args = PgList::<pg_sys::Node>::from_pg((*req).args);
        let (key, target, level) = (args.get_ptr(0)?, args.get_ptr(1)?, args.get_ptr(2)?);
        let folded = |n: *mut pg_sys::Node| -> Option<pg_sys::Datum> {
            let c = pg_sys::estimate_expression_value((*req).root, n);
            (!c.is_null()
                && (*c).type_ == pg_sys::NodeTag::T_Const
                && !(*c.cast::<pg_sys::Const>()).constisnull)
                .then(|| (*c.cast::<pg_sys::Const>()).constvalue)
        };
        let target = pg_sys::Oid::from(folded(target)?.value() as u32);
        let level = folded(level)?.value() as i32;
        let mut vardata = pg_sys::VariableStatData::default();
        pg_sys::examine_variable((*req).root, key, (*req).varRelid, &mut vardata);
        if vardata.statsTuple.is_null() {
            return None;
        }
        let owners = context::owners(target, level);
        let tuple = vardata.statsTuple;
        let stats = (*tuple)
            .t_data
            .cast::<u8>()
            .add((*(*tuple).t_data).t_hoff as usize)
            .cast::<pg_sys::FormData_pg_statistic>();
        let null_frac = f64::from((*stats).stanullfrac);
        let mut is_default = false;
        let distinct = pg_sys::get_variable_numdistinct(&mut vardata, &mut is_default);
        let mut slot = pg_sys::AttStatsSlot::default();
        let (mut mcv_total, mut mcv_mine, mut mcv_count, mut mcv_matched) =
            (0.0, 0.0, 0usize, 0usize);
        if pg_sys::get_attstatsslot(
            &mut slot,
            tuple,
            pg_sys::STATISTIC_KIND_MCV as i32,
            pg_sys::InvalidOid,
            (pg_sys::ATTSTATSSLOT_VALUES | pg_sys::ATTSTATSSLOT_NUMBERS) as i32,
        ) {
            mcv_count = slot.nvalues.max(0) as usize;
            for i in 0..mcv_count.min(slot.nnumbers.max(0) as usize) {
                let freq = f64::from(*slot.numbers.add(i));
                mcv_total += freq;
                if owners.contains(&((*slot.values.add(i)).value() as i64)) {
                    mcv_mine += freq;
                    mcv_matched += 1;
                }
            }
            pg_sys::free_attstatsslot(&mut slot);
        }
        if let Some(free) = vardata.freefunc {
            free(tuple);
        }
        let others = (owners.len() - mcv_matched.min(owners.len())) as f64;
        let each_other =
            ((1.0 - null_frac - mcv_total) / (distinct - mcv_count as f64).max(1.0)).max(0.0);
        Some((mcv_mine + others * each_other).clamp(0.0, 1.0))
    }
}

/// The default btree operator family of a set test's key type.
///
/// # Safety
/// `func` is a FuncExpr with at least one argument.
unsafe fn key_btree_family(func: *mut pg_sys::FuncExpr) -> pg_sys::Oid {
    // SAFETY: per the contract.
    unsafe {
        let args = PgList::<pg_sys::Node>::from_pg((*func).args);
        let key_type = args
            .get_ptr(0)
            .map_or(pg_sys::InvalidOid, |k| pg_sys::exprType(k));
        let opclass = pg_sys::GetDefaultOpClass(key_type, pg_sys::BTREE_AM_OID);
        if opclass == pg_sys::InvalidOid {
            pg_sys::InvalidOid
        } else {
            pg_sys::get_opclass_family(opclass)
        }
    }
}
