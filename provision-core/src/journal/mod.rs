//! The journal: every state change of every operation, recorded before and after
//! it runs, so an interrupted apply resumes without repeating work.
//!
//! * [`MemoryJournal`] and [`JsonlJournal`] — implementations; database ones live in
//!   the `provision-store` crate.
//! * claims — leases on operations, so several instances applying one run never
//!   send the same operation twice ([`OperationClaims`], [`MemoryClaims`]).
//! * [`replay`] — a run's entries folded into each operation's last state, and what
//!   resuming should do with it.

mod claims;
mod jsonl;
mod memory;
mod replay;
mod runs;

pub use claims::{ClaimOutcome, MemoryClaims, OperationClaims};
pub use jsonl::JsonlJournal;
pub use memory::MemoryJournal;
pub use replay::{OperationProgress, Replay, ResumeAction, replay};

/// Re-exported from [`crate::model`], where the run's id lives (the audit log uses it too).
pub use crate::model::RunId;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapter::{AdapterError, Effect};
use crate::model::{OperationId, Plan};

/// A state an operation passes through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OperationState {
    /// About to be sent to the system (attempt number, from 1). Recorded before the call:
    /// an operation whose last entry is this one was in flight when the run stopped.
    InFlight {
        /// Attempt number.
        attempt: u32,
    },
    /// Took effect.
    Succeeded {
        /// Changed, or already in place.
        effect: Effect,
        /// The account id the system returned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
    /// Accepted; the system completes it later.
    Pending {
        /// What the adapter needs to find the operation's progress again after a
        /// restart ([`crate::adapter::Adapter::pending_resume_token`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Failed for good.
    Failed {
        /// The classified error with the system's own code and message.
        error: AdapterError,
    },
    /// Not run because an operation it depends on did not succeed.
    Skipped {
        /// The operation that failed (or was itself skipped).
        because: OperationId,
    },
}

impl OperationState {
    /// The state's tag as it is written (`in_flight`, `succeeded`, `pending`,
    /// `failed`, `skipped`): what a store keeps in a column.
    pub fn name(&self) -> &'static str {
        match self {
            OperationState::InFlight { .. } => "in_flight",
            OperationState::Succeeded { .. } => "succeeded",
            OperationState::Pending { .. } => "pending",
            OperationState::Failed { .. } => "failed",
            OperationState::Skipped { .. } => "skipped",
        }
    }

    /// True for states after which the operation will not run again in this run.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            OperationState::Succeeded { .. }
                | OperationState::Failed { .. }
                | OperationState::Skipped { .. }
        )
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The run.
    pub run: RunId,
    /// The operation.
    pub operation: OperationId,
    /// Its new state.
    pub state: OperationState,
    /// When.
    pub at: DateTime<Utc>,
}

/// Journal failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The storage failed.
    #[error("journal storage: {0}")]
    Storage(String),
    /// The run is not in the journal.
    #[error("unknown run {0}")]
    UnknownRun(RunId),
    /// A stored entry could not be read back.
    #[error("corrupt journal entry: {0}")]
    Corrupt(String),
    /// The run was already begun with a different plan.
    #[error("run {0} already exists with a different plan")]
    RunConflict(RunId),
}

/// Where the executor records runs. Implementations: in-memory and JSON-lines file
/// here, databases in a store crate.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Records a new run with its plan (before any operation of it runs).
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError>;
    /// Appends one state change. Must be durable when it returns.
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError>;
    /// The plan a run was started with.
    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError>;
    /// Every entry of a run, in the order recorded.
    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError>;
    /// Every operation, in any run, whose last entry is not final (in flight or
    /// pending): what drift must not report as missing. Answered from what is open,
    /// so its cost does not grow with the runs ever recorded.
    async fn unfinished(&self) -> Result<Vec<(RunId, OperationId)>, JournalError>;
}
