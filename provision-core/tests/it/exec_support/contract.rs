//! A hand-written test system for the executor side of the adapter contract: named
//! rate budgets enforced server-side, a kind whose membership is written as a whole list
//! (read-modify-write, so two writes at once lose a member), paginated reads that can be
//! throttled, and scripted errors.
#![allow(clippy::result_large_err)] // the adapter contract returns AdapterError by value

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, Page, RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation, OperationKind,
    ResourceRecord, ResourceRef,
};
use tokio::time::Instant;

/// What the system saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every request that was let through, with its budget and when.
    pub requests: Vec<(String, Instant)>,
    /// Requests answered 429, per budget.
    pub throttled: BTreeMap<String, u32>,
    /// Sizes of the batches `execute_batch` received.
    pub batches: Vec<usize>,
    /// Read calls (pages), answered or throttled.
    pub read_calls: u32,
}

#[derive(Default)]
struct Inner {
    accounts: BTreeMap<String, String>,
    /// Whole-list resources: their members.
    lists: BTreeMap<String, BTreeSet<String>>,
    /// Per budget: the current fixed window's start and count.
    windows: HashMap<String, (Instant, u32)>,
    /// Reads still to answer with a 429.
    reads_to_throttle: u32,
    /// Scripted errors by verb (`revoke`, `grant`).
    errors: HashMap<String, AdapterError>,
    /// Scripted errors by verb, answered once each (in order).
    errors_once: HashMap<String, Vec<AdapterError>>,
    seen: Seen,
}

/// The test system.
pub struct ContractSystem {
    descriptor: SystemDescriptor,
    /// Requests allowed per one-second window, per budget (`users`, `groups`, `reads`).
    limits: BTreeMap<String, u32>,
    /// Answers carry their budget's name.
    tag_budgets: bool,
    /// Time between reading a whole list and writing it back (and each request's latency).
    latency: Duration,
    /// `execute_batch` does one read and one write for the whole batch.
    batching: bool,
    inner: Mutex<Inner>,
}

impl ContractSystem {
    /// A system with `descriptor`, no server limits, 5 ms latency.
    pub fn new(descriptor: SystemDescriptor) -> Self {
        Self {
            descriptor,
            limits: BTreeMap::new(),
            tag_budgets: true,
            latency: Duration::from_millis(5),
            batching: false,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Builder-style: the server's limit of a budget, per one-second window.
    pub fn limit(mut self, budget: &str, per_second: u32) -> Self {
        self.limits.insert(budget.to_owned(), per_second);
        self
    }

    /// Builder-style: `execute_batch` writes a whole list once per batch.
    pub fn batching(mut self) -> Self {
        self.batching = true;
        self
    }

    /// Builder-style: the latency.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The first `n` reads are answered 429.
    pub fn throttle_reads(&self, n: u32) {
        self.inner.lock().unwrap().reads_to_throttle = n;
    }

    /// Every operation with this verb fails with `error`.
    pub fn fail(&self, verb: &str, error: AdapterError) {
        self.inner
            .lock()
            .unwrap()
            .errors
            .insert(verb.to_owned(), error);
    }

    /// The next operation with this verb fails with `error`, once.
    pub fn fail_once(&self, verb: &str, error: AdapterError) {
        self.inner
            .lock()
            .unwrap()
            .errors_once
            .entry(verb.to_owned())
            .or_default()
            .push(error);
    }

    /// An account that exists.
    pub fn with_account(&self, login: &str) {
        let mut inner = self.inner.lock().unwrap();
        let id = format!("id-{login}");
        inner.accounts.insert(login.to_owned(), id);
    }

    /// A member of a whole list.
    pub fn with_member(&self, list: &str, login: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .lists
            .entry(list.to_owned())
            .or_default()
            .insert(login.to_owned());
    }

    /// The members of a whole list.
    pub fn members(&self, list: &str) -> BTreeSet<String> {
        let inner = self.inner.lock().unwrap();
        inner.lists.get(list).cloned().unwrap_or_default()
    }

    /// What the system saw.
    pub fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.inner.lock().unwrap().seen)
    }

