//! Channels: batched invites settled per user, kicks, and every error code the
//! issue names, against the stateful fake; every Web API request checked against the
//! trimmed spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError, Effect, read_all_grants};
use provision_core::model::{AccountRef, Entitlement, Operation, OperationKind};
use provision_slack::SlackAdapter;
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use support::{
    FakeSlack, adapter, assert_conform, bot_only, by_id, calls, channel, grant, revoke, start,
};

#[tokio::test]
async fn two_hundred_joiners_of_one_channel_take_one_invite_call() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("engineering-general");
    let mut accounts = Vec::new();
    for n in 0..200 {
        let login = format!("joiner{n}@example.com");
        let id = fake.add_user(&login);
        accounts.push(by_id(&login, &id));
    }
    let server = start(&fake).await;
    let slack = adapter(&server);
    let batch: Vec<(Operation, AccountRef)> = accounts
        .iter()
        .map(|a| (grant(&slack, &a.login, "#engineering-general"), a.clone()))
        .collect();
    let results = slack.execute_batch(&batch).await;
    assert_eq!(results.len(), 200);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(a) if a.effect == Effect::Changed)),
        "{results:?}"
    );
    assert_eq!(fake.members("engineering-general").len(), 200);
    assert_eq!(calls(&server, "conversations.invite").await, 1);
    // Name → id: one conversations.list; no other write.
    assert_eq!(calls(&server, "conversations.list").await, 1);
    assert_eq!(support::web_requests(&server).await.len(), 2);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_partial_invite_is_settled_per_user() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    let b = fake.add_user("b@example.com");
    let c = fake.add_user("c@example.com");
    fake.with_channel("eng", |ch| ch.members.push(b.clone()));
    fake.state.lock().unwrap().restricted.insert(c.clone());
    let server = start(&fake).await;
    let slack = adapter(&server);
    let batch = vec![
        (
            grant(&slack, "a@example.com", "#eng"),
            by_id("a@example.com", &a),
        ),
        (
            grant(&slack, "b@example.com", "#eng"),
            by_id("b@example.com", &b),
        ),
        (
            grant(&slack, "c@example.com", "#eng"),
            by_id("c@example.com", &c),
        ),
    ];
    let results = slack.execute_batch(&batch).await;
    assert_eq!(results[0].as_ref().unwrap().effect, Effect::Changed);
    assert_eq!(results[1].as_ref().unwrap().effect, Effect::AlreadyInPlace);
    match &results[2] {
        Err(AdapterError::Permanent { error }) => {
            assert_eq!(error.code.as_deref(), Some("user_is_restricted"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls(&server, "conversations.invite").await, 1);
    assert!(fake.members("eng").contains(&a));
    assert_conform(&server).await;
}

#[tokio::test]
async fn without_per_user_detail_a_batch_is_settled_one_by_one() {
    // A Slack that ignores `force`: the batch answer names one code and nobody's id.
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    let b = fake.add_user("b@example.com");
    fake.with_channel("eng", |ch| ch.members.push(b.clone()));
    let server = start(&fake).await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.invite"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "already_in_channel"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let slack = adapter(&server);
    let batch = vec![
        (
            grant(&slack, "a@example.com", "#eng"),
            by_id("a@example.com", &a),
        ),
        (
            grant(&slack, "b@example.com", "#eng"),
            by_id("b@example.com", &b),
        ),
    ];
    let results = slack.execute_batch(&batch).await;
    assert_eq!(results[0].as_ref().unwrap().effect, Effect::Changed);
    assert_eq!(results[1].as_ref().unwrap().effect, Effect::AlreadyInPlace);
    assert_eq!(calls(&server, "conversations.invite").await, 3);
    assert!(fake.members("eng").contains(&a));
    assert_conform(&server).await;
}

#[tokio::test]
async fn already_in_channel_and_kicking_a_non_member_are_already_done() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    fake.with_channel("eng", |ch| ch.members.push(a.clone()));
    let server = start(&fake).await;
    let slack = adapter(&server);
    let account = by_id("a@example.com", &a);
    let again = slack
        .execute(&grant(&slack, "a@example.com", "#eng"), &account)
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    let kicked = slack
        .execute(&revoke(&slack, "a@example.com", "#eng"), &account)
        .await
        .unwrap();
    assert_eq!(kicked.effect, Effect::Changed);
    let twice = slack
        .execute(&revoke(&slack, "a@example.com", "#eng"), &account)
        .await
        .unwrap();
    assert_eq!(twice.effect, Effect::AlreadyInPlace);
    assert!(fake.members("eng").is_empty());
    assert_conform(&server).await;
}

#[tokio::test]
async fn not_in_channel_on_invite_is_the_app_and_names_the_channel() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("secret-project");
    fake.with_channel("secret-project", |c| {
        // Private: the app cannot join it by itself (a public one it joins).
        c.app_member = false;
        c.private = true;
    });
    let a = fake.add_user("a@example.com");
    let server = start(&fake).await;
    let slack = SlackAdapter::new(bot_only(&server).build().unwrap()).unwrap();
    let e = slack
        .execute(
            &grant(&slack, "a@example.com", "#secret-project"),
            &by_id("a@example.com", &a),
        )
        .await
        .unwrap_err();
    let AdapterError::Configuration { error } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(error.code.as_deref(), Some("not_in_channel"));
    assert!(error.message.contains("#secret-project"), "{error}");
    assert!(error.message.contains("invite the app"), "{error}");
    assert!(error.message.contains("admin_token"), "{error}");
    assert!(fake.members("secret-project").is_empty());
    assert_conform(&server).await;
}

