//! Account-assignment evidence (CC6.3) against the stateful IAM Identity Center
//! fake: one item per page (every list follows `NextToken`), a one-off
//! `ThrottlingException` with `RetryAfterSeconds`, a one-off 500; every request
//! checked against the botocore models.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use provision_aws::AwsAdapter;
use provision_core::adapter::{Adapter, AdapterError};
use provision_core::model::{AccountRef, OperationKind};
use provision_http::read_retry::ReadRetry;
use serde_json::json;
use support::fake::AwsFake;
use support::{PROD, assert_conform, config, op_mock, operation, ps_entitlement};
use wiremock::{MockServer, ResponseTemplate};

const STAGING: &str = "444455556666";

fn quick() -> ReadRetry {
    ReadRetry::new(4, Duration::from_secs(10), Duration::from_millis(20))
}

fn aws_error(status: u16, kind: &str, message: &str, extra: serde_json::Value) -> ResponseTemplate {
    let mut body = json!({"__type": kind, "Message": message, "RequestId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ResponseTemplate::new(status)
        .insert_header("x-amzn-errortype", kind)
        .insert_header("x-amzn-requestid", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111")
        .set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

/// Ana holds Admin on production and ReadOnly on staging herself, and ReadOnly on
/// production through Engineering; Ben only through Engineering; Cy nothing.
async fn tenant() -> (MockServer, AwsFake, AwsAdapter) {
    let server = MockServer::start().await;
    let fake = AwsFake::new(1);
    fake.mount(&server).await;
    let ana = fake.add_user("ana@example.com");
    let ben = fake.add_user("ben@example.com");
    fake.add_user("cy@example.com");
    let eng = fake.add_group("Engineering");
    let admin = fake.add_permission_set("Admin");
    let read_only = fake.add_permission_set("ReadOnly");
    fake.add_assignment(PROD, &admin, &ana);
    fake.add_assignment(STAGING, &read_only, &ana);
    let aws = AwsAdapter::new(config(&server)).unwrap();
    // The group's assignment, made the way a policy makes it (it also adds Ana).
    aws.execute(
        &operation(OperationKind::Grant {
            entitlement: ps_entitlement("group:Engineering/ReadOnly", "account:production"),
        }),
        &AccountRef {
            login: "ana@example.com".into(),
            external_id: Some(ana.clone()),
        },
    )
    .await
    .unwrap();
    fake.add_membership(&eng, &ben);
    (server, fake, aws)
}

fn rows(
    evidence: &[provision_core::adapter::CollectedEvidence],
) -> BTreeSet<(String, String, String, String)> {
    evidence
        .iter()
        .map(|e| {
            (
                e.subject.clone().unwrap(),
                e.data["account_id"].as_str().unwrap().to_owned(),
                e.data["permission_set"].as_str().unwrap().to_owned(),
                e.data["via"]["group"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_users_assignments_direct_and_through_groups() {
    let (server, _fake, aws) = tenant().await;
    // Once each: SSO Admin throttles (RetryAfterSeconds 1), the Identity Store fails.
    op_mock("SWBExternalService.ListAccountAssignmentsForPrincipal")
        .respond_with(aws_error(
            400,
            "ThrottlingException",
            "Rate exceeded",
            json!({"RetryAfterSeconds": 1}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.ListGroupMembershipsForMember")
        .respond_with(aws_error(
            500,
            "InternalServerException",
            "An internal error occurred",
            json!({}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let source = aws.evidence_source().expect("AWS offers evidence reads");
    assert_eq!(source.evidence_kinds(), ["aws.account_assignment"]);

    let started = Instant::now();
    let evidence = aws.collect_evidence_with(&quick()).await.unwrap();
    let row = |u: &str, a: &str, p: &str, g: &str| {
        (u.to_owned(), a.to_owned(), p.to_owned(), g.to_owned())
    };
    assert_eq!(
        rows(&evidence),
        BTreeSet::from([
            row("ana@example.com", PROD, "Admin", "-"),
            row("ana@example.com", STAGING, "ReadOnly", "-"),
            row("ana@example.com", PROD, "ReadOnly", "Engineering"),
            row("ben@example.com", PROD, "ReadOnly", "Engineering"),
        ])
    );
    assert_eq!(evidence.len(), 4);
    let direct = evidence
        .iter()
        .find(|e| e.data["permission_set"] == "Admin")
        .unwrap();
    assert_eq!(direct.kind, "aws.account_assignment");
    assert_eq!(direct.system.as_str(), "aws");
    assert_eq!(direct.data["account_name"], "production");
    assert_eq!(direct.data["principal_type"], "USER");
    let staging = evidence
        .iter()
        .find(|e| e.data["account_id"] == STAGING)
        .unwrap();
    assert!(
        staging.data["account_name"].is_null(),
        "an account not named in the config"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "RetryAfterSeconds was not waited for"
    );

    // Engineering's assignments were read once, for both its members.
    let operations = assert_conform(&server).await;
    let group_reads = support::bodies(
        &server,
        "SWBExternalService.ListAccountAssignmentsForPrincipal",
    )
    .await
    .into_iter()
    .filter(|b| b["PrincipalType"] == "GROUP")
    .count();
    assert_eq!(
        group_reads, 1,
        "one item per page: one group assignment, one page"
    );
    for op in [
        "ListUsers",
        "ListAccountAssignmentsForPrincipal",
        "ListGroupMembershipsForMember",
    ] {
        assert!(
            operations.iter().any(|o| o.ends_with(op)),
            "{op} not exercised: {operations:?}"
        );
    }
}

#[tokio::test]
async fn throttling_that_outlasts_the_policy_is_returned_as_rate_limited() {
    let (server, fake, aws) = tenant().await;
    fake.throttle(); // every call now answers RetryAfterSeconds 7, over the 5 s allowed
    let policy = ReadRetry::new(3, Duration::from_secs(5), Duration::from_millis(10));
    let started = Instant::now();
    let err = aws.collect_evidence_with(&policy).await.unwrap_err();
    assert!(matches!(err, AdapterError::RateLimited { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a 7 s wait over the limit is not taken"
    );
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    assert!(!err.to_string().contains(support::SECRET));
    let _ = server;
}
