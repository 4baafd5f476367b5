//! The audit log: every change that reaches a system, with who, what, when, why
//! and outcome; append-only and tamper-evident (each record carries the hash of
//! the previous one).
//!
//! * the hash chain ([`record_hash`]) and [`verify`] — see "The hash chain" below.
//! * [`MemoryAuditLog`] and [`JsonlAuditLog`] — implementations; database ones live
//!   in the `provision-store` crate.
//! * [`export_jsonl`] — JSON lines for a SIEM or an auditor.
//!
//! Nothing in these types can hold a secret: every field is plain text, ids, times
//! and enums; there is no `SecretString` anywhere in an event or a record.
//!
//! # The hash chain
//!
//! The hash chain that makes the audit log tamper-evident, and [`verify`].
//!
//! Every [`AuditRecord`] carries `prev_hash` (the `hash` of the record before it,
//! [`GENESIS_HASH`] for the first) and `hash`, the lowercase hex SHA-256 of
//!
//! ```text
//! "provision-audit-v1\n" || canonical_json({"event": <event>, "prev_hash": <prev_hash>, "seq": <seq>})
//! ```
//!
//! where `canonical_json` is the event's JSON form with object keys sorted by
//! their bytes and no whitespace. The hash therefore does not depend on field
//! order in the Rust types nor on serde_json's `preserve_order` feature, and a
//! record read back from any store (JSON lines, a database) hashes the same.
//!
//! # What `verify` detects, and the anchor
//!
//! [`verify`] walks the records in order and reports the **first** bad one:
//! a record removed from the middle or the start, records swapped, a record
//! inserted (sequence numbers must run `0, 1, 2, ...` without gaps), a record
//! whose event, seq or hashes were altered (its hash no longer matches), and a
//! record whose `prev_hash` does not name its predecessor (the chain was cut
//! and re-stitched).
//!
//! A plain hash chain cannot on its own notice that the **last** records were
//! removed, or that someone rewrote the tail and recomputed every hash from
//! there on: the shortened or rewritten log is itself a valid chain. For that,
//! keep an [`Anchor`] (the seq and hash of the last record, from
//! [`VerifiedChain::anchor`]) somewhere the log's writer cannot change — the run
//! report, a SIEM, a ticket — and check later with [`verify_with_anchor`]: the
//! log must still contain a record at the anchor's seq with exactly that hash
//! (records appended after it are fine).

mod chain;
mod jsonl;
mod memory;

pub use chain::{
    Anchor, ChainError, ChainHead, ChainVerifier, GENESIS_HASH, VerifiedChain, record_hash, verify,
    verify_with_anchor,
};
pub use jsonl::{JsonlAuditLog, export_jsonl, read_jsonl};
pub use memory::MemoryAuditLog;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::RunId;
use crate::model::{Entitlement, IdentityId, OperationId, Reason, SystemName};

/// How a change ended, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// The system changed.
    Changed,
    /// It was already so.
    AlreadyInPlace,
    /// Accepted; completes later.
    Pending,
    /// Failed, with the error class and the system's own text.
    Failed {
        /// Error class (`rate_limited`, `permanent`, ...).
        class: String,
        /// The system's status/code/message as one line.
        error: String,
    },
}

/// One change that reached a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When the outcome was known.
    pub at: DateTime<Utc>,
    /// The run.
    pub run: RunId,
    /// The service or person that triggered the run.
    pub actor: String,
    /// Whose access changed.
    pub identity: IdentityId,
    /// Where.
    pub system: SystemName,
    /// Which operation.
    pub operation: OperationId,
    /// The operation's verb (`grant`, `suspend_account`, ...).
    pub action: String,
    /// The entitlement, for grants and revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Why: the policies and the triggering event.
    pub reason: Reason,
    /// How the system carried it out, when the adapter says (the ticket that asks a
    /// person for it: "Jira issue PAY-7"; [`crate::adapter::Adapter::operation_note`]).
    /// Absent from records without one, so their hashes are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An event as stored: with its position and hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 0.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous record (all zeros for the first).
    pub prev_hash: String,
    /// Hash of this record (over `seq`, `prev_hash` and the event).
    pub hash: String,
}

/// Audit failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The storage failed.
    #[error("audit storage: {0}")]
    Storage(String),
    /// A stored record could not be read back.
    #[error("corrupt audit record: {0}")]
    Corrupt(String),
}

/// An append-only audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one event, chaining it to the last record. Durable when it returns.
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError>;
    /// Every record, in order.
    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError>;

    /// The outcome of the latest record for `operation` in `run`, or `None` when the
    /// log has none. A resumed run asks this for the operations that were in flight
    /// when it stopped, so a change audited just before the stop is not audited twice.
    ///
    /// The default reads every record; implementations answer it with an index or a
    /// streaming scan.
    async fn recorded_outcome(
        &self,
        run: &RunId,
        operation: &OperationId,
    ) -> Result<Option<AuditOutcome>, AuditError> {
        Ok(self
            .records()
            .await?
            .into_iter()
            .rev()
            .find(|r| r.event.run == *run && r.event.operation == *operation)
            .map(|r| r.event.outcome))
    }
}
