//! JSON-lines file plumbing shared by the JSON-lines journal and audit log: scanning
//! a file about to be appended to, cutting a torn last line, durable appends.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

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
