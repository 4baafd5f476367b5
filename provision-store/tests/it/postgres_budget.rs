//! Two instances — two executors, each with its own limiters and its own PostgreSQL
//! pool as budget registry — send to one sandbox system that counts requests per
//! fixed window and answers 429 past its budget. Together they never exceed the
//! budget in any window and still use most of it; when one dies, the survivor goes
//! back to the whole budget once the dead one's lease has lapsed; one instance's 429
//! pauses the other.
//!
//! Runs only with the `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (see
//! `pg_url`); otherwise each test prints SKIPPED and passes (fails when
//! `PROVISION_REQUIRE_POSTGRES=1`, as in CI). Figures are printed with `--nocapture`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use crate::pg_url;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::Adapter;
use provision_core::config::{RateLimitConfig, SystemConfig};
use provision_core::executor::{BudgetShare, Executor, ShareSettings, SharedBudget, SharedPause};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountProfile, IdentityId, Operation, OperationKind, Plan, Priority, Reason, ReasonKind,
    SystemName,
};
use provision_core::planner::ApprovedPlan;
use provision_sandbox::{SandboxConfig, SandboxRateLimit, SandboxSystem, WindowCount, presets};
use provision_store::PostgresStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::time::Instant;

/// The system's budget: this many requests per window.
const BUDGET: u32 = 10;
const WINDOW: Duration = Duration::from_millis(250);

async fn fresh_db(name: &str) -> Option<PgConnectOptions> {
    let url = pg_url::postgres_url(name)?;
    let admin = PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_budget_{}_{name}", std::process::id());
    let mut conn = admin.connect().await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    Some(admin.database(&db))
}

fn settings() -> ShareSettings {
    ShareSettings {
        instance: None,
        heartbeat: Duration::from_millis(200),
        lease: Duration::from_secs(1),
    }
}

/// The shared system, counting requests per window; past the budget it answers 429.
fn system(rate_limit: Option<SandboxRateLimit>) -> Arc<SandboxSystem> {
    Arc::new(presets::okta().sandbox(
        "okta",
        SandboxConfig {
            latency: Duration::from_millis(5),
            rate_limit,
            ..SandboxConfig::default()
        },
    ))
}

fn budgeted_system() -> Arc<SandboxSystem> {
    system(Some(SandboxRateLimit {
        requests: BUDGET,
        window: WINDOW,
    }))
}

/// An instance: its own executor (own limiters) and its own share of the budget,
/// registered through its own store (own pool) on the common database.
async fn instance(
    options: &PgConnectOptions,
    okta: &Arc<SandboxSystem>,
    limit: Option<RateLimitConfig>,
) -> (Executor, BudgetShare, tokio::task::JoinHandle<()>) {
    let store = Arc::new(PostgresStore::connect_with(options.clone()).await.unwrap());
    let share = BudgetShare::join(store, settings()).await.unwrap();
    let heartbeat = tokio::spawn(share.clone().run());
    let adapter: Arc<dyn Adapter> = Arc::clone(okta) as _;
    let executor = Executor::builder()
        .system(
            "okta",
            adapter,
            SystemConfig {
                rate_limit: limit,
                ..SystemConfig::new("sandbox")
            },
        )
        .shared_budget(share.clone())
        .build()
        .unwrap();
    (executor, share, heartbeat)
}

/// The published limit every instance is configured with: the sandbox's budget as a
/// rate (40/s), one request at a time (a burst would land in one window).
fn published_limit() -> Option<RateLimitConfig> {
    let per_second =
        u32::try_from(Duration::from_secs(1).as_millis() / WINDOW.as_millis()).unwrap() * BUDGET;
    Some(RateLimitConfig {
        requests: per_second,
        per_seconds: 1,
        burst: Some(1),
    })
}

/// `count` account creations for people named `{prefix}{n}`.
fn plan(prefix: &str, count: usize) -> ApprovedPlan {
    let operations = (0..count)
        .map(|n| {
            let person = format!("{prefix}{n}");
            let login = format!("{person}@example.com");
            let identity = IdentityId::new(&person);
            let system = SystemName::new("okta");
            let kind = OperationKind::CreateAccount {
                profile: AccountProfile {
                    login: login.clone(),
                    email: login.clone(),
                    display_name: person.clone(),
                    attributes: BTreeMap::new(),
                    ..Default::default()
                },
            };
            Operation {
                id: Operation::make_id(&identity, &system, &kind),
                identity,
                login,
                system,
                kind,
                reason: Reason {
                    kind: ReasonKind::PolicyGrant,
                    policies: vec!["Everyone".into()],
                    event: None,
                    detail: "test".into(),
                    valid_until: None,
                },
                priority: Priority::Normal,
            }
        })
        .collect();
    ApprovedPlan::confirmed(
        Plan {
            operations,
            dependencies: Vec::new(),
        },
        0,
        0,
    )
    .unwrap()
}

