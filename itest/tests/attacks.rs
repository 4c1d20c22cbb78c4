//! The attacks of the security suite that need real separate connections:
//! SET ROLE and SET SESSION AUTHORIZATION over a real (non-superuser)
//! login, settings passed at connection start or stored on the role,
//! act_as across COMMIT AND CHAIN, a procedure's COMMIT and a multi-statement
//! simple query, prepared statements over the wire, COPY through the client,
//! notices of a leaky function as the client receives them, and what a
//! session keeps after its transaction (held cursors, temporary tables) —
//! pinned, as PostgreSQL's behaviour. The SQL-level attacks are in
//! tests/pg_regress/sql/50_attack_identity.sql … 53_cannot_hide.sql.

use pg_sharing_itest::{ids, sqlstate, TestDb};
use postgres::{Client, NoTls};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// Connects to the test database as `role` with extra connection settings:
/// `options` (e.g. "-c sharing.user_id=1") and a sink for the notices the
/// server sends.
fn connect_with(
    db: &TestDb,
    role: &str,
    options: &str,
    notices: Option<Arc<Mutex<Vec<String>>>>,
) -> Client {
    let host = std::env::var("PG_SHARING_TEST_HOST").expect("PG_SHARING_TEST_HOST");
    let port: u16 = std::env::var("PG_SHARING_TEST_PORT")
        .expect("PG_SHARING_TEST_PORT")
        .parse()
        .expect("a port number");
    let mut config = postgres::Config::new();
    config
        .host(&host)
        .port(port)
        .user(role)
        .dbname(&db.name)
        .application_name("pg_sharing_itest_attacks");
    if !options.is_empty() {
        config.options(options);
    }
    if let Some(sink) = notices {
        config.notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()));
    }
    config
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("connecting as {role}: {e}"))
}

fn one_id(client: &mut impl postgres::GenericClient, sql: &str) -> Option<i64> {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Head (Hal, 1) > Team (Ann 2, Ben 3); Out (Eve 4). Accounts: Ann 10, 11;
/// Ben 20; Eve 40; Hal 50. Returns the login roles [ann, ben, eve] and the
/// application login (sharing_app).
fn org(db: &mut TestDb) -> (Vec<String>, String) {
    let people: Vec<String> = ["ann", "ben", "eve"]
        .iter()
        .map(|p| db.login_role(p, ""))
        .collect();
    let app = db.login_role("app", "IN ROLE sharing_app");
    db.admin()
        .batch_execute(&format!(
            "SELECT sharing.create_role('Head');
             SELECT sharing.create_role('Team', 'Head');
             SELECT sharing.create_role('Out');
             SELECT sharing.create_user('Hal', 'Head', id => 1);
             SELECT sharing.create_user('Ann', 'Team', db_role => '{0}', id => 2);
             SELECT sharing.create_user('Ben', 'Team', db_role => '{1}', id => 3);
             SELECT sharing.create_user('Eve', 'Out', db_role => '{2}', id => 4);
             CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, note text);
             CREATE INDEX ON accounts (owner_id);
             GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO PUBLIC;
             INSERT INTO accounts VALUES (10, 2, 'ann'), (11, 2, 'ann'), (20, 3, 'ben'),
                                         (40, 4, 'eve'), (50, 1, 'hal');
             SELECT sharing.protect('accounts');",
            people[0], people[1], people[2]
        ))
        .expect("set up the organisation");
    (people, app)
}

