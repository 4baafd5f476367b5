//! Time as the executor and the sandbox see it.
//!
//! Waiting uses tokio's clock (so tests can pause and advance it); servers speak
//! wall-clock times (`X-Rate-Limit-Reset`). These helpers translate between the two
//! consistently, also when tokio's clock is paused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// The wall-clock time that corresponds to tokio's `now`.
///
/// Equal to `Utc::now()` on a running clock; on a paused (test) clock it moves with
/// tokio's virtual time, so wall-clock reset times stay consistent with sleeps.
pub fn wall_now() -> DateTime<Utc> {
    wall_at(Instant::now())
}

/// The wall-clock time that corresponds to a tokio instant.
pub fn wall_at(at: Instant) -> DateTime<Utc> {
    let std_now = std::time::Instant::now();
    let at = at.into_std();
    let utc = Utc::now();
    if at >= std_now {
        utc + chrono::Duration::from_std(at - std_now).unwrap_or(chrono::Duration::zero())
    } else {
        utc - chrono::Duration::from_std(std_now - at).unwrap_or(chrono::Duration::zero())
    }
}

/// The tokio instant at which the wall clock will show `at` (never before `now`).
pub fn instant_at(at: DateTime<Utc>, now: Instant) -> Instant {
    let ahead = (at - wall_at(now)).to_std().unwrap_or(Duration::ZERO);
    now + ahead
}

/// Where the [`Engine`](crate::engine::Engine) (and whatever plugs into it) gets the
/// time plans, refusals and records are made for: the system clock by default, a
/// fixed or stepped one in tests, so both sides of a time window can be tested.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock ([`Utc::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows the time it is set to, until set again (tests).
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    /// Sets the time it shows.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
