//! In-memory systems that behave like real ones for the executor: stateful
//! accounts and grants, latency, a rate limit, random transient failures, timeouts
//! after the change took effect, accounts that appear only on first SSO login,
//! paginated reads and idempotent writes. For trying policies without credentials,
//! for tests and for benchmarks.
//!
//! ```
//! # async fn demo() {
//! use provision_core::adapter::Adapter;
//! use provision_sandbox::{presets, SandboxConfig};
//!
//! let gitlab = presets::gitlab().sandbox("gitlab", SandboxConfig::default());
//! assert!(gitlab.descriptor().accounts_created_on_first_login);
//! # }
//! ```

pub mod factory;
mod manual;
mod persist;
pub mod presets;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reads_tests;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Effect, Page, RateLimitInfo, SystemDescriptor,
    SystemError,
};
use provision_core::clock::wall_at;
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation, OperationId,
    OperationKind, ResourceRecord, ResourceRef, SystemName,
};

pub use factory::{SandboxFactory, factory};
pub use persist::{SandboxFileError, WriteRecord, read_write_log};
use state::State;
pub use state::{
    EffectMark, RequestKind, RequestLogEntry, SandboxSnapshot, SandboxStats, WindowCount,
};

/// A fixed-window rate limit: `requests` per `window`, counted from the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxRateLimit {
    /// Requests accepted per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

/// How a sandbox system behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// Time each request takes.
    pub latency: Duration,
    /// The rate limit, if any. Every request counts (reads, writes, checks), also the
    /// rejected ones.
    pub rate_limit: Option<SandboxRateLimit>,
    /// Share (0.0–1.0) of writes and checks that fail with a transient error, without effect.
    pub transient_failure_rate: f64,
    /// Share (0.0–1.0) of writes that take effect and then answer with a timeout
    /// (`Transient { maybe_applied: true }`).
    pub timeout_after_commit_rate: f64,
    /// At most this many injected failures in a row for one operation (keeps injected
    /// failures below a retry budget); `None` for no bound.
    pub max_consecutive_failures: Option<u32>,
    /// Seed of the failure injector.
    pub seed: u64,
    /// Items per page on reads.
    pub page_size: usize,
    /// Grants (and other account operations) need the account's external id, as many
    /// real APIs do.
    pub require_external_id: bool,
    /// What "pending" answers tell the caller to wait.
    pub pending_recheck: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            rate_limit: None,
            transient_failure_rate: 0.0,
            timeout_after_commit_rate: 0.0,
            max_consecutive_failures: None,
            seed: 0,
            page_size: 100,
            require_external_id: false,
            pending_recheck: Duration::from_secs(5),
        }
    }
}

/// An in-memory system implementing [`Adapter`].
#[derive(Debug)]
pub struct SandboxSystem {
    name: SystemName,
    descriptor: SystemDescriptor,
    config: SandboxConfig,
    state: Mutex<State>,
    files: Option<persist::Files>,
}

/// The state while a request or call uses it; for a persistent system also the lock on
/// its files (released when this is dropped, after the state was saved).
struct Synced<'a> {
    state: MutexGuard<'a, State>,
    _lock: Option<persist::FileLock>,
}

/// What one injected outcome of a write is.
enum Fault {
    None,
    Transient,
    TimeoutAfterCommit,
}

