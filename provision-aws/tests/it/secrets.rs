//! The secret access key and session token never reach logs, errors or Debug output.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::Adapter;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::secrets::{LogCapture, SecretCheck};
use serde_json::json;
use support::*;
use wiremock::MockServer;

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug_output() {
    let logs = LogCapture::start();

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

    assert!(logs.text().contains("aws_call"), "spans are logged");
    SecretCheck::new(&[SECRET, TOKEN])
        .logs(&logs)
        .value("the error", &err)
        .text("the error as JSON", serde_json::to_string(&err).unwrap())
        .value("the transport error", &transport)
        .debug("the adapter", &adapter)
        .debug("the config", &config)
        .assert_clean();
    assert!(format!("{config:?}").contains("AKIDTEST"));
}
