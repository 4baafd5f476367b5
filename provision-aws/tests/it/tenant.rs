//! What a real IAM Identity Center does that a kind fake did not (issue 12), each case
//! answered by the stateful fake (`support/fake.rs`) the way AWS answers it and run
//! through the executor where the executor's confirming check is part of the story.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::sync::Arc;
use std::time::Duration;

use provision_aws::AwsAdapter;
use provision_core::adapter::{Adapter, AdapterError};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, OperationOutcome, PendingConfig, RetryConfig};
use provision_core::journal::{Journal, MemoryJournal, OperationState, RunId};
use provision_core::model::{AccountProfile, AccountRef, Entitlement, OperationKind, Plan};
use provision_core::planner::ApprovedPlan;
use support::fake::AwsFake;
use support::{PROD, config, operation, ps_entitlement};
use wiremock::MockServer;

const LOGIN: &str = "sarah.chen@example.com";

struct Center {
    server: MockServer,
    fake: AwsFake,
    adapter: Arc<AwsAdapter>,
}

impl Center {
    async fn start() -> Self {
        let server = MockServer::start().await;
        let fake = AwsFake::new(100);
        fake.mount(&server).await;
        let adapter = Arc::new(AwsAdapter::new(config(&server)).unwrap());
        Center {
            server,
            fake,
            adapter,
        }
    }

    /// Applies `kinds` (for Sarah) through the executor; the outcomes.
    async fn apply(&self, kinds: Vec<OperationKind>) -> Vec<OperationOutcome> {
        let executor = Executor::builder()
            .system(
                "aws",
                self.adapter.clone() as Arc<dyn Adapter>,
                SystemConfig::new("aws"),
            )
            .retry(RetryConfig {
                initial_delay: Duration::from_millis(1),
                jitter: false,
                ..RetryConfig::default()
            })
            .pending(PendingConfig {
                interval: Duration::from_millis(100),
                deadline: Duration::from_secs(10),
            })
            .build()
            .unwrap();
        let plan = Plan {
            operations: kinds.into_iter().map(operation).collect(),
            dependencies: Vec::new(),
        };
        let report = executor
            .apply(&RunId("issue-12".into()), &approved(&plan))
            .await
            .unwrap();
        report.operations.into_iter().map(|o| o.outcome).collect()
    }

