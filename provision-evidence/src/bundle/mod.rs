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

/// A template of the report did not render (a bug in the crate's templates: the
/// tests render every one).
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {message}")]
pub struct RenderError {
    /// The template (`report.html`, `chart.svg`).
    pub template: &'static str,
    /// The template engine's message.
    pub message: String,
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
    let file = provision_core::private_file::create(path).map_err(fail)?;
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
    let page = html::report(bundle).map_err(|e| BundleWriteError {
        path: files.html.clone(),
        source: std::io::Error::other(e),
    })?;
    let html_sha = write_file(&files.html, page.as_bytes())?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use provision_core::config::DeploymentConfig;
    use serde_json::json;

    use super::*;
    use crate::config::EvidenceConfig;
    use crate::controls::ControlMapping;
    use crate::{kpi, staleness};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
    }

    fn leaver(who: &str, minutes: f64) -> EvidenceRow {
        EvidenceRow::new(
            kinds::LEAVER_TIMELINESS,
            "provision",
            Some(who.to_owned()),
            at(),
            "run-1",
            json!({"complete": true, "seconds": minutes * 60.0, "met": minutes <= 15.0}),
            &ControlMapping::defaults(),
        )
    }

    fn bundle(rows: Vec<EvidenceRow>, exceptions: Vec<ExceptionItem>) -> Bundle {
        let period = Period::new(at() - chrono::Duration::days(1), at());
        let kpis = kpi::compute(period, &[], &rows, &DeploymentConfig::default(), 900);
        Bundle {
            period,
            generated_at: at(),
            audit_head: None,
            audit_records_verified: 0,
            audit_records_in_period: 0,
            coverage: staleness::coverage(&[], &EvidenceConfig::default(), at()),
            rows,
            kpis,
            exceptions,
        }
    }

    #[test]
    fn what_the_store_holds_is_escaped_in_the_page_and_the_chart() {
        let hostile = "<script>alert('x')</script> & \"co\"";
        let page = html::report(&bundle(
            vec![leaver(hostile, 20.0)],
            vec![ExceptionItem {
                kind: "operation.failed".into(),
                subject: hostile.into(),
                detail: "403 <E0000006> You do not have permission".into(),
            }],
        ))
        .unwrap();
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains(
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;co&quot;"
        ));
        assert!(page.contains("403 &lt;E0000006&gt;"));
        // The leaver's bar names them, escaped, and is red (over the 15-minute target).
        assert!(
            page.contains("fill=\"#c0392b\"><title>&lt;script&gt;"),
            "{page}"
        );
        assert!(page.contains("(empty log)"));
        assert!(page.contains("<h2>Exceptions (1)</h2>"));
        assert!(!page.contains("src=\"http"), "self-contained");
    }

    #[test]
    fn a_period_without_leavers_says_so_and_has_no_chart() {
        let page = html::report(&bundle(Vec::new(), Vec::new())).unwrap();
        assert!(page.contains("No leaver in the period."));
        assert!(!page.contains("<svg"));
        assert!(page.contains("<p class=\"ok\">None.</p>"));
        assert_eq!(deprovisioning_chart(&[], 900).unwrap(), None);
    }

    #[test]
    fn the_chart_draws_a_bar_per_leaver_and_a_line_for_many() {
        let few: Vec<EvidenceRow> = (0..3).map(|i| leaver(&format!("p{i}"), 5.0)).collect();
        let svg = deprovisioning_chart(&few, 900).unwrap().unwrap();
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 3,
            "the plot area and 3 bars"
        );
        assert!(svg.contains("against the 15 minute target"));
        assert!(svg.contains(">target 15 min</text>"));
        assert!(svg.contains(">3 leaver(s), fastest to slowest"));
        assert!(!svg.contains("<polyline"));

        let many: Vec<EvidenceRow> = (0..301)
            .map(|i| leaver(&format!("p{i}"), f64::from(i) / 10.0))
            .collect();
        let svg = deprovisioning_chart(&many, 900).unwrap().unwrap();
        assert_eq!(svg.matches("<rect").count(), 1, "no bars");
        assert_eq!(svg.matches("<polyline").count(), 1);
        let points = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 301);
    }
}
