//! The policies' per-user context is remembered while the data a statement
//! sees cannot have changed (src/context.rs). These tests change the model
//! between two reads in every way that must be seen — another session's
//! commit, the reader's own write, a rolled-back savepoint, another
//! identity, an expiring share — and assert the second read sees exactly
//! the new rows; and that a REPEATABLE READ transaction keeps its snapshot.

use pg_sharing_itest::{ids, TestDb};
use postgres::{Client, IsolationLevel};

/// Ann (1) and Bob (2), peers in role Rep; Ann owns 1, Bob owns 2 and 3.
fn org(db: &mut TestDb) -> (Client, Client) {
    let app = db.login_role("app", "IN ROLE sharing_app");
    let mut admin = db.admin();
    admin
        .batch_execute(
            "SELECT sharing.create_role('Rep');
             SELECT sharing.create_user('Ann', 'Rep', id => 1);
             SELECT sharing.create_user('Bob', 'Rep', id => 2);
             CREATE TABLE t (id bigint PRIMARY KEY, owner_id bigint NOT NULL, city text);
             GRANT SELECT, INSERT, UPDATE, DELETE ON t TO PUBLIC;
             INSERT INTO t VALUES (1, 1, 'Oslo'), (2, 2, 'Rome'), (3, 2, 'Oslo');
             SELECT sharing.protect('t');",
        )
        .expect("set up the org");
    let reader = db.connect_as(&app);
    (admin, reader)
}

fn seen(c: &mut impl postgres::GenericClient) -> String {
    ids(c, "SELECT id FROM t ORDER BY id")
}

#[test]
fn another_sessions_commit_is_seen_by_the_next_statement() {
    let mut db = TestDb::new("ctx_commit");
    let (mut admin, mut reader) = org(&mut db);
    // Owner rules and shares only write catalog rows (criteria rules
    // regenerate the policies, which waits for this open transaction).
    let mut tx = reader.transaction().unwrap();
    tx.execute("SELECT sharing.act_as(1)", &[]).unwrap();
    assert_eq!(seen(&mut tx), "1");
    assert_eq!(
        seen(&mut tx),
        "1",
        "the remembered context answers the same"
    );
    admin.batch_execute("SELECT sharing.create_owner_rule('t', 'Rep to Rep', 'role', 'Rep', 'role', 'Rep', 'read')").unwrap();
    assert_eq!(
        seen(&mut tx),
        "1,2,3",
        "READ COMMITTED: the new rule applies at the next statement"
    );
    admin.batch_execute("SELECT sharing.set_rule_active(id, false) FROM sharing.rules WHERE name = 'Rep to Rep'").unwrap();
    assert_eq!(seen(&mut tx), "1");
    admin
        .batch_execute(
            "BEGIN; SELECT sharing.act_as(2);
             SELECT sharing.share_record('t', '3', 'user', 'Ann', 'read');
             COMMIT",
        )
        .unwrap();
    assert_eq!(seen(&mut tx), "1,3", "a share committed meanwhile");
    admin
        .batch_execute("UPDATE sharing.users SET active = false WHERE id = 1")
        .unwrap();
    assert_eq!(seen(&mut tx), "", "deactivated meanwhile");
    tx.commit().unwrap();
}

#[test]
fn repeatable_read_keeps_its_snapshot() {
    let mut db = TestDb::new("ctx_rr");
    let (mut admin, mut reader) = org(&mut db);
    let mut tx = reader
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    tx.execute("SELECT sharing.act_as(1)", &[]).unwrap();
    assert_eq!(seen(&mut tx), "1");
    admin.batch_execute("SELECT sharing.create_owner_rule('t', 'Rep to Rep', 'role', 'Rep', 'role', 'Rep', 'read')").unwrap();
    assert_eq!(
        seen(&mut tx),
        "1",
        "the transaction's snapshot predates the rule"
    );
    tx.commit().unwrap();
    let mut tx = reader.transaction().unwrap();
    tx.execute("SELECT sharing.act_as(1)", &[]).unwrap();
    assert_eq!(seen(&mut tx), "1,2,3", "a new transaction sees it");
    tx.commit().unwrap();
}

