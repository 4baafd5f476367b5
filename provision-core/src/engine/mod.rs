//! The `Engine`: one object that holds a deployment, its policies, an adapter per
//! system and an executor, and answers the questions a program asks of them —
//! what would change ([`Engine::plan`]), make it so ([`Engine::apply`]), what no
//! longer matches ([`Engine::drift`]), why someone has something ([`Engine::why`]) —
//! and, without any credential, whether a deployment and its policies are valid
//! ([`Engine::validate`]).
//!
//! ```no_run
//! use provision_core::engine::Engine;
//! use provision_core::roster::load_roster;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::builder()
//!     .deployment("examples/provision.yaml")
//!     .policies("examples/policies")
//!     .factory(provision_sandbox::factory())
//!     .actor("hr-sync")
//!     .build()
//!     .await?;
//! let roster = load_roster("examples/roster.yaml".as_ref())?;
//! let plan = engine.plan(&roster, "nightly").await?.approve()?;
//! let report = engine.apply(&plan).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! The pieces it strings together stay public ([`crate::planner`],
//! [`crate::executor`], [`crate::drift`]) for programs that need another shape.

mod builder;
mod error;
mod evidence;
mod governance;
mod people;
mod read;
mod sources;
mod validate;
mod why;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;

use crate::adapter::{Adapter, FactoryRegistry};
use crate::audit::AuditLog;
use crate::config::DeploymentConfig;
use crate::drift::{DriftInputs, DriftReport, detect_drift, read_times};
use crate::executor::{ExecutionReport, Executor, ExternalIds};
use crate::governance::{GovernanceStore, SodRules};
use crate::journal::{Journal, RunId};
use crate::model::{
    ActualState, DesiredState, Entitlement, Identity, OperationId, PolicySet, ResourceRef,
    SystemName, SystemSnapshot,
};
use crate::orderer;
use crate::planner::read::{SystemRead, correlate_reads, read_system_with};
use crate::planner::{ApprovedPlan, Descriptors, GuardedPlan, Planner};

pub use builder::{DEFAULT_ACTOR, EngineBuilder};
pub use error::EngineError;
pub use evidence::{EvidenceOptions, EvidenceRun};
pub use governance::{Governance, reviewer_list};
pub use read::PacedReads;
pub use sources::{Deployment, Policies};
pub use validate::Validated;
pub use why::Because;

/// A deployment, its policies, an adapter per system and one executor. Build it with
/// [`Engine::builder`]; it can plan and apply many times, and its executor's
/// rate-limit state carries over from one run to the next.
pub struct Engine {
    config: DeploymentConfig,
    policies: PolicySet,
    descriptors: Descriptors,
    adapters: BTreeMap<SystemName, Arc<dyn Adapter>>,
    executor: Executor,
    journal: Arc<dyn Journal>,
    /// Account ids from the latest read (and so the latest plan): what `apply` hands
    /// the adapters.
    known_ids: Mutex<ExternalIds>,
    /// The runs this engine applied, for drift's "in flight" operations.
    runs: Mutex<Vec<RunId>>,
    /// The separation-of-duties rules of the policy files: [`Engine::plan`] refuses a
    /// plan that would create a conflict.
    sod_rules: SodRules,
    /// Where exceptions and requests are kept, when the builder was given one
    /// ([`EngineBuilder::governance_store`]).
    governance_store: Option<Arc<dyn GovernanceStore>>,
    /// The audit log (SoD refusals are recorded there too).
    audit: Arc<dyn AuditLog>,
    /// Who acts, as recorded in the audit log.
    actor: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("systems", &self.adapters.keys().collect::<Vec<_>>())
            .field("policies", &self.policies.policies.len())
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex holding plain data (a panic elsewhere cannot leave it half-written).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// The separation-of-duties rules of the policy files (none when the policies
    /// were built in code).
    pub fn sod_rules(&self) -> &SodRules {
        &self.sod_rules
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

    /// The account ids known from the latest read.
    pub fn known_ids(&self) -> ExternalIds {
        lock(&self.known_ids).clone()
    }

    /// A planner over this deployment, for `event`, measuring the blast radius against
    /// `population` people.
    pub fn planner(&self, event: &str, population: usize) -> Planner<'_> {
        Planner::new(&self.config, &self.descriptors)
            .with_event(event)
            .with_population(population)
    }

    /// What the policies give `people` now.
    pub fn desired(&self, people: &[Identity]) -> DesiredState {
        Planner::new(&self.config, &self.descriptors).desired(people, &self.policies, Utc::now())
    }

    /// Every resource a policy mentions (whose grants a read covers).
    fn managed_resources(&self) -> BTreeSet<ResourceRef> {
        self.desired(&[]).managed_resources
    }

