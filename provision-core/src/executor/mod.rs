//! The executor: applies a [`Plan`] the way a careful operator would.
//!
//! * An operation starts only when every operation it depends on succeeded;
//!   independent operations run concurrently, up to each system's concurrency
//!   limit ([`SystemConfig::concurrency`](crate::config::SystemConfig::concurrency), default 4).
//! * Each system has its own queue, in which leaver work ([`crate::model::Priority::Leaver`]) goes
//!   first; a throttled system never holds up another.
//! * Requests to a system pass a GCRA limiter built from its published limit
//!   ([`SystemConfig::rate_limit`](crate::config::SystemConfig::rate_limit)) and "not before" gates fed by what the server said:
//!   headroom on successes ([`crate::adapter::Applied::rate_limit`]) and 429s
//!   ([`crate::adapter::AdapterError::RateLimited`]). A system's named rate budgets
//!   ([`crate::adapter::SystemDescriptor::rate_budgets`], limits overridden by
//!   [`SystemConfig::rate_budgets`](crate::config::SystemConfig::rate_budgets)) each have
//!   their own limiter and gates; adapters tag answers with the budget
//!   ([`crate::adapter::RateLimitInfo::bucket`]), so one family's headroom or 429 never
//!   pauses another's.
//! * Operations on one resource whose membership is written as a whole list
//!   ([`crate::adapter::ResourceKindDescriptor::whole_list_membership`]) never run at
//!   once; the changes queued for it go together through
//!   [`crate::adapter::Adapter::execute_batch`]. A kind that only declares
//!   [`max_batch`](crate::adapter::ResourceKindDescriptor::max_batch) is batched the
//!   same way (at most that many per call) without being held to one request at a time.
//! * Errors are acted on by class: rate limited → wait as told; transient → backoff
//!   with jitter ([`RetryConfig`]), checking first whether a timed-out attempt took
//!   effect; already done → success; conflict → confirmed with
//!   [`crate::adapter::Adapter::check`]; pending → re-checked until done or the
//!   system's deadline ([`crate::adapter::SystemDescriptor::pending_deadline`], by
//!   default [`PendingConfig::deadline`]; work waiting for a first login stays pending
//!   past the run and a resume checks it again); a revocation of something already
//!   gone → success; a misconfigured system
//!   ([`crate::adapter::AdapterError::Configuration`]) and anything else fail the
//!   operation and skip exactly its dependents.
//! * Reads go through the executor too ([`Executor::read_accounts`],
//!   [`Executor::read_grants`], [`Executor::read_account_grants`],
//!   [`Executor::list_resources`], and the adapters' evidence reads,
//!   [`Executor::read_evidence`]): paced by the same limiters and retried by the same
//!   policy as writes, counted in [`Executor::read_stats`].
//! * Every state change is written to the [`Journal`] (in flight before each call, the
//!   outcome after), every change that reached a system to the [`AuditLog`] (before the
//!   journal's final state, so a stop in between cannot lose it; a resume asks
//!   [`AuditLog::recorded_outcome`] and does not write it twice), and every step is an
//!   [`ExecutionEvent`] for subscribers. While the loop awaits either store it keeps
//!   polling the requests that are out, which may hold store connections themselves.
//!
//! * With [`ExecutorBuilder::claims`], several instances can apply or resume the same
//!   run: an operation is claimed before it is sent, so only one instance sends it
//!   ([`ClaimSettings`] says what the others do meanwhile).
//!
//! * With [`ExecutorBuilder::shared_budget`], several instances split every system's
//!   limits between them, and one instance's 429 pauses the others
//!   ([`BudgetShare`]; why a split and not a shared counter: see its module).
//!
//! Everything runs inside the future [`Executor::apply`] returns (no spawned tasks), so
//! dropping it stops the run: each operation is then not started, done, or recorded in
//! flight, and [`Executor::resume`] finishes the job.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use provision_core::config::{BlastRadius, SystemConfig};
//! use provision_core::executor::Executor;
//! use provision_core::journal::RunId;
//! use provision_core::model::Plan;
//! use provision_core::planner::ApprovedPlan;
//! use provision_sandbox::{presets, SandboxConfig};
//!
//! let okta = Arc::new(presets::okta().sandbox("okta", SandboxConfig::default()));
//! let executor = Executor::builder()
//!     .system("okta", okta, SystemConfig::new("sandbox"))
//!     .actor("hr-sync")
//!     .build()?;
//! // Only a plan that passed the blast-radius guard (or that a person confirmed) runs.
//! let plan = ApprovedPlan::within_limits(Plan::default(), 100, &BlastRadius::default())?;
//! let report = executor.apply(&RunId("r1".into()), &plan).await?;
//! assert_eq!(report.success_rate(), 1.0);
//! # Ok(()) }
//! ```