#[test]
fn set_role_and_session_authorization_need_membership() {
    let mut db = TestDb::new("atk_setrole");
    let (people, _) = org(&mut db);
    let (ann, eve) = (&people[0], &people[2]);
    let mut c = db.connect_as(eve);
    // Not a member of Ann's role: every way of becoming her is 42501.
    assert_eq!(
        sqlstate(c.batch_execute(&format!("SET ROLE {ann}"))),
        "42501"
    );
    assert_eq!(
        sqlstate(c.batch_execute(&format!("SELECT set_config('role', '{ann}', false)"))),
        "42501"
    );
    assert_eq!(
        sqlstate(c.batch_execute(&format!("SET SESSION AUTHORIZATION {ann}"))),
        "42501"
    );
    // A function that would SET role on its way in is refused when created.
    assert_eq!(
        sqlstate(c.batch_execute(&format!(
            "CREATE FUNCTION pg_temp.as_ann() RETURNS bigint LANGUAGE sql SET role = '{ann}' \
             AS 'SELECT sharing.current_user_id()'"
        ))),
        "42501"
    );
    assert_eq!(one_id(&mut c, "SELECT sharing.current_user_id()"), Some(4));
    assert_eq!(ids(&mut c, "SELECT id FROM accounts"), "40");

    // Granted Ann's role, she may SET ROLE to it and then is Ann, with
    // Ann's rows; RESET ROLE makes her Eve again.
    db.admin()
        .batch_execute(&format!("GRANT {ann} TO {eve}"))
        .unwrap();
    // Inheriting the role is not being Ann.
    assert_eq!(one_id(&mut c, "SELECT sharing.current_user_id()"), Some(4));
    c.batch_execute(&format!("SET ROLE {ann}")).unwrap();
    assert_eq!(one_id(&mut c, "SELECT sharing.current_user_id()"), Some(2));
    assert_eq!(ids(&mut c, "SELECT id FROM accounts"), "10,11");
    c.batch_execute("RESET ROLE").unwrap();
    assert_eq!(ids(&mut c, "SELECT id FROM accounts"), "40");
    db.admin()
        .batch_execute(&format!("REVOKE {ann} FROM {eve}"))
        .unwrap();
}

#[test]
fn settings_at_connection_start_or_on_the_role_are_ignored() {
    let mut db = TestDb::new("atk_options");
    let (people, app) = org(&mut db);
    let eve = &people[2];
    let spoof = "-c sharing.user_id=1 -c sharing.current_user_id=1 -c pg_sharing.user_id=1 \
                 -c pg_sharing.act_as=1";
    let mut c = connect_with(&db, eve, spoof, None);
    assert_eq!(
        c.query_one("SELECT current_setting('sharing.user_id')", &[])
            .unwrap()
            .get::<_, String>(0),
        "1",
        "the setting is there"
    );
    assert_eq!(one_id(&mut c, "SELECT sharing.current_user_id()"), Some(4));
    assert_eq!(ids(&mut c, "SELECT id FROM accounts"), "40");
    // The application login is nobody, whatever its settings say.
    let mut a = connect_with(&db, &app, spoof, None);
    assert_eq!(one_id(&mut a, "SELECT sharing.current_user_id()"), None);
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    // A role may not store such settings on itself (42501); stored by a
    // superuser they change nothing either.
    assert_eq!(
        sqlstate(c.batch_execute(&format!("ALTER ROLE {eve} SET sharing.user_id = '1'"))),
        "42501"
    );
    db.admin()
        .batch_execute(&format!(
            "ALTER ROLE {eve} SET sharing.user_id = '1'; ALTER ROLE {eve} SET pg_sharing.user_id = '1'"
        ))
        .unwrap();
    let mut c2 = db.connect_as(eve);
    assert_eq!(one_id(&mut c2, "SELECT sharing.current_user_id()"), Some(4));
    assert_eq!(ids(&mut c2, "SELECT id FROM accounts"), "40");
}

#[test]
fn act_as_ends_with_every_kind_of_transaction_end() {
    let mut db = TestDb::new("atk_txend");
    let (_, app) = org(&mut db);
    let mut a = db.connect_as(&app);
    // COMMIT AND CHAIN: the chained transaction is nobody's.
    a.batch_execute("BEGIN; SELECT sharing.act_as(2);").unwrap();
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "10,11");
    a.batch_execute("COMMIT AND CHAIN").unwrap();
    assert_eq!(one_id(&mut a, "SELECT sharing.current_user_id()"), None);
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    a.batch_execute("COMMIT").unwrap();
    // ROLLBACK AND CHAIN
    a.batch_execute("BEGIN; SELECT sharing.act_as(3); ROLLBACK AND CHAIN;")
        .unwrap();
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    a.batch_execute("ROLLBACK").unwrap();
    // A multi-statement simple query is one implicit transaction: act_as
    // holds for the rest of it, and not for the next query.
    let rows = a
        .simple_query("SELECT sharing.act_as(4); SELECT id FROM accounts")
        .unwrap();
    let seen: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .filter(|v| !v.is_empty())
        .collect();
    assert_eq!(seen, vec!["40".to_string()]);
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    // A procedure that commits: after its COMMIT nobody is acted as.
    a.batch_execute(
        "CREATE PROCEDURE pg_temp.act_and_commit(INOUT before_commit bigint, INOUT after_commit bigint)
         LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM sharing.act_as(2);
             before_commit := sharing.current_user_id();
             COMMIT;
             after_commit := sharing.current_user_id();
         END $$",
    )
    .unwrap();
    let called: Vec<(Option<String>, Option<String>)> = a
        .simple_query("CALL pg_temp.act_and_commit(NULL, NULL)")
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0).map(str::to_string), r.get(1).map(str::to_string)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(called, vec![(Some("2".to_string()), None)]);
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    // An error ends the transaction; after ROLLBACK, nobody.
    assert_eq!(
        sqlstate(a.batch_execute("BEGIN; SELECT sharing.act_as(1); SELECT 1/0;")),
        "22012"
    );
    a.batch_execute("ROLLBACK").unwrap();
    assert_eq!(one_id(&mut a, "SELECT sharing.current_user_id()"), None);
}

