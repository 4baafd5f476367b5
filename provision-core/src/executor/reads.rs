//! Reads through the executor: a system's accounts, one resource's grants, one account's
//! grants, the resources of a kind — paced by the same per-system (and per-budget)
//! limiter as the writes, and retried by the same [`RetryConfig`](super::RetryConfig) and
//! error policy: a 429 during a read waits as the server said, a transient error is
//! retried with backoff, and neither fails the read unless the retry budget runs out.
//!
//! Every page is one request: it waits for the system's gates and GCRA cell (and those
//! of its named budget, once an answer has said which), takes one of the system's
//! [`concurrency`](crate::config::SystemConfig::concurrency) slots, and books the
//! headroom its answer announces, so a read and an apply running side by side share one
//! budget. A cursor that comes back a second time is a
//! [`ReadError::CursorLoop`]; an account read twice is a
//! [`ReadError::DuplicateAccount`]. "Not found" on the first page reads nothing (the
//! resource or account is not there); a misconfigured system
//! ([`AdapterError::Configuration`]) and every other error fail the read.
//!
//! An adapter's [evidence reads](crate::adapter::EvidenceSource) go the same way
//! ([`Executor::read_evidence`]): one collection is one request to the limiter, paced,
//! retried and counted like a page.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::policy::{self, Decision, Failure};
use super::rate_limit::{Gate, Refused};
use super::{Executor, SystemEntry};
use crate::adapter::{
    AdapterError, CollectedEvidence, Page, ReadError, check_unique_accounts, drain_pages,
};
use crate::model::{
    AccountRecord, AccountRef, GrantRecord, ResourceRecord, ResourceRef, SystemName,
};

/// How long a read waits before looking again when its budget waits for an answer
/// another request has not brought yet.
const AWAIT_RESPONSE_POLL: Duration = Duration::from_millis(10);

/// Why a read through the executor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorReadError {
    /// The system is not registered with the executor.
    #[error("system `{0}` is not registered with the executor")]
    UnknownSystem(SystemName),
    /// The read failed: the system's error (after retries), a cursor loop, or an
    /// account read twice.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl ExecutorReadError {
    /// The adapter's error, when that is what failed.
    pub fn adapter_error(&self) -> Option<&AdapterError> {
        match self {
            ExecutorReadError::Read(e) => e.adapter_error(),
            ExecutorReadError::UnknownSystem(_) => None,
        }
    }
}

/// The read calls one executor made to one system, since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadStats {
    /// Page requests sent (every answer counts: pages, 429s, errors).
    pub calls: u64,
    /// Pages received.
    pub pages: u64,
    /// Requests answered "rate limited" (then waited for and sent again).
    pub throttled: u64,
    /// Requests retried after a transient error.
    pub retries: u64,
}