fn counts(windows: &[WindowCount]) -> Vec<u32> {
    windows.iter().map(|w| w.requests).collect()
}

fn assert_within_budget(windows: &[WindowCount]) {
    assert!(
        windows
            .iter()
            .all(|w| w.requests <= BUDGET && w.rejected == 0),
        "a window exceeded the budget of {BUDGET} per {WINDOW:?}: {windows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_together_stay_within_the_budget_and_use_most_of_it() {
    let Some(options) = fresh_db("together").await else {
        return;
    };
    let okta = budgeted_system();
    let (a, a_share, a_beat) = instance(&options, &okta, published_limit()).await;
    let (b, b_share, b_beat) = instance(&options, &okta, published_limit()).await;
    assert_eq!(b_share.live_instances(), 2, "b saw a when it joined");
    // b waits one heartbeat after joining; a halves at its next heartbeat.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a_share.live_instances(), 2);

    let per_instance = 60;
    let (run_a, run_b) = (RunId("a".into()), RunId("b".into()));
    let (plan_a, plan_b) = (plan("a", per_instance), plan("b", per_instance));
    let started = Instant::now();
    let (ra, rb) = tokio::join!(a.apply(&run_a, &plan_a), b.apply(&run_b, &plan_b),);
    let makespan = started.elapsed();
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.success_rate(), 1.0);
    assert_eq!(rb.success_rate(), 1.0);

    let windows = okta.requests_per_window();
    let total: u32 = windows.iter().map(|w| w.requests).sum();
    assert_eq!(
        total as usize,
        2 * per_instance,
        "one request per operation"
    );
    let bound = WINDOW * (total / BUDGET);
    eprintln!(
        "two instances: requests per {WINDOW:?} window {:?}; makespan {makespan:?} vs bound {bound:?}",
        counts(&windows)
    );
    assert_within_budget(&windows);
    // Not collapsed: at the combined budget the work takes `bound`; allow scheduling
    // slack on a busy machine, but far less than one instance alone would need (2x).
    assert!(
        makespan < bound.mul_f64(1.5),
        "makespan {makespan:?} vs bound {bound:?}"
    );
    // The interior windows run near the budget (each instance at half of it).
    let interior = &windows[1..windows.len() - 1];
    let mean = f64::from(interior.iter().map(|w| w.requests).sum::<u32>()) / interior.len() as f64;
    assert!(
        mean >= f64::from(BUDGET) * 0.7,
        "interior windows average {mean:.1} of {BUDGET}"
    );
    a_beat.abort();
    b_beat.abort();
    a_share.leave().await.unwrap();
    b_share.leave().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_one_instance_dies_the_survivor_goes_back_to_the_whole_budget() {
    let Some(options) = fresh_db("survivor").await else {
        return;
    };
    let okta = budgeted_system();
    let (a, a_share, a_beat) = instance(&options, &okta, published_limit()).await;
    let (b, _b_share, b_beat) = instance(&options, &okta, published_limit()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    // a has more work than b: it runs on alone after b's death.
    let (run_a, run_b) = (RunId("a".into()), RunId("b".into()));
    let (plan_a, plan_b) = (plan("a", 120), plan("b", 80));
    let started = Instant::now();
    let kill_after = Duration::from_secs(1);
    let (ra, b_outcome) = tokio::join!(a.apply(&run_a, &plan_a), async {
        // b dies mid-run: its requests stop and its heartbeat stops (no `leave`).
        let outcome = tokio::time::timeout(kill_after, b.apply(&run_b, &plan_b)).await;
        b_beat.abort();
        outcome
    },);
    let makespan = started.elapsed();
    assert_eq!(ra.unwrap().success_rate(), 1.0);
    assert!(b_outcome.is_err(), "b was still working when it died");
    assert_eq!(a_share.live_instances(), 1, "a counts b out");

    let windows = okta.requests_per_window();
    eprintln!(
        "b dies after {kill_after:?} (lease {:?}, heartbeat {:?}): requests per {WINDOW:?} window {:?}; a finished after {makespan:?}",
        settings().lease,
        settings().heartbeat,
        counts(&windows)
    );
    assert_within_budget(&windows);
    // From b's death plus its lease plus a heartbeat (and a margin), a alone uses the
    // whole budget: windows run near BUDGET, not at a's former half.
    let origin = okta.stats().first_request.unwrap();
    let recovered = started + kill_after + settings().lease + settings().heartbeat * 3;
    let first = u64::try_from((recovered - origin).as_nanos() / WINDOW.as_nanos()).unwrap() + 1;
    let after: Vec<&WindowCount> = windows[..windows.len() - 1]
        .iter()
        .filter(|w| w.index >= first)
        .collect();
    assert!(after.len() >= 3, "a ran on alone for a while: {windows:?}");
    let mean = f64::from(after.iter().map(|w| w.requests).sum::<u32>()) / after.len() as f64;
    eprintln!("survivor alone: {mean:.1} requests per window of {BUDGET}");
    assert!(
        mean > f64::from(BUDGET) * 0.65, // well above half, with slack for a busy CI machine
        "a alone averages {mean:.1} per window; half the budget would be {}",
        BUDGET / 2
    );
    a_beat.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instances_429_pauses_the_other() {
    let Some(options) = fresh_db("pause").await else {
        return;
    };
    // A budget of 5 per 1 s window the instances were not told about (no published
    // limit), used up by another client of the API: a finds out with a 429 (whose
    // Retry-After is the window's end), b must not.
    let okta = system(Some(SandboxRateLimit {
        requests: 5,
        window: Duration::from_secs(1),
    }));
    let (a, _a_share, a_beat) = instance(&options, &okta, None).await;
    let (b, b_share, b_beat) = instance(&options, &okta, None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    okta.consume_quota(5);

    let (run_a, run_b) = (RunId("a".into()), RunId("b".into()));
    let (plan_a, plan_b) = (plan("alpha", 8), plan("beta", 3));
    let a_run = a.apply(&run_a, &plan_a);
    let b_run = async {
        // b starts once a has met the 429 and the pause had time to be published.
        let give_up = Instant::now() + Duration::from_secs(10);
        while okta.stats().rate_limited == 0 {
            assert!(Instant::now() < give_up, "a never met the 429");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b_share.beat().await; // (the heartbeat would within 200 ms)
        b.apply(&run_b, &plan_b).await
    };
    let (ra, rb) = tokio::join!(a_run, b_run);
    assert_eq!(ra.unwrap().success_rate(), 1.0);
    assert_eq!(rb.unwrap().success_rate(), 1.0);
    let windows = okta.requests_per_window();
    eprintln!("shared 429 pause: requests per 1 s window {windows:?}");
    let rejected: u32 = windows.iter().map(|w| w.rejected).sum();
    // a's concurrent first requests met the 429 (up to its concurrency); none of b's:
    // b waited for the window a was told about, and from there on the two split it.
    let b_rejected = okta
        .stats()
        .log
        .iter()
        .filter(|e| {
            e.rate_limited
                && e.operation
                    .as_ref()
                    .is_some_and(|o| o.0.starts_with("beta"))
        })
        .count();
    assert_eq!(b_rejected, 0, "b was paused by a's 429: {windows:?}");
    assert!(rejected >= 1, "{windows:?}");
    assert!(
        windows[1..]
            .iter()
            .all(|w| w.rejected == 0 && w.requests <= 5),
        "{windows:?}"
    );
    a_beat.abort();
    b_beat.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_counts_live_leases_and_keeps_the_longest_pause() {
    let Some(options) = fresh_db("registry").await else {
        return;
    };
    let one = PostgresStore::connect_with(options.clone()).await.unwrap();
    let two = PostgresStore::connect_with(options).await.unwrap();
    let lease = Duration::from_millis(300);
    assert_eq!(one.renew("one", lease).await.unwrap().live_instances, 1);
    assert_eq!(two.renew("two", lease).await.unwrap().live_instances, 2);
    assert_eq!(one.renew("one", lease).await.unwrap().live_instances, 2);
    for remaining in [Duration::from_secs(5), Duration::from_secs(1)] {
        one.publish_pause(&SharedPause {
            system: "okta".into(),
            budget: Some("users".into()),
            remaining,
        })
        .await
        .unwrap();
    }
    let membership = two.renew("two", lease).await.unwrap();
    assert_eq!(membership.pauses.len(), 1, "{membership:?}");
    let pause = &membership.pauses[0];
    assert_eq!(
        (pause.system.as_str(), pause.budget.as_deref()),
        ("okta", Some("users"))
    );
    assert!(pause.remaining > Duration::from_secs(4), "{pause:?}");
    // "one" stops renewing: past its lease only "two" is live; "two" leaves.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(two.renew("two", lease).await.unwrap().live_instances, 1);
    two.leave("two").await.unwrap();
    assert_eq!(one.renew("one", lease).await.unwrap().live_instances, 1);
}
