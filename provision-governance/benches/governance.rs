//! Access review generation for a large company: 100,000 people and about 1M
//! grants across 6 systems, of which about 2 % are hand-made (outside policy), 0.5 %
//! of people have an Okta account unused for 200 days (stale), 0.1 % have left with
//! their accounts still active, and 0.2 % hold a toxic SoD pair.
//!
//! Measured: [`generate`] over everyone (scope: all), its time, the process's peak
//! resident memory (`VmHWM` from `/proc/self/status`), and the share of grants that
//! reached a reviewer (the rest certified by policy).
//!
//! Run: `cargo bench -p provision-core --bench governance`. Under `cargo test
//! --benches` (a smoke run) it uses 2,000 people.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use provision_core::drift::Severity;
use provision_core::model::*;
use provision_governance::review::{ReviewInputs, generate};
use provision_governance::{
    EntitlementPattern, GovernanceConfig, ItemKind, ReviewScope, SodRule, SodRules,
};

const DEPARTMENTS: usize = 20;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The 10 grants a person of department `d` gets from policy.
fn policy_grants(d: usize) -> Vec<Entitlement> {
    vec![
        Entitlement::new("okta", "group", format!("dept-{d}")),
        Entitlement::new("okta", "group", "everyone"),
        Entitlement::new("google", "group", format!("dept-{d}@co.example")),
        Entitlement::new("google", "group", "all@co.example"),
        Entitlement::new("slack", "channel", format!("#dept-{d}")),
        Entitlement::new("slack", "channel", "#general"),
        Entitlement::new("gitlab", "group", format!("dept-{d}")).with_role("developer"),
        Entitlement::new("jira", "project_role", format!("D{d}")).with_role("Developer"),
        Entitlement::new("aws", "permission_set", format!("Dept{d}ReadOnly"))
            .with_scope("account:production"),
        Entitlement::new("salesforce", "profile", "Standard User"),
    ]
}

const SYSTEMS: [&str; 7] = [
    "okta",
    "google",
    "slack",
    "gitlab",
    "jira",
    "aws",
    "salesforce",
];

struct Company {
    roster: Vec<Identity>,
    desired: DesiredState,
    actual: ActualState,
    rules: SodRules,
}

fn company(people: usize) -> Company {
    let mut roster = Vec::with_capacity(people);
    let mut desired = DesiredState::default();
    let mut actual = ActualState::default();
    let provenance: Vec<Provenance> = (0..DEPARTMENTS)
        .map(|d| {
            Provenance::policy(
                format!("Department {d}"),
                Arc::new(BTreeMap::from([("department".to_owned(), format!("D{d}"))])),
            )
        })
        .collect();
    let long_ago = now() - chrono::Duration::days(200);
    let yesterday = now() - chrono::Duration::days(1);
    for i in 0..people {
        let d = i % DEPARTMENTS;
        let id = format!("p{i}");
        let login = format!("p{i}@co.example");
        let mut who = Identity::new(&id, &login, format!("Person {i}"))
            .with_attribute("department", format!("D{d}"))
            .with_attribute("manager", format!("m{}", i / 12));
        let left = i % 1000 == 7;
        if left {
            who.status = EmploymentStatus::Terminated {
                effective: now() - chrono::Duration::days(3),
            };
        }
        let grants = policy_grants(d);
        if !left {
            let mut want = DesiredIdentity {
                identity: who.clone(),
                accounts: SYSTEMS.iter().map(|s| SystemName::new(*s)).collect(),
                grants: BTreeMap::new(),
                expired: BTreeMap::new(),
            };
            for g in &grants {
                want.grants.insert(
                    g.clone(),
                    DesiredGrant {
                        provenance: vec![provenance[d].clone()],
                        validity: Validity::ALWAYS,
                    },
                );
            }
            desired.identities.insert(who.id.clone(), want);
        }
        let mut held: BTreeSet<Entitlement> = grants.into_iter().collect();
        if i % 50 == 3 {
            held.insert(Entitlement::new(
                "okta",
                "group",
                format!("hand-made-{}", i % 7),
            ));
        }
        if i % 500 == 11 {
            held.insert(
                Entitlement::new("aws", "permission_set", "PaymentsAdmin")
                    .with_scope("account:production"),
            );
            held.insert(Entitlement::new(
                "salesforce",
                "permission_set",
                "ApproveRefunds",
            ));
        }
        let stale = i % 200 == 5;
        let mut accounts = BTreeMap::new();
        for s in SYSTEMS {
            let mut record = AccountRecord::new(format!("{s}-{i}"), &login, AccountState::Active);
            record.last_login = Some(if stale && s == "okta" {
                long_ago
            } else {
                yesterday
            });
            accounts.insert(
                SystemName::new(s),
                ActualAccount {
                    external_id: format!("{s}-{i}"),
                    state: AccountState::Active,
                    record,
                },
            );
        }
        actual.identities.insert(
            who.id.clone(),
            ActualIdentity {
                accounts,
                grants: held,
                ambiguous: BTreeSet::new(),
            },
        );
        roster.push(who);
    }
    let rules = SodRules {
        rules: vec![SodRule {
            name: "Payments admin approves refunds".into(),
            severity: Severity::Critical,
            description: None,
            conflicting: vec![
                EntitlementPattern::new("aws", "permission_set", "PaymentsAdmin"),
                EntitlementPattern::new("salesforce", "permission_set", "ApproveRefunds"),
            ],
            source: None,
        }],
    };
    Company {
        roster,
        desired,
        actual,
        rules,
    }
}

