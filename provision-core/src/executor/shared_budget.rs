//! One system budget shared by several instances: each instance's limiters take an
//! equal share of every published limit, split across the instances that hold a live
//! lease in a shared registry ([`SharedBudget`]; PostgreSQL in `provision-store`).
//!
//! # Why split, not count every request in the database
//!
//! Two designs keep the combined rate of N instances within a budget:
//!
//! * **Shared accounting**: every request takes a token from a row in the database.
//!   Exact whatever the load balance, but one database round trip (and a row lock
//!   every instance contends on) per request, on the hot path of every call to a
//!   system; a database hiccup stops all traffic at once.
//! * **Split across live instances** (this module): each instance registers with a
//!   lease and renews it on a heartbeat; the renewal answers how many instances are
//!   live, and each limiter paces at `limit / live` (period × live, burst ÷ live).
//!   One round trip per heartbeat *per instance* (default every second), none per
//!   request, and the limiters stay synchronous and local. The price: an instance with
//!   nothing to do still holds its share (throughput is `limit × busy / live` when
//!   only some instances are busy), and membership changes are seen one heartbeat
//!   late, which the rules below make safe rather than exact.
//!
//! A lifecycle service sends in bursts (a termination fans out to every system at
//! once) from instances that are all busy at the same time, so the split loses little
//! and saves a round trip on every request; it is the design here.
//!
//! # Rules that keep the combined rate within the budget
//!
//! * **A joiner waits.** An instance that joins while others are live sends nothing
//!   for one heartbeat plus a margin, so every other instance has renewed, seen it and
//!   halved its share before it takes its own.
//! * **A lapsed lease stops the instance.** An instance that could not renew within
//!   its lease (counted from when it *sent* the last successful renewal, so before the
//!   registry's own expiry) sends nothing until it renews: the others may already
//!   count it out and pace at the larger share.
//! * **A share that shrinks starts empty.** When the number of live instances
//!   changes, the limiter is rebuilt for the new share with its burst already spent,
//!   so a change never lets a fresh burst through on top of recent requests.
//! * **A dead instance's share returns** once its lease has expired in the registry
//!   and the others have renewed: within `lease + heartbeat`.
//! * **Server pauses are shared.** A 429 (its `Retry-After` or reset) on one instance
//!   is published and every other instance pauses the same budget (system-wide or
//!   named) at its next heartbeat; pauses travel as durations on the registry's clock,
//!   so instances' clocks need not agree.
//! * The server's reported headroom (`remaining`) counts every instance's requests:
//!   each instance takes `remaining / live` of it.
//!
//! Every instance must be configured with the same systems and limits (they split
//! what each was given). The heartbeat is not a spawned task: run
//! [`BudgetShare::run`] beside the executor (the service spawns it); without it the
//! lease lapses and the instance stops sending, and says so in the log.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use provision_core::executor::{BudgetShare, Executor, InMemorySharedBudget, ShareSettings};
//!
//! let registry = Arc::new(InMemorySharedBudget::new());
//! let share = BudgetShare::join(registry, ShareSettings::default()).await?;
//! let heartbeat = tokio::spawn(share.clone().run());
//! let executor = Executor::builder().shared_budget(share.clone()).build()?;
//! # drop(executor);
//! // ... apply plans ...
//! heartbeat.abort();
//! share.leave().await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the registry remembers an instance: its lease, renewed on each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSettings {
    /// This instance's name in the registry (default: host-independent, from the
    /// process id and the time it joined). Two live instances must not share a name.
    pub instance: Option<String>,
    /// How often the lease is renewed and the membership read (default 1 s).
    pub heartbeat: Duration,
    /// How long a lease lasts without renewal (default 5 s): a dead instance's share
    /// returns to the others this long after its last renewal (plus a heartbeat).
    pub lease: Duration,
}

impl Default for ShareSettings {
    fn default() -> Self {
        Self {
            instance: None,
            heartbeat: Duration::from_secs(1),
            lease: Duration::from_secs(5),
        }
    }
}

/// A server-signalled pause of one budget, as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPause {
    /// The system.
    pub system: String,
    /// The named budget ([`crate::adapter::RateLimitInfo::bucket`]); `None` for the
    /// system's own.
    pub budget: Option<String>,
    /// How long the pause lasts from the moment it was published or read.
    pub remaining: Duration,
}

/// What a renewal answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Instances holding a live lease, this one included (at least 1).
    pub live_instances: u32,
    /// Pauses in force.
    pub pauses: Vec<SharedPause>,
}

/// A registry failed (the database is down, a query was refused).
#[derive(Debug, thiserror::Error)]
#[error("shared rate budget registry: {message}")]
pub struct SharedBudgetError {
    /// What failed, as the registry said.
    pub message: String,
}

