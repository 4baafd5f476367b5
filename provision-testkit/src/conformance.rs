//! The shared adapter conformance suite.
//!
//! **One entry point**: [`Suite`] runs every scenario that applies to a system (see
//! its table) and every adapter crate runs it against its mock:
//!
//! ```no_run
//! # async fn demo(adapter: &dyn provision_core::adapter::Adapter) {
//! use provision_core::model::Entitlement;
//! use provision_testkit::conformance::{Suite, profile};
//! let report = Suite::new(adapter, vec![Entitlement::new("okta", "group", "engineering")])
//!     .create(profile("ada@example.com", "Ada Lovelace"))
//!     .run()
//!     .await;
//! assert!(report.passed.contains(&"leaver_left_with_nothing"));
//! # }
//! ```
//!
//! The scenarios are also public one by one, for tests that need only one.
//!
//! Each function is one scenario every adapter must pass against its mock (wiremock,
//! moto, a SCIM peer): it drives the adapter only through the
//! [`provision_core::adapter::Adapter`] trait and asserts what a user would check
//! (the account is there after a create, the grant is gone after a revoke, "already
//! done" is a success, a 429 says when to come back). They panic with a message
//! naming the scenario on failure, like `assert!`.
//!
//! ```no_run
//! use provision_core::adapter::Adapter;
//! use provision_core::model::{AccountRef, Entitlement};
//! use provision_testkit::conformance;
//! # async fn demo(adapter: &dyn Adapter) {
//! let profile = conformance::profile("ada@example.com", "Ada Lovelace");
//! let account = conformance::create_then_found(adapter, profile).await;
//! let group = Entitlement::new("okta", "group", "engineering");
//! conformance::grant_then_revoke(adapter, &account, &group).await;
//! conformance::suspend_then_state(adapter, &account).await;
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, Effect, list_all_resources, read_all_account_grants,
    read_all_accounts, read_all_grants,
};
use provision_core::model::{
    AccountProfile, AccountRef, AccountState, Entitlement, GrantRecord, IdentityId, Operation,
    OperationKind, Priority, Reason, ReasonKind, ResourceRef, SystemName,
};

/// An account profile with login = email.
pub fn profile(login: &str, display_name: &str) -> AccountProfile {
    AccountProfile {
        login: login.to_owned(),
        email: login.to_owned(),
        display_name: display_name.to_owned(),
        attributes: BTreeMap::new(),
        ..Default::default()
    }
}

/// An operation of `kind` on the identity whose login is `login`, in the adapter's
/// system, with a conventional id and a test reason.
pub fn operation(adapter: &dyn Adapter, login: &str, kind: OperationKind) -> Operation {
    let system = SystemName::new(adapter.descriptor().adapter_type.clone());
    operation_in(system, login, kind)
}