/// Executes a prepared statement in a transaction, acting as `uid` if
/// given; the ids it returns, comma-separated.
fn list(
    c: &mut Client,
    uid: Option<i64>,
    stmt: &postgres::Statement,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> String {
    let mut tx = c.transaction().unwrap();
    if let Some(uid) = uid {
        tx.execute("SELECT sharing.act_as($1)", &[&uid]).unwrap();
    }
    let v: Vec<String> = tx
        .query(stmt, params)
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>(0).to_string())
        .collect();
    tx.commit().unwrap();
    v.join(",")
}

#[test]
fn prepared_statements_over_the_wire_use_the_current_identity() {
    let mut db = TestDb::new("atk_prepared");
    let (people, app) = org(&mut db);
    let mut a = db.connect_as(&app);
    a.batch_execute("SET plan_cache_mode = force_generic_plan")
        .unwrap();
    let all = a.prepare("SELECT id FROM accounts ORDER BY id").unwrap();
    let by_id = a.prepare("SELECT id FROM accounts WHERE id = $1").unwrap();
    for _ in 0..6 {
        assert_eq!(list(&mut a, Some(2), &all, &[]), "10,11");
        assert_eq!(list(&mut a, Some(2), &by_id, &[&10i64]), "10");
    }
    assert_eq!(list(&mut a, Some(4), &all, &[]), "40");
    assert_eq!(list(&mut a, Some(4), &by_id, &[&10i64]), "");
    assert_eq!(list(&mut a, Some(1), &all, &[]), "10,11,20,50");
    assert_eq!(list(&mut a, None, &all, &[]), "");
    // A login (db_role): a statement prepared before SET ROLE runs as the
    // role current at execution.
    let mut e = db.connect_as(&people[2]);
    db.admin()
        .batch_execute(&format!("GRANT {} TO {}", people[0], people[2]))
        .unwrap();
    let stmt = e.prepare("SELECT id FROM accounts ORDER BY id").unwrap();
    for _ in 0..6 {
        assert_eq!(list(&mut e, None, &stmt, &[]), "40");
    }
    e.batch_execute(&format!("SET ROLE {}", people[0])).unwrap();
    assert_eq!(list(&mut e, None, &stmt, &[]), "10,11");
    e.batch_execute("RESET ROLE").unwrap();
    assert_eq!(list(&mut e, None, &stmt, &[]), "40");
    db.admin()
        .batch_execute(&format!("REVOKE {} FROM {}", people[0], people[2]))
        .unwrap();
}

#[test]
fn copy_through_the_client_shows_visible_rows_only() {
    let mut db = TestDb::new("atk_copy");
    let (people, _) = org(&mut db);
    let mut e = db.connect_as(&people[2]);
    let mut out = String::new();
    e.copy_out("COPY accounts TO STDOUT")
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "40\t4\teve\n");
    out.clear();
    e.copy_out("COPY (SELECT id FROM accounts ORDER BY id) TO STDOUT (FORMAT csv)")
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "40\n");
    // COPY FROM a client into a protected table: refused (0A000), nothing
    // written.
    let res = e.copy_in("COPY accounts FROM STDIN").and_then(|mut w| {
        w.write_all(b"99\t2\tplanted\n").unwrap();
        w.finish()
    });
    assert_eq!(sqlstate(res), "0A000");
    let n: i64 = db
        .admin()
        .query_one("SELECT count(*) FROM accounts", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
}