/// The counters behind [`ReadStats`].
#[derive(Debug, Default)]
pub(crate) struct ReadCounters {
    calls: AtomicU64,
    pages: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

impl ReadCounters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ReadStats {
        ReadStats {
            calls: self.calls.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

impl Executor {
    /// Every account of `system`, read page by page through the system's limiter.
    ///
    /// How every read of the executor behaves (this one and [`Executor::read_grants`],
    /// [`Executor::read_account_grants`], [`Executor::list_resources`]):
    ///
    /// * each page is one request, paced like a write: it waits for the system's
    ///   "not before" gates and GCRA cell (and those of its named budget once an answer
    ///   has named it) and takes one of the system's concurrency slots, so reads and an
    ///   apply running side by side share one budget;
    /// * a 429 waits as the server said and the page is asked again; a transient error
    ///   is retried with the executor's [`RetryConfig`](super::RetryConfig) backoff; the
    ///   read fails only when the retry budget or `max_total_time` runs out, or on an
    ///   error no wait can fix (unauthorized, [`AdapterError::Configuration`], …);
    /// * "not found" on the first page reads nothing (the resource or account is not
    ///   there); a cursor that comes back is [`ReadError::CursorLoop`];
    /// * every call is counted in [`Executor::read_stats`].
    ///
    /// Here, an account read twice is [`ReadError::DuplicateAccount`].
    ///
    /// ```
    /// # async fn demo(executor: provision_core::executor::Executor) -> Result<(), Box<dyn std::error::Error>> {
    /// use provision_core::model::SystemName;
    /// let accounts = executor.read_accounts(&SystemName::new("okta")).await?;
    /// let stats = executor.read_stats(&SystemName::new("okta")).unwrap_or_default();
    /// println!("{} accounts in {} calls", accounts.len(), stats.calls);
    /// # Ok(()) }
    /// ```
    pub async fn read_accounts(
        &self,
        system: &SystemName,
    ) -> Result<Vec<AccountRecord>, ExecutorReadError> {
        let entry = self.entry(system)?;
        let accounts = drain_pages(system, |cursor| async move {
            self.read_page(entry, "read:accounts", cursor.is_none(), || {
                entry.adapter.read_accounts(cursor.as_deref())
            })
            .await
        })
        .await?;
        check_unique_accounts(system, &accounts)?;
        Ok(accounts)
    }

    /// Every grant held on one resource ([`crate::adapter::Adapter::read_grants`]), read
    /// page by page through the limiter of `resource.system`. A resource the system
    /// does not have reads as no grants. Each grant's entitlement names
    /// `resource.system`, whatever the adapter wrote there
    /// ([`crate::planner::in_system`]).
    pub async fn read_grants(
        &self,
        resource: &ResourceRef,
    ) -> Result<Vec<GrantRecord>, ExecutorReadError> {
        let entry = self.entry(&resource.system)?;
        let key = format!("read:grants/{}", resource.kind);
        let key = key.as_str();
        let grants = drain_pages(&resource.system, |cursor| async move {
            self.read_page(entry, key, cursor.is_none(), || {
                entry.adapter.read_grants(resource, cursor.as_deref())
            })
            .await
        })
        .await?;
        Ok(crate::planner::in_system(&resource.system, grants))
    }

    /// Everything one account holds in `system`, on every resource of every enumerable
    /// kind ([`crate::adapter::Adapter::read_account_grants`]), read page by page through
    /// the system's limiter. An unknown account reads as no grants; a system whose
    /// adapter cannot read this says [`AdapterError::Unsupported`]. Each grant's
    /// entitlement names `system` ([`crate::planner::in_system`]).
    pub async fn read_account_grants(
        &self,
        system: &SystemName,
        account: &AccountRef,
    ) -> Result<Vec<GrantRecord>, ExecutorReadError> {
        let entry = self.entry(system)?;
        let grants = drain_pages(system, |cursor| async move {
            self.read_page(entry, "read:account_grants", cursor.is_none(), || {
                entry
                    .adapter
                    .read_account_grants(account, cursor.as_deref())
            })
            .await
        })
        .await?;
        Ok(crate::planner::in_system(system, grants))
    }

    /// Every resource of one enumerable kind in `system`
    /// ([`crate::adapter::Adapter::list_resources`]), read page by page through the
    /// system's limiter.
    pub async fn list_resources(
        &self,
        system: &SystemName,
        kind: &str,
    ) -> Result<Vec<ResourceRecord>, ExecutorReadError> {
        let entry = self.entry(system)?;
        let key = format!("list:{kind}");
        let key = key.as_str();
        Ok(drain_pages(system, |cursor| async move {
            self.read_page(entry, key, cursor.is_none(), || {
                entry.adapter.list_resources(kind, cursor.as_deref())
            })
            .await
        })
        .await?)
    }

    /// The system's own id for a resource ([`crate::adapter::Adapter::resource_id`]),
    /// asked of the adapter directly: it answers from its own caches, so the call is
    /// not paced or counted as a read.
    pub async fn resource_id(
        &self,
        resource: &ResourceRef,
    ) -> Result<Option<String>, ExecutorReadError> {
        let entry = self.entry(&resource.system)?;
        entry.adapter.resource_id(resource).await.map_err(|error| {
            ExecutorReadError::Read(ReadError::Adapter {
                system: resource.system.clone(),
                error: Box::new(error),
            })
        })
    }

    /// What `system`'s adapter offers as evidence ([`crate::adapter::EvidenceSource`]),
    /// read through the system's limiter like every other read: the collection waits
    /// for the system's gates and GCRA cell, takes a concurrency slot, and a 429 or a
    /// transient error is waited for or retried with the executor's
    /// [`RetryConfig`](super::RetryConfig), within the same shared budget as the
    /// other reads and the writes. The whole collection is one request to the limiter
    /// (the source drains its own pagination), counted in [`Executor::read_stats`] as a
    /// call and, when it succeeds, a page.
    ///
    /// `Ok(None)` when the adapter has no evidence reads. "Not found" is an error here
    /// (there is no "nothing on the first page" for evidence), as is every error no
    /// wait can fix.
    ///
    /// ```
    /// # async fn demo(executor: provision_core::executor::Executor) -> Result<(), Box<dyn std::error::Error>> {
    /// use provision_core::model::SystemName;
    /// if let Some(facts) = executor.read_evidence(&SystemName::new("okta")).await? {
    ///     println!("{} facts", facts.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn read_evidence(
        &self,
        system: &SystemName,
    ) -> Result<Option<Vec<CollectedEvidence>>, ExecutorReadError> {
        let entry = self.entry(system)?;
        if entry.adapter.evidence_source().is_none() {
            return Ok(None);
        }
        let page = self
            .read_page(entry, "read:evidence", false, || async {
                match entry.adapter.evidence_source() {
                    Some(source) => source.collect_evidence().await.map(Page::last),
                    None => Ok(Page::last(Vec::new())),
                }
            })
            .await
            .map_err(|error| ReadError::Adapter {
                system: system.clone(),
                error: Box::new(error),
            })?;
        Ok(Some(page.items))
    }

    /// Whether `system` answers with this deployment's credentials: the first page of its
    /// accounts, read through the system's limiter like any other page (a readiness
    /// probe never spends more of a vendor's budget than one paced request, however
    /// often it is asked). Returns how many accounts that page held.
    pub async fn probe(&self, system: &SystemName) -> Result<usize, ExecutorReadError> {
        let entry = self.entry(system)?;
        let page = self
            .read_page(entry, "read:accounts", true, || {
                entry.adapter.read_accounts(None)
            })
            .await
            .map_err(|error| ReadError::Adapter {
                system: system.clone(),
                error: Box::new(error),
            })?;
        Ok(page.items.len())
    }

    /// The read calls this executor made to `system` so far; `None` for a system it does
    /// not know.
    pub fn read_stats(&self, system: &SystemName) -> Option<ReadStats> {
        self.systems.get(system).map(|e| e.reads.snapshot())
    }

    fn entry(&self, system: &SystemName) -> Result<&SystemEntry, ExecutorReadError> {
        self.systems
            .get(system)
            .ok_or_else(|| ExecutorReadError::UnknownSystem(system.clone()))
    }

    /// One page: waits for its turn, sends it, books the answer, and acts on a failure as
    /// the error policy says (wait, retry, or give up).
    async fn read_page<T, F, Fut>(
        &self,
        entry: &SystemEntry,
        key: &str,
        first_page: bool,
        fetch: F,
    ) -> Result<Page<T>, AdapterError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Page<T>, AdapterError>>,
    {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let result = {
                // A concurrency slot, held for the request only (never closed).
                let _slot = entry.read_slots.acquire().await.ok();
                wait_for_turn(entry, key).await;
                let _out = entry.out(key);
                ReadCounters::add(&entry.reads.calls);
                fetch().await
            };
            let now = Instant::now();
            let error = match result {
                Ok(page) => {
                    ReadCounters::add(&entry.reads.pages);
                    match &page.rate_limit {
                        Some(info) => entry.limiter().on_headroom(key, info, now),
                        None => entry.limiter().on_untagged_success(key),
                    }
                    return Ok(page);
                }
                Err(AdapterError::NotFound { .. }) if first_page => {
                    return Ok(Page::last(Vec::new()));
                }
                Err(error) => error,
            };
            let throttled_until = match &error {
                AdapterError::RateLimited { info, .. } => {
                    ReadCounters::add(&entry.reads.throttled);
                    Some(entry.limiter().on_throttled(
                        key,
                        info,
                        now,
                        self.retry.default_rate_limit_wait,
                    ))
                }
                _ => None,
            };
            let backoff = match &error {
                AdapterError::Transient { .. } => {
                    policy::backoff_delay(&self.retry, seed(key), retries)
                }
                _ => None,
            };
            let decision = policy::on_failure(&Failure {
                error: &error,
                kind: None,
                executed: false,
                now,
                give_up_at: Some(started + self.retry.max_total_time),
                backoff,
                throttled_until,
            });
            match decision {
                // The limiter's gate holds the next request until then.
                Decision::WaitForBudget { until } => {
                    tracing::info!(%key, wait_ms = (until - now).as_millis() as u64, "read rate limited; waiting");
                }
                Decision::Retry { delay, .. } => {
                    tracing::info!(%key, delay_ms = delay.as_millis() as u64, %error, "retrying a read");
                    retries += 1;
                    ReadCounters::add(&entry.reads.retries);
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(error),
            }
        }
    }
}

/// Waits until a request of kind `key` may go to the system, and books it as sent.
async fn wait_for_turn(entry: &SystemEntry, key: &str) {
    loop {
        let now = Instant::now();
        let wait = {
            let mut limiter = entry.limiter();
            match limiter.gate(key, now) {
                Gate::Open => match limiter.take_cell(key) {
                    Ok(()) => {
                        limiter.on_dispatch(key);
                        return;
                    }
                    Err(Refused::System(t) | Refused::Budget(t)) => t,
                },
                Gate::Until(t) => t,
                Gate::AwaitResponse => now + AWAIT_RESPONSE_POLL,
            }
        };
        tokio::time::sleep_until(wait).await;
    }
}

/// The seed of a read's backoff jitter.
fn seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
