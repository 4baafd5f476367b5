//! The `Engine`: one object that holds a deployment, its policies, an adapter per
//! system and an executor, and answers the questions a program asks of them —
//! what would change ([`Engine::plan`]), make it so ([`Engine::apply`]), what no
//! longer matches ([`Engine::drift`]), why someone has something ([`Engine::why`]) —
//! and, without any credential, whether a deployment and its policies are valid
//! ([`Engine::validate`]).
//!
//! ```no_run
//! use provision_core::engine::Engine;
//! use provision_core::model::Identity;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::builder()
//!     .deployment("examples/provision.yaml")
//!     .policies("examples/policies")
//!     .factory(provision_sandbox::factory())
//!     .actor("hr-sync")
//!     .build()
//!     .await?;
//! // The people, usually read from an HR export by `provision-roster`.
//! let roster = vec![
//!     Identity::new("e1001", "sarah.chen@company.com", "Sarah Chen")
//!         .with_attribute("department", "Sales"),
//! ];
//! let plan = engine.plan(&roster, "nightly").await?.approve()?;
//! let report = engine.apply(&plan).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! The pieces it strings together stay public ([`crate::planner`],
//! [`crate::executor`], [`crate::drift`]) for programs that need another shape.

mod builder;
mod dependency_kinds;
mod error;
mod plans;
mod ports;
mod read;
mod sources;
mod validate;
mod why;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::adapter::{Adapter, FactoryRegistry, ReadError};
use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::DeploymentConfig;
use crate::executor::Executor;
use crate::gate::PlanHook;
use crate::journal::Journal;
use crate::model::{
    ActualState, DesiredState, Entitlement, Identity, PolicySet, ResourceRef, SystemName,
    SystemSnapshot,
};
use crate::planner::{Descriptors, Planner};
use crate::planner::{SystemRead, correlate_reads};

pub use builder::{DEFAULT_ACTOR, EngineBuilder};
pub use error::EngineError;
pub use plans::Observed;
pub use ports::{Ports, Store, register_core};
pub use read::PacedReads;
pub use sources::{Deployment, Policies};
pub use validate::Validated;
pub use why::Because;

/// A deployment, its policies, an adapter per system, one executor and the hooks
/// every plan passes ([`crate::gate`]). Build it with [`Engine::builder`]; it can
/// plan and apply many times, for several callers at once: it keeps no state of a
/// plan between calls (a plan carries the account ids it was made from), and its
/// executor's rate-limit state carries over from one run to the next.
pub struct Engine {
    config: DeploymentConfig,
    policies: PolicySet,
    descriptors: Descriptors,
    adapters: BTreeMap<SystemName, Arc<dyn Adapter>>,
    executor: Executor,
    journal: Arc<dyn Journal>,
    /// The hooks every plan passes, in the order they were added.
    hooks: Vec<Arc<dyn PlanHook>>,
    /// The audit log (refusals are recorded there too).
    audit: Arc<dyn AuditLog>,
    /// Who acts, as recorded in the audit log.
    actor: String,
    /// The time plans are made for.
    clock: Arc<dyn Clock>,
    /// The ports of the store given to the builder, by type.
    ports: Ports,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("systems", &self.adapters.keys().collect::<Vec<_>>())
            .field("policies", &self.policies.policies.len())
            .field("hooks", &self.hooks)
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder: [`EngineBuilder::deployment`], [`EngineBuilder::policies`],
    /// [`EngineBuilder::factories`], then [`EngineBuilder::build`].
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Validates a deployment and its policies with no credential at all: every
    /// system's descriptor comes from its factory's settings alone, every
    /// dependency's `kind` is checked against them (file:line), and the policies are
    /// validated against them (file:line). What CI runs on a pull request.
    pub fn validate(
        deployment: impl Into<Deployment>,
        policies: impl Into<Policies>,
        factories: &FactoryRegistry,
    ) -> Result<Validated, EngineError> {
        validate::validate(deployment.into(), policies.into(), factories)
    }

