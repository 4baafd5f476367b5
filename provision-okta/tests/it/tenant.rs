//! What a real Okta tenant does that a naive fake does not (issue "Okta, Google and
//! AWS: what a real tenant does that our fakes don't", Okta section). Each test makes
//! the fake answer as Okta does and checks the adapter copes.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError, CheckStatus, Effect, list_all_resources};
use provision_core::model::{AccountRef, Entitlement, OperationKind, SystemName};
use provision_okta::{ActivationDelivery, LeaverAction, OktaAdapter};
use provision_testkit::conformance::{self, operation, profile};
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

use support::{FakeOkta, adapter, assert_conform, config, log, oauth_fake_setup, start};

fn account(login: &str, id: &str) -> AccountRef {
    AccountRef {
        login: login.into(),
        external_id: Some(id.into()),
    }
}

// ---- Lifecycle -------------------------------------------------------------------

#[tokio::test]
async fn a_leaver_who_is_not_active_is_deactivated_since_okta_suspends_only_active_users() {
    for status in [
        "STAGED",
        "PROVISIONED",
        "LOCKED_OUT",
        "RECOVERY",
        "PASSWORD_EXPIRED",
    ] {
        let fake = FakeOkta::new(200);
        let id = fake.add_user("lee@example.com", "lee@example.com", status);
        let server = start(&fake).await;
        let okta = adapter(&server);
        let effect = conformance::run(
            &okta,
            &account("lee@example.com", &id),
            OperationKind::SuspendAccount,
        )
        .await
        .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(effect, Effect::Changed, "{status}");
        assert_eq!(
            fake.status_of(&id).as_deref(),
            Some("DEPROVISIONED"),
            "{status}: the open activation link or recovery is closed too"
        );
        let requests = log(&server).await;
        assert!(
            !requests.iter().any(|r| r.ends_with("/lifecycle/suspend")),
            "{status}: suspend would be refused: {requests:?}"
        );
        assert_conform(&server).await;
    }
}

#[tokio::test]
async fn deactivating_a_user_already_deprovisioned_is_done_not_a_failure() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("dee@example.com", "dee@example.com", "DEPROVISIONED");
    let server = start(&fake).await;
    // The first status read is stale (another admin deactivated the user meanwhile):
    // the deactivation meets Okta's 404 E0000007.
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/users/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "status": "ACTIVE", "profile": {"login": "dee@example.com", "email": "dee@example.com"}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(
        config(&server)
            .leaver_action(LeaverAction::Deactivate)
            .build()
            .unwrap(),
    )
    .unwrap();
    let effect = conformance::run(
        &okta,
        &account("dee@example.com", &id),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::AlreadyInPlace);
    assert!(
        log(&server)
            .await
            .contains(&format!("POST /api/v1/users/{id}/lifecycle/deactivate"))
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_refused_lifecycle_call_reads_the_status_again_before_failing() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user("sue@example.com", "sue@example.com", "SUSPENDED");
    let server = start(&fake).await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/users/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "status": "ACTIVE", "profile": {"login": "sue@example.com", "email": "sue@example.com"}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("/lifecycle/suspend$"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action",
            "errorId": "oae403"
        })))
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let effect = conformance::run(
        &okta,
        &account("sue@example.com", &id),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(
        effect,
        Effect::AlreadyInPlace,
        "the user already is SUSPENDED"
    );
    let requests = log(&server).await;
    assert_eq!(
        requests,
        vec![
            format!("GET /api/v1/users/{id}"),
            format!("POST /api/v1/users/{id}/lifecycle/suspend"),
            format!("GET /api/v1/users/{id}"),
        ]
    );
}

