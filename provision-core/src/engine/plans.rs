//! Every plan the engine makes, and the one gate it passes ([`crate::gate`]):
//! the hooks, then the blast-radius guard. Drift is the same pipeline without the
//! executor.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, AuditOutcome};
use crate::drift::{DriftInputs, DriftReport, detect_drift, read_times};
use crate::executor::ExecutionReport;
use crate::gate::{AppliedContext, HookPass, PlanContext, PlanPath, Refusal, hold_back};
use crate::journal::RunId;
use crate::model::{
    ActualState, DesiredState, ExternalIds, Identity, IdentityId, OperationId, Plan, Reason,
    ReasonKind, ResourceRef, SystemName,
};
use crate::orderer;
use crate::planner::{ApprovedPlan, GuardedPlan};

use super::read::ReadScope;
use super::{Engine, EngineError};

/// What the systems hold and what policies and hooks give, read and computed at one
/// time: what drift compares and what a review campaign is made from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Observed {
    /// What the systems hold, correlated with the roster.
    pub actual: ActualState,
    /// What policies and hooks (exceptions, approved requests) give the roster.
    pub desired: DesiredState,
    /// The time it was observed for.
    pub now: DateTime<Utc>,
}

/// The passes of every hook over one plan, by hook name.
struct Passes(Vec<(String, Box<dyn HookPass>)>);