#[tokio::test]
async fn with_an_admin_token_the_admin_invite_takes_over_and_is_remembered() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("secret-project");
    fake.with_channel("secret-project", |c| {
        // Private: the app cannot join it by itself (a public one it joins).
        c.app_member = false;
        c.private = true;
    });
    let a = fake.add_user("a@example.com");
    let b = fake.add_user("b@example.com");
    let server = start(&fake).await;
    let slack = adapter(&server);
    let first = slack
        .execute(
            &grant(&slack, "a@example.com", "#secret-project"),
            &by_id("a@example.com", &a),
        )
        .await
        .unwrap();
    assert_eq!(first.effect, Effect::Changed);
    let second = slack
        .execute(
            &grant(&slack, "b@example.com", "#secret-project"),
            &by_id("b@example.com", &b),
        )
        .await
        .unwrap();
    assert_eq!(second.effect, Effect::Changed);
    assert_eq!(fake.members("secret-project"), vec![a, b]);
    assert_eq!(calls(&server, "conversations.invite").await, 1);
    assert_eq!(calls(&server, "admin.conversations.invite").await, 2);
    assert_conform(&server).await;
}

#[tokio::test]
async fn failed_for_some_users_is_a_partial_success() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("secret-project");
    fake.with_channel("secret-project", |c| {
        // Private: the app cannot join it by itself (a public one it joins).
        c.app_member = false;
        c.private = true;
    });
    let a = fake.add_user("a@example.com");
    let b = fake.add_user("b@example.com");
    fake.state.lock().unwrap().restricted.insert(b.clone());
    let server = start(&fake).await;
    let slack = adapter(&server);
    let batch = vec![
        (
            grant(&slack, "a@example.com", "#secret-project"),
            by_id("a@example.com", &a),
        ),
        (
            grant(&slack, "b@example.com", "#secret-project"),
            by_id("b@example.com", &b),
        ),
    ];
    let results = slack.execute_batch(&batch).await;
    assert_eq!(results[0].as_ref().unwrap().effect, Effect::Changed);
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(e.class(), "permanent", "{e:?}");
    assert_eq!(
        e.system_error().unwrap().code.as_deref(),
        Some("user_is_restricted")
    );
    assert_eq!(fake.members("secret-project"), vec![a]);
    assert_conform(&server).await;
}

