//! The full reconcile and drift run, applied person by person.
//!
//! The reconcile reads and plans everyone without holding anyone, then sends the
//! plan in parts, one per person (people whose operations depend on each other go
//! together), each under its people's locks ([`crate::locks`]), several parts at once
//! (as many as the largest system `concurrency`). Before a part is sent:
//!
//! * if another run holds one of its people now, the part is left out (that run
//!   planned from a fresher read);
//! * if another run locked one of its people since the reconcile began reading (a
//!   termination that came in and finished), the part is left out: it was planned
//!   from a state that is gone, and sending it could undo the termination;
//! * if its people have pending work that could not be settled first (another run
//!   held them), it is left out too.
//!
//! People left out are logged and counted
//! (`provision_reconcile_people_left_out_total{reason}`); the next reconcile plans
//! them again. So a termination never waits for a reconcile beyond the few
//! operations of that same person already being sent, and never sees its work undone
//! by a plan made before it.
//!
//! Each part is a run of its own, `{run}/{pass}/{n}`: journaled before anything is
//! sent, so a reconcile that dies (or fails) mid-way is resumed when its job fires
//! again under the same `run`: its parts with unfinished operations are finished first,
//! each under its people's locks (in-flight operations checked with the system before
//! being sent again), then everyone is planned afresh. Parts never begun are not sent
//! from the old plan.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use futures::StreamExt;
use provision_core::engine::EngineError;
use provision_core::executor::{ExecutionReport, Totals};
use provision_core::journal::{Journal, RunId};
use provision_core::model::{ExternalIds, Identity, IdentityId, Plan};
use provision_core::planner::ApprovedPlan;

use crate::error::ServerError;
use crate::jobs::Turn;
use crate::locks::Mark;
use crate::service::Service;

/// One person's part of a reconcile plan (or a few people's, when their operations
/// depend on each other).
#[derive(Debug)]
struct Part {
    people: Vec<IdentityId>,
    plan: Plan,
    ids: ExternalIds,
}