    async fn targets(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter_map(|r| {
                r.headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .collect()
    }
}

fn sarah() -> AccountRef {
    AccountRef::by_login(LOGIN)
}

fn new_sarah() -> OperationKind {
    OperationKind::CreateAccount {
        profile: AccountProfile {
            login: LOGIN.into(),
            email: LOGIN.into(),
            display_name: "Sarah Chen".into(),
            ..AccountProfile::default()
        },
    }
}

fn failed(outcome: &OperationOutcome) -> &AdapterError {
    match outcome {
        OperationOutcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
fn approved(plan: &Plan) -> ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    ApprovedPlan::confirmed(plan.clone(), identities.len(), identities.len()).unwrap()
}

// --- conflicts without a reason ---------------------------------------------------

/// A `ConflictException` without `Reason` on `CreateGroupMembership` is a concurrent
/// modification as much as a duplicate: success only when the membership is there.
#[tokio::test]
async fn a_membership_conflict_without_reason_succeeds_only_when_the_member_is_there() {
    let center = Center::start().await;
    let user = center.fake.add_user(LOGIN);
    let group = center.fake.add_group("Engineers");
    let grant = || OperationKind::Grant {
        entitlement: Entitlement::new("aws", "group", "Engineers"),
    };

    center.fake.conflict_next("CreateGroupMembership", None);
    let outcomes = center.apply(vec![grant()]).await;
    let error = failed(&outcomes[0]);
    assert!(error.to_string().contains("ConflictException"), "{error}");
    assert!(center.fake.holdings(&user).0.is_empty());

    // a real duplicate (also without a reason): the check finds the membership
    center.fake.add_membership(&group, &user);
    let outcomes = center.apply(vec![grant()]).await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
}

/// A concurrent modification on `UpdateUser` never counts as success.
#[tokio::test]
async fn an_update_conflict_without_reason_is_not_success() {
    let center = Center::start().await;
    center.fake.add_user(LOGIN);
    center.fake.conflict_next("UpdateUser", None);
    let outcomes = center
        .apply(vec![OperationKind::UpdateAccount {
            attributes: [("title".to_owned(), "Staff Engineer".to_owned())].into(),
        }])
        .await;
    failed(&outcomes[0]);
}

// --- create fallback -------------------------------------------------------------

/// `CreateUser` answers a conflict, even with the documented duplicate reason, and
/// `GetUserId` then finds no such user: nothing was created and nothing can be
/// adopted, so the create failed.
#[tokio::test]
async fn a_create_conflict_with_no_user_to_adopt_is_a_failure() {
    let center = Center::start().await;
    center
        .fake
        .conflict_next("CreateUser", Some("UNIQUENESS_CONSTRAINT_VIOLATION"));
    let err = center
        .adapter
        .execute(&operation(new_sarah()), &sarah())
        .await
        .unwrap_err();
    assert!(
        !matches!(err, AdapterError::AlreadyDone { .. }),
        "a conflict with nothing behind it is not 'already done': {err:?}"
    );

    center
        .fake
        .conflict_next("CreateUser", Some("UNIQUENESS_CONSTRAINT_VIOLATION"));
    let outcomes = center.apply(vec![new_sarah()]).await;
    failed(&outcomes[0]);
    assert!(center.fake.user_id(LOGIN).is_none());
}

// --- failed deletions -------------------------------------------------------------

/// An assignment deletion whose status ends `FAILED` while the assignment is gone is
/// done: the executor's check lists the assignments again.
#[tokio::test]
async fn a_failed_deletion_of_an_assignment_that_is_gone_is_done() {
    let center = Center::start().await;
    let user = center.fake.add_user(LOGIN);
    let ps = center.fake.add_permission_set("EngineeringReadOnly");
    center.fake.add_assignment(PROD, &ps, &user);
    center.fake.failing_deletions(true);

    let outcomes = center
        .apply(vec![OperationKind::Revoke {
            entitlement: ps_entitlement("EngineeringReadOnly", "account:production"),
        }])
        .await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
    assert!(center.fake.holdings(&user).1.is_empty());
}

/// The same `FAILED` status while the assignment is still listed is a failure that
/// keeps AWS's reason.
#[tokio::test]
async fn a_failed_deletion_of_an_assignment_still_listed_is_reported_with_the_reason() {
    let center = Center::start().await;
    let user = center.fake.add_user(LOGIN);
    let ps = center.fake.add_permission_set("EngineeringReadOnly");
    center.fake.add_assignment(PROD, &ps, &user);
    center.fake.failing_deletions(false);

    let outcomes = center
        .apply(vec![OperationKind::Revoke {
            entitlement: ps_entitlement("EngineeringReadOnly", "account:production"),
        }])
        .await;
    let error = failed(&outcomes[0]);
    assert!(
        error.to_string().contains("Not supported policy"),
        "{error}"
    );
    assert_eq!(center.fake.holdings(&user).1.len(), 1);
}

// --- clock skew -------------------------------------------------------------------

/// The service's clock runs an hour ahead: the first request is refused ("Signature
/// expired"), and the one retry is signed with the time of the reply's `Date`.
#[tokio::test]
async fn a_signature_expired_by_clock_skew_is_resigned_with_the_servers_date() {
    let center = Center::start().await;
    center.fake.clock_ahead(3600);
    let applied = center
        .adapter
        .execute(&operation(new_sarah()), &sarah())
        .await
        .unwrap();
    assert!(applied.external_id.is_some());
    assert_eq!(
        center.targets().await,
        ["AWSIdentityStore.CreateUser", "AWSIdentityStore.CreateUser"],
        "one retry, re-signed"
    );
    // later requests keep the correction: no refusal, no second signing
    let applied = center
        .adapter
        .execute(&operation(new_sarah()), &sarah())
        .await
        .unwrap();
    assert!(applied.external_id.is_some(), "the user adopted");
    let creates = center
        .targets()
        .await
        .iter()
        .filter(|t| *t == "AWSIdentityStore.CreateUser")
        .count();
    assert_eq!(creates, 3);
}

/// A clock that no `Date` can correct (the service refuses every signature) is not
/// retried forever: one retry, then unauthorized.
#[tokio::test]
async fn a_signature_refused_again_after_the_resign_is_unauthorized() {
    let server = MockServer::start().await;
    support::op_mock("AWSIdentityStore.CreateUser")
        .respond_with(
            support::aws_err(400, "InvalidSignatureException", "Signature expired: 20260101T000000Z is now earlier than 20261201T000000Z (20261201T000500Z - 5 min.)")
                .insert_header("date", "Tue, 01 Dec 2026 00:05:00 GMT"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let adapter = AwsAdapter::new(config(&server)).unwrap();
    let err = adapter
        .execute(&operation(new_sarah()), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
}

// --- request ids ------------------------------------------------------------------

/// Errors keep AWS's request id (`x-amzn-RequestId`): what AWS support asks for.
#[tokio::test]
async fn errors_keep_the_aws_request_id() {
    let center = Center::start().await;
    center.fake.add_user(LOGIN);
    center.fake.add_group("Engineers");
    center.fake.conflict_next("CreateGroupMembership", None);
    let err = center
        .adapter
        .execute(
            &operation(OperationKind::Grant {
                entitlement: Entitlement::new("aws", "group", "Engineers"),
            }),
            &sarah(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("request id a1b2c3d4-0000-4000-8000-"),
        "{err}"
    );
}

// --- regions ----------------------------------------------------------------------

/// China regions live under `amazonaws.com.cn`.
#[test]
fn china_regions_use_the_amazonaws_com_cn_endpoints() {
    let config = provision_aws::AwsConfig::builder()
        .region("cn-north-1")
        .credentials(provision_aws::StaticCredentials::new(
            "AKIDTEST",
            support::SECRET,
            None,
        ))
        .build()
        .unwrap();
    assert_eq!(
        config.identity_store_endpoint().as_str(),
        "https://identitystore.cn-north-1.amazonaws.com.cn/"
    );
    assert_eq!(
        config.sso_admin_endpoint().as_str(),
        "https://sso.cn-north-1.amazonaws.com.cn/"
    );
}

/// No instance in the region: the error says which region was asked and to check it.
#[tokio::test]
async fn no_instance_names_the_region_to_check() {
    let server = MockServer::start().await;
    support::op_mock("SWBExternalService.ListInstances")
        .respond_with(support::aws_ok(serde_json::json!({"Instances": []})))
        .mount(&server)
        .await;
    let config = provision_aws::AwsConfig::builder()
        .region("eu-west-1")
        .credentials(provision_aws::StaticCredentials::new(
            "AKIDTEST",
            support::SECRET,
            None,
        ))
        .endpoint(server.uri().parse().unwrap())
        .build()
        .unwrap();
    let adapter = AwsAdapter::new(config).unwrap();
    let err = adapter
        .execute(&operation(new_sarah()), &sarah())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("eu-west-1") && text.contains("region"),
        "{text}"
    );
}

// --- pending after a restart ------------------------------------------------------

/// A grant is pending (its creation request in progress) when the run stops hard. The
/// request id is in the journal, so the resumed run, with a new adapter, finds the
/// request's status and its failure reason, and sends nothing again.
#[tokio::test]
async fn a_pending_assignment_is_found_again_after_a_restart() {
    let center = Center::start().await;
    center.fake.add_user(LOGIN);
    center.fake.add_permission_set("EngineeringReadOnly");
    center.fake.slow_creations();
    let journal = Arc::new(MemoryJournal::new());
    let run = RunId("restart".into());
    let executor = |adapter: Arc<AwsAdapter>| {
        Executor::builder()
            .system("aws", adapter as Arc<dyn Adapter>, SystemConfig::new("aws"))
            .journal(journal.clone() as Arc<dyn Journal>)
            .build()
            .unwrap()
    };
    let plan = Plan {
        operations: vec![operation(OperationKind::Grant {
            entitlement: ps_entitlement("EngineeringReadOnly", "account:production"),
        })],
        dependencies: Vec::new(),
    };

    // the first run: killed once the grant is journaled pending
    let first = executor(center.adapter.clone());
    let (r, p) = (run.clone(), plan.clone());
    let task = tokio::spawn(async move { first.apply(&r, &approved(&p)).await });
    let mut pending = false;
    for _ in 0..200 {
        let entries = journal.entries(&run).await.unwrap_or_default();
        if entries
            .iter()
            .any(|e| matches!(e.state, OperationState::Pending { .. }))
        {
            pending = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    assert!(pending, "the grant never went pending");

    // AWS finishes the request meanwhile: it failed
    center
        .fake
        .fail_creations("Received a 400 status error: the account is at its IAM role quota");
    let restarted = Arc::new(AwsAdapter::new(config(&center.server)).unwrap());
    let report = executor(restarted).resume(&run).await.unwrap();
    let error = failed(&report.operations[0].outcome);
    assert!(error.to_string().contains("IAM role quota"), "{error}");
    let creates = center
        .targets()
        .await
        .iter()
        .filter(|t| *t == "SWBExternalService.CreateAccountAssignment")
        .count();
    assert_eq!(
        creates, 1,
        "the resumed run finds the request; it sends nothing again"
    );
}
