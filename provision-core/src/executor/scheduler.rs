//! One run of a plan: the loop that sends what the queues allow, acts on the answers by
//! the error policy ([`super::policy`]) and walks the dependency graph.
//!
//! The jobs around it each have their module: the graph ([`super::graph`]), queueing
//! and rate gating ([`super::queue`]), dispatch with claims and journal
//! ([`super::dispatch`], [`super::claiming`]), the decisions ([`super::policy`]), the
//! journal and audit writes and the report ([`super::records`]), and resuming
//! ([`super::resume`]).

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::graph::Graph;
use super::policy::{self, CheckDecision, CheckPurpose, Decision, Failure, PendingDecision};
use super::queue::{Candidate, Queues};
use super::report::{ExecutionReport, OperationOutcome};
use super::task::{Action, Answer, Done, Slot, SlotState, Task};
use super::{ExecutionEvent, Executor, ExecutorError, ExternalIds};
use crate::adapter::{AdapterError, Effect};
use crate::audit::AuditOutcome;
use crate::clock::{wall_at, wall_now};
use crate::journal::{JournalEntry, OperationState, RunId};
use crate::model::Plan;

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
    answered: VecDeque<Done<'a>>,
}

/// One run in progress.
pub(crate) struct Run<'a> {
    pub(super) exec: &'a Executor,
    pub(super) run: RunId,
    pub(super) plan: &'a Plan,
    pub(super) graph: Graph,
    pub(super) ids: ExternalIds,
    pub(super) slots: Vec<Slot>,
    pub(super) queues: Queues<'a>,
    pub(super) remaining: usize,
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
                retries: 0,
                first_attempt: None,
                started_at: None,
                finished_at: None,
                pending_since: None,
                outcome: None,
                from_journal: false,
                audited: None,
                claimed: false,
                waiting_since: None,
                note: None,
            })
            .collect();
        let queues = Queues::new(exec.systems.values());
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
    pub(super) async fn drive<F: Future>(&self, fut: F) -> F::Output {
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
    async fn next_answer(&self) -> Option<Done<'a>> {
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
            let plan = self.plan;
            let (start, wake) = {
                let slots = &self.slots;
                let graph = &self.graph;
                self.queues.pick(
                    now,
                    |idx| plan.operations[idx].priority,
                    |idx| Candidate {
                        key: request_key(plan, slots, idx),
                        list: graph.list_resource[idx],
                        change: matches!(slots[idx].action, Action::Execute),
                        max_batch: graph.list_resource[idx]
                            .and_then(|l| graph.batch_limit.get(l).copied())
                            .unwrap_or(1),
                        serial: graph.list_resource[idx]
                            .and_then(|l| graph.serial.get(l).copied())
                            .unwrap_or(false),
                    },
                )
            };
            for chosen in start {
                let task = self.start(chosen);
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
    /// Puts an operation in its system's queue, now or at `at`.
    pub(super) fn enqueue(&mut self, idx: usize, at: Option<Instant>) {
        self.slots[idx].state = SlotState::Queued;
        let priority = self.plan.operations[idx].priority;
        self.queues
            .enqueue(self.graph.system_of[idx], idx, priority, at);
    }

    /// Acts on the answers to one request.
    async fn on_done(&mut self, done: Done<'a>) -> Result<(), ExecutorError> {
        let Done { key, answers, out } = done;
        // Answered, for the limiter, before the answer's headroom is booked.
        drop(out);
        let Some(&(first, _)) = answers.first() else {
            return Ok(());
        };
        self.queues
            .on_answer(self.graph.system_of[first], self.graph.list_resource[first]);
        for (idx, answer) in answers {
            self.on_answer(idx, &key, answer?).await?;
        }
        Ok(())
    }

    /// Acts on the answer for one operation.
    async fn on_answer(
        &mut self,
        idx: usize,
        key: &str,
        answer: Answer,
    ) -> Result<(), ExecutorError> {
        let q = self.graph.system_of[idx];
        let now = Instant::now();
        if matches!(answer, Answer::Executed(_) | Answer::Checked(_)) && self.exec.claims.is_some()
        {
            self.slots[idx].claimed = true;
            self.slots[idx].waiting_since = None;
        }
        match answer {
            Answer::Executed(Ok(applied)) => {
                match &applied.rate_limit {
                    Some(info) => self.queues.entry(q).limiter().on_headroom(key, info, now),
                    None => self.queues.entry(q).limiter().on_untagged_success(key),
                }
                self.slots[idx].note = applied.note;
                self.succeed(idx, applied.effect, applied.external_id).await
            }
            Answer::Executed(Err(error)) => self.on_error(idx, key, error, true).await,
            Answer::Checked(Ok(status)) => {
                self.queues.entry(q).limiter().on_untagged_success(key);
                let purpose = match &self.slots[idx].action {
                    Action::Check(p) => p.clone(),
                    Action::Execute => CheckPurpose::MaybeApplied,
                };
                match policy::on_check(status, purpose) {
                    CheckDecision::Succeed {
                        effect,
                        external_id,
                    } => self.succeed(idx, effect, external_id).await,
                    CheckDecision::Pending { recheck_after } => {
                        self.pending(idx, recheck_after).await
                    }
                    CheckDecision::Fail(error) => self.fail(idx, error).await,
                    CheckDecision::Send => {
                        self.slots[idx].action = Action::Execute;
                        self.enqueue(idx, None);
                        Ok(())
                    }
                }
            }
            Answer::Checked(Err(error)) => self.on_error(idx, key, error, false).await,
            Answer::NotClaimed(claim) => self.on_not_claimed(idx, claim).await,
        }
    }

    /// Acts on a failed attempt (`executed`) or check, as the error policy decides.
    async fn on_error(
        &mut self,
        idx: usize,
        key: &str,
        error: AdapterError,
        executed: bool,
    ) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let now = Instant::now();
        let q = self.graph.system_of[idx];
        let retry = &self.exec.retry;
        let throttled_until = match &error {
            AdapterError::RateLimited { info, .. } => {
                let until = self.queues.entry(q).limiter().on_throttled(
                    key,
                    info,
                    now,
                    retry.default_rate_limit_wait,
                );
                tracing::warn!(system = %op.system, operation = %op.id, wait_ms = (until - now).as_millis() as u64, "rate limited; pausing the system");
                self.exec.emit(ExecutionEvent::SystemThrottled {
                    system: op.system.clone(),
                    bucket: info.bucket.clone(),
                    until: wall_at(until),
                });
                Some(until)
            }
            _ => None,
        };
        // The system accepted the operation and is completing it: a check of it that
        // meets a 5xx or a 429 leaves it pending (re-checked until the pending deadline),
        // it does not fail it when the retry window (counted from the first attempt,
        // long past) is over.
        if !executed && self.slots[idx].pending_since.is_some() && error.is_retryable() {
            tracing::info!(operation = %op.id, %error, "check of a pending operation failed; still pending");
            let recheck_after = throttled_until.map_or(Duration::ZERO, |until| until - now);
            return self.pending(idx, recheck_after).await;
        }
        let slot = &self.slots[idx];
        let backoff = match &error {
            AdapterError::Transient { .. } => {
                policy::backoff_delay(retry, backoff_seed(idx), slot.retries)
            }
            _ => None,
        };
        let decision = policy::on_failure(&Failure {
            error: &error,
            kind: Some(&op.kind),
            executed,
            now,
            give_up_at: slot.first_attempt.map(|first| first + retry.max_total_time),
            backoff,
            throttled_until,
        });
        let attempt = slot.attempts;
        match decision {
            Decision::WaitForBudget { until } => {
                self.exec.emit(ExecutionEvent::Retrying {
                    operation: op.id.clone(),
                    attempt,
                    delay: until - now,
                    error,
                });
                self.enqueue(idx, Some(until));
                Ok(())
            }
            Decision::Retry { delay, check_first } => {
                let slot = &mut self.slots[idx];
                slot.retries += 1;
                if check_first {
                    slot.action = Action::Check(CheckPurpose::MaybeApplied);
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
            Decision::AlreadyInPlace => self.succeed(idx, Effect::AlreadyInPlace, None).await,
            Decision::Confirm => {
                self.slots[idx].action = Action::Check(CheckPurpose::Conflict(error));
                self.enqueue(idx, None);
                Ok(())
            }
            Decision::Pending { recheck_after } => self.pending(idx, recheck_after).await,
            Decision::Fail => self.fail(idx, error).await,
        }
    }

    /// The operation is pending: records that once, then re-checks it until its system's
    /// deadline ([`crate::adapter::SystemDescriptor::pending_deadline`]). Left pending, it
    /// stays so in the journal, and a resume checks it again.
    async fn pending(&mut self, idx: usize, recheck_after: Duration) -> Result<(), ExecutorError> {
        let now = Instant::now();
        let op = &self.plan.operations[idx];
        if self.slots[idx].pending_since.is_none() {
            self.slots[idx].pending_since = Some(now);
            // what the adapter needs to find it again after a restart (a request id)
            let resume = self
                .queues
                .entry(self.graph.system_of[idx])
                .adapter
                .pending_resume_token(&op.id);
            self.journal(idx, OperationState::Pending { resume })
                .await?;
            self.exec.emit(ExecutionEvent::Pending {
                operation: op.id.clone(),
                final_: false,
            });
        }
        let since = self.slots[idx].pending_since.unwrap_or(now);
        let deadline = self
            .queues
            .entry(self.graph.system_of[idx])
            .adapter
            .descriptor()
            .pending_deadline;
        match policy::on_pending(&self.exec.pending, deadline, since, now, recheck_after) {
            PendingDecision::RecheckAt(at) => {
                self.slots[idx].action = Action::Check(CheckPurpose::Pending);
                self.enqueue(idx, Some(at));
                Ok(())
            }
            PendingDecision::GiveUp => {
                tracing::info!(operation = %op.id, ?deadline, "still pending; left for a later run or a resume");
                self.finish(idx, OperationOutcome::Pending);
                self.settle_claim(idx, false).await?;
                self.audit(idx, AuditOutcome::Pending).await?;
                self.exec.emit(ExecutionEvent::Pending {
                    operation: op.id.clone(),
                    final_: true,
                });
                // Its dependents are not run in this run, but not journaled as skipped
                // either: a resume that finds the operation done runs them.
                self.skip_dependents_for_now(idx);
                Ok(())
            }
        }
    }

    /// `idx` succeeded: queues the dependents it was the last obstacle for.
    pub(super) fn start_dependents(&mut self, idx: usize) {
        for k in 0..self.graph.dependents[idx].len() {
            let d = self.graph.dependents[idx][k];
            let slot = &mut self.slots[d];
            slot.deps_left = slot.deps_left.saturating_sub(1);
            if slot.deps_left == 0 && slot.state == SlotState::Waiting {
                self.enqueue(d, None);
            }
        }
    }
}

/// The seed of an operation's backoff jitter.
fn backoff_seed(idx: usize) -> u64 {
    idx as u64 ^ 0x9E37_79B9_7F4A_7C15
}

/// The kind of request operation `idx` makes next, as the rate limiter counts it
/// (`execute:grant/group`, `check:create_account`).
fn request_key(plan: &Plan, slots: &[Slot], idx: usize) -> String {
    let op = &plan.operations[idx];
    let action = match slots[idx].action {
        Action::Execute => "execute",
        Action::Check(_) => "check",
    };
    match op.kind.entitlement() {
        Some(e) => format!("{action}:{}/{}", op.kind.verb(), e.kind),
        None => format!("{action}:{}", op.kind.verb()),
    }
}