    fn budget_of(op: &Operation) -> &'static str {
        match op.kind {
            OperationKind::Grant { .. } | OperationKind::Revoke { .. } => "groups",
            _ => "users",
        }
    }

    fn info(&self, budget: &str) -> Option<RateLimitInfo> {
        self.tag_budgets.then(|| RateLimitInfo {
            bucket: Some(budget.to_owned()),
            ..RateLimitInfo::default()
        })
    }

    /// Counts one request against `budget`; a 429 when its window is full.
    fn admit(&self, budget: &str) -> Result<(), AdapterError> {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap();
        if let Some(&limit) = self.limits.get(budget) {
            let window = inner.windows.entry(budget.to_owned()).or_insert((now, 0));
            if now >= window.0 + Duration::from_secs(1) {
                *window = (now, 0);
            }
            if window.1 >= limit {
                let retry_after = window.0 + Duration::from_secs(1) - now;
                *inner.seen.throttled.entry(budget.to_owned()).or_default() += 1;
                return Err(AdapterError::RateLimited {
                    info: RateLimitInfo {
                        bucket: self.tag_budgets.then(|| budget.to_owned()),
                        retry_after: Some(retry_after),
                        ..RateLimitInfo::default()
                    },
                    error: SystemError::new(Some(429), None, format!("{budget} limit exceeded")),
                });
            }
            window.1 += 1;
        }
        inner.seen.requests.push((budget.to_owned(), now));
        Ok(())
    }

    fn scripted(&self, op: &Operation) -> Option<AdapterError> {
        let mut inner = self.inner.lock().unwrap();
        if let Some(once) = inner.errors_once.get_mut(op.kind.verb())
            && !once.is_empty()
        {
            return Some(once.remove(0));
        }
        inner.errors.get(op.kind.verb()).cloned()
    }

    /// Reads a whole list, waits, writes it back changed: two at once lose a change.
    async fn change_list(&self, ops: &[&Operation]) {
        let Some(list) = ops.first().and_then(|o| o.kind.entitlement()) else {
            return;
        };
        let list = list.resource.clone();
        let mut members = self.members(&list);
        tokio::time::sleep(self.latency).await;
        for op in ops {
            match &op.kind {
                OperationKind::Grant { .. } => {
                    members.insert(op.login.clone());
                }
                OperationKind::Revoke { .. } => {
                    members.remove(&op.login);
                }
                _ => {}
            }
        }
        self.inner.lock().unwrap().lists.insert(list, members);
    }

    fn whole_list(&self, op: &Operation) -> bool {
        op.kind.entitlement().is_some_and(|e| {
            self.descriptor
                .kind(&e.kind)
                .is_some_and(|k| k.whole_list_membership)
        })
    }

    async fn read_page<T: Clone>(
        &self,
        all: Vec<T>,
        cursor: Option<&str>,
    ) -> Result<Page<T>, AdapterError> {
        {
            let mut inner = self.inner.lock().unwrap();
            inner.seen.read_calls += 1;
            if inner.reads_to_throttle > 0 {
                inner.reads_to_throttle -= 1;
                *inner.seen.throttled.entry("reads".into()).or_default() += 1;
                return Err(AdapterError::RateLimited {
                    info: RateLimitInfo {
                        bucket: self.tag_budgets.then(|| "reads".to_owned()),
                        retry_after: Some(Duration::from_secs(2)),
                        ..RateLimitInfo::default()
                    },
                    error: SystemError::new(Some(429), None, "slow down"),
                });
            }
        }
        self.admit("reads")?;
        tokio::time::sleep(self.latency).await;
        let start: usize = cursor
            .map_or(Ok(0), str::parse)
            .map_err(|_| AdapterError::Invalid {
                error: SystemError::message("bad cursor"),
            })?;
        let end = (start + 2).min(all.len());
        let next = (end < all.len()).then(|| end.to_string());
        Ok(Page::new(all[start..end].to_vec(), next).with_rate_limit(self.info("reads")))
    }
}

#[async_trait]
impl Adapter for ContractSystem {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let all: Vec<AccountRecord> = {
            let inner = self.inner.lock().unwrap();
            inner
                .accounts
                .iter()
                .map(|(login, id)| {
                    AccountRecord::new(id.clone(), login.clone(), AccountState::Active)
                })
                .collect()
        };
        self.read_page(all, cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let all: Vec<GrantRecord> = self
            .members(&resource.resource)
            .into_iter()
            .map(|login| GrantRecord {
                entitlement: Entitlement::new(
                    resource.system.as_str(),
                    &resource.kind,
                    &resource.resource,
                ),
                account_external_id: format!("id-{login}"),
                login: Some(login),
            })
            .collect();
        self.read_page(all, cursor).await
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let all: Vec<GrantRecord> = {
            let inner = self.inner.lock().unwrap();
            inner
                .lists
                .iter()
                .filter(|(_, m)| m.contains(&account.login))
                .map(|(list, _)| GrantRecord {
                    entitlement: Entitlement::new("lists", "usergroup", list),
                    account_external_id: format!("id-{}", account.login),
                    login: Some(account.login.clone()),
                })
                .collect()
        };
        self.read_page(all, cursor).await
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let all: Vec<ResourceRecord> = {
            let inner = self.inner.lock().unwrap();
            inner
                .lists
                .keys()
                .map(|l| ResourceRecord::new(kind, l.clone()))
                .collect()
        };
        self.read_page(all, cursor).await
    }

    async fn execute(
        &self,
        op: &Operation,
        _account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let budget = Self::budget_of(op);
        self.admit(budget)?;
        if let Some(error) = self.scripted(op) {
            return Err(error);
        }
        if self.whole_list(op) {
            self.change_list(&[op]).await;
        } else {
            tokio::time::sleep(self.latency).await;
            if let OperationKind::CreateAccount { .. } = op.kind {
                self.with_account(&op.login);
            }
        }
        Ok(Applied::changed().with_rate_limit(self.info(budget)))
    }

    async fn execute_batch(
        &self,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        self.inner.lock().unwrap().seen.batches.push(batch.len());
        if !self.batching {
            let mut out = Vec::with_capacity(batch.len());
            for (op, account) in batch {
                out.push(self.execute(op, account).await);
            }
            return out;
        }
        if let Err(e) = self.admit("groups") {
            return batch.iter().map(|_| Err(e.clone())).collect();
        }
        let ops: Vec<&Operation> = batch.iter().map(|(op, _)| op).collect();
        self.change_list(&ops).await;
        batch
            .iter()
            .map(|_| Ok(Applied::changed().with_rate_limit(self.info("groups"))))
            .collect()
    }
}
