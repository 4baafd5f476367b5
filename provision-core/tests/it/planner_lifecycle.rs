//! Joiner, mover, leaver and rehire through the same diff; validity windows;
//! enforcement modes; external ownership.
#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::collections::BTreeMap;

use planner_support::*;
use provision_core::config::{DeploymentConfig, Enforcement, ExternalOwnership};
use provision_core::model::*;
use provision_core::orderer;
use provision_core::planner::{
    Descriptors, Planner, apply, correlate, desired, plan, plan_with_report,
};

/// Sarah after a successful joiner run.
fn sarah_joined(config: &DeploymentConfig, descriptors: &Descriptors) -> ActualState {
    let d = desired(&[sarah()], &policies(), config, descriptors, now());
    let actual = correlate(&[sarah()], &BTreeMap::new());
    let p = plan(&d, &actual, config, descriptors, now());
    let after = apply(&p, &actual);
    assert!(plan(&d, &after, config, descriptors, now()).is_empty());
    after
}

fn plan_for(identity: &Identity, actual: &ActualState, config: &DeploymentConfig) -> Plan {
    let descriptors = descriptors();
    let planner = Planner::new(config, &descriptors);
    let d = planner.desired(std::slice::from_ref(identity), &policies(), now());
    planner
        .plan(&d, actual, now())
        .unwrap()
        .confirm_blast_radius(usize::MAX)
        .unwrap()
        .into_plan()
}

#[test]
fn mover_gets_exactly_the_difference() {
    let config = config();
    let actual = sarah_joined(&config, &descriptors());
    let moved = sarah().with_attribute("title", "Account Executive");
    let p = plan_for(&moved, &actual, &config);
    assert_eq!(
        summary(&p.operations),
        vec![
            "grant salesforce/profile/Account Executive".to_owned(),
            "revoke gitlab/group/customer-solutions role=reporter".to_owned(),
            "revoke google/group/engineering@company.com".to_owned(),
            "revoke okta/group/engineering-team".to_owned(),
            "revoke salesforce/profile/Sales Engineer".to_owned(),
            "revoke slack/channel/#sales-engineering".to_owned(),
        ]
    );
    let revoke = p
        .operations
        .iter()
        .find(|o| o.id.0 == "e1001/okta/revoke/group/engineering-team")
        .unwrap();
    assert_eq!(revoke.reason.kind, ReasonKind::PolicyRemoved);
    assert_eq!(revoke.priority, Priority::Normal);
}

#[test]
fn role_change_is_revoke_then_grant_unless_in_place() {
    let config = config();
    let descriptors = descriptors();
    let mut actual = sarah_joined(&config, &descriptors);
    // Someone made her maintainer by hand on a managed group.
    let who = actual
        .identities
        .get_mut(&IdentityId::new("e1001"))
        .unwrap();
    who.grants.remove(&gitlab("customer-solutions", "reporter"));
    who.grants
        .insert(gitlab("customer-solutions", "maintainer"));

    let p = plan_for(&sarah(), &actual, &config);
    assert_eq!(
        summary(&p.operations),
        vec![
            "grant gitlab/group/customer-solutions role=reporter".to_owned(),
            "revoke gitlab/group/customer-solutions role=maintainer".to_owned(),
        ]
    );
    assert!(p.dependencies.iter().any(|d| d.before.0
        == "e1001/gitlab/revoke/group/customer-solutions#maintainer"
        && d.after.0 == "e1001/gitlab/grant/group/customer-solutions#reporter"));
    assert_edges_respected(&p);

    // Where the role can be changed in place, the grant alone does it.
    let mut in_place = descriptors.clone();
    in_place.get_mut(&SystemName::new("gitlab")).unwrap().kinds[0].role_change_in_place = true;
    let d = desired(&[sarah()], &policies(), &config, &in_place, now());
    let p = plan(&d, &actual, &config, &in_place, now());
    assert_eq!(
        summary(&p.operations),
        vec!["grant gitlab/group/customer-solutions role=reporter".to_owned()]
    );
    assert_eq!(
        apply(&p, &actual).identities[&IdentityId::new("e1001")]
            .grants
            .len(),
        9
    );
}

