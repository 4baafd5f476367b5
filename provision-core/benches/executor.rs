//! Executor benchmarks against sandbox systems (prints figures; not a timed test).
//!
//! `cargo bench -p provision-core --bench executor`
//!
//! 1. Makespan of 1,000 joiners across six systems with the vendors' published rate
//!    limits compressed 12x in time, against the rate-limit lower bound (see [`bound`]);
//!    plus a one-call-at-a-time run for contrast.
//! 2. Leaver latency: one leaver, six systems at 50 ms latency.
//! 3. 1,000 simultaneous leavers against the bound.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use provision_core::adapter::{Adapter, AdapterError};
use provision_core::config::{DeploymentConfig, RateLimitConfig};
use provision_core::executor::{Executor, ExternalIds, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountProfile, AccountRef, AccountState, EmploymentStatus, Entitlement, Identity, IdentityId,
    Operation, OperationKind, Plan, PolicySet, Priority, Reason, ReasonKind, SystemName,
};
use provision_core::planner::{Descriptors, Planner};
use provision_core::planner::{correlate_reads, read_system};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};

const SPEEDUP: u32 = 12;

fn op(who: &str, system: &str, kind: OperationKind, priority: Priority) -> Operation {
    let identity = IdentityId::new(who);
    let system = SystemName::new(system);
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: format!("{who}@example.com"),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec![],
            event: None,
            detail: String::new(),
            valid_until: None,
        },
        priority,
    }
}

fn create(who: &str, system: &str) -> Operation {
    let login = format!("{who}@example.com");
    op(
        who,
        system,
        OperationKind::CreateAccount {
            profile: AccountProfile {
                login: login.clone(),
                email: login,
                display_name: who.into(),
                attributes: BTreeMap::new(),
                ..Default::default()
            },
        },
        Priority::Normal,
    )
}

fn grant(who: &str, system: &str, kind: &str, resource: &str) -> Operation {
    op(
        who,
        system,
        OperationKind::Grant {
            entitlement: Entitlement::new(system, kind, resource),
        },
        Priority::Normal,
    )
}

struct World {
    /// Per system: its name, its sandbox, and the rate budgets its requests count
    /// against (the system's `rate_limit`; plus its named budgets, when it has any).
    systems: Vec<(String, Arc<SandboxSystem>, Vec<RateLimitConfig>)>,
    executor: Executor,
    /// The deployment the planner and orderer see.
    config: DeploymentConfig,
}

fn world(latency: Duration, concurrency: usize) -> World {
    let mut systems = Vec::new();
    let mut builder = Executor::builder().retry(RetryConfig::default());
    let mut deployment = DeploymentConfig::default();
    for (name, preset) in presets::all()
        .into_iter()
        .filter(|(n, _)| *n != "salesforce")
    {
        let limit = preset.rate_limit(SPEEDUP);
        let sandbox = Arc::new(preset.sandbox(
            name,
            SandboxConfig {
                latency,
                rate_limit: Some(limit),
                ..SandboxConfig::default()
            },
        ));
        let mut config = preset.system_config(SPEEDUP);
        config.concurrency = Some(concurrency);
        // The sandbox enforces one budget per system; named budgets, when a preset
        // declares them, count as well.
        let mut budgets: Vec<RateLimitConfig> = config.rate_limit.into_iter().collect();
        budgets.extend(
            sandbox
                .descriptor()
                .rate_budgets
                .iter()
                .filter_map(|b| config.rate_budgets.get(&b.name).or(b.limit.as_ref()))
                .copied(),
        );
        deployment.systems.insert(name.into(), config.clone());
        builder = builder.system(name, sandbox.clone() as Arc<dyn Adapter>, config);
        systems.push((name.to_owned(), sandbox, budgets));
    }
    World {
        systems,
        executor: builder.build().expect("valid configuration"),
        config: deployment,
    }
}

