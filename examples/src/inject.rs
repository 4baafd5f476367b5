//! Fault injection around a system: chosen operations take effect and then time out,
//! the way a real API sometimes answers a write that it did make.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, GrantRecord, Operation, OperationId, ResourceRef,
};

/// Wraps an adapter; an armed operation's next write is made and then answered with a
/// timeout (`Transient { maybe_applied: true }`). Everything else passes through.
pub struct TimeoutAfterCommit {
    name: String,
    inner: Arc<dyn Adapter>,
    armed: Mutex<BTreeSet<OperationId>>,
    fired: Mutex<Vec<OperationId>>,
}

impl TimeoutAfterCommit {
    /// Wraps `inner`, the system called `name`.
    pub fn new(name: impl Into<String>, inner: Arc<dyn Adapter>) -> Self {
        Self {
            name: name.into(),
            inner,
            armed: Mutex::new(BTreeSet::new()),
            fired: Mutex::new(Vec::new()),
        }
    }

    /// The next write of `operation` takes effect, then times out.
    pub fn arm(&self, operation: OperationId) {
        lock(&self.armed).insert(operation);
    }

    /// The operations whose write timed out after taking effect, in order.
    pub fn fired(&self) -> Vec<OperationId> {
        lock(&self.fired).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Adapter for TimeoutAfterCommit {
    fn descriptor(&self) -> &SystemDescriptor {
        self.inner.descriptor()
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.inner.read_grants(resource, cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let applied = self.inner.execute(op, account).await?;
        if lock(&self.armed).remove(&op.id) {
            lock(&self.fired).push(op.id.clone());
            return Err(AdapterError::Transient {
                error: SystemError::message(format!(
                    "{}: timed out waiting for the response",
                    self.name
                )),
                maybe_applied: true,
            });
        }
        Ok(applied)
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.inner.check(op, account).await
    }
}
