//! Identity Center answers late, past the client's timeout, after it made the change:
//! through the executor, the write counts as maybe applied, a check asks whether it
//! took effect before anything is sent again, and the write reaches AWS exactly once.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use provision_aws::{AwsAdapter, AwsConfig, StaticCredentials};
use provision_core::adapter::Adapter;
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, OperationOutcome, PendingConfig, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{AccountProfile, Dependency, OperationKind, Plan};
use provision_core::planner::ApprovedPlan;
use support::fake::AwsFake;
use support::{INSTANCE, PROD, SECRET, STORE, TOKEN, operation, ps_entitlement};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LOGIN: &str = "sarah.chen@example.com";

/// The fake, except that the first request for `target` is carried out and then
/// answered after `delay`.
struct LateOnce {
    fake: AwsFake,
    target: &'static str,
    delay: Duration,
    fired: AtomicBool,
}

impl Respond for LateOnce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let answer = self.fake.respond(request);
        let is_target = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.ends_with(self.target));
        if is_target && !self.fired.swap(true, Ordering::SeqCst) {
            answer.set_delay(self.delay)
        } else {
            answer
        }
    }
}

fn adapter(server: &MockServer) -> AwsAdapter {
    let config = AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new(
            "AKIDTEST",
            SECRET,
            Some(provision_core::secret::SecretString::from(TOKEN)),
        ))
        .endpoint(server.uri().parse().unwrap())
        .instance(INSTANCE, STORE)
        .account("production", PROD)
        .recheck_after(Duration::from_millis(100))
        // The client gives up long before the late answer comes.
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    AwsAdapter::new(config).unwrap()
}

async fn targets(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.headers
                .get("x-amz-target")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .map(|t| t.rsplit('.').next().unwrap_or_default().to_owned())
        .collect()
}

/// Sarah's account, then a permission set on `production` that waits for it.
async fn run_joiner(late: &'static str) -> (Vec<String>, Vec<OperationOutcome>, AwsFake) {
    let server = MockServer::start().await;
    let fake = AwsFake::new(100);
    fake.add_permission_set("EngineeringReadOnly");
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(LateOnce {
            fake: fake.clone(),
            target: late,
            delay: Duration::from_millis(1500),
            fired: AtomicBool::new(false),
        })
        .mount(&server)
        .await;
    let create = operation(OperationKind::CreateAccount {
        profile: AccountProfile {
            login: LOGIN.into(),
            email: LOGIN.into(),
            display_name: "Sarah Chen".into(),
            ..AccountProfile::default()
        },
    });
    let assign = operation(OperationKind::Grant {
        entitlement: ps_entitlement("EngineeringReadOnly", "account:production"),
    });
    let plan = Plan {
        dependencies: vec![Dependency {
            before: create.id.clone(),
            after: assign.id.clone(),
        }],
        operations: vec![create, assign],
    };
    let executor = Executor::builder()
        .system(
            "aws",
            Arc::new(adapter(&server)) as Arc<dyn Adapter>,
            SystemConfig::new("aws"),
        )
        .retry(RetryConfig {
            initial_delay: Duration::from_millis(10),
            jitter: false,
            ..RetryConfig::default()
        })
        .pending(PendingConfig {
            interval: Duration::from_millis(100),
            deadline: Duration::from_secs(10),
        })
        .build()
        .unwrap();
    let approved = ApprovedPlan::confirmed(plan, 1, 0).unwrap();
    let report = executor
        .apply(&RunId("late".into()), &approved)
        .await
        .unwrap();
    let outcomes = report
        .operations
        .iter()
        .map(|o| o.outcome.clone())
        .collect();
    (targets(&server).await, outcomes, fake)
}

fn assert_checked_before_any_resend(targets: &[String], write: &str, check: &[&str]) {
    let writes: Vec<usize> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| *t == write)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(writes.len(), 1, "{write} reached AWS once: {targets:?}");
    let checked = targets[writes[0] + 1..]
        .iter()
        .any(|t| check.contains(&t.as_str()));
    assert!(
        checked,
        "a check ({check:?}) after the late {write}: {targets:?}"
    );
}

#[tokio::test]
async fn a_create_user_answered_after_the_timeout_is_checked_not_sent_again() {
    let (targets, outcomes, fake) = run_joiner("CreateUser").await;
    assert!(
        outcomes.iter().all(OperationOutcome::is_success),
        "{outcomes:?}"
    );
    assert!(fake.user_id(LOGIN).is_some());
    assert_checked_before_any_resend(
        &targets,
        "CreateUser",
        &["GetUserId", "ListUsers", "DescribeUser"],
    );
}

#[tokio::test]
async fn an_assignment_answered_after_the_timeout_is_checked_not_sent_again() {
    let (targets, outcomes, fake) = run_joiner("CreateAccountAssignment").await;
    assert!(
        outcomes.iter().all(OperationOutcome::is_success),
        "{outcomes:?}"
    );
    let user = fake.user_id(LOGIN).unwrap();
    assert_eq!(fake.holdings(&user).1.len(), 1, "one assignment");
    assert_checked_before_any_resend(
        &targets,
        "CreateAccountAssignment",
        &[
            "ListAccountAssignments",
            "ListAccountAssignmentsForPrincipal",
            "DescribeAccountAssignmentCreationStatus",
        ],
    );
}
