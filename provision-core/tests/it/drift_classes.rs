//! Each drift class, found after a "manual" change made behind the SDK's back.

#![allow(clippy::unwrap_used)]

use crate::drift_support;
use std::collections::BTreeSet;

use chrono::Duration;
use drift_support::*;
use provision_core::config::Enforcement;
use provision_core::drift::{DriftClass, DriftInputs, Holder, Severity, Subject, detect_drift};
use provision_core::model::{
    AccountRecord, AccountState, Entitlement, OperationKind, Priority, ReasonKind, Validity,
};

#[test]
fn systems_in_sync_have_no_drift() {
    let report = detect(&desired(), &actual(), &config());
    assert!(report.findings.is_empty(), "{report}");
    assert!(!report.has_drift());
}

#[test]
fn a_removed_grant_is_missing_with_its_policy_and_the_grant_that_fixes_it() {
    let mut actual = actual();
    // An admin removed Sarah from #eng-general by hand.
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .remove(&eng_slack());
    let report = detect(&desired(), &actual, &config());
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Missing);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.identity, Some(id("e1001")));
    assert_eq!(f.system, sys("slack"));
    assert_eq!(
        f.subject,
        Subject::Grant {
            entitlement: eng_slack()
        }
    );
    assert_eq!(f.evidence.policies, vec!["Engineering Base".to_owned()]);
    assert_eq!(
        f.evidence.read_at,
        Some(now() - Duration::seconds(58)),
        "slack's read time"
    );
    assert_eq!(f.remediation.len(), 1);
    let op = &f.remediation[0];
    assert_eq!(
        op.kind,
        OperationKind::Grant {
            entitlement: eng_slack()
        }
    );
    assert_eq!(op.id.0, "e1001/slack/grant/channel/eng-general");
    assert_eq!(op.reason.kind, ReasonKind::DriftRemediation);
    assert_eq!(op.reason.policies, vec!["Engineering Base".to_owned()]);
    assert_eq!(op.login, "sarah@example.com");
}

#[test]
fn a_deleted_account_is_missing_and_a_suspended_one_needs_reactivation() {
    let mut actual = actual();
    let sarah = actual.identities.get_mut(&id("e1001")).unwrap();
    sarah.accounts.remove(&sys("google"));
    let slack = sarah.accounts.get_mut(&sys("slack")).unwrap();
    slack.state = AccountState::Suspended;
    slack.record.state = AccountState::Suspended;
    let report = detect(&desired(), &actual, &config());
    let kinds: Vec<(&str, &str)> = report
        .of_class(DriftClass::Missing)
        .map(|f| (f.system.as_str(), f.remediation[0].kind.verb()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("google", "create_account"),
            ("slack", "reactivate_account")
        ],
        "{report}"
    );
    let create = &report
        .of_class(DriftClass::Missing)
        .next()
        .unwrap()
        .remediation[0];
    match &create.kind {
        OperationKind::CreateAccount { profile } => {
            assert_eq!(profile.login, "sarah@example.com");
            assert_eq!(profile.display_name, "Sarah Chen");
        }
        other => panic!("expected a create, got {other:?}"),
    }
    assert_eq!(report.findings.len(), 2, "{report}");
}

#[test]
fn a_manual_grant_on_a_resource_policies_manage_is_unmanaged() {
    let mut actual = actual();
    // Someone invited Sarah to #sales-deals, a channel the Sales policy manages.
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .insert(sales_slack());
    let report = detect(&desired(), &actual, &config());
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Unmanaged);
    assert_eq!(f.severity, Severity::Low, "additive: reported, low");
    assert_eq!(f.holder, Holder::Current);
    assert_eq!(f.evidence.observed, "grant held");
    assert_eq!(f.evidence.expected, "no grant: no policy gives it");
    let op = &f.remediation[0];
    assert_eq!(
        op.kind,
        OperationKind::Revoke {
            entitlement: sales_slack()
        }
    );
    assert_eq!(op.reason.kind, ReasonKind::DriftRemediation);
    assert!(
        op.reason.detail.contains("drift remediation"),
        "{}",
        op.reason.detail
    );
}

#[test]
fn a_manual_grant_elsewhere_counts_only_where_enforcement_is_authoritative() {
    let mut actual = actual();
    let random = Entitlement::new("slack", "channel", "random");
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .insert(random.clone());
    let mut config = config();
    let report = detect(&desired(), &actual, &config);
    assert!(
        report.findings.is_empty(),
        "additive: #random is not the SDK's business\n{report}"
    );

    system(&mut config, "slack").enforcement = Enforcement::Authoritative;
    let report = detect(&desired(), &actual, &config);
    assert_eq!(report.findings.len(), 1, "{report}");
    assert_eq!(report.findings[0].class, DriftClass::Unmanaged);
    assert_eq!(report.findings[0].severity, Severity::High);
    assert_eq!(
        report.findings[0].subject,
        Subject::Grant {
            entitlement: random
        }
    );
}

