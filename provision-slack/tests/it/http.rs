//! The HTTP layer: Slack's errors inside HTTP 200 bodies, 5xx, scopes and tokens, and
//! a URL that is not Slack.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, AdapterError};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use support::{FakeSlack, adapter, assert_conform, start};

async fn kick_answered(answer: ResponseTemplate) -> AdapterError {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    let server = start(&fake).await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.kick"))
        .respond_with(answer)
        .with_priority(1)
        .mount(&server)
        .await;
    let slack = adapter(&server);
    let e = conformance::run(
        &slack,
        &AccountRef {
            login: "a@example.com".into(),
            external_id: Some(a),
        },
        OperationKind::Revoke {
            entitlement: Entitlement::new("slack", "channel", "#eng"),
        },
    )
    .await
    .unwrap_err();
    assert_conform(&server).await;
    e
}

#[tokio::test]
async fn an_ok_false_body_is_an_error_even_with_http_200() {
    let e = kick_answered(ResponseTemplate::new(200).set_body_json(json!({
        "ok": false, "error": "missing_scope", "needed": "channels:write", "provided": "channels:read"
    })))
    .await;
    let AdapterError::Configuration { error } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(error.status, Some(200));
    assert_eq!(error.code.as_deref(), Some("missing_scope"));
    assert!(error.message.contains("channels:write"), "{error}");

    let e = kick_answered(
        ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})),
    )
    .await;
    assert_eq!(e.class(), "unauthorized", "{e:?}");

    let e = kick_answered(
        ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "internal_error"})),
    )
    .await;
    assert!(
        matches!(
            e,
            AdapterError::Transient {
                maybe_applied: true,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_5xx_is_transient_and_a_503_never_applied() {
    let e = kick_answered(ResponseTemplate::new(500).set_body_string("oops")).await;
    assert!(
        matches!(
            e,
            AdapterError::Transient {
                maybe_applied: true,
                ..
            }
        ),
        "{e:?}"
    );
    let e = kick_answered(ResponseTemplate::new(503)).await;
    assert!(
        matches!(
            e,
            AdapterError::Transient {
                maybe_applied: false,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_url_that_is_not_slack_is_a_configuration_error() {
    let fake = FakeSlack::new(1000);
    let server = start(&fake).await;
    fake.set_mode(support::Mode::NotSlack);
    let slack = adapter(&server);
    for e in [
        slack.list_resources("channel", None).await.unwrap_err(),
        slack.read_accounts(None).await.unwrap_err(),
    ] {
        assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
        assert!(e.to_string().contains("_url"), "{e}");
    }
}

#[tokio::test]
async fn the_admin_token_goes_to_admin_methods_and_the_bot_token_to_the_rest() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    let server = start(&fake).await;
    let slack = adapter(&server);
    let account = AccountRef {
        login: "a@example.com".into(),
        external_id: Some(a),
    };
    conformance::run(&slack, &account, OperationKind::RevokeSessions)
        .await
        .unwrap();
    conformance::run(
        &slack,
        &account,
        OperationKind::Grant {
            entitlement: Entitlement::new("slack", "channel", "#eng"),
        },
    )
    .await
    .unwrap();
    for r in support::web_requests(&server).await {
        let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
        let expected = if r.url.path().starts_with("/api/admin.") {
            support::ADMIN
        } else {
            support::BOT
        };
        assert_eq!(auth, format!("Bearer {expected}"), "{}", r.url.path());
    }
    assert_conform(&server).await;
}
