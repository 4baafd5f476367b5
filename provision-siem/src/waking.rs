//! An audit log that wakes the SIEM pumps on every append, so records stream out
//! as they are written rather than at the next poll.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;

use provision_core::audit::{AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord};
use provision_core::model::{OperationId, RunId};

/// Wakes running pumps; cheap to clone. From [`SinkPump::waker`](crate::SinkPump::waker)
/// or [`SiemExporter::waker`](crate::SiemExporter::waker).
#[derive(Debug, Clone, Default)]
pub struct SiemWaker {
    notifies: Vec<Arc<Notify>>,
}

impl SiemWaker {
    pub(crate) fn new(notifies: Vec<Arc<Notify>>) -> Self {
        Self { notifies }
    }

    /// Tells every pump that records were appended.
    pub fn wake(&self) {
        self.notifies.iter().for_each(|n| n.notify_one());
    }
}

/// Wraps an [`AuditLog`] (the store the engine writes to): every successful append
/// wakes the pumps. Reads go straight to the wrapped log.
#[derive(Debug)]
pub struct WakingAuditLog<L: ?Sized> {
    inner: Arc<L>,
    waker: SiemWaker,
}

impl<L: ?Sized> WakingAuditLog<L> {
    /// `inner` (also `Arc<dyn AuditLog>`), waking `waker` after each append.
    pub fn new(inner: Arc<L>, waker: SiemWaker) -> Self {
        Self { inner, waker }
    }

    /// The wrapped log.
    pub fn inner(&self) -> &Arc<L> {
        &self.inner
    }
}

#[async_trait]
impl<L: AuditLog + ?Sized> AuditLog for WakingAuditLog<L> {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let record = self.inner.append(event).await?;
        self.waker.wake();
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        self.inner.records().await
    }

    async fn recorded_outcome(
        &self,
        run: &RunId,
        operation: &OperationId,
    ) -> Result<Option<AuditOutcome>, AuditError> {
        self.inner.recorded_outcome(run, operation).await
    }
}
