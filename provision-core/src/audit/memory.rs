//! An audit log kept in memory (tests, the sandbox, short-lived tools).

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::chain::ChainHead;
use super::{AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord};
use crate::model::OperationId;
use crate::model::RunId;

/// An [`AuditLog`] in memory. Appends are serialised by a mutex, so concurrent
/// appends still form one chain.
#[derive(Debug, Default)]
pub struct MemoryAuditLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    head: ChainHead,
    records: Vec<AuditRecord>,
}

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, AuditError> {
        self.inner
            .lock()
            .map_err(|_| AuditError::Storage("audit log mutex poisoned".to_owned()))
    }

    /// A copy of every record, in order (same as [`AuditLog::records`], without async).
    pub fn snapshot(&self) -> Result<Vec<AuditRecord>, AuditError> {
        Ok(self.lock()?.records.clone())
    }
}

#[async_trait]
impl AuditLog for MemoryAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let mut inner = self.lock()?;
        let record = inner.head.seal(event)?;
        inner.records.push(record.clone());
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        self.snapshot()
    }

    async fn recorded_outcome(
        &self,
        run: &RunId,
        operation: &OperationId,
    ) -> Result<Option<AuditOutcome>, AuditError> {
        Ok(self
            .lock()?
            .records
            .iter()
            .rev()
            .find(|r| r.event.run == *run && r.event.operation == *operation)
            .map(|r| r.event.outcome.clone()))
    }
}
