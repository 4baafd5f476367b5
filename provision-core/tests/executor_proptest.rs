//! Random plans with random injected failures (transient below the retry budget,
#![allow(clippy::unwrap_used)] // tests may unwrap
//! rate limiting, timeouts after commit): the sandboxes end at the intended state
//! and no account is created twice.

mod exec_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use exec_support::*;
use proptest::prelude::*;
use provision_core::model::{AccountState, Entitlement};
use provision_sandbox::{
    AccountMap, GrantSet, SandboxConfig, SandboxRateLimit, SandboxSystem, presets,
};

const SYSTEMS: [&str; 3] = ["okta", "google", "slack"];
const GROUPS: [&str; 4] = ["engineering", "sales", "vpn", "all-hands"];

#[derive(Debug, Clone)]
struct Person {
    /// Per system: new account (true) or existing (false); groups to have; groups held to revoke.
    systems: Vec<(usize, bool, BTreeSet<usize>, BTreeSet<usize>)>,
}

fn person() -> impl Strategy<Value = Person> {
    proptest::collection::vec(
        (
            0..SYSTEMS.len(),
            any::<bool>(),
            proptest::collection::btree_set(0..GROUPS.len(), 0..3),
            proptest::collection::btree_set(0..GROUPS.len(), 0..2),
        ),
        1..3,
    )
    .prop_map(|mut systems| {
        systems.sort_by_key(|s| s.0);
        systems.dedup_by_key(|s| s.0);
        for s in &mut systems {
            let keep = s.2.clone();
            s.3.retain(|g| !keep.contains(g));
        }
        Person { systems }
    })
}

fn kind(system: &str) -> &'static str {
    if system == "slack" {
        "channel"
    } else {
        "group"
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_plans_with_faults_converge(
        people in proptest::collection::vec(person(), 1..7),
        transient in 0.0f64..0.3,
        timeouts in 0.0f64..0.2,
        limit in 3u32..12,
        seed in any::<u64>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let presets = [presets::okta(), presets::google(), presets::slack()];
            let sandboxes: Vec<Arc<SandboxSystem>> = SYSTEMS.iter().zip(presets.iter()).enumerate().map(|(i, (name, preset))| {
                Arc::new(preset.sandbox(name, SandboxConfig {
                    latency: Duration::from_millis(20),
                    rate_limit: Some(SandboxRateLimit { requests: limit, window: Duration::from_millis(500) }),
                    transient_failure_rate: transient,
                    timeout_after_commit_rate: timeouts,
                    max_consecutive_failures: Some(3),
                    seed: seed.wrapping_add(i as u64),
                    require_external_id: true,
                    ..SandboxConfig::default()
                }))
            }).collect();
            let mut ops = Vec::new();
            let mut expected: Vec<(AccountMap, GrantSet)> = vec![Default::default(); SYSTEMS.len()];
            let mut ids = provision_core::executor::ExternalIds::new();
            for (n, p) in people.iter().enumerate() {
                let who = format!("p{n}");
                for (s, new, want, drop) in &p.systems {
                    let system = SYSTEMS[*s];
                    let sandbox = &sandboxes[*s];
                    if *new {
                        ops.push(create(&who, system));
                    } else {
                        let id = sandbox.with_account(&login(&who), AccountState::Active);
                        ids.insert(provision_core::model::IdentityId::new(who.as_str()), sandbox.name().clone(), id);
                    }
                    expected[*s].0.insert(login(&who), AccountState::Active);
                    for g in want {
                        ops.push(grant(&who, system, kind(system), GROUPS[*g]));
                        expected[*s].1.insert((login(&who), Entitlement::new(system, kind(system), GROUPS[*g])));
                    }
                    for g in drop {
                        if !*new {
                            sandbox.with_grant(&login(&who), Entitlement::new(system, kind(system), GROUPS[*g]));
                            ops.push(revoke(&who, system, kind(system), GROUPS[*g]));
                        }
                    }
                }
            }
            let p = plan(ops);
            let exec = builder(&sandboxes.iter().collect::<Vec<_>>()).build().unwrap();
            let report = exec.apply_with_ids(&run("prop"), &approved(&p), ids).await.unwrap();
            assert!(report.is_complete(), "{report}");
            for (s, sandbox) in sandboxes.iter().enumerate() {
                let snap = sandbox.snapshot();
                assert_eq!(snap.accounts, expected[s].0, "accounts in {}", SYSTEMS[s]);
                assert_eq!(snap.grants, expected[s].1, "grants in {}", SYSTEMS[s]);
                let stats = sandbox.stats();
                assert!(stats.max_creates_per_login() <= 1, "an account was created twice in {}", SYSTEMS[s]);
            }
        });
    }
}
