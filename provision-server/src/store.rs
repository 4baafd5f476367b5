//! The one store the service keeps everything in: journal, audit log, inbox and
//! schedule (and, on PostgreSQL, the operation claims instances share).

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::audit::AuditLog;
use provision_core::executor::SharedBudget;
use provision_core::journal::{Journal, OperationClaims};
use provision_store::{Inbox, Schedule, SqliteStore, StoreError};

use crate::config::StoreConfig;
use crate::error::ServerError;

/// Journal, audit log, inbox and schedule in one database (and the evidence,
/// governance records and SIEM cursors the service's jobs and routes keep there).
#[async_trait]
pub trait ServiceStore:
    Inbox
    + Schedule
    + Journal
    + AuditLog
    + provision_evidence::EvidenceStore
    + provision_governance::GovernanceStore
    + provision_siem::AuditFeed
    + provision_siem::CursorStore
    + 'static
{
    /// One round trip to the database (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Operation claims shared with other instances, where the store has them.
    fn shared_claims(self: Arc<Self>) -> Option<Arc<dyn OperationClaims>>;

    /// The registry through which instances split every system's rate budget, where
    /// the store is shared by instances (PostgreSQL).
    fn shared_budget(self: Arc<Self>) -> Option<Arc<dyn SharedBudget>>;

    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx_ping_sqlite(self).await
    }

    fn shared_claims(self: Arc<Self>) -> Option<Arc<dyn OperationClaims>> {
        None
    }

    fn shared_budget(self: Arc<Self>) -> Option<Arc<dyn SharedBudget>> {
        None
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

async fn sqlx_ping_sqlite(store: &SqliteStore) -> Result<(), StoreError> {
    store.schema_version().await.map(|_| ())
}

#[cfg(feature = "postgres")]
#[async_trait]
impl ServiceStore for provision_store::PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.schema_version().await.map(|_| ())
    }

    fn shared_claims(self: Arc<Self>) -> Option<Arc<dyn OperationClaims>> {
        Some(self as Arc<dyn OperationClaims>)
    }

    fn shared_budget(self: Arc<Self>) -> Option<Arc<dyn SharedBudget>> {
        Some(self as Arc<dyn SharedBudget>)
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

/// Opens (creating and migrating) the configured store.
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn ServiceStore>, ServerError> {
    match config {
        StoreConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        #[cfg(feature = "postgres")]
        StoreConfig::Postgres { url, owner } => {
            let resolve = |reference, field: &str| {
                provision_core::config::resolve_credential(reference).map_err(|e| {
                    crate::config::ConfigError::Invalid {
                        path: "server configuration".to_owned(),
                        field: field.to_owned(),
                        message: e.to_string(),
                    }
                })
            };
            let url = resolve(url, "store.postgres")?;
            match owner {
                None => Ok(Arc::new(
                    provision_store::PostgresStore::connect(&url).await?,
                )),
                Some(owner) => {
                    let owner = resolve(owner, "store.owner")?;
                    provision_store::PostgresStore::migrate(pg_options(&owner)?).await?;
                    Ok(Arc::new(
                        provision_store::PostgresStore::connect_migrated(pg_options(&url)?).await?,
                    ))
                }
            }
        }
        #[cfg(not(feature = "postgres"))]
        StoreConfig::Postgres { .. } => Err(ServerError::Unsupported(
            "store: postgres needs provision-server built with the `postgres` feature".to_owned(),
        )),
    }
}

/// Connection options from a URL (a secret: it may carry the password).
#[cfg(feature = "postgres")]
fn pg_options(
    url: &provision_core::secret::SecretString,
) -> Result<sqlx::postgres::PgConnectOptions, ServerError> {
    use provision_core::secret::ExposeSecret;
    use std::str::FromStr;
    sqlx::postgres::PgConnectOptions::from_str(url.expose_secret())
        .map_err(|e| ServerError::Store(provision_store::StoreError::Database(e)))
}
