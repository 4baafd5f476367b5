//! One run of a plan: the dependency graph, the per-system queues and the loop that
//! dispatches requests and acts on their answers.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use backon::ExponentialBackoff;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use super::ClaimSettings;
use super::rate_limit::Gate;
use super::report::{ExecutionReport, OperationOutcome, OperationReport};
use super::{ExecutionEvent, Executor, ExecutorError, ExternalIds, SystemEntry, already_gone};
use crate::adapter::{Adapter, AdapterError, Applied, CheckStatus, Effect};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::clock::{wall_at, wall_now};
use crate::journal::{ClaimOutcome, JournalEntry, OperationClaims, OperationState, RunId};
use crate::model::{AccountRef, Operation, Plan, Priority};

/// Claims `op` before a request when claims are configured. `None`: go ahead (claimed,
/// or no claims). `Some`: do not send; for an attempt (`check == false`) a take-over
/// from another holder is refused too, so that the system is checked first.
async fn claim_first(
    claims: Option<(Arc<dyn OperationClaims>, ClaimSettings)>,
    run: &RunId,
    op: &Operation,
    check: bool,
) -> Result<Option<ClaimOutcome>, ExecutorError> {
    let Some((claims, settings)) = claims else {
        return Ok(None);
    };
    let claim = claims
        .claim(run, &op.id, &settings.holder, settings.lease)
        .await?;
    Ok(match claim {
        ClaimOutcome::Claimed {
            previous_holder: None,
            ..
        } => None,
        ClaimOutcome::Claimed { .. } if check => None,
        refused => Some(refused),
    })
}

/// The plan's dependency graph, checked.
pub(crate) struct Graph {
    /// Per operation: its index's system (position in the executor's system map).
    system_of: Vec<usize>,
    /// Per operation: how many operations it depends on.
    depends_on: Vec<Vec<usize>>,
    /// Per operation: the operations that depend on it.
    dependents: Vec<Vec<usize>>,
}

impl Graph {
    pub(crate) fn new(executor: &Executor, plan: &Plan) -> Result<Self, ExecutorError> {
        let names: Vec<_> = executor.systems.keys().collect();
        let mut index = HashMap::with_capacity(plan.operations.len());
        let mut system_of = Vec::with_capacity(plan.operations.len());
        for (i, op) in plan.operations.iter().enumerate() {
            if index.insert(&op.id, i).is_some() {
                return Err(ExecutorError::DuplicateOperation(op.id.clone()));
            }
            let sys = names.iter().position(|n| **n == op.system).ok_or_else(|| {
                ExecutorError::UnknownSystem {
                    operation: op.id.clone(),
                    system: op.system.clone(),
                }
            })?;
            system_of.push(sys);
        }
        let n = plan.operations.len();
        let mut depends_on = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for dep in &plan.dependencies {
            let find = |id: &crate::model::OperationId| {
                index
                    .get(id)
                    .copied()
                    .ok_or_else(|| ExecutorError::UnknownDependency {
                        before: dep.before.clone(),
                        after: dep.after.clone(),
                        missing: id.clone(),
                    })
            };
            let before = find(&dep.before)?;
            let after = find(&dep.after)?;
            if !depends_on[after].contains(&before) {
                depends_on[after].push(before);
                dependents[before].push(after);
            }
        }
        // Kahn: every operation must be reachable, or it sits on a cycle.
        let mut indegree: Vec<usize> = depends_on.iter().map(Vec::len).collect();
        let mut stack: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut seen = 0;
        while let Some(i) = stack.pop() {
            seen += 1;
            for &d in &dependents[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    stack.push(d);
                }
            }
        }
        if seen < n
            && let Some(i) = (0..n).find(|&i| indegree[i] > 0)
        {
            return Err(ExecutorError::Cycle(plan.operations[i].id.clone()));
        }
        Ok(Self {
            system_of,
            depends_on,
            dependents,
        })
    }
}

/// Why the executor asks a system whether an operation is in place.
#[derive(Debug, Clone)]
enum CheckPurpose {
    /// An attempt may have taken effect (timeout after send, or interrupted run).
    MaybeApplied,
    /// The system answered "conflict"; confirm before calling it done.
    Conflict(AdapterError),
    /// The system is completing it later.
    Pending,
}

#[derive(Debug, Clone)]
enum Action {
    Execute,
    Check(CheckPurpose),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Waiting for operations it depends on.
    Waiting,
    /// In its system's queue (ready or delayed).
    Queued,
    /// A request is out.
    Running,
    /// Done, one way or another.
    Final,
}