impl SharedBudgetError {
    /// An error with the registry's own message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Where instances sharing rate budgets register: leases and published pauses.
///
/// Implementations: [`InMemorySharedBudget`] (one process: tests, or several
/// executors in one program) and `provision_store::PostgresStore` (feature `postgres`).
#[async_trait]
pub trait SharedBudget: Send + Sync {
    /// Starts or renews `instance`'s lease for `lease` (on the registry's clock) and
    /// answers the live instances and the pauses in force, in one round trip where the
    /// registry can.
    async fn renew(&self, instance: &str, lease: Duration)
    -> Result<Membership, SharedBudgetError>;

    /// Publishes a server-signalled pause: nothing goes to the budget for `pause.remaining`
    /// from now (a longer pause already stored stands).
    async fn publish_pause(&self, pause: &SharedPause) -> Result<(), SharedBudgetError>;

    /// Ends `instance`'s lease now (a graceful stop): the others take its share at
    /// their next heartbeat.
    async fn leave(&self, instance: &str) -> Result<(), SharedBudgetError>;
}

/// Live instances and pauses as this instance last learned them.
#[derive(Debug)]
struct ShareState {
    live: u32,
    /// The lease as this instance counts it: the last successful renewal was *sent*
    /// before this instant minus the lease, so the registry's expiry is later.
    lease_valid_until: Instant,
    /// A joiner sends nothing before this.
    sending_from: Instant,
    /// Pauses in force, by (system, budget).
    pauses: HashMap<(String, Option<String>), Instant>,
    /// Pauses this instance met and has not published yet.
    outbox: Vec<(SharedPause, Instant)>,
    /// The lapse was logged (once per lapse).
    lapse_logged: bool,
}

struct Inner {
    registry: Arc<dyn SharedBudget>,
    settings: ShareSettings,
    instance: String,
    state: Mutex<ShareState>,
    /// Bumped when the number of live instances changes.
    generation: AtomicU64,
    /// Wakes the heartbeat to publish a pause now.
    publish_now: Notify,
}

/// This instance's membership in a [`SharedBudget`]: give it to
/// [`crate::executor::ExecutorBuilder::shared_budget`] (or the engine's builder) and run
/// [`BudgetShare::run`] beside it. Cheap to clone (one membership).
#[derive(Clone)]
pub struct BudgetShare {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BudgetShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetShare")
            .field("instance", &self.inner.instance)
            .field("settings", &self.inner.settings)
            .field("live", &self.state().live)
            .finish_non_exhaustive()
    }
}

/// How a shared budget stands for one system, as the limiter asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShareGate {
    /// Send at `1 / divisor` of the limit; `generation` changes with the divisor.
    Share { divisor: u32, generation: u64 },
    /// Nothing may go before this instant (joining, lapsed lease, or a shared pause).
    Closed(Instant),
}

/// How soon a closed share is asked again when it has no end of its own (a lapsed lease).
const LAPSED_POLL: Duration = Duration::from_millis(50);
/// A joiner waits a heartbeat plus this before sending.
const JOIN_MARGIN: Duration = Duration::from_millis(100);

impl BudgetShare {
    /// Registers this instance (first renewal). When others are live it sends nothing
    /// for one heartbeat (plus a margin), until they have all seen it.
    pub async fn join(
        registry: Arc<dyn SharedBudget>,
        settings: ShareSettings,
    ) -> Result<Self, SharedBudgetError> {
        static JOINED: AtomicU64 = AtomicU64::new(0);
        let instance = settings.instance.clone().unwrap_or_else(|| {
            format!(
                "{}-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_micros(),
                JOINED.fetch_add(1, Ordering::Relaxed)
            )
        });
        let sent = Instant::now();
        let membership = registry.renew(&instance, settings.lease).await?;
        let now = Instant::now();
        let sending_from = if membership.live_instances > 1 {
            now + settings.heartbeat + JOIN_MARGIN
        } else {
            now
        };
        let share = Self {
            inner: Arc::new(Inner {
                state: Mutex::new(ShareState {
                    live: membership.live_instances.max(1),
                    lease_valid_until: sent + settings.lease,
                    sending_from,
                    pauses: HashMap::new(),
                    outbox: Vec::new(),
                    lapse_logged: false,
                }),
                registry,
                settings,
                instance,
                generation: AtomicU64::new(0),
                publish_now: Notify::new(),
            }),
        };
        share.absorb_pauses(&membership.pauses, now);
        tracing::info!(instance = %share.inner.instance, live = membership.live_instances, "joined the shared rate budget");
        Ok(share)
    }