impl SandboxSystem {
    /// A system named `name` that understands what `descriptor` says.
    pub fn new(
        name: impl Into<String>,
        descriptor: SystemDescriptor,
        config: SandboxConfig,
    ) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            name: SystemName::new(name),
            descriptor,
            config,
            state: Mutex::new(State::new(rng)),
            files: None,
        }
    }

    /// Keeps the system's accounts and grants in the JSON file `path`, so that they
    /// outlive the process: when the file exists its content replaces what the system
    /// holds, otherwise it is created from it. After every write request the file is
    /// rewritten atomically (temporary file, fsync, rename), then one line
    /// ([`WriteRecord`]) is appended to the write log beside it
    /// ([`SandboxSystem::write_log_path`]: `path` + `.writes.jsonl`), so that a test can
    /// count the writes that reached the system across processes. Seeding calls
    /// ([`SandboxSystem::with_account`], ...) are saved too, without a log line.
    ///
    /// Several processes (or several `SandboxSystem`s in one process) can open the same
    /// file and act as one system: every request takes an exclusive advisory lock on
    /// `path` + `.lock`, reloads the state file and, for a write, saves the state and
    /// appends the log line before it releases the lock. Each [`WriteRecord`] names the
    /// process that sent it.
    ///
    /// File I/O happens inside the adapter calls (blocking, with fsync): meant for
    /// tests and demos, not for benchmarks.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Result<Self, SandboxFileError> {
        let files = persist::Files::new(path.into());
        files.open(self.state.get_mut().unwrap_or_else(|p| p.into_inner()))?;
        self.files = Some(files);
        Ok(self)
    }

    /// The write log of a system with a state file ([`SandboxSystem::with_state_file`]).
    pub fn write_log_path(&self) -> Option<&Path> {
        self.files.as_ref().map(|f| f.write_log.as_path())
    }

    /// Saves a seeding change of a persistent system (the seeding calls return no error:
    /// a failure is logged).
    fn save_seed(&self, state: &State) {
        if let Some(files) = &self.files
            && let Err(error) = files.save(state)
        {
            tracing::error!(system = %self.name, %error, "sandbox state not saved");
        }
    }

    /// The system's name.
    pub fn name(&self) -> &SystemName {
        &self.name
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state, for a persistent system also its file lock, with what other processes
    /// saved reloaded: hold both while reading or changing the state.
    fn synced(&self) -> Result<Synced<'_>, SandboxFileError> {
        let mut state = self.state();
        let lock = match &self.files {
            Some(files) => Some(files.lock_and_reload(&mut state)?),
            None => None,
        };
        Ok(Synced { state, _lock: lock })
    }

    /// [`SandboxSystem::synced`] for the seeding and inspection calls, which return no
    /// error: a file that cannot be read is logged and the state kept in memory is used.
    fn synced_or_logged(&self) -> Synced<'_> {
        self.synced().unwrap_or_else(|error| {
            tracing::error!(system = %self.name, %error, "sandbox state not reloaded");
            Synced {
                state: self.state(),
                _lock: None,
            }
        })
    }

    /// [`SandboxSystem::synced`] for adapter calls: a file error is a transient error
    /// (nothing was changed).
    #[allow(clippy::result_large_err)] // the adapters' shared error type
    fn synced_for_request(&self) -> Result<Synced<'_>, AdapterError> {
        self.synced().map_err(|error| AdapterError::Transient {
            error: SystemError::message(format!("{}: {error}", self.name)),
            maybe_applied: false,
        })
    }

    /// Seeds an account (as if created by hand before the SDK ran); returns its id.
    pub fn with_account(&self, login: &str, state: AccountState) -> String {
        let mut synced = self.synced_or_logged();
        let id = synced.state.create_account(login, state);
        self.save_seed(&synced.state);
        id
    }

    /// Seeds a resource (as if created by hand in the system's console), with its
    /// parent for nested kinds; [`Adapter::list_resources`] lists it.
    pub fn with_resource(&self, resource: ResourceRecord) {
        let mut synced = self.synced_or_logged();
        synced
            .state
            .resources
            .insert((resource.kind.clone(), resource.resource.clone()), resource);
        self.save_seed(&synced.state);
    }

    /// Seeds a correlation key on an existing account (`employee_id`, Jira's
    /// `account_id`); `false` when no account has this login.
    pub fn with_account_key(&self, login: &str, key: &str, value: &str) -> bool {
        let mut synced = self.synced_or_logged();
        let found = match synced.state.accounts.get_mut(login) {
            Some(account) => {
                account.correlation.insert(key.to_owned(), value.to_owned());
                true
            }
            None => false,
        };
        self.save_seed(&synced.state);
        found
    }

    /// Seeds profile attributes on an existing account (as HR had them when it was
    /// last written); `false` when no account has this login.
    pub fn with_account_attributes(&self, login: &str, attributes: &[(&str, &str)]) -> bool {
        let mut synced = self.synced_or_logged();
        let found = match synced.state.accounts.get_mut(login) {
            Some(account) => {
                for (k, v) in attributes {
                    account.attributes.insert((*k).to_owned(), (*v).to_owned());
                }
                true
            }
            None => false,
        };
        self.save_seed(&synced.state);
        found
    }

    /// The profile attributes an account holds now.
    pub fn account_attributes(&self, login: &str) -> Option<BTreeMap<String, String>> {
        self.synced_or_logged()
            .state
            .accounts
            .get(login)
            .map(|a| a.attributes.clone())
    }

    /// Seeds a grant held by an existing account.
    pub fn with_grant(&self, login: &str, entitlement: Entitlement) {
        let mut synced = self.synced_or_logged();
        synced.state.grants.insert((login.to_owned(), entitlement));
        self.save_seed(&synced.state);
    }

    /// Makes every write of this operation fail permanently with `error`.
    pub fn fail_permanently(&self, operation: &OperationId, error: SystemError) {
        self.state().permanent.insert(operation.clone(), error);
    }

    /// Another client of the same API uses `requests` of the current window's budget
    /// (they are not in [`SandboxSystem::stats`]).
    pub fn consume_quota(&self, requests: u32) {
        let now = Instant::now();
        let mut state = self.state();
        for _ in 0..requests {
            // Other clients' requests use the budget but are not in our log.
            let _ = state.count_request(self.config.rate_limit, now, false);
        }
    }

    /// The person signs in for the first time: on systems whose accounts appear on
    /// first SSO login, an account requested earlier (pending) appears now.
    pub fn sso_login(&self, login: &str) {
        let mut synced = self.synced_or_logged();
        let state = &mut synced.state;
        if state.awaiting_login.remove(login) || !state.accounts.contains_key(login) {
            state.create_account(login, AccountState::Active);
        }
        self.save_seed(state);
    }

    /// Accounts and grants as they are now.
    pub fn snapshot(&self) -> SandboxSnapshot {
        self.synced_or_logged().state.snapshot()
    }

    /// Counters and the request log.
    pub fn stats(&self) -> SandboxStats {
        self.state().stats.clone()
    }

    /// Requests received per rate-limit window (empty without a rate limit).
    pub fn requests_per_window(&self) -> Vec<WindowCount> {
        match self.config.rate_limit {
            None => Vec::new(),
            Some(rl) => self.state().windows(rl.window),
        }
    }

    /// Counts one request and applies the rate limit and latency before the caller acts.
    /// Returns the headroom to report, or the "rate limited" answer.
    async fn admit(
        &self,
        kind: RequestKind,
        op: Option<&OperationId>,
    ) -> Result<Option<RateLimitInfo>, AdapterError> {
        let now = Instant::now();
        let verdict = {
            let mut state = self.state();
            let verdict = state.count_request(self.config.rate_limit, now, true);
            state.log(now, kind, op.cloned(), verdict.is_err());
            verdict
        };
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency).await;
        }
        match verdict {
            Ok(None) => Ok(None),
            Ok(Some((limit, remaining, reset))) => Ok(Some(RateLimitInfo {
                bucket: None,
                limit: Some(u64::from(limit)),
                remaining: Some(u64::from(remaining)),
                reset_at: Some(wall_at(reset)),
                retry_after: None,
            })),
            Err((limit, reset)) => {
                let now = Instant::now();
                Err(AdapterError::RateLimited {
                    info: RateLimitInfo {
                        bucket: None,
                        limit: Some(u64::from(limit)),
                        remaining: Some(0),
                        reset_at: Some(wall_at(reset)),
                        retry_after: Some(reset.saturating_duration_since(now)),
                    },
                    error: SystemError::new(
                        Some(429),
                        Some("rate_limit_exceeded".into()),
                        format!("{}: API rate limit exceeded", self.name),
                    ),
                })
            }
        }
    }

    /// One write past the rate limit: the answer, and whether it changed the state.
    fn write(
        &self,
        state: &mut State,
        op: &Operation,
        account: &AccountRef,
    ) -> (Result<Applied, AdapterError>, bool) {
        if op.kind == OperationKind::DeleteAccount && !self.descriptor.can_delete {
            // As the real system would (Salesforce deactivates users, it cannot delete them).
            let error = AdapterError::Unsupported {
                what: format!("{}: deleting accounts", self.name),
            };
            return (Err(error), false);
        }
        if let Some(error) = state.permanent.get(&op.id) {
            let error = AdapterError::Permanent {
                error: error.clone(),
            };
            return (Err(error), false);
        }
        let fault = self.fault(state, &op.id, true);
        if matches!(fault, Fault::Transient) {
            return (Err(self.transient(false)), false);
        }
        match state.apply(&self.descriptor, &self.config, op, account) {
            Err(error) => (Err(error), false),
            Ok(applied) => {
                let changed = applied.effect == Effect::Changed;
                if matches!(fault, Fault::TimeoutAfterCommit) {
                    (Err(self.transient(true)), changed)
                } else {
                    (Ok(applied), changed)
                }
            }
        }
    }

    fn fault(&self, state: &mut State, op: &OperationId, allow_timeout: bool) -> Fault {
        let streak = state.failure_streak.get(op).copied().unwrap_or(0);
        if self
            .config
            .max_consecutive_failures
            .is_some_and(|max| streak >= max)
        {
            state.failure_streak.remove(op);
            return Fault::None;
        }
        let roll: f64 = state.rng.random();
        let fault = if roll < self.config.transient_failure_rate {
            Fault::Transient
        } else if allow_timeout
            && roll < self.config.transient_failure_rate + self.config.timeout_after_commit_rate
        {
            Fault::TimeoutAfterCommit
        } else {
            Fault::None
        };
        match fault {
            Fault::None => {
                state.failure_streak.remove(op);
            }
            _ => *state.failure_streak.entry(op.clone()).or_default() += 1,
        }
        fault
    }

    fn transient(&self, maybe_applied: bool) -> AdapterError {
        AdapterError::Transient {
            error: if maybe_applied {
                SystemError::message(format!("{}: timed out waiting for the response", self.name))
            } else {
                SystemError::new(
                    Some(503),
                    Some("service_unavailable".into()),
                    format!("{}: try again later", self.name),
                )
            },
            maybe_applied,
        }
    }
}

