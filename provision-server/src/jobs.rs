//! Dated work in the store's schedule, and how it fires.

use chrono::{DateTime, Utc};
use provision_core::engine::EngineError;
use provision_core::executor::{ExecutionReport, OperationOutcome};
use provision_core::journal::{JournalError, RunId};
use provision_core::model::{ExternalIds, Identity, IdentityId};
use provision_core::planner::ApprovedPlan;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::ServerError;
use crate::leases::{Fence, LeaseKeeper, Leased};
use crate::service::Service;

/// One scheduled job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Plan and apply one person now (a termination at its effective time, the end of
    /// a validity window).
    Identity {
        /// Whom.
        id: String,
        /// The trigger recorded in the operations' reasons.
        event: String,
        /// For a termination: when it took effect (the revocation clock starts there).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminated_at: Option<DateTime<Utc>>,
    },
    /// A hire's (or rehire's) start: inbox row `seq` joins the roster and the person
    /// gets day-one access.
    Start {
        /// The inbox row.
        seq: i64,
        /// Whom.
        id: String,
    },
    /// Re-check the pending operations of a run (and finish what waited on them).
    ResumeRun {
        /// The run.
        run: String,
        /// The people with pending operations in it.
        #[serde(default)]
        identities: Vec<String>,
        /// More runs re-checked with it (the other parts of a reconcile), with one
        /// read of every system for all of them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<String>,
    },
    /// The full reconcile and drift run; schedules the next one.
    Reconcile,
    /// Collect and record evidence, export control coverage; schedules the next one.
    Evidence,
    /// An approved access request's window starts: its beneficiary is planned with
    /// governance, so the grant is made.
    RequestStart {
        /// The request.
        request: String,
        /// Its beneficiary.
        id: String,
    },
    /// An approved access request's window ended: its beneficiary is planned with
    /// governance, so the grant it gave is revoked.
    RequestEnd {
        /// The request.
        request: String,
        /// Its beneficiary.
        id: String,
    },
}

impl Job {
    /// The key of the reconcile job (one for all instances).
    pub const RECONCILE_KEY: &'static str = "reconcile";
    /// The key of the evidence job (one for all instances).
    pub const EVIDENCE_KEY: &'static str = "evidence";

    /// As stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What became of a fired job.
enum Fired {
    Done,
    Again(DateTime<Utc>),
    /// Already rescheduled by the job itself (the reconcile).
    Rearmed,
}

fn seconds(s: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
}

impl Service {
    /// Takes the jobs due now (under a lease) and fires them; returns how many fired.
    pub async fn fire_due_once(&self) -> Result<usize, ServerError> {
        let inner = &self.inner;
        let now = Utc::now();
        let jobs = inner
            .store
            .schedule_claim_due(&inner.owner, inner.config.lease(), now, 20)
            .await?;
        // Renewed while the jobs run (they run one after another).
        let keeper = LeaseKeeper::start(
            Arc::clone(&inner.store),
            &inner.owner,
            Leased::Schedule,
            jobs.iter().map(|j| j.id).collect(),
            inner.config.lease(),
        );
        for job in &jobs {
            let fence = keeper.fence([job.id]);
            let fired = match serde_json::from_str::<Job>(&job.payload_json) {
                Ok(parsed) => {
                    tracing::info!(key = %job.key, due = %job.due_at, "scheduled job fires");
                    self.fire(&parsed, job.id, job.due_at, &fence).await
                }
                Err(e) => Err(ServerError::Corrupt {
                    what: format!("schedule job {}", job.key),
                    message: e.to_string(),
                }),
            };
            match fired {
                Ok(Fired::Done) => {
                    inner.store.schedule_done(job.id, &inner.owner).await?;
                }
                Ok(Fired::Again(at)) => {
                    inner.store.schedule_retry(job.id, &inner.owner, at).await?;
                }
                Ok(Fired::Rearmed) => {}
                Err(ServerError::LeaseLost { what }) => {
                    tracing::warn!(key = %job.key, %what, "scheduled job left to the instance that took it over");
                }
                Err(e) => {
                    tracing::error!(key = %job.key, error = %e, "scheduled job failed; retried later");
                    let at =
                        Utc::now() + seconds(inner.config.worker.pending_recheck_seconds.max(1));
                    inner.store.schedule_retry(job.id, &inner.owner, at).await?;
                }
            }
        }
        if !jobs.is_empty() {
            let open = inner.store.schedule_open().await?;
            inner.metrics.scheduled(open.len());
        }
        Ok(jobs.len())
    }