/// An operation of `kind` in the system named `system` in the deployment.
fn operation_in(system: SystemName, login: &str, kind: OperationKind) -> Operation {
    let identity = IdentityId::new(login);
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: login.to_owned(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["conformance".to_owned()],
            event: Some("conformance suite".to_owned()),
            detail: "conformance scenario".to_owned(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

/// Runs one operation and returns what it did, as the executor reads the answer:
/// [`AdapterError::AlreadyDone`] is the success it is, and so is
/// [`AdapterError::NotFound`] for a revoke or a delete (the membership or the account
/// is not there: the removal is done, as that error's documentation says).
pub async fn run(
    adapter: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
) -> Result<Effect, AdapterError> {
    let op = operation(adapter, &account.login, kind);
    run_operation(adapter, account, &op).await
}

/// [`run`] for an operation already made (one in a system named otherwise).
async fn run_operation(
    adapter: &dyn Adapter,
    account: &AccountRef,
    op: &Operation,
) -> Result<Effect, AdapterError> {
    let removes = matches!(
        op.kind,
        OperationKind::Revoke { .. } | OperationKind::DeleteAccount
    );
    match adapter.execute(op, account).await {
        Ok(Applied { effect, .. }) => Ok(effect),
        Err(AdapterError::AlreadyDone { .. }) => Ok(Effect::AlreadyInPlace),
        Err(AdapterError::NotFound { .. }) if removes => Ok(Effect::AlreadyInPlace),
        Err(e) => Err(e),
    }
}

/// Creates an account, checks it comes back with an id, and that
/// [`read_all_accounts`] then lists it under its login in an enabled state.
/// Returns the account reference (with its external id) for later scenarios.
pub async fn create_then_found(adapter: &dyn Adapter, profile: AccountProfile) -> AccountRef {
    let login = profile.login.clone();
    let op = operation(adapter, &login, OperationKind::CreateAccount { profile });
    let applied = adapter
        .execute(&op, &AccountRef::by_login(&login))
        .await
        .unwrap_or_else(|e| panic!("create_then_found: creating {login} failed: {e}"));
    let id = applied
        .external_id
        .unwrap_or_else(|| panic!("create_then_found: the create of {login} returned no id"));
    let accounts = read_all_accounts(adapter)
        .await
        .unwrap_or_else(|e| panic!("create_then_found: reading accounts failed: {e}"));
    let found = accounts
        .iter()
        .find(|a| a.login.eq_ignore_ascii_case(&login))
        .unwrap_or_else(|| panic!("create_then_found: {login} is not among the accounts read"));
    assert_eq!(
        found.external_id, id,
        "create_then_found: the id read differs from the one created"
    );
    assert!(
        found.state.is_enabled(),
        "create_then_found: {login} is {:?} after its creation",
        found.state
    );
    AccountRef {
        login,
        external_id: Some(id),
    }
}

/// Creating the same account again is a success (adoption), never a duplicate:
/// the account count does not change and the same id comes back.
pub async fn create_again_adopts(
    adapter: &dyn Adapter,
    account: &AccountRef,
    profile: AccountProfile,
) {
    let before = read_all_accounts(adapter)
        .await
        .unwrap_or_else(|e| panic!("create_again_adopts: {e}"));
    let op = operation(
        adapter,
        &account.login,
        OperationKind::CreateAccount { profile },
    );
    let applied = adapter
        .execute(&op, &AccountRef::by_login(&account.login))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create_again_adopts: re-creating {} failed: {e}",
                account.login
            )
        });
    assert_eq!(
        applied.effect,
        Effect::AlreadyInPlace,
        "create_again_adopts: effect"
    );
    assert_eq!(
        applied.external_id, account.external_id,
        "create_again_adopts: the adopted id"
    );
    let after = read_all_accounts(adapter)
        .await
        .unwrap_or_else(|e| panic!("create_again_adopts: {e}"));
    assert_eq!(
        before.len(),
        after.len(),
        "create_again_adopts: a duplicate account appeared"
    );
}

/// The state of the account with this login as read, if listed.
pub async fn state_of(adapter: &dyn Adapter, login: &str) -> Option<AccountState> {
    read_all_accounts(adapter)
        .await
        .unwrap_or_else(|e| panic!("reading accounts failed: {e}"))
        .into_iter()
        .find(|a| a.login.eq_ignore_ascii_case(login))
        .map(|a| a.state)
}

/// Suspends the account, then checks it reads as suspended (or deprovisioned, for
/// systems configured to deactivate leavers), and that suspending again is a success.
pub async fn suspend_then_state(adapter: &dyn Adapter, account: &AccountRef) {
    let effect = run(adapter, account, OperationKind::SuspendAccount)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "suspend_then_state: suspending {} failed: {e}",
                account.login
            )
        });
    assert_eq!(
        effect,
        Effect::Changed,
        "suspend_then_state: first suspension"
    );
    let state = state_of(adapter, &account.login).await;
    assert!(
        matches!(
            state,
            Some(AccountState::Suspended | AccountState::Deprovisioned)
        ),
        "suspend_then_state: {} reads as {state:?} after suspension",
        account.login
    );
    let again = run(adapter, account, OperationKind::SuspendAccount)
        .await
        .unwrap_or_else(|e| panic!("suspend_then_state: suspending twice failed: {e}"));
    assert_eq!(
        again,
        Effect::AlreadyInPlace,
        "suspend_then_state: second suspension"
    );
}

/// Reactivates the account and checks it reads as enabled again.
pub async fn reactivate_then_state(adapter: &dyn Adapter, account: &AccountRef) {
    run(adapter, account, OperationKind::ReactivateAccount)
        .await
        .unwrap_or_else(|e| panic!("reactivate_then_state: {} failed: {e}", account.login));
    let state = state_of(adapter, &account.login).await;
    assert!(
        state.is_some_and(AccountState::is_enabled),
        "reactivate_then_state: {} reads as {state:?} after reactivation",
        account.login
    );
}

/// Deletes the account, checks it is no longer read, and that deleting again is a success.
pub async fn delete_then_gone(adapter: &dyn Adapter, account: &AccountRef) {
    run(adapter, account, OperationKind::DeleteAccount)
        .await
        .unwrap_or_else(|e| panic!("delete_then_gone: deleting {} failed: {e}", account.login));
    let state = state_of(adapter, &account.login).await;
    assert_eq!(
        state, None,
        "delete_then_gone: {} is still read after deletion",
        account.login
    );
    let again = run(adapter, account, OperationKind::DeleteAccount)
        .await
        .unwrap_or_else(|e| panic!("delete_then_gone: deleting twice failed: {e}"));
    assert_eq!(
        again,
        Effect::AlreadyInPlace,
        "delete_then_gone: second delete"
    );
}

