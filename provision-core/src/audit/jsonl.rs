//! The audit log as an append-only JSON-lines file, and the JSON-lines export.
//!
//! One line per [`AuditRecord`] (seq, event, prev_hash, hash), written with the
//! file opened in append mode and synced to disk (`fsync`) before
//! [`AuditLog::append`] returns. On open, the file is read once to find the last
//! record so the chain continues; a line that is not a record is an error that
//! names the file and the line number. The one exception is a torn last line (no
//! final newline: the process died inside an append, which therefore never
//! returned): it is cut off, with a warning, so the next append starts a clean line.
//!
//! The core has no async runtime dependency, so the file I/O here is plain
//! blocking `std::fs` behind the async trait methods: each append is one small
//! write plus an `fsync`. A service that appends from many tasks at a high rate
//! should use the database store (`provision-store`) or call this from
//! `spawn_blocking`.
//!
//! One process writes a given file at a time; two processes appending to the same
//! file would fork the chain (use the database store for several instances).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::chain::ChainHead;
use super::{AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord};
use crate::jsonl::{ScanError, cut_torn_line, scan_for_append};
use crate::model::OperationId;
use crate::model::RunId;

/// Writes records as JSON lines (one record per line, each with its seq and
/// hashes, so the receiver can run [`super::chain::verify`] on them), for a SIEM or
/// an auditor. Returns how many lines were written. The writer is flushed.
pub fn export_jsonl<'a, W, I>(records: I, mut writer: W) -> io::Result<u64>
where
    W: Write,
    I: IntoIterator<Item = &'a AuditRecord>,
{
    let mut lines = 0u64;
    for record in records {
        serde_json::to_writer(&mut writer, record).map_err(io::Error::other)?;
        writer.write_all(b"\n")?;
        lines += 1;
    }
    writer.flush()?;
    Ok(lines)
}

/// Reads JSON-lines records (as written by [`export_jsonl`] or [`JsonlAuditLog`]).
/// `source` names the input in errors (a file path); a bad line is
/// [`AuditError::Corrupt`] naming `source` and the line number (from 1).
pub fn read_jsonl<R: BufRead>(reader: R, source: &str) -> Result<Vec<AuditRecord>, AuditError> {
    let mut records = Vec::new();
    for_each_record(reader, source, |r| records.push(r))?;
    Ok(records)
}

fn for_each_record<R: BufRead>(
    reader: R,
    source: &str,
    mut f: impl FnMut(AuditRecord),
) -> Result<(), AuditError> {
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| AuditError::Storage(format!("{source} line {number}: {e}")))?;
        let record: AuditRecord = serde_json::from_str(&line)
            .map_err(|e| AuditError::Corrupt(format!("{source} line {number}: {e}")))?;
        f(record);
    }
    Ok(())
}

/// An [`AuditLog`] in an append-only JSON-lines file.
#[derive(Debug)]
pub struct JsonlAuditLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    /// File length after the last complete record (to undo a partial write).
    len: u64,
    head: ChainHead,
}

impl JsonlAuditLog {
    /// Opens the log at `path`, creating an empty one if it does not exist, and
    /// continues the chain after its last record.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let file = crate::private_file::open_append(&path)
            .map_err(|e| AuditError::Storage(format!("cannot open {shown}: {e}")))?;
        let mut last = None;
        let end = scan_for_append(&path, |_, line| {
            last = Some(serde_json::from_str::<AuditRecord>(line).map_err(|e| e.to_string())?);
            Ok(())
        })
        .map_err(|e| match e {
            ScanError::Io(line, e) => {
                AuditError::Storage(format!("cannot read {shown} line {line}: {e}"))
            }
            ScanError::Bad(line, message) => {
                AuditError::Corrupt(format!("{shown} line {line}: {message}"))
            }
        })?;
        cut_torn_line(&file, &shown, &end)
            .map_err(|e| AuditError::Storage(format!("cannot repair {shown}: {e}")))?;
        let len = end.complete_len;
        let head = last
            .as_ref()
            .map_or_else(ChainHead::genesis, ChainHead::after);
        tracing::debug!(path = %shown, next_seq = head.next_seq(), "audit log opened");
        Ok(Self {
            path,
            inner: Mutex::new(Inner { file, len, head }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, AuditError> {
        self.inner
            .lock()
            .map_err(|_| AuditError::Storage("audit log mutex poisoned".to_owned()))
    }
}

#[async_trait]
impl AuditLog for JsonlAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let mut inner = self.lock()?;
        let record = inner.head.next_record(event)?;
        let mut line = serde_json::to_vec(&record)
            .map_err(|e| AuditError::Storage(format!("cannot serialise audit record: {e}")))?;
        line.push(b'\n');
        let len = inner.len;
        inner.len = crate::jsonl::append_line(&mut inner.file, len, &line).map_err(|e| {
            AuditError::Storage(format!("cannot append to {}: {e}", self.path.display()))
        })?;
        inner.head.advance(&record);
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        let shown = self.path.display().to_string();
        // Hold the lock so no half-written line is read.
        let _inner = self.lock()?;
        let file = File::open(&self.path)
            .map_err(|e| AuditError::Storage(format!("cannot read {shown}: {e}")))?;
        read_jsonl(BufReader::new(file), &shown)
    }

    async fn recorded_outcome(
        &self,
        run: &RunId,
        operation: &OperationId,
    ) -> Result<Option<AuditOutcome>, AuditError> {
        let shown = self.path.display().to_string();
        // One streaming pass, keeping only the latest match (the file is not loaded).
        let _inner = self.lock()?;
        let file = File::open(&self.path)
            .map_err(|e| AuditError::Storage(format!("cannot read {shown}: {e}")))?;
        let mut found = None;
        for_each_record(BufReader::new(file), &shown, |r| {
            if r.event.run == *run && r.event.operation == *operation {
                found = Some(r.event.outcome);
            }
        })?;
        Ok(found)
    }
}
