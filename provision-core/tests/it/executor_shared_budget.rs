//! Two executors in one process share a system's budget through the in-memory
//! registry (the PostgreSQL variant, across pools, is
//! `provision-store/tests/postgres_budget.rs`). On tokio's paused clock: exact and fast.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::Adapter;
use provision_core::config::{RateLimitConfig, SystemConfig};
use provision_core::executor::{BudgetShare, Executor, InMemorySharedBudget, ShareSettings};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountProfile, IdentityId, Operation, OperationKind, Plan, Priority, Reason, ReasonKind,
    SystemName,
};
use provision_core::planner::ApprovedPlan;
use provision_sandbox::{SandboxConfig, SandboxRateLimit, SandboxSystem, presets};
use tokio::time::Instant;

const BUDGET: u32 = 10;
const WINDOW: Duration = Duration::from_millis(250);

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
    let plan = Plan {
        operations,
        dependencies: Vec::new(),
    };
    ApprovedPlan::confirmed(plan, 0, 0).unwrap()
}

async fn instance(
    registry: &Arc<InMemorySharedBudget>,
    okta: &Arc<SandboxSystem>,
    shared: bool,
) -> (Executor, BudgetShare) {
    let settings = ShareSettings {
        instance: None,
        heartbeat: Duration::from_millis(200),
        lease: Duration::from_secs(1),
    };
    let share = BudgetShare::join(registry.clone(), settings).await.unwrap();
    tokio::spawn(share.clone().run());
    let adapter: Arc<dyn Adapter> = Arc::clone(okta) as _;
    let mut builder = Executor::builder().system(
        "okta",
        adapter,
        SystemConfig {
            // The budget as a rate: 40/s, one at a time.
            rate_limit: Some(RateLimitConfig {
                requests: 40,
                per_seconds: 1,
                burst: Some(1),
            }),
            ..SystemConfig::new("sandbox")
        },
    );
    if shared {
        builder = builder.shared_budget(share.clone());
    }
    (builder.build().unwrap(), share)
}

/// Requests per window when two instances each apply 60 creations at once.
async fn two_instances(shared: bool) -> (Vec<(u32, u32)>, Duration) {
    let okta = Arc::new(presets::okta().sandbox(
        "okta",
        SandboxConfig {
            latency: Duration::from_millis(5),
            rate_limit: Some(SandboxRateLimit {
                requests: BUDGET,
                window: WINDOW,
            }),
            ..SandboxConfig::default()
        },
    ));
    let registry = Arc::new(InMemorySharedBudget::new());
    let (a, _) = instance(&registry, &okta, shared).await;
    let (b, _) = instance(&registry, &okta, shared).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (run_a, run_b) = (RunId("a".into()), RunId("b".into()));
    let (plan_a, plan_b) = (plan("a", 60), plan("b", 60));
    let started = Instant::now();
    let (ra, rb) = tokio::join!(a.apply(&run_a, &plan_a), b.apply(&run_b, &plan_b));
    let makespan = started.elapsed();
    assert_eq!(ra.unwrap().success_rate(), 1.0);
    assert_eq!(rb.unwrap().success_rate(), 1.0);
    let windows = okta
        .requests_per_window()
        .iter()
        .map(|w| (w.requests, w.rejected))
        .collect();
    (windows, makespan)
}

#[tokio::test(start_paused = true)]
async fn two_executors_sharing_a_budget_never_exceed_it_and_use_it() {
    let (windows, makespan) = two_instances(true).await;
    assert!(
        windows
            .iter()
            .all(|&(n, rejected)| n <= BUDGET && rejected == 0),
        "{windows:?}"
    );
    // 120 requests at 10 per 250 ms: 3 s at best.
    assert!(makespan <= Duration::from_millis(3300), "{makespan:?}");
}

#[tokio::test(start_paused = true)]
async fn without_sharing_two_executors_send_twice_the_budget() {
    let (windows, _) = two_instances(false).await;
    assert!(
        windows
            .iter()
            .any(|&(n, rejected)| n > BUDGET && rejected > 0),
        "each at the whole budget overruns it: {windows:?}"
    );
}