mod claiming;
mod dispatch;
mod events;
mod graph;
mod policy;
mod queue;
mod rate_limit;
mod reads;
mod records;
mod report;
mod resume;
mod retry;
mod scheduler;
mod shared_budget;
mod task;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapter::Adapter;
use crate::audit::{AuditError, AuditLog};
use crate::config::{BlastRadius, RateLimitConfig, SystemConfig};
use crate::journal::{Journal, JournalError, OperationClaims, RunId};
use crate::model::{OperationId, Plan, SystemName};
use crate::planner::ApprovedPlan;

pub use crate::model::ExternalIds;
pub use claiming::ClaimSettings;
pub use events::{ChannelSubscriber, ExecutionEvent, ExecutionSubscriber};
pub use reads::{ExecutorReadError, ReadStats};
pub use report::{ExecutionReport, OperationOutcome, OperationReport, Totals};
pub use retry::{PendingConfig, RetryConfig};
pub use shared_budget::{
    BudgetShare, InMemorySharedBudget, Membership, ShareSettings, SharedBudget, SharedBudgetError,
    SharedPause,
};

use rate_limit::SystemLimiter;

/// Why a run could not be carried out (operation failures are in the report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// An operation names a system the executor does not know.
    #[error(
        "operation {operation} is for system `{system}`, which is not registered with the executor"
    )]
    UnknownSystem {
        /// The operation.
        operation: OperationId,
        /// Its system.
        system: SystemName,
    },
    /// A dependency edge names an operation the plan does not have.
    #[error("dependency {before} -> {after}: operation {missing} is not in the plan")]
    UnknownDependency {
        /// The edge's first operation.
        before: OperationId,
        /// The edge's second operation.
        after: OperationId,
        /// The one that is missing.
        missing: OperationId,
    },
    /// Two operations share an id.
    #[error("operation id {0} appears more than once in the plan")]
    DuplicateOperation(OperationId),
    /// The dependency edges form a cycle (named as the orderer names it).
    #[error("the plan's {0}")]
    Cycle(crate::orderer::CycleError),
    /// A system's `rate_limit` or one of its `rate_budgets` cannot be used.
    #[error("system `{system}`: {reason}")]
    InvalidRateLimit {
        /// The system.
        system: SystemName,
        /// What is wrong.
        reason: String,
    },
    /// The plan removes more access than the executor's blast radius allows (it was
    /// approved against looser limits), or more than a person confirmed.
    #[error(transparent)]
    BlastRadius(#[from] crate::planner::BlastRadiusExceeded),
    /// `resume` was called on an executor without a journal.
    #[error("resuming a run needs a journal, and this executor has none")]
    NoJournal,
    /// Operation claims were set without a journal (the outcome of an operation another
    /// instance completed is read from the journal).
    #[error("operation claims need a journal shared by the instances, and this executor has none")]
    ClaimsWithoutJournal,
    /// The journal failed; the run stopped (no call is made that is not journaled first).
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The audit log failed; the run stopped (no change may go unaudited).
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
}

struct SystemEntry {
    adapter: Arc<dyn Adapter>,
    config: SystemConfig,
    limiter: Mutex<SystemLimiter>,
    /// The system's concurrency, for reads ([`Executor::read_accounts`] and the others).
    read_slots: tokio::sync::Semaphore,
    /// What reads did.
    reads: reads::ReadCounters,
}

impl SystemEntry {
    fn limiter(&self) -> MutexGuard<'_, SystemLimiter> {
        // The limiter holds plain numbers; a panic elsewhere cannot leave it half-written.
        self.limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request of kind `key` the limiter booked as sent: answered (for the limiter)
    /// when this is dropped, whether the request completed or its future was dropped
    /// (a cancelled run), so the limiter never waits for an answer that cannot come.
    fn out(&self, key: &str) -> OutRequest<'_> {
        OutRequest {
            entry: self,
            key: key.to_owned(),
        }
    }
}

/// See [`SystemEntry::out`].
pub(crate) struct OutRequest<'a> {
    entry: &'a SystemEntry,
    key: String,
}

impl Drop for OutRequest<'_> {
    fn drop(&mut self) {
        self.entry.limiter().on_answer(&self.key);
    }
}

