//! The engine's evidence entry points: collect (every system's access listing,
//! the adapters' evidence reads, the audit log's joiners, movers, leavers and
//! failures), record drift runs and rows of other kinds, coverage, KPIs and the
//! auditor's bundle. See [`crate::evidence`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Engine;
use crate::drift::DriftReport;
use crate::evidence::bundle::{Bundle, BundleFiles};
use crate::evidence::kpi::{self, Kpis};
use crate::evidence::produce::{self, ApprovedGrants, RowContext};
use crate::evidence::row::SDK_SYSTEM;
use crate::evidence::staleness::{self, CoverageReport, StalenessListener};
use crate::evidence::{
    EvidenceConfig, EvidenceError, EvidenceRow, EvidenceStore, Period, Recorded,
};
use crate::model::{Identity, SystemName};

/// How an evidence run is made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvidenceOptions {
    /// How far back the audit log is read for joiners, movers, leavers and failures
    /// (default 30 days).
    pub lookback: Duration,
    /// Grants approved through access requests (traceable although no policy gives them).
    pub approved: ApprovedGrants,
    /// The run id; by default `evidence-<time>`.
    pub run: Option<String>,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(30 * 86_400),
            approved: ApprovedGrants::new(),
            run: None,
        }
    }
}

impl EvidenceOptions {
    /// Builder-style: the run id.
    pub fn run(mut self, run: impl Into<String>) -> Self {
        self.run = Some(run.into());
        self
    }

    /// Builder-style: the audit look-back.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Builder-style: grants approved through requests.
    pub fn approved(mut self, approved: ApprovedGrants) -> Self {
        self.approved = approved;
        self
    }
}

/// What an evidence run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRun {
    /// The run id.
    pub run: String,
    /// When it collected.
    pub at: DateTime<Utc>,
    /// Rows seen and newly stored, over every system.
    pub recorded: Recorded,
    /// The same, per system (and `provision` for the SDK's own evidence).
    pub systems: BTreeMap<SystemName, Recorded>,
    /// Systems whose evidence read failed, with the adapter's error (their coverage
    /// goes stale rather than the whole run failing).
    pub read_failures: BTreeMap<SystemName, String>,
}

impl Engine {
    /// The evidence settings: the deployment's `evidence:` section, or the defaults.
    pub fn evidence_config(&self) -> EvidenceConfig {
        self.config.evidence.clone().unwrap_or_default()
    }

    /// One evidence run: reads every system and lists who holds what (each grant with
    /// the policies or request it is traceable to), asks every adapter that has an
    /// [`EvidenceSource`](crate::adapter::EvidenceSource) for its facts, turns the
    /// audit log of the look-back into joiner, mover and leaver rows, each leaver's
    /// timeliness and the failed or pending operations, and stores it all, one
    /// collection per system. Rows already stored (same fingerprint) are not stored again.
    pub async fn collect_evidence(
        &self,
        store: &dyn EvidenceStore,
        roster: &[Identity],
        options: &EvidenceOptions,
    ) -> Result<EvidenceRun, EvidenceError> {
        let config = self.evidence_config();
        let at = Utc::now();
        let run = options
            .run
            .clone()
            .unwrap_or_else(|| format!("evidence-{}", at.format("%Y%m%dT%H%M%S%.6fZ")));
        let cx = RowContext {
            run: &run,
            at,
            mapping: &config.mapping,
        };
        let actual = self.actual(roster).await?;
        let desired = self.desired(roster);
        let systems: Vec<SystemName> = self.adapters.keys().cloned().collect();
        let mut by_system =
            produce::access_listing(&systems, &actual, &desired, &options.approved, &cx);

        let mut read_failures = BTreeMap::new();
        for (name, adapter) in &self.adapters {
            let Some(source) = adapter.evidence_source() else {
                continue;
            };
            match source.collect_evidence().await {
                Ok(facts) => {
                    let rows = by_system.entry(name.clone()).or_default();
                    rows.extend(
                        facts
                            .into_iter()
                            .map(|f| EvidenceRow::from_collected(f, &run, &config.mapping)),
                    );
                }
                Err(e) => {
                    tracing::warn!(system = %name, error = %e, "evidence read failed");
                    read_failures.insert(name.clone(), e.to_string());
                }
            }
        }

        let lookback = chrono::Duration::from_std(options.lookback)
            .unwrap_or_else(|_| chrono::Duration::days(30));
        let window = Period::new(at - lookback, at + chrono::Duration::seconds(1));
        let records = store.audit_between(&window).await?;
        let terminations = produce::terminations(roster);
        let mut sdk_rows = produce::lifecycle(&records, &cx);
        sdk_rows.extend(produce::leaver_timeliness(
            &records,
            &terminations,
            config.deprovisioning_target,
            &cx,
        ));
        for row in produce::failed_and_pending(&records, &cx) {
            by_system.entry(row.system.clone()).or_default().push(row);
        }
        by_system
            .entry(SystemName::new(SDK_SYSTEM))
            .or_default()
            .extend(sdk_rows);

        let mut recorded = Recorded::default();
        let mut systems = BTreeMap::new();
        for (system, rows) in &by_system {
            let r = store.record_collection(&run, system, at, rows).await?;
            recorded.add(r);
            systems.insert(system.clone(), r);
        }
        tracing::info!(
            run = %run,
            rows = recorded.rows,
            new_rows = recorded.new_rows,
            "evidence collected"
        );
        Ok(EvidenceRun {
            run,
            at,
            recorded,
            systems,
            read_failures,
        })
    }