fn joiners(world: &World, n: usize) -> Plan {
    let mut plan = Plan::default();
    for i in 0..n {
        let who = format!("j{i}");
        // GitLab accounts appear on first SSO login: those joiners have signed in already.
        if let Some((_, gitlab, _)) = world.systems.iter().find(|(n, _, _)| n == "gitlab") {
            gitlab.sso_login(&format!("{who}@example.com"));
        }
        let mut add = |ops: Vec<Operation>| {
            let first = ops[0].id.clone();
            let has_create = matches!(ops[0].kind, OperationKind::CreateAccount { .. });
            for (k, o) in ops.into_iter().enumerate() {
                if has_create && k > 0 {
                    plan.dependencies.push(provision_core::model::Dependency {
                        before: first.clone(),
                        after: o.id.clone(),
                    });
                }
                plan.operations.push(o);
            }
        };
        add(vec![
            create(&who, "okta"),
            grant(&who, "okta", "group", "engineering"),
            grant(&who, "okta", "app", "aws-sso"),
        ]);
        add(vec![
            create(&who, "google"),
            grant(&who, "google", "group", "eng@example.com"),
        ]);
        add(vec![
            create(&who, "aws"),
            grant(&who, "aws", "permission_set", "ReadOnly"),
        ]);
        add(vec![grant(&who, "gitlab", "group", "engineering")]);
        add(vec![
            create(&who, "slack"),
            grant(&who, "slack", "channel", "#engineering"),
        ]);
        add(vec![
            create(&who, "jira"),
            grant(&who, "jira", "project_role", "ENG"),
        ]);
    }
    plan
}

/// The rate-limit lower bound of a plan's makespan, in seconds: over every system and
/// every budget its requests count against, the longest time the budget needs for the
/// system's operations, `(ops − burst) / rate` — the first `burst` requests can go at
/// once, the rest at the budget's rate. (Counting every operation against each budget
/// of its system over-states a named budget's share only when a system has several;
/// the sandbox presets have one.) Never above the true minimum, so makespan / bound
/// cannot fall below 1 by the bound's own error.
fn bound(world: &World, plan: &Plan) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for (name, _, budgets) in &world.systems {
        let ops = plan
            .operations
            .iter()
            .filter(|o| o.system.as_str() == name)
            .count();
        for budget in budgets {
            let rate = f64::from(budget.requests) / f64::from(budget.per_seconds.max(1));
            let burst = budget.burst.unwrap_or(budget.requests);
            let seconds = ops.saturating_sub(burst as usize) as f64 / rate;
            if seconds > worst.0 {
                worst = (
                    seconds,
                    format!("{name}: {ops} ops at {rate}/s after a burst of {burst}"),
                );
            }
        }
    }
    worst
}

/// `n` people with an active account (and, where the system cannot suspend, a
/// permission set) in every system, terminated in HR: the leaver plan as the planner
/// makes it from reading the systems, with the orderer's edges (sessions before
/// suspension, sessions before revocations).
async fn leavers(world: &World, n: usize) -> Plan {
    let now = Utc::now();
    let mut people = Vec::new();
    for i in 0..n {
        let who = format!("l{i}");
        let login = format!("{who}@example.com");
        for (name, sandbox, _) in &world.systems {
            sandbox.with_account(&login, AccountState::Active);
            if !sandbox.descriptor().can_suspend {
                let e = Entitlement::new(name.as_str(), "permission_set", "ReadOnly");
                sandbox.with_grant(&login, e);
            }
        }
        let mut person = Identity::new(who.as_str(), login.as_str(), who.as_str());
        person.status = EmploymentStatus::Terminated { effective: now };
        people.push(person);
    }
    let descriptors: Descriptors = world
        .systems
        .iter()
        .map(|(name, sandbox, _)| (SystemName::new(name.as_str()), sandbox.descriptor().clone()))
        .collect();
    let planner = Planner::new(&world.config, &descriptors);
    let desired = planner.desired(&people, &PolicySet::default(), now);
    let mut reads = BTreeMap::new();
    for (name, sandbox, _) in &world.systems {
        let name = SystemName::new(name.as_str());
        let read = read_system(sandbox.as_ref(), &name, &desired.managed_resources)
            .await
            .expect("read");
        reads.insert(name, read);
    }
    let actual = correlate_reads(&people, &reads, &world.config);
    let guarded = planner.plan(&desired, &actual, now).expect("no cycle");
    guarded.preview().clone()
}

