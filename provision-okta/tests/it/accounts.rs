//! Accounts: create (200), adoption on duplicate login, lifecycle, deletion, reads.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, AdapterError, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_okta::{LeaverAction, OktaAdapter};
use provision_testkit::conformance::{self, operation, profile};
use support::{FakeOkta, adapter, assert_conform, config, log, start};

#[tokio::test]
async fn conformance_suite_create_adopt_suspend_reactivate_delete() {
    let fake = FakeOkta::new(200);
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).build().unwrap()).unwrap();
    let account =
        conformance::create_then_found(&okta, profile("ada@example.com", "Ada Lovelace")).await;
    conformance::create_again_adopts(&okta, &account, profile("ada@example.com", "Ada Lovelace"))
        .await;
    conformance::suspend_then_state(&okta, &account).await;
    conformance::reactivate_then_state(&okta, &account).await;
    conformance::delete_then_gone(&okta, &account).await;
    assert_conform(&server).await;
}

#[tokio::test]
async fn create_is_200_with_activation_as_configured_and_mapped_profile() {
    let fake = FakeOkta::new(200);
    let server = start(&fake).await;
    let okta = OktaAdapter::new(
        config(&server)
            .activate_on_create(false)
            .map_attribute("department", "dept")
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut p = profile("grace@example.com", "Grace Brewster Hopper");
    p.attributes.insert("dept".into(), "Engineering".into());
    let op = operation(
        &okta,
        "grace@example.com",
        OperationKind::CreateAccount { profile: p },
    );
    let applied = okta
        .execute(&op, &AccountRef::by_login("grace@example.com"))
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let id = applied.external_id.unwrap();
    assert_eq!(fake.status_of(&id).as_deref(), Some("STAGED"));
    assert_eq!(applied.rate_limit.unwrap().limit, Some(600));
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.url.query(), Some("activate=false"));
    let body: serde_json::Value = req.body_json().unwrap();
    assert_eq!(body["profile"]["firstName"], "Grace");
    assert_eq!(body["profile"]["lastName"], "Brewster Hopper");
    assert_eq!(body["profile"]["department"], "Engineering");
    assert_conform(&server).await;
}

#[tokio::test]
async fn duplicate_login_of_another_person_is_a_conflict_not_a_duplicate() {
    let fake = FakeOkta::new(200);
    fake.add_user("sam@example.com", "sam.other@example.org", "ACTIVE");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let op = operation(
        &okta,
        "sam@example.com",
        OperationKind::CreateAccount {
            profile: profile("sam@example.com", "Sam Smith"),
        },
    );
    let err = okta
        .execute(&op, &AccountRef::by_login("sam@example.com"))
        .await
        .unwrap_err();
    let AdapterError::Conflict { error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("E0000001"));
    assert!(error.message.contains("different email"), "{error}");
    assert_eq!(fake.state.lock().unwrap().users.len(), 1);
    assert_conform(&server).await;
}

#[tokio::test]
async fn reactivating_a_deactivated_user_uses_activate_never_reactivate() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("leo@example.com", "leo@example.com", "DEPROVISIONED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "leo@example.com".into(),
        external_id: Some(id.clone()),
    };
    let effect = conformance::run(&okta, &account, OperationKind::ReactivateAccount)
        .await
        .unwrap();
    assert_eq!(effect, Effect::Changed);
    assert_eq!(fake.status_of(&id).as_deref(), Some("ACTIVE"));
    let requests = log(&server).await;
    assert!(
        requests.contains(&format!("POST /api/v1/users/{id}/lifecycle/activate")),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.ends_with("/lifecycle/reactivate")),
        "{requests:?}"
    );
    // The fake, like Okta, refuses `reactivate` on a DEPROVISIONED user: using it would fail.
    assert_conform(&server).await;
}