#[tokio::test]
async fn a_rehire_without_a_password_gets_the_activation_email_by_default() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user_without_password("rae@example.com", "rae@example.com", "DEPROVISIONED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let effect = conformance::run(
        &okta,
        &account("rae@example.com", &id),
        OperationKind::ReactivateAccount,
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);
    let activate = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path().ends_with("/lifecycle/activate"))
        .unwrap();
    assert_eq!(
        activate.url.query(),
        Some("sendEmail=true"),
        "Okta mails the link"
    );
    assert_eq!(
        fake.status_of(&id).as_deref(),
        Some("PROVISIONED"),
        "until the person uses the link"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_rehire_can_be_reported_pending_until_the_person_activates() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user_without_password("rob@example.com", "rob@example.com", "DEPROVISIONED");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(
        config(&server)
            .activation(ActivationDelivery::Pending)
            .build()
            .unwrap(),
    )
    .unwrap();
    let acct = account("rob@example.com", &id);
    let err = conformance::run(&okta, &acct, OperationKind::ReactivateAccount)
        .await
        .unwrap_err();
    let AdapterError::Pending { recheck_after, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(*recheck_after >= Duration::from_secs(60));
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains("ACTIVATION-SECRET"),
        "the activation link is a credential: {shown}"
    );
    let activate = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path().ends_with("/lifecycle/activate"))
        .unwrap();
    assert_eq!(activate.url.query(), Some("sendEmail=false"));
    let op = operation(&okta, "rob@example.com", OperationKind::ReactivateAccount);
    assert!(matches!(
        okta.check(&op, &acct).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    // The person follows the link.
    fake.state
        .lock()
        .unwrap()
        .users
        .iter_mut()
        .find(|u| u.id == id)
        .unwrap()
        .status = "ACTIVE".into();
    assert!(matches!(
        okta.check(&op, &acct).await.unwrap(),
        CheckStatus::Done { .. }
    ));
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_joiner_matching_a_deactivated_or_suspended_account_gets_it_working_again() {
    for (status, action) in [("DEPROVISIONED", "activate"), ("SUSPENDED", "unsuspend")] {
        let fake = FakeOkta::new(200);
        let id = fake.add_user("jo@example.com", "jo@example.com", status);
        let server = start(&fake).await;
        let okta = adapter(&server);
        let op = operation(
            &okta,
            "jo@example.com",
            OperationKind::CreateAccount {
                profile: profile("jo@example.com", "Jo March"),
            },
        );
        let applied = okta
            .execute(&op, &AccountRef::by_login("jo@example.com"))
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(applied.external_id.as_deref(), Some(id.as_str()));
        assert_eq!(applied.effect, Effect::Changed, "{status}");
        assert_eq!(fake.status_of(&id).as_deref(), Some("ACTIVE"), "{status}");
        assert!(
            log(&server)
                .await
                .contains(&format!("POST /api/v1/users/{id}/lifecycle/{action}")),
            "{status}"
        );
        assert_conform(&server).await;
    }
}

#[tokio::test]
async fn an_activation_reply_is_never_shown_in_debug() {
    let fake = FakeOkta::new(200);
    let id = fake.add_user_without_password("ann@example.com", "ann@example.com", "STAGED");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let mut url = okta
        .client()
        .api_url(&["api", "v1", "users", &id, "lifecycle", "activate"]);
    url.query_pairs_mut().append_pair("sendEmail", "false");
    let reply = okta
        .client()
        .send(reqwest::Method::POST, url, None)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&reply.body).contains("ACTIVATION-SECRET"));
    let shown = format!("{reply:?}");
    // Neither the text nor its bytes (`[123, 34, 97, ...]`).
    assert!(!shown.contains("ACTIVATION-SECRET"), "{shown}");
    assert!(!shown.contains("123, 34"), "{shown}");
}

#[tokio::test]
async fn a_wrong_org_url_is_a_configuration_error_never_already_absent() {
    // The org URL points at a server that is not an Okta org: 404 pages for all.
    let server = wiremock::MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"))
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(config(&server).app("github", "0oa1").build().unwrap()).unwrap();
    let acct = account("ada@example.com", "00u1");
    for kind in [
        OperationKind::Revoke {
            entitlement: Entitlement::new("okta", "app", "github"),
        },
        OperationKind::DeleteAccount,
        OperationKind::SuspendAccount,
    ] {
        let verb = kind.verb();
        let err = conformance::run(&okta, &acct, kind).await.unwrap_err();
        assert!(
            matches!(err, AdapterError::Configuration { .. }),
            "{verb}: {err:?}"
        );
        assert!(err.to_string().contains("org_url"), "{err}");
    }
    let err =
        provision_core::adapter::read_all_account_grants(&okta, &SystemName::new("okta"), &acct)
            .await
            .unwrap_err();
    assert!(
        matches!(
            err.adapter_error(),
            Some(AdapterError::Configuration { .. })
        ),
        "{err:?}"
    );
}

