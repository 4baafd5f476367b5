//! Per-system request budgets: a GCRA limiter from the published limit, plus
//! "not before" gates fed by what the server said (headroom on successes, 429s).
//!
//! A request passes the system's budget and, when the system has named budgets
//! ([`crate::adapter::SystemDescriptor::rate_budgets`], limits overridden by
//! [`crate::config::SystemConfig::rate_budgets`]), the budget its kind of request was seen
//! to belong to ([`RateLimitInfo::bucket`]). Each named budget has its own GCRA limiter
//! and its own server gates, so one family's headroom or 429 never pauses or overwrites
//! another's. A kind of request whose budget is not known yet (its first request) goes
//! alone — no other such request to the system is out meanwhile — and takes a cell of
//! every named budget, until its answer says which budget it counts against.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use super::shared_budget::{BudgetShare, ShareGate};
use crate::adapter::RateLimitInfo;
use crate::clock::instant_at;
use crate::config::RateLimitConfig;

/// Reset times reported by servers are converted to local instants and then pushed
/// this much later, so a request never lands in the tail of the old window.
const RESET_MARGIN: Duration = Duration::from_millis(2);
/// Two reset times closer than this name the same window.
const SAME_WINDOW: Duration = Duration::from_millis(20);

/// governor's clock on top of tokio's (which tests may pause).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        Instant::now().into_std()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

/// Builds the GCRA quota of a published limit; `None` when the limit is unusable
/// (zero requests or zero period), reported by the caller.
pub(crate) fn quota(config: &RateLimitConfig) -> Option<Quota> {
    let requests = NonZeroU32::new(config.requests)?;
    if config.per_seconds == 0 {
        return None;
    }
    let period = Duration::from_secs(u64::from(config.per_seconds)) / requests.get();
    let burst = NonZeroU32::new(config.burst.unwrap_or(config.requests))?;
    Quota::with_period(period).map(|q| q.allow_burst(burst))
}

/// One instance's share of a quota split across `divisor` instances: the period
/// `divisor` times as long, the burst divided (at least one).
fn share_of(quota: Quota, divisor: u32) -> Quota {
    if divisor <= 1 {
        return quota;
    }
    let burst = NonZeroU32::new(quota.burst_size().get() / divisor).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(quota.replenish_interval().saturating_mul(divisor))
        .map_or(quota, |q| q.allow_burst(burst))
}

/// A GCRA limiter for `quota`, with its burst already spent when `start_empty` (a
/// rescaled share must not let a fresh burst through on top of recent requests).
fn gcra(quota: Quota, start_empty: bool) -> Gcra {
    let limiter = RateLimiter::direct_with_clock(quota, TokioClock);
    if start_empty {
        let _ = limiter.check_n(quota.burst_size());
    }
    limiter
}

/// Whether a budget lets a request go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Go.
    Open,
    /// Not before this instant.
    Until(Instant),
    /// The budget is used up and the server has not said when it resets yet: wait
    /// for a response of a request in flight.
    AwaitResponse,
}

impl Gate {
    fn later(self, other: Gate) -> Gate {
        match (self, other) {
            (Gate::Open, g) | (g, Gate::Open) => g,
            (Gate::AwaitResponse, _) | (_, Gate::AwaitResponse) => Gate::AwaitResponse,
            (Gate::Until(a), Gate::Until(b)) => Gate::Until(a.max(b)),
        }
    }
}

/// One budget (the system's, or one bucket of it) as learned from the server.
#[derive(Debug, Default)]
struct Budget {
    /// Requests per window, when the server said.
    limit: Option<u64>,
    /// When the current window ends.
    window_reset: Option<Instant>,
    /// Requests we may still send before `window_reset`; `None` when unknown.
    allowance: Option<i64>,
    /// Paused by a 429 until then.
    paused_until: Option<Instant>,
    /// Throttled answers in a row that said nothing about when to come back; a
    /// success resets it.
    untimed_streak: u32,
}

/// A throttle without timing pauses for the default wait, doubled for each such
/// throttle in a row, at most this many times (32x the default wait).
const UNTIMED_DOUBLINGS: u32 = 5;

