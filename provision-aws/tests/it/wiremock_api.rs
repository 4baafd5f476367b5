//! The adapter against wiremock servers that answer like IAM Identity Center:
//! the quirks of `shared/apis/aws.md`, throttling, conflicts, asynchronous
//! assignments, pagination and the error dialect. Every test also checks that the
//! requests sent conform to the botocore models.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::adapter::{
    Adapter, AdapterError, CheckStatus, Effect, read_all_accounts, read_all_grants,
};
use provision_core::model::{AccountProfile, AccountRef, Entitlement, OperationKind};
use serde_json::json;
use support::*;
use wiremock::matchers::body_partial_json;
use wiremock::{MockServer, ResponseTemplate};

fn sarah() -> AccountRef {
    AccountRef {
        login: "sarah.chen@example.com".into(),
        external_id: Some("u-sarah".into()),
    }
}

fn grant_ps() -> provision_core::model::Operation {
    operation(OperationKind::Grant {
        entitlement: ps_entitlement("EngineeringReadOnly", "account:production"),
    })
}

#[tokio::test]
async fn sso_admin_signs_as_sso_with_swb_target_and_identity_store_as_identitystore() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "SUCCEEDED", "RequestId": "req-1"}})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.CreateGroupMembership")
        .respond_with(aws_ok(
            json!({"MembershipId": "m-1", "IdentityStoreId": STORE}),
        ))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(
            json!({"GroupId": "g-eng", "IdentityStoreId": STORE}),
        ))
        .mount(&server)
        .await;
    let a = adapter(&server);
    a.execute(&grant_ps(), &sarah()).await.unwrap();
    let group = operation(OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    a.execute(&group, &sarah()).await.unwrap();

    for r in server.received_requests().await.unwrap() {
        let target = r.headers["x-amz-target"].to_str().unwrap().to_owned();
        let auth = r.headers["authorization"].to_str().unwrap().to_owned();
        assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
        assert!(r.headers.contains_key("x-amz-date"));
        assert_eq!(r.headers["x-amz-security-token"], TOKEN);
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
            "{auth}"
        );
        if target.starts_with("SWBExternalService.") {
            assert!(
                auth.contains("/us-east-1/sso/aws4_request"),
                "{target}: {auth}"
            );
        } else {
            assert!(target.starts_with("AWSIdentityStore."), "{target}");
            assert!(
                auth.contains("/us-east-1/identitystore/aws4_request"),
                "{target}: {auth}"
            );
        }
        assert!(!auth.contains(SECRET));
    }
    let ops = assert_conform(&server).await;
    assert!(ops.contains(&"CreateAccountAssignment".to_owned()));
    let body = &bodies(&server, "SWBExternalService.CreateAccountAssignment").await[0];
    assert_eq!(
        body,
        &json!({"InstanceArn": INSTANCE, "TargetId": PROD, "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": PS_ARN, "PrincipalType": "USER", "PrincipalId": "u-sarah"})
    );
}

