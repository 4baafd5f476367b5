//! # provision-core
//!
//! The orchestration layer of `provision`: turns an access policy ("who should have
//! what") into the exact, ordered, retried, audited changes in every system a
//! company runs.
//!
//! ```text
//! HR roster ──► Identity ──► policy evaluation ──► DesiredState
//! Adapter reads ─────────────────────────────────► ActualState
//!                  planner (delta) ──► Plan (operations + provenance)
//!                  orderer (DAG)   ──► executor (rate limits, retry, pending)
//!                  Adapter::execute ──► journal + audit log ──► report
//! ```
//!
//! * [`model`] — identities, entitlements, accounts, policies, states, operations, plans.
//! * [`config`] — the deployment: systems, enforcement, ownership, dependencies, limits
//!   ([`config::load_config`] reads it from YAML and resolves credential references).
//! * [`policy`] — policies as code: YAML files validated into a [`model::PolicySet`].
//! * [`drift`] — drift detection: desired vs actual, classified, with remediation.
//! * [`adapter`] — the [`adapter::Adapter`] trait every system implements.
//! * [`planner`] — desired state from policies, correlation, the diff, the blast-radius guard.
//! * [`orderer`] — the dependency DAG and a deterministic topological order.
//! * [`journal`] and [`audit`] — the records a run leaves.
//! * [`engine`] — the [`engine::Engine`] facade: deployment, policies, adapters built
//!   by their factories and one executor; plan, apply, drift, why, and validation
//!   without credentials.
//!
//! HR rosters (CSV, JSON and YAML exports, the HR-event diff) are the
//! `provision-roster` crate's: the core takes people as [`model::Identity`] values
//! and keeps the `roster:` section of `provision.yaml` as a raw
//! [`config::ExtensionSection`] for that crate to read. Streaming the audit log and
//! findings to a SIEM is the `provision-siem` crate's: it reads the
//! [`audit::AuditLog`] the engine writes.
//!
//! The core depends on no adapter and on no HTTP client.

pub mod adapter;
pub mod audit;
pub mod clock;
pub mod config;
pub mod drift;
pub mod engine;
pub mod error_report;
pub mod executor;
pub mod gate;
pub mod journal;
mod jsonl;
pub mod model;
pub mod orderer;
pub mod planner;
pub mod policy;
pub mod private_file;
pub mod secret;
mod serde_util;
pub mod untrusted;
pub mod yaml;
