//! The EMU SCIM part against scim2-server (python-scim, a SCIM 2.0 service provider
//! nobody here wrote): create → adopt on 409 → suspend (`active:false`) → reactivate
//! (a rehire) → delete (only with `delete_leavers`), read back through SCIM.
//!
//! The server: `PROVISION_TEST_SCIM_URL` when set (token `peer-test-token`),
//! otherwise the test starts `shared/peers/start-scim.sh` on a free port with a pid
//! file in a temporary folder and stops it by that pid file at the end. If it cannot
//! start (no Python 3.11, no network for the first install) the test fails saying so.

use provision_core::adapter::{Adapter, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_github::{GithubAdapter, GithubConfig};
use provision_testkit::conformance;
use provision_testkit::peers::Peer;

fn emu(peer: &Peer, delete_leavers: bool) -> GithubAdapter {
    GithubAdapter::new(
        GithubConfig::builder("acme")
            .api_url("http://127.0.0.1:9")
            .token("github_pat_unused_here")
            .emu("acme-emu", "acme", Some("peer-test-token".into()))
            .scim_url(&format!("{}/", peer.url))
            .delete_leavers(delete_leavers)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn create_suspend_rehire_delete_against_scim2_server() {
    let peer = Peer::scim(env!("CARGO_MANIFEST_DIR"), "peer-test-token");
    let github = emu(&peer, true);
    let suffix = std::process::id();
    let login = format!("ada{suffix}@example.com");
    let create = OperationKind::CreateAccount {
        profile: conformance::profile(&login, "Ada Lovelace"),
    };
    let made = github
        .execute(
            &conformance::operation(&github, &login, create.clone()),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(made.effect, Effect::Changed);
    let handle = made.external_id.clone().unwrap();
    assert_eq!(
        handle,
        format!("ada{suffix}_acme"),
        "the managed user's handle"
    );

    // The same person again: scim2-server says 409 uniqueness; adopted, same handle.
    let again = github
        .execute(
            &conformance::operation(&github, &login, create),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(handle.as_str()));

    let accounts = read_all_accounts(&github).await.unwrap();
    let ada = accounts.iter().find(|a| a.login == login).unwrap();
    assert_eq!(ada.external_id, handle);
    assert_eq!(ada.state, AccountState::Active);
    assert_eq!(
        ada.correlation.get("email").map(String::as_str),
        Some(login.as_str())
    );

    let account = AccountRef {
        login: login.clone(),
        external_id: Some(handle.clone()),
    };
    // Leaver: suspended, not deleted; a rehire gets the same account back.
    conformance::suspend_then_state(&github, &account).await;
    assert_eq!(
        conformance::state_of(&github, &login).await,
        Some(AccountState::Suspended)
    );
    conformance::reactivate_then_state(&github, &account).await;
    // Deletion: refused without delete_leavers, done with it.
    let refused = emu(&peer, false)
        .execute(
            &conformance::operation(&github, &login, OperationKind::DeleteAccount),
            &account,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.class(), "unsupported", "{refused}");
    assert!(conformance::state_of(&github, &login).await.is_some());
    conformance::delete_then_gone(&github, &account).await;
}
