//! One case of the differential test (`tests/differential.rs`) for a Citus
//! cluster, as files for `tests/citus/run.sh`:
//!
//!   cargo run -p pg_sharing_itest --example citus_case -- SEED setup    > setup.sql
//!   cargo run -p pg_sharing_itest --example citus_case -- SEED queries  > queries.sql
//!   cargo run -p pg_sharing_itest --example citus_case -- SEED expected > expected.txt
//!
//! `setup` builds the case with its two tables distributed (accounts by id,
//! notes co-located by account_id, so keyed by (account_id, id)); `queries`
//! prints, for every active user and table, what SELECT, UPDATE and DELETE
//! reach through `act_as` (as the login `reader`, a member of sharing_app)
//! and the level `access_level` gives on every record; `expected` is the
//! same lines from the reference evaluator. Inactive users cannot be acted
//! as (checked on one node by the differential test) and are left out.

use pg_sharing_core::reference::Model;
use pg_sharing_itest::scenario::generate;

const CITUS_TABLES: &str = "
CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint, name text, city text, amount numeric);
CREATE TABLE notes (id bigint NOT NULL, account_id bigint NOT NULL, PRIMARY KEY (account_id, id));
SELECT create_distributed_table('accounts', 'id', shard_count => 4);
SELECT create_distributed_table('notes', 'account_id', colocate_with => 'accounts');
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, notes TO PUBLIC;
";

/// A column every table has and no policy reads, to UPDATE without
/// changing anything (Citus refuses to update a distribution column).
fn untouched_column(table: &str) -> &'static str {
    if table == "accounts" {
        "name"
    } else {
        "id"
    }
}

fn sorted_ids(ids: impl Iterator<Item = String>) -> String {
    let mut v: Vec<i64> = ids.map(|i| i.parse().expect("numeric ids")).collect();
    v.sort_unstable();
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn active_users(m: &Model) -> Vec<i64> {
    m.users
        .iter()
        .filter(|(_, u)| u.active)
        .map(|(&id, _)| id)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: citus_case SEED setup|queries|expected";
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let case = generate(seed);
    let m = &case.model;
    match args.get(2).map(String::as_str) {
        Some("setup") => {
            println!(
                "\\set ON_ERROR_STOP on\n{CITUS_TABLES}{}{}",
                case.setup, case.after
            );
        }
        Some("queries") => {
            println!("\\set ON_ERROR_STOP on");
            for uid in active_users(m) {
                for table in ["accounts", "notes"] {
                    let agg = "coalesce(string_agg(id::text, ',' ORDER BY id), '')";
                    let act = format!(
                        "BEGIN; SET LOCAL ROLE reader; SELECT sharing.act_as({uid}) \\gset"
                    );
                    println!(
                        "{act}\nSELECT '{uid} {table} read: ' || {agg} FROM {table};\nROLLBACK;"
                    );
                    let col = untouched_column(table);
                    println!(
                        "{act}\nWITH r AS (UPDATE {table} SET {col} = {col} RETURNING id) \
                         SELECT '{uid} {table} edit: ' || {agg} FROM r;\nROLLBACK;"
                    );
                    println!(
                        "{act}\nWITH r AS (DELETE FROM {table} RETURNING id) \
                         SELECT '{uid} {table} delete: ' || {agg} FROM r;\nROLLBACK;"
                    );
                    println!(
                        "SELECT '{uid} {table} levels: ' || coalesce(string_agg(id || '=' || \
                         sharing.access_level({uid}, '{table}', id::text), ',' ORDER BY id), '') FROM {table};"
                    );
                }
            }
        }
        Some("expected") => {
            for uid in active_users(m) {
                for table in ["accounts", "notes"] {
                    let records = &m.tables[table].records;
                    let reach = |f: &dyn Fn(&str) -> bool| {
                        sorted_ids(records.iter().filter(|r| f(&r.id)).map(|r| r.id.clone()))
                    };
                    println!(
                        "{uid} {table} read: {}",
                        reach(&|r| m.can_read(uid, table, r))
                    );
                    println!(
                        "{uid} {table} edit: {}",
                        reach(&|r| m.can_edit(uid, table, r))
                    );
                    println!(
                        "{uid} {table} delete: {}",
                        reach(&|r| m.can_delete(uid, table, r))
                    );
                    let mut ids: Vec<i64> = records.iter().map(|r| r.id.parse().unwrap()).collect();
                    ids.sort_unstable();
                    let levels: Vec<String> = ids
                        .iter()
                        .map(|id| format!("{id}={}", m.level(uid, table, &id.to_string()).as_str()))
                        .collect();
                    println!("{uid} {table} levels: {}", levels.join(","));
                }
            }
        }
        _ => panic!("{usage}"),
    }
}