    async fn fire(
        &self,
        job: &Job,
        id: i64,
        due: DateTime<Utc>,
        fence: &Fence<'_>,
    ) -> Result<Fired, ServerError> {
        let run = |prefix: &str| RunId(format!("{prefix}-{id}-{}", due.timestamp_micros()));
        // Jobs wait their turn behind the ones claimed with them: still ours?
        fence.check().await?;
        match job {
            Job::Identity {
                id: who,
                event,
                terminated_at,
            } => {
                let mut since = HashMap::new();
                if let Some(at) = terminated_at {
                    since.insert(IdentityId::new(who.as_str()), *at);
                }
                self.apply_people(
                    &run("job"),
                    &[IdentityId::new(who.as_str())],
                    &[],
                    event,
                    &since,
                    Some(fence),
                )
                .await?;
                Ok(Fired::Done)
            }
            Job::Start { seq, id: who } => {
                self.inner.store.inbox_join_roster(*seq).await?;
                self.apply_people(
                    &run("start"),
                    &[IdentityId::new(who.as_str())],
                    &[],
                    &format!("hr:start:{who}"),
                    &HashMap::new(),
                    Some(fence),
                )
                .await?;
                Ok(Fired::Done)
            }
            Job::ResumeRun { run, also, .. } => {
                let roster = self.roster().await?;
                let ids = ExternalIds::from_actual(&self.inner.engine.actual(&roster).await?);
                let mut pending = false;
                for run in std::iter::once(run).chain(also) {
                    let report = self.resume_held(&RunId(run.clone()), &ids, &roster).await?;
                    pending |= has_pending(&report);
                }
                if pending {
                    Ok(Fired::Again(
                        Utc::now()
                            + seconds(self.inner.config.worker.pending_recheck_seconds.max(1)),
                    ))
                } else {
                    Ok(Fired::Done)
                }
            }
            Job::Reconcile => {
                self.reconcile(&run("reconcile")).await?;
                if let Some(every) = self.inner.config.reconcile.every_seconds {
                    self.inner
                        .store
                        .schedule_put(
                            Job::RECONCILE_KEY,
                            Utc::now() + seconds(every),
                            &Job::Reconcile.to_json(),
                            true,
                        )
                        .await?;
                    return Ok(Fired::Rearmed);
                }
                Ok(Fired::Done)
            }
            Job::RequestStart { request, id: who } | Job::RequestEnd { request, id: who } => {
                let event = match job {
                    Job::RequestStart { .. } => format!("request-start:{request}"),
                    _ => format!("request-end:{request}"),
                };
                let who = IdentityId::new(who.as_str());
                crate::requests::off_thread(self.clone(), move |s| async move {
                    s.governed_run(&who, &event).await.map(|_| ())
                })
                .await?;
                Ok(Fired::Done)
            }
            Job::Evidence => {
                self.collect_evidence().await?;
                if let Some(every) = self.inner.config.evidence.every_minutes {
                    self.inner
                        .store
                        .schedule_put(
                            Job::EVIDENCE_KEY,
                            Utc::now() + seconds(every.saturating_mul(60)),
                            &Job::Evidence.to_json(),
                            true,
                        )
                        .await?;
                    return Ok(Fired::Rearmed);
                }
                Ok(Fired::Done)
            }
        }
    }

