//! Accounts: SCIM create (a 409 adopted only for the same person), deactivation
//! (SCIM `DELETE` deactivates; `admin.users.deactivate` with the admin token),
//! reactivation (`PATCH active: true`), session reset, and what a workspace without
//! Enterprise cannot do.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, AdapterError, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_slack::{SlackAdapter, SlackConfig};
use provision_testkit::conformance;
use serde_json::Value;

use support::{ADMIN, FakeSlack, adapter, assert_conform, bot_only, calls, create, start};

async fn scim_requests(server: &wiremock::MockServer, verb: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/scim/v2/") && r.method.as_str() == verb)
        .collect()
}

#[tokio::test]
async fn create_then_409_adopts_only_the_same_person() {
    let fake = FakeSlack::new(1000);
    let server = start(&fake).await;
    let slack = adapter(&server);
    let op = conformance::operation(
        &slack,
        "ada@example.com",
        create("ada@example.com", "Ada Lovelace"),
    );
    let made = slack
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(made.effect, Effect::Changed);
    let id = made.external_id.clone().unwrap();
    let posted: Value =
        serde_json::from_slice(&scim_requests(&server, "POST").await[0].body).unwrap();
    assert_eq!(posted["userName"], "ada");
    assert_eq!(posted["emails"][0]["value"], "ada@example.com");
    assert_eq!(posted["name"]["familyName"], "Lovelace");
    assert_eq!(
        posted["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );

    let again = slack
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(id.as_str()));

    // Another person whose user name would be the same: never adopted; created
    // with a suffixed user name (issue 28 item 11).
    let other = conformance::operation(
        &slack,
        "ada@elsewhere.example",
        create("ada@elsewhere.example", "Ada Other"),
    );
    let theirs = slack
        .execute(&other, &AccountRef::by_login("ada@elsewhere.example"))
        .await
        .unwrap();
    assert_eq!(theirs.effect, Effect::Changed);
    assert_ne!(theirs.external_id.as_deref(), Some(id.as_str()));
    assert_eq!(fake.user(&theirs.external_id.unwrap()).user_name, "ada2");
    assert_eq!(read_all_accounts(&slack).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_deactivated_account_created_again_is_reactivated() {
    let fake = FakeSlack::new(1000);
    let id = fake.add_user("ada@example.com");
    fake.state.lock().unwrap().users[0].active = false;
    let server = start(&fake).await;
    let slack = adapter(&server);
    let op = conformance::operation(
        &slack,
        "ada@example.com",
        create("ada@example.com", "Ada Lovelace"),
    );
    let adopted = slack
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(adopted.external_id.as_deref(), Some(id.as_str()));
    assert!(fake.user(&id).active);
    assert_eq!(scim_requests(&server, "PATCH").await.len(), 1);
}

#[tokio::test]
async fn scim_delete_deactivates_and_patch_reactivates() {
    let fake = FakeSlack::new(1000);
    let id = fake.add_user("ada@example.com");
    let server = start(&fake).await;
    let slack = adapter(&server);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(id.clone()),
    };
    let first = conformance::run(&slack, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(first, Effect::Changed);
    assert!(!fake.user(&id).active, "deactivated, not deleted");
    assert_eq!(
        conformance::state_of(&slack, "ada@example.com").await,
        Some(AccountState::Deprovisioned)
    );
    let again = conformance::run(&slack, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(again, Effect::AlreadyInPlace);
    assert_eq!(scim_requests(&server, "DELETE").await.len(), 1);
    conformance::run(&slack, &account, OperationKind::ReactivateAccount)
        .await
        .unwrap();
    assert!(fake.user(&id).active);
    let patch: Value =
        serde_json::from_slice(&scim_requests(&server, "PATCH").await[0].body).unwrap();
    assert_eq!(patch["Operations"][0]["path"], "active");
    assert_eq!(patch["Operations"][0]["value"], true);
    // Slack accounts are never deleted.
    let e = conformance::run(&slack, &account, OperationKind::DeleteAccount)
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Unsupported { .. }), "{e:?}");
    assert!(fake.user(&id).email == "ada@example.com");
}

#[tokio::test]
async fn scim_pages_start_at_one() {
    let fake = FakeSlack::new(2);
    for n in 0..5 {
        fake.add_user(&format!("u{n}@example.com"));
    }
    let server = start(&fake).await;
    let slack =
        SlackAdapter::new(support::config(&server).scim_page_size(2).build().unwrap()).unwrap();
    let pages = conformance::accounts_paginate_to_the_end(&slack, 5, 3).await;
    assert_eq!(pages, 3);
    let starts: Vec<String> = scim_requests(&server, "GET")
        .await
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "startIndex")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(starts, vec!["1", "3", "5"]);
}

#[tokio::test]
async fn with_only_the_admin_token_deactivation_is_admin_users_deactivate() {
    let fake = FakeSlack::new(1000);
    let id = fake.add_user("ada@example.com");
    let server = start(&fake).await;
    let slack = SlackAdapter::new(
        SlackConfig::builder()
            .api_url(format!("{}/api/", server.uri()))
            .admin_token(ADMIN)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(slack.descriptor().can_suspend && slack.descriptor().can_revoke_sessions);
    assert!(!slack.descriptor().has_accounts);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(id.clone()),
    };
    let reset = conformance::run(&slack, &account, OperationKind::RevokeSessions)
        .await
        .unwrap();
    assert_eq!(reset, Effect::Changed);
    let first = conformance::run(&slack, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(first, Effect::Changed);
    assert!(!fake.user(&id).active);
    let again = conformance::run(&slack, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(again, Effect::AlreadyInPlace);
    assert_eq!(calls(&server, "admin.users.session.reset").await, 1);
    assert_eq!(calls(&server, "admin.users.deactivate").await, 2);
    assert_conform(&server).await;
}

#[tokio::test]
async fn session_reset_of_a_bot_is_permanent() {
    let fake = FakeSlack::new(1000);
    let id = fake.add_user("bot@example.com");
    fake.state.lock().unwrap().users[0].is_bot = true;
    let server = start(&fake).await;
    let slack = adapter(&server);
    let account = AccountRef {
        login: "bot@example.com".into(),
        external_id: Some(id),
    };
    let e = conformance::run(&slack, &account, OperationKind::RevokeSessions)
        .await
        .unwrap_err();
    assert_eq!(e.class(), "permanent");
    assert_eq!(
        e.system_error().unwrap().code.as_deref(),
        Some("cannot_reset_bot")
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn without_enterprise_the_account_cannot_be_deactivated_and_says_so() {
    let fake = FakeSlack::new(1000);
    let id = fake.add_user("ada@example.com");
    let server = start(&fake).await;
    let slack = SlackAdapter::new(bot_only(&server).build().unwrap()).unwrap();
    let d = slack.descriptor();
    assert!(!d.has_accounts && !d.can_suspend && !d.can_revoke_sessions && !d.can_delete);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(id),
    };
    for (kind, token) in [
        (OperationKind::SuspendAccount, "scim_token"),
        (OperationKind::RevokeSessions, "admin_token"),
        (OperationKind::ReactivateAccount, "scim_token"),
    ] {
        let e = conformance::run(&slack, &account, kind).await.unwrap_err();
        assert!(matches!(e, AdapterError::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains(token), "{e}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