// ---- Apps ---------------------------------------------------------------------------

#[tokio::test]
async fn an_app_held_through_a_group_cannot_be_revoked_per_user_and_says_so() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("gus@example.com", "gus@example.com", "ACTIVE");
    fake.add_app("0oaSLACK", "Slack");
    fake.assign_app("0oaSLACK", &uid, "GROUP");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).app("slack", "0oaSLACK").build().unwrap()).unwrap();
    let err = conformance::run(
        &okta,
        &account("gus@example.com", &uid),
        OperationKind::Revoke {
            entitlement: Entitlement::new("okta", "app", "slack"),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains("through a group")
            && err.to_string().contains("remove the user from the group"),
        "says why and what to do: {err}"
    );
    assert!(
        fake.state
            .lock()
            .unwrap()
            .app_users
            .contains_key(&("0oaSLACK".to_owned(), uid.clone())),
        "nothing was removed"
    );
    // Nor is it read as the user's own grant.
    let grants = provision_core::adapter::read_all_account_grants(
        &okta,
        &SystemName::new("okta"),
        &account("gus@example.com", &uid),
    )
    .await
    .unwrap();
    assert!(grants.is_empty(), "{grants:?}");
    assert_conform(&server).await;
}

// ---- OAuth --------------------------------------------------------------------------

#[tokio::test]
async fn a_token_okta_rejects_is_dropped_and_a_new_one_fetched() {
    let fake = FakeOkta::new(200);
    fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, config, issued) = oauth_fake_setup(&fake, 3600).await;
    let okta = OktaAdapter::new(config.build().unwrap()).unwrap();
    okta.find_user_by_login("ada@example.com").await.unwrap();
    // Okta revokes the token early (key rotation, an admin).
    fake.state.lock().unwrap().tokens.clear();
    okta.find_user_by_login("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(issued.lock().unwrap().len(), 2);
    let auth: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() != "/oauth2/v1/token")
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        auth,
        vec![
            "Bearer ACCESS-TOKEN-1",
            "Bearer ACCESS-TOKEN-1",
            "Bearer ACCESS-TOKEN-2"
        ]
    );
}