#[test]
fn leaver_sessions_and_suspension_come_before_anything_else() {
    let mut config = config();
    config
        .systems
        .get_mut(&SystemName::new("okta"))
        .unwrap()
        .delete_leavers = true;
    let actual = sarah_joined(&config, &descriptors());
    let mut gone = sarah();
    gone.status = EmploymentStatus::Terminated {
        effective: now() - days(1),
    };
    let p = plan_for(&gone, &actual, &config);

    assert!(p.operations.iter().all(|o| o.priority == Priority::Leaver));
    assert!(
        p.operations
            .iter()
            .all(|o| o.reason.kind == ReasonKind::Termination)
    );
    // Sessions where the system can end them, then suspensions, then the rest.
    let verbs: Vec<&str> = p.operations.iter().map(|o| o.kind.verb()).collect();
    assert_eq!(
        verbs,
        vec![
            "revoke_sessions", // google
            "revoke_sessions", // okta
            "revoke_sessions", // slack
            "suspend_account", // gitlab
            "suspend_account", // google
            "suspend_account", // okta
            "suspend_account", // salesforce
            "suspend_account", // slack
            "revoke",          // jira cannot suspend: its grant goes
            "delete_account",  // okta (delete_leavers)
        ]
    );
    assert_eq!(
        p.operations[8].id.0,
        "e1001/jira/revoke/project_role/SALES#Reporter"
    );
    assert!(
        p.dependencies
            .iter()
            .any(|d| d.before.0 == "e1001/okta/revoke_sessions"
                && d.after.0 == "e1001/okta/suspend_account")
    );
    assert!(
        p.dependencies
            .iter()
            .any(|d| d.before.0 == "e1001/okta/suspend_account"
                && d.after.0 == "e1001/okta/delete_account")
    );
    assert_edges_respected(&p);
    assert!(
        p.operations[0]
            .reason
            .detail
            .starts_with("identity terminated effective 2026-03-01T09:00:00Z")
    );

    // After the run, nothing more to do for her.
    let after = apply(&p, &actual);
    assert!(plan_for(&gone, &after, &config).is_empty());
    let left = &after.identities[&IdentityId::new("e1001")];
    assert!(!left.accounts.contains_key(&SystemName::new("okta")));
    // Every account that can be suspended is; Jira cannot, and holds nothing any more.
    for (system, account) in &left.accounts {
        assert_eq!(
            account.state.is_enabled(),
            system.as_str() == "jira",
            "{system}"
        );
    }
    assert!(left.grants.iter().all(|e| e.system.as_str() != "jira"));
}

#[test]
fn dated_termination_in_the_future_changes_nothing_yet() {
    let config = config();
    let actual = sarah_joined(&config, &descriptors());
    let mut leaving = sarah();
    leaving.status = EmploymentStatus::Terminated {
        effective: now() + days(14),
    };
    assert!(plan_for(&leaving, &actual, &config).is_empty());
}

#[test]
fn rehire_reactivates_accounts_and_restores_what_is_missing() {
    let config = config();
    let mut actual = sarah_joined(&config, &descriptors());
    let who = actual
        .identities
        .get_mut(&IdentityId::new("e1001"))
        .unwrap();
    // Suspended in Okta (grants kept); deprovisioned in Google (grants removed).
    who.accounts
        .get_mut(&SystemName::new("okta"))
        .unwrap()
        .state = AccountState::Suspended;
    who.accounts
        .get_mut(&SystemName::new("google"))
        .unwrap()
        .state = AccountState::Deprovisioned;
    who.grants.retain(|e| e.system.as_str() != "google");

    let p = plan_for(&sarah(), &actual, &config);
    assert_eq!(
        summary(&p.operations),
        vec![
            "grant google/group/engineering@company.com".to_owned(),
            "grant google/group/sales@company.com".to_owned(),
            "reactivate_account google".to_owned(),
            "reactivate_account okta".to_owned(),
        ]
    );
    assert_eq!(p.operations[0].id.0, "e1001/okta/reactivate_account");
    assert_eq!(p.operations[0].reason.kind, ReasonKind::Reactivation);
    let pos = positions(&p);
    assert!(
        pos["e1001/google/reactivate_account"] < pos["e1001/google/grant/group/sales@company.com"]
    );
    assert_edges_respected(&p);
}

