//! Records of a run: the journal and audit log writes that settle an operation, and the
//! report at the end.

use chrono::{DateTime, Utc};

use super::report::{ExecutionReport, OperationOutcome, OperationReport};
use super::scheduler::Run;
use super::task::SlotState;
use super::{ExecutionEvent, ExecutorError};
use crate::adapter::{AdapterError, Effect};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::clock::wall_now;
use crate::journal::{JournalEntry, OperationState};

impl Run<'_> {
    /// Marks an operation done (one way or another) in the run's bookkeeping.
    pub(super) fn finish(&mut self, idx: usize, outcome: OperationOutcome) {
        if self.slots[idx].note.is_none() {
            // How the system carries it out (a ticket's key), for the report and the audit.
            self.slots[idx].note = self
                .queues
                .entry(self.graph.system_of[idx])
                .adapter
                .operation_note(&self.plan.operations[idx].id);
        }
        let slot = &mut self.slots[idx];
        if slot.state != SlotState::Final {
            self.remaining -= 1;
        }
        slot.state = SlotState::Final;
        slot.outcome = Some(outcome);
        slot.finished_at = Some(wall_now());
    }

    pub(super) async fn succeed(
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

    pub(super) async fn fail(
        &mut self,
        idx: usize,
        error: AdapterError,
    ) -> Result<(), ExecutorError> {
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

    /// Reports every operation that depends, directly or not, on `root` (left pending)
    /// as skipped in this run, without a journal entry: they are unfinished, and a resume
    /// runs them once `root` is done.
    pub(super) fn skip_dependents_for_now(&mut self, root: usize) {
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
            self.exec.emit(ExecutionEvent::Skipped {
                operation: self.plan.operations[idx].id.clone(),
                because: because.clone(),
            });
            stack.extend(self.graph.dependents[idx].iter().copied());
        }
    }

    /// Skips every operation that depends, directly or not, on `root`.
    pub(super) async fn skip_dependents(&mut self, root: usize) -> Result<(), ExecutorError> {
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

    pub(super) async fn journal(
        &self,
        idx: usize,
        state: OperationState,
    ) -> Result<(), ExecutorError> {
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

    pub(super) async fn audit(
        &self,
        idx: usize,
        outcome: AuditOutcome,
    ) -> Result<(), ExecutorError> {
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
            note: self.slots[idx].note.clone(),
        });
        self.drive(append).await?;
        Ok(())
    }

    pub(super) fn report(self, started_at: DateTime<Utc>) -> ExecutionReport {
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
                note: slot.note,
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
