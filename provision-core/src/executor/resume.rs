//! Resuming an interrupted run: its state rebuilt from the journal (and, for operations
//! left unsettled, from the audit log).

use std::collections::HashMap;

use super::ExecutorError;
use super::policy::CheckPurpose;
use super::report::OperationOutcome;
use super::scheduler::Run;
use super::task::{Action, SlotState};
use crate::journal::{JournalEntry, OperationState};

impl Run<'_> {
    /// Rebuilds the run's state from the journal of an interrupted run.
    pub(super) async fn restore(
        &mut self,
        entries: Vec<JournalEntry>,
    ) -> Result<(), ExecutorError> {
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
                OperationState::Pending { resume } => {
                    if let Some(token) = resume {
                        self.queues
                            .entry(self.graph.system_of[idx])
                            .adapter
                            .resume_pending(&op.id, &token);
                    }
                    let slot = &mut self.slots[idx];
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
}
