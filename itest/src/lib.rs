//! Helpers for the integration tests: connections to the throwaway cluster
//! that `scripts/test.sh` starts (PG_SHARING_TEST_HOST / _PORT), a fresh
//! database per test, and login roles created and dropped around it.

use postgres::{Client, GenericClient, NoTls};

pub mod scenario;
use std::sync::atomic::{AtomicUsize, Ordering};

fn endpoint() -> (String, String) {
    let host = std::env::var("PG_SHARING_TEST_HOST").expect(
        "PG_SHARING_TEST_HOST is not set: run the integration tests through scripts/test.sh",
    );
    let port = std::env::var("PG_SHARING_TEST_PORT").expect("PG_SHARING_TEST_PORT is not set");
    (host, port)
}

/// Connects to `db` as `role` (trust authentication on loopback).
pub fn connect(db: &str, role: &str) -> Client {
    let (host, port) = endpoint();
    Client::connect(
        &format!(
            "host={host} port={port} user={role} dbname={db} application_name=pg_sharing_itest"
        ),
        NoTls,
    )
    .unwrap_or_else(|e| panic!("connecting to {db} as {role}: {e}"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh database with pg_sharing installed, and a prefix for the
/// cluster-wide login roles a test creates; both are dropped on drop.
pub struct TestDb {
    pub name: String,
    pub prefix: String,
    roles: Vec<String>,
}

impl TestDb {
    pub fn new(test: &str) -> TestDb {
        let db = TestDb::empty(test);
        db.admin()
            .batch_execute("CREATE EXTENSION pg_sharing")
            .expect("create extension");
        db
    }

    /// A fresh database without the extension (e.g. to restore a dump into).
    pub fn empty(test: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("it_{}_{}_{n}", test, std::process::id());
        let name = format!("{prefix}_db");
        let mut admin = connect("postgres", "postgres");
        // Concurrent CREATE DATABASE can briefly find template1 in use.
        let mut attempt = 0;
        while let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
            attempt += 1;
            assert!(
                attempt < 20,
                "create test database {name}: {}",
                describe(&e)
            );
            std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
        }
        TestDb {
            name,
            prefix,
            roles: Vec::new(),
        }
    }

    /// A superuser connection to the test database.
    pub fn admin(&self) -> Client {
        connect(&self.name, "postgres")
    }

    /// Creates a login role named `<prefix>_<name>` with extra options
    /// (e.g. "IN ROLE sharing_app") and returns its name.
    pub fn login_role(&mut self, name: &str, options: &str) -> String {
        let role = format!("{}_{name}", self.prefix);
        connect(&self.name, "postgres")
            .batch_execute(&format!("CREATE ROLE {role} LOGIN {options}"))
            .expect("create login role");
        self.roles.push(role.clone());
        role
    }

    pub fn connect_as(&self, role: &str) -> Client {
        connect(&self.name, role)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = std::panic::catch_unwind(|| connect("postgres", "postgres")) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
            for role in &self.roles {
                let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
            }
        }
    }
}

/// A test's setting from the environment (e.g. PG_SHARING_DIFF_CASES), or
/// `default` when it is unset or not a number.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The ids a query returns, as a sorted comma-separated string.
pub fn ids(client: &mut impl GenericClient, sql: &str) -> String {
    let mut ids: Vec<i64> = client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .collect();
    ids.sort_unstable();
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(result: Result<impl Sized, postgres::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| format!("no sqlstate: {e}")),
    }
}

/// A client error as a person reads it: SQLSTATE and message.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// For each user (acting as them through `reader`, a sharing_app member)
/// and each of the scenario tables, the ids they can SELECT; `[-1]` for a
/// user who cannot be acted as (inactive). Runs in savepoints of `tx`.
pub fn visible_rows(
    tx: &mut postgres::Transaction<'_>,
    reader: &str,
    users: &[i64],
) -> std::collections::BTreeMap<(i64, &'static str), Vec<i64>> {
    let mut out = std::collections::BTreeMap::new();
    for &u in users {
        for table in ["accounts", "notes"] {
            tx.batch_execute(&format!("SAVEPOINT v; SET LOCAL ROLE {reader};"))
                .unwrap();
            let ids = if tx.execute("SELECT sharing.act_as($1)", &[&u]).is_ok() {
                let mut ids: Vec<i64> = tx
                    .query(&format!("SELECT id FROM {table}"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                ids.sort_unstable();
                ids
            } else {
                vec![-1]
            };
            tx.batch_execute("ROLLBACK TO SAVEPOINT v; RELEASE SAVEPOINT v;")
                .unwrap();
            out.insert((u, table), ids);
        }
    }
    out
}

/// The errors `sharing.check()` reports, as "object: message".
pub fn check_errors(client: &mut impl GenericClient) -> Vec<String> {
    client
        .query(
            "SELECT object || ': ' || message FROM sharing.check() WHERE severity = 'error'",
            &[],
        )
        .expect("sharing.check()")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