impl Service {
    /// The full reconcile and drift run: drift is reported (logged, with its count,
    /// recorded as evidence, and its findings sent to the SIEM sinks), then everyone
    /// is planned and applied person by person under `run` (see the module docs:
    /// nobody is held for more than their own part, and a person another run changed
    /// meanwhile is left for the next reconcile). The report is that of every part.
    pub async fn reconcile(&self, run: &RunId) -> Result<Option<ExecutionReport>, ServerError> {
        let started = Utc::now();
        let roster = self.roster().await?;
        let mut reports = self.resume_parts(run, &roster).await?;
        let unsettled = self.settle_pending(&roster, None, Turn::Skip).await?;
        // From here on, anyone another run locks was changed after this read.
        let mark = self.inner.locks.mark();
        self.report_drift(run, &roster).await?;
        let guarded = self.inner.engine.plan(&roster, "reconcile").await?;
        let population = guarded.population();
        let approved = match guarded.approve() {
            Ok(p) => p,
            Err(refused) => {
                tracing::error!(error = %refused, "reconcile plan refused by the blast-radius guard");
                return Ok(merge(run, started, reports));
            }
        };
        let (parts, held_back) = split(&approved, &unsettled, self.inner.engine.systems());
        left_out("pending", held_back.len());
        let pass = format!("{}/{}", run.0, Utc::now().timestamp_micros());
        let parallel = self
            .inner
            .engine
            .config()
            .systems
            .values()
            .map(|s| s.concurrency.unwrap_or(4))
            .max()
            .unwrap_or(4)
            .max(1);
        let results: Vec<Result<Option<ExecutionReport>, ServerError>> =
            futures::stream::iter(parts.into_iter().enumerate())
                .map(|(n, part)| {
                    self.apply_part(RunId(format!("{pass}/{n}")), part, population, &mark)
                })
                .buffer_unordered(parallel)
                .collect()
                .await;
        drop(mark);
        let mut sent = Vec::new();
        let mut failed = None;
        for result in results {
            match result {
                Ok(Some(report)) => sent.push(report),
                Ok(None) => {}
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        // One re-check for every part left pending (one read for all of them).
        self.schedule_resume(&sent.iter().collect::<Vec<_>>())
            .await?;
        if let Some(e) = failed {
            return Err(e);
        }
        reports.extend(sent);
        Ok(merge(run, started, reports))
    }

    /// Drift now: logged, counted, recorded as evidence and sent to the SIEM sinks;
    /// neither of the last two stops the reconcile when it fails.
    async fn report_drift(&self, run: &RunId, roster: &[Identity]) -> Result<(), ServerError> {
        let drift = self.inner.engine.drift(roster).await?;
        tracing::info!(findings = drift.findings.len(), "drift run");
        metrics::gauge!("provision_drift_findings").set(drift.findings.len() as f64);
        let store = &*self.inner.store as &dyn provision_evidence::EvidenceStore;
        if let Err(e) = self
            .evidence()
            .record_drift(store, &drift, &format!("{}-drift", run.0))
            .await
        {
            tracing::warn!(error = %e, "the drift run could not be recorded as evidence");
        }
        if let Some(siem) = &self.inner.siem
            && !drift.findings.is_empty()
        {
            for (sink, result) in siem.publish_findings(Utc::now(), &drift.findings).await {
                if let Err(e) = result {
                    tracing::warn!(%sink, error = %e, "drift findings not delivered to a SIEM sink");
                }
            }
        }
        Ok(())
    }

    /// Finishes the parts of `run` that an earlier attempt left with operations in
    /// flight or pending, each holding its people's locks.
    async fn resume_parts(
        &self,
        run: &RunId,
        roster: &[Identity],
    ) -> Result<Vec<ExecutionReport>, ServerError> {
        let prefix = format!("{}/", run.0);
        let mut parts: Vec<RunId> = Journal::unfinished(&*self.inner.store)
            .await?
            .into_iter()
            .map(|(part, _)| part)
            .filter(|part| part.0.starts_with(&prefix))
            .collect();
        parts.sort();
        parts.dedup();
        let mut reports = Vec::new();
        if parts.is_empty() {
            return Ok(reports);
        }
        tracing::info!(run = %run.0, parts = parts.len(), "resuming the parts of a reconcile begun before");
        let ids = ExternalIds::from_actual(&self.inner.engine.actual(roster).await?);
        for part in parts {
            reports.push(self.resume_held(&part, &ids, roster).await?);
        }
        self.schedule_resume(&reports.iter().collect::<Vec<_>>())
            .await?;
        Ok(reports)
    }

    /// Sends one part under `run`, holding its people, unless another run holds them
    /// now or changed them since `mark`.
    async fn apply_part(
        &self,
        run: RunId,
        part: Part,
        population: usize,
        mark: &Mark<'_>,
    ) -> Result<Option<ExecutionReport>, ServerError> {
        let Some(people) = self.inner.locks.try_lock(&part.people) else {
            tracing::info!(people = ?part.people, "left out of the reconcile: another run holds them");
            left_out("busy", part.people.len());
            return Ok(None);
        };
        if people.changed_since(mark) {
            tracing::info!(people = ?part.people, "left out of the reconcile: another run changed them after it read");
            left_out("changed", part.people.len());
            return Ok(None);
        }
        // A part of a plan that passed the guard removes no more than the whole did.
        let approved = ApprovedPlan::within_limits(
            part.plan,
            population,
            &self.inner.engine.config().blast_radius,
        )
        .map_err(EngineError::from)?
        .with_account_ids(part.ids);
        let report = self.inner.engine.apply_as(&run, &approved).await?;
        self.after_run_resumed_later(&approved, &report).await?;
        drop(people);
        Ok(Some(report))
    }
}

fn left_out(reason: &'static str, people: usize) {
    if people > 0 {
        metrics::counter!("provision_reconcile_people_left_out_total", "reason" => reason)
            .increment(people as u64);
    }
}

/// Splits `plan` into parts: the operations of each person, people joined when an
/// operation of one depends on an operation of another; in the plan's order (a part
/// comes where its first operation came, so leaver work stays first). Parts with
/// anyone in `held_back` are left out; the people of those are returned.
fn split<'a>(
    plan: &ApprovedPlan,
    held_back: &BTreeSet<IdentityId>,
    systems: impl Iterator<Item = &'a provision_core::model::SystemName>,
) -> (Vec<Part>, BTreeSet<IdentityId>) {
    let ops = &plan.operations;
    let systems: Vec<_> = systems.collect();
    // People, numbered in order of first appearance; joined through dependencies.
    let mut person: HashMap<&IdentityId, usize> = HashMap::new();
    let mut of_op = Vec::with_capacity(ops.len());
    for op in ops {
        let next = person.len();
        of_op.push(*person.entry(&op.identity).or_insert(next));
    }
    let mut parent: Vec<usize> = (0..person.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let index: HashMap<_, usize> = ops.iter().enumerate().map(|(i, o)| (&o.id, i)).collect();
    for dep in &plan.dependencies {
        if let (Some(&b), Some(&a)) = (index.get(&dep.before), index.get(&dep.after)) {
            let (rb, ra) = (root(&mut parent, of_op[b]), root(&mut parent, of_op[a]));
            if rb != ra {
                parent[rb.max(ra)] = rb.min(ra);
            }
        }
    }
    // Part number of each root, in order of first operation.
    let mut part_of_root: HashMap<usize, usize> = HashMap::new();
    let mut part_of_op = Vec::with_capacity(ops.len());
    let mut parts: Vec<Part> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let r = root(&mut parent, of_op[i]);
        let n = *part_of_root.entry(r).or_insert_with(|| {
            parts.push(Part {
                people: Vec::new(),
                plan: Plan::default(),
                ids: ExternalIds::new(),
            });
            parts.len() - 1
        });
        part_of_op.push(n);
        let part = &mut parts[n];
        if !part.people.contains(&op.identity) {
            part.people.push(op.identity.clone());
            for system in &systems {
                if let Some(id) = plan.account_ids().get(&op.identity, system) {
                    part.ids
                        .insert(op.identity.clone(), (*system).clone(), id.clone());
                }
            }
        }
        part.plan.operations.push(op.clone());
    }
    for dep in &plan.dependencies {
        if let (Some(&b), Some(&a)) = (index.get(&dep.before), index.get(&dep.after))
            && part_of_op[b] == part_of_op[a]
        {
            parts[part_of_op[b]].plan.dependencies.push(dep.clone());
        }
    }
    let mut left = BTreeSet::new();
    parts.retain(|part| {
        if part.people.iter().any(|p| held_back.contains(p)) {
            left.extend(part.people.iter().cloned());
            false
        } else {
            true
        }
    });
    (parts, left)
}

/// One report for the parts of a reconcile (`None` when nothing was sent).
fn merge(
    run: &RunId,
    started: chrono::DateTime<Utc>,
    reports: Vec<ExecutionReport>,
) -> Option<ExecutionReport> {
    if reports.is_empty() {
        return None;
    }
    let finished_at = reports
        .iter()
        .map(|r| r.finished_at)
        .max()
        .unwrap_or(started);
    let mut totals = Totals::default();
    let mut operations = Vec::new();
    for report in reports {
        let t = report.totals;
        totals.operations += t.operations;
        totals.succeeded += t.succeeded;
        totals.already_in_place += t.already_in_place;
        totals.failed += t.failed;
        totals.skipped += t.skipped;
        totals.pending += t.pending;
        totals.attempts += t.attempts;
        operations.extend(report.operations);
    }
    Some(ExecutionReport {
        run: run.clone(),
        started_at: started,
        finished_at,
        operations,
        totals,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::config::BlastRadius;
    use provision_core::model::{
        Dependency, Operation, OperationKind, Reason, ReasonKind, SystemName,
    };

    fn op(who: &str, system: &str, kind: OperationKind) -> Operation {
        let identity = IdentityId::new(who);
        let system = SystemName::new(system);
        Operation {
            id: Operation::make_id(&identity, &system, &kind),
            login: who.to_owned(),
            identity,
            system,
            kind,
            reason: Reason {
                kind: ReasonKind::Termination,
                policies: Vec::new(),
                event: None,
                detail: String::new(),
                valid_until: None,
            },
            priority: Default::default(),
        }
    }

    #[test]
    fn a_plan_splits_into_people_in_plan_order_with_their_own_edges_and_ids() {
        let ops = vec![
            op("b", "okta", OperationKind::SuspendAccount),
            op("a", "okta", OperationKind::SuspendAccount),
            op("b", "slack", OperationKind::SuspendAccount),
            op("c", "okta", OperationKind::SuspendAccount),
            op("d", "okta", OperationKind::SuspendAccount),
        ];
        let edge = |b: usize, a: usize| Dependency {
            before: ops[b].id.clone(),
            after: ops[a].id.clone(),
        };
        // b's own edge; c and d joined by an edge across people.
        let dependencies = vec![edge(0, 2), edge(3, 4)];
        let plan = Plan {
            operations: ops.clone(),
            dependencies,
        };
        let mut ids = ExternalIds::new();
        ids.insert(IdentityId::new("b"), SystemName::new("okta"), "u1".into());
        ids.insert(IdentityId::new("a"), SystemName::new("okta"), "u2".into());
        let approved = ApprovedPlan::within_limits(plan, 1000, &BlastRadius::default())
            .unwrap()
            .with_account_ids(ids);
        let systems = [SystemName::new("okta"), SystemName::new("slack")];
        let (parts, left) = split(&approved, &BTreeSet::new(), systems.iter());
        assert!(left.is_empty());
        let people: Vec<Vec<&str>> = parts
            .iter()
            .map(|p| p.people.iter().map(IdentityId::as_str).collect())
            .collect();
        assert_eq!(people, vec![vec!["b"], vec!["a"], vec!["c", "d"]]);
        assert_eq!(parts[0].plan.operations.len(), 2);
        assert_eq!(parts[0].plan.dependencies.len(), 1);
        assert_eq!(parts[2].plan.dependencies.len(), 1);
        assert_eq!(
            parts[0]
                .ids
                .get(&IdentityId::new("b"), &SystemName::new("okta"))
                .map(String::as_str),
            Some("u1")
        );
        assert!(
            parts[0]
                .ids
                .get(&IdentityId::new("a"), &SystemName::new("okta"))
                .is_none(),
            "a part carries its own people's ids only"
        );

        let held: BTreeSet<IdentityId> = [IdentityId::new("d")].into();
        let (parts, left) = split(&approved, &held, systems.iter());
        assert_eq!(parts.len(), 2, "c goes with d");
        assert_eq!(
            left.iter().map(IdentityId::as_str).collect::<Vec<_>>(),
            vec!["c", "d"]
        );
    }
}
