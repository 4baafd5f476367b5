//! The sandbox's state: accounts, grants, counters and the request log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rand::rngs::StdRng;
use tokio::time::Instant;

use super::SandboxRateLimit;
use provision_core::adapter::{
    AdapterError, Applied, CheckStatus, RoleModel, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation, OperationId,
    OperationKind, ResourceRecord, ResourceRef,
};

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A paginated read.
    Read,
    /// A change (`execute`).
    Write,
    /// A `check`.
    Check,
}

/// One request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLogEntry {
    /// When it arrived (tokio's clock).
    pub at: Instant,
    /// What it was.
    pub kind: RequestKind,
    /// The operation, for writes and checks.
    pub operation: Option<OperationId>,
    /// Answered "rate limited".
    pub rate_limited: bool,
}

/// Requests received in one rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Window number, from 0 (the first request's window).
    pub index: u64,
    /// Requests received in it (accepted or not).
    pub requests: u32,
    /// Of which answered "rate limited".
    pub rejected: u32,
}

/// When an operation's write first took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectMark {
    /// Requests in [`SandboxStats::log`] at that moment: a request with a lower index
    /// arrived before the effect, one at this index or later after it.
    pub log_len: usize,
    /// When (tokio's clock).
    pub at: Instant,
}

/// Counters a test can assert on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Every request received.
    pub requests: u64,
    /// Requests answered "rate limited".
    pub rate_limited: u64,
    /// Write requests past the rate limit (whatever their outcome).
    pub writes: u64,
    /// Accounts actually created, per login (2 would be a duplicate account).
    pub creates_per_login: BTreeMap<String, u32>,
    /// Every request, in arrival order.
    pub log: Vec<RequestLogEntry>,
    /// Operations whose write took effect (answered or not: a timeout after the
    /// commit counts), with when it first did.
    pub took_effect: BTreeMap<OperationId, EffectMark>,
    /// Writes of an operation that arrived after an earlier write of it had taken
    /// effect, per operation (a duplicated write: each should be 0).
    pub resent_after_effect: BTreeMap<OperationId, u32>,
    /// When the first request arrived.
    pub first_request: Option<Instant>,
}

impl SandboxStats {
    /// The most accounts created for any one login (1 when nothing was duplicated).
    pub fn max_creates_per_login(&self) -> u32 {
        self.creates_per_login.values().copied().max().unwrap_or(0)
    }

    /// When the first "rate limited" answer was given.
    pub fn first_rate_limited(&self) -> Option<Instant> {
        self.log.iter().find(|e| e.rate_limited).map(|e| e.at)
    }
}

/// Accounts and grants, for comparing with what was intended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSnapshot {
    /// Accounts by login, with their state.
    pub accounts: BTreeMap<String, AccountState>,
    /// Grants as (login, entitlement).
    pub grants: BTreeSet<(String, Entitlement)>,
    /// Logins whose account is requested and appears on first SSO login.
    pub awaiting_login: BTreeSet<String>,
    /// Logins whose sessions are active.
    pub sessions: BTreeSet<String>,
}

/// `Ok(Some((limit, remaining, reset)))` when a request is accepted under a limit,
/// `Ok(None)` without a limit, `Err((limit, reset))` when over it.
pub(super) type WindowVerdict = Result<Option<(u32, u32, Instant)>, (u32, Instant)>;

#[derive(Debug)]
pub(super) struct Account {
    pub(super) external_id: String,
    pub(super) state: AccountState,
    pub(super) has_session: bool,
    pub(super) attributes: BTreeMap<String, String>,
    /// Correlation keys beyond the login (`employee_id`, `account_id`).
    pub(super) correlation: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) accounts: BTreeMap<String, Account>,
    pub(super) grants: BTreeSet<(String, Entitlement)>,
    /// Resources created by hand (with their parents), by kind and name; resources
    /// that only appear in grants are listed too.
    pub(super) resources: BTreeMap<(String, String), ResourceRecord>,
    pub(super) awaiting_login: BTreeSet<String>,
    pub(super) permanent: HashMap<OperationId, SystemError>,
    pub(super) failure_streak: HashMap<OperationId, u32>,
    pub(super) rng: StdRng,
    pub(super) stats: SandboxStats,
    pub(super) next_id: u64,
    window: Option<(u64, u32)>,
    /// Writes recorded in the write log of a persistent system (across processes).
    pub(super) writes_logged: u64,
    /// The last of them, kept in the state file to complete a log cut short by a crash.
    pub(super) last_write: Option<super::persist::WriteRecord>,
}

