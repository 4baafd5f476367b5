//! Shared helpers of the wiremock tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod fake;

use provision_aws::{AwsAdapter, AwsConfig, StaticCredentials};
use provision_core::model::{
    Entitlement, IdentityId, Operation, OperationId, OperationKind, Reason, ReasonKind, SystemName,
};
use provision_core::secret::SecretString;
use provision_testkit::botocore::{BotocoreSpec, find_shared_dir};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const SECRET: &str = "wJalrXUtnFEMI-test-secret-DO-NOT-LEAK";
pub const TOKEN: &str = "session-token-DO-NOT-LEAK";
pub const INSTANCE: &str = "arn:aws:sso:::instance/ssoins-1111222233334444";
pub const STORE: &str = "d-1234567890";
pub const PROD: &str = "111122223333";
pub const PS_ARN: &str = "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-aaaa";

pub fn config(server: &MockServer) -> AwsConfig {
    AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new(
            "AKIDTEST",
            SECRET,
            Some(SecretString::from(TOKEN)),
        ))
        .endpoint(server.uri().parse().unwrap())
        .instance(INSTANCE, STORE)
        .account("production", PROD)
        .recheck_after(std::time::Duration::from_millis(1500))
        .build()
        .unwrap()
}

pub fn adapter(server: &MockServer) -> AwsAdapter {
    AwsAdapter::new(config(server)).unwrap()
}

/// A mock for one operation (`AWSIdentityStore.CreateUser`).
pub fn op_mock(target: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", target))
}

/// A successful reply as AWS sends it.
pub fn aws_ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

/// A successful reply as moto sends it (text/html, nulls for absent members).
pub fn moto_ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/html; charset=utf-8")
}

/// An error reply with the type in both the header and the body.
pub fn aws_err(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-errortype", kind)
        .set_body_raw(
            serde_json::json!({"__type": kind, "message": message}).to_string(),
            "application/x-amz-json-1.1",
        )
}

/// Mounts the permission-set name lookup (one set, `EngineeringReadOnly`).
pub async fn mount_permission_sets(server: &MockServer) {
    op_mock("SWBExternalService.ListPermissionSets")
        .respond_with(aws_ok(serde_json::json!({"PermissionSets": [PS_ARN]})))
        .mount(server)
        .await;
    op_mock("SWBExternalService.DescribePermissionSet")
        .respond_with(aws_ok(serde_json::json!({"PermissionSet": {
            "Name": "EngineeringReadOnly", "PermissionSetArn": PS_ARN}})))
        .mount(server)
        .await;
}

pub fn operation(kind: OperationKind) -> Operation {
    let identity = IdentityId::new("e1001");
    let system = SystemName::new("aws");
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: "sarah.chen@example.com".into(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["engineering".into()],
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Default::default(),
    }
}

pub fn op_id(op: &Operation) -> OperationId {
    op.id.clone()
}

pub fn ps_entitlement(resource: &str, scope: &str) -> Entitlement {
    Entitlement::new("aws", "permission_set", resource).with_scope(scope)
}

pub fn spec() -> BotocoreSpec {
    let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR"))
        .expect("no shared/ folder beside the repository (or set PROVISION_SHARED_DIR)");
    BotocoreSpec::load(shared.join("specs/aws-identity-center.botocore.trimmed.json")).unwrap()
}

/// Every request the mock received conforms to the botocore models; returns the
/// operation names in order.
pub async fn assert_conform(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    provision_testkit::assert_requests_conform(&spec(), &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// The requests for one operation, as JSON bodies.
pub async fn bodies(server: &MockServer, target: &str) -> Vec<serde_json::Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) == Some(target))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}
