//! The one error type every adapter returns, classified for the executor.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rate_limit::RateLimitInfo;

/// What the system itself said: kept verbatim for the report and the audit log.
///
/// Adapters must not put credentials here (no request headers, no tokens).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SystemError {
    /// HTTP status, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The system's own error code (`E0000047`, `ThrottlingException`, `already_in_channel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The system's own message, or ours when there was no response.
    pub message: String,
}

impl SystemError {
    /// An error with only a message (no response: timeout, connection refused).
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            status: None,
            code: None,
            message: message.into(),
        }
    }

    /// An error from a response.
    pub fn new(status: Option<u16>, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SystemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(status) = self.status {
            write!(f, "HTTP {status}")?;
            if self.code.is_some() || !self.message.is_empty() {
                f.write_str(" ")?;
            }
        }
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// An adapter's failure, classified so the executor knows what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum AdapterError {
    /// Throttled: wait as told, then retry. Pauses the whole system's queue.
    #[error("rate limited: {error}")]
    RateLimited {
        /// What the server said about when to come back.
        info: RateLimitInfo,
        /// The system's reply.
        error: SystemError,
    },
    /// Worth retrying with backoff (5xx, timeouts, connection errors, propagation races).
    /// `maybe_applied` is true when the request may have taken effect (timeout after send).
    #[error("transient: {error}")]
    Transient {
        /// The system's reply, or what went wrong.
        error: SystemError,
        /// The change may have been applied before the failure.
        maybe_applied: bool,
    },
    /// The change is already in place (member already exists, already deactivated):
    /// a success.
    #[error("already done: {error}")]
    AlreadyDone {
        /// The system's reply.
        error: SystemError,
    },
    /// A conflict whose meaning is unclear: the executor confirms with
    /// [`crate::adapter::Adapter::check`] before calling it done.
    #[error("conflict: {error}")]
    Conflict {
        /// The system's reply.
        error: SystemError,
    },
    /// This account, resource or membership does not exist — and nothing else.
    ///
    /// A revoke or delete that meets it is already done; a read that meets it reads
    /// nothing. A wrong tenant, identity store, region or instance is **not** this: it is
    /// [`AdapterError::Configuration`], so a misconfigured system never passes for
    /// "already absent". The shared conformance suite checks this for every adapter.
    #[error("not found: {error}")]
    NotFound {
        /// The system's reply.
        error: SystemError,
    },
    /// Accepted, but the system completes it later (asynchronous assignment, account
    /// that appears on first SSO login): re-check after `recheck_after`.
    #[error("pending: {error}")]
    Pending {
        /// When to look again.
        #[serde(with = "crate::serde_util::duration_ms")]
        recheck_after: Duration,
        /// What the system said.
        error: SystemError,
    },
    /// Credentials rejected or missing a permission (the message names it).
    #[error("unauthorized: {error}")]
    Unauthorized {
        /// The system's reply.
        error: SystemError,
    },
    /// The request was wrong (a bug, or a policy naming something that does not exist).
    #[error("invalid request: {error}")]
    Invalid {
        /// The system's reply.
        error: SystemError,
    },
    /// The system is configured wrongly: a wrong tenant, identity store, region,
    /// instance or base URL, a missing scope the configuration should have granted.
    /// Never retried and never read as "already absent"; the message names the setting.
    #[error("configuration: {error}")]
    Configuration {
        /// The system's reply.
        error: SystemError,
    },
    /// Anything else that will not get better by retrying.
    #[error("permanent: {error}")]
    Permanent {
        /// The system's reply.
        error: SystemError,
    },
    /// The adapter does not support this operation.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked.
        what: String,
    },
}

impl AdapterError {
    /// Shorthand for a transient error that certainly did not apply.
    pub fn transient(error: SystemError) -> Self {
        AdapterError::Transient {
            error,
            maybe_applied: false,
        }
    }

    /// True for classes the executor retries (rate limited, transient).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AdapterError::RateLimited { .. } | AdapterError::Transient { .. }
        )
    }

    /// The system's own reply, when there is one.
    pub fn system_error(&self) -> Option<&SystemError> {
        match self {
            AdapterError::RateLimited { error, .. }
            | AdapterError::Transient { error, .. }
            | AdapterError::AlreadyDone { error }
            | AdapterError::Conflict { error }
            | AdapterError::NotFound { error }
            | AdapterError::Pending { error, .. }
            | AdapterError::Unauthorized { error }
            | AdapterError::Invalid { error }
            | AdapterError::Configuration { error }
            | AdapterError::Permanent { error } => Some(error),
            AdapterError::Unsupported { .. } => None,
        }
    }

    /// The class name, for reports and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            AdapterError::RateLimited { .. } => "rate_limited",
            AdapterError::Transient { .. } => "transient",
            AdapterError::AlreadyDone { .. } => "already_done",
            AdapterError::Conflict { .. } => "conflict",
            AdapterError::NotFound { .. } => "not_found",
            AdapterError::Pending { .. } => "pending",
            AdapterError::Unauthorized { .. } => "unauthorized",
            AdapterError::Invalid { .. } => "invalid",
            AdapterError::Configuration { .. } => "configuration",
            AdapterError::Permanent { .. } => "permanent",
            AdapterError::Unsupported { .. } => "unsupported",
        }
    }
}
