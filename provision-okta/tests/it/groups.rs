//! Entitlements: group membership and app assignment.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, AdapterError, CheckStatus, Effect, read_all_grants};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_okta::OktaAdapter;
use provision_testkit::conformance::{self, operation};
use support::{FakeOkta, adapter, assert_conform, config, start};

fn group(name: &str) -> Entitlement {
    Entitlement::new("okta", "group", name)
}

#[tokio::test]
async fn conformance_grant_then_revoke_group_and_app() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).app("github", "0oa1gh").build().unwrap()).unwrap();
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid),
    };
    conformance::grant_then_revoke(&okta, &account, &group("engineering")).await;
    conformance::grant_then_revoke(&okta, &account, &Entitlement::new("okta", "app", "github"))
        .await;
    let ops = assert_conform(&server).await;
    assert!(
        ops.contains(&"assignUserToApplication".to_owned()),
        "{ops:?}"
    );
    assert!(
        ops.contains(&"unassignUserFromApplication".to_owned()),
        "{ops:?}"
    );
}

#[tokio::test]
async fn app_assignment_carries_the_configured_profile() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let server = start(&fake).await;
    let mut profile = serde_json::Map::new();
    profile.insert("role".into(), "developer".into());
    let okta = OktaAdapter::new(
        config(&server)
            .app_with_profile("aws", "0oa2aws", profile)
            .build()
            .unwrap(),
    )
    .unwrap();
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid.clone()),
    };
    let app = Entitlement::new("okta", "app", "aws");
    conformance::run(
        &okta,
        &account,
        OperationKind::Grant {
            entitlement: app.clone(),
        },
    )
    .await
    .unwrap();
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.url.path(), "/api/v1/apps/0oa2aws/users");
    let body: serde_json::Value = req.body_json().unwrap();
    assert_eq!(body["id"], uid.as_str());
    assert_eq!(body["profile"]["role"], "developer");
    let check = okta
        .check(
            &operation(
                &okta,
                "ada@example.com",
                OperationKind::Grant { entitlement: app },
            ),
            &account,
        )
        .await
        .unwrap();
    assert!(matches!(check, CheckStatus::Done { .. }), "{check:?}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn removing_a_non_member_and_adding_a_member_are_success() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let gid = fake.add_group("engineering", "OKTA_GROUP");
    fake.add_member(&gid, &uid);
    let other = fake.add_group("sales", "OKTA_GROUP");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid.clone()),
    };
    let add = conformance::run(
        &okta,
        &account,
        OperationKind::Grant {
            entitlement: group("engineering"),
        },
    )
    .await;
    assert!(add.is_ok(), "{add:?}");
    let remove = conformance::run(
        &okta,
        &account,
        OperationKind::Revoke {
            entitlement: group("sales"),
        },
    )
    .await
    .unwrap();
    assert_eq!(remove, Effect::AlreadyInPlace);
    assert!(
        fake.state
            .lock()
            .unwrap()
            .members
            .contains(&(gid, uid.clone()))
    );
    assert!(!fake.state.lock().unwrap().members.contains(&(other, uid)));
    assert_conform(&server).await;
}

#[tokio::test]
async fn group_members_paginate_over_many_pages() {
    let fake = FakeOkta::new(4);
    let gid = fake.add_group("everyone-eng", "OKTA_GROUP");
    for i in 0..11 {
        let uid = fake.add_user(
            &format!("m{i}@example.com"),
            &format!("m{i}@example.com"),
            "ACTIVE",
        );
        fake.add_member(&gid, &uid);
    }
    fake.add_user("outsider@example.com", "outsider@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let resource = group("everyone-eng").resource_ref();
    let pages = conformance::grants_paginate_to_the_end(&okta, &resource, 11, 3).await;
    assert_eq!(pages, 3);
    let grants = read_all_grants(&okta, &resource).await.unwrap();
    assert!(
        grants
            .iter()
            .all(|g| g.login.as_deref().unwrap().starts_with('m'))
    );
    let requests = server.received_requests().await.unwrap();
    let member_reads: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/users"))
        .collect();
    assert_eq!(
        member_reads[0].url.query(),
        Some("limit=1000"),
        "largest page size"
    );
    // One group lookup for both full reads: the id is cached.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path() == "/api/v1/groups")
            .count(),
        1
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn one_hundred_grants_and_revokes_send_one_hundred_writes() {
    let fake = FakeOkta::new(200);
    let names = ["eng", "ops", "data", "sec", "web"];
    for n in names {
        fake.add_group(n, "OKTA_GROUP");
    }
    let mut accounts = Vec::new();
    for i in 0..10 {
        let login = format!("p{i}@example.com");
        let uid = fake.add_user(&login, &login, "ACTIVE");
        accounts.push(AccountRef {
            login,
            external_id: Some(uid),
        });
    }
    let server = start(&fake).await;
    let okta = adapter(&server);
    // 10 people x 5 groups = 50 grants, then the same 50 revoked: 100 changes.
    for account in &accounts {
        for n in names {
            conformance::run(
                &okta,
                account,
                OperationKind::Grant {
                    entitlement: group(n),
                },
            )
            .await
            .unwrap();
        }
    }
    for account in &accounts {
        for n in names {
            conformance::run(
                &okta,
                account,
                OperationKind::Revoke {
                    entitlement: group(n),
                },
            )
            .await
            .unwrap();
        }
    }
    let requests = server.received_requests().await.unwrap();
    let writes = requests
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .count();
    let lookups = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v1/groups")
        .count();
    assert_eq!(writes, 100);
    assert_eq!(lookups, names.len(), "one lookup per group name per run");
    assert_eq!(requests.len(), 100 + names.len());
    assert!(fake.state.lock().unwrap().members.is_empty());
    assert_conform(&server).await;
}

#[tokio::test]
async fn app_groups_and_unknown_groups_are_refused_clearly() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("ad-imported", "APP_GROUP");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid),
    };
    let err = conformance::run(
        &okta,
        &account,
        OperationKind::Grant {
            entitlement: group("ad-imported"),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { error } if error.message.contains("APP_GROUP")),
        "{err:?}"
    );
    let err = conformance::run(
        &okta,
        &account,
        OperationKind::Grant {
            entitlement: group("nope"),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::NotFound { error } if error.message.contains("nope")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_conform(&server).await;
}

#[tokio::test]
async fn check_reports_membership() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let gid = fake.add_group("engineering", "OKTA_GROUP");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid.clone()),
    };
    let op = operation(
        &okta,
        "ada@example.com",
        OperationKind::Grant {
            entitlement: group("engineering"),
        },
    );
    assert_eq!(
        okta.check(&op, &account).await.unwrap(),
        CheckStatus::NotDone
    );
    fake.add_member(&gid, &uid);
    assert!(matches!(
        okta.check(&op, &account).await.unwrap(),
        CheckStatus::Done { .. }
    ));
    assert_conform(&server).await;
}
