//! The last scene, audit evidence: everything the scenes did is already evidence.
//! An evidence run lists who holds what in every system, turns the audit log into
//! joiner, mover and leaver rows (Tom's timeliness against the 15-minute target),
//! records a drift run (a clean one is evidence too), and stores it all in the
//! SQLite file, fingerprinted; a second run stores nothing new. Then the coverage
//! of each control, the KPIs, and the auditor's bundle for the day, written next to
//! the database, carrying the audit chain's head hash.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use provision_core::model::SystemName;
use provision_evidence::bundle::{Bundle, BundleFiles};
use provision_evidence::row::SDK_SYSTEM;
use provision_evidence::{Collector, CoverageStatus, EvidenceOptions, EvidenceRun, Period};

use crate::QuickstartError;
use crate::scenes::Quickstart;

/// The run id of the drift run recorded as evidence.
pub const EVIDENCE_DRIFT_RUN: &str = "quickstart-evidence-drift";
/// The evidence run that records the governance records (review decisions, exceptions).
pub const EVIDENCE_GOVERNANCE_RUN: &str = "quickstart-evidence-governance";

/// What the evidence scene did.
#[derive(Debug, Clone)]
pub struct EvidenceOutcome {
    /// The first evidence run.
    pub first: EvidenceRun,
    /// The same collection again (every row a duplicate).
    pub second: EvidenceRun,
    /// The bundle written.
    pub bundle: Bundle,
    /// Its files.
    pub files: BundleFiles,
}

/// A duration read by a person: seconds under a minute (a sandbox leaver takes about
/// one), minutes above.
fn minutes(s: Option<f64>) -> String {
    match s {
        None => "n/a".to_owned(),
        Some(s) if s < 60.0 => format!("{s:.1} s"),
        Some(s) => format!("{:.1} min", s / 60.0),
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

impl Quickstart {
    /// Collects the evidence of the run, shows coverage and KPIs, and writes the
    /// auditor's bundle into `evidence-bundle/` next to the database.
    pub async fn write_evidence_bundle(&self) -> Result<EvidenceOutcome, QuickstartError> {
        let store = self.store.as_ref();
        self.console.say("");
        self.console
            .say("== evidence: what the scenes did, as control-mapped evidence ==");
        // The deployment's `evidence:` section (mapping, thresholds), checked here.
        let evidence =
            Collector::new(&self.engine).map_err(provision_evidence::EvidenceError::from)?;
        let options = EvidenceOptions::default();
        let first = evidence.collect(store, &self.roster, &options).await?;
        for (system, r) in &first.systems {
            self.console.say(format!(
                "  {:<10} {} rows ({} new)",
                system.as_str(),
                r.rows,
                r.new_rows
            ));
        }
        let drift = self.engine.drift(&self.roster).await?;
        evidence
            .record_drift(store, &drift, EVIDENCE_DRIFT_RUN)
            .await?;
        self.console.say(format!(
            "  a drift run recorded as evidence: {}",
            if drift.has_drift() {
                format!("{} findings", drift.findings.len())
            } else {
                "clean".to_owned()
            }
        ));
        let facts = provision_governance::evidence_facts(store)
            .await
            .map_err(provision_governance::GovernanceError::from)?;
        let governance = evidence
            .record(
                store,
                &SystemName::new(SDK_SYSTEM),
                EVIDENCE_GOVERNANCE_RUN,
                facts,
            )
            .await?;
        self.console.say(format!(
            "  review decisions, exceptions and access requests recorded as evidence: {} rows",
            governance.rows
        ));
        let second = evidence.collect(store, &self.roster, &options).await?;
        self.console.say(format!(
            "  collected again: {} rows, {} new — {:.0} % already stored (same fingerprint)",
            second.recorded.rows,
            second.recorded.new_rows,
            second.recorded.dedup_ratio() * 100.0
        ));

        let now = Utc::now();
        let coverage = evidence.coverage(store, now, None).await?;
        for c in &coverage.controls {
            let word = match c.status {
                CoverageStatus::Covered => "covered",
                CoverageStatus::Degraded => "DEGRADED",
                CoverageStatus::Missing => "missing",
            };
            let systems: Vec<&str> = c.systems.iter().map(|s| s.system.as_str()).collect();
            self.console.say(format!(
                "  {:<16} {word:<8} from {}",
                c.control.as_str(),
                systems.join(", ")
            ));
        }

        let period = Period::new(now - Duration::days(1), now + Duration::minutes(1));
        let kpis = evidence.kpis(store, period).await?;
        self.console.say(format!(
            "  provisioning success {} ({} of {} operations; {} pending)",
            percent(kpis.provisioning.rate),
            kpis.provisioning.succeeded,
            kpis.provisioning.succeeded + kpis.provisioning.failed,
            kpis.provisioning.pending
        ));
        if let Some(all) = kpis.deprovisioning.first() {
            self.console.say(format!(
                "  deprovisioning: {} {}, p50 {}, p95 {}, max {} (target {} min, {} over)",
                all.leavers,
                if all.leavers == 1 {
                    "leaver"
                } else {
                    "leavers"
                },
                minutes(all.p50_seconds),
                minutes(all.p95_seconds),
                minutes(all.max_seconds),
                all.target_seconds / 60,
                all.over_target
            ));
        }
        self.console.say(format!(
            "  audit completeness {} ({} of {} grants traceable to a policy or request); boundary compliance {}",
            percent(kpis.audit_completeness.share),
            kpis.audit_completeness.traceable,
            kpis.audit_completeness.grants,
            percent(kpis.boundary.share)
        ));

        let dir: PathBuf = self.run_dir().join("evidence-bundle");
        let (bundle, files) = evidence.export(store, period, &dir).await?;
        if let Some(head) = &bundle.audit_head {
            self.console.say(format!(
                "  audit chain verified; the bundle carries its head #{} {}…",
                head.seq,
                head.hash.get(..16).unwrap_or(&head.hash)
            ));
        }
        self.console.say(format!(
            "  auditor's bundle ({} rows, {} exceptions): {}",
            bundle.rows.len(),
            bundle.exceptions.len(),
            files.dir.display()
        ));
        self.console
            .say(format!("  open the report: {}", files.html.display()));
        Ok(EvidenceOutcome {
            first,
            second,
            bundle,
            files,
        })
    }
}
