//! Reading the systems for planning: everything a person holds, not only what
//! policies name.
//!
//! The one part of the planner that does I/O (through [`Adapter`]); everything
//! after it ([`correlate_reads`] and on) is pure.
//!
//! Per system, [`read_system`] reads every account; the grants on the resources
//! policies name, for kinds that are not
//! [enumerable](crate::adapter::ResourceKindDescriptor::enumerable); every
//! account's grants ([`Adapter::read_account_grants`]) where some kind is
//! enumerable, so that hand-made grants on resources no policy names are seen; and
//! the resources of nested enumerable kinds ([`Adapter::list_resources`]), whose
//! parents the planner follows.

use std::collections::{BTreeMap, HashSet};

use crate::adapter::{
    Adapter, ReadError, check_unique_accounts, drain_pages, list_all_resources,
    read_all_account_grants, read_all_grants,
};
use crate::clock::wall_now;
use crate::config::DeploymentConfig;
use crate::model::{
    AccountRef, ActualState, GrantRecord, Identity, ResourceRecord, ResourceRef, SystemName,
    SystemSnapshot,
};

use super::correlate::correlate_with;

/// One system as read for planning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemRead {
    /// Accounts and grants (policy-named resources and every account's grants).
    pub snapshot: SystemSnapshot,
    /// The resources of nested enumerable kinds, with their parents.
    pub resources: Vec<ResourceRecord>,
}

/// Reads one system for planning (see the module docs). `resources` are the
/// resources policies name ([`crate::model::DesiredState::managed_resources`]);
/// those of other systems are skipped.
pub async fn read_system<'r>(
    adapter: &dyn Adapter,
    system: &SystemName,
    resources: impl IntoIterator<Item = &'r ResourceRef>,
) -> Result<SystemRead, ReadError> {
    let descriptor = adapter.descriptor();
    let accounts = drain_pages(system, |cursor| async move {
        adapter.read_accounts(cursor.as_deref()).await
    })
    .await?;
    check_unique_accounts(system, &accounts)?;
    let enumerable = |kind: &str| descriptor.kind(kind).is_some_and(|k| k.enumerable);
    let reads_per_account =
        descriptor.has_accounts && descriptor.kinds.iter().any(|k| k.enumerable);

    let mut grants = Vec::new();
    for resource in resources {
        if &resource.system != system || (reads_per_account && enumerable(&resource.kind)) {
            continue;
        }
        grants.extend(read_all_grants(adapter, resource).await?);
    }
    let mut snapshot = SystemSnapshot {
        system: Some(system.clone()),
        accounts,
        grants,
        read_at: None,
    };
    if reads_per_account {
        let mut held = Vec::new();
        for account in &snapshot.accounts {
            let reference = AccountRef {
                external_id: Some(account.external_id.clone()),
                login: account.login.clone(),
            };
            for mut grant in read_all_account_grants(adapter, system, &reference).await? {
                if grant.account_external_id.is_empty() {
                    grant.account_external_id.clone_from(&account.external_id);
                }
                held.push(grant);
            }
        }
        merge_account_grants(&mut snapshot, held);
    }
    let mut listed = Vec::new();
    for kind in descriptor.kinds.iter().filter(|k| k.enumerable && k.nested) {
        listed.extend(list_all_resources(adapter, system, &kind.kind).await?);
    }
    snapshot.read_at = Some(wall_now());
    Ok(SystemRead {
        snapshot,
        resources: listed,
    })
}

/// Adds grants read per account ([`Adapter::read_account_grants`]) to a snapshot,
/// leaving out those it already has (the same entitlement held by the same account).
pub fn merge_account_grants(
    snapshot: &mut SystemSnapshot,
    grants: impl IntoIterator<Item = GrantRecord>,
) {
    let mut seen: HashSet<(String, crate::model::Entitlement)> = snapshot
        .grants
        .iter()
        .map(|g| (g.account_external_id.clone(), g.entitlement.clone()))
        .collect();
    for grant in grants {
        if seen.insert((grant.account_external_id.clone(), grant.entitlement.clone())) {
            snapshot.grants.push(grant);
        }
    }
}

/// The actual state from what [`read_system`] read: [`correlate_with`] over the
/// snapshots, with the listed resources kept in [`ActualState::resources`].
pub fn correlate_reads(
    identities: &[Identity],
    reads: &BTreeMap<SystemName, SystemRead>,
    config: &DeploymentConfig,
) -> ActualState {
    let snapshots: BTreeMap<SystemName, SystemSnapshot> = reads
        .iter()
        .map(|(s, r)| (s.clone(), r.snapshot.clone()))
        .collect();
    let mut state = correlate_with(identities, &snapshots, config);
    for (system, read) in reads {
        if !read.resources.is_empty() {
            state
                .resources
                .insert(system.clone(), read.resources.clone());
        }
    }
    state
}
