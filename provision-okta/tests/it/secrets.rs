//! Secrets never reach Debug output, errors or logs. Its own test binary, so the
//! global log subscriber sees every event.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::io::Write;
use std::sync::{Arc, Mutex};

use provision_core::adapter::read_all_accounts;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_okta::config::OktaConfig;
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use support::{FakeOkta, adapter, config, oauth_setup, start};

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

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let fake = FakeOkta::new(200);
    let account = member_account(&fake);
    let server = start(&fake).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"}),
        ))
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let err = conformance::run(&okta, &account, grant())
        .await
        .unwrap_err();
    read_all_accounts(&okta).await.unwrap();

    let (oauth_server, oauth, _) = oauth_setup(3600).await;
    read_all_accounts(&oauth).await.unwrap();

    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-key.pem"),
    )
    .unwrap();
    let key_body: String = pem.lines().nth(1).unwrap().to_owned();
    let texts = [
        format!("{okta:?}"),
        format!("{oauth:?}"),
        format!("{:?}", config(&server).build().unwrap()),
        format!(
            "{:?}",
            OktaConfig::builder(&oauth_server.uri())
                .private_key_jwt("0oa1", pem.clone())
                .build()
                .unwrap()
        ),
        format!("{err:?} {err}"),
        serde_json::to_string(&err).unwrap(),
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap(),
    ];
    let logs = &texts[6];
    assert!(
        logs.contains("okta request"),
        "the logs were captured: {logs}"
    );
    for text in &texts {
        assert!(
            !text.contains("00SECRET-api-token-value"),
            "API token leaked: {text}"
        );
        assert!(
            !text.contains("ACCESS-TOKEN-"),
            "access token leaked: {text}"
        );
        assert!(!text.contains(&key_body), "private key leaked: {text}");
        assert!(
            !text.contains("client_assertion="),
            "assertion leaked: {text}"
        );
    }
}
