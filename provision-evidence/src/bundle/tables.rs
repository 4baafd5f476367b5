//! The bundle's machine-readable tables, JSON lines and CSV, streamed to their
//! files while their SHA-256 is computed (a large period's tables never sit in
//! memory whole).

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::row::EvidenceRow;

/// A writer that hashes what passes through it.
pub(super) struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Hashing<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Flushes and returns the hex SHA-256 of everything written.
    pub(super) fn finish(mut self) -> std::io::Result<String> {
        self.inner.flush()?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One JSON object per row, one per line.
pub(super) fn jsonl<W: Write>(rows: &[EvidenceRow], out: &mut W) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, row).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `fingerprint,kind,system,subject,controls,collected_at,run,data` (controls joined
/// by `;`, data as JSON).
pub(super) fn csv<W: Write>(rows: &[EvidenceRow], out: &mut W) -> std::io::Result<()> {
    let mut w = provision_core::untrusted::CsvWriter::new(out);
    w.write_row([
        "fingerprint",
        "kind",
        "system",
        "subject",
        "controls",
        "collected_at",
        "run",
        "data",
    ])?;
    for row in rows {
        let controls: Vec<&str> = row.controls.iter().map(|c| c.as_str()).collect();
        w.write_row([
            row.fingerprint.as_str(),
            &row.kind,
            row.system.as_str(),
            row.subject.as_deref().unwrap_or(""),
            &controls.join(";"),
            &row.collected_at.to_rfc3339(),
            &row.run,
            &row.data.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
