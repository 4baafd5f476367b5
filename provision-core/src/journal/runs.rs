//! The runs a journal holds, in memory: shared by the memory and file journals.

use std::collections::{BTreeMap, BTreeSet};

use super::{JournalEntry, JournalError, RunId};
use crate::model::{OperationId, Plan};

/// One run: its plan and its entries in order.
#[derive(Debug, Clone)]
pub(crate) struct RunData {
    pub plan: Plan,
    pub entries: Vec<JournalEntry>,
}

/// Every run, by id.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    runs: BTreeMap<RunId, RunData>,
    /// Operations whose last entry is not final, kept as entries arrive.
    open: BTreeSet<(RunId, OperationId)>,
}

/// What [`Runs::check_begin`] found.
pub(crate) enum Begin {
    /// A new run: record it.
    New,
    /// The same run with the same plan was already begun: nothing to do.
    AlreadyBegun,
}

impl Runs {
    /// May `run` begin with `plan`? Beginning a run again with the same plan is a
    /// no-op (a retried call); with another plan it is [`JournalError::RunConflict`].
    pub fn check_begin(&self, run: &RunId, plan: &Plan) -> Result<Begin, JournalError> {
        match self.runs.get(run) {
            None => Ok(Begin::New),
            Some(existing) if existing.plan == *plan => Ok(Begin::AlreadyBegun),
            Some(_) => Err(JournalError::RunConflict(run.clone())),
        }
    }

    pub fn begin(&mut self, run: RunId, plan: Plan) {
        self.runs.entry(run).or_insert(RunData {
            plan,
            entries: Vec::new(),
        });
    }

    pub fn check_record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        if self.runs.contains_key(&entry.run) {
            Ok(())
        } else {
            Err(JournalError::UnknownRun(entry.run.clone()))
        }
    }

    pub fn record(&mut self, entry: JournalEntry) -> Result<(), JournalError> {
        match self.runs.get_mut(&entry.run) {
            Some(data) => {
                let key = (entry.run.clone(), entry.operation.clone());
                if entry.state.is_final() {
                    self.open.remove(&key);
                } else {
                    self.open.insert(key);
                }
                data.entries.push(entry);
                Ok(())
            }
            None => Err(JournalError::UnknownRun(entry.run)),
        }
    }

    pub fn get(&self, run: &RunId) -> Result<&RunData, JournalError> {
        self.runs
            .get(run)
            .ok_or_else(|| JournalError::UnknownRun(run.clone()))
    }

    /// Operations whose last entry is not final.
    pub fn unfinished(&self) -> Vec<(RunId, OperationId)> {
        self.open.iter().cloned().collect()
    }

    pub fn ids(&self) -> Vec<RunId> {
        self.runs.keys().cloned().collect()
    }
}
