//! The SQLite journal and audit log as the executor uses them: every call runs to
//! completion on its own tokio task.
//!
//! Why: the executor's scheduler polls its in-flight operations only between its own
//! journal and audit writes. A SQLite write that an operation has started holds one
//! of the store's pooled connections (and, inside a transaction, the database's
//! write lock) until its future is polled again; with more operations in flight than
//! the pool has connections, the scheduler's next write then waits for a connection
//! nobody releases ("pool timed out while waiting for an open connection"). On its
//! own task a write finishes and gives its connection back whether or not the
//! operation that asked for it is being polled.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use provision_core::audit::{AuditError, AuditEvent, AuditLog, AuditRecord};
use provision_core::journal::{Journal, JournalEntry, JournalError, RunId};
use provision_core::model::Plan;
use provision_store::SqliteStore;

/// A [`SqliteStore`] whose [`Journal`] and [`AuditLog`] calls each run on a task of
/// their own.
#[derive(Debug, Clone)]
pub struct DetachedStore {
    inner: Arc<SqliteStore>,
}

impl DetachedStore {
    /// Wraps `store`.
    pub fn new(store: Arc<SqliteStore>) -> Self {
        Self { inner: store }
    }
}

/// Runs `work` on its own task; a task that panicked or was cancelled becomes
/// `lost(message)`.
async fn detached<T, E, F>(work: F, lost: impl FnOnce(String) -> E) -> Result<T, E>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) => Err(lost(format!("store task did not finish: {e}"))),
    }
}

#[async_trait]
impl Journal for DetachedStore {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let (store, run, plan) = (Arc::clone(&self.inner), run.clone(), plan.clone());
        detached(
            async move { store.begin_run(&run, &plan).await },
            JournalError::Storage,
        )
        .await
    }

    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let (store, entry) = (Arc::clone(&self.inner), entry.clone());
        detached(
            async move { store.record(&entry).await },
            JournalError::Storage,
        )
        .await
    }

    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        let (store, run) = (Arc::clone(&self.inner), run.clone());
        detached(async move { store.plan(&run).await }, JournalError::Storage).await
    }

    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        let (store, run) = (Arc::clone(&self.inner), run.clone());
        detached(
            async move { store.entries(&run).await },
            JournalError::Storage,
        )
        .await
    }
}

#[async_trait]
impl AuditLog for DetachedStore {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let store = Arc::clone(&self.inner);
        detached(
            async move { store.append(event).await },
            AuditError::Storage,
        )
        .await
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        let store = Arc::clone(&self.inner);
        detached(async move { store.records().await }, AuditError::Storage).await
    }
}
