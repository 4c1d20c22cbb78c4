//! pg_sharing: CRM-style record sharing enforced by row-level security.
//!
//! The pure logic (criteria, patterns, policy text, the reference
//! evaluator) lives in the `pg_sharing_core` crate; this crate is the thin
//! layer that reads the catalog, runs SQL and exposes functions.
//!
//! SQL that is better written as SQL lives in `sql/`:
//! - `catalog.sql`: tables of the model, derived sets, audit log;
//! - `organisation.sql`: admin gate, audit, derived-set upkeep, org functions;
//! - `engine.sql`: the per-user sets the policies read, the model
//!   generation, owner rules, shares;
//! - `api.sql`: public wrappers over the Rust internals, explanations, grants;
//! - `admin.sql`: rule lifecycle, the rule list, the doctor;
//! - `config.sql`: export_config / apply_config (config as code);
//! - `diff.sql`: the access diff's inputs and driver, its steps in
//!   `diff.rs` (what a configuration would change in who sees what);
//! - `citus.sql`: the model on every node of a Citus cluster;
//! - who the user is, carried to every backend by a guarded setting:
//!   `identity.rs`;
//! - the current user's sets, remembered per model generation: `context.rs`;
//! - the per-row functions the policies call, with their planner support:
//!   `member.rs`;
//! - `privileges.sql`: what PUBLIC and sharing_admin may use (runs last).
#![forbid(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

mod admin;
mod catalog;
mod context;
mod diff;
mod error;
mod identity;
mod member;
mod protect;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/catalog.sql", name = "catalog", bootstrap);
extension_sql_file!(
    "../sql/organisation.sql",
    name = "organisation",
    requires = [identity::current_user_id, identity::_outer_role_oid]
);
extension_sql_file!(
    "../sql/engine.sql",
    name = "engine",
    requires = ["organisation"]
);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = [
        "engine",
        protect::_protect_table,
        protect::_protect_child_table,
        protect::_unprotect_table,
        protect::_apply_policies,
        protect::_policy_sql,
        protect::_compile_criteria,
        protect::_record_exists,
        protect::_access_rank,
        protect::_criteria_rules_matching
    ]
);
extension_sql_file!(
    "../sql/admin.sql",
    name = "admin",
    requires = ["api", admin::_describe_criteria, admin::_policy_drift]
);
extension_sql_file!(
    "../sql/config.sql",
    name = "config",
    requires = ["admin", admin::_validate_config]
);
extension_sql_file!("../sql/citus.sql", name = "citus", requires = ["config"]);
extension_sql_file!(
    "../sql/diff.sql",
    name = "diff",
    requires = [
        "citus",
        diff::_diff_before_inputs,
        diff::_diff_after_inputs,
        diff::_diff_compare,
        diff::_diff_report
    ]
);
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    identity::init();
    context::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
