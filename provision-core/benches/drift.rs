//! The drift comparison for a large org: 100k identities x 10 grants (1M grants,
//! 500k accounts), with 1 % of identities drifted (a grant removed and a manual
//! grant added by hand), every system additive. Measures `detect_drift` only; building the states is setup.
//!
//! `cargo bench -p provision-core --bench drift`

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
use provision_core::config::{DeploymentConfig, SystemConfig};
use provision_core::drift::{DriftInputs, detect_drift};
use provision_core::model::{
    AccountRecord, AccountState, ActualAccount, ActualIdentity, ActualState, DesiredGrant,
    DesiredIdentity, DesiredState, Entitlement, Identity, Provenance, SystemName, Validity,
};

const IDENTITIES: usize = 100_000;
const GRANTS_PER_IDENTITY: usize = 10;
const SYSTEMS: [&str; 5] = ["okta", "google", "slack", "aws", "jira"];
const DEPARTMENTS: usize = 50;

fn entitlement(system: usize, department: usize, n: usize) -> Entitlement {
    Entitlement::new(
        SYSTEMS[system],
        "group",
        format!("dept-{department}-group-{n}"),
    )
}

fn states() -> (DesiredState, ActualState) {
    let mut desired = DesiredState::default();
    let mut actual = ActualState::default();
    // Every resource the departments' policies mention, as `planner::desired` lists them.
    desired.managed_resources = (0..DEPARTMENTS)
        .flat_map(|d| {
            (0..GRANTS_PER_IDENTITY)
                .map(move |g| entitlement(g % SYSTEMS.len(), d, g).resource_ref())
        })
        .collect();
    for i in 0..IDENTITIES {
        let department = i % DEPARTMENTS;
        let login = format!("user{i}@example.com");
        let identity = Identity::new(format!("e{i:06}"), login.clone(), format!("User {i}"))
            .with_attribute("department", format!("dept-{department}"));
        let grants: BTreeMap<Entitlement, DesiredGrant> = (0..GRANTS_PER_IDENTITY)
            .map(|g| {
                let e = entitlement(g % SYSTEMS.len(), department, g);
                let grant = DesiredGrant {
                    provenance: vec![Provenance::policy(
                        format!("dept-{department}"),
                        Default::default(),
                    )],
                    validity: Validity::ALWAYS,
                };
                (e, grant)
            })
            .collect();
        let mut held: BTreeSet<Entitlement> = grants.keys().cloned().collect();
        if i % 100 == 0 {
            held.pop_first();
            held.insert(entitlement(2, (department + 1) % DEPARTMENTS, 7));
        }
        let accounts = SYSTEMS
            .iter()
            .map(|s| {
                let external_id = format!("{s}-{i}");
                let record = AccountRecord {
                    external_id: external_id.clone(),
                    login: login.clone(),
                    state: AccountState::Active,
                    last_login: None,
                    attributes: BTreeMap::new(),
                    correlation: Default::default(),
                };
                let account = ActualAccount {
                    external_id,
                    state: AccountState::Active,
                    record,
                };
                (SystemName::new(*s), account)
            })
            .collect();
        let id = identity.id.clone();
        desired.identities.insert(
            id.clone(),
            DesiredIdentity {
                identity,
                accounts: SYSTEMS.iter().map(|s| SystemName::new(*s)).collect(),
                grants,
                expired: BTreeMap::new(),
            },
        );
        actual.identities.insert(
            id,
            ActualIdentity {
                accounts,
                grants: held,
                ..Default::default()
            },
        );
    }
    (desired, actual)
}

fn bench(c: &mut Criterion) {
    let (desired, actual) = states();
    let mut config = DeploymentConfig::default();
    let mut descriptors = BTreeMap::new();
    for s in SYSTEMS {
        // Additive (the default): the manual grants are on resources policies
        // mention, so the managed-resource set is built too (the worst case).
        config
            .systems
            .insert(SystemName::new(s), SystemConfig::new("sandbox"));
        let mut d = SystemDescriptor::new("sandbox");
        d.kinds = vec![ResourceKindDescriptor::new("group", &["add_to_group"])];
        d.has_accounts = true;
        d.can_suspend = true;
        descriptors.insert(SystemName::new(s), d);
    }
    let now = Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).single().unwrap();
    let inputs = DriftInputs::new(&config, &descriptors, now);
    let report = detect_drift(&desired, &actual, &inputs);
    assert_eq!(
        report.findings.len(),
        2 * IDENTITIES / 100,
        "one missing and one unmanaged per drifted identity"
    );

    let mut group = c.benchmark_group("drift");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("detect_1M_grants", |b| {
        b.iter(|| detect_drift(black_box(&desired), black_box(&actual), &inputs))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