    /// The deployment.
    pub fn config(&self) -> &DeploymentConfig {
        &self.config
    }

    /// The policies.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Each system's descriptor, as its adapter declares it.
    pub fn descriptors(&self) -> &Descriptors {
        &self.descriptors
    }

    /// The adapter of a system (by canonical name or alias).
    pub fn adapter(&self, system: &str) -> Option<&Arc<dyn Adapter>> {
        let name = self.config.resolve_system(system)?;
        self.adapters.get(name)
    }

    /// The systems, by canonical name.
    pub fn systems(&self) -> impl Iterator<Item = &SystemName> {
        self.adapters.keys()
    }

    /// The executor (for [`Executor::resume`] of an interrupted run).
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The journal runs are recorded in.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    /// The audit log every change (and every refusal) is recorded in.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        &self.audit
    }

    /// Who acts, as recorded in the audit log.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The hooks every plan passes.
    pub fn hooks(&self) -> &[Arc<dyn PlanHook>] {
        &self.hooks
    }

    /// The port of type `P` the builder's store registered
    /// (`Arc<dyn provision_governance::GovernanceStore>`).
    pub fn port<P: std::any::Any + Send + Sync>(&self) -> Option<&P> {
        self.ports.get::<P>()
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The time now, from the engine's clock ([`EngineBuilder::clock`]).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A planner over this deployment, for `event`, measuring the blast radius against
    /// `population` people.
    pub fn planner(&self, event: &str, population: usize) -> Planner<'_> {
        Planner::new(&self.config, &self.descriptors)
            .with_event(event)
            .with_population(population)
    }

    /// What the policies give `people` now (hooks not asked: see
    /// [`Engine::observe`]).
    pub fn desired(&self, people: &[Identity]) -> DesiredState {
        Planner::new(&self.config, &self.descriptors).desired(people, &self.policies, self.now())
    }

    /// Every resource a policy mentions (whose grants a read covers).
    fn managed_resources(&self) -> BTreeSet<ResourceRef> {
        self.desired(&[]).managed_resources
    }

    /// Reads every system through the executor's paced, retried reads: accounts,
    /// the grants on every resource a policy mentions, each account's grants where a
    /// kind is enumerable, and the resources of nested kinds. Each snapshot carries the
    /// time it was read.
    pub async fn read_systems(&self) -> Result<BTreeMap<SystemName, SystemRead>, ReadError> {
        self.read_scoped(&self.managed_resources(), read::ReadScope::Everyone)
            .await
    }

    /// Reads every system (see [`Engine::read_systems`]): the snapshots only.
    pub async fn read(&self) -> Result<BTreeMap<SystemName, SystemSnapshot>, ReadError> {
        Ok(self
            .read_systems()
            .await?
            .into_iter()
            .map(|(name, read)| (name, read.snapshot))
            .collect())
    }

    /// Reads every system and correlates what it holds with the people of `roster`
    /// (by the deployment's correlation rules, then login).
    pub async fn actual(&self, roster: &[Identity]) -> Result<ActualState, ReadError> {
        let reads = self.read_systems().await?;
        Ok(self.correlate(roster, &reads))
    }

    fn correlate(
        &self,
        roster: &[Identity],
        reads: &BTreeMap<SystemName, SystemRead>,
    ) -> ActualState {
        correlate_reads(roster, reads, &self.config)
    }

    /// "Why does this person have this?": every policy that gives `person` the
    /// `entitlement`, where it is written and the attribute values that matched. Empty
    /// when no policy gives it.
    pub fn why(&self, person: &Identity, entitlement: &Entitlement) -> Vec<Because> {
        let desired = self.desired(std::slice::from_ref(person));
        desired
            .why(&person.id, entitlement)
            .unwrap_or_default()
            .iter()
            .map(|p| Because::from_provenance(p, &self.policies))
            .collect()
    }
}