#[test]
fn own_writes_and_rolled_back_savepoints() {
    let mut db = TestDb::new("ctx_own");
    let (mut admin, _reader) = org(&mut db);
    // The superuser session both changes the model and reads as Ann.
    let mut tx = admin.transaction().unwrap();
    tx.batch_execute("SELECT sharing.act_as(1)").unwrap();
    // A superuser bypasses RLS; read through a role that does not (created
    // in this transaction, gone with its rollback).
    tx.batch_execute("CREATE ROLE ctx_own_plain; GRANT SELECT ON t TO ctx_own_plain; GRANT ctx_own_plain TO CURRENT_USER").unwrap();
    tx.batch_execute("SET LOCAL ROLE ctx_own_plain").unwrap();
    assert_eq!(seen(&mut tx), "1");
    tx.batch_execute("RESET ROLE; SAVEPOINT s; SELECT sharing.create_owner_rule('t', 'Rep to Rep', 'role', 'Rep', 'role', 'Rep', 'read'); SET LOCAL ROLE ctx_own_plain").unwrap();
    assert_eq!(
        seen(&mut tx),
        "1,2,3",
        "the transaction's own new rule applies to its next statement"
    );
    tx.batch_execute("RESET ROLE; ROLLBACK TO SAVEPOINT s; SET LOCAL ROLE ctx_own_plain")
        .unwrap();
    assert_eq!(seen(&mut tx), "1", "the rolled-back rule no longer applies");
    tx.batch_execute("RESET ROLE; SELECT sharing.create_owner_rule('t', 'Rep to Rep', 'role', 'Rep', 'role', 'Rep', 'read'); SET LOCAL ROLE ctx_own_plain").unwrap();
    assert_eq!(seen(&mut tx), "1,2,3");
    tx.rollback().unwrap();
}

#[test]
fn each_identity_gets_its_own_answers() {
    let mut db = TestDb::new("ctx_ident");
    let (_admin, mut reader) = org(&mut db);
    // Read-only transactions back to back: nothing commits in between, so
    // the remembered answers stay valid and must still be per user.
    for _ in 0..3 {
        for (uid, expected) in [(1i64, "1"), (2, "2,3"), (1, "1")] {
            let mut tx = reader.transaction().unwrap();
            tx.execute("SELECT sharing.act_as($1)", &[&uid]).unwrap();
            assert_eq!(seen(&mut tx), expected, "user {uid}");
            tx.commit().unwrap();
        }
    }
    // No identity at all: nothing.
    assert_eq!(seen(&mut reader), "");
}

#[test]
fn an_expired_share_stops_at_the_next_statement() {
    let mut db = TestDb::new("ctx_share");
    let (mut admin, mut reader) = org(&mut db);
    // Bob shares record 2 with Ann until a moment that the test then waits
    // for by asking the server (no client-side sleep): the expiry is
    // compared with each statement's start time.
    admin
        .batch_execute(
            "BEGIN; SELECT sharing.act_as(2);
             SELECT sharing.share_record('t', '2', 'user', 'Ann', 'read', clock_timestamp() + interval '300 milliseconds');
             COMMIT",
        )
        .unwrap();
    let mut tx = reader.transaction().unwrap();
    tx.execute("SELECT sharing.act_as(1)", &[]).unwrap();
    assert_eq!(seen(&mut tx), "1,2");
    let expires: std::time::SystemTime = admin
        .query_one("SELECT expires_at FROM sharing.shares", &[])
        .unwrap()
        .get(0);
    // pg_sleep_until is the server's own wait, not a client sleep.
    tx.execute("SELECT pg_sleep_until($1)", &[&expires])
        .unwrap();
    assert_eq!(
        seen(&mut tx),
        "1",
        "the share expired before this statement began"
    );
    tx.commit().unwrap();
}