struct Slot {
    state: SlotState,
    deps_left: usize,
    action: Action,
    attempts: u32,
    checks: u32,
    backoff: Option<ExponentialBackoff>,
    first_attempt: Option<Instant>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    pending_since: Option<Instant>,
    outcome: Option<OperationOutcome>,
    from_journal: bool,
    /// What the audit log already held for this operation in this run when it was
    /// resumed (recorded just before the interruption, with the journal still showing
    /// it in flight or pending).
    audited: Option<AuditOutcome>,
    /// This instance holds the operation's claim (claims configured).
    claimed: bool,
    /// Since when another instance has held it.
    waiting_since: Option<Instant>,
}

struct Queue<'a> {
    entry: &'a SystemEntry,
    limit: usize,
    running: usize,
    /// Ready to go, leavers first, then plan order.
    ready: BTreeSet<(Reverse<Priority>, usize)>,
    /// Waiting for a retry or re-check time.
    delayed: BTreeSet<(Instant, usize)>,
}

enum Answer {
    Executed(Result<Applied, AdapterError>),
    Checked(Result<CheckStatus, AdapterError>),
    /// Not sent: the claim was refused, or taken over from `previous_holder`.
    NotClaimed(ClaimOutcome),
}

struct Done {
    idx: usize,
    key: String,
    answer: Result<Answer, ExecutorError>,
}

type Task<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

/// The requests that are out, and the answers that came back while the loop was busy
/// recording something else.
///
/// The loop owns every request future and is the only one polling them, so it must keep
/// polling them whenever it awaits the journal or the audit log itself: a request future
/// can hold a store resource (a pool connection, a database write lock) in the middle of
/// its own journal write, and a loop waiting for that resource without polling the future
/// that holds it would wait for ever. [`Run::drive`] does that; answers received meanwhile
/// wait in `answered` and are acted on in order afterwards.
struct InFlight<'a> {
    running: FuturesUnordered<Task<'a>>,
    answered: VecDeque<Done>,
}

