//! pg_dump of a database using pg_sharing, restored into a fresh database:
//! the model, the derived sets and the policies come back, and every user
//! sees the same rows.

use pg_sharing_itest::scenario::{generate, TABLES};
use pg_sharing_itest::{describe, visible_rows, TestDb};
use std::process::Command;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run pg tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dump_and_restore_keep_the_model_and_every_users_rows() {
    let host = std::env::var("PG_SHARING_TEST_HOST").expect("run through scripts/test.sh");
    let port = std::env::var("PG_SHARING_TEST_PORT").unwrap();
    for seed in [3u64, 7, 11] {
        let mut source = TestDb::new("dumpsrc");
        let target = TestDb::empty("dumpdst");
        let reader = source.login_role("reader", "IN ROLE sharing_app");
        let case = generate(seed);
        let users: Vec<i64> = case.model.users.keys().copied().collect();
        let mut a = source.admin();
        a.batch_execute(TABLES).unwrap();
        a.batch_execute(&case.setup).unwrap();
        a.batch_execute(&case.after).unwrap();
        // Changes after the initial set-up must survive too.
        a.batch_execute("SELECT sharing.create_role('late role'); SELECT sharing.create_user('late user', 'late role', id => 500);")
            .unwrap();
        let before = {
            let mut tx = a.transaction().unwrap();
            visible_rows(&mut tx, &reader, &users)
        };
        let config_before: serde_json::Value = a
            .query_one("SELECT sharing.export_config()", &[])
            .unwrap()
            .get(0);

        let file = std::env::temp_dir().join(format!("{}.dump", source.name));
        run(Command::new(format!("{PG_BIN}/pg_dump"))
            .args(["-h", &host, "-p", &port, "-U", "postgres", "-Fc", "-f"])
            .arg(&file)
            .arg(&source.name));
        run(Command::new(format!("{PG_BIN}/pg_restore"))
            .args([
                "-h",
                &host,
                "-p",
                &port,
                "-U",
                "postgres",
                "--exit-on-error",
                "-d",
                &target.name,
            ])
            .arg(&file));
        let _ = std::fs::remove_file(&file);

        let mut b = target.admin();
        let after = {
            let mut tx = b.transaction().unwrap();
            visible_rows(&mut tx, &reader, &users)
        };
        assert_eq!(before, after, "seed {seed}: rows differ after restore");
        let config_after: serde_json::Value = b
            .query_one("SELECT sharing.export_config()", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            config_before, config_after,
            "seed {seed}: model differs after restore"
        );
        let problems: Vec<String> = b
            .query("SELECT severity || ': ' || object || ': ' || message FROM sharing.check() WHERE severity = 'error'", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            problems.is_empty(),
            "seed {seed}: the doctor finds problems after restore: {problems:?}"
        );
        // New objects get fresh ids after the restore (sequences came along).
        b.batch_execute("SELECT sharing.create_role('after restore'); SELECT sharing.create_user('new user', 'after restore');")
            .unwrap_or_else(|e| panic!("seed {seed}: creating after restore: {}", describe(&e)));
    }
}
