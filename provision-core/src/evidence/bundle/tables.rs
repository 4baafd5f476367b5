//! The bundle's machine-readable tables: JSON lines and CSV.

use std::io::Write;

use crate::evidence::row::EvidenceRow;

/// One JSON object per row, one per line.
pub(super) fn jsonl(rows: &[EvidenceRow]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rows.len() * 256);
    for row in rows {
        serde_json::to_writer(&mut out, row).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(out)
}

/// `fingerprint,kind,system,subject,controls,collected_at,run,data` (controls joined
/// by `;`, data as JSON).
pub(super) fn csv(rows: &[EvidenceRow]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
    w.write_record([
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
        w.write_record([
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
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}
