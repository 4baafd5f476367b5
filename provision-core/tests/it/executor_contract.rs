//! The executor side of the adapter contract (issue "one contract every system fits"):
//! named rate budgets, whole-list resources, per-system pending deadlines, reads paced
//! and retried like writes, configuration errors.
#![allow(clippy::unwrap_used)] // tests may unwrap

use crate::exec_support;
use std::sync::Arc;
use std::time::Duration;

use exec_support::contract::ContractSystem;
use exec_support::*;
use provision_core::adapter::{
    Adapter, AdapterError, PendingDeadline, RateBudget, RateLimitInfo, ResourceKindDescriptor,
    SystemDescriptor, SystemError,
};
use provision_core::config::{RateLimitConfig, SystemConfig};
use provision_core::executor::{
    Executor, ExecutorError, ExecutorReadError, OperationOutcome, PendingConfig,
};
use provision_core::journal::OperationState;
use provision_core::model::{AccountRef, Entitlement, ResourceRef, SystemName};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};
use tokio::time::Instant;

fn limit(requests: u32, burst: u32) -> Option<RateLimitConfig> {
    Some(RateLimitConfig {
        requests,
        per_seconds: 1,
        burst: Some(burst),
    })
}

/// Users (account writes) and groups (membership writes) are separate budgets.
fn budgeted(users: Option<RateLimitConfig>, groups: Option<RateLimitConfig>) -> SystemDescriptor {
    SystemDescriptor::new("budgeted")
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]))
        .with_rate_budget(RateBudget::new("users", users))
        .with_rate_budget(RateBudget::new("groups", groups))
}

fn config(concurrency: usize) -> SystemConfig {
    let mut c = SystemConfig::new("budgeted");
    c.concurrency = Some(concurrency);
    c
}

/// 20 account creations (budget `users`) and 20 group grants (budget `groups`).
fn mixed_plan() -> provision_core::model::Plan {
    let mut ops = Vec::new();
    for i in 0..20 {
        ops.push(create(&format!("u{i}"), "dir"));
        ops.push(grant(&format!("g{i}"), "dir", "group", "eng"));
    }
    plan(ops)
}

fn last_request(system: &ContractSystem, budget: &str, start: Instant) -> Duration {
    system.seen(|s| {
        s.requests
            .iter()
            .filter(|(b, _)| b == budget)
            .map(|(_, at)| *at - start)
            .max()
            .unwrap_or_default()
    })
}

