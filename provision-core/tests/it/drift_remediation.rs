//! Remediation modes: a manual change, a drift run, the plan the system's mode
//! allows applied to the systems, and a second drift run.

#![allow(clippy::unwrap_used)]

use crate::drift_support;
use drift_support::*;
use provision_core::config::{DriftRemediation, Enforcement};
use provision_core::drift::DriftClass;
use provision_core::model::{AccountState, ActualState, OperationKind, Priority, ReasonKind};

/// Sarah lost #eng-general and was invited to #sales-deals by hand; Tom's Okta
/// account was re-enabled by hand; a "ghost" account appeared in Okta.
fn tampered() -> ActualState {
    let mut actual = actual();
    let sarah = actual.identities.get_mut(&id("e1001")).unwrap();
    sarah.grants.remove(&eng_slack());
    sarah.grants.insert(sales_slack());
    let tom = actual.identities.get_mut(&id("e1003")).unwrap();
    let okta = tom.accounts.get_mut(&sys("okta")).unwrap();
    okta.state = AccountState::Active;
    okta.record.state = AccountState::Active;
    actual.unmatched_accounts.insert(
        sys("okta"),
        vec![provision_core::model::AccountRecord {
            external_id: "ghost".into(),
            login: "ghost@example.com".into(),
            state: AccountState::Active,
            last_login: None,
            attributes: Default::default(),
            correlation: Default::default(),
        }],
    );
    actual
}

fn classes(
    actual: &ActualState,
    config: &provision_core::config::DeploymentConfig,
) -> Vec<(DriftClass, String)> {
    detect(&desired(), actual, config)
        .findings
        .iter()
        .map(|f| (f.class, format!("{} {} {}", f.login, f.system, f.subject)))
        .collect()
}

#[test]
fn report_only_changes_nothing() {
    let mut config = config();
    set_all(
        &mut config,
        DriftRemediation::ReportOnly,
        Enforcement::Authoritative,
    );
    let mut actual = tampered();
    let before = classes(&actual, &config);
    assert_eq!(before.len(), 4, "{before:?}");
    let plan = detect(&desired(), &actual, &config).remediation_plan(&config);
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(apply(&mut actual, &plan), 0);
    assert_eq!(actual, tampered());
    assert_eq!(classes(&actual, &config), before);
}

#[test]
fn the_default_mode_is_report_only() {
    let config = config();
    let plan = detect(&desired(), &tampered(), &config).remediation_plan(&config);
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn fix_missing_grants_only() {
    let mut config = config();
    set_all(
        &mut config,
        DriftRemediation::FixMissing,
        Enforcement::Authoritative,
    );
    let mut actual = tampered();
    let plan = detect(&desired(), &actual, &config).remediation_plan(&config);
    let ids: Vec<&str> = plan.operations.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(ids, vec!["e1001/slack/grant/channel/eng-general"]);
    apply(&mut actual, &plan);
    let sarah = &actual.identities[&id("e1001")];
    assert!(sarah.grants.contains(&eng_slack()));
    assert!(
        sarah.grants.contains(&sales_slack()),
        "the manual grant stays under fix_missing"
    );
    let after = classes(&actual, &config);
    assert!(
        after.iter().all(|(c, _)| *c != DriftClass::Missing),
        "{after:?}"
    );
    assert_eq!(
        after.len(),
        3,
        "unmanaged, critical orphan and ghost remain: {after:?}"
    );
}

#[test]
fn fix_all_also_revokes_the_manual_grant_and_suspends_the_leaver_and_says_why() {
    let mut config = config();
    set_all(
        &mut config,
        DriftRemediation::FixAll,
        Enforcement::Authoritative,
    );
    let mut actual = tampered();
    let report = detect(&desired(), &actual, &config);
    let plan = report.remediation_plan(&config);
    let ids: Vec<&str> = plan.operations.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "e1003/okta/revoke_sessions",
            "e1003/okta/suspend_account",
            "e1001/slack/revoke/channel/sales-deals",
            "e1001/slack/grant/channel/eng-general",
        ],
        "leaver work first, then by severity; the ghost account waits for a person"
    );
    assert!(
        plan.operations
            .iter()
            .all(|o| o.reason.kind == ReasonKind::DriftRemediation)
    );
    assert_eq!(plan.operations[0].priority, Priority::Leaver);
    let revoke = plan
        .get(&provision_core::model::OperationId(
            "e1001/slack/revoke/channel/sales-deals".into(),
        ))
        .unwrap();
    assert_eq!(
        revoke.kind,
        OperationKind::Revoke {
            entitlement: sales_slack()
        }
    );
    assert!(
        revoke
            .reason
            .detail
            .starts_with("drift remediation: revoke slack/channel/sales-deals"),
        "{}",
        revoke.reason.detail
    );
    assert!(plan.dependencies.is_empty(), "the orderer adds edges");

    apply(&mut actual, &plan);
    assert!(
        !actual.identities[&id("e1001")]
            .grants
            .contains(&sales_slack())
    );
    assert_eq!(
        actual.identities[&id("e1003")].accounts[&sys("okta")].state,
        AccountState::Suspended
    );
    let after = classes(&actual, &config);
    assert_eq!(
        after,
        vec![(
            DriftClass::Orphaned,
            "ghost@example.com okta account ghost (active)".to_owned()
        )]
    );
    // Idempotent: a second run plans nothing more.
    assert!(
        detect(&desired(), &actual, &config)
            .remediation_plan(&config)
            .is_empty()
    );
}

