//! The collector: evidence over one [`Engine`]. It reads every system through the
//! engine (the access listing) and every adapter's evidence reads through the
//! engine's executor ([`Executor::read_evidence`](provision_core::executor::Executor::read_evidence):
//! paced, retried and counted like every other read), turns the audit log into
//! joiner, mover, leaver and failure rows, records drift runs and facts of other
//! kinds (governance records), and answers coverage, KPIs and the auditor's bundle.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use provision_core::config::ConfigError;
use provision_core::drift::DriftReport;
use provision_core::engine::Engine;
use provision_core::model::{Identity, SystemName};
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleFiles};
use crate::kpi::{self, Kpis};
use crate::produce::{self, ApprovedGrants, RowContext};
use crate::row::SDK_SYSTEM;
use crate::staleness::{self, CoverageReport, StalenessListener};
use crate::{EvidenceConfig, EvidenceError, EvidenceRow, EvidenceStore, Period, Recorded};

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

/// Evidence over one engine: its deployment's `evidence:` settings, its systems,
/// its executor and its clock. Cheap to make; make one where it is needed.
///
/// ```no_run
/// # async fn demo(engine: provision_core::engine::Engine, roster: Vec<provision_core::model::Identity>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use provision_core::audit::AuditLog;
/// use provision_evidence::{Collector, EvidenceOptions, MemoryEvidenceStore};
///
/// let collector = Collector::new(&engine)?; // reads and checks the `evidence:` section
/// let store = MemoryEvidenceStore::new(Arc::clone(engine.audit_log()));
/// let run = collector.collect(&store, &roster, &EvidenceOptions::default()).await?;
/// println!("{} rows, {} new", run.recorded.rows, run.recorded.new_rows);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Collector<'e> {
    engine: &'e Engine,
    config: EvidenceConfig,
}

impl<'e> Collector<'e> {
    /// A collector over `engine`, with the deployment's `evidence:` section
    /// ([`EvidenceConfig::from_deployment`]): a wrong section is refused here, each
    /// problem with file, line and field.
    pub fn new(engine: &'e Engine) -> Result<Self, ConfigError> {
        Ok(Self::with_config(
            engine,
            EvidenceConfig::from_deployment(engine.config())?,
        ))
    }

    /// A collector over `engine` with settings read before (a service reads them once,
    /// at start).
    pub fn with_config(engine: &'e Engine, config: EvidenceConfig) -> Self {
        Self { engine, config }
    }

    /// The engine.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The evidence settings.
    pub fn config(&self) -> &EvidenceConfig {
        &self.config
    }