#[tokio::test]
async fn assignment_in_progress_is_pending_then_succeeded_is_done() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "IN_PROGRESS", "RequestId": "req-create-7"}})))
        .mount(&server)
        .await;
    // First poll: still in progress; afterwards: succeeded.
    op_mock("SWBExternalService.DescribeAccountAssignmentCreationStatus")
        .and(body_partial_json(
            json!({"AccountAssignmentCreationRequestId": "req-create-7"}),
        ))
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "IN_PROGRESS", "RequestId": "req-create-7"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    op_mock("SWBExternalService.DescribeAccountAssignmentCreationStatus")
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "SUCCEEDED", "RequestId": "req-create-7"}})))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = grant_ps();
    match a.execute(&op, &sarah()).await {
        Err(AdapterError::Pending {
            recheck_after,
            error,
        }) => {
            assert_eq!(recheck_after, Duration::from_millis(1500));
            assert!(error.message.contains("req-create-7"), "{error}");
        }
        other => panic!("expected pending, got {other:?}"),
    }
    assert!(matches!(
        a.check(&op, &sarah()).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    assert_eq!(
        a.check(&op, &sarah()).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    assert_eq!(
        bodies(
            &server,
            "SWBExternalService.DescribeAccountAssignmentCreationStatus"
        )
        .await
        .len(),
        2
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn assignment_failure_shows_only_in_the_status_with_aws_reason() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "IN_PROGRESS", "RequestId": "req-9"}})))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.DescribeAccountAssignmentCreationStatus")
        .respond_with(aws_ok(json!({"AccountAssignmentCreationStatus": {
            "Status": "FAILED", "RequestId": "req-9",
            "FailureReason": "Received a 404 status error: No such role: AWSReservedSSO quota"}})))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = grant_ps();
    assert!(matches!(
        a.execute(&op, &sarah()).await,
        Err(AdapterError::Pending { .. })
    ));
    match a.check(&op, &sarah()).await {
        Err(AdapterError::Permanent { error }) => {
            assert!(error.message.contains("AWSReservedSSO quota"), "{error}");
            assert_eq!(error.code.as_deref(), Some("FAILED"));
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn revoking_an_assignment_polls_the_deletion_status() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("SWBExternalService.DeleteAccountAssignment")
        .respond_with(aws_ok(json!({"AccountAssignmentDeletionStatus": {
            "Status": "IN_PROGRESS", "RequestId": "req-del-1"}})))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.DescribeAccountAssignmentDeletionStatus")
        .and(body_partial_json(
            json!({"AccountAssignmentDeletionRequestId": "req-del-1"}),
        ))
        .respond_with(aws_ok(json!({"AccountAssignmentDeletionStatus": {
            "Status": "SUCCEEDED", "RequestId": "req-del-1"}})))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = operation(OperationKind::Revoke {
        entitlement: ps_entitlement("EngineeringReadOnly", "account:111122223333"),
    });
    assert!(matches!(
        a.execute(&op, &sarah()).await,
        Err(AdapterError::Pending { .. })
    ));
    assert_eq!(
        a.check(&op, &sarah()).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn delete_group_membership_takes_the_membership_id_looked_up_first() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(
            json!({"GroupId": "g-eng", "IdentityStoreId": STORE}),
        ))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.GetGroupMembershipId")
        .and(body_partial_json(
            json!({"GroupId": "g-eng", "MemberId": {"UserId": "u-sarah"}}),
        ))
        .respond_with(aws_ok(
            json!({"MembershipId": "m-42", "IdentityStoreId": STORE}),
        ))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.DeleteGroupMembership")
        .respond_with(aws_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = operation(OperationKind::Revoke {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    let applied = a.execute(&op, &sarah()).await.unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let body = &bodies(&server, "AWSIdentityStore.DeleteGroupMembership").await[0];
    assert_eq!(
        body,
        &json!({"IdentityStoreId": STORE, "MembershipId": "m-42"})
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn removing_a_non_member_is_already_in_place() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.GetGroupMembershipId")
        .respond_with(aws_err(
            400,
            "ResourceNotFoundException",
            "GROUP_MEMBERSHIP not found",
        ))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.DeleteGroupMembership")
        .respond_with(aws_ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = operation(OperationKind::Revoke {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    assert_eq!(
        a.execute(&op, &sarah()).await.unwrap().effect,
        Effect::AlreadyInPlace
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn list_account_assignments_sends_account_and_permission_set_and_pages_to_the_end() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    for (token, next, users) in [
        (None, Some("t1"), vec!["u1", "u2"]),
        (Some("t1"), Some("t2"), vec!["u3"]),
        (Some("t2"), None, vec!["u4"]),
    ] {
        let mut body = json!({"AccountAssignments": users.iter().map(|u| json!({
            "AccountId": PROD, "PermissionSetArn": PS_ARN, "PrincipalType": "USER", "PrincipalId": u
        })).collect::<Vec<_>>()});
        if let Some(n) = next {
            body["NextToken"] = json!(n);
        }
        let m = op_mock("SWBExternalService.ListAccountAssignments").and(body_partial_json(
            json!({"AccountId": PROD, "PermissionSetArn": PS_ARN, "MaxResults": 100}),
        ));
        let mock = match token {
            Some(t) => m
                .and(body_partial_json(json!({"NextToken": t})))
                .respond_with(aws_ok(body))
                .with_priority(1),
            None => m.respond_with(aws_ok(body)).with_priority(5),
        };
        mock.mount(&server).await;
    }
    // A group principal on the same pair is not a person's direct grant.
    let a = adapter(&server);
    let resource = ps_entitlement("EngineeringReadOnly", "account:production").resource_ref();
    let grants = read_all_grants(&a, &resource).await.unwrap();
    let ids: Vec<_> = grants
        .iter()
        .map(|g| g.account_external_id.as_str())
        .collect();
    assert_eq!(ids, ["u1", "u2", "u3", "u4"]);
    assert_eq!(
        grants[0].entitlement.scope.as_deref(),
        Some("account:production")
    );
    let lists = bodies(&server, "SWBExternalService.ListAccountAssignments").await;
    assert_eq!(lists.len(), 3);
    for b in &lists {
        assert_eq!(b["AccountId"], PROD);
        assert_eq!(b["PermissionSetArn"], PS_ARN);
    }
    // Names resolved once per run: one ListPermissionSets for three pages.
    assert_eq!(
        bodies(&server, "SWBExternalService.ListPermissionSets")
            .await
            .len(),
        1
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn list_users_pages_with_next_token_and_accepts_nulls_and_text_html() {
    let server = MockServer::start().await;
    for (token, next, user) in [
        (None, Some("p2"), "a"),
        (Some("p2"), Some("p3"), "b"),
        (Some("p3"), None, "c"),
    ] {
        let body = json!({"Users": [{"UserId": format!("u-{user}"), "UserName": format!("{user}@example.com"),
            "DisplayName": user, "Name": null, "Emails": null, "UserStatus": null, "IdentityStoreId": STORE}],
            "NextToken": next});
        let m = op_mock("AWSIdentityStore.ListUsers").and(body_partial_json(
            json!({"IdentityStoreId": STORE, "MaxResults": 100}),
        ));
        let mock = match token {
            Some(t) => m
                .and(body_partial_json(json!({"NextToken": t})))
                .respond_with(moto_ok(body))
                .with_priority(1),
            None => m.respond_with(moto_ok(body)).with_priority(5),
        };
        mock.mount(&server).await;
    }
    let a = adapter(&server);
    let users = read_all_accounts(&a).await.unwrap();
    let logins: Vec<_> = users.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["a@example.com", "b@example.com", "c@example.com"]);
    assert_eq!(users[1].external_id, "u-b");
    assert_conform(&server).await;
}

#[tokio::test]
async fn throttling_is_rate_limited_with_and_without_retry_after_seconds() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.ListUsers")
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-amzn-errortype", "ThrottlingException")
                .set_body_raw(
                    json!({"__type": "ThrottlingException", "Message": "Rate exceeded",
                        "RetryAfterSeconds": 7, "Reason": null})
                    .to_string(),
                    "application/x-amz-json-1.1",
                ),
        )
        .mount(&server)
        .await;
    op_mock("SWBExternalService.ListPermissionSets")
        .respond_with(aws_err(400, "ThrottlingException", "Rate exceeded"))
        .mount(&server)
        .await;
    let a = adapter(&server);
    match a.read_accounts(None).await {
        Err(AdapterError::RateLimited { info, error }) => {
            assert_eq!(info.retry_after, Some(Duration::from_secs(7)));
            assert_eq!(error.code.as_deref(), Some("ThrottlingException"));
            assert_eq!(error.message, "Rate exceeded");
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    match a.execute(&grant_ps(), &sarah()).await {
        Err(AdapterError::RateLimited { info, .. }) => assert_eq!(info.retry_after, None),
        other => panic!("expected rate limited, got {other:?}"),
    }
    assert_conform(&server).await;
}

/// Without `RetryAfterSeconds` in the body, a `Retry-After` header (read by the
/// toolkit's rate-limit parser, seconds or an HTTP date) says when to come back.
#[tokio::test]
async fn throttling_takes_the_retry_after_header_when_the_body_has_no_seconds() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.ListUsers")
        .respond_with(
            aws_err(400, "ThrottlingException", "Rate exceeded").insert_header("retry-after", "3"),
        )
        .mount(&server)
        .await;
    let a = adapter(&server);
    match a.read_accounts(None).await {
        Err(AdapterError::RateLimited { info, error }) => {
            assert_eq!(info.retry_after, Some(Duration::from_secs(3)));
            assert_eq!(error.code.as_deref(), Some("ThrottlingException"));
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn membership_conflict_is_already_done_but_sso_admin_conflict_is_a_race_to_retry() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.CreateGroupMembership")
        .respond_with(
            ResponseTemplate::new(400).set_body_raw(
                json!({"__type": "com.amazonaws.identitystore#ConflictException",
                    "Message": "Member already exists in group", "Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"})
                .to_string(),
                "application/x-amz-json-1.1",
            ),
        )
        .mount(&server)
        .await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_err(
            400,
            "ConflictException",
            "Occurs when a conflict with a previous successful write is detected",
        ))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let group = operation(OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    assert_eq!(
        a.execute(&group, &sarah()).await.unwrap().effect,
        Effect::AlreadyInPlace
    );
    match a.execute(&grant_ps(), &sarah()).await {
        Err(e @ AdapterError::Transient { .. }) => assert!(e.is_retryable()),
        other => panic!("expected transient, got {other:?}"),
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn create_user_maps_the_profile_and_adopts_an_existing_user_name() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.CreateUser")
        .respond_with(aws_err(400, "ConflictException", "Duplicate UserName"))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.GetUserId")
        .and(body_partial_json(
            json!({"AlternateIdentifier": {"UniqueAttribute": {
            "AttributePath": "userName", "AttributeValue": "sarah.chen@example.com"}}}),
        ))
        .respond_with(aws_ok(
            json!({"UserId": "u-existing", "IdentityStoreId": STORE}),
        ))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let op = operation(OperationKind::CreateAccount {
        profile: AccountProfile {
            login: "sarah.chen@example.com".into(),
            email: "sarah.chen@example.com".into(),
            display_name: "Sarah Chen".into(),
            attributes: Default::default(),
            ..Default::default()
        },
    });
    let applied = a
        .execute(&op, &AccountRef::by_login("sarah.chen@example.com"))
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(applied.external_id.as_deref(), Some("u-existing"));
    let body = &bodies(&server, "AWSIdentityStore.CreateUser").await[0];
    assert_eq!(
        body,
        &json!({"IdentityStoreId": STORE, "UserName": "sarah.chen@example.com", "DisplayName": "Sarah Chen",
            "Name": {"GivenName": "Sarah", "FamilyName": "Chen"},
            "Emails": [{"Value": "sarah.chen@example.com", "Type": "work", "Primary": true}]})
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn errors_are_typed_by_the_aws_type_not_the_http_status() {
    let server = MockServer::start().await;
    // Type only in the body, namespaced; HTTP 500 would otherwise read as transient.
    op_mock("AWSIdentityStore.ListUsers")
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            json!({"__type": "com.amazonaws.identitystore#ValidationException", "message": "bad IdentityStoreId"}).to_string(),
            "application/x-amz-json-1.1",
        ))
        .mount(&server)
        .await;
    // Type only in the header, with a suffix; the body has none.
    op_mock("AWSIdentityStore.GetUserId")
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header(
                    "X-Amzn-ErrorType",
                    "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                )
                .set_body_raw(
                    json!({"Message": "User: arn:aws:iam::111122223333:user/bot is not authorized to perform: identitystore:GetUserId on resource: arn:aws:identitystore::111122223333:identitystore/d-1234567890"}).to_string(),
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    // HTTP 400 with a server-side type is still transient.
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_err(400, "InternalServerException", "try again"))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let e = a.read_accounts(None).await.unwrap_err();
    assert_eq!(e.class(), "invalid", "{e}");
    assert_eq!(
        e.system_error().unwrap().code.as_deref(),
        Some("ValidationException")
    );

    let create = operation(OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    let e = a
        .execute(&create, &AccountRef::by_login("sarah.chen@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "unauthorized", "{e}");
    assert!(
        e.to_string()
            .contains("missing permission identitystore:GetUserId"),
        "{e}"
    );

    let e = a.execute(&create, &sarah()).await.unwrap_err();
    assert_eq!(e.class(), "transient", "{e}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn unknown_user_or_group_is_not_found_and_moto_html_500_is_transient() {
    let server = MockServer::start().await;
    op_mock("AWSIdentityStore.GetUserId")
        .respond_with(aws_err(400, "ResourceNotFoundException", "USER not found."))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.UpdateUser")
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            "<!doctype html><title>500 Internal Server Error</title>",
            "text/html; charset=utf-8",
        ))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let grant = operation(OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineering"),
    });
    let e = a
        .execute(&grant, &AccountRef::by_login("nobody@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "not_found", "{e}");
    let update = operation(OperationKind::UpdateAccount {
        attributes: [("display_name".to_owned(), "Sarah C.".to_owned())].into(),
    });
    let e = a.execute(&update, &sarah()).await.unwrap_err();
    assert_eq!(e.class(), "transient", "{e}");
    assert!(!e.to_string().contains("doctype"), "{e}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn instance_is_discovered_when_exactly_one_and_refused_otherwise() {
    let server = MockServer::start().await;
    op_mock("SWBExternalService.ListInstances")
        .respond_with(moto_ok(
            json!({"Instances": [{"InstanceArn": INSTANCE, "IdentityStoreId": STORE,
            "OwnerAccountId": "123456789012", "Status": "ACTIVE"}], "NextToken": null}),
        ))
        .mount(&server)
        .await;
    let config = provision_aws::AwsConfig::builder()
        .region("us-east-1")
        .credentials(provision_aws::StaticCredentials::new(
            "AKIDTEST", SECRET, None,
        ))
        .endpoint(server.uri().parse().unwrap())
        .build()
        .unwrap();
    let a = provision_aws::AwsAdapter::new(config.clone()).unwrap();
    let i = a.instance().await.unwrap();
    assert_eq!(i.identity_store_id, STORE);
    assert_eq!(i.instance_arn, INSTANCE);

    let two = MockServer::start().await;
    op_mock("SWBExternalService.ListInstances")
        .respond_with(aws_ok(json!({"Instances": [
            {"InstanceArn": INSTANCE, "IdentityStoreId": STORE},
            {"InstanceArn": "arn:aws:sso:::instance/ssoins-2", "IdentityStoreId": "d-2"}]})))
        .mount(&two)
        .await;
    let config = provision_aws::AwsConfig::builder()
        .region("us-east-1")
        .credentials(provision_aws::StaticCredentials::new(
            "AKIDTEST", SECRET, None,
        ))
        .endpoint(two.uri().parse().unwrap())
        .build()
        .unwrap();
    let a = provision_aws::AwsAdapter::new(config).unwrap();
    let e = a.instance().await.unwrap_err();
    assert!(
        e.to_string().contains("2 IAM Identity Center instances"),
        "{e}"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn leaver_cannot_be_suspended_or_signed_out_and_bad_scopes_are_named() {
    let server = MockServer::start().await;
    let a = adapter(&server);
    for kind in [OperationKind::SuspendAccount, OperationKind::RevokeSessions] {
        let e = a.execute(&operation(kind), &sarah()).await.unwrap_err();
        assert_eq!(e.class(), "unsupported");
    }
    // Delete is refused unless configured.
    let e = a
        .execute(&operation(OperationKind::DeleteAccount), &sarah())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("delete_leavers"), "{e}");
    for (scope, needle) in [
        ("account:staging", "accounts.staging"),
        ("production", "account:<name or 12-digit id>"),
    ] {
        let op = operation(OperationKind::Grant {
            entitlement: ps_entitlement("EngineeringReadOnly", scope),
        });
        let e = a.execute(&op, &sarah()).await.unwrap_err();
        assert_eq!(e.class(), "invalid");
        assert!(e.to_string().contains(needle), "{e}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn group_held_permission_set_assigns_the_group_and_revoke_only_removes_the_person() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.CreateGroupMembership")
        .respond_with(aws_ok(json!({"MembershipId": "m-7"})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.DeleteGroupMembership")
        .respond_with(aws_ok(json!({})))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_ok(
            json!({"AccountAssignmentCreationStatus": {"Status": "SUCCEEDED", "RequestId": "r"}}),
        ))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.DeleteAccountAssignment")
        .respond_with(aws_ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let a = adapter(&server);
    let e = ps_entitlement(
        "group:Engineering/EngineeringReadOnly",
        "account:production",
    );
    a.execute(
        &operation(OperationKind::Grant {
            entitlement: e.clone(),
        }),
        &sarah(),
    )
    .await
    .unwrap();
    let create = &bodies(&server, "SWBExternalService.CreateAccountAssignment").await[0];
    assert_eq!(create["PrincipalType"], "GROUP");
    assert_eq!(create["PrincipalId"], "g-eng");
    let revoked = a
        .execute(
            &operation(OperationKind::Revoke { entitlement: e }),
            &sarah(),
        )
        .await
        .unwrap();
    assert_eq!(revoked.effect, Effect::Changed);
    assert_eq!(
        bodies(&server, "AWSIdentityStore.DeleteGroupMembership").await[0]["MembershipId"],
        "m-7"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn one_call_per_change_once_names_are_resolved() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .expect(1)
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.CreateGroupMembership")
        .respond_with(aws_ok(json!({"MembershipId": "m"})))
        .expect(3)
        .mount(&server)
        .await;
    op_mock("SWBExternalService.CreateAccountAssignment")
        .respond_with(aws_ok(
            json!({"AccountAssignmentCreationStatus": {"Status": "SUCCEEDED", "RequestId": "r"}}),
        ))
        .expect(3)
        .mount(&server)
        .await;
    let a = adapter(&server);
    for user in ["u1", "u2", "u3"] {
        let account = AccountRef {
            login: format!("{user}@example.com"),
            external_id: Some(user.into()),
        };
        let group = operation(OperationKind::Grant {
            entitlement: Entitlement::new("aws", "group", "Engineering"),
        });
        a.execute(&group, &account).await.unwrap();
        a.execute(&grant_ps(), &account).await.unwrap();
    }
    // 6 changes: 6 writes + 1 GetGroupId + 1 ListPermissionSets + 1 DescribePermissionSet.
    assert_eq!(server.received_requests().await.unwrap().len(), 9);
    assert_conform(&server).await;
}

#[tokio::test]
async fn check_without_a_known_request_reads_the_assignments() {
    // A restarted run has no request id in memory: `check` looks at the assignments.
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("SWBExternalService.ListAccountAssignments")
        .respond_with(aws_ok(json!({"AccountAssignments": [
            // A decoy only an adapter ignoring PrincipalType would take for `u-other`'s
            // own assignment: a group whose id equals that user's.
            {"AccountId": PROD, "PermissionSetArn": PS_ARN, "PrincipalType": "GROUP", "PrincipalId": "u-other"},
            {"AccountId": PROD, "PermissionSetArn": PS_ARN, "PrincipalType": "USER", "PrincipalId": "u-sarah"}]})))
        .mount(&server)
        .await;
    let a = adapter(&server);
    assert_eq!(
        a.check(&grant_ps(), &sarah()).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    let other = AccountRef {
        login: "other@example.com".into(),
        external_id: Some("u-other".into()),
    };
    assert_eq!(
        a.check(&grant_ps(), &other).await.unwrap(),
        CheckStatus::NotDone
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn group_held_permission_set_is_read_as_held_by_the_groups_members() {
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.ListAccountAssignments")
        .respond_with(aws_ok(json!({"AccountAssignments": [
            {"AccountId": PROD, "PermissionSetArn": PS_ARN, "PrincipalType": "GROUP", "PrincipalId": "g-eng"}]})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.ListGroupMemberships")
        .and(body_partial_json(json!({"GroupId": "g-eng"})))
        .respond_with(moto_ok(json!({"GroupMemberships": [
            {"MembershipId": "m1", "GroupId": "g-eng", "MemberId": {"UserId": "u1"}},
            {"MembershipId": "m2", "GroupId": "g-eng", "MemberId": {"UserId": "u2"}}], "NextToken": null})))
        .mount(&server)
        .await;
    let a = adapter(&server);
    let e = ps_entitlement(
        "group:Engineering/EngineeringReadOnly",
        "account:production",
    );
    let grants = read_all_grants(&a, &e.resource_ref()).await.unwrap();
    let holders: Vec<_> = grants
        .iter()
        .map(|g| g.account_external_id.as_str())
        .collect();
    assert_eq!(holders, ["u1", "u2"]);
    assert!(grants.iter().all(|g| g.entitlement == e));

    // A group without the assignment: nobody holds it, and members are not listed.
    let server = MockServer::start().await;
    mount_permission_sets(&server).await;
    op_mock("AWSIdentityStore.GetGroupId")
        .respond_with(aws_ok(json!({"GroupId": "g-eng"})))
        .mount(&server)
        .await;
    op_mock("SWBExternalService.ListAccountAssignments")
        .respond_with(aws_ok(json!({"AccountAssignments": []})))
        .mount(&server)
        .await;
    op_mock("AWSIdentityStore.ListGroupMemberships")
        .respond_with(aws_ok(json!({"GroupMemberships": []})))
        .expect(0)
        .mount(&server)
        .await;
    let a = adapter(&server);
    assert!(
        read_all_grants(&a, &e.resource_ref())
            .await
            .unwrap()
            .is_empty()
    );
    assert_conform(&server).await;
}
