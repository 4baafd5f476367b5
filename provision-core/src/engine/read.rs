//! How the engine reads a system: the planner's one read routine
//! ([`crate::planner::read::read_system_with`]) over the executor's reads, so every
//! page is paced by the same per-system and per-budget limiters as writes, retried by
//! the same `RetryConfig` (a 429 during a read waits, it does not fail the run), and
//! counted in [`Executor::read_stats`].

use async_trait::async_trait;

use crate::adapter::{AdapterError, ReadError, SystemDescriptor, SystemError};
use crate::executor::{Executor, ExecutorReadError};
use crate::model::{
    AccountRecord, AccountRef, GrantRecord, ResourceRecord, ResourceRef, SystemName,
};
use crate::planner::read::SystemReads;

/// One system's reads through the executor.
pub struct PacedReads<'a> {
    /// The executor the system is registered with.
    pub executor: &'a Executor,
    /// The system's name in the deployment.
    pub system: &'a SystemName,
    /// Its descriptor.
    pub descriptor: &'a SystemDescriptor,
}

fn read_error(system: &SystemName, e: ExecutorReadError) -> ReadError {
    match e {
        ExecutorReadError::Read(e) => e,
        other => ReadError::Adapter {
            system: system.clone(),
            error: Box::new(AdapterError::Configuration {
                error: SystemError::message(other.to_string()),
            }),
        },
    }
}

#[async_trait]
impl SystemReads for PacedReads<'_> {
    fn system(&self) -> &SystemName {
        self.system
    }

    fn descriptor(&self) -> &SystemDescriptor {
        self.descriptor
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, ReadError> {
        self.executor
            .read_accounts(self.system)
            .await
            .map_err(|e| read_error(self.system, e))
    }

    async fn grants(&self, resource: &ResourceRef) -> Result<Vec<GrantRecord>, ReadError> {
        self.executor
            .read_grants(resource)
            .await
            .map_err(|e| read_error(self.system, e))
    }

    async fn account_grants(&self, account: &AccountRef) -> Result<Vec<GrantRecord>, ReadError> {
        self.executor
            .read_account_grants(self.system, account)
            .await
            .map_err(|e| read_error(self.system, e))
    }

    async fn resources(&self, kind: &str) -> Result<Vec<ResourceRecord>, ReadError> {
        self.executor
            .list_resources(self.system, kind)
            .await
            .map_err(|e| read_error(self.system, e))
    }
}
