//! Config as code: a model exported from one database and applied to
//! another with the same tables gives every user exactly the same rows;
//! applying again changes nothing; a dry run changes nothing.

use pg_sharing_itest::scenario::{generate, TABLES};
use pg_sharing_itest::{describe, sqlstate, visible_rows, TestDb};

/// id, owner, city, amount of an accounts row.
type AccountRow = (i64, Option<i64>, Option<String>, Option<f64>);

#[test]
fn export_applied_to_an_empty_database_reproduces_every_users_rows() {
    let mut source = TestDb::new("cfgsrc");
    let target = TestDb::new("cfgdst");
    let reader = source.login_role("reader", "IN ROLE sharing_app");
    for seed in 1..=25u64 {
        let case = generate(seed);
        let users: Vec<i64> = case.model.users.keys().copied().collect();
        let mut a = source.admin();
        let mut ta = a.transaction().unwrap();
        ta.batch_execute(TABLES).unwrap();
        ta.batch_execute(&case.setup).unwrap();
        ta.batch_execute(&case.after).unwrap();
        let config: serde_json::Value = ta
            .query_one("SELECT sharing.export_config()", &[])
            .unwrap()
            .get(0);
        let accounts: Vec<AccountRow> = ta
            .query(
                "SELECT id, owner_id, city, amount::float8 FROM accounts ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let notes: Vec<(i64, i64)> = ta
            .query("SELECT id, account_id FROM notes ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let before = visible_rows(&mut ta, &reader, &users);

        let mut b = target.admin();
        let mut tb = b.transaction().unwrap();
        tb.batch_execute(TABLES).unwrap();
        for (id, owner, city, amount) in &accounts {
            tb.execute(
                "INSERT INTO accounts (id, owner_id, city, amount) VALUES ($1, $2, $3, $4::float8::numeric)",
                &[id, owner, city, amount],
            )
            .unwrap();
        }
        for (id, account) in &notes {
            tb.execute("INSERT INTO notes VALUES ($1, $2)", &[id, account])
                .unwrap();
        }
        // A dry run reports but changes nothing.
        let planned = tb
            .query(
                "SELECT sharing.apply_config($1, dry_run => true)",
                &[&config],
            )
            .unwrap_or_else(|e| {
                panic!("seed {seed}: dry run failed: {}\n{config:#}", describe(&e))
            });
        assert!(
            !planned.is_empty(),
            "seed {seed}: a dry run into an empty model reports changes"
        );
        let roles: i64 = tb
            .query_one("SELECT count(*) FROM sharing.roles", &[])
            .unwrap()
            .get(0);
        assert_eq!(roles, 0, "seed {seed}: the dry run left roles behind");

        let applied = tb
            .query("SELECT sharing.apply_config($1)", &[&config])
            .unwrap_or_else(|e| panic!("seed {seed}: apply failed: {}\n{config:#}", describe(&e)));
        assert_eq!(
            applied.len(),
            planned.len(),
            "seed {seed}: the dry run reported what applying does"
        );
        let again = tb
            .query("SELECT sharing.apply_config($1)", &[&config])
            .unwrap();
        let again: Vec<String> = again.iter().map(|r| r.get(0)).collect();
        assert!(
            again.is_empty(),
            "seed {seed}: applying twice changed {again:?}"
        );
        let after = visible_rows(&mut tb, &reader, &users);
        assert_eq!(
            before, after,
            "seed {seed}: users see different rows after the round trip\n{config:#}"
        );
        // Re-exporting gives the same document (shares aside: who shared differs).
        let mut exported: serde_json::Value = tb
            .query_one("SELECT sharing.export_config()", &[])
            .unwrap()
            .get(0);
        let mut original = config.clone();
        exported["shares"] = serde_json::Value::Null;
        original["shares"] = serde_json::Value::Null;
        assert_eq!(
            exported, original,
            "seed {seed}: export → apply → export is not stable"
        );
        tb.rollback().unwrap();
        ta.rollback().unwrap();
    }
}

#[test]
fn a_bad_document_is_refused_with_its_json_path_and_changes_nothing() {
    let db = TestDb::new("cfgbad");
    let mut c = db.admin();
    let bad = serde_json::json!({"version": 1, "roles": [{"name": "CEO"}],
                                 "users": [{"name": "Ann", "role": "Sales"}]});
    let err = c
        .query("SELECT sharing.apply_config($1)", &[&bad])
        .unwrap_err();
    assert_eq!(
        describe(&err),
        "22023: invalid configuration at $.users[0].role: role \"Sales\" is not defined in roles"
    );
    // A document valid in itself but wrong for this database: the error
    // names the item, and the roles created before it are rolled back.
    let wrong = serde_json::json!({"version": 1, "roles": [{"name": "CEO"}],
                                   "users": [{"name": "Ann", "role": "CEO", "db_role": "no_such_login"}]});
    let err = c
        .query("SELECT sharing.apply_config($1)", &[&wrong])
        .unwrap_err();
    assert_eq!(
        describe(&err),
        "42704: applying configuration at $.users[0]: database role \"no_such_login\" does not exist"
    );
    let roles: i64 = c
        .query_one("SELECT count(*) FROM sharing.roles", &[])
        .unwrap()
        .get(0);
    assert_eq!(roles, 0);
    // Only admins may apply.
    let mut db = db;
    let nobody = db.login_role("nobody", "");
    let mut n = db.connect_as(&nobody);
    assert_eq!(
        sqlstate(n.query("SELECT sharing.apply_config('{\"version\": 1}')", &[])),
        "42501"
    );
}
