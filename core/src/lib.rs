//! Pure logic of pg_sharing, free of any PostgreSQL or pgrx type so that
//! `cargo test -p pg_sharing_core` checks it in milliseconds.
//!
//! - [`access`]: access levels and default-access (OWD) values.
//! - [`config`]: the configuration document (config as code): parsing and
//!   self-consistency, with JSON paths in every error.
//! - [`sql`]: quoting helpers; every piece of generated SQL goes through them.
//! - [`pattern`]: the criteria `pattern` language (`(1 AND 2) OR 3`).
//! - [`criteria`]: criteria documents, validation and compilation to SQL.
//! - [`diff`]: the access diff's regions of change and its counts.
//! - [`key`]: record keys as text, in the form their key type prints.
//! - [`policy`]: the row-level-security predicates and policy statements.
//! - [`reference`]: a reference evaluator of "who may access what", written
//!   from the specification, the oracle of the differential tests.
//! - [`relayed`]: the signed identity a Citus coordinator relays to the
//!   workers.

pub mod access;
pub mod config;
pub mod criteria;
pub mod diff;
pub mod key;
pub mod pattern;
pub mod policy;
pub mod reference;
pub mod relayed;
pub mod sql;
