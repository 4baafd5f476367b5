//! Secrets (the site API token and the org API key) never reach Debug output, errors
//! or logs. Its own test binary, so the global log subscriber sees every event.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::io::Write;
use std::sync::{Arc, Mutex};

use provision_core::adapter::read_all_accounts;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance;
use serde_json::json;
use support::{FakeJira, Hosts, ORG_KEY, TOKEN};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

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

    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    fake.add_group("engineering");
    let hosts = Hosts::start(fake).await;
    // The site refuses the write, the org refuses everything: errors to look into.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}),
        ))
        .mount(&hosts.site)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 401, "message": "Unauthorized"})),
        )
        .mount(&hosts.org)
        .await;
    let jira = hosts.adapter(true);
    let who = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(id),
    };
    let grant = OperationKind::Grant {
        entitlement: Entitlement::new("jira", "group", "engineering"),
    };
    let e1 = conformance::run(&jira, &who, grant).await.unwrap_err();
    let e2 = conformance::run(&jira, &who, OperationKind::SuspendAccount)
        .await
        .unwrap_err();
    read_all_accounts(&jira).await.unwrap();

    let texts = [
        format!("{jira:?}"),
        format!("{:?}", hosts.config(true).build().unwrap()),
        format!("{e1:?} {e1} {e2:?} {e2}"),
        serde_json::to_string(&e1).unwrap(),
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap(),
    ];
    assert!(
        texts[4].contains("jira request"),
        "the logs were captured: {}",
        texts[4]
    );
    assert!(texts[2].contains("401"), "{}", texts[2]);
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{TOKEN}", support::EMAIL))
    };
    for text in &texts {
        assert!(!text.contains(TOKEN), "API token leaked: {text}");
        assert!(!text.contains(ORG_KEY), "org API key leaked: {text}");
        assert!(!text.contains(&basic), "Basic header leaked: {text}");
    }
}
