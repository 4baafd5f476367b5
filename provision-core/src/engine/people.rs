//! Planning a few people without reading everyone's grants: what the lifecycle
//! service does for each HR event. Every system's accounts are still read (the only
//! way to find a person's account), but grants are read per account only for the
//! accounts of the people planned, so an event costs a few requests per system
//! instead of one per account.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::Utc;

use super::read::PacedReads;
use super::{Engine, EngineError};
use crate::adapter::{ReadError, SystemDescriptor};
use crate::model::{
    AccountRecord, AccountRef, GrantRecord, Identity, ResourceRecord, ResourceRef, SystemName,
};
use crate::planner::GuardedPlan;
use crate::planner::read::{SystemReads, read_system_with};

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
}

impl Engine {
    /// Plans `people` only, as [`Engine::plan_for`] does, but reads per-account grants
    /// only for their accounts (the other accounts are not part of the actual state
    /// this plan is made from). `roster` is the blast radius's population.
    ///
    /// Under governance (separation-of-duties rules, or a governance store) a plan that
    /// may grant anything is made by [`Engine::plan_for`] instead, which checks the
    /// rules against everything the people hold and grants approved requests; a plan
    /// for leavers only grants nothing, so it keeps the fast path.
    pub async fn plan_people(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        let governed = !self.sod_rules.is_empty() || self.governance_store.is_some();
        let now = Utc::now();
        if governed && people.iter().any(|p| !p.is_terminated_at(now)) {
            return self.plan_for(roster, people, event).await;
        }
        let keys: BTreeSet<String> = people
            .iter()
            .flat_map(|p| {
                [
                    p.login.to_lowercase(),
                    p.email.to_lowercase(),
                    p.id.as_str().to_lowercase(),
                ]
            })
            .collect();
        let managed = self.managed_resources();
        let managed = &managed;
        let keys = &keys;
        let reads = self.adapters.iter().map(|(name, adapter)| async move {
            let descriptor = self
                .descriptors
                .get(name)
                .cloned()
                .unwrap_or_else(|| adapter.descriptor().clone());
            let reads = PeopleReads {
                inner: PacedReads {
                    executor: &self.executor,
                    system: name,
                    descriptor: &descriptor,
                },
                keys,
            };
            read_system_with(&reads, managed.iter())
                .await
                .map(|read| (name.clone(), read))
        });
        let reads: BTreeMap<_, _> = futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .collect();
        let in_scope: Vec<Identity> = people.to_vec();
        let actual = self.correlate(&in_scope, &reads);
        let now = Utc::now();
        let planner = self.planner(event, roster.len());
        let desired = planner.desired(people, &self.policies, now);
        Ok(planner.plan(&desired, &actual, now)?)
    }
}