impl Budget {
    /// `divisor`: the instances sharing the budget (each takes its part of a new window).
    fn gate(&mut self, now: Instant, divisor: u32) -> Gate {
        if let Some(until) = self.paused_until {
            if until > now {
                return Gate::Until(until);
            }
            self.paused_until = None;
        }
        if let Some(reset) = self.window_reset
            && reset <= now
        {
            // A new window: the whole limit is available again (if we know it).
            self.window_reset = None;
            self.allowance = self
                .limit
                .map(|l| i64::try_from(l / u64::from(divisor.max(1))).unwrap_or(i64::MAX));
        }
        match (self.allowance, self.window_reset) {
            (Some(a), Some(reset)) if a <= 0 => Gate::Until(reset),
            (Some(a), None) if a <= 0 => Gate::AwaitResponse,
            _ => Gate::Open,
        }
    }

    fn on_dispatch(&mut self) {
        if let Some(a) = self.allowance.as_mut() {
            *a -= 1;
        }
    }

    fn on_headroom(
        &mut self,
        info: &RateLimitInfo,
        now: Instant,
        others_in_flight: usize,
        divisor: u32,
    ) {
        self.untimed_streak = 0;
        if info.limit.is_some() {
            self.limit = info.limit;
        }
        let (Some(remaining), Some(reset_at)) = (info.remaining, info.reset_at) else {
            return;
        };
        let reset = instant_at(reset_at, now) + RESET_MARGIN;
        // The server counts every instance's requests: this one takes its share.
        let fresh = i64::try_from(remaining / u64::from(divisor.max(1)))
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(others_in_flight).unwrap_or(i64::MAX));
        match self.window_reset {
            Some(current) if reset + SAME_WINDOW < current => {} // a late answer from an old window
            Some(current) if reset <= current + SAME_WINDOW => {
                self.allowance = Some(self.allowance.map_or(fresh, |a| a.min(fresh)));
            }
            _ => {
                if reset > now {
                    self.window_reset = Some(reset);
                    self.allowance = Some(fresh);
                }
            }
        }
    }

    /// A 429: nothing more until the server's time; returns the pause's end. Without a
    /// time the pause grows exponentially from `default_wait` with each throttle in a
    /// row (Google's 403 `rateLimitExceeded` says nothing about when), while answers of
    /// requests sent before the pause began do not lengthen it.
    fn on_throttled(
        &mut self,
        info: &RateLimitInfo,
        now: Instant,
        default_wait: Duration,
    ) -> Instant {
        if info.limit.is_some() {
            self.limit = info.limit;
        }
        let by_delay = info.retry_after.map(|d| now + d);
        let by_reset = info
            .reset_at
            .map(|at| instant_at(at, now) + RESET_MARGIN)
            .filter(|&t| t > now);
        // A delay (`Retry-After`, or `reset − Date` measured on the server's own clock)
        // is on no one's clock, so it wins over an absolute reset: a reset time the
        // adapter could not put on our clock would make a server whose clock runs
        // ahead pause us for the skew as well (`max` of the two did).
        let until = match (by_delay, by_reset) {
            (Some(delay), _) => delay,
            (None, Some(reset)) => reset,
            (None, None) => match self.paused_until {
                // another answer of the burst already throttled: the pause stands
                Some(paused) if paused > now => paused,
                _ => {
                    let factor = 2u32.pow(self.untimed_streak.min(UNTIMED_DOUBLINGS));
                    self.untimed_streak = self.untimed_streak.saturating_add(1);
                    now + default_wait.saturating_mul(factor)
                }
            },
        };
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.window_reset = Some(until);
        self.allowance = Some(0);
        until
    }
}

/// Which limiter refused a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The system-wide one: no request to the system may go before the instant.
    System(Instant),
    /// The request's named budget: other budgets' requests may still go.
    Budget(Instant),
}

/// Everything that paces requests to one system.
#[derive(Default)]
pub(crate) struct SystemLimiter {
    gcra: Option<Gcra>,
    system: Budget,
    buckets: HashMap<String, Budget>,
    /// The GCRA limiter of each named budget that has a limit.
    budget_gcra: HashMap<String, Gcra>,
    /// The system declares named budgets: a kind of request whose budget is not known
    /// yet goes alone until its answer says.
    named_budgets: bool,
    /// Which bucket a kind of request belongs to (`None`: the system's own budget),
    /// learned from the server's answers.
    bucket_of: HashMap<String, Option<String>>,
    /// Requests sent and not yet answered.
    pub(crate) in_flight: usize,
    /// The kind of request out whose budget is not known yet, if any.
    probe: Option<String>,
    /// The budget shared with other instances, when there is one.
    share: Option<LimiterShare>,
}

