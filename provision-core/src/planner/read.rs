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

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;

use crate::adapter::{
    Adapter, AdapterError, ReadError, SystemDescriptor, check_unique_accounts, drain_pages,
    list_all_resources, read_all_account_grants, read_all_grants,
};
use crate::clock::wall_now;
use crate::config::DeploymentConfig;
use crate::model::{
    AccountRecord, AccountRef, ActualState, GrantRecord, Identity, ResourceRecord, ResourceRef,
    SystemName, SystemSnapshot,
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

/// Where [`read_system_with`] gets each whole read from: straight from an adapter
/// ([`DirectReads`]), or through the executor's paced and retried reads (the
/// Engine's `PacedReads`), so every caller reads a system by the same rules.
#[async_trait]
pub trait SystemReads: Send + Sync {
    /// The system's name in the deployment.
    fn system(&self) -> &SystemName;
    /// What the system can do (which kinds are enumerable, nested).
    fn descriptor(&self) -> &SystemDescriptor;
    /// Every account.
    async fn accounts(&self) -> Result<Vec<AccountRecord>, ReadError>;
    /// Every grant on one resource.
    async fn grants(&self, resource: &ResourceRef) -> Result<Vec<GrantRecord>, ReadError>;
    /// Everything one account holds.
    async fn account_grants(&self, account: &AccountRef) -> Result<Vec<GrantRecord>, ReadError>;
    /// Every resource of one kind.
    async fn resources(&self, kind: &str) -> Result<Vec<ResourceRecord>, ReadError>;
    /// The system's own id for a resource ([`Adapter::resource_id`]); the default,
    /// `None`, matches resources by name as written.
    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, ReadError> {
        let _ = resource;
        Ok(None)
    }
}

/// Reads straight from an adapter, draining every page (no pacing, no retries: for
/// tests, tools and callers that pace themselves).
#[derive(Clone, Copy)]
pub struct DirectReads<'a> {
    /// The adapter.
    pub adapter: &'a dyn Adapter,
    /// The system's name in the deployment.
    pub system: &'a SystemName,
}

#[async_trait]
impl SystemReads for DirectReads<'_> {
    fn system(&self) -> &SystemName {
        self.system
    }

    fn descriptor(&self) -> &SystemDescriptor {
        self.adapter.descriptor()
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, ReadError> {
        let accounts = drain_pages(self.system, |cursor| async move {
            self.adapter.read_accounts(cursor.as_deref()).await
        })
        .await?;
        check_unique_accounts(self.system, &accounts)?;
        Ok(accounts)
    }

    async fn grants(&self, resource: &ResourceRef) -> Result<Vec<GrantRecord>, ReadError> {
        read_all_grants(self.adapter, resource).await
    }

    async fn account_grants(&self, account: &AccountRef) -> Result<Vec<GrantRecord>, ReadError> {
        read_all_account_grants(self.adapter, self.system, account).await
    }

    async fn resources(&self, kind: &str) -> Result<Vec<ResourceRecord>, ReadError> {
        list_all_resources(self.adapter, self.system, kind).await
    }

    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, ReadError> {
        self.adapter
            .resource_id(resource)
            .await
            .map_err(|error| ReadError::Adapter {
                system: self.system.clone(),
                error: Box::new(error),
            })
    }
}

fn is_not_found(e: &ReadError) -> bool {
    matches!(e.adapter_error(), Some(AdapterError::NotFound { .. }))
}

/// Reads one system for planning (see the module docs) straight from its adapter.
/// `resources` are the resources policies name
/// ([`crate::model::DesiredState::managed_resources`]); those of other systems are
/// skipped.
pub async fn read_system<'r>(
    adapter: &dyn Adapter,
    system: &SystemName,
    resources: impl IntoIterator<Item = &'r ResourceRef>,
) -> Result<SystemRead, ReadError> {
    read_system_with(&DirectReads { adapter, system }, resources).await
}