#[tokio::test(start_paused = true)]
async fn each_named_budget_is_paced_by_its_own_limit_and_never_slows_another() {
    // The server allows 12 user writes and 100 group writes per second; the vendor
    // documents 5/s (burst 5) and 50/s (burst 10).
    let system = Arc::new(
        ContractSystem::new(budgeted(limit(5, 5), limit(50, 10)))
            .limit("users", 12)
            .limit("groups", 100),
    );
    let executor = Executor::builder()
        .system("dir", system.clone() as Arc<dyn Adapter>, config(8))
        .build()
        .unwrap();
    let start = Instant::now();
    let report = executor
        .apply(&run("budgets"), &approved(&mixed_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    // Paced by each budget's own limiter: the server never had to say 429.
    system.seen(|s| assert!(s.throttled.is_empty(), "429s: {:?}", s.throttled));
    // The groups were not held to the users' pace: 20 grants at 50/s are done well
    // before 20 creations at 5/s (at least (20 - 5) / 5 = 3 s).
    let groups = last_request(&system, "groups", start);
    let users = last_request(&system, "users", start);
    assert!(groups < Duration::from_secs(1), "groups took {groups:?}");
    assert!(users >= Duration::from_millis(2800), "users took {users:?}");
}

#[tokio::test(start_paused = true)]
async fn the_deployment_overrides_a_vendor_budget() {
    // The vendor says 100/s for users; this tenant's server allows 12/s, and the
    // deployment says 5/s.
    let system = Arc::new(
        ContractSystem::new(budgeted(limit(100, 100), limit(50, 10)))
            .limit("users", 12)
            .limit("groups", 100),
    );
    let mut cfg = config(8);
    cfg.rate_budgets
        .insert("users".into(), limit(5, 5).unwrap());
    let executor = Executor::builder()
        .system("dir", system.clone() as Arc<dyn Adapter>, cfg)
        .build()
        .unwrap();
    let report = executor
        .apply(&run("override"), &approved(&mixed_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    system.seen(|s| assert!(s.throttled.is_empty(), "429s: {:?}", s.throttled));
}

#[tokio::test]
async fn a_budget_the_system_does_not_have_is_refused() {
    let system = Arc::new(ContractSystem::new(budgeted(None, None)));
    let mut cfg = config(4);
    cfg.rate_budgets.insert("user".into(), limit(5, 5).unwrap());
    let err = Executor::builder()
        .system("dir", system as Arc<dyn Adapter>, cfg)
        .build()
        .unwrap_err();
    assert!(matches!(err, ExecutorError::InvalidRateLimit { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`user` is not a rate budget of this system (its budgets: users, groups)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_configuration_error_is_never_retried_nor_read_as_already_absent() {
    let system = Arc::new(ContractSystem::new(
        SystemDescriptor::new("dir")
            .with_accounts()
            .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"])),
    ));
    system.fail(
        "revoke",
        AdapterError::Configuration {
            error: SystemError::new(Some(404), None, "identity store d-123 does not exist"),
        },
    );
    let executor = Executor::builder()
        .retry(fast_retry())
        .system("dir", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let revoke = revoke("ann", "dir", "group", "eng");
    let report = executor
        .apply(&run("config"), &approved(&plan(vec![revoke.clone()])))
        .await
        .unwrap();
    let op = report.operation(&revoke.id).unwrap();
    assert!(
        matches!(
            &op.outcome,
            OperationOutcome::Failed {
                error: AdapterError::Configuration { .. }
            }
        ),
        "{}",
        op.outcome
    );
    assert_eq!(op.attempts, 1, "sent once, not retried");
}

#[tokio::test(start_paused = true)]
async fn budgets_from_the_deployment_yaml_reach_the_limiter() {
    use provision_core::config::parse_config;
    let yaml = "systems:\n  dir:\n    adapter: budgeted\n    concurrency: 8\n    rate_budgets:\n      users: {requests: 5, burst: 5}\n";
    let deployment = parse_config("provision.yaml", yaml).unwrap();
    let cfg = deployment.systems.values().next().unwrap().clone();
    assert_eq!(cfg.rate_budgets["users"], limit(5, 5).unwrap());
    let system = Arc::new(
        ContractSystem::new(budgeted(limit(100, 100), None))
            .limit("users", 12)
            .limit("groups", 100),
    );
    let executor = Executor::builder()
        .system("dir", system.clone() as Arc<dyn Adapter>, cfg)
        .build()
        .unwrap();
    let report = executor
        .apply(&run("yaml"), &approved(&mixed_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    system.seen(|s| assert!(s.throttled.is_empty(), "429s: {:?}", s.throttled));

    // A mistake inside a budget is named like any other.
    let bad = "systems:\n  dir:\n    adapter: budgeted\n    rate_budgets:\n      users: {requests: 5, brust: 5}\n";
    let err = parse_config("provision.yaml", bad).unwrap_err().to_string();
    assert!(err.contains("systems.dir.rate_budgets.users"), "{err}");
    assert!(err.contains("brust"), "{err}");
}

fn gitlab_with(deadline: PendingDeadline) -> Arc<SandboxSystem> {
    let preset = presets::gitlab().sandbox("gitlab", SandboxConfig::default());
    let descriptor = preset.descriptor().clone().with_pending_deadline(deadline);
    Arc::new(SandboxSystem::new(
        "gitlab",
        descriptor,
        SandboxConfig {
            pending_recheck: Duration::from_secs(5),
            ..SandboxConfig::default()
        },
    ))
}

fn long_pending() -> PendingConfig {
    PendingConfig {
        interval: Duration::from_secs(10),
        deadline: Duration::from_secs(900),
    }
}

#[tokio::test(start_paused = true)]
async fn a_system_pending_deadline_bounds_the_rechecks() {
    let gitlab = gitlab_with(PendingDeadline::After {
        wait: Duration::from_secs(20),
    });
    let create_op = create("sarah", "gitlab");
    let p = plan(vec![create_op.clone()]);
    let exec = builder(&[&gitlab]).pending(long_pending()).build().unwrap();
    let started = Instant::now();
    let report = exec.apply(&run("after"), &approved(&p)).await.unwrap();
    let took = started.elapsed();
    // The system's 20 s, not the executor's 15 minutes.
    assert!(
        took >= Duration::from_secs(20) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert_eq!(report.operations[0].outcome, OperationOutcome::Pending);
    assert!(report.operations[0].checks >= 3, "re-checked meanwhile");
}

#[tokio::test(start_paused = true)]
async fn first_login_work_stays_pending_past_the_run_and_a_resume_finishes_it() {
    let gitlab = gitlab_with(PendingDeadline::FirstLogin);
    let create_op = create("sarah", "gitlab");
    let grant_op = grant("sarah", "gitlab", "group", "engineering");
    let p = plan(vec![create_op.clone(), grant_op.clone()]);
    let journal = Arc::new(MemJournal::default());
    let exec = builder(&[&gitlab])
        .pending(long_pending())
        .journal(journal.clone())
        .build()
        .unwrap();
    let started = Instant::now();
    let report = exec.apply(&run("joiner"), &approved(&p)).await.unwrap();
    // The run does not wait for a person to sign in.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let create_report = report.operation(&create_op.id).unwrap();
    assert_eq!(create_report.outcome, OperationOutcome::Pending);
    assert_eq!(report.totals.pending, 1);
    assert_eq!(
        report.operation(&grant_op.id).unwrap().outcome,
        OperationOutcome::Skipped {
            because: create_op.id.clone()
        }
    );
    // The journal keeps it pending and does not close the grant.
    let entries = journal.entries_of(&run("joiner"));
    let last = |id: &provision_core::model::OperationId| {
        entries
            .iter()
            .rev()
            .find(|e| &e.operation == id)
            .map(|e| e.state.clone())
    };
    assert_eq!(
        last(&create_op.id),
        Some(OperationState::Pending { resume: None })
    );
    assert!(last(&grant_op.id).is_none(), "{:?}", last(&grant_op.id));

    // Still no login: a resume (a restart) finds it pending again and does not wait.
    let report = exec.resume(&run("joiner")).await.unwrap();
    assert_eq!(
        report.operation(&create_op.id).unwrap().outcome,
        OperationOutcome::Pending
    );

    // She signs in; the next resume finds the account and makes the grant.
    gitlab.sso_login("sarah@example.com");
    let report = exec.resume(&run("joiner")).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(gitlab.snapshot().grants.contains(&(
        "sarah@example.com".into(),
        Entitlement::new("gitlab", "group", "engineering")
    )));
}

/// A system whose user groups are written as whole lists (Slack user groups).
fn lists() -> SystemDescriptor {
    SystemDescriptor::new("lists").with_accounts().with_kind(
        ResourceKindDescriptor::new("usergroup", &["add_to_usergroup"]).whole_list_membership(),
    )
}

/// Six people join one user group; one leaves it.
fn list_plan() -> provision_core::model::Plan {
    let mut ops: Vec<_> = (0..6)
        .map(|i| grant(&format!("p{i}"), "lists", "usergroup", "eng"))
        .collect();
    ops.push(revoke("old", "lists", "usergroup", "eng"));
    plan(ops)
}

fn expected_members() -> std::collections::BTreeSet<String> {
    (0..6).map(|i| login(&format!("p{i}"))).collect()
}

#[tokio::test(start_paused = true)]
async fn changes_to_one_whole_list_never_overlap() {
    // The adapter reads the list, waits 20 ms, writes it back: two at once lose one.
    let system = Arc::new(ContractSystem::new(lists()).latency(Duration::from_millis(20)));
    system.with_member("eng", &login("old"));
    let executor = Executor::builder()
        .system("lists", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let report = executor
        .apply(&run("lists"), &approved(&list_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(system.members("eng"), expected_members());
}

#[tokio::test(start_paused = true)]
async fn queued_changes_to_one_whole_list_go_as_one_batch() {
    let system = Arc::new(
        ContractSystem::new(lists())
            .latency(Duration::from_millis(20))
            .batching(),
    );
    system.with_member("eng", &login("old"));
    let executor = Executor::builder()
        .system("lists", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let report = executor
        .apply(&run("batch"), &approved(&list_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(system.members("eng"), expected_members());
    // All seven were ready at once: one read and one write for the lot.
    system.seen(|s| {
        assert_eq!(s.batches, vec![7]);
        assert_eq!(s.requests.len(), 1);
    });
    assert!(report.operations.iter().all(|o| o.attempts == 1));
}

/// A directory whose reads count against a `reads` budget (vendor: 2/s, burst 1).
fn directory() -> SystemDescriptor {
    lists().with_rate_budget(RateBudget::new("reads", limit(2, 1)))
}

#[tokio::test(start_paused = true)]
async fn a_429_during_a_read_waits_and_the_read_completes() {
    let system = Arc::new(ContractSystem::new(lists()));
    for i in 0..5 {
        system.with_account(&login(&format!("p{i}")));
    }
    system.throttle_reads(2);
    let executor = Executor::builder()
        .retry(fast_retry())
        .system("dir", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let dir = SystemName::new("dir");
    let started = Instant::now();
    let accounts = executor.read_accounts(&dir).await.unwrap();
    assert_eq!(accounts.len(), 5);
    // Two 429s, each "come back in 2 s", waited out.
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let stats = executor.read_stats(&dir).unwrap();
    assert_eq!(
        (stats.calls, stats.pages, stats.throttled, stats.retries),
        (5, 3, 2, 0),
        "{stats:?}"
    );
    assert_eq!(system.seen(|s| s.read_calls), 5);
}

#[tokio::test(start_paused = true)]
async fn reads_are_paced_by_their_budget_and_every_shape_drains() {
    // The server allows 3 reads per second; the vendor documents 2/s.
    let system = Arc::new(ContractSystem::new(directory()).limit("reads", 3));
    for i in 0..8 {
        let who = login(&format!("p{i}"));
        system.with_account(&who);
        system.with_member("eng", &who);
    }
    system.with_member("ops", &login("p0"));
    let executor = Executor::builder()
        .system("dir", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let dir = SystemName::new("dir");
    let started = Instant::now();
    // 4 + 4 + 1 + 1 pages at once: the limiter, not the server, spaces them.
    let eng = ResourceRef {
        system: dir.clone(),
        kind: "usergroup".into(),
        resource: "eng".into(),
        scope: None,
    };
    let p0 = AccountRef {
        login: login("p0"),
        external_id: None,
    };
    let (accounts, members, held, groups) = tokio::join!(
        executor.read_accounts(&dir),
        executor.read_grants(&eng),
        executor.read_account_grants(&dir, &p0),
        executor.list_resources(&dir, "usergroup"),
    );
    assert_eq!(accounts.unwrap().len(), 8);
    assert_eq!(members.unwrap().len(), 8);
    let held: Vec<String> = held
        .unwrap()
        .into_iter()
        .map(|g| g.entitlement.resource)
        .collect();
    assert_eq!(held, ["eng", "ops"]);
    assert_eq!(groups.unwrap().len(), 2);
    system.seen(|s| assert!(s.throttled.is_empty(), "429s: {:?}", s.throttled));
    // 10 pages at 2/s after a burst of 1 and one probe: at least 4 s.
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(executor.read_stats(&dir).unwrap().pages, 10);

    let unknown = executor.read_accounts(&SystemName::new("nope")).await;
    assert!(matches!(unknown, Err(ExecutorReadError::UnknownSystem(_))));
}

#[tokio::test(start_paused = true)]
async fn a_run_cancelled_mid_request_leaves_no_budget_waiting_for_its_answer() {
    let system = Arc::new(ContractSystem::new(budgeted(limit(5, 5), limit(50, 10))));
    let journal = Arc::new(MemJournal::default());
    let executor = Executor::builder()
        .journal(journal.clone())
        .system("dir", system.clone() as Arc<dyn Adapter>, config(8))
        .build()
        .unwrap();
    let p = mixed_plan();
    // Stopped while the first request (of a budget not known yet) is out.
    let stopped = tokio::time::timeout(
        Duration::from_millis(2),
        executor.apply(&run("stop"), &approved(&p)),
    )
    .await;
    assert!(stopped.is_err(), "the run was still going");
    let report = executor.resume(&run("stop")).await.unwrap();
    assert!(report.is_complete(), "{report}");
}

#[tokio::test(start_paused = true)]
async fn a_429_on_one_budget_pauses_only_that_budget() {
    // No limits documented: the executor learns from the server. Users are limited to
    // 2 per second; groups are not limited at all.
    let system = Arc::new(ContractSystem::new(budgeted(None, None)).limit("users", 2));
    let executor = Executor::builder()
        .retry(fast_retry())
        .system("dir", system.clone() as Arc<dyn Adapter>, config(8))
        .build()
        .unwrap();
    let start = Instant::now();
    let report = executor
        .apply(&run("isolated"), &approved(&mixed_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    system.seen(|s| assert!(s.throttled.get("users").is_some_and(|&n| n > 0)));
    let groups = last_request(&system, "groups", start);
    let users = last_request(&system, "users", start);
    assert!(groups < Duration::from_secs(1), "groups took {groups:?}");
    assert!(users >= Duration::from_secs(9), "users took {users:?}");
}

#[tokio::test(start_paused = true)]
async fn an_apply_beside_a_read_on_the_same_budgets_waits_for_the_read_not_gives_up() {
    let system = Arc::new(ContractSystem::new(budgeted(limit(5, 5), limit(50, 10))));
    system.with_account(&login("x"));
    let executor = Executor::builder()
        .system("dir", system.clone() as Arc<dyn Adapter>, config(8))
        .build()
        .unwrap();
    let dir = SystemName::new("dir");
    // The read goes first: its request of a budget not known yet is out when the apply
    // starts, so the apply's first requests wait for that answer.
    let p = mixed_plan();
    let id = run("beside");
    let p = approved(&p);
    let (read, report) = tokio::join!(executor.read_accounts(&dir), executor.apply(&id, &p));
    assert_eq!(read.unwrap().len(), 1);
    let report = report.unwrap();
    assert!(report.is_complete(), "{report}");
}

/// A 429 whose `Retry-After` (a delay, so on no one's clock) says 2 s, from a system
/// whose clock runs 5 minutes ahead and whose adapter passes the reset time as the
/// server stated it. The executor waits the delay, not until the server-clock reset.
#[tokio::test(start_paused = true)]
async fn a_429_from_a_server_clock_ahead_waits_its_retry_after_not_its_skewed_reset() {
    throttled_grant_waits(300).await;
}

/// The same with the server's clock 5 minutes behind: the reset is already in the past
/// on our clock, and the wait is still the delay.
#[tokio::test(start_paused = true)]
async fn a_429_from_a_server_clock_behind_waits_its_retry_after() {
    throttled_grant_waits(-300).await;
}

async fn throttled_grant_waits(skew_secs: i64) {
    let system = Arc::new(ContractSystem::new(budgeted(None, None)));
    system.with_account("ann");
    let server_now = chrono::Utc::now() + chrono::Duration::seconds(skew_secs);
    system.fail_once(
        "grant",
        AdapterError::RateLimited {
            info: RateLimitInfo {
                retry_after: Some(Duration::from_secs(2)),
                reset_at: Some(server_now + chrono::Duration::seconds(2)),
                remaining: Some(0),
                ..RateLimitInfo::default()
            },
            error: SystemError::new(Some(429), None, "slow down"),
        },
    );
    let executor = Executor::builder()
        .retry(fast_retry())
        .system("dir", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let grant = grant("ann", "dir", "group", "eng");
    let report = executor
        .apply(&run("skew"), &approved(&plan(vec![grant.clone()])))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let sent: Vec<tokio::time::Instant> =
        system.seen(|s| s.requests.iter().map(|(_, at)| *at).collect());
    assert_eq!(sent.len(), 2, "the 429 and the accepted grant");
    let waited = sent[1] - sent[0];
    assert!(
        waited >= Duration::from_secs(2),
        "sent again after {waited:?}, before the Retry-After"
    );
    assert!(
        waited < Duration::from_secs(4),
        "sent again after {waited:?} (server clock {skew_secs:+} s): over-waited"
    );
}

/// A kind whose members are changed one by one but whose API takes many at once
/// (Slack channels): `max_batch` without whole-list membership.
fn invites(max_batch: usize) -> SystemDescriptor {
    SystemDescriptor::new("lists").with_accounts().with_kind(
        ResourceKindDescriptor::new("usergroup", &["add_to_usergroup"]).with_max_batch(max_batch),
    )
}

#[tokio::test(start_paused = true)]
async fn a_batched_kind_sends_at_most_its_max_batch_per_call() {
    // Seven changes to one resource, at most 3 per call: two batches of 3 and one
    // change alone (a batch of one is an ordinary `execute`); each sent exactly once.
    let system = Arc::new(ContractSystem::new(invites(3)).latency(Duration::from_millis(20)));
    system.with_member("eng", &login("old"));
    let executor = Executor::builder()
        .system("lists", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let report = executor
        .apply(&run("max-batch"), &approved(&list_plan()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let mut sizes = system.seen(|s| s.batches.clone());
    sizes.sort_unstable();
    assert_eq!(sizes, vec![3, 3], "batch sizes");
    assert_eq!(report.totals.succeeded, 7, "{report}");
    assert_eq!(
        system.seen(|s| s.requests.len()),
        7,
        "each change sent once"
    );
}

#[tokio::test(start_paused = true)]
async fn batches_of_a_kind_that_is_not_whole_list_may_run_side_by_side() {
    // Not whole-list: the executor does not hold the second batch back until the first
    // is answered, so with 20 ms per request the three batches overlap (a whole-list
    // kind would take 3 × 20 ms, one after another). The system answers a batch in
    // one 20 ms request.
    let system = Arc::new(
        ContractSystem::new(invites(3))
            .latency(Duration::from_millis(20))
            .batching(),
    );
    let executor = Executor::builder()
        .system("lists", system.clone() as Arc<dyn Adapter>, config(4))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let report = executor
        .apply(&run("side-by-side"), &approved(&list_plan()))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(system.seen(|s| s.batches.len()), 2);
    assert_eq!(
        system.seen(|s| s.requests.len()),
        3,
        "two batch requests and one single change"
    );
    assert!(report.is_complete(), "{report}");
    assert!(
        took < Duration::from_millis(40),
        "batches ran one after another: {took:?}"
    );
}
