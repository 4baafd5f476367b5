//! Properties of drift detection and remediation over random states.

#![allow(clippy::unwrap_used)]

use crate::drift_support;
use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use drift_support::*;
use proptest::prelude::*;
use provision_core::config::{DriftRemediation, Enforcement};
use provision_core::drift::{DriftClass, Holder, Subject};
use provision_core::model::{
    AccountState, ActualIdentity, ActualState, DesiredGrant, DesiredIdentity, DesiredState,
    EmploymentStatus, Entitlement, Identity, OperationKind, Provenance, Validity,
};
use provision_core::planner::plan_with_report;

fn pool() -> Vec<Entitlement> {
    vec![
        eng_okta(),
        sales_okta(),
        Entitlement::new("okta", "group", "okta-rule-admins"),
        eng_google(),
        Entitlement::new("google", "group", "engineering@example.com").with_role("manager"),
        eng_slack(),
        sales_slack(),
        Entitlement::new("slack", "channel", "random"),
        aws_readonly(),
        Entitlement::new("gitlab", "group", "engineering").with_role("developer"),
    ]
}

const SYSTEMS: [&str; 5] = ["okta", "google", "slack", "aws", "gitlab"];

#[derive(Debug, Clone)]
struct Person {
    in_roster: bool,
    terminated: bool,
    /// Per pool entry: 0 not given, 1 given, 2 given but expired.
    wanted: Vec<u8>,
    held: Vec<bool>,
    /// Per system: 0 none, 1 active, 2 suspended, 3 deprovisioned.
    accounts: Vec<u8>,
}

fn person() -> impl Strategy<Value = Person> {
    let n = pool().len();
    (
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.2),
        prop::collection::vec(0u8..3, n),
        prop::collection::vec(any::<bool>(), n),
        prop::collection::vec(0u8..4, SYSTEMS.len()),
    )
        .prop_map(|(in_roster, terminated, wanted, held, accounts)| Person {
            in_roster,
            terminated,
            wanted,
            held,
            accounts,
        })
}

