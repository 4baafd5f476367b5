//! Audit evidence as a byproduct of how the system runs.
//!
//! Every evidence run turns what the SDK already does — reading each system,
//! auditing every change, comparing desired and actual — into typed
//! [`EvidenceRow`]s, each mapped to the controls it supports ([`controls`]: SOC 2
//! CC6.1, CC6.2, CC6.3, CC7.2 and SOX ITGC access by default), stamped with when
//! and from which system it was collected and by which run, and
//! [fingerprinted](fingerprint) so the same evidence is stored once. Adapters that
//! offer [evidence reads](crate::adapter::EvidenceSource) (Okta MFA enrolment,
//! policies, deprovisioning events; Google 2-step verification; AWS assignments)
//! add their facts to the same rows.
//!
//! * [`produce`] — rows from access listings, the audit log (joiners, movers,
//!   leavers, each leaver's timeliness, failed and pending operations) and drift
//!   runs, plus an entry point for rows of other kinds.
//! * [`store`] — the [`EvidenceStore`] trait (SQLite and PostgreSQL in
//!   `provision-store`) and [`MemoryEvidenceStore`].
//! * [`staleness`] — coverage per control from the freshest evidence; degraded
//!   when older than the system's threshold, with events for a metric.
//! * [`kpi`] — provisioning success, deprovisioning time, audit completeness,
//!   boundary compliance, request cycle time, computed from the store.
//! * [`bundle`] — the auditor's bundle for a period (JSON lines, CSV, HTML report),
//!   carrying the audit chain's head hash; [`export`] verifies before it writes.
//!
//! The [`Engine`](crate::engine::Engine) runs all of it:
//! [`collect_evidence`](crate::engine::Engine::collect_evidence),
//! [`evidence_coverage`](crate::engine::Engine::evidence_coverage),
//! [`evidence_kpis`](crate::engine::Engine::evidence_kpis) and
//! [`export_evidence`](crate::engine::Engine::export_evidence).

pub mod bundle;
pub mod config;
pub mod controls;
mod export;
pub mod fingerprint;
pub mod kpi;
pub mod produce;
pub mod row;
pub mod staleness;
pub mod store;

pub use config::EvidenceConfig;
pub use controls::{ControlId, ControlMapping};
pub use export::{EvidenceError, assemble_bundle, export};
pub use fingerprint::Fingerprint;
pub use row::EvidenceRow;
pub use staleness::{CoverageReport, CoverageStatus, StaleEvidence, StalenessListener};
pub use store::{
    Assessment, Collection, EvidenceStore, EvidenceStoreError, MemoryEvidenceStore, Period,
    Recorded,
};
