//! A Rust service on pg_sharing: tokio-postgres with a deadpool-postgres pool.
//!
//! The service connects with ONE login (crm_app, a member of sharing_app).
//! Each request takes a pooled connection, opens a transaction and calls
//! `sharing.act_as(user_id)` first; every query after it returns only that
//! user's rows, every write reaches only rows that user may change. The
//! identity ends with the transaction, so the next request on the same
//! connection starts with none.
//!
//!     cargo run -- "host=127.0.0.1 port=5432 dbname=crm user=crm_app"
//!
//! Expects the org of examples/demo_setup.sql. Runs 100 concurrent requests
//! of five users on a pool of four connections, checks what each one sees and
//! may edit, and exits non-zero on any mismatch.

use std::collections::{BTreeSet, HashMap};
use std::error::Error;
use std::process::ExitCode;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Every account of the demo org.
const ALL_ACCOUNTS: [i64; 6] = [101, 102, 201, 202, 301, 401];

/// What each user of examples/demo_setup.sql may see and edit.
struct Expected {
    user_id: i64,
    name: &'static str,
    visible: &'static [i64],
    editable: &'static [i64],
}

const USERS: [Expected; 5] = [
    // Top of the role hierarchy: everything.
    Expected {
        user_id: 1,
        name: "Carol CEO",
        visible: &ALL_ACCOUNTS,
        editable: &ALL_ACCOUNTS,
    },
    // His own and his reps' (hierarchy), not support's.
    Expected {
        user_id: 2,
        name: "Sam Manager",
        visible: &[101, 102, 201, 202, 301],
        editable: &[101, 102, 201, 202, 301],
    },
    // Her own; 201 is shared with her read-only.
    Expected {
        user_id: 3,
        name: "Erin East",
        visible: &[101, 102, 201],
        editable: &[101, 102],
    },
    // His own.
    Expected {
        user_id: 4,
        name: "Will West",
        visible: &[201, 202],
        editable: &[201, 202],
    },
    // Her own; New York accounts read-only through a criteria rule.
    Expected {
        user_id: 5,
        name: "Sue Support",
        visible: &[101, 202, 401],
        editable: &[401],
    },
];

/// What one request observed.
struct Outcome {
    user_id: i64,
    backend_pid: i32,
}

/// One request on behalf of `user`: a pooled connection, one transaction,
/// `act_as` first. Lists the accounts, then tries to edit every account.
async fn handle_request(pool: &Pool, user: &Expected) -> Result<Outcome> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;

    // Not needed in a real service; here it shows the pooled connection
    // carries no identity from the request that used it before.
    let before: Option<i64> = tx
        .query_one("SELECT sharing.current_user_id()", &[])
        .await?
        .get(0);
    check(before.is_none(), || {
        format!("a pooled connection came with identity {before:?}")
    })?;

    tx.execute("SELECT sharing.act_as($1)", &[&user.user_id])
        .await?;

    // A statement prepared once per connection and reused by every user:
    // policies are evaluated at execution, so each user gets their own rows.
    let list = tx
        .prepare_cached("SELECT id FROM accounts ORDER BY id")
        .await?;
    let seen: Vec<i64> = tx
        .query(&list, &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    check(seen == user.visible, || {
        format!("{} saw {seen:?}, expected {:?}", user.name, user.visible)
    })?;

    // Try to edit every account, one UPDATE each: the ones the user may edit
    // report 1 row; read-only and invisible ones report 0 and stay unchanged.
    // (In id order, so that concurrent requests lock rows in one order.)
    let touch = tx
        .prepare_cached("UPDATE accounts SET name = name WHERE id = $1")
        .await?;
    let mut edited = Vec::new();
    for id in ALL_ACCOUNTS {
        if tx.execute(&touch, &[&id]).await? == 1 {
            edited.push(id);
        }
    }
    check(edited == user.editable, || {
        format!(
            "{} could edit {edited:?}, expected {:?}",
            user.name, user.editable
        )
    })?;

    let backend_pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    tx.commit().await?;
    Ok(Outcome {
        user_id: user.user_id,
        backend_pid,
    })
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

async fn run(conninfo: &str) -> Result<()> {
    let manager = Manager::from_config(
        conninfo.parse::<tokio_postgres::Config>()?,
        NoTls,
        // Fast recycling: no query on check-out; act_as needs no reset.
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager).max_size(4).build()?;

    // 100 requests of five users at once on four connections.
    let mut tasks = Vec::new();
    for round in 0..20 {
        for (i, _) in USERS.iter().enumerate() {
            let pool = pool.clone();
            let user = &USERS[(i + round) % USERS.len()];
            tasks.push(tokio::spawn(
                async move { handle_request(&pool, user).await },
            ));
        }
    }
    let mut users_per_backend: HashMap<i32, BTreeSet<i64>> = HashMap::new();
    let requests = tasks.len();
    for task in tasks {
        let outcome = task.await??;
        users_per_backend
            .entry(outcome.backend_pid)
            .or_default()
            .insert(outcome.user_id);
    }
    println!("ok   {requests} concurrent requests of {} users: each saw and edited exactly its own accounts", USERS.len());
    check(
        users_per_backend.values().any(|users| users.len() > 1),
        || "no connection served two users".into(),
    )?;
    println!(
        "ok   the pool's {} connections were shared between users",
        users_per_backend.len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(conninfo) = std::env::args().nth(1) else {
        eprintln!("usage: pg_sharing_rust_service \"host=… port=… dbname=… user=crm_app\"");
        return ExitCode::from(2);
    };
    match run(&conninfo).await {
        Ok(()) => {
            println!("rust-service: all checks passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // tokio-postgres says "db error"; the server's message is its source.
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            eprintln!("FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}