fn holds(grants: &[provision_core::model::GrantRecord], account: &AccountRef) -> bool {
    grants.iter().any(|g| {
        Some(&g.account_external_id) == account.external_id.as_ref()
            || g.login
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(&account.login))
    })
}

/// Grants, checks [`read_all_grants`] lists the holder, grants again (already done:
/// success), revokes, checks the grant is gone, and revokes again (success).
pub async fn grant_then_revoke(
    adapter: &dyn Adapter,
    account: &AccountRef,
    entitlement: &Entitlement,
) {
    let resource: ResourceRef = entitlement.resource_ref();
    let grant = OperationKind::Grant {
        entitlement: entitlement.clone(),
    };
    let revoke = OperationKind::Revoke {
        entitlement: entitlement.clone(),
    };
    run(adapter, account, grant.clone())
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: granting {entitlement} failed: {e}"));
    let grants = read_all_grants(adapter, &resource)
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: reading {resource} failed: {e}"));
    assert!(
        holds(&grants, account),
        "grant_then_revoke: {} does not hold {entitlement} after the grant",
        account.login
    );
    run(adapter, account, grant)
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: granting twice must succeed: {e}"));
    run(adapter, account, revoke.clone())
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: revoking {entitlement} failed: {e}"));
    let grants = read_all_grants(adapter, &resource)
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: reading {resource} failed: {e}"));
    assert!(
        !holds(&grants, account),
        "grant_then_revoke: {} still holds {entitlement} after the revoke",
        account.login
    );
    run(adapter, account, revoke)
        .await
        .unwrap_or_else(|e| panic!("grant_then_revoke: revoking twice must succeed: {e}"));
}

/// The name a deployment gives the system in [`named_by_the_deployment`]: not the
/// adapter's type.
pub const RENAMED_SYSTEM: &str = "renamed-by-the-deployment";

/// A deployment names the system, not the adapter: `provision.yaml` may call a wiki
/// `docs` or `wiki-eu`, and rename it later. Grants and revokes `entitlement` with the
/// system named [`RENAMED_SYSTEM`] in the operation, the entitlement and the resource
/// read, and checks the adapter does the same as under its own type (the holder is
/// read after the grant, not after the revoke). An adapter that matched on its own
/// type (`if entitlement.system == "wiki"`) fails here. What the adapter writes in the
/// `system` of the grants it reads does not matter: the engine names the system
/// itself (`provision_core::planner::in_system`).
pub async fn named_by_the_deployment(
    adapter: &dyn Adapter,
    account: &AccountRef,
    entitlement: &Entitlement,
) {
    let system = SystemName::new(RENAMED_SYSTEM);
    let mut renamed = entitlement.clone();
    renamed.system = system.clone();
    let resource = renamed.resource_ref();
    let grant = operation_in(
        system.clone(),
        &account.login,
        OperationKind::Grant {
            entitlement: renamed.clone(),
        },
    );
    run_operation(adapter, account, &grant)
        .await
        .unwrap_or_else(|e| panic!("named_by_the_deployment: granting {renamed} failed: {e}"));
    let grants = read_all_grants(adapter, &resource)
        .await
        .unwrap_or_else(|e| panic!("named_by_the_deployment: reading {resource} failed: {e}"));
    assert!(
        holds(&grants, account),
        "named_by_the_deployment: {} does not hold {renamed} after the grant (does the \
         adapter depend on the system's name?)",
        account.login
    );
    let revoke = operation_in(
        system,
        &account.login,
        OperationKind::Revoke {
            entitlement: renamed.clone(),
        },
    );
    run_operation(adapter, account, &revoke)
        .await
        .unwrap_or_else(|e| panic!("named_by_the_deployment: revoking {renamed} failed: {e}"));
    let grants = read_all_grants(adapter, &resource)
        .await
        .unwrap_or_else(|e| panic!("named_by_the_deployment: reading {resource} failed: {e}"));
    assert!(
        !holds(&grants, account),
        "named_by_the_deployment: {} still holds {renamed} after the revoke",
        account.login
    );
}

