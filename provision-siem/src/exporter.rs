//! Several sinks at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{AuditFeed, CursorStore, DeliveryConfig, SiemError, SiemEvent, SiemSink, SinkPump};
use provision_core::drift::Finding;

/// The audit log streamed to one or more sinks, each with its own cursor (a slow
/// or down sink does not hold the others back).
#[derive(Debug)]
pub struct SiemExporter {
    pumps: Vec<SinkPump>,
}

impl SiemExporter {
    /// An exporter from `feed` to `sinks`, cursors kept in `cursors`.
    ///
    /// Sink names must be distinct (they key the cursors); a repeated name is an error.
    pub fn new(
        feed: Arc<dyn AuditFeed>,
        cursors: Arc<dyn CursorStore>,
        sinks: Vec<Arc<dyn SiemSink>>,
        config: DeliveryConfig,
    ) -> Result<Self, SiemError> {
        let mut names = std::collections::BTreeSet::new();
        for sink in &sinks {
            if !names.insert(sink.name().to_owned()) {
                return Err(SiemError::Cursor {
                    sink: sink.name().to_owned(),
                    message: "two sinks have this name; each sink needs its own cursor".to_owned(),
                });
            }
        }
        let pumps = sinks
            .into_iter()
            .map(|sink| SinkPump::new(sink, feed.clone(), cursors.clone(), config.clone()))
            .collect();
        Ok(Self { pumps })
    }

    /// The pumps, one per sink.
    pub fn pumps(&self) -> &[SinkPump] {
        &self.pumps
    }

    /// A handle that wakes every pump (for [`WakingAuditLog`](crate::WakingAuditLog)).
    pub fn waker(&self) -> crate::SiemWaker {
        crate::SiemWaker::new(self.pumps.iter().flat_map(|p| p.waker_notifies()).collect())
    }

    /// Wakes every running pump (call after appending audit records).
    pub fn wake(&self) {
        self.pumps.iter().for_each(SinkPump::wake);
    }

    /// Delivers what is pending to every sink, side by side; one result per sink,
    /// in the order the sinks were given.
    pub async fn deliver_pending(&self) -> Vec<(String, Result<u64, SiemError>)> {
        let runs = self
            .pumps
            .iter()
            .map(|p| async move { (p.sink_name().to_owned(), p.deliver_pending().await) });
        futures::future::join_all(runs).await
    }

    /// Sends drift findings to every sink (retried like audit batches; findings have
    /// no cursor). One result per sink.
    pub async fn publish_findings(
        &self,
        at: DateTime<Utc>,
        findings: &[Finding],
    ) -> Vec<(String, Result<(), SiemError>)> {
        let batch: Vec<SiemEvent> = findings
            .iter()
            .map(|f| SiemEvent::DriftFinding {
                at,
                finding: f.clone(),
            })
            .collect();
        let batch = &batch;
        let sends = self.pumps.iter().map(|p| async move {
            let result = if batch.is_empty() {
                Ok(())
            } else {
                p.send_with_retries(batch).await
            };
            (p.sink_name().to_owned(), result)
        });
        futures::future::join_all(sends).await
    }

    /// Runs every pump until `shutdown` resolves (it is awaited once per pump, so
    /// pass something cloneable such as a watch receiver's `changed`). Returns the
    /// first pump error.
    pub async fn run<F, Fut>(&self, shutdown: F) -> Result<(), SiemError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let runs = self.pumps.iter().map(|p| p.run(shutdown()));
        futures::future::try_join_all(runs).await.map(|_| ())
    }
}
