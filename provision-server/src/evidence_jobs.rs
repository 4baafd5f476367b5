//! Evidence on a cadence: the scheduled evidence job collects and records evidence
//! (every system's access listing, the adapters' evidence reads, the audit log's
//! joiners, movers and leavers), then computes control coverage and exports it as
//! `provision_evidence_degraded{control,system}` (1 when that system's freshest
//! evidence for the control is older than its threshold, 0 otherwise).

use chrono::Utc;
use provision_core::model::SystemName;
use provision_evidence::row::SDK_SYSTEM;
use provision_evidence::{Collector, CoverageReport, EvidenceOptions, EvidenceRun, EvidenceStore};
use provision_governance::outside_policy::allowed_grants;

use crate::error::ServerError;
use crate::metrics::DegradedGauge;
use crate::service::Service;

impl Service {
    /// The evidence collector over the service's engine, with the `evidence:` settings
    /// read (and checked) when the service started.
    pub fn evidence(&self) -> Collector<'_> {
        Collector::with_config(&self.inner.engine, self.inner.evidence.clone())
    }

    /// One evidence run over the roster now (grants approved through access
    /// requests count as traceable) and the governance records (exceptions, requests,
    /// review decisions), then [`Service::refresh_evidence_coverage`].
    /// It only reads, and takes no lock: runs for other people go on meanwhile, so a
    /// person being changed right then is recorded as the systems held them at the
    /// read (each row with its time), as any reader would see them.
    pub async fn collect_evidence(&self) -> Result<EvidenceRun, ServerError> {
        let run = {
            let roster = self.roster().await?;
            let store = &*self.inner.store;
            let now = Utc::now();
            let exceptions = provision_governance::GovernanceStore::exceptions(store)
                .await
                .map_err(provision_governance::GovernanceError::from)?;
            let requests = provision_governance::GovernanceStore::requests(store)
                .await
                .map_err(provision_governance::GovernanceError::from)?;
            let approved = allowed_grants(&exceptions, &requests, now)
                .into_iter()
                .filter(|g| !g.lapsed)
                .map(|g| ((g.identity, g.entitlement), g.origin))
                .collect();
            let collector = self.evidence();
            let run = collector
                .collect(
                    store as &dyn EvidenceStore,
                    &roster,
                    &EvidenceOptions::default().approved(approved),
                )
                .await?;
            // Exceptions, requests and review decisions are evidence too (stored once
            // each, however often they are collected).
            let facts = provision_governance::evidence_facts(store)
                .await
                .map_err(provision_governance::GovernanceError::from)?;
            let governance = collector
                .record(
                    store as &dyn EvidenceStore,
                    &SystemName::new(SDK_SYSTEM),
                    &format!("{}-governance", run.run),
                    facts,
                )
                .await?;
            let mut run = run;
            run.recorded.add(governance);
            run.systems
                .entry(SystemName::new(SDK_SYSTEM))
                .or_default()
                .add(governance);
            run
        };
        self.inner.metrics.evidence_recorded(&run);
        self.refresh_evidence_coverage().await?;
        Ok(run)
    }

    /// Control coverage now, from the freshest evidence in the store; sets the
    /// `provision_evidence_degraded` gauges (through a staleness listener).
    pub async fn refresh_evidence_coverage(&self) -> Result<CoverageReport, ServerError> {
        let gauge = DegradedGauge;
        let report = {
            let store = &*self.inner.store as &dyn EvidenceStore;
            // Every (control, system) is set fresh first; the listener marks the stale.
            let report = self.evidence().coverage(store, Utc::now(), None).await?;
            DegradedGauge::reset(&report);
            report
        };
        report.notify(&gauge);
        Ok(report)
    }
}