#[tokio::test]
async fn an_app_that_requires_dpop_gets_a_hint_naming_the_setting() {
    let fake = FakeOkta::new(200);
    let (server, config, _) = oauth_fake_setup(&fake, 3600).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_dpop_proof",
            "error_description": "The DPoP proof JWT header is missing."
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(config.build().unwrap()).unwrap();
    let err = okta.read_accounts(None).await.unwrap_err();
    let AdapterError::Configuration { error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("invalid_dpop_proof"));
    assert!(error.message.contains("DPoP proof JWT header is missing"));
    assert!(
        error
            .message
            .contains("Require Demonstrating Proof of Possession"),
        "{}",
        error.message
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_app_scopes_are_requested_whenever_the_app_kind_is_used() {
    let fake = FakeOkta::new(200);
    fake.add_app("0oa1", "GitHub");
    // No app configured by name: policies may name apps by id, and apps are listed.
    let (server, config, _) = oauth_fake_setup(&fake, 3600).await;
    let okta = OktaAdapter::new(config.build().unwrap()).unwrap();
    let apps = list_all_resources(&okta, &SystemName::new("okta"), "app")
        .await
        .unwrap();
    assert_eq!(apps.len(), 1);
    let token_request = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/oauth2/v1/token")
        .unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_request.body)
        .into_owned()
        .collect();
    let scope = &form.iter().find(|(k, _)| k == "scope").unwrap().1;
    assert!(
        scope.contains("okta.apps.read") && scope.contains("okta.apps.manage"),
        "{scope}"
    );

    // Without the app kind, neither the kind nor its scopes.
    let fake = FakeOkta::new(200);
    let (_server, config, _) = oauth_fake_setup(&fake, 3600).await;
    let okta = OktaAdapter::new(config.manage_apps(false).build().unwrap()).unwrap();
    assert!(okta.descriptor().kind("app").is_none());
    let provision_okta::OktaAuth::PrivateKeyJwt { scopes, .. } = &okta.client().config().auth
    else {
        panic!()
    };
    assert!(
        !scopes.iter().any(|s| s.starts_with("okta.apps")),
        "{scopes:?}"
    );
}

#[tokio::test]
async fn errors_keep_oktas_error_id_and_the_www_authenticate_challenge() {
    let fake = FakeOkta::new(200);
    fake.add_app("0oa1", "GitHub");
    let (_server, config, _) = oauth_fake_setup(&fake, 3600).await;
    // A deployment that overrides the scopes and forgets the app ones.
    let okta = OktaAdapter::new(
        config
            .scopes(vec!["okta.users.read".into(), "okta.groups.read".into()])
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = okta.list_resources("app", None).await.unwrap_err();
    let AdapterError::Unauthorized { error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("E0000006"));
    assert!(
        error.message.contains("errorId oae1234"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("insufficient_scope") && error.message.contains("okta.apps.read"),
        "the challenge names the missing scope: {}",
        error.message
    );
}

// ---- Rate limits --------------------------------------------------------------------

#[tokio::test]
async fn each_reply_is_counted_in_its_endpoint_family() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let server = start(&fake).await;
    let okta = adapter(&server);
    let acct = account("ada@example.com", &uid);
    let grant = okta
        .execute(
            &operation(
                &okta,
                "ada@example.com",
                OperationKind::Grant {
                    entitlement: Entitlement::new("okta", "group", "engineering"),
                },
            ),
            &acct,
        )
        .await
        .unwrap();
    assert_eq!(grant.rate_limit.unwrap().bucket.as_deref(), Some("groups"));
    let page = okta.read_accounts(None).await.unwrap();
    assert_eq!(page.rate_limit.unwrap().bucket.as_deref(), Some("users"));
    let sessions = okta
        .execute(
            &operation(&okta, "ada@example.com", OperationKind::RevokeSessions),
            &acct,
        )
        .await
        .unwrap();
    assert_eq!(
        sessions.rate_limit.unwrap().bucket.as_deref(),
        Some("sessions")
    );
}

#[tokio::test]
async fn a_repeated_rate_limit_header_counts_by_its_minimum() {
    let fake = FakeOkta::new(200);
    let server = start(&fake).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .append_header("x-rate-limit-limit", "600")
                .append_header("x-rate-limit-limit", "100")
                .append_header("x-rate-limit-remaining", "540")
                .append_header("x-rate-limit-remaining", "7"),
        )
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let info = okta.read_accounts(None).await.unwrap().rate_limit.unwrap();
    assert_eq!((info.limit, info.remaining), (Some(100), Some(7)));
}

#[tokio::test]
async fn a_429_of_the_concurrency_limit_is_a_short_retry_not_a_wait_for_the_reset() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let server = start(&fake).await;
    let reset = chrono::Utc::now().timestamp() + 50;
    Mock::given(method("POST"))
        .and(path_regex("/lifecycle/suspend$"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "0")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(json!({
                    "errorCode": "E0000047",
                    "errorSummary": "API call exceeded rate limit due to too many requests.",
                    "errorId": "oaeC"
                })),
        )
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let err = conformance::run(
        &okta,
        &account("ada@example.com", &uid),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap_err();
    let AdapterError::RateLimited { info, error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(info.retry_after, Some(Duration::from_secs(1)));
    let now = chrono::Utc::now();
    let not_before = info.not_before(now).unwrap();
    assert!(
        not_before - now <= chrono::Duration::seconds(2),
        "not a wait of ~50 s for the minute's reset: {info:?}"
    );
    assert!(error.message.contains("concurrent"), "{}", error.message);
}