#[test]
fn a_role_changed_by_hand_is_one_missing_and_one_unmanaged() {
    let mut actual = actual();
    let sarah = actual.identities.get_mut(&id("e1001")).unwrap();
    sarah.grants.remove(&eng_google());
    let manager =
        Entitlement::new("google", "group", "engineering@example.com").with_role("manager");
    sarah.grants.insert(manager.clone());
    let report = detect(&desired(), &actual, &config());
    assert_eq!(
        report.counts().get(&DriftClass::Missing),
        Some(&1),
        "{report}"
    );
    assert_eq!(
        report.counts().get(&DriftClass::Unmanaged),
        Some(&1),
        "{report}"
    );
    let unmanaged = report.of_class(DriftClass::Unmanaged).next().unwrap();
    assert_eq!(
        unmanaged.subject,
        Subject::Grant {
            entitlement: manager
        }
    );
}

#[test]
fn a_leaver_account_reenabled_by_hand_is_a_critical_orphan_with_leaver_fixes() {
    let mut actual = actual();
    let tom = actual.identities.get_mut(&id("e1003")).unwrap();
    let okta = tom.accounts.get_mut(&sys("okta")).unwrap();
    okta.state = AccountState::Active;
    okta.record.state = AccountState::Active;
    let report = detect(&desired(), &actual, &config());
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Orphaned);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.holder, Holder::Terminated);
    assert_eq!(f.identity, Some(id("e1003")));
    assert!(
        f.evidence.observed.contains("00u-tom state=active"),
        "{}",
        f.evidence.observed
    );
    let verbs: Vec<&str> = f.remediation.iter().map(|o| o.kind.verb()).collect();
    assert_eq!(
        verbs,
        vec!["revoke_sessions", "suspend_account"],
        "sessions first"
    );
    assert!(f.remediation.iter().all(|o| o.priority == Priority::Leaver));
}

#[test]
fn a_leaver_grant_is_unmanaged_unless_parked_on_a_suspended_account() {
    let mut actual = actual();
    // Tom's google group is kept on his suspended account: not drift. Someone then
    // re-added his AWS assignment (AWS cannot suspend): high, revoked as leaver work.
    let tom = actual.identities.get_mut(&id("e1003")).unwrap();
    tom.accounts.extend([account(
        "aws",
        "aws-tom",
        "tom@example.com",
        AccountState::Active,
    )]);
    tom.grants.insert(aws_readonly());
    let report = detect(&desired(), &actual, &config());
    let unmanaged: Vec<_> = report.of_class(DriftClass::Unmanaged).collect();
    assert_eq!(unmanaged.len(), 1, "{report}");
    assert_eq!(
        unmanaged[0].subject,
        Subject::Grant {
            entitlement: aws_readonly()
        }
    );
    assert_eq!(unmanaged[0].severity, Severity::High);
    assert_eq!(unmanaged[0].remediation[0].priority, Priority::Leaver);
    // His enabled AWS account itself is a critical orphan. AWS can neither suspend
    // nor (without delete_leavers) delete: its fix is the planner's leaver work
    // there, revoking the assignment (the same operation as the grant finding's).
    let orphan = report
        .of_class(DriftClass::Orphaned)
        .next()
        .expect("orphan");
    assert_eq!(orphan.severity, Severity::Critical);
    assert_eq!(orphan.remediation, unmanaged[0].remediation);
    assert_eq!(
        report.findings[0].severity,
        Severity::Critical,
        "most severe first"
    );
}

#[test]
fn an_account_matching_no_identity_is_orphaned() {
    let mut actual = actual();
    let record = |ext: &str, state| AccountRecord {
        external_id: ext.into(),
        login: format!("{ext}@example.com"),
        state,
        last_login: None,
        attributes: Default::default(),
        correlation: Default::default(),
    };
    actual.unmatched_accounts.insert(
        sys("okta"),
        vec![
            record("ghost", AccountState::Active),
            record("gone", AccountState::Deprovisioned),
        ],
    );
    let report = detect(&desired(), &actual, &config());
    assert_eq!(report.findings.len(), 1, "only the enabled one: {report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Orphaned);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.identity, None);
    assert_eq!(f.holder, Holder::Unknown);
    assert_eq!(f.login, "ghost@example.com");
    assert_eq!(
        f.remediation.last().map(|o| o.kind.verb()),
        Some("suspend_account")
    );
    assert!(f.evidence.observed.contains("never signed in"));
}

#[test]
fn drift_on_a_foreign_owned_group_is_reported_without_a_fix() {
    let mut actual = actual();
    let rule_group = Entitlement::new("okta", "group", "okta-rule-admins");
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .insert(rule_group.clone());
    let mut config = config();
    system(&mut config, "okta").enforcement = Enforcement::Authoritative;
    let report = detect(&desired(), &actual, &config);
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::ForeignOwned);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence.owner.as_deref(), Some("okta-group-rules"));
    assert!(f.remediation.is_empty());
    assert!(report.to_string().contains("owned by okta-group-rules"));
}

