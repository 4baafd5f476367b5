//! Retry and re-check settings, and the per-operation backoff they produce.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use serde::{Deserialize, Serialize};

/// How transient failures are retried: exponential backoff with jitter, bounded by
/// attempts and by total time.
///
/// Rate-limited answers do not use up `max_attempts` (the executor waits as the
/// server told it) but are bounded by `max_total_time` like everything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryConfig {
    /// Most attempts per operation (the first one included). Default 5.
    pub max_attempts: u32,
    /// The first backoff delay. Default 200 ms.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub initial_delay: Duration,
    /// The longest backoff delay. Default 30 s.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub max_delay: Duration,
    /// Add random jitter (up to the delay itself) so retries of many operations spread out. Default on.
    pub jitter: bool,
    /// An operation gives up when its next attempt would start later than this after its
    /// first one. Default 10 min.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub max_total_time: Duration,
    /// How long to pause a system that answered "rate limited" without saying for how long.
    /// Each further such answer in a row doubles the pause (at most 32 times this); a
    /// success resets it. Default 1 s.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub default_rate_limit_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            jitter: true,
            max_total_time: Duration::from_secs(600),
            default_rate_limit_wait: Duration::from_secs(1),
        }
    }
}

impl RetryConfig {
    /// The backoff delays of one operation (at most `max_attempts - 1` of them).
    pub(crate) fn backoff(&self, seed: u64) -> ExponentialBackoff {
        let retries = usize::try_from(self.max_attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay.max(self.initial_delay))
            .with_max_times(retries)
            .with_total_delay(Some(self.max_total_time));
        if self.jitter {
            builder = builder.with_jitter().with_jitter_seed(seed);
        }
        builder.build()
    }
}

/// How pending operations (the system completes them later) are re-checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingConfig {
    /// The longest wait between two checks; the system's own `recheck_after` is used when
    /// shorter. Default 30 s.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub interval: Duration,
    /// How long after an operation first went pending it is given up on and reported as
    /// pending (not failed). Default 15 min.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub deadline: Duration,
}

impl Default for PendingConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            deadline: Duration::from_secs(900),
        }
    }
}

impl PendingConfig {
    /// The wait before the next check, given what the system asked for.
    pub(crate) fn next_check(&self, recheck_after: Duration) -> Duration {
        if recheck_after.is_zero() {
            self.interval
        } else {
            recheck_after.min(self.interval)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_at_the_attempt_bound() {
        let cfg = RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        };
        let delays: Vec<Duration> = cfg.backoff(1).collect();
        assert_eq!(delays.len(), 4, "5 attempts = 4 retries");
        assert_eq!(delays[0], Duration::from_millis(200));
        assert_eq!(delays[1].as_millis(), 400); // f32 factor: 400.000006 ms
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn jitter_stays_within_twice_the_delay() {
        let cfg = RetryConfig::default();
        let delays: Vec<Duration> = cfg.backoff(7).collect();
        assert!(delays[0] >= Duration::from_millis(200) && delays[0] <= Duration::from_millis(400));
    }

    #[test]
    fn pending_uses_the_shorter_of_system_and_interval() {
        let p = PendingConfig::default();
        assert_eq!(p.next_check(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(
            p.next_check(Duration::from_secs(500)),
            Duration::from_secs(30)
        );
        assert_eq!(p.next_check(Duration::ZERO), Duration::from_secs(30));
    }
}
