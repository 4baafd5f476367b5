//! Prometheus metrics, through the `metrics` facade and
//! `metrics-exporter-prometheus` (rendered on `/metrics`; no HTTP listener of its own).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `provision_operations_total` | counter | `system`, `outcome` (succeeded, already_in_place, failed, skipped, pending) |
//! | `provision_termination_to_revocation_seconds` | histogram | `system` (`all`: the last system of a leaver) |
//! | `provision_provisioning_success_ratio` | gauge | — (grants and account creations that succeeded, of those finished) |
//! | `provision_pending_operations` | gauge | — |
//! | `provision_inbox_queue_depth` | gauge | — |
//! | `provision_rate_limit_pauses_total` | counter | `system`, `budget` |
//! | `provision_webhook_requests_total` | counter | `source`, `answer` |
//! | `provision_unknown_person_events_total` | counter | `source` |
//! | `provision_scheduled_jobs` | gauge | — |

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use provision_core::executor::{
    ExecutionEvent, ExecutionReport, ExecutionSubscriber, OperationOutcome,
};
use provision_core::model::{IdentityId, Operation, OperationId, OperationKind, SystemName};

/// Revocation histogram buckets, in seconds: sub-second to the 15-minute target.
const REVOCATION_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. When another recorder
/// was installed first, metrics go there and this handle renders an empty page.
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("provision_termination_to_revocation_seconds".to_owned()),
                REVOCATION_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        handle
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn outcome_name(outcome: &OperationOutcome) -> &'static str {
    match outcome {
        OperationOutcome::Succeeded => "succeeded",
        OperationOutcome::AlreadyInPlace => "already_in_place",
        OperationOutcome::Failed { .. } => "failed",
        OperationOutcome::Skipped { .. } => "skipped",
        _ => "pending",
    }
}

/// True for the operations that end a leaver's access to a system.
pub fn is_revocation(kind: &OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::RevokeSessions
            | OperationKind::SuspendAccount
            | OperationKind::DeleteAccount
    )
}

#[derive(Debug)]
struct Watched {
    system: SystemName,
    identity: IdentityId,
    since: DateTime<Utc>,
}

/// Counts and clocks fed by the executor's events and reports.
#[derive(Debug, Default)]
pub struct ServiceMetrics {
    /// Revocation operations of leavers in flight: when their termination took effect.
    watched: Mutex<HashMap<OperationId, Watched>>,
    /// Per leaver: revocations still outstanding, and since when.
    leavers: Mutex<HashMap<IdentityId, (usize, DateTime<Utc>)>>,
    /// Pending operations per run.
    pending: Mutex<BTreeMap<String, usize>>,
    provisioning_done: AtomicU64,
    provisioning_ok: AtomicU64,
}

impl ServiceMetrics {
    /// New counters (the recorder is the process's, see [`prometheus`]).
    pub fn new() -> Self {
        let _ = prometheus();
        Self::default()
    }

