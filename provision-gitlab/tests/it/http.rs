//! Every GitLab quirk of `shared/apis/README.md`, against the stateful fake
//! (`support/mod.rs`): pagination to the last page with and without totals (and
//! without `Link`), 429 with and without headers, 409 and 404 on membership calls,
//! the deactivation refusal, a role change as one `PUT`, and gitlab.com's first-login
//! accounts. Every request each test sends is checked against GitLab's OpenAPI
//! description (members) and the documented `/users` shapes (the supplement).
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError, CheckStatus, Effect, read_all_grants};
use provision_core::model::{AccountRef, Entitlement, OperationKind, ReasonKind};
use provision_gitlab::{Deployment, GitlabAdapter, GitlabConfig, LeaverAction};
use provision_testkit::conformance;
use support::{FakeGitlab, Mode, Src, assert_conform, count, gitlab_com, self_managed, start};

fn group(path: &str, role: &str) -> Entitlement {
    Entitlement::new("gitlab", "group", path).with_role(role)
}

fn grant(e: Entitlement) -> OperationKind {
    OperationKind::Grant { entitlement: e }
}

fn revoke(e: Entitlement) -> OperationKind {
    OperationKind::Revoke { entitlement: e }
}

fn account(id: u64, login: &str) -> AccountRef {
    AccountRef {
        login: login.into(),
        external_id: Some(id.to_string()),
    }
}

/// `acme` with `n` direct members.
fn with_members(n: usize) -> FakeGitlab {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let gid = fake.group_id("acme");
    let mut s = fake.state.lock().unwrap();
    for i in 0..n {
        let id = 10_000 + i as u64;
        s.users.push(support::FakeUser {
            id,
            username: format!("user{i}"),
            email: format!("user{i}@example.com"),
            name: format!("User {i}"),
            state: "active".into(),
            ..support::FakeUser::default()
        });
        s.members.insert((Src::Group, gid, id), (30, None));
    }
    drop(s);
    fake
}

#[tokio::test]
async fn members_are_read_to_the_last_page_with_totals() {
    let fake = with_members(250);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let resource = group("acme", "developer").resource_ref();
    let pages = conformance::grants_paginate_to_the_end(&adapter, &resource, 250, 3).await;
    assert_eq!(pages, 3);
    assert_conform(&server).await;
}

#[tokio::test]
async fn members_are_read_to_the_last_page_without_totals_and_without_link() {
    // Above 10,000 rows GitLab drops X-Total and X-Total-Pages: only X-Next-Page says
    // there is more. Link is off too, so the page number is followed alone.
    let fake = with_members(10_050);
    fake.state.lock().unwrap().link = false;
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let resource = group("acme", "developer").resource_ref();
    let all = read_all_grants(&adapter, &resource).await.unwrap();
    assert_eq!(all.len(), 10_050);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests.len(),
        101,
        "ceil(10,050 / 100) pages and nothing else"
    );
    assert!(requests.iter().all(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "per_page" && v == "100")
    }));
    assert_conform(&server).await;
}

/// The figure of the issue: read calls for 10,000 members of one group.
#[tokio::test]
async fn ten_thousand_members_take_one_hundred_reads() {
    let fake = with_members(10_000);
    fake.state.lock().unwrap().no_totals = true;
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let all = read_all_grants(&adapter, &group("acme", "developer").resource_ref())
        .await
        .unwrap();
    assert_eq!(all.len(), 10_000);
    let reads = count(&server, "GET").await;
    let total = server.received_requests().await.unwrap().len();
    println!(
        "FIGURE read calls for 10,000 members of one group: {reads} GETs ({total} requests in all)"
    );
    assert_eq!((reads, total), (100, 100));
}