    /// Records a drift run as evidence (a clean run is evidence too).
    pub async fn record_drift_evidence(
        &self,
        store: &dyn EvidenceStore,
        report: &DriftReport,
        run: &str,
    ) -> Result<Recorded, EvidenceError> {
        let config = self.evidence_config();
        let at = Utc::now();
        let cx = RowContext {
            run,
            at,
            mapping: &config.mapping,
        };
        let systems: Vec<SystemName> = self.adapters.keys().cloned().collect();
        let row = produce::drift_run(report, &systems, &cx);
        Ok(store
            .record_collection(run, &SystemName::new(SDK_SYSTEM), at, &[row])
            .await?)
    }

    /// Records facts of any other kind (governance review decisions and exceptions,
    /// requests, a custom source): `(kind, subject, data)` each, from `system`, mapped
    /// to controls by the deployment's mapping.
    pub async fn record_evidence(
        &self,
        store: &dyn EvidenceStore,
        system: &SystemName,
        run: &str,
        facts: Vec<(String, Option<String>, serde_json::Value)>,
    ) -> Result<Recorded, EvidenceError> {
        let config = self.evidence_config();
        let at = Utc::now();
        let cx = RowContext {
            run,
            at,
            mapping: &config.mapping,
        };
        let rows = produce::other(system, facts, &cx);
        Ok(store.record_collection(run, system, at, &rows).await?)
    }

    /// Coverage of every control at `now`, from the freshest evidence; every stale
    /// (control, system) goes to `listener` (a metrics exporter).
    pub async fn evidence_coverage(
        &self,
        store: &dyn EvidenceStore,
        now: DateTime<Utc>,
        listener: Option<&dyn StalenessListener>,
    ) -> Result<CoverageReport, EvidenceError> {
        let collections = store.collections().await?;
        let report = staleness::coverage(&collections, &self.evidence_config(), now);
        if let Some(listener) = listener {
            report.notify(listener);
        }
        Ok(report)
    }

    /// The KPIs of `period`, from the store's audit log and evidence.
    pub async fn evidence_kpis(
        &self,
        store: &dyn EvidenceStore,
        period: Period,
    ) -> Result<Kpis, EvidenceError> {
        let records = store.audit_between(&period).await?;
        let rows = store.rows_in(&period).await?;
        let target = self.evidence_config().deprovisioning_target.as_secs();
        Ok(kpi::compute(period, &records, &rows, &self.config, target))
    }

    /// Writes the auditor's bundle of `period` into `dir`, after verifying the audit
    /// chain and every row's fingerprint (a tampered store is refused, naming the
    /// first bad record); an empty period is refused, saying so.
    pub async fn export_evidence(
        &self,
        store: &dyn EvidenceStore,
        period: Period,
        dir: &Path,
    ) -> Result<(Bundle, BundleFiles), EvidenceError> {
        crate::evidence::export(store, &self.evidence_config(), &self.config, period, dir).await
    }
}