impl Engine {
    fn context<'a>(
        &'a self,
        path: PlanPath,
        event: &'a str,
        roster: &'a [Identity],
        people: &'a [Identity],
        now: DateTime<Utc>,
    ) -> PlanContext<'a> {
        PlanContext {
            path,
            event,
            people,
            roster,
            now,
            config: &self.config,
            descriptors: &self.descriptors,
            policies: &self.policies,
        }
    }

    async fn begin(&self, cx: &PlanContext<'_>) -> Result<Passes, EngineError> {
        let mut passes = Vec::with_capacity(self.hooks.len());
        for hook in &self.hooks {
            passes.push((hook.name().to_owned(), hook.begin(cx).await?));
        }
        Ok(Passes(passes))
    }

    /// The resources policies name plus those the passes ask for.
    fn resources_to_read(&self, cx: &PlanContext<'_>, passes: &Passes) -> BTreeSet<ResourceRef> {
        let mut resources = self.managed_resources();
        for (_, pass) in &passes.0 {
            let more = pass.resources(cx, &resources);
            resources.extend(more);
        }
        resources
    }

    /// What policies give `cx.people`, plus what the passes add.
    fn desired_with(&self, cx: &PlanContext<'_>, passes: &Passes) -> DesiredState {
        let mut desired = self.desired_at(cx.people, cx.now);
        for (_, pass) in &passes.0 {
            pass.desired(cx, &mut desired);
        }
        desired
    }

    fn desired_at(&self, people: &[Identity], now: DateTime<Utc>) -> DesiredState {
        crate::planner::Planner::new(&self.config, &self.descriptors).desired(
            people,
            &self.policies,
            now,
        )
    }

    /// The gate: every pass checks the plan; the people refused are held back (with
    /// whatever depends on their operations) and their refusals recorded in the
    /// audit log; the blast-radius guard measures what is left.
    async fn gate(
        &self,
        cx: &PlanContext<'_>,
        passes: &Passes,
        guarded: GuardedPlan,
        actual: &ActualState,
    ) -> Result<GuardedPlan, EngineError> {
        let mut refusals: Vec<Refusal> = Vec::new();
        for (_, pass) in &passes.0 {
            refusals.extend(pass.check(cx, guarded.preview(), actual));
        }
        if refusals.is_empty() {
            return Ok(guarded);
        }
        let mut plan = guarded.preview().clone();
        hold_back(&mut plan, &mut refusals);
        for refusal in &refusals {
            tracing::warn!(identity = %refusal.identity, by = %refusal.by, reason = %refusal.reason,
                held_back = refusal.held_back.len(), "plan refused for one person");
            self.record_refusal(cx, refusal).await?;
        }
        Ok(GuardedPlan::new(
            plan,
            guarded.report_only().to_vec(),
            guarded.population(),
            &self.config.blast_radius,
        )
        .with_account_ids(guarded.account_ids().clone())
        .with_refusals(refusals))
    }

    async fn record_refusal(
        &self,
        cx: &PlanContext<'_>,
        refusal: &Refusal,
    ) -> Result<(), EngineError> {
        let detail = format!("plan '{}' refused: {}", cx.event, refusal.reason);
        self.audit
            .append(AuditEvent {
                at: cx.now,
                run: RunId(format!("refusals-{}", cx.now.format("%Y%m%d"))),
                actor: self.actor.clone(),
                identity: refusal.identity.clone(),
                system: SystemName::new(refusal.by.clone()),
                operation: OperationId(format!("refusal/{}/{}", refusal.by, refusal.identity)),
                action: format!("{}_refusal", refusal.by),
                entitlement: None,
                outcome: AuditOutcome::Failed {
                    class: "refused".into(),
                    error: refusal.reason.to_string(),
                },
                reason: Reason {
                    kind: ReasonKind::PolicyGrant,
                    policies: Vec::new(),
                    event: Some(cx.event.to_owned()),
                    detail,
                    valid_until: None,
                },
                note: None,
            })
            .await?;
        Ok(())
    }

    /// Plans everyone in `roster`: reads every system, correlates, diffs against what
    /// the policies (and the hooks) give, orders, and passes the gate: the hooks, then
    /// the blast-radius guard. `event` is the trigger recorded in every operation's
    /// reason (`hr:hire:e1001`, `nightly`).
    ///
    /// The result is a [`GuardedPlan`]: [`GuardedPlan::approve`] gives the plan to
    /// apply, or refuses one over the blast radius until a person
    /// [confirms](GuardedPlan::confirm_blast_radius) it. People a hook refused (a
    /// separation-of-duties conflict) are in [`GuardedPlan::refusals`], their
    /// operations held back; everyone else's are in the plan.
    pub async fn plan(&self, roster: &[Identity], event: &str) -> Result<GuardedPlan, EngineError> {
        self.plan_for(roster, roster, event).await
    }

    /// Plans `people` only (an HR event about one person), against the whole `roster`
    /// (which correlates accounts and is the blast radius's population), reading
    /// every account's grants.
    pub async fn plan_for(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        self.make_plan(PlanPath::Plan, roster, people, event, ReadScope::Everyone)
            .await
    }

    /// Plans `people` only, as [`Engine::plan_for`] does, but reads per-account grants
    /// only for their accounts (the other accounts are not part of the actual state
    /// this plan is made from): what the lifecycle service does for each HR event.
    /// `roster` is the blast radius's population.
    pub async fn plan_people(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        self.make_plan(
            PlanPath::People,
            roster,
            people,
            event,
            ReadScope::People(people),
        )
        .await
    }

    async fn make_plan(
        &self,
        path: PlanPath,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
        scope: ReadScope<'_>,
    ) -> Result<GuardedPlan, EngineError> {
        let now = self.now();
        let cx = self.context(path, event, roster, people, now);
        let passes = self.begin(&cx).await?;
        let resources = self.resources_to_read(&cx, &passes);
        let reads = self.read_scoped(&resources, scope).await?;
        let correlated = match scope {
            ReadScope::Everyone => roster,
            ReadScope::People(people) => people,
        };
        let actual = self.correlate(correlated, &reads);
        let desired = self.desired_with(&cx, &passes);
        let guarded = self
            .planner(event, roster.len())
            .plan(&desired, &actual, now)?
            .with_account_ids(ExternalIds::from_actual(&actual));
        self.gate(&cx, &passes, guarded, &actual).await
    }

    /// Passes a plan made elsewhere (a review's revocations, a plan built by hand)
    /// through the gate: the people it changes are read (their accounts' grants
    /// only), every hook checks it, and the blast-radius guard measures it against
    /// `roster`. The plan carries the account ids of that read.
    pub async fn guard(
        &self,
        plan: Plan,
        roster: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        let plan = orderer::order(plan, &self.config)?;
        let ids: BTreeSet<&IdentityId> = plan.operations.iter().map(|o| &o.identity).collect();
        let people: Vec<Identity> = roster
            .iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .collect();
        let now = self.now();
        let cx = self.context(PlanPath::Guard, event, roster, &people, now);
        let passes = self.begin(&cx).await?;
        let resources = self.resources_to_read(&cx, &passes);
        let reads = self
            .read_scoped(&resources, ReadScope::People(&people))
            .await?;
        let actual = self.correlate(&people, &reads);
        let guarded = GuardedPlan::new(plan, Vec::new(), roster.len(), &self.config.blast_radius)
            .with_account_ids(ExternalIds::from_actual(&actual));
        self.gate(&cx, &passes, guarded, &actual).await
    }

    /// The fixes each system's `drift_remediation` allows for `drift`, ordered, with
    /// `event` as their trigger, through the gate (the hooks check them against what
    /// the drift run read) and behind the blast-radius guard (measured against the
    /// `roster`).
    pub async fn remediation(
        &self,
        drift: &DriftReport,
        roster: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        let mut plan = orderer::order(drift.remediation_plan(&self.config), &self.config)?;
        for op in &mut plan.operations {
            op.reason.event = Some(event.to_owned());
        }
        let now = self.now();
        let cx = self.context(PlanPath::Remediation, event, roster, roster, now);
        let passes = self.begin(&cx).await?;
        let guarded = GuardedPlan::new(plan, Vec::new(), roster.len(), &self.config.blast_radius)
            .with_account_ids(ExternalIds::from_actual(&drift.actual));
        self.gate(&cx, &passes, guarded, &drift.actual).await
    }

    /// Reads every system (on the resources policies and hooks name) and computes what
    /// policies and hooks give the people of `roster`, at one time.
    pub async fn observe(&self, roster: &[Identity]) -> Result<Observed, EngineError> {
        let (observed, _) = self.observe_with(roster, "observe").await?;
        Ok(observed)
    }

    async fn observe_with(
        &self,
        roster: &[Identity],
        event: &str,
    ) -> Result<(Observed, ObservedExtras), EngineError> {
        let now = self.now();
        let cx = self.context(PlanPath::Observe, event, roster, roster, now);
        let passes = self.begin(&cx).await?;
        let resources = self.resources_to_read(&cx, &passes);
        let reads = self.read_scoped(&resources, ReadScope::Everyone).await?;
        let read_at = read_times(
            &reads
                .values()
                .map(|r| r.snapshot.clone())
                .collect::<Vec<_>>(),
        );
        let actual = self.correlate(roster, &reads);
        let desired = self.desired_with(&cx, &passes);
        let findings = passes
            .0
            .iter()
            .flat_map(|(_, pass)| pass.findings(&cx, &actual))
            .collect();
        Ok((
            Observed {
                actual,
                desired,
                now,
            },
            ObservedExtras { read_at, findings },
        ))
    }

    /// Reads every system and compares it with what the policies (and hooks) give the
    /// people of `roster`: each finding with its class, severity, evidence and fix,
    /// plus the hooks' own findings (a held separation-of-duties conflict).
    /// Operations the journal holds as unfinished (in flight or pending) are not
    /// reported as drift.
    pub async fn drift(&self, roster: &[Identity]) -> Result<DriftReport, EngineError> {
        let (observed, extras) = self.observe_with(roster, "drift").await?;
        let in_flight = self.in_flight().await?;
        let inputs = DriftInputs::new(&self.config, &self.descriptors, observed.now)
            .in_flight(&in_flight)
            .read_at(&extras.read_at)
            .policies(&self.policies);
        let mut report = detect_drift(&observed.desired, &observed.actual, &inputs);
        report.findings.extend(extras.findings);
        report.actual = std::sync::Arc::new(observed.actual);
        report
            .findings
            .sort_by_key(|f| std::cmp::Reverse(f.severity));
        Ok(report)
    }

    /// Operations whose last journal entry is not final, in any run: the journal
    /// answers from what is open, so the cost does not grow with past runs.
    async fn in_flight(&self) -> Result<BTreeSet<OperationId>, EngineError> {
        Ok(self
            .journal
            .unfinished()
            .await?
            .into_iter()
            .map(|(_, op)| op)
            .collect())
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
            self.now().format("%Y%m%dT%H%M%S%.6fZ")
        ));
        self.apply_as(&run, plan).await
    }

    /// Applies a plan under `run`: rate limits, retries, pending re-checks,
    /// partial-failure containment, every step journaled and every change audited.
    /// Account ids are those the plan was made from ([`ApprovedPlan::account_ids`]),
    /// never those of another caller's read: one engine serves concurrent callers.
    /// Then every hook hears what was applied.
    pub async fn apply_as(
        &self,
        run: &RunId,
        plan: &ApprovedPlan,
    ) -> Result<ExecutionReport, EngineError> {
        let report = self.executor.apply(run, plan).await?;
        let cx = AppliedContext {
            plan,
            report: &report,
            now: self.now(),
        };
        for hook in &self.hooks {
            hook.applied(&cx).await?;
        }
        Ok(report)
    }
}

/// What an observation found besides the states.
struct ObservedExtras {
    read_at: BTreeMap<SystemName, DateTime<Utc>>,
    findings: Vec<crate::drift::Finding>,
}

impl std::fmt::Debug for Passes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}