#[tokio::test]
async fn archived_general_and_restricted_are_permanent_with_slacks_code() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("old");
    fake.with_channel("old", |c| c.archived = true);
    fake.add_channel("general");
    let a = fake.add_user("a@example.com");
    fake.with_channel("general", |c| c.members.push(a.clone()));
    fake.add_channel("announcements");
    let server = start(&fake).await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.kick"))
        .and(wiremock::matchers::body_string_contains("channel=C"))
        .and(wiremock::matchers::body_string_contains(
            fake.with_channel("announcements", |c| c.id.clone())
                .as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "restricted_action"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let slack = adapter(&server);
    let account = by_id("a@example.com", &a);
    for (op, code) in [
        (grant(&slack, "a@example.com", "#old"), "is_archived"),
        (
            revoke(&slack, "a@example.com", "#general"),
            "cant_kick_from_general",
        ),
        (
            revoke(&slack, "a@example.com", "#announcements"),
            "restricted_action",
        ),
    ] {
        let e = slack.execute(&op, &account).await.unwrap_err();
        let AdapterError::Permanent { error } = &e else {
            panic!("{code}: {e:?}")
        };
        assert_eq!(error.code.as_deref(), Some(code));
        assert!(!e.is_retryable());
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_joiner_known_only_by_email_is_looked_up_once() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("Ada@Example.com");
    let server = start(&fake).await;
    let slack = SlackAdapter::new(bot_only(&server).build().unwrap()).unwrap();
    let account = AccountRef::by_login("ada@example.com");
    slack
        .execute(&grant(&slack, "ada@example.com", "#eng"), &account)
        .await
        .unwrap();
    slack
        .execute(&revoke(&slack, "ada@example.com", "#eng"), &account)
        .await
        .unwrap();
    assert_eq!(calls(&server, "users.lookupByEmail").await, 1);
    assert!(!fake.members("eng").contains(&a));
    // Someone Slack does not know: a revoke is already done, a grant is not found.
    let nobody = AccountRef::by_login("nobody@example.com");
    let done = slack
        .execute(&revoke(&slack, "nobody@example.com", "#eng"), &nobody)
        .await
        .unwrap();
    assert_eq!(done.effect, Effect::AlreadyInPlace);
    let e = slack
        .execute(&grant(&slack, "nobody@example.com", "#eng"), &nobody)
        .await
        .unwrap_err();
    assert_eq!(e.class(), "not_found", "{e:?}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn members_are_read_to_the_end_through_short_pages() {
    let fake = FakeSlack::new(3);
    fake.add_channel("eng");
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(fake.add_user(&format!("m{n}@example.com")));
    }
    fake.with_channel("eng", |c| c.members = ids.clone());
    let server = start(&fake).await;
    let slack = SlackAdapter::new(bot_only(&server).page_size(3).build().unwrap()).unwrap();
    let pages =
        conformance::grants_paginate_to_the_end(&slack, &channel("#eng").resource_ref(), 10, 4)
            .await;
    assert!(pages >= 4, "{pages}");
    let grants = read_all_grants(&slack, &channel("#eng").resource_ref())
        .await
        .unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g.login.as_deref() == Some("m9@example.com")),
        "logins come from the users.list directory"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_429_waits_exactly_retry_after_in_the_methods_own_budget() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    let server = start(&fake).await;
    let slack = adapter(&server);
    // Tier 3 (conversations.kick, conversations.invite), tier 4
    // (conversations.members), tier 2 (usergroups.users.list) and the SCIM read
    // budget: each 429 in its own budget.
    fake.add_group("oncall", &[&a]);
    let b = fake.add_user("b@example.com");
    // Resolve names first, then throttle.
    slack
        .execute(
            &grant(&slack, "a@example.com", "#eng"),
            &by_id("a@example.com", &a),
        )
        .await
        .unwrap();
    fake.set_mode(support::Mode::Throttled);
    let e = slack
        .execute(
            &revoke(&slack, "a@example.com", "#eng"),
            &by_id("a@example.com", &a),
        )
        .await
        .unwrap_err();
    check_429(&e, "conversations.kick");
    let e = slack
        .execute(
            &grant(&slack, "b@example.com", "#eng"),
            &by_id("b@example.com", &b),
        )
        .await
        .unwrap_err();
    check_429(&e, "conversations.invite");
    let e = slack
        .read_grants(&channel("#eng").resource_ref(), None)
        .await
        .unwrap_err();
    check_429(&e, "conversations.members");
    let e = slack
        .execute(
            &conformance::operation(
                &slack,
                "b@example.com",
                OperationKind::Grant {
                    entitlement: Entitlement::new("slack", "usergroup", "S9999999"),
                },
            ),
            &by_id("b@example.com", &b),
        )
        .await
        .unwrap_err();
    check_429(&e, "usergroups.users.list");
    let e = slack.read_accounts(None).await.unwrap_err();
    check_429(&e, "scim_read");
    assert_conform(&server).await;
}

fn check_429(e: &AdapterError, budget: &str) {
    let AdapterError::RateLimited { info, error } = e else {
        panic!("{budget}: {e:?}")
    };
    assert_eq!(info.retry_after, Some(Duration::from_secs(30)), "{budget}");
    assert_eq!(info.bucket.as_deref(), Some(budget));
    assert_eq!(error.status, Some(429));
    assert!(e.is_retryable());
}
