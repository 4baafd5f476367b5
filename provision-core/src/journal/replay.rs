//! Replaying a run's entries: where each operation stood when the run stopped.
//!
//! Pure: no I/O. The executor's resume reads a run's plan and entries from a
//! [`super::Journal`], calls [`replay`] and asks [`Replay::resume_action`] per
//! operation of the plan.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{JournalEntry, OperationState};
use crate::model::{Operation, OperationId, Plan};

/// The last known state of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationProgress {
    /// Its last recorded state.
    pub state: OperationState,
    /// When that state was recorded.
    pub at: DateTime<Utc>,
    /// How many attempts were started (the highest `InFlight` attempt seen; 0 if none).
    pub attempts: u32,
}

/// What resuming should do with one operation of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeAction {
    /// Never started: run it.
    Run,
    /// It was sent and the run stopped before the outcome was recorded (last state
    /// `InFlight`), or the system accepted it for later (`Pending`): read the system
    /// (`Adapter::check`) before sending it again, so nothing is done twice.
    Recheck,
    /// It reached a final state (succeeded, failed or skipped): leave it.
    Done,
}

/// Every operation's last state, from a run's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    operations: BTreeMap<OperationId, OperationProgress>,
}

/// Folds a run's entries (in the order recorded) into each operation's last state.
///
/// Entries must be of one run; later entries win. Attempt numbers are kept as
/// the highest `InFlight` attempt seen, so a resumed operation continues counting.
pub fn replay<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> Replay {
    let mut operations: BTreeMap<OperationId, OperationProgress> = BTreeMap::new();
    for entry in entries {
        let attempt = match entry.state {
            OperationState::InFlight { attempt } => attempt,
            _ => 0,
        };
        match operations.get_mut(&entry.operation) {
            Some(progress) => {
                progress.state = entry.state.clone();
                progress.at = entry.at;
                progress.attempts = progress.attempts.max(attempt);
            }
            None => {
                operations.insert(
                    entry.operation.clone(),
                    OperationProgress {
                        state: entry.state.clone(),
                        at: entry.at,
                        attempts: attempt,
                    },
                );
            }
        }
    }
    Replay { operations }
}

impl Replay {
    /// The operation's progress, if it has any entry.
    pub fn get(&self, id: &OperationId) -> Option<&OperationProgress> {
        self.operations.get(id)
    }

    /// The operation's last state, if it has any entry.
    pub fn last_state(&self, id: &OperationId) -> Option<&OperationState> {
        self.operations.get(id).map(|p| &p.state)
    }

    /// Every operation with an entry, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&OperationId, &OperationProgress)> {
        self.operations.iter()
    }

    /// How many operations have at least one entry.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// True when no entry was replayed.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// What resuming should do with this operation.
    pub fn resume_action(&self, id: &OperationId) -> ResumeAction {
        match self.last_state(id) {
            None => ResumeAction::Run,
            Some(state) if state.is_final() => ResumeAction::Done,
            Some(OperationState::InFlight { .. } | OperationState::Pending { .. }) => {
                ResumeAction::Recheck
            }
            // Future non-final states: be careful, read before writing.
            Some(_) => ResumeAction::Recheck,
        }
    }

    /// The plan's operations that still need work (not in a final state), in plan
    /// order, with what to do with each.
    pub fn remaining<'p>(&self, plan: &'p Plan) -> Vec<(&'p Operation, ResumeAction)> {
        plan.operations
            .iter()
            .map(|op| (op, self.resume_action(&op.id)))
            .filter(|(_, action)| *action != ResumeAction::Done)
            .collect()
    }
}