/// Applies plans. Build one with [`Executor::builder`]; it can run many plans, and its
/// rate-limit state carries over from one run to the next.
pub struct Executor {
    systems: BTreeMap<SystemName, SystemEntry>,
    journal: Option<Arc<dyn Journal>>,
    audit: Option<Arc<dyn AuditLog>>,
    claims: Option<(Arc<dyn OperationClaims>, ClaimSettings)>,
    subscribers: Vec<Arc<dyn ExecutionSubscriber>>,
    retry: RetryConfig,
    pending: PendingConfig,
    actor: String,
    trigger: Option<String>,
    blast_radius: BlastRadius,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("systems", &self.systems.keys().collect::<Vec<_>>())
            .field("journal", &self.journal.is_some())
            .field("audit", &self.audit.is_some())
            .field("claims", &self.claims.as_ref().map(|(_, s)| s))
            .field("subscribers", &self.subscribers.len())
            .field("retry", &self.retry)
            .field("pending", &self.pending)
            .field("actor", &self.actor)
            .field("trigger", &self.trigger)
            .finish()
    }
}

/// Builds an [`Executor`].
#[derive(Default)]
pub struct ExecutorBuilder {
    systems: Vec<(SystemName, Arc<dyn Adapter>, SystemConfig)>,
    journal: Option<Arc<dyn Journal>>,
    audit: Option<Arc<dyn AuditLog>>,
    claims: Option<(Arc<dyn OperationClaims>, ClaimSettings)>,
    subscribers: Vec<Arc<dyn ExecutionSubscriber>>,
    retry: RetryConfig,
    pending: PendingConfig,
    actor: Option<String>,
    trigger: Option<String>,
    blast_radius: BlastRadius,
    shared_budget: Option<BudgetShare>,
}

impl ExecutorBuilder {
    /// Splits every system's published limits (and named budgets) with the other
    /// instances in `share`'s registry, and shares server pauses with them. Run
    /// [`BudgetShare::run`] beside the executor: without heartbeats the lease lapses
    /// and nothing is sent.
    pub fn shared_budget(mut self, share: BudgetShare) -> Self {
        self.shared_budget = Some(share);
        self
    }

    /// The blast radius every plan is checked against again before it runs (default
    /// [`BlastRadius::default`]): a plan approved within looser limits is refused.
    pub fn blast_radius(mut self, limits: BlastRadius) -> Self {
        self.blast_radius = limits;
        self
    }

    /// Registers a system: its adapter and its configuration (rate limit, named rate
    /// budgets, concurrency). [`ExecutorBuilder::build`] refuses a limit that cannot be
    /// used and a `rate_budgets` entry the adapter's descriptor does not declare.
    pub fn system(
        mut self,
        name: impl Into<SystemName>,
        adapter: Arc<dyn Adapter>,
        config: SystemConfig,
    ) -> Self {
        self.systems.push((name.into(), adapter, config));
        self
    }

    /// Where operation state changes are recorded (needed for [`Executor::resume`]).
    pub fn journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Where every change that reaches a system is recorded.
    pub fn audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Shares runs with other instances: each operation is claimed in `claims` before
    /// it is sent, and not sent while another instance holds it (see [`ClaimSettings`]).
    /// Needs a [`journal`](Self::journal) shared by the instances.
    pub fn claims(mut self, claims: Arc<dyn OperationClaims>, settings: ClaimSettings) -> Self {
        self.claims = Some((claims, settings));
        self
    }

    /// Adds an event subscriber.
    pub fn subscriber(mut self, subscriber: Arc<dyn ExecutionSubscriber>) -> Self {
        self.subscribers.push(subscriber);
        self
    }

    /// Retry settings (defaults: [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Pending re-check settings (defaults: [`PendingConfig::default`]).
    pub fn pending(mut self, pending: PendingConfig) -> Self {
        self.pending = pending;
        self
    }

    /// The service or person that triggers runs, for the audit log. Default `provision`.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The triggering event, for the audit log of operations whose reason names none.
    pub fn trigger(mut self, event: impl Into<String>) -> Self {
        self.trigger = Some(event.into());
        self
    }

