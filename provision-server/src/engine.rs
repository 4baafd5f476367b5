//! How the service builds its [`Engine`]: in one function, so that what every
//! instance shares (the store as journal and audit log, the operation claims and the
//! rate budget on PostgreSQL) is wired in one place.
//!
//! On PostgreSQL every instance joins the registry of live instances
//! ([`join_shared_budget`]) and its limiters take `limit / live instances` of every
//! system's budget, so the combined rate of all instances stays within each
//! system's limit; a 429 met by one instance pauses the others too (see
//! [`provision_core::executor::BudgetShare`] for why the budget is split rather than
//! counted per request). The heartbeat renews this instance's lease every second;
//! an instance that dies gives its share back five seconds later.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::{Adapter, FactoryRegistry};
use provision_core::engine::{Engine, EngineError};
use provision_core::executor::{
    BudgetShare, ClaimSettings, ExecutionSubscriber, PendingConfig, ShareSettings,
};
use provision_core::journal::Journal;
use provision_core::model::SystemName;
use provision_governance::{GovernanceHook, GovernanceStore, MemoryGovernanceStore};

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::store::ServiceStore;

/// What a program embedding the service adds to the configuration: the adapter
/// factories the deployment's `adapter:` names need, and adapters built in code.
#[derive(Default, Clone)]
pub struct EngineParts {
    /// Factories (`provision_okta::factory()`, `provision_sandbox::factory()`, ...).
    pub factories: FactoryRegistry,
    /// Adapters used instead of building one through a factory, by system.
    pub adapters: BTreeMap<SystemName, Arc<dyn Adapter>>,
    /// Woken after each audit append (the service's SIEM pumps); set by the service.
    pub audit_waker: Option<provision_siem::SiemWaker>,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts")
            .field("factories", &self.factories)
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Joins the rate budget shared with the other instances on the same store, under
/// this instance's name, when the store shares one (PostgreSQL); `None` otherwise
/// (SQLite: one instance, whose limiters take the whole budget). Run
/// [`BudgetShare::run`] beside the engine: without its heartbeat the lease lapses
/// and this instance stops sending.
pub async fn join_shared_budget(
    config: &ServerConfig,
    store: &Arc<dyn ServiceStore>,
) -> Result<Option<BudgetShare>, ServerError> {
    let Some(registry) = Arc::clone(store).shared_budget() else {
        return Ok(None);
    };
    let settings = ShareSettings {
        instance: Some(config.instance_name()),
        ..ShareSettings::default()
    };
    Ok(Some(BudgetShare::join(registry, settings).await?))
}

/// Builds the engine of one service instance: the deployment and policies of
/// `config`, the adapters of `parts`, the store as journal and audit log, the store's
/// operation claims when it shares them (PostgreSQL) under this instance's name, this
/// instance's share of the rate budgets (`budget`, from [`join_shared_budget`]), a
/// short pending wait (pending operations are handed to the schedule instead), and
/// `subscriber` for metrics.
pub async fn build_engine(
    config: &ServerConfig,
    store: &Arc<dyn ServiceStore>,
    parts: &EngineParts,
    subscriber: Arc<dyn ExecutionSubscriber>,
    budget: Option<&BudgetShare>,
) -> Result<Engine, EngineError> {
    let wait = Duration::from_secs(config.worker.pending_wait_seconds);
    let mut builder = Engine::builder()
        .deployment(config.deployment.as_path())
        .policies(config.policies.as_path())
        .registry(parts.factories.clone())
        .journal(Arc::clone(store) as Arc<dyn Journal>)
        .audit_log(crate::siem::audit_log(store, parts.audit_waker.as_ref()))
        .actor(config.actor.clone())
        .pending(PendingConfig {
            interval: wait.clamp(Duration::from_millis(200), Duration::from_secs(30)),
            deadline: wait,
        })
        .subscriber(subscriber);
    for (name, adapter) in &parts.adapters {
        builder = builder.adapter(name.clone(), Arc::clone(adapter));
    }
    if let Some(claims) = Arc::clone(store).shared_claims() {
        let mut settings = ClaimSettings::new(config.instance_name());
        settings.lease = config.lease();
        settings.poll = Duration::from_millis(config.worker.poll_millis.max(50));
        builder = builder.claims(claims, settings);
    }
    if let Some(share) = budget {
        builder = builder.shared_budget(share.clone());
    }
    // Every plan the service makes passes the governance hook: the separation-of-duties
    // rules of the policy files always apply. With a `governance:` section, exceptions
    // and approved requests live in the same store, and every plan (reconcile, events,
    // requests) grants them and lets an exception cover its conflict; without one, no
    // exception or request exists.
    let records: Arc<dyn GovernanceStore> = if config.governance.is_some() {
        Arc::clone(store) as Arc<dyn GovernanceStore>
    } else {
        Arc::new(MemoryGovernanceStore::new())
    };
    builder = builder.hook_with(GovernanceHook::with_policy_rules(records));
    builder.build().await
}
