//! Rate-limit headroom as a value: adapters report it, the executor acts on it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a server said about its rate limit on one response.
///
/// Adapters never sleep: they parse their system's dialect into this value and
/// return it (on success in [`crate::adapter::Applied`], on a 429 in
/// [`crate::adapter::AdapterError::RateLimited`]); the executor decides when the
/// system's next request may go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimitInfo {
    /// The bucket this applies to when a system has several (an org-wide budget and a
    /// per-endpoint one); `None` for the system's one budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Requests allowed per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Requests left in the current window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// When the window resets (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<DateTime<Utc>>,
    /// How long to wait before the next request (Retry-After, RetryAfterSeconds).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_util::opt_duration_ms"
    )]
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    /// True when the server said nothing useful.
    pub fn is_empty(&self) -> bool {
        self.limit.is_none()
            && self.remaining.is_none()
            && self.reset_at.is_none()
            && self.retry_after.is_none()
    }

    /// The earliest time the next request may go, by what the server said, seen from `now`:
    /// `retry_after` wins; otherwise, with nothing remaining, the reset time.
    pub fn not_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if let Some(d) = self.retry_after {
            return chrono::Duration::from_std(d).ok().map(|d| now + d);
        }
        match (self.remaining, self.reset_at) {
            (Some(0), Some(reset)) if reset > now => Some(reset),
            _ => None,
        }
    }
}
