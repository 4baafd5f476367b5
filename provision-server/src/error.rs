//! The service's errors.

use provision_core::engine::EngineError;
use provision_core::journal::JournalError;
use provision_store::StoreError;

use crate::config::ConfigError;

/// What can go wrong in the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed (keeps the database's message).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The engine failed (building, reading, planning, applying).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading a system failed (the system's own error).
    #[error("reading {0}")]
    Read(#[from] provision_core::adapter::ReadError),
    /// The base roster could not be read.
    #[error("roster: {0}")]
    Roster(#[from] provision_roster::RosterError),
    /// A stored event or job could not be read back.
    #[error("corrupt {what}: {message}")]
    Corrupt {
        /// What (`inbox row 17`).
        what: String,
        /// Why.
        message: String,
    },
    /// Listening or serving failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// Joining the rate budget shared with the other instances failed.
    #[error("shared rate budget: {0}")]
    SharedBudget(#[from] provision_core::executor::SharedBudgetError),
    /// Collecting or assessing evidence failed.
    #[error("evidence: {0}")]
    Evidence(#[from] provision_evidence::EvidenceError),
    /// A governance call (an access request) failed or was refused.
    #[error(transparent)]
    Governance(#[from] provision_governance::GovernanceError),
    /// Another instance took over work this one held (its lease ran out while this
    /// instance stalled); nothing was sent for it here.
    #[error("lease lost on {what}: another instance holds it now")]
    LeaseLost {
        /// What was lost (`inbox [3, 4]`).
        what: String,
    },
    /// The store named in the configuration needs a feature this build lacks.
    #[error("{0}")]
    Unsupported(String),
}
