//! How the engine reads the systems: one read loop, over the executor's paced and
//! retried reads, for everyone or for a few people.
//!
//! Every page goes through the same per-system and per-budget limiters as writes,
//! is retried by the same `RetryConfig` (a 429 during a read waits, it does not
//! fail the run), and is counted in [`Executor::read_stats`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use crate::adapter::{AdapterError, ReadError, SystemDescriptor, SystemError};
use crate::executor::{Executor, ExecutorReadError};
use crate::model::{
    AccountRecord, AccountRef, GrantRecord, Identity, ResourceRecord, ResourceRef, SystemName,
};
use crate::planner::{SystemRead, SystemReads, read_system_with};

use super::Engine;

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

    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, ReadError> {
        self.executor
            .resource_id(resource)
            .await
            .map_err(|e| read_error(self.system, e))
    }
}

/// Whose holdings a read covers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadScope<'a> {
    /// Every account's grants.
    Everyone,
    /// Only the accounts of these people: every system's accounts are still listed
    /// (the only way to find a person's account), but grants are read per account
    /// only for theirs, so an event costs a few requests per system instead of one
    /// per account.
    People(&'a [Identity]),
}

/// A system's reads limited to the accounts of some people: matched by login or
/// email (case-insensitive), or an account attribute equal to their HR id (the
/// correlation keys a deployment maps).
struct PeopleReads<'a> {
    inner: PacedReads<'a>,
    keys: &'a BTreeSet<String>,
}

#[async_trait]
impl SystemReads for PeopleReads<'_> {
    fn system(&self) -> &SystemName {
        self.inner.system()
    }

    fn descriptor(&self) -> &SystemDescriptor {
        self.inner.descriptor()
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, ReadError> {
        let all = self.inner.accounts().await?;
        Ok(all
            .into_iter()
            .filter(|a| {
                self.keys.contains(&a.login.to_lowercase())
                    || a.attributes
                        .values()
                        .any(|v| self.keys.contains(&v.to_lowercase()))
            })
            .collect())
    }

    async fn grants(&self, resource: &ResourceRef) -> Result<Vec<GrantRecord>, ReadError> {
        self.inner.grants(resource).await
    }

    async fn account_grants(&self, account: &AccountRef) -> Result<Vec<GrantRecord>, ReadError> {
        self.inner.account_grants(account).await
    }

    async fn resources(&self, kind: &str) -> Result<Vec<ResourceRecord>, ReadError> {
        self.inner.resources(kind).await
    }

    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, ReadError> {
        self.inner.resource_id(resource).await
    }
}

impl Engine {
    /// The one read loop: every system side by side (the slowest system, not the sum,
    /// bounds a read), on `resources` (those of other systems are skipped), for
    /// `scope`. Each snapshot carries the time it was read.
    pub(crate) async fn read_scoped(
        &self,
        resources: &BTreeSet<ResourceRef>,
        scope: ReadScope<'_>,
    ) -> Result<BTreeMap<SystemName, SystemRead>, ReadError> {
        let keys: BTreeSet<String> = match scope {
            ReadScope::Everyone => BTreeSet::new(),
            ReadScope::People(people) => people
                .iter()
                .flat_map(|p| {
                    [
                        p.login.to_lowercase(),
                        p.email.to_lowercase(),
                        p.id.as_str().to_lowercase(),
                    ]
                })
                .collect(),
        };
        let keys = &keys;
        let reads = self.adapters.iter().map(|(name, adapter)| async move {
            let descriptor = self
                .descriptors
                .get(name)
                .cloned()
                .unwrap_or_else(|| adapter.descriptor().clone());
            let paced = PacedReads {
                executor: &self.executor,
                system: name,
                descriptor: &descriptor,
            };
            let mine: Vec<&ResourceRef> = resources.iter().filter(|r| &r.system == name).collect();
            let read = match scope {
                ReadScope::Everyone => read_system_with(&paced, mine).await,
                ReadScope::People(_) => {
                    let people = PeopleReads { inner: paced, keys };
                    read_system_with(&people, mine).await
                }
            };
            read.map(|read| (name.clone(), read))
        });
        let reads = futures::future::try_join_all(reads).await?;
        Ok(reads.into_iter().collect())
    }
}
