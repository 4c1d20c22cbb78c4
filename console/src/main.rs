//! The sharing console: a small web server that lets an administrator look
//! at and change the pg_sharing model through its SQL API, in a browser.
//!
//! It connects to PostgreSQL with the administrator's own login role (libpq
//! style settings: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD or
//! ~/.pgpass, or the flags below), one connection per request, so the
//! database decides what may be read and changed (`manage_sharing`).
//! Nothing is stored on disk.

mod api;
mod change;
mod config;
mod db;
mod http;

use std::sync::Arc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match config::Settings::from_args(&args) {
        Ok(config::Parsed::Run(s)) => s,
        Ok(config::Parsed::Help) => {
            print!("{}", config::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("pg_sharing_console: {e}\n\n{}", config::USAGE);
            std::process::exit(2);
        }
    };
    let token = match http::random_token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pg_sharing_console: cannot read random bytes: {e}");
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "pg_sharing_console: cannot listen on {}: {e}",
                settings.listen
            );
            std::process::exit(1);
        }
    };
    let local = listener.local_addr().expect("bound socket has an address");
    // Check the database settings once, so a wrong setting shows at start.
    let pg = settings.pg_config();
    match db::connect(&pg).await {
        Ok(client) => {
            let who = client
                .query_one(
                    "SELECT current_user::text, current_database()::text,
                            to_regnamespace('sharing') IS NOT NULL",
                    &[],
                )
                .await
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, bool>(2),
                    )
                });
            match who {
                Ok((who, db, installed)) => {
                    eprintln!("pg_sharing_console: connected to database {db} as {who}");
                    if !installed {
                        eprintln!(
                            "pg_sharing_console: warning: pg_sharing is not installed in database {db} (CREATE EXTENSION pg_sharing)"
                        );
                    }
                }
                Err(e) => eprintln!("pg_sharing_console: warning: {}", db::describe(&e)),
            }
        }
        Err(e) => {
            eprintln!(
                "pg_sharing_console: warning: cannot connect yet: {}",
                e.message
            )
        }
    }
    let state = Arc::new(http::AppState {
        pg,
        token,
        allowed_hosts: http::allowed_hosts(&local, settings.public_host.as_deref()),
    });
    let app = http::router(state);
    println!("pg_sharing_console listening on http://{local}/");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("pg_sharing_console: server error: {e}");
        std::process::exit(1);
    }
}
