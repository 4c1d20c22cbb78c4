//! The one error type of pg_sharing. Each variant carries its SQLSTATE;
//! [`SharingError::raise`] is the single place that turns it into a
//! PostgreSQL error.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    /// 22023: an argument is malformed or out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// 42501: the caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// 42P01: a table does not exist or is not a protected table.
    #[error("{0}")]
    UndefinedTable(String),
    /// 42703: a column does not exist.
    #[error("{0}")]
    UndefinedColumn(String),
    /// 42804: a column has the wrong type.
    #[error("{0}")]
    WrongType(String),
    /// 42P16: the table's definition does not fit (no single-column key…).
    #[error("{0}")]
    InvalidTableDefinition(String),
    /// 42710: the object is already set up.
    #[error("{0}")]
    DuplicateObject(String),
    /// XX000: SPI failed underneath us; a bug, not a user error.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SharingError {
    fn code(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            SharingError::InvalidArgument(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            SharingError::PermissionDenied(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            SharingError::UndefinedTable(_) => ERRCODE_UNDEFINED_TABLE,
            SharingError::UndefinedColumn(_) => ERRCODE_UNDEFINED_COLUMN,
            SharingError::WrongType(_) => ERRCODE_DATATYPE_MISMATCH,
            SharingError::InvalidTableDefinition(_) => ERRCODE_INVALID_TABLE_DEFINITION,
            SharingError::DuplicateObject(_) => ERRCODE_DUPLICATE_OBJECT,
            SharingError::Internal(_) => ERRCODE_INTERNAL_ERROR,
        }
    }

    /// Raises the error as a PostgreSQL ERROR; does not return.
    #[allow(unreachable_code)]
    pub fn raise(self) -> ! {
        ereport!(ERROR, self.code(), self.to_string());
        unreachable!("ereport(ERROR) never returns")
    }
}

impl From<pgrx::spi::Error> for SharingError {
    fn from(e: pgrx::spi::Error) -> Self {
        SharingError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, SharingError>;

/// Unwraps a result inside a `#[pg_extern]`, raising the error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| e.raise())
    }
}