/// Reads accounts page by page to the end: at least `min_pages` pages, exactly
/// `expected` accounts, no account twice. Returns the number of pages.
pub async fn accounts_paginate_to_the_end(
    adapter: &dyn Adapter,
    expected: usize,
    min_pages: usize,
) -> usize {
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut ids = BTreeSet::new();
    let mut total = 0;
    loop {
        let page = adapter
            .read_accounts(cursor.as_deref())
            .await
            .unwrap_or_else(|e| panic!("accounts_paginate_to_the_end: page {pages} failed: {e}"));
        pages += 1;
        assert!(
            pages <= expected + 1,
            "accounts_paginate_to_the_end: more pages than accounts: a cursor loop"
        );
        total += page.items.len();
        ids.extend(page.items.into_iter().map(|a| a.external_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        total, expected,
        "accounts_paginate_to_the_end: accounts read"
    );
    assert_eq!(
        ids.len(),
        total,
        "accounts_paginate_to_the_end: an account came twice"
    );
    assert!(
        pages >= min_pages,
        "accounts_paginate_to_the_end: only {pages} pages"
    );
    pages
}

/// Reads the grants on `resource` page by page to the end, as
/// [`accounts_paginate_to_the_end`] does for accounts. Returns the number of pages.
pub async fn grants_paginate_to_the_end(
    adapter: &dyn Adapter,
    resource: &ResourceRef,
    expected: usize,
    min_pages: usize,
) -> usize {
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut holders = BTreeSet::new();
    let mut total = 0;
    loop {
        let page = adapter
            .read_grants(resource, cursor.as_deref())
            .await
            .unwrap_or_else(|e| panic!("grants_paginate_to_the_end: page {pages} failed: {e}"));
        pages += 1;
        assert!(
            pages <= expected + 1,
            "grants_paginate_to_the_end: more pages than grants: a cursor loop"
        );
        total += page.items.len();
        holders.extend(page.items.into_iter().map(|g| g.account_external_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(total, expected, "grants_paginate_to_the_end: grants read");
    assert_eq!(
        holders.len(),
        total,
        "grants_paginate_to_the_end: a holder came twice"
    );
    assert!(
        pages >= min_pages,
        "grants_paginate_to_the_end: only {pages} pages"
    );
    pages
}

/// Runs `kind` once more on a change already in place and checks it is a success
/// (already in place), not an error and not a second change.
pub async fn already_done_is_success(
    adapter: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
) {
    let verb = kind.verb();
    let effect = run(adapter, account, kind)
        .await
        .unwrap_or_else(|e| panic!("already_done_is_success: {verb} failed: {e}"));
    assert_eq!(
        effect,
        Effect::AlreadyInPlace,
        "already_done_is_success: {verb}"
    );
}

/// Runs `kind` against a mock that answers "too many requests" and checks the error
/// is [`AdapterError::RateLimited`] with the server's reset time on the local clock
/// (`expected_reset`, to the second), and retryable.
pub async fn rate_limited_with_reset(
    adapter: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
    expected_reset: DateTime<Utc>,
) {
    let verb = kind.verb();
    match run(adapter, account, kind).await {
        Err(e @ AdapterError::RateLimited { .. }) => {
            assert!(
                e.is_retryable(),
                "rate_limited_with_reset: must be retryable"
            );
            let AdapterError::RateLimited { info, .. } = e else {
                unreachable!("matched above")
            };
            let not_before = info.not_before(expected_reset - chrono::Duration::seconds(60));
            // On the local clock (an adapter corrects the server's clock by its `Date`),
            // to the second.
            let off = info
                .reset_at
                .map(|r| (r - expected_reset).num_milliseconds().abs());
            assert!(
                off.is_some_and(|ms| ms <= 2000),
                "rate_limited_with_reset: reset time {:?}, expected {expected_reset}",
                info.reset_at
            );
            assert!(
                not_before.is_some(),
                "rate_limited_with_reset: no wait derivable from {info:?}"
            );
        }
        other => panic!("rate_limited_with_reset: {verb} gave {other:?}, not RateLimited"),
    }
}

/// A hand-made grant: made straight through the vendor's API (not through a policy),
/// on a resource no policy names, for the person's account; returns the entitlement
/// as [`Adapter::read_account_grants`] should read it.
pub type HandMadeGrant<'a> = Box<
    dyn Fn(AccountRef) -> Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>> + Send + Sync + 'a,
>;

/// The whole shared suite, one entry point every adapter crate runs against its mock
/// (wiremock fake, moto, a SCIM peer):
///
/// | scenario | runs when |
/// | --- | --- |
/// | `create_then_found`, `create_again_adopts` | a profile is given |
/// | `accounts_paginate_to_the_end` (no account twice, no cursor loop, at least N pages) | always |
/// | `list_resources` (each enumerable kind to its last page, every entitlement's resource listed) | a kind is enumerable |
/// | `grant_then_revoke` per entitlement (granting and revoking twice are successes) | always |
/// | `named_by_the_deployment` (the first entitlement, in a system the deployment names otherwise) | always |
/// | `read_account_grants_after_revoke_is_empty` | a kind is enumerable |
/// | `suspend_then_state`, `reactivate_then_state` | the system can suspend |
/// | `leaver_left_with_nothing` (read the grants incl. a hand-made one, revoke each, read again: empty) | a kind is enumerable |
/// | `not_found_means_absent` (unknown account: no grants, revoke and delete already done) | always |
/// | `misconfiguration_is_not_absence` (wrong tenant / customer / store / instance: reads, and revokes where asked, are `Configuration`) | a misconfigured adapter is given |
/// | `rate_limit_honoured` (429: `RateLimited`, retryable, with a time to come back) | a throttled adapter is given |
/// | `delete_then_gone` | deletion is enabled |
///
/// Every scenario panics with its name on failure; [`Suite::run`] returns the names
/// of those that ran, and those skipped with why.
pub struct Suite<'a> {
    adapter: &'a dyn Adapter,
    profile: Option<AccountProfile>,
    account: Option<AccountRef>,
    entitlements: Vec<Entitlement>,
    hand_made: Option<HandMadeGrant<'a>>,
    throttled: Option<(&'a dyn Adapter, OperationKind)>,
    misconfigured: Option<&'a dyn Adapter>,
    misconfigured_revokes: bool,
    min_account_pages: usize,
    delete: bool,
    read_only: bool,
}

impl std::fmt::Debug for Suite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("system", &self.adapter.descriptor().adapter_type)
            .field("entitlements", &self.entitlements)
            .finish_non_exhaustive()
    }
}

/// What [`Suite::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteReport {
    /// The scenarios that ran and passed, in order.
    pub passed: Vec<&'static str>,
    /// The scenarios skipped, with why.
    pub skipped: Vec<(&'static str, String)>,
}

impl<'a> Suite<'a> {
    /// The suite for `adapter`, granting `entitlements` (on resources that exist).
    pub fn new(adapter: &'a dyn Adapter, entitlements: Vec<Entitlement>) -> Self {
        Self {
            adapter,
            profile: None,
            account: None,
            entitlements,
            hand_made: None,
            throttled: None,
            misconfigured: None,
            misconfigured_revokes: false,
            min_account_pages: 1,
            delete: false,
            read_only: false,
        }
    }

    /// Creates the person's account first (a system with accounts of its own).
    pub fn create(mut self, profile: AccountProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Uses an account that exists already (a system whose accounts come from elsewhere).
    pub fn existing_account(mut self, account: AccountRef) -> Self {
        self.account = Some(account);
        self
    }

    /// A hand-made grant the leaver scenario must find and remove.
    pub fn hand_made(mut self, grant: HandMadeGrant<'a>) -> Self {
        self.hand_made = Some(grant);
        self
    }

    /// An adapter whose server answers every request "too many requests", and the
    /// operation to try on it.
    pub fn throttled(mut self, adapter: &'a dyn Adapter, kind: OperationKind) -> Self {
        self.throttled = Some((adapter, kind));
        self
    }

    /// An adapter configured with a wrong tenant, customer, identity store, instance
    /// or region: its reads (accounts, and the resources of every enumerable kind)
    /// must be [`AdapterError::Configuration`].
    pub fn misconfigured(mut self, adapter: &'a dyn Adapter) -> Self {
        self.misconfigured = Some(adapter);
        self
    }

    /// As [`Suite::misconfigured`], and revoking each entitlement through it must be
    /// [`AdapterError::Configuration`] too (systems whose revokes go through the
    /// misconfigured setting: an AWS identity store or instance).
    pub fn misconfigured_with_revokes(mut self, adapter: &'a dyn Adapter) -> Self {
        self.misconfigured = Some(adapter);
        self.misconfigured_revokes = true;
        self
    }

    /// At least this many pages of accounts (the mock pages small).
    pub fn min_account_pages(mut self, pages: usize) -> Self {
        self.min_account_pages = pages;
        self
    }

    /// Deletion is enabled (the system's `delete_leavers`): delete the account last.
    pub fn delete_at_the_end(mut self) -> Self {
        self.delete = true;
        self
    }

    /// The system is read-only (an exported listing): no scenario writes. The
    /// entitlements must be held by the existing account ([`Suite::existing_account`]),
    /// and `reads_what_is_held` checks the reads find them; the write scenarios are
    /// reported as skipped.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Runs every scenario that applies; panics on the first failure.
    pub async fn run(self) -> SuiteReport {
        let adapter = self.adapter;
        let descriptor = adapter.descriptor().clone();
        let system = SystemName::new(descriptor.adapter_type.clone());
        let enumerable = descriptor.kinds.iter().any(|k| k.enumerable);
        let mut report = SuiteReport::default();

        let account = match (&self.profile, &self.account) {
            (Some(profile), _) => {
                let account = create_then_found(adapter, profile.clone()).await;
                report.passed.push("create_then_found");
                create_again_adopts(adapter, &account, profile.clone()).await;
                report.passed.push("create_again_adopts");
                account
            }
            (None, Some(account)) => {
                report
                    .skipped
                    .push(("create_then_found", "the account exists already".into()));
                account.clone()
            }
            (None, None) => panic!("Suite: give a profile to create or an existing account"),
        };

        let pages = count_account_pages(adapter, &account).await;
        assert!(
            pages >= self.min_account_pages,
            "accounts_paginate_to_the_end: only {pages} pages, expected at least {}",
            self.min_account_pages
        );
        report.passed.push("accounts_paginate_to_the_end");

        if enumerable {
            for kind in descriptor.kinds.iter().filter(|k| k.enumerable) {
                let listed = list_all_resources(adapter, &system, &kind.kind)
                    .await
                    .unwrap_or_else(|e| panic!("list_resources: {}: {e}", kind.kind));
                for e in self.entitlements.iter().filter(|e| e.kind == kind.kind) {
                    assert!(
                        listed.iter().any(|r| r.resource == e.resource),
                        "list_resources: {e} is not among the {} {} listed",
                        listed.len(),
                        kind.kind
                    );
                }
            }
            report.passed.push("list_resources");
        } else {
            report
                .skipped
                .push(("list_resources", "no kind is enumerable".into()));
        }

        if self.read_only {
            for entitlement in &self.entitlements {
                let grants = read_all_grants(adapter, &entitlement.resource_ref())
                    .await
                    .unwrap_or_else(|e| panic!("reads_what_is_held: {entitlement}: {e}"));
                assert!(
                    holds(&grants, &account),
                    "reads_what_is_held: {} does not hold {entitlement}",
                    account.login
                );
            }
            report.passed.push("reads_what_is_held");
            for name in [
                "grant_then_revoke",
                "named_by_the_deployment",
                "suspend_then_state",
                "leaver_left_with_nothing",
                "not_found_means_absent",
                "delete_then_gone",
            ] {
                report
                    .skipped
                    .push((name, "read-only: the system takes no writes".into()));
            }
            if let Some(wrong) = self.misconfigured {
                misconfiguration_is_not_absence(wrong, &account, &[]).await;
                report.passed.push("misconfiguration_is_not_absence");
            }
            return report;
        }
        for entitlement in &self.entitlements {
            grant_then_revoke(adapter, &account, entitlement).await;
            if enumerable {
                let held = account_grants(adapter, &system, &account).await;
                assert!(
                    !held.iter().any(|g| same_grant(&g.entitlement, entitlement)),
                    "read_account_grants_after_revoke_is_empty: {} still reads {entitlement}",
                    account.login
                );
            }
        }
        report.passed.push("grant_then_revoke");
        if let Some(first) = self.entitlements.first() {
            named_by_the_deployment(adapter, &account, first).await;
            report.passed.push("named_by_the_deployment");
        }
        if enumerable {
            report
                .passed
                .push("read_account_grants_after_revoke_is_empty");
        }

        if descriptor.can_suspend {
            suspend_then_state(adapter, &account).await;
            reactivate_then_state(adapter, &account).await;
            report.passed.push("suspend_then_state");
        } else {
            report
                .skipped
                .push(("suspend_then_state", "the system cannot suspend".into()));
        }

        if enumerable {
            leaver_left_with_nothing(
                adapter,
                &system,
                &account,
                &self.entitlements,
                self.hand_made.as_ref(),
            )
            .await;
            report.passed.push("leaver_left_with_nothing");
        } else {
            report
                .skipped
                .push(("leaver_left_with_nothing", "no kind is enumerable".into()));
        }

        not_found_means_absent(adapter, &system, &self.entitlements, self.delete).await;
        report.passed.push("not_found_means_absent");

        match self.misconfigured {
            Some(wrong) => {
                let revoked: &[Entitlement] = if self.misconfigured_revokes {
                    &self.entitlements
                } else {
                    &[]
                };
                misconfiguration_is_not_absence(wrong, &account, revoked).await;
                report.passed.push("misconfiguration_is_not_absence");
            }
            None => report.skipped.push((
                "misconfiguration_is_not_absence",
                "no misconfigured adapter given".into(),
            )),
        }

        match self.throttled {
            Some((throttled, kind)) => {
                rate_limit_honoured(throttled, &account, kind).await;
                report.passed.push("rate_limit_honoured");
            }
            None => report
                .skipped
                .push(("rate_limit_honoured", "no throttled adapter given".into())),
        }

        if self.delete {
            delete_then_gone(adapter, &account).await;
            report.passed.push("delete_then_gone");
        } else {
            report
                .skipped
                .push(("delete_then_gone", "deletion not enabled".into()));
        }
        report
    }
}

/// Two entitlements name the same grant (system names may differ between a policy
/// and the adapter's own name; the role is compared when both say one).
fn same_grant(read: &Entitlement, expected: &Entitlement) -> bool {
    read.kind == expected.kind
        && read.resource == expected.resource
        && read.scope == expected.scope
        && match (&read.role, &expected.role) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        }
}

async fn account_grants(
    adapter: &dyn Adapter,
    system: &SystemName,
    account: &AccountRef,
) -> Vec<GrantRecord> {
    read_all_account_grants(adapter, system, account)
        .await
        .unwrap_or_else(|e| panic!("read_account_grants of {}: {e}", account.login))
}

/// Reads accounts page by page to the end: no cursor twice, no account twice, the
/// account among them. Returns the number of pages.
async fn count_account_pages(adapter: &dyn Adapter, account: &AccountRef) -> usize {
    let mut cursor: Option<String> = None;
    let mut cursors = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut pages = 0;
    let mut found = false;
    loop {
        let page = adapter
            .read_accounts(cursor.as_deref())
            .await
            .unwrap_or_else(|e| panic!("accounts_paginate_to_the_end: page {pages}: {e}"));
        pages += 1;
        for a in page.items {
            found |= a.login.eq_ignore_ascii_case(&account.login);
            assert!(
                ids.insert(a.external_id.clone()),
                "accounts_paginate_to_the_end: {} came twice",
                a.external_id
            );
        }
        match page.next {
            Some(next) => {
                assert!(
                    cursors.insert(next.clone()),
                    "accounts_paginate_to_the_end: the cursor {next:?} came back (a loop)"
                );
                cursor = Some(next);
            }
            None => break,
        }
    }
    assert!(
        found,
        "accounts_paginate_to_the_end: {} is not among the {} accounts read",
        account.login,
        ids.len()
    );
    pages
}

/// A leaver in a system read in full: grant everything (and a hand-made grant), read
/// what the account holds, revoke each grant read, read again: nothing.
pub async fn leaver_left_with_nothing(
    adapter: &dyn Adapter,
    system: &SystemName,
    account: &AccountRef,
    entitlements: &[Entitlement],
    hand_made: Option<&HandMadeGrant<'_>>,
) {
    for e in entitlements {
        run(
            adapter,
            account,
            OperationKind::Grant {
                entitlement: e.clone(),
            },
        )
        .await
        .unwrap_or_else(|err| panic!("leaver_left_with_nothing: granting {e}: {err}"));
    }
    let mut expected: Vec<Entitlement> = entitlements.to_vec();
    if let Some(make) = hand_made {
        expected.push(make(account.clone()).await);
    }
    let held = account_grants(adapter, system, account).await;
    for e in &expected {
        assert!(
            held.iter().any(|g| same_grant(&g.entitlement, e)),
            "leaver_left_with_nothing: {e} is not among what {} holds: {:?}",
            account.login,
            held.iter()
                .map(|g| g.entitlement.to_string())
                .collect::<Vec<_>>()
        );
    }
    for grant in &held {
        run(
            adapter,
            account,
            OperationKind::Revoke {
                entitlement: grant.entitlement.clone(),
            },
        )
        .await
        .unwrap_or_else(|err| {
            panic!(
                "leaver_left_with_nothing: revoking {}: {err}",
                grant.entitlement
            )
        });
    }
    let left = account_grants(adapter, system, account).await;
    assert!(
        left.is_empty(),
        "leaver_left_with_nothing: {} still holds {:?}",
        account.login,
        left.iter()
            .map(|g| g.entitlement.to_string())
            .collect::<Vec<_>>()
    );
}

/// `NotFound` means this account, resource or membership does not exist: an unknown
/// account holds nothing, and revoking from it (or deleting it) is already done.
pub async fn not_found_means_absent(
    adapter: &dyn Adapter,
    system: &SystemName,
    entitlements: &[Entitlement],
    delete: bool,
) {
    let nobody = AccountRef::by_login("nobody-conformance@example.com");
    let descriptor = adapter.descriptor();
    if descriptor.kinds.iter().any(|k| k.enumerable) {
        let held = account_grants(adapter, system, &nobody).await;
        assert!(
            held.is_empty(),
            "not_found_means_absent: an unknown account reads {} grants",
            held.len()
        );
    }
    if let Some(e) = entitlements.first() {
        let effect = run(
            adapter,
            &nobody,
            OperationKind::Revoke {
                entitlement: e.clone(),
            },
        )
        .await
        .unwrap_or_else(|err| {
            panic!("not_found_means_absent: revoking {e} from an unknown account: {err}")
        });
        assert_eq!(
            effect,
            Effect::AlreadyInPlace,
            "not_found_means_absent: revoke from an unknown account"
        );
    }
    if delete {
        let effect = run(adapter, &nobody, OperationKind::DeleteAccount)
            .await
            .unwrap_or_else(|err| {
                panic!("not_found_means_absent: deleting an unknown account: {err}")
            });
        assert_eq!(
            effect,
            Effect::AlreadyInPlace,
            "not_found_means_absent: delete of an unknown account"
        );
    }
}

/// A wrong tenant, customer, identity store, instance or region is
/// [`AdapterError::Configuration`]: reading accounts and listing the resources of each
/// enumerable kind fail so (never an empty read), and revoking each of
/// `entitlements` is never "already absent".
pub async fn misconfiguration_is_not_absence(
    wrong: &dyn Adapter,
    account: &AccountRef,
    entitlements: &[Entitlement],
) {
    match wrong.read_accounts(None).await {
        Err(AdapterError::Configuration { .. }) => {}
        other => panic!(
            "misconfiguration_is_not_absence: read_accounts gave {other:?}, not Configuration"
        ),
    }
    let kinds: Vec<String> = wrong
        .descriptor()
        .kinds
        .iter()
        .filter(|k| k.enumerable)
        .map(|k| k.kind.clone())
        .collect();
    for kind in kinds {
        match wrong.list_resources(&kind, None).await {
            Err(AdapterError::Configuration { .. }) => {}
            other => panic!(
                "misconfiguration_is_not_absence: list_resources({kind}) gave {other:?}, not Configuration"
            ),
        }
    }
    for e in entitlements {
        let op = operation(
            wrong,
            &account.login,
            OperationKind::Revoke {
                entitlement: e.clone(),
            },
        );
        match wrong.execute(&op, account).await {
            Err(AdapterError::Configuration { .. }) => {}
            other => panic!(
                "misconfiguration_is_not_absence: revoking {e} gave {other:?}, not Configuration"
            ),
        }
    }
}

/// A "too many requests" answer is [`AdapterError::RateLimited`], retryable, with a
/// time to come back (a `Retry-After` or a reset time).
pub async fn rate_limit_honoured(
    throttled: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
) {
    let verb = kind.verb();
    match run(throttled, account, kind).await {
        Err(e @ AdapterError::RateLimited { .. }) => {
            assert!(e.is_retryable(), "rate_limit_honoured: must be retryable");
            let AdapterError::RateLimited { info, .. } = e else {
                unreachable!("matched above")
            };
            assert!(
                info.not_before(Utc::now()).is_some(),
                "rate_limit_honoured: no time to come back in {info:?}"
            );
        }
        other => panic!("rate_limit_honoured: {verb} gave {other:?}, not RateLimited"),
    }
}

/// The person who does a ticket's work in a test: called with each operation the
/// adapter answered [`AdapterError::Pending`].
pub type Fulfil<'a> =
    Box<dyn Fn(Operation) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Send + Sync + 'a>;

/// An adapter whose writes go pending until a person acts (a ticket system), made to
/// run the [`Suite`]: each pending write is fulfilled (`fulfil`, the person doing the
/// work) and then [`Adapter::check`]ed, which must say done. Everything else passes
/// through.
pub struct Fulfilled<'a> {
    inner: &'a dyn Adapter,
    fulfil: Fulfil<'a>,
}

impl<'a> Fulfilled<'a> {
    /// `inner`, with `fulfil` doing the work its pending writes ask for.
    pub fn new(inner: &'a dyn Adapter, fulfil: Fulfil<'a>) -> Self {
        Self { inner, fulfil }
    }
}

impl std::fmt::Debug for Fulfilled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fulfilled")
            .field("system", &self.inner.descriptor().adapter_type)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Adapter for Fulfilled<'_> {
    fn descriptor(&self) -> &provision_core::adapter::SystemDescriptor {
        self.inner.descriptor()
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::AccountRecord>, AdapterError>
    {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<GrantRecord>, AdapterError> {
        self.inner.read_grants(resource, cursor).await
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<GrantRecord>, AdapterError> {
        self.inner.read_account_grants(account, cursor).await
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::ResourceRecord>, AdapterError>
    {
        self.inner.list_resources(kind, cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match self.inner.execute(op, account).await {
            Err(AdapterError::Pending { .. }) => {
                (self.fulfil)(op.clone()).await;
                match self.inner.check(op, account).await? {
                    provision_core::adapter::CheckStatus::Done { external_id } => {
                        let id = external_id
                            .or_else(|| account.external_id.clone())
                            .unwrap_or_else(|| account.login.clone());
                        Ok(Applied::changed().with_external_id(id))
                    }
                    other => panic!("Fulfilled: {} is {other:?} after the work was done", op.id),
                }
            }
            other => other,
        }
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<provision_core::adapter::CheckStatus, AdapterError> {
        self.inner.check(op, account).await
    }
}
