//! The secret access key and session token never reach logs, errors or Debug output.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use provision_core::adapter::Adapter;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use serde_json::json;
use support::*;
use wiremock::MockServer;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-1"})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.CreateGroupMembership")
        .respond_with(aws_err(
            400,
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/bot is not authorized to perform: identitystore:CreateGroupMembership",
        ))
        .mount(&server)
        .await;
    let config = config(&server);
    let adapter = provision_aws::AwsAdapter::new(config.clone()).unwrap();
    let op = operation(OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    let account = AccountRef {
        login: "sarah.chen@example.com".into(),
        external_id: Some("u-1".into()),
    };
    let err = adapter.execute(&op, &account).await.unwrap_err();
    assert_eq!(err.class(), "unauthorized");
    // Nothing listens here: a transport error.
    let dead = provision_aws::AwsConfig::builder()
        .region("us-east-1")
        .credentials(provision_aws::StaticCredentials::new(
            "AKIDTEST", SECRET, None,
        ))
        .endpoint("http://127.0.0.1:9".parse().unwrap())
        .instance(INSTANCE, STORE)
        .build()
        .unwrap();
    let transport = provision_aws::AwsAdapter::new(dead)
        .unwrap()
        .read_accounts(None)
        .await
        .unwrap_err();
    assert_eq!(transport.class(), "transient");

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("aws_execute"), "spans are logged: {logs}");
    let texts = [
        logs,
        err.to_string(),
        format!("{err:?}"),
        serde_json::to_string(&err).unwrap(),
        transport.to_string(),
        format!("{transport:?}"),
        format!("{adapter:?}"),
        format!("{config:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(SECRET), "secret key leaked: {text}");
        assert!(!text.contains(TOKEN), "session token leaked: {text}");
    }
    assert!(format!("{config:?}").contains("AKIDTEST"));
}
