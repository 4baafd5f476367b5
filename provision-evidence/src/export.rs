//! Assembling and writing the auditor's bundle, after checking the store.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::bundle::{Bundle, BundleFiles, BundleWriteError, exceptions, write_bundle};
use crate::config::EvidenceConfig;
use crate::fingerprint::Fingerprint;
use crate::kpi;
use crate::staleness::coverage;
use crate::store::{EvidenceStore, EvidenceStoreError, Period};
use provision_core::config::ConfigError;
use provision_core::config::DeploymentConfig;

/// Why evidence could not be collected or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The store failed, or its audit log does not verify (names the first bad record).
    #[error(transparent)]
    Store(#[from] EvidenceStoreError),
    /// A stored row's content no longer matches its fingerprint.
    #[error(
        "evidence row {fingerprint} ({kind}, {subject}) does not match its fingerprint: it was altered after it was stored"
    )]
    RowAltered {
        /// The fingerprint stored with it.
        fingerprint: Fingerprint,
        /// Its kind.
        kind: String,
        /// Its subject, or `-`.
        subject: String,
    },
    /// Nothing to export.
    #[error("no evidence and no audit record in the period {period}: nothing to export")]
    EmptyPeriod {
        /// The period asked for.
        period: Period,
    },
    /// Writing the bundle failed.
    #[error(transparent)]
    Write(#[from] BundleWriteError),
    /// Reading the systems failed (the system's own error, kept whole).
    #[error("reading the systems: {0}")]
    Read(#[from] provision_core::adapter::ReadError),
    /// The deployment's `evidence:` section is wrong (each problem with file, line
    /// and field).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Checks the store (the audit chain first, then every row's fingerprint) and
/// assembles the bundle of `period`; refuses an empty period.
pub async fn assemble_bundle(
    store: &dyn EvidenceStore,
    config: &EvidenceConfig,
    deployment: &DeploymentConfig,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Bundle, EvidenceError> {
    let verified = store.verify_audit_chain().await?;
    let rows = store.rows_in(&period).await?;
    if let Some(bad) = rows.iter().find(|r| !r.fingerprint_holds()) {
        return Err(EvidenceError::RowAltered {
            fingerprint: bad.fingerprint.clone(),
            kind: bad.kind.clone(),
            subject: bad.subject.clone().unwrap_or_else(|| "-".to_owned()),
        });
    }
    let records = store.audit_between(&period).await?;
    if rows.is_empty() && records.is_empty() {
        return Err(EvidenceError::EmptyPeriod { period });
    }
    let target = config.deprovisioning_target.as_secs();
    let kpis = kpi::compute(period, &records, &rows, deployment, target);
    let collections: Vec<_> = store
        .collections()
        .await?
        .into_iter()
        .filter(|c| c.collected_at < period.to)
        .collect();
    let coverage = coverage(&collections, config, now.min(period.to));
    let exceptions = exceptions(&rows, &kpis);
    Ok(Bundle {
        period,
        generated_at: now,
        audit_head: verified.head.clone(),
        audit_records_verified: verified.records,
        audit_records_in_period: records.len() as u64,
        rows,
        coverage,
        kpis,
        exceptions,
    })
}

/// [`assemble_bundle`], then writes it into `dir`.
pub async fn export(
    store: &dyn EvidenceStore,
    config: &EvidenceConfig,
    deployment: &DeploymentConfig,
    period: Period,
    dir: &Path,
) -> Result<(Bundle, BundleFiles), EvidenceError> {
    export_at(store, config, deployment, period, Utc::now(), dir).await
}

/// [`export`], the bundle generated at `now`.
pub(crate) async fn export_at(
    store: &dyn EvidenceStore,
    config: &EvidenceConfig,
    deployment: &DeploymentConfig,
    period: Period,
    now: DateTime<Utc>,
    dir: &Path,
) -> Result<(Bundle, BundleFiles), EvidenceError> {
    let bundle = assemble_bundle(store, config, deployment, period, now).await?;
    let files = write_bundle(&bundle, dir)?;
    tracing::info!(dir = %PathBuf::from(dir).display(), rows = bundle.rows.len(), "evidence bundle written");
    Ok((bundle, files))
}