/// A limiter's part in a budget shared with other instances.
struct LimiterShare {
    share: BudgetShare,
    system: String,
    /// The full quotas, split again when the number of instances changes.
    quota: Option<Quota>,
    budget_quotas: Vec<(String, Quota)>,
    /// The membership generation the GCRA limiters were built for.
    generation: Option<u64>,
    /// The instances the limit is split across.
    divisor: u32,
}

impl std::fmt::Debug for SystemLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemLimiter")
            .field("gcra", &self.gcra.is_some())
            .field("system", &self.system)
            .field("buckets", &self.buckets)
            .field("budget_gcra", &self.budget_gcra.keys().collect::<Vec<_>>())
            .field("in_flight", &self.in_flight)
            .field("shared_divisor", &self.share.as_ref().map(|s| s.divisor))
            .finish()
    }
}

impl SystemLimiter {
    /// A limiter with the published quota, if any, and no named budgets.
    #[cfg(test)]
    pub(crate) fn new(quota: Option<Quota>) -> Self {
        Self::with_budgets(quota, Vec::new())
    }

    /// A limiter with the published quota and the system's named budgets, each with its
    /// quota when it has a limit.
    pub(crate) fn with_budgets(
        quota: Option<Quota>,
        budgets: Vec<(String, Option<Quota>)>,
    ) -> Self {
        let named_budgets = !budgets.is_empty();
        let budget_gcra = budgets
            .into_iter()
            .filter_map(|(name, q)| Some((name, RateLimiter::direct_with_clock(q?, TokioClock))))
            .collect();
        Self {
            gcra: quota.map(|q| RateLimiter::direct_with_clock(q, TokioClock)),
            budget_gcra,
            named_budgets,
            ..Self::default()
        }
    }

    /// Shares the limits with the other instances of `share`: from now on this limiter
    /// paces at its share and honours pauses published by the others.
    pub(crate) fn shared(
        mut self,
        share: BudgetShare,
        system: String,
        quota: Option<Quota>,
        budget_quotas: Vec<(String, Quota)>,
    ) -> Self {
        self.share = Some(LimiterShare {
            share,
            system,
            quota,
            budget_quotas,
            generation: None,
            divisor: 1,
        });
        self
    }

    /// The shared budget's gate; rebuilds the GCRA limiters for a new share.
    fn share_gate(&mut self, now: Instant) -> Gate {
        let Some(shared) = self.share.as_mut() else {
            return Gate::Open;
        };
        match shared.share.gate(&shared.system, now) {
            ShareGate::Closed(until) => Gate::Until(until),
            ShareGate::Share {
                divisor,
                generation,
            } => {
                if shared.generation != Some(generation) {
                    // The first build replaces the full-limit limiters unused; a later
                    // change starts the new share empty.
                    let start_empty = shared.generation.is_some();
                    shared.generation = Some(generation);
                    shared.divisor = divisor;
                    self.gcra = shared
                        .quota
                        .map(|q| gcra(share_of(q, divisor), start_empty));
                    self.budget_gcra = shared
                        .budget_quotas
                        .iter()
                        .map(|(name, q)| (name.clone(), gcra(share_of(*q, divisor), start_empty)))
                        .collect();
                }
                Gate::Open
            }
        }
    }

    /// The instances the limit is split across (1 without a shared budget).
    fn divisor(&self) -> u32 {
        self.share.as_ref().map_or(1, |s| s.divisor)
    }

    /// A request of kind `key` would be sent without knowing its budget.
    fn is_probe(&self, key: &str) -> bool {
        self.named_budgets && !self.bucket_of.contains_key(key)
    }

    /// The named budget a kind of request counts against, when known.
    fn bucket(&self, key: &str) -> Option<&String> {
        self.bucket_of.get(key).and_then(Option::as_ref)
    }

    /// Whether a request of kind `key` may go, by the server's gates (not the GCRA).
    pub(crate) fn gate(&mut self, key: &str, now: Instant) -> Gate {
        let mut gate = self.system_gate(now);
        let divisor = self.divisor();
        if self.is_probe(key) && self.probe.is_some() {
            // Its budget is unknown: it waits for the answer of the one that is out.
            return gate.later(Gate::AwaitResponse);
        }
        if let Some(bucket) = self.bucket_of.get(key).and_then(Option::as_ref)
            && let Some(b) = self.buckets.get_mut(bucket)
        {
            let mut bucket_gate = b.gate(now, divisor);
            if bucket_gate == Gate::AwaitResponse && self.in_flight == 0 {
                b.allowance = None;
                bucket_gate = Gate::Open;
            }
            gate = gate.later(bucket_gate);
            if let Some(shared) = &self.share
                && let Some(until) = shared.share.budget_pause(&shared.system, bucket, now)
            {
                gate = gate.later(Gate::Until(until));
            }
        }
        gate
    }