fn not_found(what: String) -> AdapterError {
    AdapterError::NotFound {
        error: SystemError::new(Some(404), Some("not_found".into()), what),
    }
}

impl State {
    pub(super) fn new(rng: StdRng) -> Self {
        Self {
            accounts: BTreeMap::new(),
            grants: BTreeSet::new(),
            resources: BTreeMap::new(),
            awaiting_login: BTreeSet::new(),
            permanent: HashMap::new(),
            failure_streak: HashMap::new(),
            rng,
            stats: SandboxStats::default(),
            next_id: 1,
            window: None,
            writes_logged: 0,
            last_write: None,
        }
    }

    pub(super) fn create_account(&mut self, login: &str, state: AccountState) -> String {
        let external_id = format!("u{:06}", self.next_id);
        self.next_id += 1;
        *self
            .stats
            .creates_per_login
            .entry(login.to_owned())
            .or_default() += 1;
        self.accounts.insert(
            login.to_owned(),
            Account {
                external_id: external_id.clone(),
                state,
                has_session: state == AccountState::Active,
                attributes: BTreeMap::new(),
                correlation: BTreeMap::new(),
            },
        );
        external_id
    }

    /// Counts a request against a fixed-window limit. `Ok(Some((limit, remaining, reset)))`
    /// when accepted under a limit, `Err((limit, reset))` when over it.
    pub(super) fn count_request(
        &mut self,
        limit: Option<SandboxRateLimit>,
        now: Instant,
        ours: bool,
    ) -> WindowVerdict {
        if ours {
            self.stats.requests += 1;
        }
        let origin = *self.stats.first_request.get_or_insert(now);
        let Some(rl) = limit else { return Ok(None) };
        let window = rl.window.max(Duration::from_millis(1));
        let index = window_index(now - origin, window);
        let count = match self.window {
            Some((i, c)) if i == index => c + 1,
            _ => 1,
        };
        self.window = Some((index, count));
        let reset = origin + window * u32::try_from(index + 1).unwrap_or(u32::MAX);
        if count > rl.requests {
            self.stats.rate_limited += u64::from(ours);
            Err((rl.requests, reset))
        } else {
            Ok(Some((rl.requests, rl.requests - count, reset)))
        }
    }

    pub(super) fn log(
        &mut self,
        at: Instant,
        kind: RequestKind,
        operation: Option<OperationId>,
        rate_limited: bool,
    ) {
        self.stats.log.push(RequestLogEntry {
            at,
            kind,
            operation,
            rate_limited,
        });
    }

    pub(super) fn windows(&self, window: Duration) -> Vec<WindowCount> {
        let Some(origin) = self.stats.first_request else {
            return Vec::new();
        };
        let mut out: BTreeMap<u64, WindowCount> = BTreeMap::new();
        for entry in &self.stats.log {
            let index = window_index(entry.at - origin, window.max(Duration::from_millis(1)));
            let w = out.entry(index).or_insert(WindowCount {
                index,
                requests: 0,
                rejected: 0,
            });
            w.requests += 1;
            w.rejected += u32::from(entry.rate_limited);
        }
        out.into_values().collect()
    }

    pub(super) fn snapshot(&self) -> SandboxSnapshot {
        SandboxSnapshot {
            accounts: self
                .accounts
                .iter()
                .map(|(l, a)| (l.clone(), a.state))
                .collect(),
            grants: self.grants.clone(),
            awaiting_login: self.awaiting_login.clone(),
            sessions: self
                .accounts
                .iter()
                .filter(|(_, a)| a.has_session)
                .map(|(l, _)| l.clone())
                .collect(),
        }
    }

    pub(super) fn account_records(&self) -> Vec<AccountRecord> {
        self.accounts
            .iter()
            .map(|(login, a)| {
                let mut record = AccountRecord::new(&a.external_id, login, a.state);
                record.attributes = a.attributes.clone();
                record.correlation = a.correlation.clone();
                record
            })
            .collect()
    }

    fn grant_record(&self, login: &str, e: &Entitlement) -> GrantRecord {
        GrantRecord {
            entitlement: e.clone(),
            account_external_id: self
                .accounts
                .get(login)
                .map(|a| a.external_id.clone())
                .unwrap_or_default(),
            login: Some(login.to_owned()),
        }
    }

