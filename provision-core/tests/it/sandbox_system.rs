//! The sandbox behaves like a real system: paginated reads, idempotent writes,
//! adoption of existing accounts, rate-limit answers with headroom.
#![allow(clippy::unwrap_used)] // tests may unwrap

use crate::exec_support;
use std::time::Duration;

use exec_support::*;
use provision_core::adapter::{
    Adapter, AdapterError, CheckStatus, Effect, read_all_accounts, read_all_grants,
};
use provision_core::model::{AccountRef, AccountState, Entitlement};
use provision_sandbox::{SandboxConfig, SandboxRateLimit, presets};

#[tokio::test(start_paused = true)]
async fn reads_are_paginated_to_the_end() {
    let okta = presets::okta().sandbox(
        "okta",
        SandboxConfig {
            page_size: 3,
            ..SandboxConfig::default()
        },
    );
    for i in 0..10 {
        okta.with_account(&login(&format!("p{i}")), AccountState::Active);
        okta.with_grant(
            &login(&format!("p{i}")),
            Entitlement::new("okta", "group", "eng"),
        );
    }
    let first = okta.read_accounts(None).await.unwrap();
    assert_eq!((first.items.len(), first.next.as_deref()), (3, Some("3")));
    assert_eq!(read_all_accounts(&okta).await.unwrap().len(), 10);
    let grants = read_all_grants(
        &okta,
        &Entitlement::new("okta", "group", "eng").resource_ref(),
    )
    .await
    .unwrap();
    assert_eq!(grants.len(), 10);
    assert!(matches!(
        okta.read_accounts(Some("bogus")).await,
        Err(AdapterError::Invalid { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn writes_are_idempotent_and_existing_accounts_are_adopted() {
    let okta = presets::okta().sandbox("okta", SandboxConfig::default());
    let existing = okta.with_account(&login("ann"), AccountState::Active);
    let acct = AccountRef::by_login(login("ann"));
    let applied = okta.execute(&create("ann", "okta"), &acct).await.unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(applied.external_id, Some(existing));
    let g = grant("ann", "okta", "group", "eng");
    assert_eq!(
        okta.execute(&g, &acct).await.unwrap().effect,
        Effect::Changed
    );
    assert_eq!(
        okta.execute(&g, &acct).await.unwrap().effect,
        Effect::AlreadyInPlace
    );
    assert!(matches!(
        okta.check(&g, &acct).await.unwrap(),
        CheckStatus::Done { .. }
    ));
    assert_eq!(okta.stats().max_creates_per_login(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_answers_with_headroom_then_a_reset_time() {
    let okta = presets::okta().sandbox(
        "okta",
        SandboxConfig {
            rate_limit: Some(SandboxRateLimit {
                requests: 2,
                window: Duration::from_secs(1),
            }),
            ..SandboxConfig::default()
        },
    );
    let ok = okta.read_accounts(None).await.unwrap();
    let info = ok.rate_limit.unwrap();
    assert_eq!((info.limit, info.remaining), (Some(2), Some(1)));
    okta.read_accounts(None).await.unwrap();
    match okta.read_accounts(None).await {
        Err(AdapterError::RateLimited { info, error }) => {
            assert_eq!(error.status, Some(429));
            assert_eq!(info.retry_after, Some(Duration::from_secs(1)));
            assert!(info.reset_at.is_some());
        }
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(okta.read_accounts(None).await.is_ok());
    let windows = okta.requests_per_window();
    assert_eq!((windows[0].requests, windows[0].rejected), (3, 1));
}

#[test]
fn presets_look_like_the_real_systems() {
    let aws = presets::aws().descriptor;
    assert!(!aws.can_suspend && !aws.can_revoke_sessions);
    assert_eq!(
        aws.kind("permission_set").unwrap().scope.as_deref(),
        Some("account")
    );
    let google = presets::google().descriptor;
    assert_eq!(
        google.kind("group").unwrap().roles,
        vec!["member", "manager", "owner"]
    );
    assert!(presets::gitlab().descriptor.accounts_created_on_first_login);
    // Okta's 600/min compressed 6x is 60 requests per one-second window.
    assert_eq!(presets::okta().rate_limit(6).requests, 60);
    assert_eq!(presets::all().len(), 9);
}