#[test]
fn expired_grant_is_revoked_and_future_grant_not_given_yet() {
    let config = config();
    let descriptors = descriptors();
    let mut policies = policies();
    let mut contractor = grant(okta("vendor-portal"));
    contractor.validity.end = Some(now() - days(1));
    let mut later = grant(slack("#launch"));
    later.validity.start = Some(now() + days(7));
    policies.policies.push(Policy {
        name: "Contractor Window".into(),
        selector: Selector::equals("department", "Sales"),
        grants: vec![contractor, later],
        source: None,
    });
    let d = desired(&[sarah()], &policies, &config, &descriptors, now());
    let id = IdentityId::new("e1001");
    assert!(d.why(&id, &okta("vendor-portal")).is_none());
    assert!(d.why(&id, &slack("#launch")).is_none());

    let mut actual = sarah_joined(&config, &descriptors);
    actual
        .identities
        .get_mut(&id)
        .unwrap()
        .grants
        .insert(okta("vendor-portal"));
    let p = plan(&d, &actual, &config, &descriptors, now());
    assert_eq!(p.operations.len(), 1, "{:?}", summary(&p.operations));
    let op = &p.operations[0];
    assert_eq!(
        op.kind,
        OperationKind::Revoke {
            entitlement: okta("vendor-portal")
        }
    );
    assert_eq!(op.reason.kind, ReasonKind::Expired);
    assert_eq!(op.reason.policies, vec!["Contractor Window".to_owned()]);
    assert!(op.reason.detail.contains("ended 2026-03-01T09:00:00Z"));

    // Once the window opens, the future grant is given.
    let later_d = desired(
        &[sarah()],
        &policies,
        &config,
        &descriptors,
        now() + days(8),
    );
    assert_eq!(
        later_d.why(&id, &slack("#launch")).unwrap()[0].name(),
        "Contractor Window"
    );
}

fn with_manual_grant(config: &DeploymentConfig) -> (DesiredState, ActualState) {
    let descriptors = descriptors();
    let mut actual = sarah_joined(config, &descriptors);
    let who = actual
        .identities
        .get_mut(&IdentityId::new("e1001"))
        .unwrap();
    who.grants.insert(okta("beta-testers")); // no policy mentions it
    who.grants.insert(slack("#random")); // no policy mentions it
    let d = desired(&[sarah()], &policies(), config, &descriptors, now());
    (d, actual)
}

#[test]
fn manual_grants_stay_under_additive() {
    let config = config();
    let (d, actual) = with_manual_grant(&config);
    assert!(plan(&d, &actual, &config, &descriptors(), now()).is_empty());
}

#[test]
fn manual_grants_go_under_authoritative_for_that_kind_only() {
    let mut config = config();
    config
        .systems
        .get_mut(&SystemName::new("okta"))
        .unwrap()
        .kind_enforcement
        .insert("group".into(), Enforcement::Authoritative);
    let (d, actual) = with_manual_grant(&config);
    let p = plan(&d, &actual, &config, &descriptors(), now());
    assert_eq!(
        summary(&p.operations),
        vec!["revoke okta/group/beta-testers".to_owned()]
    );
    assert_eq!(p.operations[0].reason.kind, ReasonKind::UnmanagedGrant);
}

#[test]
fn report_changes_nothing_but_says_what_it_would_do() {
    let mut config = config();
    for s in ["okta", "slack"] {
        let sys = config.systems.get_mut(&SystemName::new(s)).unwrap();
        sys.enforcement = Enforcement::Report;
    }
    let descriptors = descriptors();
    // Sarah joined while everything was additive, then okta and slack went to report.
    let (_, mut actual) = with_manual_grant(&planner_support::config());
    let d = desired(&[sarah()], &policies(), &config, &descriptors, now());
    // And a missing policy grant in okta.
    actual
        .identities
        .get_mut(&IdentityId::new("e1001"))
        .unwrap()
        .grants
        .remove(&okta("sales-team"));
    let planned = plan_with_report(&d, &actual, &config, &descriptors, now());
    assert!(planned.plan.is_empty());
    assert_eq!(
        summary(&planned.report_only),
        vec!["grant okta/group/sales-team".to_owned()]
    );
}