    /// The evidence store the engine's store registered as a port
    /// (`EngineBuilder::store`), when it did.
    pub fn store(&self) -> Option<&'e Arc<dyn EvidenceStore>> {
        self.engine.port::<Arc<dyn EvidenceStore>>()
    }

    fn context<'a>(&'a self, run: &'a str, at: DateTime<Utc>) -> RowContext<'a> {
        RowContext {
            run,
            at,
            mapping: &self.config.mapping,
        }
    }

    /// One evidence run: reads every system and lists who holds what (each grant with
    /// the policies or request it is traceable to), asks every adapter that has an
    /// [`EvidenceSource`](provision_core::adapter::EvidenceSource) for its facts
    /// (through the executor, paced and retried like every read), turns the audit log
    /// of the look-back into joiner, mover and leaver rows, each leaver's timeliness
    /// and the failed or pending operations, and stores it all, one collection per
    /// system. Rows already stored (same fingerprint) are not stored again. A failed
    /// evidence read is named in [`EvidenceRun::read_failures`] (that system's
    /// coverage goes stale) rather than failing the run.
    pub async fn collect(
        &self,
        store: &dyn EvidenceStore,
        roster: &[Identity],
        options: &EvidenceOptions,
    ) -> Result<EvidenceRun, EvidenceError> {
        let engine = self.engine;
        let at = engine.now();
        let run = options
            .run
            .clone()
            .unwrap_or_else(|| format!("evidence-{}", at.format("%Y%m%dT%H%M%S%.6fZ")));
        let cx = self.context(&run, at);
        let actual = engine.actual(roster).await?;
        let desired = engine.desired(roster);
        let systems: Vec<SystemName> = engine.systems().cloned().collect();
        let mut by_system =
            produce::access_listing(&systems, &actual, &desired, &options.approved, &cx);

        let mut read_failures = BTreeMap::new();
        for name in &systems {
            match engine.executor().read_evidence(name).await {
                Ok(None) => {}
                Ok(Some(facts)) => {
                    let rows = by_system.entry(name.clone()).or_default();
                    rows.extend(
                        facts
                            .into_iter()
                            .map(|f| EvidenceRow::from_collected(f, &run, &self.config.mapping)),
                    );
                }
                Err(e) => {
                    // The adapter's own words when it answered; else the executor's.
                    let message = e
                        .adapter_error()
                        .map_or_else(|| e.to_string(), ToString::to_string);
                    tracing::warn!(system = %name, error = %message, "evidence read failed");
                    read_failures.insert(name.clone(), message);
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
            self.config.deprovisioning_target,
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
        let mut per_system = BTreeMap::new();
        for (system, rows) in &by_system {
            let r = store.record_collection(&run, system, at, rows).await?;
            recorded.add(r);
            per_system.insert(system.clone(), r);
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
            systems: per_system,
            read_failures,
        })
    }

    /// Records a drift run as evidence (a clean run is evidence too).
    pub async fn record_drift(
        &self,
        store: &dyn EvidenceStore,
        report: &DriftReport,
        run: &str,
    ) -> Result<Recorded, EvidenceError> {
        let at = self.engine.now();
        let systems: Vec<SystemName> = self.engine.systems().cloned().collect();
        let row = produce::drift_run(report, &systems, &self.context(run, at));
        Ok(store
            .record_collection(run, &SystemName::new(SDK_SYSTEM), at, &[row])
            .await?)
    }

    /// Records facts of any other kind (governance review decisions and exceptions,
    /// requests — `provision_core::governance::evidence_facts` gives them —, a custom
    /// source): `(kind, subject, data)` each, from `system`, mapped to controls by the
    /// deployment's mapping.
    pub async fn record(
        &self,
        store: &dyn EvidenceStore,
        system: &SystemName,
        run: &str,
        facts: Vec<(String, Option<String>, serde_json::Value)>,
    ) -> Result<Recorded, EvidenceError> {
        let at = self.engine.now();
        let rows = produce::other(system, facts, &self.context(run, at));
        Ok(store.record_collection(run, system, at, &rows).await?)
    }

    /// Coverage of every control at `now`, from the freshest evidence; every stale
    /// (control, system) goes to `listener` (a metrics exporter).
    pub async fn coverage(
        &self,
        store: &dyn EvidenceStore,
        now: DateTime<Utc>,
        listener: Option<&dyn StalenessListener>,
    ) -> Result<CoverageReport, EvidenceError> {
        let collections = store.collections().await?;
        let report = staleness::coverage(&collections, &self.config, now);
        if let Some(listener) = listener {
            report.notify(listener);
        }
        Ok(report)
    }

    /// The KPIs of `period`, from the store's audit log and evidence.
    pub async fn kpis(
        &self,
        store: &dyn EvidenceStore,
        period: Period,
    ) -> Result<Kpis, EvidenceError> {
        let records = store.audit_between(&period).await?;
        let rows = store.rows_in(&period).await?;
        let target = self.config.deprovisioning_target.as_secs();
        Ok(kpi::compute(
            period,
            &records,
            &rows,
            self.engine.config(),
            target,
        ))
    }

    /// Writes the auditor's bundle of `period` into `dir`, after verifying the audit
    /// chain and every row's fingerprint (a tampered store is refused, naming the
    /// first bad record); an empty period is refused, saying so.
    pub async fn export(
        &self,
        store: &dyn EvidenceStore,
        period: Period,
        dir: &Path,
    ) -> Result<(Bundle, BundleFiles), EvidenceError> {
        crate::export::export_at(
            store,
            &self.config,
            self.engine.config(),
            period,
            self.engine.now(),
            dir,
        )
        .await
    }
}