    /// Everything the account with this id holds on resources of enumerable kinds,
    /// whether a policy names them or not; nothing for an unknown account.
    pub(super) fn account_grant_records(
        &self,
        descriptor: &SystemDescriptor,
        account: &AccountRef,
    ) -> Vec<GrantRecord> {
        let login = match &account.external_id {
            Some(id) => self
                .accounts
                .iter()
                .find(|(_, a)| &a.external_id == id)
                .map(|(l, _)| l.as_str()),
            None => self
                .accounts
                .contains_key(&account.login)
                .then_some(account.login.as_str()),
        };
        let Some(login) = login else {
            return Vec::new();
        };
        let start = (login.to_owned(), Entitlement::new("", "", ""));
        self.grants
            .range(start..)
            .take_while(|(l, _)| l == login)
            .filter(|(_, e)| descriptor.kind(&e.kind).is_some_and(|k| k.enumerable))
            .map(|(l, e)| self.grant_record(l, e))
            .collect()
    }

    /// Every resource of `kind`: those created by hand and those some grant is on.
    pub(super) fn resource_records(&self, kind: &str) -> Vec<ResourceRecord> {
        let mut out: BTreeMap<&str, ResourceRecord> = self
            .resources
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((_, name), r)| (name.as_str(), r.clone()))
            .collect();
        for (_, e) in &self.grants {
            if e.kind == kind && !out.contains_key(e.resource.as_str()) {
                let mut record = ResourceRecord::new(kind, &e.resource);
                record.scope.clone_from(&e.scope);
                out.insert(e.resource.as_str(), record);
            }
        }
        out.into_values().collect()
    }

    /// Adds `entitlement` to `login`'s grants as a system of this kind does: a new
    /// role replaces the old one on the same resource (unless the kind's roles are
    /// [`RoleModel::Multiple`]); for a one-per-account kind it replaces whatever the
    /// account held of that kind. Returns whether anything changed.
    pub(super) fn grant(
        &mut self,
        descriptor: &SystemDescriptor,
        login: &str,
        entitlement: &Entitlement,
    ) -> bool {
        let key = (login.to_owned(), entitlement.clone());
        if self.grants.contains(&key) {
            return false;
        }
        let kind = descriptor.kind(&entitlement.kind);
        let multiple = kind.is_some_and(|k| k.role_model == RoleModel::Multiple);
        let one_per_account = kind.is_some_and(|k| k.one_per_account);
        self.grants.retain(|(l, e)| {
            if l != login || e.system != entitlement.system || e.kind != entitlement.kind {
                return true;
            }
            if one_per_account {
                return false;
            }
            e.resource != entitlement.resource || e.scope != entitlement.scope || multiple
        });
        self.grants.insert(key)
    }

    pub(super) fn grant_records(&self, resource: &ResourceRef) -> Vec<GrantRecord> {
        self.grants
            .iter()
            .filter(|(_, e)| &e.resource_ref() == resource)
            .map(|(login, e)| self.grant_record(login, e))
            .collect()
    }

    // AdapterError is the adapters' shared error type; boxing it here would only move the cost.
    #[allow(clippy::result_large_err)]
    /// The account an operation addresses, checked as a real API would.
    fn account_for(
        &self,
        op: &Operation,
        account: &AccountRef,
        require_id: bool,
    ) -> Result<(), AdapterError> {
        if require_id && account.external_id.is_none() {
            return Err(AdapterError::Invalid {
                error: SystemError::new(
                    Some(400),
                    Some("missing_user_id".into()),
                    format!("{} needs the account id of {}", op.kind.verb(), op.login),
                ),
            });
        }
        match self.accounts.get(&op.login) {
            None => Err(not_found(format!("no account for {}", op.login))),
            Some(a)
                if account
                    .external_id
                    .as_ref()
                    .is_some_and(|id| *id != a.external_id) =>
            {
                Err(not_found(format!(
                    "no account with id {}",
                    account.external_id.as_deref().unwrap_or_default()
                )))
            }
            Some(_) => Ok(()),
        }
    }

    #[allow(clippy::result_large_err)]
    pub(super) fn apply(
        &mut self,
        descriptor: &SystemDescriptor,
        config: &super::SandboxConfig,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let login = op.login.clone();
        if let OperationKind::CreateAccount { profile } = &op.kind {
            if let Some(existing) = self.accounts.get(&login) {
                return Ok(
                    Applied::already_in_place().with_external_id(existing.external_id.clone())
                );
            }
            if descriptor.accounts_created_on_first_login {
                self.awaiting_login.insert(login.clone());
                return Err(AdapterError::Pending {
                    recheck_after: config.pending_recheck,
                    error: SystemError::message(format!(
                        "{} appears on first SSO login",
                        profile.login
                    )),
                });
            }
            let id = self.create_account(&login, AccountState::Active);
            if let Some(a) = self.accounts.get_mut(&login) {
                a.attributes.clone_from(&profile.attributes);
                a.attributes
                    .insert("display_name".to_owned(), profile.display_name.clone());
            }
            // The grants the account is created with (a Salesforce profile).
            for e in &profile.required_grants {
                self.grant(descriptor, &login, e);
            }
            return Ok(Applied::changed().with_external_id(id));
        }
        if descriptor.has_accounts {
            self.account_for(op, account, config.require_external_id)?;
        }
        let changed = match &op.kind {
            OperationKind::CreateAccount { .. } => false,
            OperationKind::Grant { entitlement } => self.grant(descriptor, &login, entitlement),
            OperationKind::Revoke { entitlement } => {
                if !self.grants.remove(&(login.clone(), entitlement.clone())) {
                    return Err(not_found(format!("{login} does not hold {entitlement}")));
                }
                true
            }
            other => {
                let Some(a) = self.accounts.get_mut(&login) else {
                    return Err(not_found(format!("no account for {login}")));
                };
                match other {
                    OperationKind::UpdateAccount { attributes } => {
                        let before = a.attributes.clone();
                        a.attributes.extend(attributes.clone());
                        before != a.attributes
                    }
                    OperationKind::ReactivateAccount => {
                        std::mem::replace(&mut a.state, AccountState::Active)
                            != AccountState::Active
                    }
                    OperationKind::SuspendAccount => {
                        a.has_session = false;
                        std::mem::replace(&mut a.state, AccountState::Suspended)
                            != AccountState::Suspended
                    }
                    OperationKind::RevokeSessions => std::mem::replace(&mut a.has_session, false),
                    OperationKind::DeleteAccount => {
                        self.accounts.remove(&login);
                        self.grants.retain(|(l, _)| l != &login);
                        true
                    }
                    _ => false,
                }
            }
        };
        Ok(if changed {
            Applied::changed()
        } else {
            Applied::already_in_place()
        })
    }

    pub(super) fn check(
        &self,
        op: &Operation,
        _account: &AccountRef,
        recheck: Duration,
    ) -> CheckStatus {
        let login = &op.login;
        let account = self.accounts.get(login);
        let done = match &op.kind {
            OperationKind::CreateAccount { .. } => {
                if let Some(a) = account {
                    return CheckStatus::Done {
                        external_id: Some(a.external_id.clone()),
                    };
                }
                if self.awaiting_login.contains(login) {
                    return CheckStatus::Pending {
                        recheck_after: recheck,
                    };
                }
                false
            }
            OperationKind::Grant { entitlement } => {
                self.grants.contains(&(login.clone(), entitlement.clone()))
            }
            OperationKind::Revoke { entitlement } => {
                !self.grants.contains(&(login.clone(), entitlement.clone()))
            }
            OperationKind::UpdateAccount { attributes } => account.is_some_and(|a| {
                attributes
                    .iter()
                    .all(|(k, v)| a.attributes.get(k) == Some(v))
            }),
            OperationKind::ReactivateAccount => {
                account.is_some_and(|a| a.state == AccountState::Active)
            }
            OperationKind::SuspendAccount => {
                account.is_some_and(|a| a.state == AccountState::Suspended)
            }
            OperationKind::RevokeSessions => account.is_some_and(|a| !a.has_session),
            OperationKind::DeleteAccount => account.is_none(),
            // An operation this sandbox does not know is never confirmed.
            _ => false,
        };
        if done {
            CheckStatus::Done {
                external_id: account.map(|a| a.external_id.clone()),
            }
        } else {
            CheckStatus::NotDone
        }
    }
}

fn window_index(elapsed: Duration, window: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos() / window.as_nanos().max(1)).unwrap_or(u64::MAX)
}
