//! Dispatch: the request futures the run sends out. Each claims its operation first
//! (when claims are configured), records an attempt in flight in the journal before the
//! change is sent, then calls the adapter.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tracing::Instrument;

use super::ExecutionEvent;
use super::ExecutorError;
use super::claiming::claim_first;
use super::scheduler::{Action, Run, SlotState};
use crate::adapter::{Adapter, AdapterError, Applied, CheckStatus};
use crate::clock::wall_now;
use crate::journal::{ClaimOutcome, JournalEntry, OperationState};
use crate::model::{AccountRef, Operation};
use tokio::time::Instant;

/// What came back for one request.
pub(crate) enum Answer {
    Executed(Result<Applied, AdapterError>),
    Checked(Result<CheckStatus, AdapterError>),
    /// Not sent: the claim was refused, or taken over from `previous_holder`.
    NotClaimed(ClaimOutcome),
}

pub(crate) struct Done {
    pub(crate) idx: usize,
    pub(crate) key: String,
    pub(crate) answer: Result<Answer, ExecutorError>,
}

pub(crate) type Task<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

impl<'a> Run<'a> {
    /// Sends one request (an attempt or a check) for an operation.
    pub(super) fn start(&mut self, idx: usize, key: String) -> Task<'a> {
        let op: &'a Operation = &self.plan.operations[idx];
        let adapter: Arc<dyn Adapter> =
            Arc::clone(&self.queues.entry(self.graph.system_of[idx]).adapter);
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
}