#[tokio::test]
async fn a_429_with_headers_says_when_to_come_back() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    fake.set_mode(Mode::Throttled);
    let adapter = self_managed(&server);
    let e = conformance::run(
        &adapter,
        &account(uid, "ada@example.com"),
        grant(group("acme", "developer")),
    )
    .await
    .unwrap_err();
    let AdapterError::RateLimited { info, error } = e else {
        panic!("{e:?}")
    };
    assert_eq!(info.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(info.remaining, Some(0));
    assert_eq!(info.limit, Some(2000));
    assert!(info.reset_at.is_some());
    assert_eq!(error.status, Some(429));
    assert_eq!(error.message, "Retry later");
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_429_without_headers_backs_off_exponentially() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    fake.set_mode(Mode::ThrottledBare);
    let adapter = self_managed(&server);
    let e = conformance::run(
        &adapter,
        &account(uid, "ada@example.com"),
        grant(group("acme", "developer")),
    )
    .await
    .unwrap_err();
    // Transient: the executor's exponential backoff with jitter, not a fixed pause;
    // nothing was applied (GitLab refused the request).
    assert!(
        matches!(&e, AdapterError::Transient { maybe_applied: false, error } if error.status == Some(429)),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_409_member_already_exists_is_done_at_the_same_level() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    fake.add_member(Src::Group, "acme", uid, 30);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let effect = conformance::run(
        &adapter,
        &account(uid, "ada"),
        grant(group("acme", "developer")),
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::AlreadyInPlace);
    // A cold adapter (no tree read yet) reads the group's SAML links once first.
    assert_eq!(
        support::log(&server).await,
        vec![
            format!("GET /api/v4/groups/acme/saml_group_links"),
            format!("POST /api/v4/groups/acme/members"),
            format!("GET /api/v4/groups/acme/members/{uid}"),
        ]
    );
    // At another level, the 409 becomes one PUT.
    let effect = conformance::run(
        &adapter,
        &account(uid, "ada"),
        grant(group("acme", "maintainer")),
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);
    assert_eq!(fake.level(Src::Group, "acme", uid), Some(40));
    assert_eq!(count(&server, "PUT").await, 1);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_404_on_removing_a_non_member_is_done_but_a_missing_group_is_configuration() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let effect = conformance::run(
        &adapter,
        &account(uid, "ada"),
        revoke(group("acme", "developer")),
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::AlreadyInPlace);
    for kind in [
        revoke(group("acme/no-such-group", "developer")),
        grant(group("acme/no-such-group", "developer")),
        revoke(Entitlement::new("gitlab", "project", "acme/no-such-project").with_role("guest")),
    ] {
        let e = conformance::run(&adapter, &account(uid, "ada"), kind)
            .await
            .unwrap_err();
        assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
        assert!(e.to_string().contains("Not Found"), "{e}");
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_role_change_is_one_put_never_a_revoke_and_a_grant() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    fake.add_member(Src::Group, "acme", uid, 30);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let mut op = conformance::operation(&adapter, "ada", grant(group("acme", "maintainer")));
    op.reason.kind = ReasonKind::Replacement;
    let applied = adapter.execute(&op, &account(uid, "ada")).await.unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(
        support::log(&server).await,
        vec![
            // A cold adapter reads the group's SAML links once (see item 6).
            format!("GET /api/v4/groups/acme/saml_group_links"),
            format!("PUT /api/v4/groups/acme/members/{uid}")
        ]
    );
    assert_eq!(fake.level(Src::Group, "acme", uid), Some(40));
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_recently_active_user_is_blocked_when_deactivation_is_refused() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let quiet = fake.add_user("bob", "bob@example.com");
    fake.set_recently_active(uid);
    let server = start(&fake).await;
    let adapter = support::self_managed_deactivating(&server);
    let effect = conformance::run(
        &adapter,
        &account(uid, "ada"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);
    assert_eq!(fake.user(uid).state, "blocked");
    let log = support::log(&server).await;
    assert!(
        log.contains(&format!("POST /api/v4/users/{uid}/deactivate")),
        "{log:?}"
    );
    assert!(
        log.contains(&format!("POST /api/v4/users/{uid}/block")),
        "{log:?}"
    );
    // A quiet user is deactivated; suspending again is already done.
    conformance::run(
        &adapter,
        &account(quiet, "bob"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(fake.user(quiet).state, "deactivated");
    let again = conformance::run(
        &adapter,
        &account(quiet, "bob"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(again, Effect::AlreadyInPlace);
    // Reactivation undoes each the right way.
    conformance::run(
        &adapter,
        &account(uid, "ada"),
        OperationKind::ReactivateAccount,
    )
    .await
    .unwrap();
    conformance::run(
        &adapter,
        &account(quiet, "bob"),
        OperationKind::ReactivateAccount,
    )
    .await
    .unwrap();
    assert_eq!(fake.user(uid).state, "active");
    assert_eq!(fake.user(quiet).state, "active");
    let log = support::log(&server).await;
    assert!(
        log.contains(&format!("POST /api/v4/users/{uid}/unblock")),
        "{log:?}"
    );
    assert!(
        log.contains(&format!("POST /api/v4/users/{quiet}/activate")),
        "{log:?}"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn block_is_the_leaver_action_when_configured() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    let config = GitlabConfig::builder(&server.uri(), "acme")
        .private_token(support::TOKEN)
        .deployment(Deployment::SelfManaged)
        .leaver_action(LeaverAction::Block)
        .build()
        .unwrap();
    let adapter = GitlabAdapter::new(config).unwrap();
    conformance::run(
        &adapter,
        &account(uid, "ada"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(fake.user(uid).state, "blocked");
    assert!(
        !support::log(&server)
            .await
            .iter()
            .any(|l| l.ends_with("/deactivate"))
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_403_names_the_missing_scope() {
    use wiremock::matchers::method;
    use wiremock::{Mock, ResponseTemplate};
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header(
                    "www-authenticate",
                    "Bearer realm=\"\", error=\"insufficient_scope\", scope=\"api\"",
                )
                .set_body_json(serde_json::json!({
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api"
                })),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let adapter = self_managed(&server);
    let e = conformance::run(
        &adapter,
        &account(uid, "ada"),
        grant(group("acme", "developer")),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AdapterError::Unauthorized { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("insufficient_scope") && text.contains("scope `api`"),
        "{text}"
    );
    assert!(!text.contains(support::TOKEN));
    assert_conform(&server).await;
}

#[tokio::test]
async fn on_gitlab_com_a_person_without_an_account_is_pending_until_the_first_login() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    fake.state.lock().unwrap().admin = false;
    let server = start(&fake).await;
    let adapter = gitlab_com(&server);
    assert!(adapter.descriptor().accounts_created_on_first_login);
    let sarah = AccountRef::by_login("sarah@example.com");
    let profile = conformance::profile("sarah@example.com", "Sarah Chen");
    let create = OperationKind::CreateAccount { profile };
    let e = conformance::run(&adapter, &sarah, create.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Pending { .. }), "{e:?}");
    assert!(e.to_string().contains("first SSO login"), "{e}");
    let e = conformance::run(&adapter, &sarah, grant(group("acme", "developer")))
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Pending { .. }), "{e:?}");
    let op = conformance::operation(&adapter, "sarah@example.com", create);
    assert!(matches!(
        adapter.check(&op, &sarah).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    // Her first SSO login: GitLab links her SAML identity and puts her in the
    // top-level group with minimal access.
    let id = fake.first_sso_login("sarah.chen", "sarah@example.com");
    assert_eq!(
        adapter.check(&op, &sarah).await.unwrap(),
        CheckStatus::Done {
            external_id: Some(id.to_string())
        }
    );
    let effect = conformance::run(&adapter, &sarah, grant(group("acme", "developer")))
        .await
        .unwrap();
    assert_eq!(effect, Effect::Changed);
    // Account lifecycle is impossible on gitlab.com, and the error says so.
    let e = conformance::run(&adapter, &sarah, OperationKind::SuspendAccount)
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("impossible"), "{e}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn writes_per_change_are_one() {
    // The figure of the issue: a grant, a role change, a revoke, an account create,
    // each with exactly one write.
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    fake.add_group("acme/eng");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let ada = account(uid, "ada");
    let mut changes = 0;
    let writes = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() != "GET")
            .count()
    };
    conformance::run(&adapter, &ada, grant(group("acme/eng", "developer")))
        .await
        .unwrap();
    changes += 1;
    let mut op = conformance::operation(&adapter, "ada", grant(group("acme/eng", "maintainer")));
    op.reason.kind = ReasonKind::Replacement;
    adapter.execute(&op, &ada).await.unwrap();
    changes += 1;
    conformance::run(&adapter, &ada, revoke(group("acme/eng", "maintainer")))
        .await
        .unwrap();
    changes += 1;
    let profile = conformance::profile("grace@example.com", "Grace Hopper");
    conformance::run(
        &adapter,
        &AccountRef::by_login("grace@example.com"),
        OperationKind::CreateAccount { profile },
    )
    .await
    .unwrap();
    changes += 1;
    let w = writes().await;
    println!(
        "FIGURE writes per change: {w} writes / {changes} changes = {:.2}",
        w as f64 / changes as f64
    );
    assert_eq!(w, changes);
    assert_conform(&server).await;
}

#[tokio::test]
async fn bearer_tokens_and_bots_and_keyset_pages() {
    let fake = FakeGitlab::new(2);
    fake.add_group("acme");
    for n in 0..5 {
        fake.add_user(&format!("u{n}"), &format!("u{n}@example.com"));
    }
    fake.add_user("project_1_bot", "project1_bot@noreply.example.com");
    let server = start(&fake).await;
    let config = GitlabConfig::builder(&server.uri(), "acme")
        .bearer(support::TOKEN)
        .deployment(Deployment::SelfManaged)
        .build()
        .unwrap();
    let adapter = GitlabAdapter::new(config).unwrap();
    // Five people and a bot (not an account), two a page by keyset cursor: three pages.
    let pages = conformance::accounts_paginate_to_the_end(&adapter, 5, 3).await;
    assert_eq!(pages, 3);
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap() == format!("Bearer {}", support::TOKEN))
    }));
    assert!(
        requests
            .iter()
            .any(|r| r.url.query().unwrap_or_default().contains("id_after"))
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_time_bound_grant_carries_its_end_date_as_expires_at() {
    // A policy's validity window ends 2026-12-31 17:00 UTC: GitLab is told to end the
    // membership that day too (never later than the window), and an open-ended grant
    // carries no end date.
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    fake.add_group("acme/eng");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let mut bounded = conformance::operation(&adapter, "ada", grant(group("acme", "developer")));
    bounded.reason.valid_until =
        Some(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 31, 17, 0, 0).unwrap());
    adapter
        .execute(&bounded, &account(uid, "ada"))
        .await
        .unwrap();
    let open = conformance::operation(&adapter, "ada", grant(group("acme/eng", "developer")));
    adapter.execute(&open, &account(uid, "ada")).await.unwrap();
    let bodies: Vec<(String, serde_json::Value)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| {
            (
                r.url.path().to_owned(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[0].1["expires_at"], "2026-12-31", "{bodies:?}");
    assert!(bodies[1].1.get("expires_at").is_none(), "{bodies:?}");
    assert_conform(&server).await;
}

/// Issue 28 item 8: GitLab names the budget a reply counts against in
/// `RateLimit-Name` (`throttle_authenticated_api`, or an endpoint's own limit), on
/// successes and on 429s alike; the executor keeps one budget per name. An
/// administrator's token without the `admin_mode` scope (Admin Mode on) is treated as
/// a regular user's, and the build-time check says which scope is missing.
#[tokio::test]
async fn ratelimit_name_tags_the_budget_and_the_admin_check_names_admin_mode() {
    let fake = with_members(3);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let acme = group("acme", "developer").resource_ref();
    let page = adapter.read_grants(&acme, None).await.unwrap();
    assert_eq!(
        page.rate_limit.and_then(|r| r.bucket).as_deref(),
        Some("throttle_authenticated_api")
    );
    fake.set_mode(Mode::Throttled);
    let e = adapter.read_grants(&acme, None).await.unwrap_err();
    let AdapterError::RateLimited { info, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(info.bucket.as_deref(), Some("throttle_authenticated_api"));
    fake.set_mode(Mode::Normal);
    fake.state.lock().unwrap().admin_mode_unscoped = true;
    let e = adapter.verify_token().await.unwrap_err();
    assert!(e.to_string().contains("`admin_mode`"), "{e}");
    assert_conform(&server).await;
}

/// Issue 28 item 2: a deactivated GitLab user who signs in again is reactivated, its
/// old personal access tokens with it. So a leaver is blocked by default; where
/// `deactivate` is chosen, the person's tokens are revoked as well (and password
/// sign-in must be off: the crate docs say so).
#[tokio::test]
async fn a_leaver_is_blocked_by_default_and_a_deactivated_one_loses_their_tokens() {
    assert_eq!(LeaverAction::default(), LeaverAction::Block);
    let fake = FakeGitlab::new(1);
    fake.add_group("acme");
    let ada = fake.add_user("ada", "ada@example.com");
    let bob = fake.add_user("bob", "bob@example.com");
    for who in [ada, bob, bob, bob] {
        fake.add_pat(who);
    }
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    conformance::run(
        &adapter,
        &account(ada, "ada"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(fake.user(ada).state, "blocked");
    assert!(!fake.sign_in(ada), "a blocked leaver cannot sign back in");

    let deactivating = support::self_managed_deactivating(&server);
    let bob_ref = account(bob, "bob");
    conformance::run(&deactivating, &bob_ref, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(fake.user(bob).state, "deactivated");
    // Three tokens, listed one a page (the fake's page size), all revoked.
    assert_eq!(fake.active_pats(bob), 0);
    // GitLab reactivates a deactivated user who signs in; the tokens stay revoked.
    assert!(fake.sign_in(bob));
    assert_eq!(fake.active_pats(bob), 0);
    assert_eq!(
        fake.active_pats(ada),
        1,
        "a blocked user's tokens are unusable"
    );
    assert_conform(&server).await;
}

/// Issue 28 item 3: a membership GitLab keeps `awaiting` (the group's user cap is
/// reached, or "require approval" is on) gives no access. A grant that ends awaiting
/// is pending, and so is its check, until an Owner approves it; a read never counts an
/// awaiting membership as held.
#[tokio::test]
async fn an_awaiting_membership_is_pending_and_not_a_held_grant() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let ada = fake.add_user("ada", "ada@example.com");
    let bob = fake.add_user("bob", "bob@example.com");
    fake.add_member(Src::Group, "acme", bob, 30);
    fake.set_awaiting(Src::Group, "acme", bob);
    fake.state.lock().unwrap().awaiting_new = true;
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let acme = group("acme", "developer");

    let e = conformance::run(&adapter, &account(ada, "ada"), grant(acme.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Pending { .. }), "{e:?}");
    assert!(e.to_string().contains("awaiting"), "{e}");
    let op = conformance::operation(&adapter, "ada", grant(acme.clone()));
    assert!(matches!(
        adapter.check(&op, &account(ada, "ada")).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    // Sent again (the executor retries), it is still pending, never "in place".
    let e = conformance::run(&adapter, &account(bob, "bob"), grant(acme.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Pending { .. }), "{e:?}");

    // Reads: neither awaiting membership is held.
    let held = read_all_grants(&adapter, &acme.resource_ref())
        .await
        .unwrap();
    assert!(held.is_empty(), "{held:?}");
    let bobs = adapter
        .read_account_grants(&account(bob, "bob"), None)
        .await
        .unwrap();
    assert!(bobs.items.is_empty(), "{:?}", bobs.items);

    // An Owner approves Ada's: the grant is done.
    fake.approve(Src::Group, "acme", ada);
    assert_eq!(
        adapter.check(&op, &account(ada, "ada")).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    assert_conform(&server).await;
}

/// Issue 28 item 6: GitLab rewrites a group with SAML group links at every sign-in,
/// so its memberships belong to the identity provider. The links are read with the
/// tree; a grant there, or a revoke for anything but a leaver, is refused with an
/// error naming the link (declare the group under `external_owners:`), and a
/// leaver still loses the membership. Unverified against a real tenant: the link
/// list's shape (`[{name, access_level}]`, from api/saml.md).
#[tokio::test]
async fn a_saml_linked_group_is_never_written_except_to_remove_a_leaver() {
    let fake = FakeGitlab::new(100);
    for g in ["acme", "acme/eng", "acme/ops"] {
        fake.add_group(g);
    }
    fake.link_saml_group("acme/eng", "eng-developers", 30);
    let ada = fake.add_user("ada", "ada@example.com");
    let bob = fake.add_user("bob", "bob@example.com");
    fake.add_member(Src::Group, "acme/eng", ada, 30);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    // The tree is read (a reconcile's first read): the link is known from then on.
    provision_core::adapter::read_all_accounts(&adapter)
        .await
        .unwrap();
    let held = adapter
        .read_account_grants(&account(ada, "ada"), None)
        .await
        .unwrap();
    assert_eq!(held.items.len(), 1, "the leaver's membership is read");

    let e = conformance::run(
        &adapter,
        &account(bob, "bob"),
        grant(group("acme/eng", "developer")),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
    assert!(e.to_string().contains("eng-developers"), "{e}");
    assert!(e.to_string().contains("external_owners"), "{e}");
    let mut removal =
        conformance::operation(&adapter, "ada", revoke(group("acme/eng", "developer")));
    removal.reason.kind = ReasonKind::UnmanagedGrant;
    let e = adapter
        .execute(&removal, &account(ada, "ada"))
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
    assert_eq!(
        count(&server, "POST").await + count(&server, "DELETE").await,
        0
    );
    // Unlinked groups are written as ever.
    conformance::run(
        &adapter,
        &account(bob, "bob"),
        grant(group("acme/ops", "developer")),
    )
    .await
    .unwrap();
    // A leaver loses the linked membership too.
    removal.reason.kind = ReasonKind::Termination;
    adapter
        .execute(&removal, &account(ada, "ada"))
        .await
        .unwrap();
    assert_eq!(fake.level(Src::Group, "acme/eng", ada), None);
    assert_conform(&server).await;
}

/// Issue 28 item 4 (the adapter's part): a membership's end date is reconciled with
/// the grant's. A role change to an open-ended grant clears an end date set before
/// (GitLab keeps `expires_at` when a `PUT` leaves it out); a grant that meets the
/// membership in place at the same level with another end date (`409`) moves the date;
/// a check compares the date too. Clearing with an empty `expires_at` is unverified
/// against a real tenant.
#[tokio::test]
async fn a_memberships_end_date_is_updated_or_cleared_to_match_the_grant() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    fake.add_group("acme/eng");
    let ada = fake.add_user("ada", "ada@example.com");
    fake.add_member(Src::Group, "acme", ada, 30);
    fake.set_expires_at(Src::Group, "acme", ada, Some("2026-06-30"));
    fake.add_member(Src::Group, "acme/eng", ada, 30);
    fake.set_expires_at(Src::Group, "acme/eng", ada, Some("2026-06-30"));
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let ada_ref = account(ada, "ada");

    // A role change to an open-ended grant: the old end date goes.
    let mut change = conformance::operation(&adapter, "ada", grant(group("acme", "maintainer")));
    change.reason.kind = ReasonKind::Replacement;
    adapter.execute(&change, &ada_ref).await.unwrap();
    assert_eq!(fake.level(Src::Group, "acme", ada), Some(40));
    assert_eq!(fake.expires_at(Src::Group, "acme", ada), None);

    // The same level with another end date: the date moves, and a check sees it.
    let mut later = conformance::operation(&adapter, "ada", grant(group("acme/eng", "developer")));
    later.reason.valid_until =
        Some(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 1, 31, 12, 0, 0).unwrap());
    assert_eq!(
        adapter.check(&later, &ada_ref).await.unwrap(),
        CheckStatus::NotDone,
        "a different end date is not the grant"
    );
    let applied = adapter.execute(&later, &ada_ref).await.unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(
        fake.expires_at(Src::Group, "acme/eng", ada).as_deref(),
        Some("2027-01-31")
    );
    assert_eq!(
        adapter.check(&later, &ada_ref).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    // Open-ended again: cleared.
    let open = conformance::operation(&adapter, "ada", grant(group("acme/eng", "developer")));
    adapter.execute(&open, &ada_ref).await.unwrap();
    assert_eq!(fake.expires_at(Src::Group, "acme/eng", ada), None);
    assert_conform(&server).await;
}

/// Found while working on issue 28: removing a group membership also removes the
/// person's direct memberships of its subgroups and projects unless
/// `skip_subresources=true`. A revoke for anyone but a leaver removes only what was
/// planned; a leaver's removes everything below (all of it goes anyway).
#[tokio::test]
async fn revoking_a_group_keeps_the_direct_memberships_below_it_except_for_a_leaver() {
    let fake = FakeGitlab::new(100);
    for g in ["acme", "acme/eng", "acme/eng/backend"] {
        fake.add_group(g);
    }
    fake.add_project("acme/eng/api");
    let ada = fake.add_user("ada", "ada@example.com");
    fake.add_member(Src::Group, "acme/eng", ada, 30);
    fake.add_member(Src::Group, "acme/eng/backend", ada, 40);
    fake.add_member(Src::Project, "acme/eng/api", ada, 50);
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let mut op = conformance::operation(&adapter, "ada", revoke(group("acme/eng", "developer")));
    op.reason.kind = ReasonKind::PolicyRemoved;
    adapter.execute(&op, &account(ada, "ada")).await.unwrap();
    assert_eq!(fake.level(Src::Group, "acme/eng", ada), None);
    assert_eq!(fake.level(Src::Group, "acme/eng/backend", ada), Some(40));
    assert_eq!(fake.level(Src::Project, "acme/eng/api", ada), Some(50));
    // A leaver's removal takes everything below too.
    fake.add_member(Src::Group, "acme/eng", ada, 30);
    op.reason.kind = ReasonKind::Termination;
    adapter.execute(&op, &account(ada, "ada")).await.unwrap();
    assert_eq!(fake.level(Src::Group, "acme/eng/backend", ada), None);
    assert_eq!(fake.level(Src::Project, "acme/eng/api", ada), None);
    assert_conform(&server).await;
}