async fn sequential(world: &World, plan: &Plan) -> Duration {
    let start = Instant::now();
    let mut ids = ExternalIds::new();
    for o in &plan.operations {
        let adapter = &world
            .systems
            .iter()
            .find(|(n, _, _)| n == o.system.as_str())
            .expect("system")
            .1;
        let account = AccountRef {
            login: o.login.clone(),
            external_id: ids.get(&o.identity, &o.system).cloned(),
        };
        loop {
            match adapter.execute(o, &account).await {
                Err(AdapterError::RateLimited { info, .. }) => {
                    tokio::time::sleep(info.retry_after.unwrap_or(Duration::from_secs(1))).await
                }
                Ok(applied) => {
                    if let Some(id) = applied.external_id {
                        ids.insert(o.identity.clone(), o.system.clone(), id);
                    }
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    start.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // 1. Joiners, three times (fresh systems each time): each ratio and the median.
        let mut ratios = Vec::new();
        for round in 1..=3 {
            let w = world(Duration::from_millis(20), 16);
            let plan = joiners(&w, 1000);
            let (lower, busiest) = bound(&w, &plan);
            let start = Instant::now();
            let report = w.executor.apply(&RunId(format!("joiners-{round}")), &approved(&plan)).await.expect("run");
            let makespan = start.elapsed().as_secs_f64();
            assert!(report.is_complete(), "{}", report.totals.failed);
            let throttled: u64 = w.systems.iter().map(|(_, s, _)| s.stats().rate_limited).sum();
            if round == 1 {
                println!("joiners: 1000 joiners, {} operations, six systems, limits x{SPEEDUP}, 20 ms latency", plan.operations.len());
            }
            println!("  round {round}: bound {lower:.2} s ({busiest}); makespan {makespan:.2} s; ratio {:.3}; 429s seen {throttled}", makespan / lower);
            ratios.push(makespan / lower);
        }
        ratios.sort_by(f64::total_cmp);
        println!("  median makespan/bound ratio over {} rounds: {:.3}", ratios.len(), ratios[ratios.len() / 2]);

        let w = world(Duration::from_millis(20), 16);
        let small = joiners(&w, 100);
        let seq = sequential(&w, &small).await.as_secs_f64();
        println!("  sequential one call at a time: 100 joiners ({} ops) took {seq:.2} s (x10 for 1000: ~{:.0} s)", small.operations.len(), seq * 10.0);

        // 2. One leaver, six systems, 50 ms.
        let w = world(Duration::from_millis(50), 4);
        let plan = leavers(&w, 1).await;
        let start = Instant::now();
        let report = w.executor.apply(&RunId("leaver".into()), &approved(&plan)).await.expect("run");
        assert!(report.is_complete());
        println!("leaver: 1 leaver, {} operations and {} dependency edges (the planner's and orderer's plan) over six systems at 50 ms latency: all sessions revoked and accounts suspended in {:.1} ms", plan.operations.len(), plan.dependencies.len(), start.elapsed().as_secs_f64() * 1000.0);

        // 3. 1,000 simultaneous leavers.
        let w = world(Duration::from_millis(20), 16);
        let plan = leavers(&w, 1000).await;
        let (lower, busiest) = bound(&w, &plan);
        let start = Instant::now();
        let report = w.executor.apply(&RunId("leavers".into()), &approved(&plan)).await.expect("run");
        assert!(report.is_complete());
        let makespan = start.elapsed().as_secs_f64();
        println!("leavers: 1000 leavers, {} operations: bound {lower:.2} s ({busiest}); makespan {makespan:.2} s; ratio {:.3}", plan.operations.len(), makespan / lower);
    });
}

/// A hand-built plan, confirmed (as a person reviewing it would) for every identity it
/// takes access from.
fn approved(plan: &provision_core::model::Plan) -> provision_core::planner::ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    provision_core::planner::ApprovedPlan::confirmed(
        plan.clone(),
        identities.len(),
        identities.len(),
    )
    .expect("a plan confirmed for all it removes is approved")
}