#[tokio::test]
async fn reactivating_a_suspended_user_unsuspends() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("mo@example.com", "mo@example.com", "SUSPENDED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef::by_login("mo@example.com");
    conformance::run(&okta, &account, OperationKind::ReactivateAccount)
        .await
        .unwrap();
    assert_eq!(fake.status_of(&id).as_deref(), Some("ACTIVE"));
    assert!(
        log(&server)
            .await
            .contains(&format!("POST /api/v1/users/{id}/lifecycle/unsuspend"))
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn delete_on_an_active_user_deactivates_first_then_deletes() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("del@example.com", "del@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).build().unwrap()).unwrap();
    let account = AccountRef {
        login: "del@example.com".into(),
        external_id: Some(id.clone()),
    };
    let effect = conformance::run(&okta, &account, OperationKind::DeleteAccount)
        .await
        .unwrap();
    assert_eq!(effect, Effect::Changed);
    // A single DELETE would have left the user DEPROVISIONED.
    assert_eq!(
        fake.status_of(&id),
        None,
        "the user must be gone, not just deactivated"
    );
    let deletes = log(&server)
        .await
        .iter()
        .filter(|r| r.starts_with("DELETE"))
        .count();
    assert_eq!(deletes, 2);
    assert_conform(&server).await;
}

#[tokio::test]
async fn listing_includes_deprovisioned_users_the_plain_listing_hides() {
    let fake = FakeOkta::new(200);
    fake.add_user("a@example.com", "a@example.com", "ACTIVE");
    fake.add_user("b@example.com", "b@example.com", "SUSPENDED");
    let gone = fake.add_user("c@example.com", "c@example.com", "DEPROVISIONED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let accounts = read_all_accounts(&okta).await.unwrap();
    assert_eq!(accounts.len(), 3);
    let c = accounts.iter().find(|a| a.external_id == gone).unwrap();
    assert_eq!(c.state, AccountState::Deprovisioned);
    let b = accounts
        .iter()
        .find(|a| a.login == "b@example.com")
        .unwrap();
    assert_eq!(b.state, AccountState::Suspended);
    let a = accounts
        .iter()
        .find(|a| a.login == "a@example.com")
        .unwrap();
    assert!(a.last_login.is_some(), "last login is read");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.query(),
        Some("limit=200"),
        "largest page size"
    );
    assert!(requests[1].url.query().unwrap().contains("DEPROVISIONED"));
    assert_conform(&server).await;
}

#[tokio::test]
async fn users_paginate_over_many_pages_following_the_link_header() {
    let fake = FakeOkta::new(3);
    for i in 0..10 {
        fake.add_user(
            &format!("u{i}@example.com"),
            &format!("u{i}@example.com"),
            "ACTIVE",
        );
    }
    for i in 0..4 {
        fake.add_user(
            &format!("d{i}@example.com"),
            &format!("d{i}@example.com"),
            "DEPROVISIONED",
        );
    }
    let server = start(&fake).await;
    let okta = adapter(&server);
    // 10 listed users in pages of 3 (4 pages), then 4 deprovisioned (2 pages).
    let pages = conformance::accounts_paginate_to_the_end(&okta, 14, 3).await;
    assert_eq!(pages, 6);
    // Every `after` the adapter sent is one the server handed out (copied, not built).
    let requests = server.received_requests().await.unwrap();
    let afters: Vec<String> = requests
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "after")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(afters.len(), 4);
    assert!(
        afters
            .iter()
            .all(|a| a.starts_with("00u") && a.ends_with("Qz")),
        "{afters:?}"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn suspend_twice_and_deactivate_twice_are_success() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("x@example.com", "x@example.com", "SUSPENDED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "x@example.com".into(),
        external_id: Some(id.clone()),
    };
    conformance::already_done_is_success(&okta, &account, OperationKind::SuspendAccount).await;

    let deact = OktaAdapter::new(
        config(&server)
            .leaver_action(LeaverAction::Deactivate)
            .build()
            .unwrap(),
    )
    .unwrap();
    let effect = conformance::run(&deact, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(effect, Effect::Changed);
    assert_eq!(fake.status_of(&id).as_deref(), Some("DEPROVISIONED"));
    conformance::already_done_is_success(&deact, &account, OperationKind::SuspendAccount).await;
    assert!(
        log(&server)
            .await
            .contains(&format!("POST /api/v1/users/{id}/lifecycle/deactivate"))
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_leaver_loses_sessions_before_suspension() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("bye@example.com", "bye@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "bye@example.com".into(),
        external_id: Some(id.clone()),
    };
    conformance::run(&okta, &account, OperationKind::RevokeSessions)
        .await
        .unwrap();
    conformance::run(&okta, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let order: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        order,
        vec![
            format!("DELETE /api/v1/users/{id}/sessions"),
            // Suspension works only on ACTIVE users: the status is read first.
            format!("GET /api/v1/users/{id}"),
            format!("POST /api/v1/users/{id}/lifecycle/suspend"),
        ]
    );
    assert_eq!(
        requests[0].url.query(),
        Some("oauthTokens=true"),
        "OAuth tokens go too"
    );
    assert_eq!(fake.status_of(&id).as_deref(), Some("SUSPENDED"));
    assert_conform(&server).await;
}

#[tokio::test]
async fn update_sends_only_the_owned_fields_and_find_by_login_works() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("up@example.com", "up@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(
        config(&server)
            .map_attribute("title", "job_title")
            .build()
            .unwrap(),
    )
    .unwrap();
    let found = okta
        .find_user_by_login("UP@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    assert!(
        okta.find_user_by_login("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("job_title".to_owned(), "Staff Engineer".to_owned());
    let account = AccountRef {
        login: "up@example.com".into(),
        external_id: Some(id.clone()),
    };
    conformance::run(&okta, &account, OperationKind::UpdateAccount { attributes })
        .await
        .unwrap();
    {
        let s = fake.state.lock().unwrap();
        let u = s.users.iter().find(|u| u.id == id).unwrap();
        assert_eq!(u.profile["title"], "Staff Engineer");
        assert_eq!(
            u.profile["login"], "up@example.com",
            "other fields are kept"
        );
    }
    assert_conform(&server).await;
}