    /// Starts the termination-to-revocation clock for the leaver operations of
    /// `operations` whose person's termination took effect at `since`.
    pub fn watch_revocations<'a>(
        &self,
        operations: impl IntoIterator<Item = &'a Operation>,
        since: &HashMap<IdentityId, DateTime<Utc>>,
    ) {
        let mut watched = lock(&self.watched);
        let mut leavers = lock(&self.leavers);
        for op in operations {
            let Some(at) = since.get(&op.identity) else {
                continue;
            };
            if !is_revocation(&op.kind) || watched.contains_key(&op.id) {
                continue;
            }
            watched.insert(
                op.id.clone(),
                Watched {
                    system: op.system.clone(),
                    identity: op.identity.clone(),
                    since: *at,
                },
            );
            leavers.entry(op.identity.clone()).or_insert((0, *at)).0 += 1;
        }
    }

    fn revoked(&self, operation: &OperationId) {
        let Some(w) = lock(&self.watched).remove(operation) else {
            return;
        };
        let now = Utc::now();
        let seconds = (now - w.since)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        metrics::histogram!(
            "provision_termination_to_revocation_seconds",
            "system" => w.system.to_string()
        )
        .record(seconds);
        let mut leavers = lock(&self.leavers);
        if let Some(entry) = leavers.get_mut(&w.identity) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                let since = entry.1;
                leavers.remove(&w.identity);
                let all = (now - since)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64();
                metrics::histogram!(
                    "provision_termination_to_revocation_seconds",
                    "system" => "all"
                )
                .record(all);
            }
        }
    }

    /// Counts a finished run's operations by system and outcome, the provisioning
    /// success rate, and the run's pending operations.
    pub fn record_report(&self, report: &ExecutionReport) {
        let mut pending = 0;
        for op in &report.operations {
            metrics::counter!(
                "provision_operations_total",
                "system" => op.system.to_string(),
                "outcome" => outcome_name(&op.outcome)
            )
            .increment(1);
            if matches!(op.outcome, OperationOutcome::Pending) {
                pending += 1;
            }
            let provisioning = op.action == "grant" || op.action == "create_account";
            if provisioning && !matches!(op.outcome, OperationOutcome::Pending) {
                self.provisioning_done.fetch_add(1, Ordering::Relaxed);
                if op.outcome.is_success() {
                    self.provisioning_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let done = self.provisioning_done.load(Ordering::Relaxed);
        if done > 0 {
            let ok = self.provisioning_ok.load(Ordering::Relaxed);
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            metrics::gauge!("provision_provisioning_success_ratio").set(ok as f64 / done as f64);
        }
        let mut runs = lock(&self.pending);
        if pending == 0 {
            runs.remove(&report.run.0);
        } else {
            runs.insert(report.run.0.clone(), pending);
        }
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("provision_pending_operations").set(runs.values().sum::<usize>() as f64);
    }

    /// The inbox's depth.
    pub fn queue_depth(&self, depth: i64) {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("provision_inbox_queue_depth").set(depth as f64);
    }

    /// Open scheduled jobs.
    pub fn scheduled(&self, jobs: usize) {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("provision_scheduled_jobs").set(jobs as f64);
    }

    /// One webhook answer.
    pub fn webhook(&self, source: &str, answer: &'static str) {
        metrics::counter!(
            "provision_webhook_requests_total",
            "source" => source.to_owned(),
            "answer" => answer
        )
        .increment(1);
    }

    /// An event about someone the roster does not have.
    pub fn unknown_person(&self, source: &str) {
        metrics::counter!("provision_unknown_person_events_total", "source" => source.to_owned())
            .increment(1);
    }
}

/// Feeds [`ServiceMetrics`] from the executor's events.
#[derive(Debug)]
pub struct MetricsSubscriber(pub std::sync::Arc<ServiceMetrics>);

impl ExecutionSubscriber for MetricsSubscriber {
    fn on_event(&self, event: &ExecutionEvent) {
        match event {
            ExecutionEvent::Succeeded { operation, .. } => self.0.revoked(operation),
            ExecutionEvent::SystemThrottled { system, bucket, .. } => {
                metrics::counter!(
                    "provision_rate_limit_pauses_total",
                    "system" => system.to_string(),
                    "budget" => bucket.clone().unwrap_or_else(|| "default".to_owned())
                )
                .increment(1);
            }
            _ => {}
        }
    }
}

/// Exports control coverage: `provision_evidence_degraded{control,system}` is 1 for
/// each (control, system) whose freshest evidence is older than its threshold (set
/// as a [`StalenessListener`](provision_evidence::StalenessListener)), 0 for
/// the others ([`DegradedGauge::reset`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct DegradedGauge;

impl DegradedGauge {
    /// Sets every (control, system) of `report` to 0 (fresh); the listener then marks
    /// the stale ones.
    pub fn reset(report: &provision_evidence::CoverageReport) {
        for control in &report.controls {
            for system in &control.systems {
                metrics::gauge!(
                    "provision_evidence_degraded",
                    "control" => control.control.to_string(),
                    "system" => system.system.to_string()
                )
                .set(0.0);
            }
        }
    }
}

impl provision_evidence::StalenessListener for DegradedGauge {
    fn stale(&self, event: &provision_evidence::StaleEvidence) {
        metrics::gauge!(
            "provision_evidence_degraded",
            "control" => event.control.to_string(),
            "system" => event.system.to_string()
        )
        .set(1.0);
    }
}

impl ServiceMetrics {
    /// Counts the evidence rows an evidence run stored, by system.
    pub fn evidence_recorded(&self, run: &provision_evidence::EvidenceRun) {
        for (system, recorded) in &run.systems {
            metrics::counter!(
                "provision_evidence_rows_recorded_total",
                "system" => system.to_string()
            )
            .increment(recorded.new_rows);
        }
        for system in run.read_failures.keys() {
            metrics::counter!(
                "provision_evidence_read_failures_total",
                "system" => system.to_string()
            )
            .increment(1);
        }
    }
}