#[test]
fn fix_all_under_additive_revokes_what_the_planner_would_and_keeps_unmentioned_manual_grants() {
    let mut config = config();
    set_all(&mut config, DriftRemediation::FixAll, Enforcement::Additive);
    // Besides the tampering: a channel no policy mentions, joined by hand.
    let mut actual = tampered();
    let random = provision_core::model::Entitlement::new("slack", "channel", "random");
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .insert(random.clone());
    let report = detect(&desired(), &actual, &config);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.subject.to_string() != format!("grant {random}")),
        "additive keeps a manual grant on a resource no policy mentions: no finding\n{report}"
    );
    let plan = report.remediation_plan(&config);
    let verbs: Vec<String> = plan
        .operations
        .iter()
        .map(|o| match &o.kind {
            OperationKind::Grant { entitlement } => format!("grant {entitlement}"),
            OperationKind::Revoke { entitlement } => format!("revoke {entitlement}"),
            other => other.verb().to_owned(),
        })
        .collect();
    // #sales-deals is a channel policies manage: the planner revokes it under
    // additive enforcement too (reason "policy removed"), so fix_all does.
    assert_eq!(
        verbs,
        vec![
            "revoke_sessions".to_owned(),
            "suspend_account".to_owned(),
            format!("grant {}", eng_slack()),
            format!("revoke {}", sales_slack()),
        ],
        "{plan:?}"
    );
}

#[test]
fn the_mode_is_per_system_and_report_enforcement_blocks_every_fix() {
    let mut config = config();
    set_all(
        &mut config,
        DriftRemediation::ReportOnly,
        Enforcement::Authoritative,
    );
    set(
        &mut config,
        "okta",
        DriftRemediation::FixAll,
        Enforcement::Authoritative,
    );
    let plan = detect(&desired(), &tampered(), &config).remediation_plan(&config);
    assert!(
        plan.operations.iter().all(|o| o.system == sys("okta")),
        "{plan:?}"
    );
    assert_eq!(plan.operations.len(), 2);

    set(
        &mut config,
        "slack",
        DriftRemediation::FixAll,
        Enforcement::Report,
    );
    set(
        &mut config,
        "okta",
        DriftRemediation::FixAll,
        Enforcement::Report,
    );
    let report = detect(&desired(), &tampered(), &config);
    assert_eq!(report.findings.len(), 4, "still reported: {report}");
    assert!(report.remediation_plan(&config).is_empty());
}

#[test]
fn foreign_owned_and_pending_findings_are_never_fixed() {
    let mut config = config();
    set_all(
        &mut config,
        DriftRemediation::FixAll,
        Enforcement::Authoritative,
    );
    let mut actual = actual();
    let sarah = actual.identities.get_mut(&id("e1001")).unwrap();
    sarah.grants.insert(provision_core::model::Entitlement::new(
        "okta",
        "group",
        "okta-rule-admins",
    ));
    sarah.accounts.remove(&sys("gitlab"));
    sarah.grants.retain(|e| e.system.as_str() != "gitlab");
    let report = detect(&desired(), &actual, &config);
    assert_eq!(
        report.counts().get(&DriftClass::ForeignOwned),
        Some(&1),
        "{report}"
    );
    assert_eq!(
        report.counts().get(&DriftClass::Pending),
        Some(&2),
        "{report}"
    );
    assert!(report.remediation_plan(&config).is_empty());
}
