//! The Slack adapter driven by the executor, and the figures for the note: API calls
//! per change, invite calls for a batch of N joiners, reads for a 10,000-member
//! channel. Counted from the requests wiremock received; run with `--nocapture` to
//! see them:
//!
//! ```text
//! cargo test -p provision-slack --test executor -- --nocapture
//! ```
#![allow(clippy::unwrap_used)]

use crate::support;
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::{Adapter, read_all_grants};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, ExternalIds, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountRef, Entitlement, IdentityId, Operation, OperationKind, Plan, SystemName,
};
use provision_slack::SlackAdapter;
use provision_testkit::conformance;

use support::{FakeSlack, adapter, approved, assert_conform, calls, start, web_requests};

fn executor(slack: SlackAdapter) -> Executor {
    let mut system = SystemConfig::new("slack");
    system.concurrency = Some(4);
    Executor::builder()
        .system("slack", Arc::new(slack), system)
        .retry(RetryConfig {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            jitter: false,
            max_total_time: Duration::from_secs(30),
            ..RetryConfig::default()
        })
        .actor("slack-executor-test")
        .build()
        .unwrap()
}

fn grant_op(slack: &SlackAdapter, login: &str, kind: &str, resource: &str) -> Operation {
    conformance::operation(
        slack,
        login,
        OperationKind::Grant {
            entitlement: Entitlement::new("slack", kind, resource),
        },
    )
}

/// `n` joiners of one resource as a plan, with their Slack ids known.
fn joiners(
    fake: &FakeSlack,
    slack: &SlackAdapter,
    n: usize,
    kind: &str,
    resource: &str,
) -> (Plan, ExternalIds) {
    let mut plan = Plan::default();
    let mut ids = ExternalIds::new();
    for i in 0..n {
        let login = format!("joiner{i}@example.com");
        let id = fake.add_user(&login);
        ids.insert(IdentityId::new(&login), SystemName::new("slack"), id);
        plan.operations
            .push(grant_op(slack, &login, kind, resource));
    }
    (plan, ids)
}

#[tokio::test]
async fn joiners_of_one_channel_go_out_in_batched_invites_through_the_executor() {
    for n in [1usize, 10, 100, 200, 1000] {
        let fake = FakeSlack::new(1000);
        fake.add_channel("engineering-general");
        let server = start(&fake).await;
        let slack = adapter(&server);
        let (plan, ids) = joiners(&fake, &slack, n, "channel", "#engineering-general");
        let report = executor(adapter(&server))
            .apply_with_ids(&RunId(format!("run-{n}")), &approved(&plan), ids)
            .await
            .unwrap();
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(report.totals.succeeded, n);
        assert_eq!(fake.members("engineering-general").len(), n);
        let invites = calls(&server, "conversations.invite").await;
        let total = web_requests(&server).await.len();
        println!(
            "figure: executor, {n} joiners into one channel: {invites} conversations.invite \
             call(s), {total} Web API calls in all (incl. 1 conversations.list for the name); \
             writes per change {:.3}",
            invites as f64 / n as f64
        );
        // The channel kind declares conversations.invite's 1,000 users per call.
        assert_eq!(invites, n.div_ceil(1000), "{invites} invites for {n}");
        assert_conform(&server).await;
    }
}

#[tokio::test]
async fn a_batch_of_n_joiners_is_one_invite_per_thousand() {
    for n in [1usize, 200, 1000, 1001] {
        let fake = FakeSlack::new(1000);
        fake.add_channel("eng");
        let server = start(&fake).await;
        let slack = adapter(&server);
        let mut batch: Vec<(Operation, AccountRef)> = Vec::new();
        for i in 0..n {
            let login = format!("j{i}@example.com");
            let id = fake.add_user(&login);
            batch.push((
                grant_op(&slack, &login, "channel", "#eng"),
                AccountRef {
                    login,
                    external_id: Some(id),
                },
            ));
        }
        let results = slack.execute_batch(&batch).await;
        assert!(results.iter().all(Result::is_ok));
        let invites = calls(&server, "conversations.invite").await;
        println!(
            "figure: execute_batch, {n} joiners into one channel: {invites} conversations.invite call(s)"
        );
        assert_eq!(invites, n.div_ceil(1000));
    }
}

