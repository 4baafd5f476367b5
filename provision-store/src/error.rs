//! The store's errors, and their mapping onto the core's journal and audit errors.

use provision_core::audit::{AuditError, ChainError};
use provision_core::journal::JournalError;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database said no (connection, constraint, I/O). Keeps the database's message.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database file could not be created (`path`, why).
    #[error("cannot create {path}: {source}")]
    CreateFile {
        /// The file.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// A role name that is not a plain lower-case identifier.
    #[error("`{0}` is not a plain lower-case role name ([a-z_][a-z0-9_]*, at most 63 characters)")]
    InvalidRoleName(String),
    /// The schema is older than this build and this connection may not migrate it.
    #[error(
        "the schema is at version {found} and this build needs {needed}: run the migrations \
         as the schema's owner first (store.owner in the service's configuration)"
    )]
    SchemaBehind {
        /// The version applied.
        found: i64,
        /// The version this build writes.
        needed: i64,
    },
    /// Bringing the schema up to date failed.
    #[error("schema migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored row could not be read back (`table`, row key, why).
    #[error("corrupt {table} row {key}: {message}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key (seq, id).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The audit chain does not verify.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// An indexed column of an audit row disagrees with the hashed event in it: the
    /// row was edited outside the API (the queries would return wrong rows).
    #[error(
        "audit row seq {seq}: column {column} is {column_value:?} but the hashed event says \
         {event_value:?}: the row was altered"
    )]
    ColumnMismatch {
        /// The row's seq.
        seq: u64,
        /// The column.
        column: &'static str,
        /// What the column holds.
        column_value: String,
        /// What the event holds.
        event_value: String,
    },
    /// A claim names an operation that is not in the run's plan (or an unknown run).
    #[error("run {run} has no operation {operation} to claim")]
    UnknownOperation {
        /// The run.
        run: provision_core::journal::RunId,
        /// The operation.
        operation: provision_core::model::OperationId,
    },
    /// Writing an export failed.
    #[error("export: {0}")]
    Export(#[from] std::io::Error),
}

impl From<StoreError> for JournalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } => JournalError::Corrupt(e.to_string()),
            other => JournalError::Storage(other.to_string()),
        }
    }
}

impl From<StoreError> for AuditError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } | StoreError::ColumnMismatch { .. } => {
                AuditError::Corrupt(e.to_string())
            }
            other => AuditError::Storage(other.to_string()),
        }
    }
}