#[async_trait]
impl Adapter for SandboxSystem {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let info = self.admit(RequestKind::Read, None).await?;
        let start = parse_cursor(cursor)?;
        let synced = self.synced_for_request()?;
        let state = &synced.state;
        let all: Vec<AccountRecord> = state.account_records();
        Ok(page(all, start, self.config.page_size, info))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let info = self.admit(RequestKind::Read, None).await?;
        let start = parse_cursor(cursor)?;
        let synced = self.synced_for_request()?;
        let state = &synced.state;
        let all: Vec<GrantRecord> = state.grant_records(resource);
        Ok(page(all, start, self.config.page_size, info))
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        if !self.descriptor.kinds.iter().any(|k| k.enumerable) {
            return Err(AdapterError::Unsupported {
                what: "read_account_grants (no enumerable kind)".to_owned(),
            });
        }
        let info = self.admit(RequestKind::Read, None).await?;
        let start = parse_cursor(cursor)?;
        let synced = self.synced_for_request()?;
        let all = synced
            .state
            .account_grant_records(&self.descriptor, account);
        Ok(page(all, start, self.config.page_size, info))
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        if !self.descriptor.kind(kind).is_some_and(|k| k.enumerable) {
            return Err(AdapterError::Unsupported {
                what: format!("list_resources of kind {kind} (not enumerable)"),
            });
        }
        let info = self.admit(RequestKind::Read, None).await?;
        let start = parse_cursor(cursor)?;
        let synced = self.synced_for_request()?;
        let all = synced.state.resource_records(kind);
        Ok(page(all, start, self.config.page_size, info))
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let info = self.admit(RequestKind::Write, Some(&op.id)).await?;
        let mut synced = self.synced_for_request()?;
        let state = &mut synced.state;
        state.stats.writes += 1;
        if state.stats.took_effect.contains_key(&op.id) {
            *state
                .stats
                .resent_after_effect
                .entry(op.id.clone())
                .or_default() += 1;
        }
        let (result, changed) = self.write(state, op, account);
        if matches!(
            result,
            Ok(_)
                | Err(AdapterError::Transient {
                    maybe_applied: true,
                    ..
                })
        ) {
            let mark = EffectMark {
                log_len: state.stats.log.len(),
                at: Instant::now(),
            };
            state.stats.took_effect.entry(op.id.clone()).or_insert(mark);
        }
        if let Some(files) = &self.files {
            let record = WriteRecord {
                seq: 0,
                system: self.name.clone(),
                operation: op.id.clone(),
                kind: op.kind.verb().to_owned(),
                login: op.login.clone(),
                entitlement: op.kind.entitlement().cloned(),
                changed,
                pid: std::process::id(),
            };
            if let Err(error) = files.record(state, record) {
                return Err(AdapterError::Transient {
                    error: SystemError::message(format!("{}: {error}", self.name)),
                    maybe_applied: changed,
                });
            }
        }
        result.map(|applied| applied.with_rate_limit(info))
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.admit(RequestKind::Check, Some(&op.id)).await?;
        let mut synced = self.synced_for_request()?;
        let state = &mut synced.state;
        if matches!(self.fault(state, &op.id, false), Fault::Transient) {
            return Err(self.transient(false));
        }
        Ok(state.check(op, account, self.config.pending_recheck))
    }
}

#[allow(clippy::result_large_err)] // the adapters' shared error type
fn parse_cursor(cursor: Option<&str>) -> Result<usize, AdapterError> {
    match cursor {
        None => Ok(0),
        Some(c) => c.parse().map_err(|_| AdapterError::Invalid {
            error: SystemError::new(
                Some(400),
                Some("invalid_cursor".into()),
                format!("cursor {c:?} is not one this system gave"),
            ),
        }),
    }
}

fn page<T>(all: Vec<T>, start: usize, size: usize, info: Option<RateLimitInfo>) -> Page<T> {
    let size = size.max(1);
    let end = (start + size).min(all.len());
    let next = (end < all.len()).then(|| end.to_string());
    let items = all.into_iter().skip(start).take(size).collect();
    Page::new(items, next).with_rate_limit(info)
}

/// The accounts and grants the sandbox holds, keyed for comparison.
pub type GrantSet = BTreeSet<(String, Entitlement)>;
/// Accounts by login.
pub type AccountMap = BTreeMap<String, AccountState>;
