//! The blast-radius guard exactly at its limits: at a limit passes, one more is
//! refused, for each of `max_identities`, `max_share` and `max_operations`; and a
//! population of 0 is defined. A `>` / `>=` slip in the guard fails one of these.
#![allow(clippy::unwrap_used)]

use provision_core::config::BlastRadius;
use provision_core::model::{
    Entitlement, IdentityId, Operation, OperationKind, Plan, Priority, Reason, ReasonKind,
    SystemName,
};
use provision_core::planner::{
    Approval, ApprovedPlan, BlastLimit, GuardedPlan, check_blast_radius,
};

fn op(identity: &str, kind: OperationKind) -> Operation {
    let identity = IdentityId(identity.into());
    let system = SystemName::new("okta");
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: "someone@example.com".into(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyRemoved,
            policies: Vec::new(),
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

fn revoke(identity: &str, group: &str) -> Operation {
    op(
        identity,
        OperationKind::Revoke {
            entitlement: Entitlement::new("okta", "group", group),
        },
    )
}

fn grant(identity: &str, group: &str) -> Operation {
    op(
        identity,
        OperationKind::Grant {
            entitlement: Entitlement::new("okta", "group", group),
        },
    )
}

/// A plan revoking one group from each of `people` identities.
fn removals_from(people: usize) -> Plan {
    Plan {
        operations: (0..people).map(|i| revoke(&format!("e{i}"), "g")).collect(),
        dependencies: Vec::new(),
    }
}

fn limits(
    max_identities: Option<usize>,
    max_share: Option<f64>,
    max_operations: Option<usize>,
) -> BlastRadius {
    BlastRadius {
        max_identities,
        max_share,
        max_operations,
    }
}

#[test]
fn max_identities_exactly_at_the_limit_passes_and_one_more_is_refused() {
    let l = limits(Some(3), None, None);
    check_blast_radius(&removals_from(3), 1_000, &l).unwrap();
    let err = check_blast_radius(&removals_from(4), 1_000, &l).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Identities(3));
    assert_eq!(err.identities, 4);
}

#[test]
fn max_identities_counts_people_not_operations() {
    // Three people losing two groups each: 3 identities, 6 operations.
    let mut plan = removals_from(3);
    plan.operations
        .extend((0..3).map(|i| revoke(&format!("e{i}"), "h")));
    check_blast_radius(&plan, 1_000, &limits(Some(3), None, None)).unwrap();
}

#[test]
fn max_share_exactly_at_the_limit_passes_and_one_more_is_refused() {
    // 5 of 20 people is exactly 25 %.
    let l = limits(None, Some(0.25), None);
    check_blast_radius(&removals_from(5), 20, &l).unwrap();
    let err = check_blast_radius(&removals_from(6), 20, &l).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Share(0.25));
    assert_eq!((err.identities, err.population), (6, 20));
    // The default 10 %: 2 of 20 passes, 3 of 20 is refused.
    let default = BlastRadius::default();
    check_blast_radius(&removals_from(2), 20, &default).unwrap();
    assert!(check_blast_radius(&removals_from(3), 20, &default).is_err());
}

#[test]
fn max_operations_exactly_at_the_limit_passes_and_one_more_is_refused() {
    let l = limits(None, None, Some(5));
    check_blast_radius(&removals_from(5), 1_000, &l).unwrap();
    let err = check_blast_radius(&removals_from(6), 1_000, &l).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Operations(5));
    assert_eq!(err.operations, 6);
}

#[test]
fn grants_never_count_towards_the_blast_radius() {
    let plan = Plan {
        operations: (0..50).map(|i| grant(&format!("e{i}"), "g")).collect(),
        dependencies: Vec::new(),
    };
    check_blast_radius(&plan, 50, &limits(Some(0), Some(0.0), Some(0))).unwrap();
}

#[test]
fn a_population_of_zero_passes_an_empty_plan_and_refuses_any_removal() {
    let l = BlastRadius::default();
    check_blast_radius(&Plan::default(), 0, &l).unwrap();
    // Removing access from someone outside an empty population is 100 % of it.
    let err = check_blast_radius(&removals_from(1), 0, &l).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Share(0.10));
    assert_eq!(err.population, 0);
    // With every limit lifted, even that passes.
    check_blast_radius(&removals_from(1), 0, &limits(None, None, None)).unwrap();
}

#[test]
fn a_refused_plan_needs_an_explicit_confirmation() {
    let guarded = GuardedPlan::new(
        removals_from(4),
        Vec::new(),
        1_000,
        &limits(Some(3), None, None),
    );
    assert!(guarded.exceeded().is_some());
    assert!(guarded.clone().approve().is_err());
    // The confirmation states the count it expects: exactly the plan's count passes,
    // one fewer is refused (a larger surprise than the one confirmed).
    let short = guarded.clone().confirm_blast_radius(3).unwrap_err();
    assert_eq!(short.limit, BlastLimit::Confirmed(3));
    assert_eq!(short.identities, 4);
    let plan = guarded.confirm_blast_radius(4).unwrap();
    assert_eq!(plan.operations.len(), 4);
    assert_eq!(
        plan.approval(),
        Approval::Confirmed {
            population: 1_000,
            expected_identities: 4
        }
    );
}

#[test]
fn an_approved_plan_is_checked_again_against_the_executors_limits() {
    // Approved against no limits at all...
    let approved =
        ApprovedPlan::within_limits(removals_from(4), 1_000, &limits(None, None, None)).unwrap();
    // ...it is refused by an executor whose limit is 3, and passes one whose limit is 4.
    let err = approved.recheck(&limits(Some(3), None, None)).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Identities(3));
    approved.recheck(&limits(Some(4), None, None)).unwrap();
    // A confirmed plan is held to its confirmed count, not to the executor's limits.
    let confirmed = ApprovedPlan::confirmed(removals_from(4), 1_000, 4).unwrap();
    confirmed
        .recheck(&limits(Some(1), Some(0.0), Some(1)))
        .unwrap();
}