fn bench_review(c: &mut Criterion) {
    // `cargo bench` passes `--bench`; `cargo test --benches` (a smoke run) does not.
    let full = std::env::args().any(|a| a == "--bench");
    let people = if full { 100_000 } else { 2_000 };
    let company = company(people);
    let grants: usize = company
        .actual
        .identities
        .values()
        .map(|a| a.grants.len())
        .sum();
    let rss_inputs = peak_rss_mib().unwrap_or(f64::NAN);
    let settings = GovernanceConfig::default();
    let scope = ReviewScope::all();
    let inputs = ReviewInputs {
        roster: &company.roster,
        desired: &company.desired,
        actual: &company.actual,
        rules: &company.rules,
        exceptions: &[],
        config: &settings,
        now: now(),
    };
    let t = Instant::now();
    let campaign = generate("rc-bench", "bench", &scope, now(), &inputs);
    let took = t.elapsed();
    let rss_peak = peak_rss_mib().unwrap_or(f64::NAN);
    let mut kinds: BTreeMap<ItemKind, usize> = BTreeMap::new();
    for i in &campaign.items {
        *kinds.entry(i.kind).or_insert(0) += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let share = |n: usize| 100.0 * n as f64 / campaign.grants_in_scope.max(1) as f64;
    println!(
        "review bench: {people} people, {grants} grants; campaign of {} items for {} reviewers in {:.3} s",
        campaign.items.len(),
        campaign.reviewers().len(),
        took.as_secs_f64()
    );
    println!(
        "review bench: {} of {} grants in scope certified by policy ({:.2} %); items per grant in scope {:.2} %; items by kind {kinds:?}",
        campaign.certified,
        campaign.grants_in_scope,
        share(campaign.certified),
        share(campaign.items.len())
    );
    println!(
        "review bench: peak RSS (VmHWM) {rss_inputs:.0} MiB with inputs only, {rss_peak:.0} MiB after generating"
    );
    drop(campaign);

    let mut group = c.benchmark_group("review");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(format!("generate campaign {people} people"), |b| {
        b.iter(|| {
            let campaign = generate("rc-bench", "bench", &scope, now(), black_box(&inputs));
            black_box(campaign.items.len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_review);
criterion_main!(benches);
