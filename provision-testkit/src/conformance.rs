//! The shared adapter conformance suite.
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

use chrono::{DateTime, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, Effect, read_all_accounts, read_all_grants,
};
use provision_core::model::{
    AccountProfile, AccountRef, AccountState, Entitlement, IdentityId, Operation, OperationKind,
    Priority, Reason, ReasonKind, ResourceRef, SystemName,
};

/// An account profile with login = email.
pub fn profile(login: &str, display_name: &str) -> AccountProfile {
    AccountProfile {
        login: login.to_owned(),
        email: login.to_owned(),
        display_name: display_name.to_owned(),
        attributes: BTreeMap::new(),
    }
}

/// An operation of `kind` on the identity whose login is `login`, in the adapter's
/// system, with a conventional id and a test reason.
pub fn operation(adapter: &dyn Adapter, login: &str, kind: OperationKind) -> Operation {
    let system = SystemName::new(adapter.descriptor().adapter_type.clone());
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
        },
        priority: Priority::Normal,
    }
}

/// Runs one operation and returns what it did, treating [`AdapterError::AlreadyDone`]
/// as the success it is.
pub async fn run(
    adapter: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
) -> Result<Effect, AdapterError> {
    let op = operation(adapter, &account.login, kind);
    match adapter.execute(&op, account).await {
        Ok(Applied { effect, .. }) => Ok(effect),
        Err(AdapterError::AlreadyDone { .. }) => Ok(Effect::AlreadyInPlace),
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
