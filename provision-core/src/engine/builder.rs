//! [`EngineBuilder`]: the deployment, the policies, the adapter factories, the journal
//! and audit log, and who acts; `build` makes every adapter and one executor.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::adapter::{Adapter, AdapterFactory, ConfigError, FactoryRegistry, SystemSpec};
use crate::audit::{AuditLog, MemoryAuditLog};
use crate::clock::{Clock, SystemClock};
use crate::executor::{
    BudgetShare, ClaimSettings, ExecutionSubscriber, Executor, PendingConfig, RetryConfig,
};
use crate::gate::{BuildContext, HookMaker, PlanHook};
use crate::journal::{Journal, MemoryJournal, OperationClaims};
use crate::model::SystemName;
use crate::planner::Descriptors;

use super::ports::{Ports, Store};
use super::sources::{Deployment, Policies};
use super::validate::validate_sources;
use super::{Engine, EngineError};

/// A hook given as it is, or made at build time.
enum HookSource {
    Ready(Arc<dyn PlanHook>),
    Made(HookMaker),
}

/// The actor recorded in the audit log when none is given.
pub const DEFAULT_ACTOR: &str = "provision";

/// Builds an [`Engine`]. Needs a [`deployment`](Self::deployment), the
/// [`policies`](Self::policies) and the factories of the adapters the deployment
/// names; everything else has a default (journal and audit log in memory, actor
/// `provision`, the executor's default retries).
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct EngineBuilder {
    deployment: Option<Deployment>,
    policies: Option<Policies>,
    factories: FactoryRegistry,
    adapters: BTreeMap<SystemName, Arc<dyn Adapter>>,
    journal: Option<Arc<dyn Journal>>,
    audit: Option<Arc<dyn AuditLog>>,
    claims: Option<(Arc<dyn OperationClaims>, ClaimSettings)>,
    subscribers: Vec<Arc<dyn ExecutionSubscriber>>,
    retry: Option<RetryConfig>,
    pending: Option<PendingConfig>,
    actor: Option<String>,
    shared_budget: Option<BudgetShare>,
    hooks: Vec<HookSource>,
    clock: Option<Arc<dyn Clock>>,
    ports: Ports,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("deployment", &self.deployment)
            .field("factories", &self.factories)
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// The deployment: a `provision.yaml` path, or a [`crate::config::DeploymentConfig`].
    pub fn deployment(mut self, deployment: impl Into<Deployment>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// The policies: a file or directory of YAML files, or a
    /// [`crate::model::PolicySet`].
    pub fn policies(mut self, policies: impl Into<Policies>) -> Self {
        self.policies = Some(policies.into());
        self
    }

    /// Adds adapter factories (`provision_okta::factory()`, `provision_sandbox::factory()`,
    /// or your own as `Arc::new(WikiFactory)`, no cast needed: see
    /// [`IntoAdapterFactory`](crate::adapter::IntoAdapterFactory)); a later one for the
    /// same adapter type replaces an earlier one.
    pub fn factories<F: crate::adapter::IntoAdapterFactory>(
        mut self,
        factories: impl IntoIterator<Item = F>,
    ) -> Self {
        for factory in factories {
            self.factories.register(factory.into_factory());
        }
        self
    }

    /// Adds one adapter factory.
    pub fn factory(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.factories.register(factory);
        self
    }

    /// Uses these factories (replacing any added before).
    pub fn registry(mut self, registry: FactoryRegistry) -> Self {
        self.factories = registry;
        self
    }

    /// Uses `adapter` for the system `name` instead of building one through its
    /// factory (an adapter configured in code, or one wrapped for tests).
    pub fn adapter(mut self, name: impl Into<SystemName>, adapter: Arc<dyn Adapter>) -> Self {
        self.adapters.insert(name.into(), adapter);
        self
    }

    /// Where every operation's state changes are recorded (default: in memory).
    pub fn journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Where every change is audited (default: in memory).
    pub fn audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Registers every port `store` implements (`provision_store::SqliteStore`: the
    /// journal, the audit log, and the governance and evidence stores): the engine
    /// uses the journal and audit log; the others are kept for the crates that use
    /// them ([`super::Engine::port`]).
    pub fn store<S: Store>(mut self, store: Arc<S>) -> Self {
        store.register(&mut self.ports);
        if let Some(journal) = self.ports.get::<Arc<dyn Journal>>() {
            self.journal = Some(Arc::clone(journal));
        }
        if let Some(audit) = self.ports.get::<Arc<dyn AuditLog>>() {
            self.audit = Some(Arc::clone(audit));
        }
        self
    }

    /// Adds a hook every plan passes (see [`crate::gate`]); hooks run in the order
    /// they were added.
    pub fn hook(mut self, hook: Arc<dyn PlanHook>) -> Self {
        self.hooks.push(HookSource::Ready(hook));
        self
    }

    /// Adds a hook made when the engine is built, from the deployment, the
    /// descriptors and the policies ([`BuildContext`]): a hook whose own
    /// configuration is validated against them. Its error fails the build.
    pub fn hook_with(
        mut self,
        make: impl FnOnce(&BuildContext<'_>) -> Result<Arc<dyn PlanHook>, crate::gate::HookError>
        + Send
        + 'static,
    ) -> Self {
        self.hooks.push(HookSource::Made(Box::new(make)));
        self
    }

    /// The clock plans are made by (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Operation claims shared by several instances (see
    /// [`crate::executor::ExecutorBuilder::claims`]).
    pub fn claims(mut self, claims: Arc<dyn OperationClaims>, settings: ClaimSettings) -> Self {
        self.claims = Some((claims, settings));
        self
    }

    /// Rate budgets split with the other instances of `share`'s registry (see
    /// [`crate::executor::ExecutorBuilder::shared_budget`]).
    pub fn shared_budget(mut self, share: BudgetShare) -> Self {
        self.shared_budget = Some(share);
        self
    }

    /// Receives every execution event (progress display, metrics).
    pub fn subscriber(mut self, subscriber: Arc<dyn ExecutionSubscriber>) -> Self {
        self.subscribers.push(subscriber);
        self
    }

    /// Retry settings for transient failures.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// How pending operations are re-checked.
    pub fn pending(mut self, pending: PendingConfig) -> Self {
        self.pending = Some(pending);
        self
    }

    /// Who acts, as recorded in the audit log (`hr-sync`, a person's login).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Loads the deployment, describes every system without credentials, checks the
    /// dependencies' kinds and the policies against the descriptors, builds every
    /// system's adapter through its factory (resolving credentials now), and builds
    /// one executor.
    ///
    /// Fails with the first problem: an unknown `adapter:` names the known ones, a
    /// missing credential names the variable or file expected, a policy problem names
    /// its file:line.
    pub async fn build(self) -> Result<Engine, EngineError> {
        let deployment = self
            .deployment
            .ok_or(EngineError::Incomplete { what: "deployment" })?
            .load()?;
        let policies = self
            .policies
            .ok_or(EngineError::Incomplete { what: "policies" })?;
        if let Some(name) = self
            .adapters
            .keys()
            .find(|n| !deployment.config.systems.contains_key(*n))
        {
            return Err(ConfigError::Other {
                system: name.to_string(),
                message: "an adapter was given for a system the deployment does not have"
                    .to_owned(),
            }
            .into());
        }
        let validated = validate_sources(deployment, policies, &self.factories, &self.adapters)?;

        let mut adapters = BTreeMap::new();
        for (name, config) in &validated.config.systems {
            let adapter = match self.adapters.get(name) {
                Some(adapter) => Arc::clone(adapter),
                None => self.factories.build(SystemSpec { name, config }).await?,
            };
            tracing::debug!(system = %name, adapter = %config.adapter, "adapter built");
            adapters.insert(name.clone(), adapter);
        }
        // Plans use what the built adapters declare (a setting may refine a descriptor);
        // policies were validated against the credential-free ones.
        let descriptors: Descriptors = adapters
            .iter()
            .map(|(name, adapter)| (name.clone(), adapter.descriptor().clone()))
            .collect();

        let journal = self
            .journal
            .unwrap_or_else(|| Arc::new(MemoryJournal::new()) as Arc<dyn Journal>);
        let audit = self
            .audit
            .unwrap_or_else(|| Arc::new(MemoryAuditLog::new()) as Arc<dyn AuditLog>);
        let actor = self.actor.unwrap_or_else(|| DEFAULT_ACTOR.to_owned());
        let mut executor = Executor::builder()
            .journal(Arc::clone(&journal))
            .audit_log(Arc::clone(&audit))
            .actor(actor.clone())
            .blast_radius(validated.config.blast_radius);
        if let Some(retry) = self.retry {
            executor = executor.retry(retry);
        }
        if let Some(pending) = self.pending {
            executor = executor.pending(pending);
        }
        if let Some((claims, settings)) = self.claims {
            executor = executor.claims(claims, settings);
        }
        if let Some(share) = self.shared_budget {
            executor = executor.shared_budget(share);
        }
        for subscriber in self.subscribers {
            executor = executor.subscriber(subscriber);
        }
        for (name, adapter) in &adapters {
            if let Some(config) = validated.config.systems.get(name) {
                executor = executor.system(name.clone(), Arc::clone(adapter), config.clone());
            }
        }
        let executor = executor.build()?;
        let mut hooks = Vec::with_capacity(self.hooks.len());
        for source in self.hooks {
            hooks.push(match source {
                HookSource::Ready(hook) => hook,
                HookSource::Made(make) => make(&BuildContext {
                    config: &validated.config,
                    descriptors: &descriptors,
                    policies: &validated.policies,
                    policies_path: validated.policies_path.as_deref(),
                })?,
            });
        }
        tracing::info!(
            systems = adapters.len(),
            policies = validated.policies.policies.len(),
            "engine built"
        );
        Ok(Engine {
            config: validated.config,
            policies: validated.policies,
            descriptors,
            adapters,
            executor,
            journal,
            hooks,
            audit,
            actor,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            ports: self.ports,
        })
    }
}
