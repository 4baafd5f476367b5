//! The sink trait and the errors of SIEM delivery.

use async_trait::async_trait;

use crate::SiemEvent;
use provision_core::audit::{Anchor, AuditError, ChainError};

/// Where SIEM events go.
///
/// `deliver` returns `Ok` only when the receiver has every event of the batch, in
/// order; the pump then advances the sink's cursor past the batch. An error means
/// the batch is sent again (from its first event) on the next attempt.
#[async_trait]
pub trait SiemSink: Send + Sync {
    /// The sink's name: the key of its cursor, and what logs and errors call it.
    fn name(&self) -> &str;

    /// Delivers one batch, in order.
    async fn deliver(&self, events: &[SiemEvent]) -> Result<(), SinkError>;
}

/// Why a sink could not deliver a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The receiver is down, slow, overloaded or answered with a server error: try
    /// again later (the receiver's own status and text are kept).
    #[error("receiver unavailable: {0}")]
    Unavailable(String),
    /// The receiver asked to be left alone for `retry_after` (a 429 or 503 with
    /// `Retry-After`): the next attempt waits at least that long.
    #[error("receiver throttled delivery for {retry_after:?}: {message}")]
    Throttled {
        /// The receiver's status and text.
        message: String,
        /// How long it asked to wait.
        retry_after: std::time::Duration,
    },
    /// The receiver refused the batch (a 4xx other than 408/429, a malformed
    /// request): sending it again would not help.
    #[error("receiver rejected the batch: {0}")]
    Rejected(String),
}

impl SinkError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SinkError::Unavailable(_) | SinkError::Throttled { .. }
        )
    }

    /// The wait the receiver asked for, if any.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SinkError::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// What stops SIEM delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiemError {
    /// The audit log could not be read.
    #[error("reading the audit log: {0}")]
    Feed(#[from] AuditError),
    /// The cursor store failed.
    #[error("SIEM cursor of sink {sink}: {message}")]
    Cursor {
        /// The sink.
        sink: String,
        /// What went wrong (the store's message).
        message: String,
    },
    /// The sink could not deliver (after the retries, for transient errors).
    #[error("SIEM sink {sink}: {error}")]
    Sink {
        /// The sink.
        sink: String,
        /// Why.
        error: SinkError,
    },
    /// The cursor names a record the log no longer holds as it was delivered: the
    /// log was rewritten or truncated after that record was sent.
    #[error(
        "SIEM sink {sink}: its cursor ({cursor}) does not match the audit log ({found}): \
         the log was rewritten or truncated after delivery"
    )]
    CursorMismatch {
        /// The sink.
        sink: String,
        /// The cursor (last delivered seq and hash).
        cursor: Anchor,
        /// What the log holds at that seq (`no record` when nothing).
        found: String,
    },
    /// A record read for delivery breaks the audit chain (altered, moved or
    /// re-stitched): it is not sent, and the error names the first bad seq.
    #[error("audit chain broken before SIEM delivery: {0}")]
    Chain(#[from] ChainError),
}