#[tokio::test]
async fn changes_to_one_user_group_are_serialised_and_written_once() {
    let fake = FakeSlack::new(1000);
    let seed = fake.add_user("seed@example.com");
    fake.add_group("oncall", &[&seed]);
    let server = start(&fake).await;
    let slack = adapter(&server);
    let (plan, ids) = joiners(&fake, &slack, 20, "usergroup", "oncall");
    let report = executor(adapter(&server))
        .apply_with_ids(&RunId("run-ug".into()), &approved(&plan), ids)
        .await
        .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.totals.succeeded, 20);
    assert_eq!(
        fake.group_users("oncall").len(),
        21,
        "no change lost to a race"
    );
    let writes = calls(&server, "usergroups.users.update").await;
    let reads = calls(&server, "usergroups.users.list").await;
    println!(
        "figure: executor, 20 joiners into one user group: {writes} usergroups.users.update, \
         {reads} usergroups.users.list (read + confirming re-read per write)"
    );
    assert!(writes <= 1usize.max(20usize.div_ceil(100)), "{writes}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn reading_a_ten_thousand_member_channel() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("all-hands");
    let mut ids = Vec::new();
    for i in 0..10_000 {
        ids.push(fake.add_user(&format!("m{i}@example.com")));
    }
    fake.with_channel("all-hands", |c| c.members = ids.clone());
    let server = start(&fake).await;
    let slack = adapter(&server);
    let grants = read_all_grants(
        &slack,
        &Entitlement::new("slack", "channel", "#all-hands").resource_ref(),
    )
    .await
    .unwrap();
    assert_eq!(grants.len(), 10_000);
    assert!(grants.iter().all(|g| g.login.is_some()));
    let members = calls(&server, "conversations.members").await;
    let directory = calls(&server, "users.list").await;
    let names = calls(&server, "conversations.list").await;
    println!(
        "figure: reading a 10,000-member channel (limit=1000, Slack answering every second \
         page one short): {members} conversations.members + {directory} users.list (logins) \
         + {names} conversations.list (name → id) = {} calls",
        members + directory + names
    );
    assert!(members <= 11 && directory <= 11, "{members} {directory}");
    let _ = slack.descriptor();
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_the_method_exactly_that_long() {
    use std::sync::Mutex;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, Request, Respond, ResponseTemplate};

    /// 429 `Retry-After: 2` on the first kick, recording when each kick arrived.
    struct Throttle {
        seen: Arc<Mutex<Vec<std::time::Instant>>>,
        inner: FakeSlack,
    }
    impl Respond for Throttle {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let mut seen = self.seen.lock().unwrap();
            seen.push(std::time::Instant::now());
            if seen.len() == 1 {
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "2")
                    .set_body_json(serde_json::json!({"ok": false, "error": "ratelimited"}));
            }
            self.inner.respond(req)
        }
    }

    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    fake.with_channel("eng", |c| c.members.push(a.clone()));
    let server = start(&fake).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/api/conversations.kick"))
        .respond_with(Throttle {
            seen: seen.clone(),
            inner: fake.clone(),
        })
        .with_priority(1)
        .mount(&server)
        .await;
    let slack = adapter(&server);
    let mut plan = Plan::default();
    plan.operations.push(conformance::operation(
        &slack,
        "a@example.com",
        OperationKind::Revoke {
            entitlement: Entitlement::new("slack", "channel", "#eng"),
        },
    ));
    let mut ids = ExternalIds::new();
    ids.insert(
        IdentityId::new("a@example.com"),
        SystemName::new("slack"),
        a,
    );
    let report = executor(adapter(&server))
        .apply_with_ids(&RunId("run-429".into()), &approved(&plan), ids)
        .await
        .unwrap();
    assert!(report.is_complete(), "{report:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let waited = seen[1] - seen[0];
    println!("figure: Retry-After: 2 → the kick was sent again after {waited:?}");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_millis(3500),
        "waited {waited:?}"
    );
    assert!(fake.members("eng").is_empty());
}
