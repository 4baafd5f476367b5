//! What the scheduler keeps per operation (its slot, what it does next) and what a
//! request sent for it answers: the shared vocabulary of the scheduler, the dispatch
//! of requests and the claiming of operations, so that none of them imports another
//! in a circle.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::policy::CheckPurpose;
use super::report::OperationOutcome;
use super::{ExecutorError, OutRequest};
use crate::adapter::{AdapterError, Applied, CheckStatus};
use crate::audit::AuditOutcome;
use crate::journal::ClaimOutcome;

#[derive(Debug, Clone)]
pub(crate) enum Action {
    Execute,
    Check(CheckPurpose),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Waiting for operations it depends on.
    Waiting,
    /// In its system's queue (ready or delayed).
    Queued,
    /// A request is out.
    Running,
    /// Done, one way or another.
    Final,
}

pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) deps_left: usize,
    pub(crate) action: Action,
    pub(crate) attempts: u32,
    pub(crate) checks: u32,
    /// Transient failures retried so far (the next backoff delay is the one after them).
    pub(crate) retries: u32,
    pub(crate) first_attempt: Option<Instant>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) pending_since: Option<Instant>,
    pub(crate) outcome: Option<OperationOutcome>,
    pub(crate) from_journal: bool,
    /// What the audit log already held for this operation in this run when it was
    /// resumed (recorded just before the interruption, with the journal still showing
    /// it in flight or pending).
    pub(crate) audited: Option<AuditOutcome>,
    /// This instance holds the operation's claim (claims configured).
    pub(crate) claimed: bool,
    /// Since when another instance has held it.
    pub(crate) waiting_since: Option<Instant>,
    /// The adapter's note on how the change was made ([`crate::adapter::Applied::note`]).
    pub(crate) note: Option<String>,
}

/// What came back for one operation of a request.
pub(crate) enum Answer {
    Executed(Result<Applied, AdapterError>),
    Checked(Result<CheckStatus, AdapterError>),
    /// Not sent: the claim was refused, or taken over from `previous_holder`.
    NotClaimed(ClaimOutcome),
}

/// A request's answers: one per operation it carried.
pub(crate) struct Done<'a> {
    /// The request's kind, as the limiter counts it.
    pub(crate) key: String,
    /// Per operation (several for a batch).
    pub(crate) answers: Vec<(usize, Result<Answer, ExecutorError>)>,
    /// The request as the limiter booked it: the run drops it when it acts on the
    /// answers (and a cancelled run, with the answer never acted on).
    pub(crate) out: OutRequest<'a>,
}

impl<'a> Done<'a> {
    pub(crate) fn one(
        idx: usize,
        key: String,
        answer: Result<Answer, ExecutorError>,
        out: OutRequest<'a>,
    ) -> Self {
        Self {
            key,
            answers: vec![(idx, answer)],
            out,
        }
    }
}

pub(crate) type Task<'a> = Pin<Box<dyn Future<Output = Done<'a>> + Send + 'a>>;