    /// Whether the system-wide gate alone is closed (then no request of any kind may go).
    pub(crate) fn system_gate(&mut self, now: Instant) -> Gate {
        let shared = self.share_gate(now);
        if shared != Gate::Open {
            return shared;
        }
        let divisor = self.divisor();
        match self.system.gate(now, divisor) {
            // Used up, no word on the reset, and no answer on its way that could bring
            // one: the server will say (with a 429) if we are early.
            Gate::AwaitResponse if self.in_flight == 0 => {
                self.system.allowance = None;
                Gate::Open
            }
            gate => gate,
        }
    }

    /// Takes one cell of the request's named budget (when known and limited; of every
    /// limited named budget when not known yet) and of the system's GCRA budget, or says
    /// which refused and when a cell will be free.
    pub(crate) fn take_cell(&self, key: &str) -> Result<(), Refused> {
        let wait = |gcra: &Gcra| {
            gcra.check()
                .map_err(|not_until| Instant::now() + not_until.wait_time_from(TokioClock.now()))
        };
        if self.is_probe(key) {
            for gcra in self.budget_gcra.values() {
                wait(gcra).map_err(Refused::Budget)?;
            }
        } else if let Some(gcra) = self.bucket(key).and_then(|b| self.budget_gcra.get(b)) {
            wait(gcra).map_err(Refused::Budget)?;
        }
        match &self.gcra {
            None => Ok(()),
            Some(gcra) => wait(gcra).map_err(Refused::System),
        }
    }

    /// Books a request of kind `key` as sent.
    pub(crate) fn on_dispatch(&mut self, key: &str) {
        self.in_flight += 1;
        if self.is_probe(key) {
            self.probe = Some(key.to_owned());
        }
        self.system.on_dispatch();
        if let Some(bucket) = self.bucket_of.get(key).and_then(Option::as_ref)
            && let Some(b) = self.buckets.get_mut(bucket)
        {
            b.on_dispatch();
        }
    }

