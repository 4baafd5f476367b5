//! The SCIM part against scim2-server (python-scim, a SCIM 2.0 service provider
//! nobody here wrote): create → adopt on 409 → deactivate → reactivate, and 1-based
//! paging, read back through SCIM.
//!
//! The server: `PROVISION_TEST_SCIM_URL` when set (token `peer-test-token`),
//! otherwise the test starts one and stops it at the end
//! ([`provision_testkit::scim_peer`]). If it cannot start (no Python 3.11, no network
//! for the first install) the test fails saying so.
//!
//! scim2-server's `DELETE` really deletes (RFC 7644), where Slack's deactivates; so
//! this run deactivates the generic way (`scim_deactivation: patch`, `active: false`),
//! and Slack's `DELETE` is covered by the wiremock tests (`accounts.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use provision_core::adapter::{Adapter, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_slack::config::ScimDeactivation;
use provision_slack::{SlackAdapter, SlackConfig};
use provision_testkit::conformance;
use provision_testkit::scim_peer::{ScimPeer, Tenants};

#[tokio::test]
async fn create_deactivate_reactivate_against_scim2_server() {
    let peer = ScimPeer::start(env!("CARGO_MANIFEST_DIR"), "slack", Tenants::One);
    let slack = SlackAdapter::new(
        SlackConfig::builder()
            .scim_url(peer.tenant("slack"))
            .scim_token("peer-test-token")
            .scim_page_size(1)
            .scim_deactivation(ScimDeactivation::PatchInactive)
            .build()
            .unwrap(),
    )
    .unwrap();
    let suffix = std::process::id();
    let login = format!("ada{suffix}@example.com");
    let create = OperationKind::CreateAccount {
        profile: conformance::profile(&login, "Ada Lovelace"),
    };
    let made = slack
        .execute(
            &conformance::operation(&slack, &login, create.clone()),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(made.effect, Effect::Changed);
    let id = made.external_id.clone().unwrap();
    // A second person, so the accounts come in more than one page of one.
    let other = format!("grace{suffix}@example.com");
    conformance::run(
        &slack,
        &AccountRef::by_login(&other),
        OperationKind::CreateAccount {
            profile: conformance::profile(&other, "Grace Hopper"),
        },
    )
    .await
    .unwrap();

    // The same person again: scim2-server says 409 uniqueness; adopted, same id.
    let again = slack
        .execute(
            &conformance::operation(&slack, &login, create),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(id.as_str()));

    let accounts = read_all_accounts(&slack).await.unwrap();
    assert!(accounts.len() >= 2);
    let ada = accounts.iter().find(|a| a.login == login).unwrap();
    assert_eq!(ada.external_id, id);
    assert_eq!(ada.state, AccountState::Active);

    let account = AccountRef {
        login: login.clone(),
        external_id: Some(id.clone()),
    };
    conformance::suspend_then_state(&slack, &account).await;
    assert_eq!(
        conformance::state_of(&slack, &login).await,
        Some(AccountState::Deprovisioned)
    );
    conformance::reactivate_then_state(&slack, &account).await;
    assert_eq!(
        conformance::state_of(&slack, &login).await,
        Some(AccountState::Active)
    );
}