    /// Reads every system through the executor's paced, retried reads: accounts,
    /// the grants on every resource a policy mentions, each account's grants where a
    /// kind is enumerable, and the resources of nested kinds. Each snapshot carries the
    /// time it was read.
    pub async fn read_systems(&self) -> Result<BTreeMap<SystemName, SystemRead>, EngineError> {
        let managed = self.managed_resources();
        let managed = &managed;
        // Systems are read side by side: the slowest system, not the sum, bounds a read.
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
            read_system_with(&paced, managed.iter())
                .await
                .map(|read| (name.clone(), read))
        });
        let reads = futures::future::try_join_all(reads).await?;
        Ok(reads.into_iter().collect())
    }

    /// Reads every system (see [`Engine::read_systems`]): the snapshots only.
    pub async fn read(&self) -> Result<BTreeMap<SystemName, SystemSnapshot>, EngineError> {
        Ok(self
            .read_systems()
            .await?
            .into_iter()
            .map(|(name, read)| (name, read.snapshot))
            .collect())
    }

    /// Reads every system and correlates what it holds with the people of `roster`
    /// (by the deployment's correlation rules, then login); remembers the account ids
    /// for [`Engine::apply`].
    pub async fn actual(&self, roster: &[Identity]) -> Result<ActualState, EngineError> {
        let reads = self.read_systems().await?;
        Ok(self.correlate(roster, &reads))
    }

    fn correlate(
        &self,
        roster: &[Identity],
        reads: &BTreeMap<SystemName, SystemRead>,
    ) -> ActualState {
        let actual = correlate_reads(roster, reads, &self.config);
        *lock(&self.known_ids) = ExternalIds::from_actual(&actual);
        actual
    }

    /// Plans everyone in `roster`: reads every system, correlates, diffs against what
    /// the policies give, orders, and passes the blast-radius guard. `event` is the
    /// trigger recorded in every operation's reason (`hr:hire:e1001`, `nightly`).
    ///
    /// The result is a [`GuardedPlan`]: [`GuardedPlan::approve`] gives the plan to apply, or
    /// refuses one over the blast radius until a person
    /// [confirms](GuardedPlan::confirm_blast_radius) it.
    ///
    /// When the policy files carry separation-of-duties rules (or the builder was
    /// given a [governance store](EngineBuilder::governance_store)), the plan is made
    /// as [`Governance::plan`] makes it: the systems are also read on the resources
    /// the rules name, and a plan that would *create* a conflict is refused with
    /// [`EngineError::SodRefused`] (naming the person, the rule and both grants) and
    /// recorded in the audit log. Without a governance store no exception can cover a
    /// conflict, so every new conflict is refused; with one, its active exceptions
    /// cover theirs, and its approved requests and exceptions are granted.
    pub async fn plan(&self, roster: &[Identity], event: &str) -> Result<GuardedPlan, EngineError> {
        self.plan_for(roster, roster, event).await
    }

    /// Plans `people` only (an HR event about one person), against the whole `roster`
    /// (which correlates accounts and is the blast radius's population).
    pub async fn plan_for(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        if !self.sod_rules.is_empty() || self.governance_store.is_some() {
            return self.governed_plan_for(roster, people, event).await;
        }
        let actual = self.actual(roster).await?;
        let now = Utc::now();
        let planner = self.planner(event, roster.len());
        let desired = planner.desired(people, &self.policies, now);
        Ok(planner.plan(&desired, &actual, now)?)
    }

    /// Applies a plan under a run id made from its event and the time; see
    /// [`Engine::apply_as`].
    pub async fn apply(&self, plan: &ApprovedPlan) -> Result<ExecutionReport, EngineError> {
        let event = plan
            .operations
            .iter()
            .find_map(|op| op.reason.event.as_deref())
            .unwrap_or("run");
        let run = RunId(format!(
            "{}-{}",
            event.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"),
            Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
        ));
        self.apply_as(&run, plan).await
    }

    /// Applies a plan under `run`: rate limits, retries, pending re-checks,
    /// partial-failure containment, every step journaled and every change audited.
    /// Account ids come from the latest read.
    pub async fn apply_as(
        &self,
        run: &RunId,
        plan: &ApprovedPlan,
    ) -> Result<ExecutionReport, EngineError> {
        lock(&self.runs).push(run.clone());
        let ids = self.known_ids();
        Ok(self.executor.apply_with_ids(run, plan, ids).await?)
    }

    /// Reads every system and compares it with what the policies give the people of
    /// `roster`: each finding with its class, severity, evidence and fix. Operations
    /// still in flight in a run of this engine are not reported as drift.
    pub async fn drift(&self, roster: &[Identity]) -> Result<DriftReport, EngineError> {
        let reads = self.read_systems().await?;
        let read_at = read_times(
            &reads
                .values()
                .map(|r| r.snapshot.clone())
                .collect::<Vec<_>>(),
        );
        let actual = self.correlate(roster, &reads);
        let now = Utc::now();
        let desired =
            Planner::new(&self.config, &self.descriptors).desired(roster, &self.policies, now);
        let in_flight = self.in_flight().await?;
        let inputs = DriftInputs::new(&self.config, &self.descriptors, now)
            .in_flight(&in_flight)
            .read_at(&read_at)
            .policies(&self.policies);
        Ok(detect_drift(&desired, &actual, &inputs))
    }

    /// The fixes each system's `drift_remediation` allows for `drift`, ordered, with
    /// `event` as their trigger, behind the blast-radius guard (measured against the
    /// `roster`).
    pub fn remediation(
        &self,
        drift: &DriftReport,
        roster: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        let mut plan = orderer::order(drift.remediation_plan(&self.config), &self.config)?;
        for op in &mut plan.operations {
            op.reason.event = Some(event.to_owned());
        }
        Ok(GuardedPlan::new(
            plan,
            Vec::new(),
            roster.len(),
            &self.config.blast_radius,
        ))
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

    /// Operations whose last journal entry, in a run of this engine, is not final.
    async fn in_flight(&self) -> Result<BTreeSet<OperationId>, EngineError> {
        let runs = lock(&self.runs).clone();
        let mut last = BTreeMap::new();
        for run in &runs {
            for entry in self.journal.entries(run).await? {
                last.insert(entry.operation, entry.state);
            }
        }
        Ok(last
            .into_iter()
            .filter(|(_, state)| !state.is_final())
            .map(|(op, _)| op)
            .collect())
    }
}