    /// This instance's name in the registry.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Instances live at the last renewal, this one included.
    pub fn live_instances(&self) -> u32 {
        self.state().live
    }

    /// Keeps the lease: renews it every heartbeat, reads the membership and pauses, and
    /// publishes the pauses this instance met (at once, not at the next beat). Never
    /// ends; spawn it, and abort it (then [`BudgetShare::leave`]) to stop. A failed
    /// renewal is logged and retried at the next beat; past the lease this instance
    /// sends nothing.
    pub async fn run(self) {
        let mut next_beat = Instant::now() + self.inner.settings.heartbeat;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_beat) => {
                    self.publish_outbox().await;
                    self.beat().await;
                    next_beat = Instant::now() + self.inner.settings.heartbeat;
                }
                () = self.inner.publish_now.notified() => self.publish_outbox().await,
            }
        }
    }

    /// Ends this instance's lease now: the others take its share at their next
    /// heartbeat. Stop [`BudgetShare::run`] first.
    pub async fn leave(&self) -> Result<(), SharedBudgetError> {
        self.inner.registry.leave(&self.inner.instance).await
    }

    /// One renewal; public for programs that drive the heartbeat themselves.
    pub async fn beat(&self) {
        let sent = Instant::now();
        match self
            .inner
            .registry
            .renew(&self.inner.instance, self.inner.settings.lease)
            .await
        {
            Ok(membership) => {
                let now = Instant::now();
                let live = membership.live_instances.max(1);
                {
                    let mut state = self.state();
                    state.lease_valid_until = sent + self.inner.settings.lease;
                    state.lapse_logged = false;
                    if state.live != live {
                        tracing::info!(instance = %self.inner.instance, from = state.live, to = live, "live instances changed; rate shares follow");
                        state.live = live;
                        self.inner.generation.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.absorb_pauses(&membership.pauses, now);
            }
            Err(error) => {
                tracing::warn!(instance = %self.inner.instance, %error, "could not renew the shared rate budget lease");
            }
        }
    }

    async fn publish_outbox(&self) {
        let pending = std::mem::take(&mut self.state().outbox);
        let now = Instant::now();
        for (mut pause, until) in pending {
            if until <= now {
                continue;
            }
            pause.remaining = until - now;
            if let Err(error) = self.inner.registry.publish_pause(&pause).await {
                tracing::warn!(system = %pause.system, %error, "could not share a rate-limit pause");
            }
        }
    }

    fn absorb_pauses(&self, pauses: &[SharedPause], now: Instant) {
        let mut state = self.state();
        state.pauses.retain(|_, until| *until > now);
        for pause in pauses {
            let until = now + pause.remaining;
            let slot = state
                .pauses
                .entry((pause.system.clone(), pause.budget.clone()))
                .or_insert(until);
            *slot = (*slot).max(until);
        }
    }

    fn state(&self) -> MutexGuard<'_, ShareState> {
        // Plain numbers and maps: a panic elsewhere cannot leave them half-written.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `system` may send now, and at which share.
    pub(crate) fn gate(&self, system: &str, now: Instant) -> ShareGate {
        let mut state = self.state();
        if now < state.sending_from {
            return ShareGate::Closed(state.sending_from);
        }
        if now >= state.lease_valid_until {
            if !state.lapse_logged {
                state.lapse_logged = true;
                tracing::warn!(instance = %self.inner.instance, "shared rate budget lease lapsed (is BudgetShare::run running?): sending nothing until it is renewed");
            }
            return ShareGate::Closed(now + LAPSED_POLL);
        }
        if let Some(&until) = state.pauses.get(&(system.to_owned(), None))
            && until > now
        {
            return ShareGate::Closed(until);
        }
        ShareGate::Share {
            divisor: state.live,
            generation: self.inner.generation.load(Ordering::Relaxed),
        }
    }

    /// A pause another instance published for one of `system`'s named budgets.
    pub(crate) fn budget_pause(&self, system: &str, budget: &str, now: Instant) -> Option<Instant> {
        let state = self.state();
        state
            .pauses
            .get(&(system.to_owned(), Some(budget.to_owned())))
            .copied()
            .filter(|&until| until > now)
    }

    /// This instance met a server pause: it is published at once (by the heartbeat task).
    pub(crate) fn share_pause(&self, system: &str, budget: Option<&str>, until: Instant) {
        let pause = SharedPause {
            system: system.to_owned(),
            budget: budget.map(str::to_owned),
            remaining: Duration::ZERO,
        };
        {
            let mut state = self.state();
            let slot = state
                .pauses
                .entry((pause.system.clone(), pause.budget.clone()))
                .or_insert(until);
            *slot = (*slot).max(until);
            state.outbox.push((pause, until));
        }
        self.inner.publish_now.notify_one();
    }
}

/// A [`SharedBudget`] in memory: leases on tokio's clock. For several executors in one
/// process, and for tests.
#[derive(Debug, Default)]
pub struct InMemorySharedBudget {
    state: Mutex<MemoryRegistry>,
}

#[derive(Debug, Default)]
struct MemoryRegistry {
    leases: HashMap<String, Instant>,
    pauses: HashMap<(String, Option<String>), Instant>,
}

impl InMemorySharedBudget {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryRegistry> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SharedBudget for InMemorySharedBudget {
    async fn renew(
        &self,
        instance: &str,
        lease: Duration,
    ) -> Result<Membership, SharedBudgetError> {
        let now = Instant::now();
        let mut registry = self.lock();
        registry.leases.insert(instance.to_owned(), now + lease);
        registry.leases.retain(|_, until| *until > now);
        registry.pauses.retain(|_, until| *until > now);
        let live = u32::try_from(registry.leases.len()).unwrap_or(u32::MAX);
        let pauses = registry
            .pauses
            .iter()
            .map(|((system, budget), until)| SharedPause {
                system: system.clone(),
                budget: budget.clone(),
                remaining: *until - now,
            })
            .collect();
        Ok(Membership {
            live_instances: live,
            pauses,
        })
    }

    async fn publish_pause(&self, pause: &SharedPause) -> Result<(), SharedBudgetError> {
        let until = Instant::now() + pause.remaining;
        let mut registry = self.lock();
        let slot = registry
            .pauses
            .entry((pause.system.clone(), pause.budget.clone()))
            .or_insert(until);
        *slot = (*slot).max(until);
        Ok(())
    }

    async fn leave(&self, instance: &str) -> Result<(), SharedBudgetError> {
        self.lock().leases.remove(instance);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is a failed assertion
mod tests {
    use super::*;

    fn settings() -> ShareSettings {
        ShareSettings {
            instance: None,
            heartbeat: Duration::from_millis(200),
            lease: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_joiner_waits_a_heartbeat_and_everyone_halves() {
        let registry = Arc::new(InMemorySharedBudget::new());
        let a = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        assert!(matches!(
            a.gate("okta", Instant::now()),
            ShareGate::Share { divisor: 1, .. }
        ));
        let b = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        let ShareGate::Closed(from) = b.gate("okta", Instant::now()) else {
            panic!("a joiner waits")
        };
        assert!(from >= Instant::now() + Duration::from_millis(200));
        a.beat().await;
        assert!(matches!(
            a.gate("okta", Instant::now()),
            ShareGate::Share { divisor: 2, .. }
        ));
        tokio::time::advance(Duration::from_millis(300)).await;
        b.beat().await;
        assert!(matches!(
            b.gate("okta", Instant::now()),
            ShareGate::Share { divisor: 2, .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_lease_stops_sending_and_its_share_returns_to_the_others() {
        let registry = Arc::new(InMemorySharedBudget::new());
        let a = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        let b = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        a.beat().await;
        // b dies: no more renewals. Past its lease it would not send itself...
        tokio::time::advance(Duration::from_millis(1100)).await;
        a.beat().await;
        assert!(matches!(
            b.gate("okta", Instant::now()),
            ShareGate::Closed(_)
        ));
        // ...and a has the whole budget again.
        assert_eq!(a.live_instances(), 1);
        assert!(matches!(
            a.gate("okta", Instant::now()),
            ShareGate::Share { divisor: 1, .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn one_instances_429_pauses_the_other() {
        let registry = Arc::new(InMemorySharedBudget::new());
        let a = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        let b = BudgetShare::join(registry.clone(), settings())
            .await
            .unwrap();
        tokio::time::advance(Duration::from_millis(400)).await;
        a.beat().await;
        b.beat().await;
        let now = Instant::now();
        a.share_pause("okta", None, now + Duration::from_secs(3));
        a.share_pause("slack", Some("chat.write"), now + Duration::from_secs(2));
        a.publish_outbox().await;
        b.beat().await;
        assert_eq!(
            b.gate("okta", now),
            ShareGate::Closed(now + Duration::from_secs(3))
        );
        assert_eq!(
            b.budget_pause("slack", "chat.write", now),
            Some(now + Duration::from_secs(2))
        );
        assert!(matches!(b.gate("slack", now), ShareGate::Share { .. }));
        tokio::time::advance(Duration::from_secs(3)).await;
        b.beat().await; // (the lease would have lapsed meanwhile otherwise)
        assert!(matches!(
            b.gate("okta", Instant::now()),
            ShareGate::Share { .. }
        ));
    }
}