    /// Checks the settings and builds the executor.
    pub fn build(self) -> Result<Executor, ExecutorError> {
        if self.claims.is_some() && self.journal.is_none() {
            return Err(ExecutorError::ClaimsWithoutJournal);
        }
        let mut systems = BTreeMap::new();
        for (name, adapter, config) in self.systems {
            let invalid = |field: String, rl: &RateLimitConfig| ExecutorError::InvalidRateLimit {
                system: name.clone(),
                reason: format!(
                    "{field}: requests ({}), per_seconds ({}) and burst ({:?}) must all be above zero",
                    rl.requests, rl.per_seconds, rl.burst
                ),
            };
            let quota = match &config.rate_limit {
                None => None,
                Some(rl) => Some(
                    rate_limit::quota(rl).ok_or_else(|| invalid("rate_limit".to_owned(), rl))?,
                ),
            };
            let declared = &adapter.descriptor().rate_budgets;
            if let Some(unknown) = config
                .rate_budgets
                .keys()
                .find(|k| !declared.iter().any(|b| &b.name == *k))
            {
                let names: Vec<&str> = declared.iter().map(|b| b.name.as_str()).collect();
                return Err(ExecutorError::InvalidRateLimit {
                    system: name.clone(),
                    reason: format!(
                        "rate_budgets: `{unknown}` is not a rate budget of this system (its budgets: {})",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                });
            }
            let mut budgets = Vec::with_capacity(declared.len());
            for budget in declared {
                let limit = config
                    .rate_budgets
                    .get(&budget.name)
                    .or(budget.limit.as_ref());
                let quota = match limit {
                    None => None,
                    Some(rl) => Some(
                        rate_limit::quota(rl)
                            .ok_or_else(|| invalid(format!("rate_budgets.{}", budget.name), rl))?,
                    ),
                };
                budgets.push((budget.name.clone(), quota));
            }
            let mut limiter = SystemLimiter::with_budgets(quota, budgets.clone());
            if let Some(share) = &self.shared_budget {
                let budget_quotas = budgets
                    .into_iter()
                    .filter_map(|(name, q)| Some((name, q?)))
                    .collect();
                limiter = limiter.shared(share.clone(), name.to_string(), quota, budget_quotas);
            }
            let slots = config.concurrency.unwrap_or(4).max(1);
            systems.insert(
                name,
                SystemEntry {
                    adapter,
                    config,
                    limiter: Mutex::new(limiter),
                    read_slots: tokio::sync::Semaphore::new(slots),
                    reads: reads::ReadCounters::default(),
                },
            );
        }
        Ok(Executor {
            systems,
            journal: self.journal,
            audit: self.audit,
            claims: self.claims,
            subscribers: self.subscribers,
            retry: self.retry,
            pending: self.pending,
            actor: self.actor.unwrap_or_else(|| "provision".to_owned()),
            trigger: self.trigger,
            blast_radius: self.blast_radius,
        })
    }
}

impl Executor {
    /// A builder with no systems and default settings.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder::default()
    }

    /// Applies an approved plan (see [`ApprovedPlan`]: only a plan that passed the
    /// blast-radius guard, or one a person confirmed, can be applied) with the account
    /// ids it carries ([`ApprovedPlan::account_ids`]); ids of created accounts are
    /// learned as they are created. [`Executor::apply_with_ids`] passes others.
    pub async fn apply(
        &self,
        run: &RunId,
        plan: &ApprovedPlan,
    ) -> Result<ExecutionReport, ExecutorError> {
        self.apply_with_ids(run, plan, plan.account_ids().clone())
            .await
    }

    /// Applies an approved plan, starting from known account ids (e.g.
    /// [`ExternalIds::from_actual`]). The plan is checked again against this executor's
    /// blast radius first; nothing is sent when it is refused.
    pub async fn apply_with_ids(
        &self,
        run: &RunId,
        plan: &ApprovedPlan,
        ids: ExternalIds,
    ) -> Result<ExecutionReport, ExecutorError> {
        plan.recheck(&self.blast_radius)?;
        let plan: &Plan = plan.plan();
        let graph = graph::Graph::new(self, plan)?;
        if let Some(journal) = &self.journal {
            journal.begin_run(run, plan).await?;
        }
        scheduler::Run::new(self, run.clone(), plan, graph, ids)
            .execute(None)
            .await
    }

    /// Finishes an interrupted run from the journal: operations that succeeded, failed or
    /// were skipped are not run again; operations that were in flight are checked with
    /// [`Adapter::check`] before being sent again; pending ones are re-checked.
    pub async fn resume(&self, run: &RunId) -> Result<ExecutionReport, ExecutorError> {
        self.resume_with_ids(run, ExternalIds::new()).await
    }

    /// [`Executor::resume`], starting from known account ids.
    pub async fn resume_with_ids(
        &self,
        run: &RunId,
        ids: ExternalIds,
    ) -> Result<ExecutionReport, ExecutorError> {
        let journal = self.journal.as_ref().ok_or(ExecutorError::NoJournal)?;
        let plan = journal.plan(run).await?;
        let entries = journal.entries(run).await?;
        let graph = graph::Graph::new(self, &plan)?;
        scheduler::Run::new(self, run.clone(), &plan, graph, ids)
            .execute(Some(entries))
            .await
    }

    fn emit(&self, event: ExecutionEvent) {
        for subscriber in &self.subscribers {
            subscriber.on_event(&event);
        }
    }
}