fn build(people: &[Person]) -> (DesiredState, ActualState) {
    let pool = pool();
    let mut desired = DesiredState {
        // As `planner::desired` fills it: every resource a policy mentions.
        managed_resources: pool
            .iter()
            .filter(|e| !e.resource.starts_with("okta-rule-"))
            .map(Entitlement::resource_ref)
            .collect(),
        ..DesiredState::default()
    };
    let mut actual = ActualState::default();
    for (i, p) in people.iter().enumerate() {
        let login = format!("p{i}@example.com");
        let mut identity = Identity::new(format!("e{i}"), login.clone(), format!("Person {i}"));
        if p.terminated {
            identity.status = EmploymentStatus::Terminated {
                effective: now() - Duration::days(1),
            };
        }
        let mut grants = BTreeMap::new();
        let mut expired = BTreeMap::new();
        for (e, w) in pool.iter().zip(&p.wanted) {
            // Policies never target foreign-owned groups (validation refuses it).
            if *w == 0 || e.resource.starts_with("okta-rule-") {
                continue;
            }
            let validity = if *w == 2 {
                Validity {
                    start: None,
                    end: Some(now() - Duration::hours(1)),
                }
            } else {
                Validity::ALWAYS
            };
            // The planner keeps a grant whose window ended apart, in `expired`.
            let target = if *w == 2 { &mut expired } else { &mut grants };
            target.insert(
                e.clone(),
                DesiredGrant {
                    provenance: vec![Provenance::policy("P", Default::default())],
                    validity,
                },
            );
        }
        let accounts: BTreeSet<_> = if p.terminated {
            BTreeSet::new()
        } else {
            grants.keys().map(|e| e.system.clone()).collect()
        };
        if p.in_roster {
            desired.identities.insert(
                identity.id.clone(),
                DesiredIdentity {
                    identity: identity.clone(),
                    accounts,
                    grants,
                    expired,
                },
            );
        }
        let mut has = ActualIdentity::default();
        for (s, state) in SYSTEMS.iter().zip(&p.accounts) {
            let state = match state {
                1 => AccountState::Active,
                2 => AccountState::Suspended,
                3 => AccountState::Deprovisioned,
                _ => continue,
            };
            let (name, a) = account(s, &format!("{s}-{i}"), &login, state);
            has.accounts.insert(name, a);
        }
        has.grants = pool
            .iter()
            .zip(&p.held)
            .filter(|(_, h)| **h)
            .map(|(e, _)| e.clone())
            .collect();
        actual.identities.insert(identity.id, has);
    }
    (desired, actual)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Convergence: under fix_all and authoritative enforcement, the remediation
    /// plan applied to the systems leaves no missing or unmanaged finding for any
    /// identity the HR source knows, and no enabled leaver account where the system
    /// can suspend; a second run plans nothing.
    #[test]
    fn fix_all_converges(people in prop::collection::vec(person(), 0..6)) {
        let (desired, mut actual) = build(&people);
        let mut config = config();
        set_all(&mut config, DriftRemediation::FixAll, Enforcement::Authoritative);
        let plan = detect(&desired, &actual, &config).remediation_plan(&config);
        let ids: BTreeSet<_> = plan.operations.iter().map(|o| o.id.clone()).collect();
        prop_assert_eq!(ids.len(), plan.operations.len(), "operation ids are unique");
        apply(&mut actual, &plan);
        let after = detect(&desired, &actual, &config);
        let descriptors = descriptors();
        for f in &after.findings {
            if f.holder == Holder::Unknown {
                continue;
            }
            prop_assert!(
                !matches!(f.class, DriftClass::Missing | DriftClass::Unmanaged),
                "left after fix_all: {}", f
            );
            if f.class == DriftClass::Orphaned {
                prop_assert!(!descriptors[&f.system].can_suspend, "not suspended: {}", f);
            }
        }
        prop_assert!(after.remediation_plan(&config).is_empty(), "second plan not empty:\n{}", after);
    }

    /// Drift derives its grant findings from the planner: for everyone the HR
    /// source knows and has not terminated, the fixes of the missing and unmanaged
    /// grant findings are exactly the grants and revokes `plan_with_report` plans
    /// (executed or report-only), except grants waiting for an account made on
    /// first SSO login (pending, not drift).
    #[test]
    fn current_grant_findings_are_the_planners_operations(
        people in prop::collection::vec(person(), 0..6),
        authoritative in any::<bool>(),
    ) {
        let (desired, actual) = build(&people);
        let mut config = config();
        let enforcement = if authoritative { Enforcement::Authoritative } else { Enforcement::Additive };
        set_all(&mut config, DriftRemediation::FixAll, enforcement);
        let descriptors = descriptors();
        let report = detect(&desired, &actual, &config);
        let current: BTreeSet<_> = desired
            .identities
            .iter()
            .filter(|(_, w)| !w.identity.is_terminated_at(now()))
            .map(|(id, _)| id.clone())
            .collect();
        let from_drift: BTreeSet<String> = report
            .findings
            .iter()
            .filter(|f| f.holder == Holder::Current)
            .filter(|f| matches!(f.class, DriftClass::Missing | DriftClass::Unmanaged))
            .filter(|f| matches!(f.subject, Subject::Grant { .. }))
            .flat_map(|f| f.remediation.iter().map(|o| o.id.to_string()))
            .collect();
        let planned = plan_with_report(&desired, &actual, &config, &descriptors, now());
        let from_plan: BTreeSet<String> = planned
            .plan
            .operations
            .iter()
            .chain(&planned.report_only)
            .filter(|o| current.contains(&o.identity) && o.kind.entitlement().is_some())
            .filter(|o| {
                let pending = matches!(o.kind, OperationKind::Grant { .. })
                    && descriptors[&o.system].accounts_created_on_first_login
                    && !actual.identities[&o.identity].accounts.contains_key(&o.system);
                !pending
            })
            .map(|o| o.id.to_string())
            .collect();
        prop_assert_eq!(from_drift, from_plan);
    }

    /// Report-only plans nothing; fix_missing never takes anything away.
    #[test]
    fn report_only_is_empty_and_fix_missing_never_removes(people in prop::collection::vec(person(), 0..6)) {
        let (desired, actual) = build(&people);
        let mut config = config();
        set_all(&mut config, DriftRemediation::ReportOnly, Enforcement::Authoritative);
        prop_assert!(detect(&desired, &actual, &config).remediation_plan(&config).is_empty());
        set_all(&mut config, DriftRemediation::FixMissing, Enforcement::Authoritative);
        let plan = detect(&desired, &actual, &config).remediation_plan(&config);
        prop_assert!(plan.operations.iter().all(|o| !o.kind.is_removal()), "{:?}", plan);
    }
}