/// One run in progress.
pub(crate) struct Run<'a> {
    exec: &'a Executor,
    run: RunId,
    plan: &'a Plan,
    graph: Graph,
    ids: ExternalIds,
    slots: Vec<Slot>,
    queues: Vec<Queue<'a>>,
    remaining: usize,
    /// Behind a mutex only so that `&self` methods can poll it while they await a store;
    /// it is never held across an await.
    in_flight: Mutex<InFlight<'a>>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        exec: &'a Executor,
        run: RunId,
        plan: &'a Plan,
        graph: Graph,
        ids: ExternalIds,
    ) -> Self {
        let slots = graph
            .depends_on
            .iter()
            .map(|deps| Slot {
                state: SlotState::Waiting,
                deps_left: deps.len(),
                action: Action::Execute,
                attempts: 0,
                checks: 0,
                backoff: None,
                first_attempt: None,
                started_at: None,
                finished_at: None,
                pending_since: None,
                outcome: None,
                from_journal: false,
                audited: None,
                claimed: false,
                waiting_since: None,
            })
            .collect();
        let queues = exec
            .systems
            .values()
            .map(|entry| Queue {
                entry,
                limit: entry.config.concurrency.unwrap_or(4).max(1),
                running: 0,
                ready: BTreeSet::new(),
                delayed: BTreeSet::new(),
            })
            .collect();
        let remaining = plan.operations.len();
        Self {
            exec,
            run,
            plan,
            graph,
            ids,
            slots,
            queues,
            remaining,
            in_flight: Mutex::new(InFlight {
                running: FuturesUnordered::new(),
                answered: VecDeque::new(),
            }),
        }
    }

    fn in_flight(&self) -> MutexGuard<'_, InFlight<'a>> {
        // Only pushes and polls happen under the lock; a panic there leaves nothing half-done.
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Polls the running requests, keeping their answers for later. True if none is left.
    fn poll_running(&self, cx: &mut Context<'_>) -> bool {
        let mut in_flight = self.in_flight();
        loop {
            match in_flight.running.poll_next_unpin(cx) {
                Poll::Ready(Some(done)) => in_flight.answered.push_back(done),
                Poll::Ready(None) => return true,
                Poll::Pending => return false,
            }
        }
    }

    /// Awaits `fut` (a journal or audit write) while the running requests keep being
    /// polled, so that none of them can hold up the write by holding a store resource.
    async fn drive<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            self.poll_running(cx);
            Poll::Pending
        })
        .await
    }

    /// The next answer: one kept by [`Run::drive`], or the next to arrive. `None` when no
    /// request is out.
    async fn next_answer(&self) -> Option<Done> {
        poll_fn(|cx| {
            if let Some(done) = self.in_flight().answered.pop_front() {
                return Poll::Ready(Some(done));
            }
            let none_running = self.poll_running(cx);
            match self.in_flight().answered.pop_front() {
                Some(done) => Poll::Ready(Some(done)),
                None if none_running => Poll::Ready(None),
                None => Poll::Pending,
            }
        })
        .await
    }

    fn idle(&self) -> bool {
        let in_flight = self.in_flight();
        in_flight.running.is_empty() && in_flight.answered.is_empty()
    }

    /// Runs to the end. `journal` holds the entries of an interrupted run to resume.
    pub(crate) async fn execute(
        mut self,
        journal: Option<Vec<JournalEntry>>,
    ) -> Result<ExecutionReport, ExecutorError> {
        let started_at = wall_now();
        if let Some(entries) = journal {
            self.restore(entries).await?;
        }
        for idx in 0..self.slots.len() {
            if self.slots[idx].state == SlotState::Waiting && self.slots[idx].deps_left == 0 {
                self.enqueue(idx, None);
            }
        }
        while self.remaining > 0 {
            let now = Instant::now();
            let (start, wake) = self.pick(now);
            for (idx, key) in start {
                let task = self.start(idx, key);
                self.in_flight().running.push(task);
            }
            if self.idle() {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    // Nothing running, nothing to wait for, work left: the graph check
                    // rules this out; stop rather than spin.
                    None => break,
                }
                continue;
            }
            let done = match wake {
                Some(at) => tokio::select! {
                    done = self.next_answer() => done,
                    () = tokio::time::sleep_until(at) => None,
                },
                None => self.next_answer().await,
            };
            if let Some(done) = done {
                self.on_done(done).await?;
            }
        }
        Ok(self.report(started_at))
    }

    /// Rebuilds the run's state from the journal of an interrupted run.
    async fn restore(&mut self, entries: Vec<JournalEntry>) -> Result<(), ExecutorError> {
        let index: HashMap<_, _> = self
            .plan
            .operations
            .iter()
            .enumerate()
            .map(|(i, op)| (&op.id, i))
            .collect();
        let mut last: Vec<Option<OperationState>> = vec![None; self.slots.len()];
        for entry in entries {
            let Some(&idx) = index.get(&entry.operation) else {
                continue;
            };
            if let OperationState::InFlight { attempt } = entry.state {
                self.slots[idx].attempts = self.slots[idx].attempts.max(attempt);
            }
            last[idx] = Some(entry.state);
        }
        let mut failed_roots = Vec::new();
        let mut unsettled = Vec::new();
        for (idx, state) in last.into_iter().enumerate() {
            let Some(state) = state else { continue };
            let op = &self.plan.operations[idx];
            let slot = &mut self.slots[idx];
            match state {
                OperationState::Succeeded {
                    effect,
                    external_id,
                } => {
                    if let Some(id) = external_id {
                        self.ids.insert(op.identity.clone(), op.system.clone(), id);
                    }
                    slot.outcome = Some(OperationOutcome::from_effect(effect));
                }
                OperationState::Failed { error } => {
                    slot.outcome = Some(OperationOutcome::Failed { error });
                    failed_roots.push(idx);
                }
                OperationState::Skipped { because } => {
                    slot.outcome = Some(OperationOutcome::Skipped { because });
                }
                OperationState::InFlight { .. } => {
                    slot.action = Action::Check(CheckPurpose::MaybeApplied);
                    unsettled.push(idx);
                    continue;
                }
                OperationState::Pending => {
                    slot.action = Action::Check(CheckPurpose::Pending);
                    unsettled.push(idx);
                    continue;
                }
            }
            slot.state = SlotState::Final;
            slot.from_journal = true;
            self.remaining -= 1;
        }
        // The audit record is written before the journal's final state: an operation the
        // journal shows unsettled may already be audited (the run stopped in between).
        if let Some(audit) = &self.exec.audit {
            for idx in unsettled {
                let op = &self.plan.operations[idx];
                self.slots[idx].audited = audit.recorded_outcome(&self.run, &op.id).await?;
            }
        }
        // Operations waiting only for what already succeeded may go.
        for idx in 0..self.slots.len() {
            let left = self.graph.depends_on[idx]
                .iter()
                .filter(|&&d| {
                    !self.slots[d]
                        .outcome
                        .as_ref()
                        .is_some_and(OperationOutcome::is_success)
                })
                .count();
            self.slots[idx].deps_left = left;
        }
        // Dependents of what failed and were not yet recorded as skipped.
        for root in failed_roots {
            self.skip_dependents(root).await?;
        }
        Ok(())
    }

    /// Puts an operation in its system's queue, now or at `at`.
    fn enqueue(&mut self, idx: usize, at: Option<Instant>) {
        let slot = &mut self.slots[idx];
        slot.state = SlotState::Queued;
        let queue = &mut self.queues[self.graph.system_of[idx]];
        match at {
            Some(at) if at > Instant::now() => {
                queue.delayed.insert((at, idx));
            }
            _ => {
                queue
                    .ready
                    .insert((Reverse(self.plan.operations[idx].priority), idx));
            }
        }
    }

    fn key(&self, idx: usize) -> String {
        let op = &self.plan.operations[idx];
        let action = match self.slots[idx].action {
            Action::Execute => "execute",
            Action::Check(_) => "check",
        };
        match op.kind.entitlement() {
            Some(e) => format!("{action}:{}/{}", op.kind.verb(), e.kind),
            None => format!("{action}:{}", op.kind.verb()),
        }
    }

    /// Chooses what to send now, per system, and when to look again.
    fn pick(&mut self, now: Instant) -> (Vec<(usize, String)>, Option<Instant>) {
        let mut start = Vec::new();
        let mut wake: Option<Instant> = None;
        let mut wake_at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        for q in 0..self.queues.len() {
            while let Some(&(at, idx)) = self.queues[q].delayed.first() {
                if at > now {
                    wake_at(at);
                    break;
                }
                self.queues[q].delayed.pop_first();
                let priority = self.plan.operations[idx].priority;
                self.queues[q].ready.insert((Reverse(priority), idx));
            }
            let queue = &self.queues[q];
            if queue.ready.is_empty() || queue.running >= queue.limit {
                continue;
            }
            let mut limiter = queue.entry.limiter();
            let mut chosen = Vec::new();
            let mut running = queue.running;
            'fill: while running < queue.limit {
                match limiter.system_gate(now) {
                    Gate::Open => {}
                    Gate::Until(t) => {
                        wake_at(t);
                        break;
                    }
                    Gate::AwaitResponse => break,
                }
                let mut pick = None;
                for &(priority, idx) in &queue.ready {
                    if chosen.iter().any(|(c, _, _)| *c == idx) {
                        continue;
                    }
                    let key = self.key(idx);
                    match limiter.gate(&key, now) {
                        Gate::Open => {
                            pick = Some((idx, priority, key));
                            break;
                        }
                        Gate::Until(t) => wake_at(t),
                        Gate::AwaitResponse => {}
                    }
                }
                let Some((idx, priority, key)) = pick else {
                    break 'fill;
                };
                if let Err(t) = limiter.take_cell() {
                    wake_at(t);
                    break;
                }
                limiter.on_dispatch(&key);
                chosen.push((idx, priority, key));
                running += 1;
            }
            drop(limiter);
            let queue = &mut self.queues[q];
            for (idx, priority, key) in chosen {
                queue.ready.remove(&(priority, idx));
                queue.running += 1;
                start.push((idx, key));
            }
        }
        (start, wake)
    }

    /// Sends one request (an attempt or a check) for an operation.
    fn start(&mut self, idx: usize, key: String) -> Task<'a> {
        let op: &'a Operation = &self.plan.operations[idx];
        let adapter: Arc<dyn Adapter> =
            Arc::clone(&self.queues[self.graph.system_of[idx]].entry.adapter);
        let account = AccountRef {
            login: op.login.clone(),
            external_id: self.ids.get(&op.identity, &op.system).cloned(),
        };
        let slot = &mut self.slots[idx];
        slot.state = SlotState::Running;
        slot.first_attempt.get_or_insert_with(Instant::now);
        slot.started_at.get_or_insert_with(wall_now);
        match slot.action.clone() {
            Action::Execute => {
                slot.attempts += 1;
                let attempt = slot.attempts;
                self.exec.emit(ExecutionEvent::Started {
                    operation: op.id.clone(),
                    system: op.system.clone(),
                    attempt,
                });
                let journal = self.exec.journal.clone();
                let claims = self.exec.claims.clone();
                let run = self.run.clone();
                let span = tracing::info_span!("operation", run = %run, system = %op.system, operation = %op.id, identity = %op.identity, attempt);
                Box::pin(
                    async move {
                        match claim_first(claims, &run, op, false).await {
                            Ok(None) => {}
                            Ok(Some(refused)) => {
                                return Done {
                                    idx,
                                    key,
                                    answer: Ok(Answer::NotClaimed(refused)),
                                };
                            }
                            Err(e) => {
                                return Done {
                                    idx,
                                    key,
                                    answer: Err(e),
                                };
                            }
                        }
                        if let Some(journal) = journal {
                            let entry = JournalEntry {
                                run,
                                operation: op.id.clone(),
                                state: OperationState::InFlight { attempt },
                                at: wall_now(),
                            };
                            if let Err(e) = journal.record(&entry).await {
                                return Done {
                                    idx,
                                    key,
                                    answer: Err(e.into()),
                                };
                            }
                        }
                        tracing::debug!("sending");
                        let result = adapter.execute(op, &account).await;
                        Done {
                            idx,
                            key,
                            answer: Ok(Answer::Executed(result)),
                        }
                    }
                    .instrument(span),
                )
            }
            Action::Check(purpose) => {
                slot.checks += 1;
                let claims = self.exec.claims.clone();
                let run = self.run.clone();
                let span = tracing::info_span!("check", system = %op.system, operation = %op.id, identity = %op.identity, purpose = ?purpose);
                Box::pin(
                    async move {
                        // Claimed too: an instance that settles an operation (journal,
                        // audit) must be the one holding it.
                        match claim_first(claims, &run, op, true).await {
                            Ok(None) => {}
                            Ok(Some(refused)) => {
                                return Done {
                                    idx,
                                    key,
                                    answer: Ok(Answer::NotClaimed(refused)),
                                };
                            }
                            Err(e) => {
                                return Done {
                                    idx,
                                    key,
                                    answer: Err(e),
                                };
                            }
                        }
                        let result = adapter.check(op, &account).await;
                        Done {
                            idx,
                            key,
                            answer: Ok(Answer::Checked(result)),
                        }
                    }
                    .instrument(span),
                )
            }
        }
    }

    /// Acts on the answer to one request.
    async fn on_done(&mut self, done: Done) -> Result<(), ExecutorError> {
        let Done { idx, key, answer } = done;
        let q = self.graph.system_of[idx];
        self.queues[q].running -= 1;
        self.queues[q].entry.limiter().on_answer();
        let now = Instant::now();
        let answer = answer?;
        if matches!(answer, Answer::Executed(_) | Answer::Checked(_)) && self.exec.claims.is_some()
        {
            self.slots[idx].claimed = true;
            self.slots[idx].waiting_since = None;
        }
        match answer {
            Answer::Executed(Ok(applied)) => {
                if let Some(info) = &applied.rate_limit {
                    self.queues[q].entry.limiter().on_headroom(&key, info, now);
                }
                self.succeed(idx, applied.effect, applied.external_id).await
            }
            Answer::Executed(Err(error)) => self.on_error(idx, &key, error, true).await,
            Answer::Checked(Ok(status)) => {
                let purpose = match &self.slots[idx].action {
                    Action::Check(p) => p.clone(),
                    Action::Execute => CheckPurpose::MaybeApplied,
                };
                match (status, purpose) {
                    (CheckStatus::Done { external_id }, CheckPurpose::Conflict(_)) => {
                        self.succeed(idx, Effect::AlreadyInPlace, external_id).await
                    }
                    (CheckStatus::Done { external_id }, _) => {
                        self.succeed(idx, Effect::Changed, external_id).await
                    }
                    (CheckStatus::Pending { recheck_after }, _) => {
                        self.pending(idx, recheck_after).await
                    }
                    (CheckStatus::NotDone, CheckPurpose::Conflict(error)) => {
                        self.fail(idx, error).await
                    }
                    (CheckStatus::NotDone, _) => {
                        // Not in place and nothing under way: send it (again).
                        self.slots[idx].action = Action::Execute;
                        self.enqueue(idx, None);
                        Ok(())
                    }
                }
            }
            Answer::Checked(Err(error)) => self.on_error(idx, &key, error, false).await,
            Answer::NotClaimed(claim) => self.on_not_claimed(idx, claim).await,
        }
    }

    /// The claim before an attempt was not a plain grant: nothing was sent.
    async fn on_not_claimed(
        &mut self,
        idx: usize,
        claim: ClaimOutcome,
    ) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let slot = &mut self.slots[idx];
        // Nothing was sent: the attempt or check does not count.
        match slot.action {
            Action::Execute => slot.attempts = slot.attempts.saturating_sub(1),
            Action::Check(_) => slot.checks = slot.checks.saturating_sub(1),
        }
        let now = Instant::now();
        match claim {
            ClaimOutcome::Claimed {
                previous_holder, ..
            } => {
                // Ours now; the previous holder may have sent it: ask the system first.
                tracing::info!(operation = %op.id, previous_holder = previous_holder.as_deref().unwrap_or(""), "took the operation over; checking the system first");
                slot.claimed = true;
                slot.waiting_since = None;
                slot.action = Action::Check(CheckPurpose::MaybeApplied);
                self.enqueue(idx, None);
                Ok(())
            }
            ClaimOutcome::AlreadyDone => self.adopt(idx).await,
            ClaimOutcome::HeldByOther {
                holder,
                lease_until,
            } => {
                let since = *slot.waiting_since.get_or_insert(now);
                let settings = self.exec.claims.as_ref().map(|(_, s)| s);
                let (poll, max_wait) = settings.map_or(
                    (std::time::Duration::from_secs(1), std::time::Duration::ZERO),
                    |s| (s.poll, s.max_wait),
                );
                if now >= since + max_wait {
                    tracing::warn!(operation = %op.id, %holder, "still held by another instance; stopped waiting");
                    self.finish(idx, OperationOutcome::Pending);
                    return Ok(());
                }
                let lease_left = (lease_until - wall_now()).to_std().unwrap_or_default();
                let next = poll
                    .min(lease_left)
                    .max(std::time::Duration::from_millis(10));
                tracing::debug!(operation = %op.id, %holder, "held by another instance; waiting");
                self.enqueue(idx, Some((now + next).min(since + max_wait)));
                Ok(())
            }
        }
    }

    /// Another instance completed the operation: takes its final state from the journal
    /// without calling the system or auditing again.
    async fn adopt(&mut self, idx: usize) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let journal = self.exec.journal.as_ref().ok_or(ExecutorError::NoJournal)?;
        let last = self
            .drive(journal.entries(&self.run))
            .await?
            .into_iter()
            .rev()
            .find(|e| e.operation == op.id && e.state.is_final());
        tracing::info!(operation = %op.id, "completed by another instance");
        self.slots[idx].from_journal = true;
        match last.map(|e| e.state) {
            Some(OperationState::Succeeded {
                effect,
                external_id,
            }) => {
                if let Some(id) = external_id {
                    self.ids.insert(op.identity.clone(), op.system.clone(), id);
                }
                self.finish(idx, OperationOutcome::from_effect(effect));
                self.start_dependents(idx);
                Ok(())
            }
            Some(OperationState::Failed { error }) => {
                self.finish(idx, OperationOutcome::Failed { error });
                self.skip_dependents(idx).await
            }
            Some(OperationState::Skipped { because }) => {
                self.finish(idx, OperationOutcome::Skipped { because });
                self.skip_dependents(idx).await
            }
            // Marked done without a final state in the journal: report it unfinished.
            _ => {
                self.finish(idx, OperationOutcome::Pending);
                Ok(())
            }
        }
    }

    /// Marks this instance's claim on a settled operation complete (`done`) or gives it
    /// back (unfinished). An operation settled without a claim of ours (e.g. a resume
    /// check found it done) is claimed first, so other instances do not send it.
    async fn settle_claim(&mut self, idx: usize, done: bool) -> Result<(), ExecutorError> {
        let exec = self.exec;
        let Some((claims, settings)) = &exec.claims else {
            return Ok(());
        };
        let op = &self.plan.operations[idx].id;
        if !self.slots[idx].claimed {
            let claim = self
                .drive(claims.claim(&self.run, op, &settings.holder, settings.lease))
                .await?;
            if !matches!(claim, ClaimOutcome::Claimed { .. }) {
                return Ok(());
            }
        }
        self.slots[idx].claimed = false;
        if done {
            self.drive(claims.complete(&self.run, op, &settings.holder))
                .await?;
        } else {
            self.drive(claims.release(&self.run, op, &settings.holder))
                .await?;
        }
        Ok(())
    }

    async fn on_error(
        &mut self,
        idx: usize,
        key: &str,
        error: AdapterError,
        executed: bool,
    ) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let now = Instant::now();
        let attempt = self.slots[idx].attempts;
        match &error {
            AdapterError::RateLimited { info, .. } => {
                let q = self.graph.system_of[idx];
                let until = self.queues[q].entry.limiter().on_throttled(
                    key,
                    info,
                    now,
                    self.exec.retry.default_rate_limit_wait,
                );
                tracing::warn!(system = %op.system, operation = %op.id, wait_ms = (until - now).as_millis() as u64, "rate limited; pausing the system");
                self.exec.emit(ExecutionEvent::SystemThrottled {
                    system: op.system.clone(),
                    bucket: info.bucket.clone(),
                    until: wall_at(until),
                });
                if self.out_of_time(idx, until) {
                    return self.fail(idx, error).await;
                }
                self.exec.emit(ExecutionEvent::Retrying {
                    operation: op.id.clone(),
                    attempt,
                    delay: until - now,
                    error,
                });
                self.enqueue(idx, Some(until));
                Ok(())
            }
            AdapterError::Transient { maybe_applied, .. } => {
                let seed = idx as u64 ^ 0x9E37_79B9_7F4A_7C15;
                let retry = &self.exec.retry;
                let delay = self.slots[idx]
                    .backoff
                    .get_or_insert_with(|| retry.backoff(seed))
                    .next();
                match delay {
                    Some(delay) if !self.out_of_time(idx, now + delay) => {
                        if *maybe_applied && executed {
                            self.slots[idx].action = Action::Check(CheckPurpose::MaybeApplied);
                        }
                        tracing::info!(operation = %op.id, delay_ms = delay.as_millis() as u64, %error, "retrying");
                        self.exec.emit(ExecutionEvent::Retrying {
                            operation: op.id.clone(),
                            attempt,
                            delay,
                            error,
                        });
                        self.enqueue(idx, Some(now + delay));
                        Ok(())
                    }
                    _ => self.fail(idx, error).await,
                }
            }
            AdapterError::AlreadyDone { .. } if executed => {
                self.succeed(idx, Effect::AlreadyInPlace, None).await
            }
            AdapterError::Conflict { .. } if executed => {
                self.slots[idx].action = Action::Check(CheckPurpose::Conflict(error));
                self.enqueue(idx, None);
                Ok(())
            }
            AdapterError::Pending { recheck_after, .. } => {
                let after = *recheck_after;
                self.pending(idx, after).await
            }
            _ if executed && already_gone(&op.kind, &error) => {
                self.succeed(idx, Effect::AlreadyInPlace, None).await
            }
            _ => self.fail(idx, error).await,
        }
    }

    fn out_of_time(&self, idx: usize, next: Instant) -> bool {
        self.slots[idx]
            .first_attempt
            .is_some_and(|first| next > first + self.exec.retry.max_total_time)
    }

    async fn pending(
        &mut self,
        idx: usize,
        recheck_after: std::time::Duration,
    ) -> Result<(), ExecutorError> {
        let now = Instant::now();
        let op = &self.plan.operations[idx];
        if self.slots[idx].pending_since.is_none() {
            self.slots[idx].pending_since = Some(now);
            self.journal(idx, OperationState::Pending).await?;
            self.exec.emit(ExecutionEvent::Pending {
                operation: op.id.clone(),
                final_: false,
            });
        }
        let deadline = self.slots[idx].pending_since.unwrap_or(now) + self.exec.pending.deadline;
        if now >= deadline {
            tracing::warn!(operation = %op.id, "still pending at the deadline");
            self.finish(idx, OperationOutcome::Pending);
            self.settle_claim(idx, false).await?;
            self.audit(idx, AuditOutcome::Pending).await?;
            self.exec.emit(ExecutionEvent::Pending {
                operation: op.id.clone(),
                final_: true,
            });
            return self.skip_dependents(idx).await;
        }
        self.slots[idx].action = Action::Check(CheckPurpose::Pending);
        let at = (now + self.exec.pending.next_check(recheck_after)).min(deadline);
        self.enqueue(idx, Some(at));
        Ok(())
    }

    fn finish(&mut self, idx: usize, outcome: OperationOutcome) {
        let slot = &mut self.slots[idx];
        if slot.state != SlotState::Final {
            self.remaining -= 1;
        }
        slot.state = SlotState::Final;
        slot.outcome = Some(outcome);
        slot.finished_at = Some(wall_now());
    }

    async fn succeed(
        &mut self,
        idx: usize,
        effect: Effect,
        external_id: Option<String>,
    ) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        tracing::info!(operation = %op.id, ?effect, "succeeded");
        if let Some(id) = &external_id {
            self.ids
                .insert(op.identity.clone(), op.system.clone(), id.clone());
        }
        self.finish(idx, OperationOutcome::from_effect(effect));
        // Audit first: a stop between the two leaves the operation unsettled in the
        // journal, so a resume checks it again and finds the record (no second one);
        // the other order could lose the record for good.
        let outcome = match effect {
            Effect::Changed => AuditOutcome::Changed,
            Effect::AlreadyInPlace => AuditOutcome::AlreadyInPlace,
        };
        self.audit(idx, outcome).await?;
        self.journal(
            idx,
            OperationState::Succeeded {
                effect,
                external_id,
            },
        )
        .await?;
        self.settle_claim(idx, true).await?;
        self.exec.emit(ExecutionEvent::Succeeded {
            operation: op.id.clone(),
            effect,
        });
        self.start_dependents(idx);
        Ok(())
    }

    /// `idx` succeeded: queues the dependents it was the last obstacle for.
    fn start_dependents(&mut self, idx: usize) {
        for k in 0..self.graph.dependents[idx].len() {
            let d = self.graph.dependents[idx][k];
            let slot = &mut self.slots[d];
            slot.deps_left = slot.deps_left.saturating_sub(1);
            if slot.deps_left == 0 && slot.state == SlotState::Waiting {
                self.enqueue(d, None);
            }
        }
    }

    async fn fail(&mut self, idx: usize, error: AdapterError) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        tracing::warn!(operation = %op.id, %error, "failed");
        self.finish(
            idx,
            OperationOutcome::Failed {
                error: error.clone(),
            },
        );
        // Audit before the final journal state, as in `succeed`.
        let text = error
            .system_error()
            .map_or_else(|| error.to_string(), ToString::to_string);
        self.audit(
            idx,
            AuditOutcome::Failed {
                class: error.class().to_owned(),
                error: text,
            },
        )
        .await?;
        self.journal(
            idx,
            OperationState::Failed {
                error: error.clone(),
            },
        )
        .await?;
        self.settle_claim(idx, true).await?;
        self.exec.emit(ExecutionEvent::Failed {
            operation: op.id.clone(),
            error,
        });
        self.skip_dependents(idx).await
    }

    /// Skips every operation that depends, directly or not, on `root`.
    async fn skip_dependents(&mut self, root: usize) -> Result<(), ExecutorError> {
        let because = self.plan.operations[root].id.clone();
        let mut stack: Vec<usize> = self.graph.dependents[root].clone();
        while let Some(idx) = stack.pop() {
            if self.slots[idx].state == SlotState::Final {
                continue;
            }
            self.finish(
                idx,
                OperationOutcome::Skipped {
                    because: because.clone(),
                },
            );
            self.journal(
                idx,
                OperationState::Skipped {
                    because: because.clone(),
                },
            )
            .await?;
            self.exec.emit(ExecutionEvent::Skipped {
                operation: self.plan.operations[idx].id.clone(),
                because: because.clone(),
            });
            stack.extend(self.graph.dependents[idx].iter().copied());
        }
        Ok(())
    }

    async fn journal(&self, idx: usize, state: OperationState) -> Result<(), ExecutorError> {
        if let Some(journal) = &self.exec.journal {
            let entry = JournalEntry {
                run: self.run.clone(),
                operation: self.plan.operations[idx].id.clone(),
                state,
                at: wall_now(),
            };
            self.drive(journal.record(&entry)).await?;
        }
        Ok(())
    }

    async fn audit(&self, idx: usize, outcome: AuditOutcome) -> Result<(), ExecutorError> {
        let Some(audit) = &self.exec.audit else {
            return Ok(());
        };
        let op = &self.plan.operations[idx];
        if let Some(before) = &self.slots[idx].audited
            && same_outcome(before, &outcome)
        {
            tracing::info!(operation = %op.id, "already audited before the run was interrupted");
            return Ok(());
        }
        let mut reason = op.reason.clone();
        if reason.event.is_none() {
            reason.event.clone_from(&self.exec.trigger);
        }
        let append = audit.append(AuditEvent {
            at: wall_now(),
            run: self.run.clone(),
            actor: self.exec.actor.clone(),
            identity: op.identity.clone(),
            system: op.system.clone(),
            operation: op.id.clone(),
            action: op.kind.verb().to_owned(),
            entitlement: op.kind.entitlement().cloned(),
            outcome,
            reason,
        });
        self.drive(append).await?;
        Ok(())
    }

    fn report(self, started_at: DateTime<Utc>) -> ExecutionReport {
        let operations = self
            .plan
            .operations
            .iter()
            .zip(self.slots)
            .map(|(op, slot)| OperationReport {
                operation: op.id.clone(),
                identity: op.identity.clone(),
                system: op.system.clone(),
                action: op.kind.verb().to_owned(),
                entitlement: op.kind.entitlement().cloned(),
                priority: op.priority,
                outcome: slot.outcome.unwrap_or(OperationOutcome::Pending),
                attempts: slot.attempts,
                checks: slot.checks,
                started_at: slot.started_at,
                finished_at: slot.finished_at,
                from_journal: slot.from_journal,
            })
            .collect();
        ExecutionReport::new(self.run, started_at, wall_now(), operations)
    }
}

/// Whether an audit record from before an interruption already tells `now`'s outcome: the
/// same kind of ending (a check after a stop cannot tell "changed" from "already in
/// place", so those two count as one). A different ending (pending then done, failed
/// then done on a retry) is a new fact and gets its own record.
fn same_outcome(before: &AuditOutcome, now: &AuditOutcome) -> bool {
    use AuditOutcome::{AlreadyInPlace, Changed, Failed, Pending};
    matches!(
        (before, now),
        (Changed | AlreadyInPlace, Changed | AlreadyInPlace)
            | (Pending, Pending)
            | (Failed { .. }, Failed { .. })
    )
}
