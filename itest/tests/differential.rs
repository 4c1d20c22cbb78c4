//! The differential test: random organisations, tables, rules and shares
//! are built both in PostgreSQL (through the public API) and in the
//! reference evaluator (core/src/reference.rs, written from the spec); for
//! every user and record, the rows the policies let SELECT / UPDATE / DELETE
//! reach, and access_level / can_* / explain_access, must agree with it.
//!
//! PG_SHARING_DIFF_CASES sets the number of cases (default 200),
//! PG_SHARING_DIFF_SEED the first seed; a failure names the seed that
//! reproduces it.

use pg_sharing_core::access::Level;
use pg_sharing_itest::scenario::{generate, TABLES};
use pg_sharing_itest::{describe, TestDb};
use postgres::Transaction;
use std::collections::BTreeSet;

type Seen = BTreeSet<String>;

fn collect(tx: &mut Transaction<'_>, sql: &str) -> Seen {
    tx.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
        .iter()
        .map(|r| r.get::<_, i64>(0).to_string())
        .collect()
}

fn check_case(db: &TestDb, reader: &str, seed: u64) -> Result<(), String> {
    let case = generate(seed);
    let mut client = db.admin();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(TABLES).unwrap();
    tx.batch_execute(&case.setup)
        .map_err(|e| format!("setup failed: {}\n{}", describe(&e), case.setup))?;
    tx.batch_execute(&case.after).map_err(|e| format!("{e}"))?;
    let m = &case.model;
    let mut failures = Vec::new();
    for (&uid, user) in &m.users {
        for table in ["accounts", "notes"] {
            let records: Vec<String> = m.tables[table]
                .records
                .iter()
                .map(|r| r.id.clone())
                .collect();
            let expect = |f: &dyn Fn(&str) -> bool| -> Seen {
                records.iter().filter(|r| f(r)).cloned().collect()
            };
            let want_read = expect(&|r| m.can_read(uid, table, r));
            let want_edit = expect(&|r| m.can_edit(uid, table, r));
            let want_delete = expect(&|r| m.can_delete(uid, table, r));

            // What the policies let this user reach, as a plain role acting as them.
            tx.batch_execute(&format!("SAVEPOINT p; SET LOCAL ROLE {reader};"))
                .unwrap();
            let acted = tx.execute("SELECT sharing.act_as($1)", &[&uid]);
            let (read, edit, delete) = if user.active {
                acted.map_err(|e| format!("act_as({uid}): {}", describe(&e)))?;
                let read = collect(&mut tx, &format!("SELECT id FROM {table}"));
                tx.batch_execute("SAVEPOINT q").unwrap();
                let edit = collect(
                    &mut tx,
                    &format!("UPDATE {table} SET id = id WHERE true RETURNING id"),
                );
                tx.batch_execute("ROLLBACK TO SAVEPOINT q").unwrap();
                let delete = collect(&mut tx, &format!("DELETE FROM {table} RETURNING id"));
                (read, edit, delete)
            } else {
                // An inactive user cannot be acted as, and so reaches nothing.
                if acted.is_ok() {
                    failures.push(format!("act_as({uid}) of an inactive user succeeded"));
                }
                (Seen::new(), Seen::new(), Seen::new())
            };
            tx.batch_execute("ROLLBACK TO SAVEPOINT p; RELEASE SAVEPOINT p;")
                .unwrap();
            for (what, got, want) in [
                ("SELECT", &read, &want_read),
                ("UPDATE", &edit, &want_edit),
                ("DELETE", &delete, &want_delete),
            ] {
                if got != want {
                    failures.push(format!("user {uid} {what} {table}: policies reach {got:?}, reference says {want:?}"));
                }
            }

            // The check functions, asked as superuser.
            let rows = tx
                .query(
                    &format!(
                        "SELECT id::text, sharing.access_level($1, '{table}', id::text), sharing.can_read($1, '{table}', id::text),
                                sharing.can_edit($1, '{table}', id::text), sharing.can_delete($1, '{table}', id::text),
                                EXISTS (SELECT 1 FROM sharing.explain_access($1, '{table}', id::text)),
                                sharing.can_read($1, t)
                           FROM {table} t ORDER BY id"
                    ),
                    &[&uid],
                )
                .map_err(|e| format!("check functions: {}", describe(&e)))?;
            for row in rows {
                let id: String = row.get(0);
                let level = m.level(uid, table, &id);
                let got = (
                    row.get::<_, String>(1),
                    row.get::<_, bool>(2),
                    row.get::<_, bool>(3),
                    row.get::<_, bool>(4),
                    row.get::<_, bool>(5),
                    row.get::<_, bool>(6),
                );
                let want = (
                    level.as_str().to_string(),
                    m.can_read(uid, table, &id),
                    m.can_edit(uid, table, &id),
                    m.can_delete(uid, table, &id),
                    level > Level::None,
                    m.can_read(uid, table, &id),
                );
                if got != want {
                    failures.push(format!(
                        "user {uid} {table} {id}: (access_level, can_read, can_edit, can_delete, explained, can_read(row)) = {got:?}, reference says {want:?}"
                    ));
                }
            }
        }
    }
    tx.rollback().unwrap();
    if failures.is_empty() {
        Ok(())
    } else {
        failures.truncate(12);
        Err(format!(
            "{}\n--- setup ---\n{}{}",
            failures.join("\n"),
            case.setup,
            case.after
        ))
    }
}

/// Runs every `stride`-th seed starting at the `part`-th: the two tests
/// below split the cases between the machine's two cores.
fn run_cases(part: u64, stride: u64) {
    let cases: u64 = pg_sharing_itest::setting("PG_SHARING_DIFF_CASES", 200);
    let first: u64 = pg_sharing_itest::setting("PG_SHARING_DIFF_SEED", 1);
    let mut db = TestDb::new("diff");
    let reader = db.login_role("reader", "IN ROLE sharing_app");
    for seed in (first..first + cases)
        .skip(part as usize)
        .step_by(stride as usize)
    {
        if let Err(e) = check_case(&db, &reader, seed) {
            panic!("differential case failed; reproduce with PG_SHARING_DIFF_SEED={seed} PG_SHARING_DIFF_CASES=1\n{e}");
        }
    }
}

#[test]
fn policies_and_checks_agree_with_the_reference_evaluator_even_seeds() {
    run_cases(0, 2);
}

#[test]
fn policies_and_checks_agree_with_the_reference_evaluator_odd_seeds() {
    run_cases(1, 2);
}
