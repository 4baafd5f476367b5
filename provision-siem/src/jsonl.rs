//! JSON lines to a file or stdout.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{SiemEvent, SiemSink, SinkError};

/// Writes each event as one line of JSON ([`SiemEvent::to_json_line`]) and flushes
/// after each batch; a file is also synced to disk before the batch counts as
/// delivered.
pub struct JsonLinesSink {
    name: String,
    out: Mutex<Output>,
}

enum Output {
    File(File),
    Stdout,
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl JsonLinesSink {
    /// Appends to the file at `path` (created when missing).
    pub fn file(name: impl Into<String>, path: impl AsRef<Path>) -> io::Result<Self> {
        let file = provision_core::private_file::open_append(path.as_ref())?;
        Ok(Self::with(name, Output::File(file)))
    }

    /// Writes to standard output.
    pub fn stdout(name: impl Into<String>) -> Self {
        Self::with(name, Output::Stdout)
    }

    /// Writes to any writer (a pipe, a buffer in tests).
    pub fn writer(name: impl Into<String>, writer: Box<dyn Write + Send>) -> Self {
        Self::with(name, Output::Writer(writer))
    }

    fn with(name: impl Into<String>, out: Output) -> Self {
        Self {
            name: name.into(),
            out: Mutex::new(out),
        }
    }
}

fn write_batch(out: &mut dyn Write, events: &[SiemEvent]) -> Result<(), SinkError> {
    let mut buf = Vec::with_capacity(events.len() * 512);
    for event in events {
        serde_json::to_writer(&mut buf, event)
            .map_err(|e| SinkError::Rejected(format!("event cannot be serialised: {e}")))?;
        buf.push(b'\n');
    }
    out.write_all(&buf)
        .and_then(|()| out.flush())
        .map_err(|e| SinkError::Unavailable(format!("write: {e}")))
}

#[async_trait]
impl SiemSink for JsonLinesSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, events: &[SiemEvent]) -> Result<(), SinkError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| SinkError::Unavailable("sink mutex poisoned".to_owned()))?;
        match &mut *out {
            Output::File(file) => {
                write_batch(file, events)?;
                file.sync_data()
                    .map_err(|e| SinkError::Unavailable(format!("sync: {e}")))
            }
            Output::Stdout => write_batch(&mut io::stdout().lock(), events),
            Output::Writer(w) => write_batch(w.as_mut(), events),
        }
    }
}
