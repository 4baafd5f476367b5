//! Why a governance call was refused. A refused call changes nothing.

use chrono::{DateTime, Utc};

use provision_core::model::IdentityId;

use super::request::RequestState;
use super::store::GovernanceStoreError;

/// A governance call refused, with what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GovernanceError {
    /// An exception must have an expiry.
    #[error(
        "exception for {identity} ({scope}) has no expiry: every exception must say when it ends"
    )]
    ExceptionWithoutExpiry {
        /// The person.
        identity: IdentityId,
        /// What it would allow.
        scope: String,
    },
    /// An end not after the start.
    #[error("expiry {expires_at} is not after the start {starts_at}")]
    ExpiryNotAfterStart {
        /// The start.
        starts_at: DateTime<Utc>,
        /// The end.
        expires_at: DateTime<Utc>,
    },
    /// A required field is empty.
    #[error("{what}: `{field}` is required")]
    Missing {
        /// What was being recorded.
        what: &'static str,
        /// The field.
        field: &'static str,
    },
    /// No such SoD rule.
    #[error("no separation-of-duties rule named '{0}'")]
    UnknownSodRule(String),
    /// The person is not in the roster.
    #[error("no person {0} in the roster")]
    UnknownPerson(IdentityId),
    /// No approver could be found for a request.
    #[error("request {request}: no approver: {detail}")]
    NoApprover {
        /// The request.
        request: String,
        /// Why.
        detail: String,
    },
    /// No such request.
    #[error("no access request {0}")]
    UnknownRequest(String),
    /// Approval or rejection by someone who is not the approver.
    #[error("request {request} cannot be decided by {given}: they are not its approver")]
    NotApprover {
        /// The request.
        request: String,
        /// Who tried.
        given: String,
        /// Who may.
        expected: String,
    },
    /// A request names an entitlement the deployment does not have.
    #[error("request for {entitlement}: {detail}")]
    UnknownEntitlement {
        /// The entitlement asked for.
        entitlement: String,
        /// What is wrong (no such system, no such kind).
        detail: String,
    },
    /// A request's window is longer than its target allows.
    #[error(
        "request for {entitlement}: a window of {days} days is longer than the {max} days allowed"
    )]
    WindowTooLong {
        /// The entitlement asked for.
        entitlement: String,
        /// The window asked for, in whole days (rounded up).
        days: i64,
        /// The longest window allowed.
        max: i64,
    },
    /// Granting a request would make its beneficiary hold a separation-of-duties
    /// conflict that no active exception covers.
    #[error("request for {entitlement}: {conflict}")]
    RequestConflict {
        /// The entitlement asked for.
        entitlement: String,
        /// The conflict, naming its rule.
        conflict: String,
    },
    /// The requester or the beneficiary tried to approve (four eyes).
    #[error(
        "request {request} cannot be approved by {given}: a requester or beneficiary never approves their own request"
    )]
    SelfApproval {
        /// The request.
        request: String,
        /// Who tried.
        given: String,
    },
    /// Someone other than the requester (and not an admin) tried to withdraw it.
    #[error("request {request} can be withdrawn by its requester or an admin, not {given}")]
    NotRequester {
        /// The request.
        request: String,
        /// Who tried.
        given: String,
    },
    /// The requester has as many open requests as allowed.
    #[error(
        "{requester} has {open} open requests, the most allowed (max_open_requests): withdraw \
         one or wait for a decision"
    )]
    TooManyOpenRequests {
        /// Who asked.
        requester: String,
        /// Their open requests.
        open: usize,
    },
    /// The requester opened as many requests in the last hour as allowed.
    #[error(
        "{requester} opened {opened} requests in the last hour, the most allowed \
         (max_requests_per_hour): try again after {retry_at}"
    )]
    TooManyRequests {
        /// Who asked.
        requester: String,
        /// Requests opened in the last hour.
        opened: usize,
        /// When the oldest of them leaves the hour.
        retry_at: DateTime<Utc>,
    },
    /// The request was already decided (or expired).
    #[error("request {request} is {state:?}, not pending")]
    RequestNotPending {
        /// The request.
        request: String,
        /// Its state.
        state: RequestState,
    },
    /// No such campaign.
    #[error("no access review campaign {0}")]
    UnknownCampaign(String),
    /// A decision for an item that is not in the campaign.
    #[error("campaign {campaign} has no item {item}")]
    ItemNotInCampaign {
        /// The campaign.
        campaign: String,
        /// The item asked for.
        item: String,
    },
    /// A second decision on an item already decided.
    #[error("item {item} of campaign {campaign} is decided already: {by} decided it at {at}")]
    ItemClosed {
        /// The campaign.
        campaign: String,
        /// The item.
        item: String,
        /// Who decided it.
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A decision by someone who is not the item's reviewer.
    #[error("item {item} is reviewed by {expected}, not {given}")]
    NotReviewer {
        /// The item.
        item: String,
        /// Who tried.
        given: String,
        /// Who reviews it.
        expected: String,
    },
    /// A keep decision needs a reason and an expiry (it becomes an exception).
    #[error("keeping item {item} needs {what}")]
    IncompleteKeep {
        /// The item.
        item: String,
        /// What is missing.
        what: &'static str,
    },
    /// A decision on a campaign already closed.
    #[error("campaign {campaign} was closed at {at}: it takes no more decisions")]
    CampaignClosed {
        /// The campaign.
        campaign: String,
        /// When it was closed.
        at: DateTime<Utc>,
    },
    /// A reviewer deciding an item about their own access (four eyes).
    #[error("item {item} is about {reviewer}'s own access: nobody certifies their own access")]
    SelfReview {
        /// The item.
        item: String,
        /// The reviewer, who is also the person.
        reviewer: String,
    },
    /// The same item twice in one batch of decisions.
    #[error("item {item} is decided twice in this batch (first in row {first})")]
    DecidedTwice {
        /// The item.
        item: String,
        /// The row that decided it first.
        first: usize,
    },
    /// A decision that is neither `keep` nor `revoke`.
    #[error("`{value}` is not a decision: write keep, revoke, or leave it empty")]
    UnknownOutcome {
        /// What was written.
        value: String,
    },
    /// A filled list that cannot be read as decisions (a missing column, a broken
    /// CSV).
    #[error("the decisions file: {0}")]
    DecisionFile(String),
    /// Some decisions of a batch (a filled CSV, an HTTP call) were refused: none of
    /// the batch was stored.
    #[error("{}", refused_rows(campaign, rows))]
    DecisionsRefused {
        /// The campaign.
        campaign: String,
        /// Each refused row, in file order.
        rows: Vec<RowRefusal>,
    },
    /// The engine failed or refused (the revocations' gate, read or apply).
    #[error(transparent)]
    Engine(Box<provision_core::engine::EngineError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] GovernanceStoreError),
    /// A plan removes too much access.
    #[error(transparent)]
    BlastRadius(#[from] provision_core::planner::BlastRadiusExceeded),
    /// The audit log failed.
    #[error("audit log: {0}")]
    Audit(#[from] provision_core::audit::AuditError),
}

impl From<provision_core::engine::EngineError> for GovernanceError {
    fn from(e: provision_core::engine::EngineError) -> Self {
        GovernanceError::Engine(Box::new(e))
    }
}

/// One refused row of a batch of decisions.
#[derive(Debug)]
pub struct RowRefusal {
    /// The row: the line of a CSV file (the header is line 1), or the position in an
    /// HTTP call's list (from 1).
    pub row: usize,
    /// The item the row names (empty when it names none).
    pub item: String,
    /// Why it was refused.
    pub error: GovernanceError,
}

impl std::fmt::Display for RowRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.item.is_empty() {
            write!(f, "row {}: {}", self.row, self.error)
        } else {
            write!(f, "row {} (item {}): {}", self.row, self.item, self.error)
        }
    }
}

fn refused_rows(campaign: &str, rows: &[RowRefusal]) -> String {
    let mut out = format!(
        "campaign {campaign}: {} decision(s) refused, none of this batch was recorded:",
        rows.len()
    );
    for r in rows {
        out.push_str("\n  ");
        out.push_str(&r.to_string());
    }
    out
}