#[test]
fn externally_owned_resources_are_never_touched() {
    let mut config = config();
    let okta_cfg = config.systems.get_mut(&SystemName::new("okta")).unwrap();
    okta_cfg.enforcement = Enforcement::Authoritative;
    okta_cfg.external_owners.push(ExternalOwnership {
        engine: "okta-group-rules".into(),
        kind: Some("group".into()),
        resource_prefix: Some("rule-".into()),
    });
    let (d, mut actual) = with_manual_grant(&config);
    actual
        .identities
        .get_mut(&IdentityId::new("e1001"))
        .unwrap()
        .grants
        .insert(okta("rule-all-staff"));
    let p = plan(&d, &actual, &config, &descriptors(), now());
    assert_eq!(
        summary(&p.operations),
        vec!["revoke okta/group/beta-testers".to_owned()]
    );

    // Also for a leaver, and for accounts when the engine owns the whole system.
    let mut gone = sarah();
    gone.status = EmploymentStatus::Terminated {
        effective: now() - days(1),
    };
    config
        .systems
        .get_mut(&SystemName::new("okta"))
        .unwrap()
        .external_owners
        .push(ExternalOwnership {
            engine: "sailpoint".into(),
            kind: None,
            resource_prefix: None,
        });
    let p = plan_for(&gone, &actual, &config);
    assert!(p.operations.iter().all(|o| o.system.as_str() != "okta"));
    assert!(!p.is_empty());
}

#[test]
fn plan_for_one_identity_leaves_the_others_alone() {
    let config = config();
    let descriptors = descriptors();
    let bob =
        Identity::new("e2002", "bob@company.com", "Bob").with_attribute("department", "Sales");
    let everyone = [sarah(), bob.clone()];
    let actual = correlate(&everyone, &BTreeMap::new());
    let only_bob = desired(
        std::slice::from_ref(&bob),
        &policies(),
        &config,
        &descriptors,
        now(),
    );
    let p = plan(&only_bob, &actual, &config, &descriptors, now());
    assert!(!p.is_empty());
    assert!(p.operations.iter().all(|o| o.identity.as_str() == "e2002"));

    // The same operations as Bob's share of the plan for everyone.
    let all = desired(&everyone, &policies(), &config, &descriptors, now());
    let full = plan(&all, &actual, &config, &descriptors, now());
    let bobs: Vec<Operation> = full
        .operations
        .into_iter()
        .filter(|o| o.identity.as_str() == "e2002")
        .collect();
    assert_eq!(bobs, p.operations);
    let ordered = orderer::order(p, &config).unwrap();
    assert_eq!(ordered.operations[0].id.0, "e2002/okta/create_account");
}

#[test]
fn a_time_bound_grant_tells_the_system_when_it_ends() {
    let config = config();
    let descriptors = descriptors();
    let mut policies = policies();
    let mut contractor = grant(okta("vendor-portal"));
    contractor.validity.end = Some(now() + days(30));
    policies.policies.push(Policy {
        name: "Contractor Window".into(),
        selector: Selector::equals("department", "Sales"),
        grants: vec![contractor],
        source: None,
    });
    let d = desired(&[sarah()], &policies, &config, &descriptors, now());
    let actual = sarah_joined(&config, &descriptors);
    let p = plan(&d, &actual, &config, &descriptors, now());
    let op = p
        .operations
        .iter()
        .find(|o| {
            o.kind
                == OperationKind::Grant {
                    entitlement: okta("vendor-portal"),
                }
        })
        .expect("the window is open: granted");
    assert_eq!(op.reason.valid_until, Some(now() + days(30)));
    // An open-ended grant carries no end.
    assert!(
        p.operations
            .iter()
            .filter(|o| o.id != op.id)
            .all(|o| o.reason.valid_until.is_none())
    );
}
