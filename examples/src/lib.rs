//! The quickstart, as a library: an [`provision_core::engine::Engine`] over the
//! example deployment and policies, with sandbox systems named like the real ones
//! (or the real Okta, Google and AWS adapters when their credentials are in the
//! environment); then onboard, move and offboard people and fix drift, each scene
//! planned, guarded and applied by the engine, journaling and auditing every change.
//!
//! `examples/quickstart.rs` prints it; `tests/quickstart.rs` checks the end state.

pub mod console;
pub mod drift_scene;
pub mod evidence_scene;
pub mod inject;
pub mod progress;
pub mod review_scene;
pub mod scenes;
pub mod show;
pub mod systems;

use provision_core::adapter::AdapterError;
use provision_core::audit::{AuditError, ChainError};
use provision_core::config::ConfigError;
use provision_core::engine::EngineError;
use provision_core::executor::ExecutorError;
use provision_core::journal::JournalError;
use provision_core::model::SystemName;
use provision_core::orderer::CycleError;
use provision_core::planner::BlastRadiusExceeded;
use provision_core::policy::PolicyError;
use provision_roster::RosterError;

pub use console::Console;
pub use scenes::{Quickstart, SceneOutcome};
pub use systems::Systems;

/// Why the quickstart stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuickstartError {
    /// `provision.yaml` is wrong or unreadable.
    #[error("deployment: {0}")]
    Config(#[from] ConfigError),
    /// A policy file is wrong or unreadable.
    #[error("policies: {0}")]
    Policy(#[from] PolicyError),
    /// The roster is wrong or unreadable.
    #[error("roster: {0}")]
    Roster(#[from] RosterError),
    /// A real system's variables in the environment (`OKTA_*`, `GOOGLE_*`, `AWS_*` /
    /// `PROVISION_AWS_*`, `GITLAB_*`, `SLACK_*`, `JIRA_*`, `PROVISION_SCIM_*`) are incomplete or wrong; the
    /// error names the system and the setting.
    #[error("{0}")]
    AdapterConfig(#[from] provision_core::adapter::ConfigError),
    /// A system in `provision.yaml` has no sandbox preset and no real adapter here.
    #[error(
        "system `{system}` in provision.yaml: no sandbox of that name (known: okta, google, aws, gitlab, slack, jira, salesforce, scim, github)"
    )]
    NoSandbox {
        /// The system.
        system: SystemName,
    },
    /// A real system's adapter could not be built (its HTTP client).
    #[error("setting up {system}: {error}")]
    Setup {
        /// The system.
        system: SystemName,
        /// What the adapter said.
        error: Box<AdapterError>,
    },
    /// A change made by hand (the drift scene) failed.
    #[error("changing {system} by hand: {error}")]
    ByHand {
        /// The system.
        system: SystemName,
        /// What it said.
        error: Box<AdapterError>,
    },
    /// Reading a system failed (its own error).
    #[error("reading {0}")]
    Read(#[from] provision_core::adapter::ReadError),
    /// The engine could not be built, or could not read, plan or apply.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// The configured dependencies form a cycle.
    #[error("{0}")]
    Cycle(#[from] CycleError),
    /// The plan removes too much access; nothing was applied.
    #[error("{0}")]
    BlastRadius(#[from] BlastRadiusExceeded),
    /// The executor could not run the plan.
    #[error("executor: {0}")]
    Executor(#[from] ExecutorError),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The audit log failed.
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    /// A governance call was refused or failed (the access review scene).
    #[error("governance: {0}")]
    Governance(#[from] provision_governance::GovernanceError),
    /// The SQLite journal and audit log failed, or its chain does not verify.
    #[error("store: {0}")]
    Store(#[from] provision_store::StoreError),
    /// The audit log's hash chain does not verify.
    #[error("audit chain: {0}")]
    Chain(#[from] ChainError),
    /// Collecting or exporting audit evidence failed (a tampered store is named here).
    #[error("evidence: {0}")]
    Evidence(#[from] provision_evidence::EvidenceError),
    /// The run directory could not be made.
    #[error("run directory {path}: {source}")]
    RunDir {
        /// The directory.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A person the scene needs is not in the roster.
    #[error("roster has no person with id {0}")]
    NoSuchPerson(String),
}

/// The README's code blocks, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
