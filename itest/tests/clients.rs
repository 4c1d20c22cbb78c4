//! Real clients: separate connections as different login roles (psql / BI
//! style, identity from db_role) and as one application login acting for
//! users (sharing_app + act_as), each asserting exactly the rows it sees.

use pg_sharing_itest::{ids, sqlstate, TestDb};
use postgres::Client;

/// CEO > Sales Manager > Sales Rep (Erin, Will); Support under CEO.
/// Accounts: Erin 101,102; Will 201,202; Manager 301; Support 401.
/// Support reads New York accounts (criteria rule); Will shares 201 with Erin.
fn crm(db: &mut TestDb) -> (Vec<String>, String) {
    let people = ["ceo", "manager", "erin", "will", "sue"]
        .iter()
        .map(|p| db.login_role(p, ""))
        .collect::<Vec<_>>();
    let app = db.login_role("app", "IN ROLE sharing_app");
    let mut admin = db.admin();
    admin
        .batch_execute(&format!(
            "SELECT sharing.create_role('CEO');
             SELECT sharing.create_role('Sales Manager', 'CEO');
             SELECT sharing.create_role('Sales Rep', 'Sales Manager');
             SELECT sharing.create_role('Support', 'CEO');
             SELECT sharing.create_user('Carol', 'CEO', db_role => '{0}', id => 1);
             SELECT sharing.create_user('Sam', 'Sales Manager', db_role => '{1}', id => 2);
             SELECT sharing.create_user('Erin', 'Sales Rep', db_role => '{2}', id => 3);
             SELECT sharing.create_user('Will', 'Sales Rep', db_role => '{3}', id => 4);
             SELECT sharing.create_user('Sue', 'Support', db_role => '{4}', id => 5);
             CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, name text, billing_city text);
             GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO PUBLIC;
             INSERT INTO accounts VALUES (101, 3, 'Acme', 'New York'), (102, 3, 'Widgets', 'Boston'),
                 (201, 4, 'West', 'Seattle'), (202, 4, 'Apple Bank', 'New York'),
                 (301, 2, 'Deal', 'Chicago'), (401, 5, 'Support Co', 'Denver');
             SELECT sharing.protect('accounts');
             SELECT sharing.create_criteria_rule('accounts', 'NY to support',
                 '{{\"conditions\": [{{\"column\": \"billing_city\", \"op\": \"=\", \"value\": \"New York\"}}]}}',
                 'role', 'Support', 'read');",
            people[0], people[1], people[2], people[3], people[4]
        ))
        .expect("set up the CRM org");
    let mut will = db.connect_as(&people[3]);
    will.batch_execute("SELECT sharing.share_record('accounts', '201', 'user', 'Erin', 'read')")
        .expect("Will shares 201 with Erin");
    (people, app)
}

const EXPECTED: [(i64, &str); 5] = [
    (1, "101,102,201,202,301,401"),
    (2, "101,102,201,202,301"),
    (3, "101,102,201"),
    (4, "201,202"),
    (5, "101,202,401"),
];

