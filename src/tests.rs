//! In-server tests (`cargo pgrx test`): behaviour that needs a backend and is
//! best checked from inside it — transaction callbacks, error mapping,
//! plans. Whole-org scenarios live in the SQL regression suite
//! (tests/pg_regress) and the client integration tests (itest/).

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn current_user_id() -> Option<i64> {
        Spi::get_one::<i64>("SELECT sharing.current_user_id()").unwrap()
    }

    /// A small org: CEO (1) > Rep (2, 3); a protected table with rows owned
    /// by each, and a few thousand more owned by nobody we know.
    fn small_org() {
        Spi::run(
            "SELECT sharing.create_role('CEO');
             SELECT sharing.create_role('Rep', 'CEO');
             SELECT sharing.create_user('Ceo', 'CEO', id => 1);
             SELECT sharing.create_user('Rep A', 'Rep', id => 2);
             SELECT sharing.create_user('Rep B', 'Rep', id => 3);
             CREATE TABLE pgt_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, name text);
             INSERT INTO pgt_accounts SELECT g, 1000 + g % 500, 'x' FROM generate_series(1, 5000) g;
             INSERT INTO pgt_accounts VALUES (100001, 1, 'ceo'), (100002, 2, 'a'), (100003, 3, 'b');
             ANALYZE pgt_accounts;
             SELECT sharing.protect('pgt_accounts');
             CREATE ROLE pgt_reader NOLOGIN IN ROLE sharing_app;
             GRANT SELECT ON pgt_accounts TO pgt_reader;",
        )
        .unwrap();
    }

    #[pg_test]
    fn current_user_id_is_null_for_an_unmapped_role() {
        assert_eq!(current_user_id(), None);
    }

    #[pg_test]
    fn act_as_is_undone_when_its_savepoint_rolls_back() {
        small_org();
        Spi::run("SELECT sharing.act_as(2)").unwrap();
        // SAFETY: an internal subtransaction, begun and ended here, as
        // PL/pgSQL does for an exception block.
        unsafe { pg_sys::BeginInternalSubTransaction(std::ptr::null()) };
        Spi::run("SELECT sharing.act_as(3)").unwrap();
        assert_eq!(current_user_id(), Some(3));
        unsafe { pg_sys::RollbackAndReleaseCurrentSubTransaction() };
        assert_eq!(
            current_user_id(),
            Some(2),
            "the savepoint's act_as is undone"
        );

        unsafe { pg_sys::BeginInternalSubTransaction(std::ptr::null()) };
        Spi::run("SELECT sharing.act_as(1)").unwrap();
        unsafe { pg_sys::ReleaseCurrentSubTransaction() };
        assert_eq!(
            current_user_id(),
            Some(1),
            "a released savepoint keeps its act_as"
        );
    }

    #[pg_test]
    fn checking_another_user_restores_the_identity_even_after_an_error() {
        small_org();
        Spi::run("SELECT sharing.act_as(2)").unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT sharing.access_level(1, 'pgt_accounts', '100002')")
                .unwrap(),
            Some("read_write_delete".into()),
            "the CEO reaches a rep's record"
        );
        assert_eq!(current_user_id(), Some(2));
        // A check that fails half-way (bad key for the level query) must not
        // leave the checked user in place.
        let failed = PgTryBuilder::new(|| {
            Spi::run("SELECT sharing._access_rank(1, 'pgt_accounts'::regclass, 'not a number')")
                .is_ok()
        })
        .catch_others(|_| false)
        .execute();
        assert!(!failed);
        assert_eq!(current_user_id(), Some(2));
    }

    #[pg_test]
    fn errors_carry_a_fitting_sqlstate_and_name_the_value() {
        let caught = PgTryBuilder::new(|| {
            Spi::run("CREATE VIEW pgt_view AS SELECT 1::bigint AS id, 1::bigint AS owner_id")
                .unwrap();
            Spi::run("SELECT sharing.protect('pgt_view')").unwrap();
            None
        })
        .catch_others(|e| match e {
            pg_sys::panic::CaughtError::PostgresError(r)
            | pg_sys::panic::CaughtError::ErrorReport(r) => {
                Some((r.sql_error_code(), r.message().to_string()))
            }
            _ => None,
        })
        .execute();
        let (code, message) = caught.expect("protecting a view is refused");
        assert_eq!(code, PgSqlErrorCode::ERRCODE_INVALID_TABLE_DEFINITION);
        assert!(message.contains("pgt_view"), "{message}");
    }

    #[pg_test]
    fn protected_listing_is_plain_calls_and_uses_the_owner_index() {
        small_org();
        Spi::run(
            "SET LOCAL enable_seqscan = off; SET LOCAL ROLE pgt_reader; SELECT sharing.act_as(2);",
        )
        .unwrap();
        let plan = Spi::explain("SELECT * FROM pgt_accounts")
            .unwrap()
            .0
            .to_string();
        // Plain function calls, no sub-select: what parallel workers and
        // Citus can evaluate.
        assert!(!plan.contains("InitPlan"), "{plan}");
        assert!(!plan.contains("SubPlan"), "{plan}");
        assert!(plan.contains("sharing._visible_owners"), "{plan}");
        assert!(plan.contains("pgt_accounts_owner_id_idx"), "{plan}");
        let ids = Spi::get_one::<String>(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM pgt_accounts",
        )
        .unwrap();
        assert_eq!(ids.as_deref(), Some("100002"));
    }

    #[pg_test]
    fn policy_sql_is_what_is_installed() {
        small_org();
        let sql = Spi::get_one::<String>("SELECT sharing.policy_sql('pgt_accounts')")
            .unwrap()
            .unwrap();
        assert_eq!(sql.matches("CREATE POLICY").count(), 4);
        let installed = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_policies WHERE tablename = 'pgt_accounts' AND policyname LIKE 'sharing\\_%'",
        )
        .unwrap();
        assert_eq!(installed, Some(4));
        let drift = Spi::get_one::<i64>(
            "SELECT count(*) FROM sharing._policy_drift('pgt_accounts'::regclass)",
        )
        .unwrap();
        assert_eq!(
            drift,
            Some(0),
            "the installed policies are the generated ones"
        );
    }
}