    /// Books an answer (any answer) to a request of kind `key`.
    pub(crate) fn on_answer(&mut self, key: &str) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.probe.as_deref() == Some(key) {
            self.probe = None;
        }
    }

    /// A successful answer to a request of kind `key` said nothing about its budget:
    /// it counts against the system's own.
    pub(crate) fn on_untagged_success(&mut self, key: &str) {
        let bucket = self.bucket_of.entry(key.to_owned()).or_insert(None).clone();
        let budget = match bucket {
            Some(b) => self.buckets.get_mut(&b),
            None => Some(&mut self.system),
        };
        if let Some(budget) = budget {
            budget.untimed_streak = 0;
        }
    }

    fn budget_for(&mut self, key: &str, info: &RateLimitInfo) -> &mut Budget {
        match &info.bucket {
            None => {
                // Untagged: the system's own budget (a budget learned before stays).
                self.bucket_of.entry(key.to_owned()).or_insert(None);
                &mut self.system
            }
            Some(bucket) => {
                self.bucket_of.insert(key.to_owned(), Some(bucket.clone()));
                self.buckets.entry(bucket.clone()).or_default()
            }
        }
    }

    /// Headroom the server announced on a successful answer to a request of kind `key`.
    pub(crate) fn on_headroom(&mut self, key: &str, info: &RateLimitInfo, now: Instant) {
        let others = self.in_flight;
        let divisor = self.divisor();
        self.budget_for(key, info)
            .on_headroom(info, now, others, divisor);
    }

    /// The server throttled a request of kind `key`; returns until when its budget is paused.
    pub(crate) fn on_throttled(
        &mut self,
        key: &str,
        info: &RateLimitInfo,
        now: Instant,
        default_wait: Duration,
    ) -> Instant {
        let until = self
            .budget_for(key, info)
            .on_throttled(info, now, default_wait);
        if let Some(shared) = &self.share {
            shared
                .share
                .share_pause(&shared.system, info.bucket.as_deref(), until);
        }
        until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::wall_at;

    #[tokio::test(start_paused = true)]
    async fn headroom_exhausted_closes_the_gate_until_reset() {
        let mut limiter = SystemLimiter::new(None);
        let now = Instant::now();
        let reset = now + Duration::from_secs(1);
        let info = RateLimitInfo {
            limit: Some(10),
            remaining: Some(2),
            reset_at: Some(wall_at(reset)),
            ..RateLimitInfo::default()
        };
        limiter.on_headroom("grant", &info, now);
        assert_eq!(limiter.gate("grant", now), Gate::Open);
        limiter.on_dispatch("grant");
        limiter.on_dispatch("grant");
        match limiter.gate("grant", now) {
            Gate::Until(t) => assert!(t >= reset && t < reset + Duration::from_millis(50)),
            other => panic!("expected a closed gate, got {other:?}"),
        }
        // After the reset the whole limit is available again.
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert_eq!(limiter.gate("grant", Instant::now()), Gate::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_without_timing_back_off_exponentially_until_a_success() {
        let mut limiter = SystemLimiter::new(None);
        let untimed = RateLimitInfo::default();
        let first = Duration::from_secs(1);
        let mut waits = Vec::new();
        for _ in 0..8 {
            let now = Instant::now();
            let until = limiter.on_throttled("grant", &untimed, now, first);
            waits.push((until - now).as_secs());
            // another answer of the same throttled burst does not lengthen the pause
            assert_eq!(limiter.on_throttled("grant", &untimed, now, first), until);
            tokio::time::advance(until - now).await;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 32, 32], "doubling, at most 32x");
        // a success resets it
        limiter.on_untagged_success("grant");
        let now = Instant::now();
        assert_eq!(
            limiter.on_throttled("grant", &untimed, now, first) - now,
            first
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_on_a_bucket_pauses_only_that_bucket() {
        let mut limiter = SystemLimiter::new(None);
        let now = Instant::now();
        let info = RateLimitInfo {
            bucket: Some("users".into()),
            retry_after: Some(Duration::from_secs(3)),
            ..RateLimitInfo::default()
        };
        let until = limiter.on_throttled("create_account", &info, now, Duration::from_secs(1));
        assert_eq!(until, now + Duration::from_secs(3));
        assert_eq!(limiter.gate("create_account", now), Gate::Until(until));
        assert_eq!(limiter.gate("grant/group", now), Gate::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn gcra_spaces_requests_by_the_published_rate() {
        let q = quota(&RateLimitConfig {
            requests: 2,
            per_seconds: 1,
            burst: None,
        });
        let limiter = SystemLimiter::new(q);
        assert!(limiter.take_cell("grant").is_ok());
        assert!(limiter.take_cell("grant").is_ok());
        let Err(Refused::System(next)) = limiter.take_cell("grant") else {
            panic!("burst used up")
        };
        let wait = next - Instant::now();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            quota(&RateLimitConfig {
                requests: 0,
                per_seconds: 1,
                burst: None
            })
            .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn named_budgets_have_their_own_cells_and_unknown_kinds_go_alone() {
        let one_per_second = quota(&RateLimitConfig {
            requests: 1,
            per_seconds: 1,
            burst: None,
        });
        let mut limiter = SystemLimiter::with_budgets(
            None,
            vec![("users".into(), one_per_second), ("groups".into(), None)],
        );
        let now = Instant::now();
        // Budget unknown: the first request goes (taking a cell of every limited
        // budget); no other of unknown budget goes before its answer.
        assert_eq!(limiter.gate("create", now), Gate::Open);
        assert!(limiter.take_cell("create").is_ok());
        limiter.on_dispatch("create");
        assert_eq!(limiter.gate("create", now), Gate::AwaitResponse);
        assert_eq!(limiter.gate("grant", now), Gate::AwaitResponse);
        limiter.on_answer("create");
        assert_eq!(limiter.gate("grant", now), Gate::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        let users = RateLimitInfo {
            bucket: Some("users".into()),
            ..RateLimitInfo::default()
        };
        limiter.on_headroom("create", &users, now);
        limiter.on_dispatch("create");
        assert_eq!(limiter.gate("create", now), Gate::Open, "known now");
        assert!(limiter.take_cell("create").is_ok());
        assert!(matches!(
            limiter.take_cell("create"),
            Err(Refused::Budget(_))
        ));
        // Another budget's requests are not held by the spent one.
        let groups = RateLimitInfo {
            bucket: Some("groups".into()),
            ..RateLimitInfo::default()
        };
        limiter.on_headroom("grant", &groups, now);
        assert!(limiter.take_cell("grant").is_ok());
        assert!(limiter.take_cell("grant").is_ok());
        // An untagged answer does not forget a budget learned before.
        limiter.on_untagged_success("create");
        assert!(matches!(
            limiter.take_cell("create"),
            Err(Refused::Budget(_))
        ));
    }
}