fn act_as_and_list(app: &mut Client, uid: i64) -> String {
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT sharing.act_as($1)", &[&uid]).unwrap();
    let rows = tx.query("SELECT id FROM accounts", &[]).unwrap();
    tx.commit().unwrap();
    let mut v: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    v.sort_unstable();
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn each_login_role_sees_exactly_its_users_rows() {
    let mut db = TestDb::new("login");
    let (people, _) = crm(&mut db);
    for ((uid, expected), role) in EXPECTED.iter().zip(&people) {
        let mut c = db.connect_as(role);
        let me: Option<i64> = c
            .query_one("SELECT sharing.current_user_id()", &[])
            .unwrap()
            .get(0);
        assert_eq!(me, Some(*uid), "{role} maps to user {uid}");
        assert_eq!(
            ids(&mut c, "SELECT id FROM accounts"),
            *expected,
            "rows seen by {role}"
        );
        // Aggregates (BI style) see the same rows.
        let n: i64 = c
            .query_one("SELECT count(*) FROM accounts", &[])
            .unwrap()
            .get(0);
        assert_eq!(n as usize, expected.split(',').count());
    }
}

#[test]
fn application_acting_for_each_user_sees_exactly_their_rows() {
    let mut db = TestDb::new("app");
    let (_, app_role) = crm(&mut db);
    let mut app = db.connect_as(&app_role);
    for (uid, expected) in EXPECTED {
        assert_eq!(
            act_as_and_list(&mut app, uid),
            expected,
            "rows for user {uid}"
        );
    }
    // Interleaved in reverse: nothing sticks from the previous request.
    for (uid, expected) in EXPECTED.iter().rev() {
        assert_eq!(act_as_and_list(&mut app, *uid), *expected);
    }
}

#[test]
fn identity_does_not_outlive_the_transaction() {
    let mut db = TestDb::new("leak");
    let (_, app_role) = crm(&mut db);
    let mut app = db.connect_as(&app_role);

    // commit
    act_as_and_list(&mut app, 1);
    assert_eq!(ids(&mut app, "SELECT id FROM accounts"), "");
    // rollback
    app.batch_execute("BEGIN; SELECT sharing.act_as(1); ROLLBACK;")
        .unwrap();
    assert_eq!(ids(&mut app, "SELECT id FROM accounts"), "");
    // error
    let err = app.batch_execute("BEGIN; SELECT sharing.act_as(1); SELECT 1/0;");
    assert_eq!(sqlstate(err), "22012");
    app.batch_execute("ROLLBACK").unwrap();
    assert_eq!(ids(&mut app, "SELECT id FROM accounts"), "");
    // autocommit statement
    app.batch_execute("SELECT sharing.act_as(1)").unwrap();
    assert_eq!(ids(&mut app, "SELECT id FROM accounts"), "");
    // a rolled-back savepoint undoes act_as; a released one keeps it
    let mut tx = app.transaction().unwrap();
    tx.batch_execute(
        "SELECT sharing.act_as(4); SAVEPOINT s; SELECT sharing.act_as(1); ROLLBACK TO SAVEPOINT s;",
    )
    .unwrap();
    assert_eq!(ids(&mut tx, "SELECT id FROM accounts"), "201,202");
    tx.batch_execute("SAVEPOINT t; SELECT sharing.act_as(3); RELEASE SAVEPOINT t;")
        .unwrap();
    assert_eq!(ids(&mut tx, "SELECT id FROM accounts"), "101,102,201");
    tx.rollback().unwrap();
    assert_eq!(ids(&mut app, "SELECT id FROM accounts"), "");
}

#[test]
fn settings_a_client_can_set_do_not_change_identity() {
    let mut db = TestDb::new("spoof");
    let (people, _) = crm(&mut db);
    let mut erin = db.connect_as(&people[2]);
    erin.batch_execute(
        "SET sharing.user_id = '1'; SET application_name = 'Carol'; \
         SELECT set_config('sharing.current_user_id', '1', false);",
    )
    .unwrap();
    assert_eq!(ids(&mut erin, "SELECT id FROM accounts"), "101,102,201");
    // act_as is for sharing_app members only.
    assert_eq!(
        sqlstate(erin.execute("SELECT sharing.act_as(1)", &[])),
        "42501"
    );
}

#[test]
fn prepared_statements_follow_the_identity_at_execution() {
    let mut db = TestDb::new("prepared");
    let (_, app_role) = crm(&mut db);
    let mut app = db.connect_as(&app_role);
    let stmt = app.prepare("SELECT id FROM accounts ORDER BY id").unwrap();
    // Execute often enough that PostgreSQL switches to a generic cached plan.
    for round in 0..3 {
        for (uid, expected) in EXPECTED {
            let mut tx = app.transaction().unwrap();
            tx.execute("SELECT sharing.act_as($1)", &[&uid]).unwrap();
            let got: Vec<String> = tx
                .query(&stmt, &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i64>(0).to_string())
                .collect();
            tx.commit().unwrap();
            assert_eq!(got.join(","), expected, "round {round}, user {uid}");
        }
    }
}

#[test]
fn writes_go_through_the_same_rules() {
    let mut db = TestDb::new("writes");
    let (people, _) = crm(&mut db);
    let mut erin = db.connect_as(&people[2]);
    // Erin can update her own account, not Will's shared (read-only) one,
    // and cannot see, so cannot touch, the manager's.
    assert_eq!(
        erin.execute("UPDATE accounts SET name = name || '!' WHERE id = 101", &[])
            .unwrap(),
        1
    );
    assert_eq!(
        erin.execute("UPDATE accounts SET name = name || '!' WHERE id = 201", &[])
            .unwrap(),
        0
    );
    assert_eq!(
        erin.execute("DELETE FROM accounts WHERE id = 301", &[])
            .unwrap(),
        0
    );
    // She may create her own records, not records owned by her peer.
    assert_eq!(
        erin.execute("INSERT INTO accounts VALUES (103, 3, 'New', 'Austin')", &[])
            .unwrap(),
        1
    );
    assert_eq!(
        sqlstate(erin.execute(
            "INSERT INTO accounts VALUES (203, 4, 'Sneaky', 'Austin')",
            &[]
        )),
        "42501"
    );
    // Her manager deletes one of her records.
    let mut sam = db.connect_as(&people[1]);
    assert_eq!(
        sam.execute("DELETE FROM accounts WHERE id = 103", &[])
            .unwrap(),
        1
    );
    let mut admin = db.admin();
    let n: i64 = admin
        .query_one("SELECT count(*) FROM accounts WHERE id = 103", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
