//! Waiting and retrying for long read-only sweeps that run outside the executor
//! (evidence reads: every active user's MFA factors, 30 days of a system log).
//!
//! Changes go through the executor, which owns rate limits and retries; a read
//! sweep has no executor behind it, so it honours the server itself: a 429 waits
//! as the server said ([`RateLimitInfo::not_before`]: `Retry-After`, or the reset
//! with nothing remaining), a transient failure (5xx, timeout) waits with
//! exponential backoff, and after `max_attempts`, or when the server asks for a
//! longer wait than `max_wait`, the error is returned as classified. A reply that
//! says the budget is spent (`remaining: 0`) makes the next request wait for the
//! reset instead of drawing a 429 ([`pace`]).

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use provision_core::adapter::{AdapterError, RateLimitInfo};

/// How a read sweep waits on throttling and transient failures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadRetry {
    /// Attempts of one request, the first included.
    pub max_attempts: u32,
    /// The longest wait accepted (a longer `Retry-After` returns the error).
    pub max_wait: Duration,
    /// The first backoff after a transient failure (doubled each time).
    pub transient_delay: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_wait: Duration::from_secs(120),
            transient_delay: Duration::from_secs(1),
        }
    }
}

impl ReadRetry {
    /// A policy with these limits.
    pub fn new(max_attempts: u32, max_wait: Duration, transient_delay: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            max_wait,
            transient_delay,
        }
    }
}

/// How long the server asked to wait, from now.
fn server_wait(info: &RateLimitInfo) -> Option<Duration> {
    let now = Utc::now();
    info.not_before(now)
        .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Runs `read`, waiting and trying again on [`AdapterError::RateLimited`] and
/// [`AdapterError::Transient`] as `policy` allows; any other error is returned at once.
pub async fn with_read_retries<T, F, Fut>(
    policy: &ReadRetry,
    what: &str,
    mut read: F,
) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AdapterError>>,
{
    let mut attempt: u32 = 1;
    loop {
        let error = match read().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let wait = match &error {
            AdapterError::RateLimited { info, .. } => {
                server_wait(info).unwrap_or(policy.transient_delay)
            }
            AdapterError::Transient { .. } => policy
                .transient_delay
                .saturating_mul(2u32.saturating_pow(attempt - 1)),
            _ => return Err(error),
        };
        if attempt >= policy.max_attempts || wait > policy.max_wait {
            return Err(error);
        }
        tracing::warn!(what, attempt, ?wait, %error, "read failed; waiting before trying again");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Waits for the reset when a reply said nothing of the budget remains (at most
/// `policy.max_wait`), so the next request of a sweep does not draw a 429.
pub async fn pace(policy: &ReadRetry, info: Option<&RateLimitInfo>) {
    let Some(info) = info else { return };
    if info.remaining != Some(0) {
        return;
    }
    if let Some(wait) = server_wait(info) {
        let wait = wait.min(policy.max_wait);
        tracing::debug!(?wait, "rate-limit budget spent; waiting for the reset");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::adapter::SystemError;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> ReadRetry {
        ReadRetry::new(3, Duration::from_secs(5), Duration::from_millis(1))
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_given_up() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_read_retries(&fast(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AdapterError::transient(SystemError::new(
                Some(503),
                None,
                "down",
            )))
        })
        .await;
        assert!(matches!(result, Err(AdapterError::Transient { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried_and_long_waits_are_refused() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_read_retries(&fast(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AdapterError::Unauthorized {
                error: SystemError::new(Some(403), None, "no scope"),
            })
        })
        .await;
        assert!(matches!(result, Err(AdapterError::Unauthorized { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_read_retries(&fast(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            let info = RateLimitInfo {
                retry_after: Some(Duration::from_secs(3600)),
                ..RateLimitInfo::default()
            };
            Err(AdapterError::RateLimited {
                info,
                error: SystemError::new(Some(429), None, "slow down"),
            })
        })
        .await;
        assert!(matches!(result, Err(AdapterError::RateLimited { .. })));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "an hour's wait is not taken"
        );
    }
}
