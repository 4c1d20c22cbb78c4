//! In-server tests (`cargo pgrx test`): behaviour that needs a backend and is
//! best checked from inside it. Whole-org scenarios live in the SQL
//! regression suite (tests/pg_regress) and the client integration tests
//! (itest/).

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn current_user_id_is_null_for_an_unmapped_role() {
        assert_eq!(
            Spi::get_one::<i64>("SELECT sharing.current_user_id()").unwrap(),
            None
        );
    }
}
