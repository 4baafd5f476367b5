//! The HTTP layer: rate limits, error classes, timeouts, OAuth, secrets.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use provision_core::adapter::{Adapter, AdapterError, read_all_accounts};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_okta::OktaAdapter;
use provision_okta::config::OktaConfig;
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

use support::{FakeOkta, adapter, assert_conform, config, oauth_setup, start};

fn member_account(fake: &FakeOkta) -> AccountRef {
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid),
    }
}

fn grant() -> OperationKind {
    OperationKind::Grant {
        entitlement: Entitlement::new("okta", "group", "engineering"),
    }
}

#[tokio::test]
async fn a_429_is_rate_limited_until_the_reset_time_on_the_server_clock() {
    let fake = FakeOkta::new(200);
    let account = member_account(&fake);
    let server = start(&fake).await;
    // Server clock 2030-01-01T00:00:00Z, reset 2 s later. Okta refuses the write until
    // the reset (on our clock: 2 s from now), and takes it after.
    let date = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let reset = date + chrono::Duration::seconds(2);
    let local_reset = Utc::now() + chrono::Duration::seconds(2);
    let throttled = ResponseTemplate::new(429)
        .insert_header("date", "Tue, 01 Jan 2030 00:00:00 GMT")
        .insert_header("x-rate-limit-limit", "600")
        .insert_header("x-rate-limit-remaining", "0")
        .insert_header("x-rate-limit-reset", reset.timestamp().to_string().as_str())
        .set_body_json(json!({
            "errorCode": "E0000047",
            "errorSummary": "API call exceeded rate limit due to too many requests.",
            "errorLink": "E0000047", "errorId": "x", "errorCauses": []
        }));
    let fallback = fake.clone();
    Mock::given(method("PUT"))
        .and(path_regex("^/api/v1/groups/[^/]+/users/[^/]+$"))
        .respond_with(move |req: &wiremock::Request| {
            if Utc::now() < local_reset {
                throttled.clone()
            } else {
                wiremock::Respond::respond(&fallback, req)
            }
        })
        .mount(&server)
        .await;
    let okta = adapter(&server);
    // The local clock is years behind Okta's: the reset is 2 s from now here.
    conformance::rate_limited_with_reset(&okta, &account, grant(), local_reset).await;
    // Sent again at once, it is refused again: the wait is real.
    assert!(
        conformance::run(&okta, &account, grant()).await.is_err(),
        "Okta refuses the write before its reset"
    );
    let wait = (local_reset - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    let err = conformance::run(&okta, &account, grant()).await;
    assert!(
        err.is_ok(),
        "the next attempt (after the wait) succeeds: {err:?}"
    );
    // Check the error details on a fresh 429.
    Mock::given(method("DELETE"))
        .and(path_regex("^/api/v1/groups/"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("date", "Tue, 01 Jan 2030 00:00:00 GMT")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.timestamp().to_string().as_str())
                .set_body_json(json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let revoke = OperationKind::Revoke {
        entitlement: Entitlement::new("okta", "group", "engineering"),
    };
    let err = conformance::run(&okta, &account, revoke).await.unwrap_err();
    let AdapterError::RateLimited { info, error } = err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("E0000047"));
    let local_reset = Utc::now() + chrono::Duration::seconds(2);
    let off = (info.reset_at.unwrap() - local_reset)
        .num_milliseconds()
        .abs();
    assert!(
        off <= 2000,
        "the reset is moved onto the local clock by the Date header: {:?}",
        info.reset_at
    );
    assert_eq!(
        info.bucket.as_deref(),
        Some("groups"),
        "the family's budget"
    );
    assert_eq!(info.remaining, Some(0));
    assert_eq!(
        info.retry_after,
        Some(Duration::from_secs(2)),
        "measured against the Date header"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn rate_limit_headroom_is_reported_on_every_response() {
    let fake = FakeOkta::new(200);
    let account = member_account(&fake);
    let server = start(&fake).await;
    let okta = adapter(&server);
    let applied = okta
        .execute(
            &conformance::operation(&okta, &account.login, grant()),
            &account,
        )
        .await
        .unwrap();
    let info = applied.rate_limit.unwrap();
    assert_eq!(info.limit, Some(600));
    assert_eq!(
        info.remaining,
        Some(598),
        "two requests so far: lookup, write"
    );
    assert_eq!(
        info.reset_at,
        Some(Utc.timestamp_opt(support::RESET_EPOCH as i64, 0).unwrap())
    );
    let page = okta.read_accounts(None).await.unwrap();
    assert_eq!(page.rate_limit.unwrap().remaining, Some(597));
}

#[tokio::test]
async fn server_errors_are_transient_and_client_errors_are_not_retryable() {
    let fake = FakeOkta::new(200);
    let account = member_account(&fake);
    let server = start(&fake).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"errorCode": "E0000009", "errorSummary": "Internal Server Error"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let err = conformance::run(&okta, &account, grant())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Transient { error, maybe_applied: true } if error.code.as_deref() == Some("E0000009")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let err = read_all_accounts(&okta).await.unwrap_err();
    assert!(
        matches!(
            err.adapter_error(),
            Some(AdapterError::Transient {
                maybe_applied: false,
                ..
            })
        ),
        "{err:?}"
    );
    // After the transient failures, the same calls succeed.
    conformance::run(&okta, &account, grant()).await.unwrap();
    read_all_accounts(&okta).await.unwrap();

    Mock::given(method("POST"))
        .and(path_regex("/lifecycle/suspend$"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action"})))
        .mount(&server)
        .await;
    let before = server.received_requests().await.unwrap().len();
    let err = conformance::run(&okta, &account, OperationKind::SuspendAccount)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unauthorized { error } if error.code.as_deref() == Some("E0000006")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        sent[before..]
            .iter()
            .filter(|r| r.url.path().ends_with("/lifecycle/suspend"))
            .count(),
        1,
        "the adapter itself never retries"
    );
    assert!(
        sent[before..]
            .iter()
            .all(|r| r.method.as_str() == "GET" || r.url.path().ends_with("/lifecycle/suspend")),
        "besides it, only status reads"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn timeouts_are_transient_and_maybe_applied_for_writes() {
    let fake = FakeOkta::new(200);
    let account = member_account(&fake);
    let server = start(&fake).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(800)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(
        config(&server)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = conformance::run(&okta, &account, grant())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Transient { maybe_applied: true, error } if error.message.contains("timed out")),
        "{err:?}"
    );
    let err = okta.read_accounts(None).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AdapterError::Transient {
                maybe_applied: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn oauth_assertion_is_accepted_and_the_token_is_cached() {
    let (server, okta, issued) = oauth_setup(3600).await;
    read_all_accounts(&okta).await.unwrap();
    okta.find_user_by_login("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(issued.lock().unwrap().len(), 1, "one token for all calls");
    let requests = server.received_requests().await.unwrap();
    let api: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() != "/oauth2/v1/token")
        .collect();
    assert_eq!(api.len(), 3);
    for r in api {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer ACCESS-TOKEN-1"
        );
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn oauth_token_is_refreshed_near_expiry() {
    // 30 s of life is inside the 60 s refresh margin: every call renews it.
    let (server, okta, issued) = oauth_setup(30).await;
    okta.find_user_by_login("ada@example.com").await.unwrap();
    okta.find_user_by_login("ada@example.com").await.unwrap();
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
    assert_eq!(auth, vec!["Bearer ACCESS-TOKEN-1", "Bearer ACCESS-TOKEN-2"]);
}

#[tokio::test]
async fn a_refused_token_request_is_unauthorized_with_okta_words() {
    let fake = FakeOkta::new(200);
    let server = start(&fake).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client", "error_description": "The client_assertion signature is invalid."})))
        .mount(&server)
        .await;
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-key.pem"),
    )
    .unwrap();
    let okta = OktaAdapter::new(
        OktaConfig::builder(&server.uri())
            .private_key_jwt("0oa1", pem)
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = okta.read_accounts(None).await.unwrap_err();
    let AdapterError::Unauthorized { error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("invalid_client"));
    assert!(!err.is_retryable());
}
