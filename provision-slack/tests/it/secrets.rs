//! The three tokens never reach logs (TRACE included), errors or `Debug` output, and
//! never ride in a URL.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, read_all_accounts};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_slack::SlackAdapter;
use provision_slack::client::SlackClient;
use provision_testkit::conformance;
use provision_testkit::secrets::{LogCapture, SecretCheck};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use support::{ADMIN, BOT, FakeSlack, SCIM, adapter, config, start};

#[tokio::test]
async fn tokens_never_appear_in_logs_errors_debug_or_urls() {
    let logs = LogCapture::start();
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("ada@example.com");
    let server = start(&fake).await;
    // A revoked bot token: Slack says `token_revoked`.
    Mock::given(method("POST"))
        .and(path("/api/conversations.kick"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "token_revoked"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let slack = adapter(&server);
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(a),
    };
    let channel = Entitlement::new("slack", "channel", "#eng");
    conformance::run(
        &slack,
        &account,
        OperationKind::Grant {
            entitlement: channel.clone(),
        },
    )
    .await
    .unwrap();
    let revoked = conformance::run(
        &slack,
        &account,
        OperationKind::Revoke {
            entitlement: channel,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(revoked.class(), "unauthorized");
    read_all_accounts(&slack).await.unwrap();
    let sessions = conformance::run(&slack, &account, OperationKind::RevokeSessions)
        .await
        .unwrap();
    let _ = sessions;
    let config = config(&server).build().unwrap();
    let client = SlackClient::new(config.clone()).unwrap();
    let wrong_type = provision_slack::SlackConfig::builder()
        .bot_token(ADMIN)
        .build()
        .unwrap_err();
    let requests = server.received_requests().await.unwrap();
    for r in &requests {
        for secret in [BOT, ADMIN, SCIM] {
            assert!(!r.url.as_str().contains(secret), "a token in {}", r.url);
            assert!(
                !String::from_utf8_lossy(&r.body).contains(secret),
                "a token in the body of {}",
                r.url
            );
        }
    }
    assert!(
        logs.text().contains("slack call"),
        "the capture saw the adapter's logs"
    );
    SecretCheck::new(&[BOT, ADMIN, SCIM, "SECRET"])
        .logs(&logs)
        .value("revoked", &revoked)
        .value("wrong token type", &wrong_type)
        .debug("config", &config)
        .debug("client", &client)
        .debug("adapter", &slack)
        .debug("descriptor", slack.descriptor())
        .assert_clean();
    let _ = SlackAdapter::new(config).unwrap();
}
