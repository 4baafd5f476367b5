//! A journal kept in memory (tests, the sandbox, dry runs).

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::runs::{Begin, Runs};
use super::{Journal, JournalEntry, JournalError, RunId};
use crate::model::{OperationId, Plan};

/// A [`Journal`] in memory. Lost when dropped: use [`super::JsonlJournal`] or the
/// database store to resume after a crash.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    runs: Mutex<Runs>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Runs>, JournalError> {
        self.runs
            .lock()
            .map_err(|_| JournalError::Storage("journal mutex poisoned".to_owned()))
    }

    /// The ids of every run recorded, sorted.
    pub fn runs(&self) -> Result<Vec<RunId>, JournalError> {
        Ok(self.lock()?.ids())
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let mut runs = self.lock()?;
        if let Begin::New = runs.check_begin(run, plan)? {
            runs.begin(run.clone(), plan.clone());
        }
        Ok(())
    }

    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.lock()?.record(entry.clone())
    }

    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        Ok(self.lock()?.get(run)?.plan.clone())
    }

    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        Ok(self.lock()?.get(run)?.entries.clone())
    }

    async fn unfinished(&self) -> Result<Vec<(RunId, OperationId)>, JournalError> {
        Ok(self.lock()?.unfinished())
    }
}