/// Reads one system for planning through `reads` (see the module docs): a resource
/// policies name that does not exist yet has no grants; an adapter that declares an
/// enumerable kind but cannot read an account's grants is read by resource instead.
pub async fn read_system_with<'r>(
    reads: &dyn SystemReads,
    resources: impl IntoIterator<Item = &'r ResourceRef>,
) -> Result<SystemRead, ReadError> {
    let system = reads.system();
    let descriptor = reads.descriptor();
    let resources: Vec<&ResourceRef> = resources.into_iter().collect();
    let accounts = reads.accounts().await?;
    let enumerable = |kind: &str| descriptor.kind(kind).is_some_and(|k| k.enumerable);
    let mut reads_per_account =
        descriptor.has_accounts && descriptor.kinds.iter().any(|k| k.enumerable);

    let mut snapshot = SystemSnapshot {
        system: Some(system.clone()),
        accounts,
        grants: Vec::new(),
        read_at: None,
    };
    if reads_per_account {
        let mut held = Vec::new();
        for account in &snapshot.accounts {
            let reference = AccountRef {
                external_id: Some(account.external_id.clone()),
                login: account.login.clone(),
            };
            match reads.account_grants(&reference).await {
                Ok(found) => {
                    for mut grant in in_system(system, found) {
                        if grant.account_external_id.is_empty() {
                            grant.account_external_id.clone_from(&account.external_id);
                        }
                        held.push(grant);
                    }
                }
                Err(e) if matches!(e.adapter_error(), Some(AdapterError::Unsupported { .. })) => {
                    tracing::warn!(
                        system = %system,
                        "an enumerable kind is declared but read_account_grants is unsupported; reading by resource"
                    );
                    reads_per_account = false;
                    held.clear();
                    break;
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        snapshot.grants = held;
    }
    let mut by_resource = Vec::new();
    for &resource in &resources {
        if &resource.system != system || (reads_per_account && enumerable(&resource.kind)) {
            continue;
        }
        match reads.grants(resource).await {
            Ok(found) => by_resource.extend(in_system(system, found)),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let spellings = Spellings::of(reads, &resources).await?;
    spellings.respell(reads, &mut snapshot.grants).await?;
    spellings.respell(reads, &mut by_resource).await?;
    merge_account_grants(&mut snapshot, by_resource);
    let mut listed = Vec::new();
    for kind in descriptor
        .kinds
        .iter()
        .filter(|k| k.enumerable && (k.nested || k.nested_in.is_some()))
    {
        listed.extend(reads.resources(&kind.kind).await?);
    }
    snapshot.read_at = Some(wall_now());
    Ok(SystemRead {
        snapshot,
        resources: listed,
    })
}

/// The spelling policies give each resource of a system whose adapter knows resources
/// by an id ([`SystemReads::resource_id`]): (kind, id) → the policy's spelling.
struct Spellings {
    by_id: HashMap<(String, String), String>,
    /// (kind, spelling) of every policy-named resource that has an id.
    written: HashSet<(String, String)>,
}

impl Spellings {
    /// The ids of the resources policies name in this system.
    async fn of(reads: &dyn SystemReads, resources: &[&ResourceRef]) -> Result<Self, ReadError> {
        let mut out = Self {
            by_id: HashMap::new(),
            written: HashSet::new(),
        };
        for resource in resources.iter().filter(|r| &r.system == reads.system()) {
            if let Some(id) = id_of(reads, resource).await? {
                out.by_id
                    .entry((resource.kind.clone(), id))
                    .or_insert_with(|| resource.resource.clone());
                out.written
                    .insert((resource.kind.clone(), resource.resource.clone()));
            }
        }
        Ok(out)
    }

    /// Gives each grant read under another spelling of a policy-named resource (or
    /// under its new name after a rename) the policy's spelling. One id lookup per
    /// distinct spelling read.
    async fn respell(
        &self,
        reads: &dyn SystemReads,
        grants: &mut [GrantRecord],
    ) -> Result<(), ReadError> {
        if self.by_id.is_empty() {
            return Ok(());
        }
        let kinds: HashSet<&str> = self.by_id.keys().map(|(k, _)| k.as_str()).collect();
        let mut known: HashMap<(String, String), Option<String>> = HashMap::new();
        for grant in grants.iter_mut() {
            let e = &grant.entitlement;
            let key = (e.kind.clone(), e.resource.clone());
            if !kinds.contains(e.kind.as_str()) || self.written.contains(&key) {
                continue;
            }
            let id = match known.get(&key) {
                Some(id) => id.clone(),
                None => {
                    let id = id_of(reads, &e.resource_ref()).await?;
                    known.insert(key.clone(), id.clone());
                    id
                }
            };
            if let Some(spelling) = id.and_then(|id| self.by_id.get(&(key.0, id))) {
                grant.entitlement.resource.clone_from(spelling);
            }
        }
        Ok(())
    }
}

/// A resource's id; a resource the system does not know (yet) has none.
async fn id_of(
    reads: &dyn SystemReads,
    resource: &ResourceRef,
) -> Result<Option<String>, ReadError> {
    match reads.resource_id(resource).await {
        Ok(id) => Ok(id),
        Err(e)
            if matches!(
                e.adapter_error(),
                Some(AdapterError::NotFound { .. } | AdapterError::Configuration { .. })
            ) =>
        {
            tracing::debug!(resource = %resource, error = %e, "no id for the resource; matched by name");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The grants an adapter read, as held in `system` (its name in `provision.yaml`):
/// whatever the adapter wrote in [`Entitlement::system`](crate::model::Entitlement::system)
/// (often its adapter type, `wiki`), the engine names the system it read. An adapter
/// never needs to know the name it was given, and renaming a system in the
/// deployment never makes a plan re-grant what people already hold.
pub fn in_system(system: &SystemName, grants: Vec<GrantRecord>) -> Vec<GrantRecord> {
    grants
        .into_iter()
        .map(|mut grant| {
            if &grant.entitlement.system != system {
                grant.entitlement.system = system.clone();
            }
            grant
        })
        .collect()
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::adapter::ResourceKindDescriptor;
    use crate::model::{AccountState, Entitlement};

    /// A system that spells a channel `#eng` when it reads it and knows it by `C1`,
    /// as Slack does.
    struct Spelled {
        system: SystemName,
        descriptor: SystemDescriptor,
    }

    #[async_trait]
    impl SystemReads for Spelled {
        fn system(&self) -> &SystemName {
            &self.system
        }
        fn descriptor(&self) -> &SystemDescriptor {
            &self.descriptor
        }
        async fn accounts(&self) -> Result<Vec<AccountRecord>, ReadError> {
            Ok(vec![AccountRecord::new(
                "U1",
                "ada@example.com",
                AccountState::Active,
            )])
        }
        async fn grants(&self, _: &ResourceRef) -> Result<Vec<GrantRecord>, ReadError> {
            Ok(Vec::new())
        }
        async fn account_grants(&self, _: &AccountRef) -> Result<Vec<GrantRecord>, ReadError> {
            Ok(["#eng", "#random"]
                .into_iter()
                .map(|name| GrantRecord {
                    entitlement: Entitlement::new("slack", "channel", name),
                    account_external_id: "U1".into(),
                    login: None,
                })
                .collect())
        }
        async fn resources(&self, _: &str) -> Result<Vec<ResourceRecord>, ReadError> {
            Ok(Vec::new())
        }
        async fn resource_id(&self, r: &ResourceRef) -> Result<Option<String>, ReadError> {
            Ok(match r.resource.as_str() {
                "#eng" | "eng" | "C1" => Some("C1".into()),
                "#random" | "C2" => Some("C2".into()),
                _ => None,
            })
        }
    }

    #[tokio::test]
    async fn a_grant_read_under_another_spelling_takes_the_policys() {
        let reads = Spelled {
            system: SystemName::new("slack"),
            descriptor: SystemDescriptor::new("slack")
                .with_accounts()
                .with_kind(ResourceKindDescriptor::new("channel", &["invite"]).enumerable()),
        };
        let named = Entitlement::new("slack", "channel", "C1").resource_ref();
        let read = read_system_with(&reads, [&named]).await.unwrap();
        let held: Vec<&str> = read
            .snapshot
            .grants
            .iter()
            .map(|g| g.entitlement.resource.as_str())
            .collect();
        assert_eq!(
            held,
            ["C1", "#random"],
            "the policy's spelling for the channel it names; the read's for the others"
        );
    }
}