    /// When `run` was begun before (by this instance before a restart, or by one that
    /// died), finishes it from the journal instead of planning again.
    pub(crate) async fn resume_if_begun(
        &self,
        run: &RunId,
        roster: &[Identity],
        ids: Option<ExternalIds>,
    ) -> Result<Option<ExecutionReport>, ServerError> {
        match provision_core::journal::Journal::plan(&*self.inner.store, run).await {
            Ok(_) => {}
            Err(JournalError::UnknownRun(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(run = %run.0, "resuming a run begun before");
        // The ids the plan was made from, or a read that correlates accounts.
        let ids = match ids {
            Some(ids) => ids,
            None => ExternalIds::from_actual(&self.inner.engine.actual(roster).await?),
        };
        self.skip_for_leavers(run, roster).await?;
        let report = self
            .inner
            .engine
            .executor()
            .resume_with_ids(run, ids)
            .await
            .map_err(EngineError::from)?;
        self.inner.metrics.record_report(&report);
        if has_pending(&report) {
            self.schedule_resume(&[&report]).await?;
        }
        Ok(Some(report))
    }

    /// Before `run` is resumed: its unfinished operations that would give access to
    /// someone who has left since (an account created or reactivated, a grant) are
    /// journaled as skipped because of that person's suspension, so their dependents
    /// are skipped too. A GitLab account waiting for its first login when its owner
    /// left gets nothing when it appears. Revocations go ahead. The number skipped.
    pub(crate) async fn skip_for_leavers(
        &self,
        run: &RunId,
        roster: &[Identity],
    ) -> Result<usize, ServerError> {
        use provision_core::journal::{Journal, JournalEntry, OperationState};
        use provision_core::model::{Operation, OperationKind};
        let now = self.inner.engine.now();
        let left: Vec<&IdentityId> = roster
            .iter()
            .filter(|p| p.is_terminated_at(now))
            .map(|p| &p.id)
            .collect();
        if left.is_empty() {
            return Ok(0);
        }
        let store = &*self.inner.store;
        let plan = Journal::plan(store, run).await?;
        let gives_access = |op: &Operation| {
            matches!(
                op.kind,
                OperationKind::CreateAccount { .. }
                    | OperationKind::ReactivateAccount
                    | OperationKind::Grant { .. }
            )
        };
        let candidates: Vec<&Operation> = plan
            .operations
            .iter()
            .filter(|op| left.contains(&&op.identity) && gives_access(op))
            .collect();
        if candidates.is_empty() {
            return Ok(0);
        }
        let entries = Journal::entries(store, run).await?;
        let mut skipped = 0;
        for op in candidates {
            let last = entries.iter().rev().find(|e| e.operation == op.id);
            if last.is_some_and(|e| e.state.is_final()) {
                continue;
            }
            let because =
                Operation::make_id(&op.identity, &op.system, &OperationKind::SuspendAccount);
            tracing::warn!(run = %run.0, operation = %op.id, identity = %op.identity,
                "not resumed: the person has left since it was planned");
            Journal::record(
                store,
                &JournalEntry {
                    run: run.clone(),
                    operation: op.id.clone(),
                    state: OperationState::Skipped { because },
                    at: now,
                },
            )
            .await?;
            skipped += 1;
        }
        Ok(skipped)
    }

    /// [`Service::resume_if_begun`] holding the locks of the run's people (a run
    /// taken over after its worker died), once `fence` shows the events are still
    /// this worker's.
    pub(crate) async fn resume_locked(
        &self,
        run: &RunId,
        roster: &[Identity],
        fence: &Fence<'_>,
    ) -> Result<Option<ExecutionReport>, ServerError> {
        let people = match self.run_people(run).await {
            Ok(people) => people,
            Err(ServerError::Journal(JournalError::UnknownRun(_))) => return Ok(None),
            Err(e) => return Err(e),
        };
        let _people = self.inner.locks.lock(&people).await;
        fence.check().await?;
        self.resume_if_begun(run, roster, None).await
    }

    /// The people whose operations `run` holds (from its journaled plan).
    pub(crate) async fn run_people(&self, run: &RunId) -> Result<Vec<IdentityId>, ServerError> {
        let plan = provision_core::journal::Journal::plan(&*self.inner.store, run).await?;
        let mut people: Vec<IdentityId> =
            plan.operations.into_iter().map(|op| op.identity).collect();
        people.sort();
        people.dedup();
        Ok(people)
    }

    /// Plans `ids` (with `extra` events not yet in the store's roster applied) and
    /// applies them under `run`, or resumes `run` when it was begun before, holding
    /// the locks of `ids` while it sends ([`crate::locks`]). Leaver work (anyone in
    /// `terminated_since`) takes the locks before it reads; other work reads and plans
    /// first, and plans again if another run locked its people meanwhile.
    pub(crate) async fn apply_people(
        &self,
        run: &RunId,
        ids: &[IdentityId],
        extra: &[crate::event::StoredEvent],
        event: &str,
        terminated_since: &HashMap<IdentityId, DateTime<Utc>>,
        fence: Option<&Fence<'_>>,
    ) -> Result<Option<ExecutionReport>, ServerError> {
        // Leaver work never waits behind someone's pending first login.
        let all_leavers = ids.iter().all(|id| terminated_since.contains_key(id));
        if !all_leavers {
            let stored = self.roster().await?;
            let roster = crate::event::roster_after(&stored, extra);
            self.settle_pending(&roster, Some(ids), Turn::Wait).await?;
        }
        // Leaver work holds its people from before its read: it never plans twice.
        let leaver_work = ids.iter().any(|id| terminated_since.contains_key(id));
        let service = self;
        let (_people, (plan, roster)) = self
            .inner
            .locks
            .plan_then_lock(ids, leaver_work, || async move {
                let stored = service.roster().await?;
                let roster = crate::event::roster_after(&stored, extra);
                // The read correlates accounts and gives the ids a resume needs.
                let plan = service.plan_named(&roster, ids, event).await?;
                Ok::<_, ServerError>((plan, roster))
            })
            .await?;
        // Still this instance's work? (It may have waited for the people's locks.)
        if let Some(fence) = fence {
            fence.check().await?;
        }
        let ids = Some(plan.account_ids().clone());
        if let Some(report) = self.resume_if_begun(run, &roster, ids).await? {
            return Ok(Some(report));
        }
        let approved = plan.approve().map_err(EngineError::from)?;
        if approved.operations.is_empty() {
            return Ok(None);
        }
        self.inner
            .metrics
            .watch_revocations(&approved.operations, terminated_since);
        let report = self.inner.engine.apply_as(run, &approved).await?;
        self.after_run(&approved, &report).await?;
        Ok(Some(report))
    }

    /// After a run: metrics, a schedule entry to re-check its pending operations, and
    /// one to revisit each person at the end of a grant's validity window.
    pub(crate) async fn after_run(
        &self,
        plan: &ApprovedPlan,
        report: &ExecutionReport,
    ) -> Result<(), ServerError> {
        if has_pending(report) {
            self.schedule_resume(&[report]).await?;
        }
        self.after_run_resumed_later(plan, report).await
    }

    /// [`Service::after_run`] without the re-check of pending operations: the caller
    /// schedules one for several runs ([`Service::schedule_resume`]).
    pub(crate) async fn after_run_resumed_later(
        &self,
        plan: &ApprovedPlan,
        report: &ExecutionReport,
    ) -> Result<(), ServerError> {
        self.inner.metrics.record_report(report);
        let now = Utc::now();
        for op in &plan.operations {
            if let Some(until) = op.reason.valid_until
                && until > now
            {
                let job = Job::Identity {
                    id: op.identity.to_string(),
                    event: "validity-window-end".to_owned(),
                    terminated_at: None,
                };
                self.inner
                    .store
                    .schedule_put(
                        &format!("validity:{}:{}", op.identity, until.timestamp()),
                        until,
                        &job.to_json(),
                        false,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Before a new run plans: finishes the runs that still wait on pending operations
    /// (a GitLab account that appeared on first login lets its grants go now, in the
    /// run that planned them), so that the new plan starts from their outcome and never
    /// sends an operation such a run still holds. Their schedule entries stay; when they
    /// fire they find nothing left to do. Each run
    /// is resumed holding its people's locks; with [`Turn::Skip`] a run whose people
    /// another run holds now is left alone, and its people are returned: a plan made
    /// now must leave them out.
    pub(crate) async fn settle_pending(
        &self,
        roster: &[Identity],
        people: Option<&[IdentityId]>,
        turn: Turn,
    ) -> Result<BTreeSet<IdentityId>, ServerError> {
        let open = self.inner.store.schedule_open().await?;
        let mut runs: Vec<RunId> = Vec::new();
        for job in &open {
            if let Ok(Job::ResumeRun {
                run,
                identities,
                also,
            }) = serde_json::from_str::<Job>(&job.payload_json)
            {
                let concerned = match people {
                    None => true,
                    Some(people) => {
                        identities.is_empty()
                            || people
                                .iter()
                                .any(|p| identities.iter().any(|i| i == p.as_str()))
                    }
                };
                for run in std::iter::once(run).chain(also) {
                    if concerned && !runs.iter().any(|r| r.0 == run) {
                        runs.push(RunId(run));
                    }
                }
            }
        }
        let mut left = BTreeSet::new();
        if runs.is_empty() {
            return Ok(left);
        }
        let ids = ExternalIds::from_actual(&self.inner.engine.actual(roster).await?);
        for run in runs {
            let people = self.run_people(&run).await?;
            let _people = match turn {
                Turn::Wait => self.inner.locks.lock(&people).await,
                Turn::Skip => match self.inner.locks.try_lock(&people) {
                    Some(guard) => guard,
                    None => {
                        tracing::info!(run = %run.0, "pending run not settled now: another run holds its people");
                        left.extend(people);
                        continue;
                    }
                },
            };
            self.resume_run(&run, &ids, roster).await?;
        }
        Ok(left)
    }

    /// Resumes `run` from the journal with `ids` (the caller holds its people), after
    /// skipping what `roster`'s leavers would be given, and counts what it did.
    pub(crate) async fn resume_run(
        &self,
        run: &RunId,
        ids: &ExternalIds,
        roster: &[Identity],
    ) -> Result<ExecutionReport, ServerError> {
        self.skip_for_leavers(run, roster).await?;
        let report = self
            .inner
            .engine
            .executor()
            .resume_with_ids(run, ids.clone())
            .await
            .map_err(EngineError::from)?;
        self.inner.metrics.record_report(&report);
        Ok(report)
    }

    /// [`Service::resume_run`] holding the run's people (waiting for them): the resume
    /// may send what waited on its pending or in-flight operations.
    pub(crate) async fn resume_held(
        &self,
        run: &RunId,
        ids: &ExternalIds,
        roster: &[Identity],
    ) -> Result<ExecutionReport, ServerError> {
        let people = self.run_people(run).await?;
        let _people = self.inner.locks.lock(&people).await;
        self.resume_run(run, ids, roster).await
    }

    /// Plans the people of `roster` named in `ids` (reading their accounts' grants
    /// only), against the whole `roster`.
    pub(crate) async fn plan_named(
        &self,
        roster: &[Identity],
        ids: &[IdentityId],
        event: &str,
    ) -> Result<provision_core::planner::GuardedPlan, ServerError> {
        let people: Vec<Identity> = roster
            .iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .collect();
        Ok(self
            .inner
            .engine
            .plan_people(roster, &people, event)
            .await?)
    }

    /// Schedules one re-check of the pending operations of `reports`' runs.
    pub(crate) async fn schedule_resume(
        &self,
        reports: &[&ExecutionReport],
    ) -> Result<(), ServerError> {
        let mut runs = reports
            .iter()
            .filter(|r| has_pending(r))
            .map(|r| r.run.0.clone());
        let Some(run) = runs.next() else {
            return Ok(());
        };
        let also: Vec<String> = runs.collect();
        let at = Utc::now() + seconds(self.inner.config.worker.pending_recheck_seconds.max(1));
        let mut identities: Vec<String> = reports
            .iter()
            .flat_map(|r| r.operations.iter())
            .filter(|op| matches!(op.outcome, OperationOutcome::Pending))
            .map(|op| op.identity.to_string())
            .collect();
        identities.sort();
        identities.dedup();
        tracing::info!(run = %run, more = also.len(), at = %at, "pending operations: re-checked from the schedule");
        let key = format!("resume:{run}");
        let job = Job::ResumeRun {
            run,
            identities,
            also,
        };
        self.inner
            .store
            .schedule_put(&key, at, &job.to_json(), true)
            .await?;
        Ok(())
    }
}

/// How [`Service::settle_pending`] takes the people of a run it resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Waits for them (event work, which must start from the settled state).
    Wait,
    /// Leaves the run alone when another run holds them (the reconcile, which waits
    /// for nobody).
    Skip,
}

/// True when a run left operations pending.
pub(crate) fn has_pending(report: &ExecutionReport) -> bool {
    report
        .operations
        .iter()
        .any(|op| matches!(op.outcome, OperationOutcome::Pending))
}
