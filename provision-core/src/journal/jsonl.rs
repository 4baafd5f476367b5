//! The journal as an append-only JSON-lines file.
//!
//! Two kinds of line: `{"kind":"run","run":..,"plan":..}` when a run begins, and
//! `{"kind":"entry",..}` for each state change. Every line is written in append
//! mode and synced (`fsync`) before the call returns, so an entry recorded before
//! an adapter call survives a crash during that call. On open the file is read
//! into memory (runs and entries); a bad line is [`JournalError::Corrupt`] naming
//! the file and line number, except a torn last line (no final newline: the
//! process died inside a write that never returned), which is cut off with a warning.
//!
//! As with the audit log file, the I/O is blocking `std::fs` (the core has no
//! async runtime dependency), and one process writes a given file at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::runs::{Begin, Runs};
use super::{Journal, JournalEntry, JournalError, RunId};
use crate::jsonl::{ScanError, append_line as jsonl_append_line, cut_torn_line, scan_for_append};
use crate::model::{OperationId, Plan};

/// One line of the file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Run { run: RunId, plan: Plan },
    Entry(JournalEntry),
}

/// A [`Journal`] in an append-only JSON-lines file.
#[derive(Debug)]
pub struct JsonlJournal {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    len: u64,
    runs: Runs,
}

impl JsonlJournal {
    /// Opens the journal at `path`, creating it if it does not exist, and reads
    /// every run and entry in it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let file = crate::private_file::open_append(&path)
            .map_err(|e| JournalError::Storage(format!("cannot open {shown}: {e}")))?;
        let mut runs = Runs::default();
        let end = scan_for_append(&path, |_, line| {
            match serde_json::from_str::<Line>(line).map_err(|e| e.to_string())? {
                Line::Run { run, plan } => runs.begin(run, plan),
                Line::Entry(entry) => runs.record(entry).map_err(|e| format!("entry for {e}"))?,
            }
            Ok(())
        })
        .map_err(|e| match e {
            ScanError::Io(line, e) => {
                JournalError::Storage(format!("cannot read {shown} line {line}: {e}"))
            }
            ScanError::Bad(line, message) => {
                JournalError::Corrupt(format!("{shown} line {line}: {message}"))
            }
        })?;
        cut_torn_line(&file, &shown, &end)
            .map_err(|e| JournalError::Storage(format!("cannot repair {shown}: {e}")))?;
        let len = end.complete_len;
        Ok(Self {
            path,
            inner: Mutex::new(Inner { file, len, runs }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ids of every run in the file, sorted.
    pub fn runs(&self) -> Result<Vec<RunId>, JournalError> {
        Ok(self.lock()?.runs.ids())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, JournalError> {
        self.inner
            .lock()
            .map_err(|_| JournalError::Storage("journal mutex poisoned".to_owned()))
    }

    fn write(&self, inner: &mut Inner, line: &Line) -> Result<(), JournalError> {
        let mut bytes = serde_json::to_vec(line)
            .map_err(|e| JournalError::Storage(format!("cannot serialise journal line: {e}")))?;
        bytes.push(b'\n');
        inner.len = jsonl_append_line(&mut inner.file, inner.len, &bytes).map_err(|e| {
            JournalError::Storage(format!("cannot append to {}: {e}", self.path.display()))
        })?;
        Ok(())
    }
}

#[async_trait]
impl Journal for JsonlJournal {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let mut inner = self.lock()?;
        if let Begin::New = inner.runs.check_begin(run, plan)? {
            let line = Line::Run {
                run: run.clone(),
                plan: plan.clone(),
            };
            self.write(&mut inner, &line)?;
            if let Line::Run { run, plan } = line {
                inner.runs.begin(run, plan);
            }
        }
        Ok(())
    }

    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let mut inner = self.lock()?;
        inner.runs.check_record(entry)?;
        self.write(&mut inner, &Line::Entry(entry.clone()))?;
        inner.runs.record(entry.clone())
    }

    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        Ok(self.lock()?.runs.get(run)?.plan.clone())
    }

    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        Ok(self.lock()?.runs.get(run)?.entries.clone())
    }

    async fn unfinished(&self) -> Result<Vec<(RunId, OperationId)>, JournalError> {
        Ok(self.lock()?.runs.unfinished())
    }
}
