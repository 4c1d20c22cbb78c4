//! In-server tests (`cargo pgrx test`): behaviour that needs a backend.
use pgrx::prelude::*;

#[pg_test]
fn current_user_id_is_null_for_an_unmapped_role() {
    assert_eq!(
        Spi::get_one::<i64>("SELECT sharing.current_user_id()").unwrap(),
        None
    );
}