#[test]
fn a_difference_an_in_flight_operation_resolves_is_pending() {
    let mut actual = actual();
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .remove(&eng_slack());
    let in_flight = BTreeSet::from([provision_core::model::OperationId(
        "e1001/slack/grant/channel/eng-general".into(),
    )]);
    let (config, descriptors) = (config(), descriptors());
    let inputs = DriftInputs::new(&config, &descriptors, now()).in_flight(&in_flight);
    let report = detect_drift(&desired(), &actual, &inputs);
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Pending);
    assert_eq!(f.evidence.in_flight, in_flight.iter().next().cloned());
    assert!(f.remediation.is_empty());
    assert!(!report.has_drift());
}

#[test]
fn an_account_made_on_first_sso_login_is_pending_with_its_grants() {
    let mut actual = actual();
    let sarah = actual.identities.get_mut(&id("e1001")).unwrap();
    sarah.accounts.remove(&sys("gitlab"));
    sarah.grants.retain(|e| e.system.as_str() != "gitlab");
    let report = detect(&desired(), &actual, &config());
    assert_eq!(report.findings.len(), 2, "{report}");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.class == DriftClass::Pending && f.system == sys("gitlab"))
    );
}

#[test]
fn an_expired_grant_still_held_is_unmanaged() {
    let mut desired = desired();
    let grant = desired
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .get_mut(&aws_readonly())
        .unwrap();
    grant.validity = Validity {
        start: None,
        end: Some(now() - Duration::hours(1)),
    };
    let report = detect(&desired, &actual(), &config());
    assert_eq!(report.findings.len(), 1, "{report}");
    let f = &report.findings[0];
    assert_eq!(f.class, DriftClass::Unmanaged);
    assert!(
        f.evidence
            .expected
            .starts_with("no grant: its validity ended"),
        "{}",
        f.evidence.expected
    );
}

#[test]
fn an_account_unused_past_the_threshold_is_stale() {
    let mut actual = actual();
    let lee = actual.identities.get_mut(&id("e1002")).unwrap();
    lee.accounts
        .get_mut(&sys("slack"))
        .unwrap()
        .record
        .last_login = Some(now() - Duration::days(200));
    let (config, descriptors) = (config(), descriptors());
    let inputs = DriftInputs::new(&config, &descriptors, now());
    assert!(
        detect_drift(&desired(), &actual, &inputs)
            .findings
            .is_empty(),
        "no threshold, no stale findings"
    );
    let report = detect_drift(&desired(), &actual, &inputs.stale_after(Duration::days(90)));
    assert_eq!(report.findings.len(), 1, "{report}");
    assert_eq!(report.findings[0].class, DriftClass::Stale);
    assert_eq!(report.findings[0].severity, Severity::Low);
    assert_eq!(report.findings[0].identity, Some(id("e1002")));
}

#[test]
fn the_report_reads_one_line_per_finding_and_round_trips_as_json() {
    let mut actual = actual();
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .remove(&eng_slack());
    actual
        .identities
        .get_mut(&id("e1001"))
        .unwrap()
        .grants
        .insert(sales_slack());
    let tom = actual.identities.get_mut(&id("e1003")).unwrap();
    let okta = tom.accounts.get_mut(&sys("okta")).unwrap();
    okta.state = AccountState::Active;
    okta.record.state = AccountState::Active;
    let report = detect(&desired(), &actual, &config());
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("3 finding(s)"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(
            "[critical] orphaned e1003 <tom@example.com> okta: account 00u-tom (active)"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with("-> fix: e1003/okta/revoke_sessions, e1003/okta/suspend_account"),
        "{}",
        lines[1]
    );
    assert!(text.contains(
        "[medium] missing e1001 <sarah@example.com> slack: grant slack/channel/eng-general"
    ));
    assert!(text.contains("-> fix: e1001/slack/grant/channel/eng-general"));
    assert!(text.contains(
        "[low] unmanaged e1001 <sarah@example.com> slack: grant slack/channel/sales-deals"
    ));

    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"class\":\"orphaned\""), "{json}");
    assert!(json.contains("\"severity\":\"critical\""), "{json}");
    let back: provision_core::drift::DriftReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
