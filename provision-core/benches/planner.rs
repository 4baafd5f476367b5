//! Planner time and peak memory for a large company: 100k identities, 10 grants
//! each across 6 systems (1M grants), an actual state that differs by about 5 %,
//! plus what reading every account's grants (`read_account_grants`, Okta and
//! Google groups enumerable) adds: one hand-made group per person on a resource no
//! policy names (100k more grants, kept under additive enforcement), and for
//! leavers their hand-made grants in Jira, which cannot suspend (revoked).
//!
//! Measured: desired state + diff + order + blast-radius guard
//! ([`Planner::desired`] then [`Planner::plan`]). Peak resident memory is read
//! from `/proc/self/status` (`VmHWM`) and printed.
//!
//! Run: `cargo bench -p provision-core --bench planner`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
use provision_core::config::{
    CrossSystemDependency, DependencyTarget, DeploymentConfig, SystemConfig,
};
use provision_core::model::*;
use provision_core::planner::{Descriptors, Planner};

const IDENTITIES: usize = 100_000;
const DEPARTMENTS: usize = 20;
const SENIORITIES: [&str; 3] = ["Junior", "Mid", "Senior"];
const LOCATIONS: [&str; 5] = ["Berlin", "London", "NYC", "SF", "Tokyo"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `VmHWM` (peak resident set) of this process, in MiB.
fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// `VmRSS` (current resident set) of this process, in MiB.
fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`
/// (clock ticks of 1/100 s, the Linux default). On a shared machine this is a
/// truer measure of the planner's cost than wall time.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn system(kinds: Vec<ResourceKindDescriptor>, suspend: bool) -> SystemDescriptor {
    let mut d = SystemDescriptor::new("bench");
    d.kinds = kinds;
    d.has_accounts = true;
    d.can_suspend = suspend;
    d.can_revoke_sessions = suspend;
    d
}

fn deployment() -> (DeploymentConfig, Descriptors) {
    let mut config = DeploymentConfig::default();
    let group = || ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable();
    let descriptors: Descriptors = BTreeMap::from([
        ("okta".into(), system(vec![group()], true)),
        ("google".into(), system(vec![group()], true)),
        (
            "aws".into(),
            system(
                vec![
                    ResourceKindDescriptor::new("permission_set", &["assign_permission_set"])
                        .with_scope("account"),
                ],
                false,
            ),
        ),
        (
            "gitlab".into(),
            system(
                vec![group().with_roles(&["reporter", "developer", "maintainer"], None)],
                true,
            ),
        ),
        (
            "slack".into(),
            system(
                vec![ResourceKindDescriptor::new("channel", &["invite"])],
                true,
            ),
        ),
        (
            "jira".into(),
            system(
                vec![
                    ResourceKindDescriptor::new("project_role", &["add_project_role"])
                        .with_roles(&["Developer"], None),
                ],
                false,
            ),
        ),
    ]);
    for name in descriptors.keys() {
        config
            .systems
            .insert(name.clone(), SystemConfig::new(name.as_str()));
    }
    for s in ["google", "aws", "gitlab", "slack", "jira"] {
        config.dependencies.push(CrossSystemDependency {
            system: s.into(),
            kind: None,
            depends_on: "okta".into(),
            on: DependencyTarget::Account,
        });
    }
    (config, descriptors)
}

fn grant(e: Entitlement) -> PolicyGrant {
    PolicyGrant {
        entitlement: e,
        validity: Validity::ALWAYS,
        source: None,
    }
}

/// 86 policies; every identity matches exactly four of them and gets 10 grants
/// across the 6 systems.
fn policies() -> PolicySet {
    let mut policies = vec![Policy {
        name: "All Staff".into(),
        selector: Selector::Everyone,
        grants: vec![
            grant(Entitlement::new("okta", "group", "all-staff")),
            grant(Entitlement::new("slack", "channel", "#general")),
        ],
        source: None,
    }];
    for d in 0..DEPARTMENTS {
        policies.push(Policy {
            name: format!("Department {d}"),
            selector: Selector::equals("department", format!("dept-{d}")),
            grants: vec![
                grant(Entitlement::new("okta", "group", format!("dept-{d}"))),
                grant(Entitlement::new(
                    "google",
                    "group",
                    format!("dept-{d}@company.com"),
                )),
                grant(Entitlement::new("slack", "channel", format!("#dept-{d}"))),
                grant(
                    Entitlement::new("jira", "project_role", format!("P{d}"))
                        .with_role("Developer"),
                ),
            ],
            source: None,
        });
        for (s, seniority) in SENIORITIES.iter().enumerate() {
            let role = ["reporter", "developer", "maintainer"][s];
            policies.push(Policy {
                name: format!("Department {d} {seniority}"),
                selector: Selector::All(vec![
                    Selector::equals("department", format!("dept-{d}")),
                    Selector::equals("seniority", *seniority),
                ]),
                grants: vec![
                    grant(Entitlement::new("gitlab", "group", format!("dept-{d}")).with_role(role)),
                    grant(
                        Entitlement::new("aws", "permission_set", format!("Dept{d}{seniority}"))
                            .with_scope("account:production"),
                    ),
                ],
                source: None,
            });
        }
    }
    for location in LOCATIONS {
        policies.push(Policy {
            name: format!("Office {location}"),
            selector: Selector::equals("location", location),
            grants: vec![
                grant(Entitlement::new(
                    "okta",
                    "group",
                    format!("office-{location}"),
                )),
                grant(Entitlement::new(
                    "google",
                    "group",
                    format!("office-{location}@company.com"),
                )),
            ],
            source: None,
        });
    }
    PolicySet { policies }
}

fn identities() -> Vec<Identity> {
    (0..IDENTITIES)
        .map(|i| {
            let mut id = Identity::new(
                format!("e{i:06}"),
                format!("user{i:06}@company.com"),
                format!("User {i}"),
            )
            .with_attribute("department", format!("dept-{}", i % DEPARTMENTS))
            .with_attribute("seniority", SENIORITIES[(i / 7) % 3])
            .with_attribute("location", LOCATIONS[(i / 3) % 5])
            .with_attribute("employment_type", "full_time");
            if i % 100 == 0 {
                // 1 % leavers.
                id.status = EmploymentStatus::Terminated {
                    effective: now() - chrono::Duration::days(1),
                };
            }
            id
        })
        .collect()
}

/// The systems as they were yesterday (everyone had everything), with about 5 %
/// differences: leavers (1 %), a missing grant (1 %), an extra grant on a managed
/// group (1 %), a manual grant nobody manages (1 %), a new joiner without a GitLab
/// account (1 %).
fn actual(desired: &DesiredState) -> ActualState {
    let mut state = ActualState::default();
    for (n, (id, want)) in desired.identities.iter().enumerate() {
        let mut have = ActualIdentity::default();
        let mut systems: Vec<&SystemName> = want.accounts.iter().collect();
        if want.grants.is_empty() {
            // Leaver: still has yesterday's accounts and grants.
            systems = Vec::new();
        }
        for system in systems {
            let record = AccountRecord {
                external_id: format!("{system}-{n}"),
                login: want.identity.login.clone(),
                state: AccountState::Active,
                last_login: None,
                attributes: BTreeMap::new(),
                correlation: Default::default(),
            };
            have.accounts.insert(
                system.clone(),
                ActualAccount {
                    external_id: record.external_id.clone(),
                    state: AccountState::Active,
                    record,
                },
            );
        }
        have.grants = want.grants.keys().cloned().collect();
        // What the account read shows beyond the policy-named resources.
        have.grants.insert(Entitlement::new(
            "okta",
            "group",
            format!("team-{}", n % 500),
        ));
        match n % 100 {
            0 => {
                for s in ["okta", "google", "aws", "gitlab", "slack", "jira"] {
                    let record = AccountRecord {
                        external_id: format!("{s}-{n}"),
                        login: want.identity.login.clone(),
                        state: AccountState::Active,
                        last_login: None,
                        attributes: BTreeMap::new(),
                        correlation: Default::default(),
                    };
                    have.accounts.insert(
                        s.into(),
                        ActualAccount {
                            external_id: record.external_id.clone(),
                            state: AccountState::Active,
                            record,
                        },
                    );
                }
                have.grants
                    .insert(Entitlement::new("okta", "group", "all-staff"));
                have.grants
                    .insert(Entitlement::new("jira", "project_role", "P0").with_role("Developer"));
                // Hand-made, on a project no policy names: revoked (Jira cannot suspend).
                have.grants.insert(
                    Entitlement::new("jira", "project_role", "SECRET").with_role("Developer"),
                );
            }
            1 => {
                have.grants
                    .remove(&Entitlement::new("slack", "channel", "#general"));
            }
            2 => {
                have.grants
                    .insert(Entitlement::new("okta", "group", "dept-19"));
            }
            3 => {
                have.grants
                    .insert(Entitlement::new("okta", "group", "manual-beta"));
            }
            4 => {
                have.accounts.remove(&SystemName::new("gitlab"));
                have.grants.retain(|e| e.system.as_str() != "gitlab");
            }
            _ => {}
        }
        state.identities.insert(id.clone(), have);
    }
    state
}

fn bench_planner(c: &mut Criterion) {
    let (config, descriptors) = deployment();
    let policies = policies();
    let people = identities();
    let rss_people = rss_mib().unwrap_or(f64::NAN);
    let planner = Planner::new(&config, &descriptors).with_event("bench");
    let yesterday = planner.desired(&people, &policies, now());
    let rss_desired = rss_mib().unwrap_or(f64::NAN);
    let actual = actual(&yesterday);
    let rss_actual = rss_mib().unwrap_or(f64::NAN);
    drop(yesterday);
    let grants: usize = actual.identities.values().map(|a| a.grants.len()).sum();
    let rss_inputs = peak_rss_mib().unwrap_or(f64::NAN);

    // One timed pass, phase by phase.
    let cpu_start = cpu_time();
    let t = Instant::now();
    let desired = planner.desired(&people, &policies, now());
    let t_desired = t.elapsed();
    let t = Instant::now();
    let guarded = planner.plan(&desired, &actual, now());
    let t_plan = t.elapsed();
    let cpu = cpu_time()
        .zip(cpu_start)
        .map_or(f64::NAN, |(end, start)| (end - start).as_secs_f64());
    let desired_grants: usize = desired.identities.values().map(|d| d.grants.len()).sum();
    let (ops, deps) = match &guarded {
        Ok(g) => (g.preview().operations.len(), g.preview().dependencies.len()),
        Err(e) => panic!("bench plan failed: {e}"),
    };
    drop(guarded);
    drop(desired);
    let rss_peak = peak_rss_mib().unwrap_or(f64::NAN);
    println!(
        "planner bench: {IDENTITIES} identities, {desired_grants} desired grants, {grants} actual grants; \
         plan has {ops} operations and {deps} edges"
    );
    println!(
        "planner bench: single pass desired {:.3} s + plan/order/guard {:.3} s = {:.3} s",
        t_desired.as_secs_f64(),
        t_plan.as_secs_f64(),
        (t_desired + t_plan).as_secs_f64()
    );
    println!(
        "planner bench: single pass CPU time {cpu:.3} s (wall time above includes waiting for a core)"
    );
    println!(
        "planner bench: resident (VmRSS) {rss_people:.0} MiB with the identities, \
         +{:.0} MiB for the desired state, +{:.0} MiB for the actual state",
        rss_desired - rss_people,
        rss_actual - rss_desired
    );
    println!(
        "planner bench: peak RSS (VmHWM) {rss_inputs:.0} MiB with inputs only, {rss_peak:.0} MiB after planning"
    );

    let mut group = c.benchmark_group("planner");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("desired+plan+order 100k identities / 1M grants", |b| {
        b.iter(|| {
            let desired = planner.desired(black_box(&people), black_box(&policies), now());
            let plan = planner.plan(&desired, black_box(&actual), now());
            black_box(plan.map(|g| g.preview().operations.len()).ok())
        });
    });
    group.finish();
    println!(
        "planner bench: peak RSS (VmHWM) over the whole run {:.0} MiB",
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}

criterion_group!(benches, bench_planner);
criterion_main!(benches);
