//! # provision-evidence
//!
//! Audit evidence as a byproduct of how the system runs.
//!
//! Every evidence run turns what the SDK already does — reading each system,
//! auditing every change, comparing desired and actual — into typed
//! [`EvidenceRow`]s, each mapped to the controls it supports ([`controls`]: SOC 2
//! CC6.1, CC6.2, CC6.3, CC7.2 and SOX ITGC access by default), stamped with when
//! and from which system it was collected and by which run, and
//! [fingerprinted](fingerprint) so the same evidence is stored once. Adapters that
//! offer [evidence reads](provision_core::adapter::EvidenceSource) (Okta MFA
//! enrolment, policies, deprovisioning events; Google 2-step verification; AWS
//! assignments) add their facts to the same rows.
//!
//! * [`Collector`] — evidence over one [`Engine`](provision_core::engine::Engine):
//!   collect (the access listing, the adapters' evidence reads through the engine's
//!   executor, the audit log), record drift runs and facts of other kinds, coverage,
//!   KPIs and the bundle.
//! * [`config`] — the deployment's `evidence:` section ([`EvidenceConfig`]).
//! * [`produce`] — rows from access listings, the audit log (joiners, movers,
//!   leavers, each leaver's timeliness, failed and pending operations) and drift
//!   runs, plus an entry point for rows of other kinds.
//! * [`store`] — the [`EvidenceStore`] port (SQLite and PostgreSQL in
//!   `provision-store`, which registers it with the engine) and
//!   [`MemoryEvidenceStore`].
//! * [`staleness`] — coverage per control from the freshest evidence; degraded
//!   when older than the system's threshold, with events for a metric.
//! * [`kpi`] — provisioning success, deprovisioning time, audit completeness,
//!   boundary compliance, request cycle time, computed from the store.
//! * [`bundle`] — the auditor's bundle for a period (JSON lines, CSV, HTML report),
//!   carrying the audit chain's head hash; [`export`] verifies before it writes.
//!
//! ## Why a crate of its own
//!
//! The kernel (`provision-core`) plans and applies; evidence is one of the things
//! built on top of it, through the engine's public API, and the kernel does not
//! depend on it. What the kernel keeps is what adapters need: the evidence-read
//! contract ([`provision_core::adapter::EvidenceSource`],
//! [`provision_core::adapter::CollectedEvidence`]) and the executor's
//! [`read_evidence`](provision_core::executor::Executor::read_evidence), so an adapter
//! never depends on this crate. Governance records become evidence the same way
//! any other facts do ([`Collector::record`]); this crate does not depend on
//! governance.
//!
//! ## Why minijinja
//!
//! The bundle's HTML report is rendered from templates embedded in the crate
//! (`include_str!`) by [minijinja](https://docs.rs/minijinja), with HTML
//! autoescaping on: every value from the store (subjects, kinds, error text a
//! system returned) is escaped by the template engine, so the crate has no
//! hand-written escaper to get wrong. Of the two template crates the conventions
//! name, minijinja takes templates as strings at run time (askama generates code
//! with a derive macro), builds few dependencies, and keeps the markup in files a
//! reader can open beside the code; the page stays one self-contained file.

pub mod bundle;
mod collector;
pub mod config;
pub mod controls;
mod export;
pub mod fingerprint;
pub mod kpi;
pub mod produce;
pub mod row;
pub mod staleness;
pub mod store;

pub use collector::{Collector, EvidenceOptions, EvidenceRun};
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
