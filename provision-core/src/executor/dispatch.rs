//! Dispatch: the request futures the run sends out. Each claims its operations first
//! (when claims are configured), records each attempt in flight in the journal before the
//! change is sent, then calls the adapter: [`Adapter::execute`] for one change,
//! [`Adapter::execute_batch`] for several changes to one whole-list resource,
//! [`Adapter::check`] for a check.

use std::sync::Arc;

use tokio::time::Instant;
use tracing::Instrument;

use super::ExecutionEvent;
use super::claiming::claim_first;
use super::queue::Chosen;
use super::scheduler::Run;
use super::task::{Action, Answer, Done, SlotState, Task};
use crate::adapter::{Adapter, AdapterError, Applied, SystemError};
use crate::clock::wall_now;
use crate::journal::{JournalEntry, OperationState};
use crate::model::{AccountRef, Operation};

/// One change about to be sent.
struct Attempt<'a> {
    idx: usize,
    op: &'a Operation,
    account: AccountRef,
    attempt: u32,
}

impl<'a> Run<'a> {
    /// Sends one request for the operations chosen: a check, one change, or a batch of
    /// changes to one whole-list resource.
    pub(super) fn start(&mut self, chosen: Chosen) -> Task<'a> {
        let Chosen { ops, key } = chosen;
        let first = ops[0];
        let entry = self.queues.entry(self.graph.system_of[first]);
        let adapter: Arc<dyn Adapter> = Arc::clone(&entry.adapter);
        let out = entry.out(&key);
        if let Action::Check(purpose) = self.slots[first].action.clone() {
            let op: &'a Operation = &self.plan.operations[first];
            let account = self.account(first);
            self.mark_running(first);
            self.slots[first].checks += 1;
            let claims = self.exec.claims.clone();
            let run = self.run.clone();
            let span = tracing::info_span!("check", system = %op.system, operation = %op.id, identity = %op.identity, purpose = ?purpose);
            return Box::pin(
                async move {
                    // Claimed too: an instance that settles an operation (journal,
                    // audit) must be the one holding it.
                    match claim_first(claims, &run, op, true).await {
                        Ok(None) => {}
                        Ok(Some(refused)) => {
                            return Done::one(first, key, Ok(Answer::NotClaimed(refused)), out);
                        }
                        Err(e) => return Done::one(first, key, Err(e), out),
                    }
                    let result = adapter.check(op, &account).await;
                    Done::one(first, key, Ok(Answer::Checked(result)), out)
                }
                .instrument(span),
            );
        }
        let attempts: Vec<Attempt<'a>> = ops.into_iter().map(|idx| self.attempt(idx)).collect();
        let journal = self.exec.journal.clone();
        let claims = self.exec.claims.clone();
        let run = self.run.clone();
        let op = attempts[0].op;
        let span = tracing::info_span!("operation", run = %run, system = %op.system, operation = %op.id, identity = %op.identity, attempt = attempts[0].attempt, batch = attempts.len());
        Box::pin(
            async move {
                let mut answers = Vec::with_capacity(attempts.len());
                let mut sending = Vec::with_capacity(attempts.len());
                for a in attempts {
                    match claim_first(claims.clone(), &run, a.op, false).await {
                        Ok(None) => {}
                        Ok(Some(refused)) => {
                            answers.push((a.idx, Ok(Answer::NotClaimed(refused))));
                            continue;
                        }
                        Err(e) => {
                            answers.push((a.idx, Err(e)));
                            continue;
                        }
                    }
                    if let Some(journal) = &journal {
                        let entry = JournalEntry {
                            run: run.clone(),
                            operation: a.op.id.clone(),
                            state: OperationState::InFlight { attempt: a.attempt },
                            at: wall_now(),
                        };
                        if let Err(e) = journal.record(&entry).await {
                            // Nothing is sent that is not journaled first.
                            answers.push((a.idx, Err(e.into())));
                            return Done { key, answers, out };
                        }
                    }
                    sending.push(a);
                }
                tracing::debug!("sending");
                match sending.as_slice() {
                    [] => {}
                    [one] => {
                        let result = adapter.execute(one.op, &one.account).await;
                        answers.push((one.idx, Ok(Answer::Executed(result))));
                    }
                    several => {
                        let batch: Vec<(Operation, AccountRef)> = several
                            .iter()
                            .map(|a| (a.op.clone(), a.account.clone()))
                            .collect();
                        let mut results = adapter.execute_batch(&batch).await.into_iter();
                        for a in several {
                            // A batch that answers for fewer operations than it was given
                            // may still have applied the rest: check before resending.
                            let result = results.next().unwrap_or_else(short_batch);
                            answers.push((a.idx, Ok(Answer::Executed(result))));
                        }
                    }
                }
                Done { key, answers, out }
            }
            .instrument(span),
        )
    }

    /// The account reference the adapter gets for operation `idx`.
    fn account(&self, idx: usize) -> AccountRef {
        let op = &self.plan.operations[idx];
        AccountRef {
            login: op.login.clone(),
            external_id: self.ids.get(&op.identity, &op.system).cloned(),
        }
    }

    fn mark_running(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        slot.state = SlotState::Running;
        slot.first_attempt.get_or_insert_with(Instant::now);
        slot.started_at.get_or_insert_with(wall_now);
    }

    /// Books an attempt of operation `idx` (counted, announced) and says what to send.
    fn attempt(&mut self, idx: usize) -> Attempt<'a> {
        let op: &'a Operation = &self.plan.operations[idx];
        let account = self.account(idx);
        self.mark_running(idx);
        let slot = &mut self.slots[idx];
        slot.attempts += 1;
        let attempt = slot.attempts;
        self.exec.emit(ExecutionEvent::Started {
            operation: op.id.clone(),
            system: op.system.clone(),
            attempt,
        });
        Attempt {
            idx,
            op,
            account,
            attempt,
        }
    }
}

/// The answer for an operation a batch did not answer for.
#[allow(clippy::result_large_err)] // the adapter contract's own result type
fn short_batch() -> Result<Applied, AdapterError> {
    Err(AdapterError::Transient {
        error: SystemError::message(
            "the adapter's batch answered for fewer operations than it was given",
        ),
        maybe_applied: true,
    })
}
