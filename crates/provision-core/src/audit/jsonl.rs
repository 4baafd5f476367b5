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

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::chain::ChainHead;
use super::{AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord};
use crate::journal::RunId;
use crate::model::OperationId;

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

/// How a scan for appending ended.
pub(crate) struct ScanEnd {
    /// Bytes up to the end of the last complete line.
    pub complete_len: u64,
    /// The line number of a torn final line (no newline), if there was one.
    pub torn_line: Option<usize>,
}

/// Why a scan failed: the line number and what is wrong.
pub(crate) enum ScanError {
    /// Reading failed.
    Io(usize, io::Error),
    /// The line is not what `f` expects.
    Bad(usize, String),
}

/// Reads a JSON-lines file that is about to be appended to, calling `f` with each
/// complete line (number from 1, text). A final line without a newline is a torn
/// append: it is not passed to `f` but reported in [`ScanEnd::torn_line`].
pub(crate) fn scan_for_append(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> Result<(), String>,
) -> Result<ScanEnd, ScanError> {
    let file = File::open(path).map_err(|e| ScanError::Io(0, e))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut complete_len = 0u64;
    let mut number = 0usize;
    loop {
        buf.clear();
        number += 1;
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| ScanError::Io(number, e))?;
        if read == 0 {
            return Ok(ScanEnd {
                complete_len,
                torn_line: None,
            });
        }
        if buf.last() != Some(&b'\n') {
            return Ok(ScanEnd {
                complete_len,
                torn_line: Some(number),
            });
        }
        let text = std::str::from_utf8(&buf[..buf.len() - 1])
            .map_err(|e| ScanError::Bad(number, format!("not UTF-8: {e}")))?;
        f(number, text).map_err(|message| ScanError::Bad(number, message))?;
        complete_len += read as u64;
    }
}

/// Cuts a torn final line off `file` (opened for appending) and syncs.
pub(crate) fn cut_torn_line(file: &File, shown: &str, end: &ScanEnd) -> io::Result<()> {
    if let Some(line) = end.torn_line {
        tracing::warn!(
            path = %shown,
            line,
            "cutting off a torn last line (the process stopped inside an append)"
        );
        file.set_len(end.complete_len)?;
        file.sync_data()?;
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
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
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

/// Appends `line` durably, or restores the file to `len` bytes and fails.
pub(crate) fn append_line(file: &mut File, len: u64, line: &[u8]) -> io::Result<u64> {
    let written = file
        .write_all(line)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_data());
    match written {
        Ok(()) => Ok(len + line.len() as u64),
        Err(e) => {
            // Do not leave half a line for the next append to continue.
            let _ = file.set_len(len);
            Err(e)
        }
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
        inner.len = append_line(&mut inner.file, len, &line).map_err(|e| {
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