#[test]
fn a_leaky_function_sends_the_client_only_visible_rows() {
    let mut db = TestDb::new("atk_leak");
    let (people, _) = org(&mut db);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let mut e = connect_with(&db, &people[2], "", Some(notices.clone()));
    e.batch_execute(
        "CREATE FUNCTION pg_temp.leak(id bigint, note text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS
         $$ BEGIN RAISE NOTICE 'saw % %', id, note; RETURN true; END $$",
    )
    .unwrap();
    assert_eq!(
        ids(
            &mut e,
            "SELECT id FROM accounts WHERE pg_temp.leak(id, note)"
        ),
        "40"
    );
    assert_eq!(
        e.execute(
            "UPDATE accounts SET note = note WHERE pg_temp.leak(id, note)",
            &[]
        )
        .unwrap(),
        1
    );
    assert_eq!(
        e.execute(
            "DELETE FROM accounts WHERE pg_temp.leak(id, note) AND id <> 40",
            &[]
        )
        .unwrap(),
        0
    );
    // (The DELETE's `id <> 40` is leakproof and runs with the policy, so
    // the leaky function is not even called there.)
    assert_eq!(
        *notices.lock().unwrap(),
        vec!["saw 40 eve".to_string(), "saw 40 eve".to_string()]
    );
}

#[test]
fn two_logins_at_once_see_only_their_own_even_uncommitted() {
    let mut db = TestDb::new("atk_two");
    let (people, _) = org(&mut db);
    let mut ann = db.connect_as(&people[0]);
    let mut eve = db.connect_as(&people[2]);
    let mut tx = ann.transaction().unwrap();
    tx.execute("INSERT INTO accounts VALUES (12, 2, 'new')", &[])
        .unwrap();
    assert_eq!(ids(&mut eve, "SELECT id FROM accounts"), "40");
    tx.commit().unwrap();
    assert_eq!(ids(&mut eve, "SELECT id FROM accounts"), "40");
    assert_eq!(ids(&mut ann, "SELECT id FROM accounts"), "10,11,12");
    // Ann shares 12 with Eve; Eve's next statement sees it, and only it.
    ann.batch_execute("SELECT sharing.share_record('accounts', '12', 'user', 'Eve', 'read')")
        .unwrap();
    assert_eq!(ids(&mut eve, "SELECT id FROM accounts"), "12,40");
    assert_eq!(
        eve.execute("UPDATE accounts SET note = 'x' WHERE id = 12", &[])
            .unwrap(),
        0
    );
}

/// PINNED (PostgreSQL's behaviour, documented in docs/security.md): what a
/// session keeps after its transaction is not re-filtered. A cursor WITH
/// HOLD is materialised at COMMIT with the rows of the user acted as then,
/// and a temporary table keeps what was copied into it; on a pooled
/// connection the next client could read them. DISCARD ALL (pgbouncer's
/// server_reset_query) drops both.
#[test]
fn held_cursors_and_temp_tables_outlive_the_identity_pinned() {
    let mut db = TestDb::new("atk_hold");
    let (_, app) = org(&mut db);
    let mut a = db.connect_as(&app);
    a.batch_execute(
        "BEGIN;
         SELECT sharing.act_as(2);
         DECLARE held CURSOR WITH HOLD FOR SELECT id FROM accounts ORDER BY id;
         CREATE TEMP TABLE kept AS SELECT id FROM accounts;
         COMMIT;",
    )
    .unwrap();
    // The next "client" on this connection is nobody ...
    assert_eq!(one_id(&mut a, "SELECT sharing.current_user_id()"), None);
    assert_eq!(ids(&mut a, "SELECT id FROM accounts"), "");
    // ... yet the held cursor and the temporary table still hold Ann's rows.
    assert_eq!(ids(&mut a, "FETCH ALL FROM held"), "10,11");
    assert_eq!(ids(&mut a, "SELECT id FROM pg_temp.kept"), "10,11");
    a.batch_execute("DISCARD ALL").unwrap();
    assert_eq!(sqlstate(a.query("FETCH ALL FROM held", &[])), "34000");
    assert_eq!(
        sqlstate(a.query("SELECT id FROM pg_temp.kept", &[])),
        "42P01"
    );
}
