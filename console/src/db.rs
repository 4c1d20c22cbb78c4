//! Connections and errors: the database's own message, SQLSTATE and hint
//! reach the page unchanged.

use serde::Serialize;
use tokio_postgres::{Client, NoTls};

#[derive(Debug, Serialize, Clone)]
pub struct DbError {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl DbError {
    pub fn new(message: impl Into<String>) -> Self {
        DbError {
            message: message.into(),
            code: None,
            hint: None,
            detail: None,
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(d) => DbError {
                message: d.message().to_string(),
                code: Some(d.code().code().to_string()),
                hint: d.hint().map(str::to_string),
                detail: d.detail().map(str::to_string),
            },
            None => DbError::new(describe(&e)),
        }
    }
}

pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}

/// A fresh connection (each request gets its own: no state leaks between
/// requests, and a restarted server is simply reconnected to).
pub async fn connect(config: &tokio_postgres::Config) -> Result<Client, DbError> {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .map_err(|e| DbError::new(format!("cannot connect to the database: {}", describe(&e))))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
