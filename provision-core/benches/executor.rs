//! Executor benchmarks against sandbox systems (prints figures; not a timed test).
//!
//! `cargo bench -p provision-core --bench executor`
//!
//! 1. Makespan of 1,000 joiners across six systems with the vendors' published rate
//!    limits compressed 12x in time, against the rate-limit lower bound (the busiest
//!    system's operations divided by its rate); plus a one-call-at-a-time run for contrast.
//! 2. Leaver latency: one leaver, six systems at 50 ms latency.
//! 3. 1,000 simultaneous leavers against the bound.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use provision_core::adapter::{Adapter, AdapterError};
use provision_core::executor::{Executor, ExternalIds, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountProfile, AccountRef, AccountState, Entitlement, IdentityId, Operation, OperationKind,
    Plan, Priority, Reason, ReasonKind, SystemName,
};
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
    systems: Vec<(String, Arc<SandboxSystem>, u32)>,
    executor: Executor,
}

fn world(latency: Duration, concurrency: usize) -> World {
    let mut systems = Vec::new();
    let mut builder = Executor::builder().retry(RetryConfig::default());
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
        builder = builder.system(name, sandbox.clone() as Arc<dyn Adapter>, config);
        systems.push((name.to_owned(), sandbox, limit.requests));
    }
    World {
        systems,
        executor: builder.build().expect("valid configuration"),
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

/// The busiest system's operations divided by its rate, in seconds.
fn bound(world: &World, plan: &Plan) -> (f64, String) {
    world
        .systems
        .iter()
        .map(|(name, _, per_second)| {
            let ops = plan
                .operations
                .iter()
                .filter(|o| o.system.as_str() == name)
                .count();
            (
                ops as f64 / f64::from(*per_second),
                format!("{name}: {ops} ops at {per_second}/s"),
            )
        })
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a })
}

fn leavers(world: &World, n: usize) -> Plan {
    let mut plan = Plan::default();
    for i in 0..n {
        let who = format!("l{i}");
        for (name, sandbox, _) in &world.systems {
            let login = format!("{who}@example.com");
            sandbox.with_account(&login, AccountState::Active);
            let d = sandbox.descriptor();
            if d.can_revoke_sessions {
                plan.operations.push(op(
                    &who,
                    name,
                    OperationKind::RevokeSessions,
                    Priority::Leaver,
                ));
            }
            if d.can_suspend {
                plan.operations.push(op(
                    &who,
                    name,
                    OperationKind::SuspendAccount,
                    Priority::Leaver,
                ));
            } else {
                let e = Entitlement::new(name.as_str(), "permission_set", "ReadOnly");
                sandbox.with_grant(&login, e.clone());
                plan.operations.push(op(
                    &who,
                    name,
                    OperationKind::Revoke { entitlement: e },
                    Priority::Leaver,
                ));
            }
        }
    }
    plan
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
        // 1. Joiners.
        let w = world(Duration::from_millis(20), 16);
        let plan = joiners(&w, 1000);
        let (lower, busiest) = bound(&w, &plan);
        let start = Instant::now();
        let report = w.executor.apply(&RunId("joiners".into()), &plan).await.expect("run");
        let makespan = start.elapsed().as_secs_f64();
        assert!(report.is_complete(), "{}", report.totals.failed);
        let throttled: u64 = w.systems.iter().map(|(_, s, _)| s.stats().rate_limited).sum();
        println!("joiners: 1000 joiners, {} operations, six systems, limits x{SPEEDUP}, 20 ms latency", plan.operations.len());
        println!("  bound {lower:.2} s ({busiest}); makespan {makespan:.2} s; ratio {:.3}; 429s seen {throttled}", makespan / lower);

        let w = world(Duration::from_millis(20), 16);
        let small = joiners(&w, 100);
        let seq = sequential(&w, &small).await.as_secs_f64();
        println!("  sequential one call at a time: 100 joiners ({} ops) took {seq:.2} s (x10 for 1000: ~{:.0} s)", small.operations.len(), seq * 10.0);

        // 2. One leaver, six systems, 50 ms.
        let w = world(Duration::from_millis(50), 4);
        let plan = leavers(&w, 1);
        let start = Instant::now();
        let report = w.executor.apply(&RunId("leaver".into()), &plan).await.expect("run");
        assert!(report.is_complete());
        println!("leaver: 1 leaver, {} operations over six systems at 50 ms latency: all sessions revoked and accounts suspended in {:.1} ms", plan.operations.len(), start.elapsed().as_secs_f64() * 1000.0);

        // 3. 1,000 simultaneous leavers.
        let w = world(Duration::from_millis(20), 16);
        let plan = leavers(&w, 1000);
        let (lower, busiest) = bound(&w, &plan);
        let start = Instant::now();
        let report = w.executor.apply(&RunId("leavers".into()), &plan).await.expect("run");
        assert!(report.is_complete());
        let makespan = start.elapsed().as_secs_f64();
        println!("leavers: 1000 leavers, {} operations: bound {lower:.2} s ({busiest}); makespan {makespan:.2} s; ratio {:.3}", plan.operations.len(), makespan / lower);
    });
}
