//! A leaver's accounts: drift's fixes are the planner's leaver operations (same
//! ids, kinds, priorities and sentences), including deletion where configured.

#![allow(clippy::unwrap_used)]

use crate::drift_support;
use drift_support::*;
use provision_core::adapter::SystemDescriptor;
use provision_core::config::{DeploymentConfig, DriftRemediation, Enforcement};
use provision_core::drift::{DriftClass, DriftInputs, DriftReport, Severity, detect_drift};
use provision_core::model::{
    AccountState, ActualState, Operation, OperationKind, Priority, ReasonKind, SystemName,
};
use provision_core::planner::plan_identity;
use std::collections::BTreeMap;

/// The fixtures' systems, with AWS able to delete users (as Identity Center can).
fn descriptors_aws_deletes() -> BTreeMap<SystemName, SystemDescriptor> {
    let mut d = descriptors();
    d.get_mut(&sys("aws")).unwrap().can_delete = true;
    d
}

/// Every system fixing everything; AWS deletes leavers.
fn config_delete_leavers(enforcement: Enforcement) -> DeploymentConfig {
    let mut config = config();
    set_all(&mut config, DriftRemediation::FixAll, enforcement);
    system(&mut config, "aws").delete_leavers = true;
    config
}

/// Tom (terminated) still has an enabled AWS user with his assignment, and someone
/// re-enabled his Okta account by hand.
fn tom_left_behind() -> ActualState {
    let mut actual = actual();
    let tom = actual.identities.get_mut(&id("e1003")).unwrap();
    tom.accounts.extend([account(
        "aws",
        "aws-tom",
        "tom@example.com",
        AccountState::Active,
    )]);
    tom.grants.insert(aws_readonly());
    let okta = tom.accounts.get_mut(&sys("okta")).unwrap();
    okta.state = AccountState::Active;
    okta.record.state = AccountState::Active;
    actual
}

fn detect_with(
    actual: &ActualState,
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
) -> DriftReport {
    detect_drift(
        &desired(),
        actual,
        &DriftInputs::new(config, descriptors, now()),
    )
}

/// What the planner plans for Tom, sorted by id.
fn planner_ops_for_tom(
    actual: &ActualState,
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
) -> Vec<Operation> {
    let desired = desired();
    let planned = plan_identity(
        &desired.identities[&id("e1003")],
        actual.identities.get(&id("e1003")),
        &desired.managed_resources,
        config,
        descriptors,
        now(),
    );
    planned.plan.operations
}

#[test]
fn an_aws_leaver_that_cannot_be_suspended_is_fixed_by_revoking_then_deleting() {
    let config = config_delete_leavers(Enforcement::Additive);
    let descriptors = descriptors_aws_deletes();
    let report = detect_with(&tom_left_behind(), &config, &descriptors);
    let orphan = report
        .of_class(DriftClass::Orphaned)
        .find(|f| f.system == sys("aws"))
        .expect("aws orphan");
    assert_eq!(orphan.severity, Severity::Critical);
    let kinds: Vec<&OperationKind> = orphan.remediation.iter().map(|o| &o.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &OperationKind::Revoke {
                entitlement: aws_readonly()
            },
            &OperationKind::DeleteAccount,
        ],
        "revoke the assignment, then delete the user"
    );
    for op in &orphan.remediation {
        assert_eq!(op.priority, Priority::Leaver);
        assert_eq!(op.reason.kind, ReasonKind::DriftRemediation);
        assert!(
            op.reason
                .detail
                .starts_with("drift remediation: identity terminated effective "),
            "{}",
            op.reason.detail
        );
    }
    // Without delete_leavers the user stays and only the assignment goes.
    let mut keep = config.clone();
    system(&mut keep, "aws").delete_leavers = false;
    let report = detect_with(&tom_left_behind(), &keep, &descriptors);
    let orphan = report
        .of_class(DriftClass::Orphaned)
        .find(|f| f.system == sys("aws"))
        .unwrap();
    let verbs: Vec<&str> = orphan.remediation.iter().map(|o| o.kind.verb()).collect();
    assert_eq!(verbs, vec!["revoke"]);
}

#[test]
fn the_leaver_remediation_plan_is_the_planners_plan_for_that_identity() {
    for enforcement in [Enforcement::Additive, Enforcement::Authoritative] {
        let config = config_delete_leavers(enforcement);
        let descriptors = descriptors_aws_deletes();
        let actual = tom_left_behind();
        let mut fixes = detect_with(&actual, &config, &descriptors)
            .remediation_plan(&config)
            .operations;
        fixes.sort_by(|a, b| a.id.cmp(&b.id));
        let planned = planner_ops_for_tom(&actual, &config, &descriptors);
        // Okta: sessions + suspend; AWS: revoke + delete; Google's parked group stays.
        let verbs: Vec<(&str, &str)> = planned
            .iter()
            .map(|o| (o.system.as_str(), o.kind.verb()))
            .collect();
        assert_eq!(planned.len(), 4, "{verbs:?}");
        assert_eq!(fixes.len(), planned.len(), "{fixes:#?}\n{planned:#?}");
        for (fix, op) in fixes.iter().zip(&planned) {
            assert_eq!(fix.id, op.id);
            assert_eq!(fix.kind, op.kind);
            assert_eq!(fix.identity, op.identity);
            assert_eq!(fix.login, op.login);
            assert_eq!(fix.system, op.system);
            assert_eq!(fix.priority, op.priority);
            assert_eq!(op.reason.kind, ReasonKind::Termination);
            assert_eq!(fix.reason.kind, ReasonKind::DriftRemediation);
            assert_eq!(
                fix.reason.detail,
                format!("drift remediation: {}", op.reason.detail)
            );
            assert_eq!(fix.reason.policies, op.reason.policies);
        }
    }
}

#[test]
fn a_leaver_operation_under_report_enforcement_is_shown_but_not_planned() {
    let mut config = config_delete_leavers(Enforcement::Additive);
    system(&mut config, "aws")
        .kind_enforcement
        .insert("permission_set".into(), Enforcement::Report);
    let descriptors = descriptors_aws_deletes();
    let actual = tom_left_behind();
    let report = detect_with(&actual, &config, &descriptors);
    let orphan = report
        .of_class(DriftClass::Orphaned)
        .find(|f| f.system == sys("aws"))
        .unwrap();
    let verbs: Vec<&str> = orphan.remediation.iter().map(|o| o.kind.verb()).collect();
    assert_eq!(
        verbs,
        vec!["revoke", "delete_account"],
        "the finding shows it"
    );
    let plan = report.remediation_plan(&config);
    let aws: Vec<&str> = plan
        .operations
        .iter()
        .filter(|o| o.system == sys("aws"))
        .map(|o| o.kind.verb())
        .collect();
    assert_eq!(
        aws,
        vec!["delete_account"],
        "the report-only revoke is not executed"
    );
    let planned = plan_identity(
        &desired().identities[&id("e1003")],
        actual.identities.get(&id("e1003")),
        &desired().managed_resources,
        &config,
        &descriptors,
        now(),
    );
    let planned_aws: Vec<&str> = planned
        .plan
        .operations
        .iter()
        .filter(|o| o.system == sys("aws"))
        .map(|o| o.kind.verb())
        .collect();
    assert_eq!(planned_aws, aws, "as the planner");
    assert_eq!(planned.report_only.len(), 1);
}
