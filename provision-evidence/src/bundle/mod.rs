//! The auditor's bundle for a period: the evidence as JSON lines and CSV, a
//! self-contained HTML report (controls, coverage, KPIs, exceptions and a chart of
//! deprovisioning times against the target line), and a manifest with the audit
//! chain's head hash and each file's SHA-256, so an auditor can check the bundle
//! against the store.
//!
//! [`Collector::export`](crate::Collector::export) verifies the
//! audit chain and every row's fingerprint before it writes anything; an empty
//! period is refused with a message saying so.

mod chart;
mod html;
mod tables;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::controls::kinds;
use crate::kpi::Kpis;
use crate::row::EvidenceRow;
use crate::staleness::CoverageReport;
use crate::store::Period;
use provision_core::audit::Anchor;

pub use chart::deprovisioning_chart;

/// Something an auditor must look at: a failed or pending operation, a leaver over
/// the target, an untraceable grant, an exception granted against policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionItem {
    /// What kind (`operation.failed`, `leaver.over_target`, `grant.untraceable`, ...).
    pub kind: String,
    /// Whom or what it is about.
    pub subject: String,
    /// A sentence.
    pub detail: String,
}

/// Everything the bundle holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// The period.
    pub period: Period,
    /// When it was generated.
    pub generated_at: DateTime<Utc>,
    /// The audit log's last record (seq and hash) when the bundle was made.
    pub audit_head: Option<Anchor>,
    /// How many audit records verified.
    pub audit_records_verified: u64,
    /// Audit records in the period.
    pub audit_records_in_period: u64,
    /// Every evidence row seen in the period.
    pub rows: Vec<EvidenceRow>,
    /// Control coverage at the end of the period (or now, if earlier).
    pub coverage: CoverageReport,
    /// The KPIs.
    pub kpis: Kpis,
    /// What needs a look.
    pub exceptions: Vec<ExceptionItem>,
}

/// The files written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFiles {
    /// The folder.
    pub dir: PathBuf,
    /// `evidence.jsonl`.
    pub jsonl: PathBuf,
    /// `evidence.csv`.
    pub csv: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `manifest.json`.
    pub manifest: PathBuf,
}

/// Writing a bundle failed.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct BundleWriteError {
    /// The file.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The exceptions of a period: failed and pending operations, leavers over target,
/// untraceable grants, and exception rows from governance.
pub fn exceptions(rows: &[EvidenceRow], kpis: &Kpis) -> Vec<ExceptionItem> {
    let mut out = Vec::new();
    for row in rows {
        let subject = row.subject.clone().unwrap_or_default();
        let item = match row.kind.as_str() {
            kinds::OPERATION_FAILED | kinds::OPERATION_PENDING => {
                let change = row.data.get("change").cloned().unwrap_or(Value::Null);
                let outcome = change.get("outcome").cloned().unwrap_or(Value::Null);
                Some(format!(
                    "{} {} in {}: {}",
                    text(&change, "action"),
                    text(&change, "entitlement"),
                    row.system,
                    match text(&outcome, "error") {
                        e if e.is_empty() => text(&outcome, "outcome"),
                        e => e,
                    }
                ))
            }
            kinds::LEAVER_TIMELINESS
                if row.data.get("met").and_then(Value::as_bool) == Some(false) =>
            {
                let secs = row.data.get("seconds").and_then(Value::as_f64);
                Some(match secs {
                    Some(s) if row.data.get("complete").and_then(Value::as_bool) == Some(true) => {
                        format!(
                            "access gone {:.1} min after termination (target {} min)",
                            s / 60.0,
                            kpis.deprovisioning
                                .first()
                                .map_or(15, |d| d.target_seconds / 60)
                        )
                    }
                    _ => "a removal is still failed or pending".to_owned(),
                })
            }
            kinds::EXCEPTION => Some(text(&row.data, "detail")),
            _ => None,
        };
        if let Some(detail) = item {
            let kind = if row.kind == kinds::LEAVER_TIMELINESS {
                "leaver.over_target".to_owned()
            } else {
                row.kind.clone()
            };
            out.push(ExceptionItem {
                kind,
                subject,
                detail,
            });
        }
    }
    for g in &kpis.audit_completeness.untraceable {
        out.push(ExceptionItem {
            kind: "grant.untraceable".to_owned(),
            subject: g.identity.clone(),
            detail: format!(
                "{} is given by no policy and no approved request",
                g.entitlement
            ),
        });
    }
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<String, BundleWriteError> {
    std::fs::write(path, bytes).map_err(|source| BundleWriteError {
        path: path.to_owned(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Streams a table into `path` through a buffer; returns its SHA-256.
fn stream(
    path: &Path,
    write: impl FnOnce(&mut tables::Hashing<std::io::BufWriter<std::fs::File>>) -> std::io::Result<()>,
) -> Result<String, BundleWriteError> {
    let fail = |source| BundleWriteError {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = tables::Hashing::new(std::io::BufWriter::with_capacity(1 << 20, file));
    write(&mut out).map_err(fail)?;
    out.finish().map_err(fail)
}

/// Writes the bundle into `dir` (created if missing): `evidence.jsonl`,
/// `evidence.csv`, `report.html` and `manifest.json`.
pub fn write_bundle(bundle: &Bundle, dir: &Path) -> Result<BundleFiles, BundleWriteError> {
    std::fs::create_dir_all(dir).map_err(|source| BundleWriteError {
        path: dir.to_owned(),
        source,
    })?;
    let files = BundleFiles {
        dir: dir.to_owned(),
        jsonl: dir.join("evidence.jsonl"),
        csv: dir.join("evidence.csv"),
        html: dir.join("report.html"),
        manifest: dir.join("manifest.json"),
    };
    let jsonl_sha = stream(&files.jsonl, |w| tables::jsonl(&bundle.rows, w))?;
    let csv_sha = stream(&files.csv, |w| tables::csv(&bundle.rows, w))?;
    let html_sha = write_file(&files.html, html::report(bundle).as_bytes())?;
    let manifest = serde_json::json!({
        "period": bundle.period,
        "generated_at": bundle.generated_at,
        "audit_head": bundle.audit_head,
        "audit_records_verified": bundle.audit_records_verified,
        "audit_records_in_period": bundle.audit_records_in_period,
        "evidence_rows": bundle.rows.len(),
        "kpis": bundle.kpis,
        "coverage": bundle.coverage,
        "exceptions": bundle.exceptions.len(),
        "files": {
            "evidence.jsonl": jsonl_sha,
            "evidence.csv": csv_sha,
            "report.html": html_sha,
        },
    });
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleWriteError {
        path: files.manifest.clone(),
        source: std::io::Error::other(e),
    })?;
    write_file(&files.manifest, &manifest)?;
    Ok(files)
}
