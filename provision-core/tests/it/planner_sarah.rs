//! The seed's worked example: Sarah joins as a Sales Engineer.
#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::collections::BTreeMap;

use planner_support::*;
use provision_core::model::*;
use provision_core::planner::{Planner, correlate};

fn sarah_plan() -> (DesiredState, Plan) {
    let config = config();
    let descriptors = descriptors();
    let planner = Planner::new(&config, &descriptors).with_event("hr:hire:e1001");
    let desired = planner.desired(&[sarah()], &policies(), now());
    let actual = correlate(&[sarah()], &BTreeMap::new());
    let plan = planner
        .plan(&desired, &actual, now())
        .unwrap()
        .approve()
        .unwrap();
    (desired, plan.into_plan())
}

#[test]
fn sarah_gets_an_account_and_her_nine_grants() {
    let (_, plan) = sarah_plan();
    let mut expected: Vec<String> = ["okta", "google", "salesforce", "gitlab", "slack", "jira"]
        .iter()
        .map(|s| format!("create_account {s}"))
        .collect();
    expected.extend(sarah_entitlements().iter().map(|e| format!("grant {e}")));
    expected.sort();
    assert_eq!(summary(&plan.operations), expected);
}

#[test]
fn okta_account_comes_first_and_gitlab_membership_after_gitlab_account() {
    let (_, plan) = sarah_plan();
    assert_eq!(plan.operations[0].id.0, "e1001/okta/create_account");
    let pos = positions(&plan);
    let gitlab_account = pos["e1001/gitlab/create_account"];
    let gitlab_membership = pos["e1001/gitlab/grant/group/customer-solutions#reporter"];
    assert!(gitlab_account < gitlab_membership);
    // The GitLab account (first SSO login) waits for the Okta account.
    assert!(
        plan.dependencies
            .iter()
            .any(|d| d.before.0 == "e1001/okta/create_account"
                && d.after.0 == "e1001/gitlab/create_account")
    );
    assert_edges_respected(&plan);
}

#[test]
fn every_grant_waits_for_its_account() {
    let (_, plan) = sarah_plan();
    for op in &plan.operations {
        if let OperationKind::Grant { .. } = op.kind {
            let account = format!("{}/{}/create_account", op.identity, op.system);
            assert!(
                plan.dependencies
                    .iter()
                    .any(|d| d.before.0 == account && d.after == op.id),
                "{} has no edge from {account}",
                op.id
            );
        }
    }
}

#[test]
fn why_does_sarah_have_engineering_team() {
    let (desired, _) = sarah_plan();
    let why = desired
        .why(&IdentityId::new("e1001"), &okta("engineering-team"))
        .unwrap();
    assert_eq!(why.len(), 1);
    assert_eq!(why[0].name(), "Sales Engineer Access");
    assert_eq!(why[0].matched().get("department").unwrap(), "Sales");
    assert_eq!(why[0].matched().get("title").unwrap(), "Sales Engineer");

    let why = desired
        .why(&IdentityId::new("e1001"), &okta("sales-team"))
        .unwrap();
    assert_eq!(why[0].name(), "Sales Access");
    assert_eq!(
        *why[0].matched(),
        BTreeMap::from([("department".to_owned(), "Sales".to_owned())])
    );
    // Nothing gives her the account executive profile.
    assert!(
        desired
            .why(&IdentityId::new("e1001"), &salesforce("Account Executive"))
            .is_none()
    );
}

#[test]
fn each_operation_says_why_in_words() {
    let (_, plan) = sarah_plan();
    let op = plan
        .operations
        .iter()
        .find(|o| o.id.0 == "e1001/okta/grant/group/engineering-team")
        .unwrap();
    assert_eq!(op.reason.kind, ReasonKind::PolicyGrant);
    assert_eq!(op.reason.policies, vec!["Sales Engineer Access".to_owned()]);
    assert_eq!(op.reason.event.as_deref(), Some("hr:hire:e1001"));
    assert_eq!(
        op.reason.detail,
        "policy 'Sales Engineer Access' matched department=Sales, title=Sales Engineer"
    );
    let create = plan
        .operations
        .iter()
        .find(|o| o.id.0 == "e1001/okta/create_account")
        .unwrap();
    match &create.kind {
        OperationKind::CreateAccount { profile } => {
            assert_eq!(profile.login, "sarah.chen@company.com");
            assert_eq!(profile.display_name, "Sarah Chen");
            assert_eq!(profile.attributes["title"], "Sales Engineer");
        }
        other => panic!("expected a create, got {other:?}"),
    }
    assert!(create.reason.detail.contains("'Sales Access'"));
    assert!(
        plan.operations
            .iter()
            .all(|o| o.priority == Priority::Normal)
    );
}

#[test]
fn planning_twice_gives_the_same_plan() {
    let (_, a) = sarah_plan();
    let (_, b) = sarah_plan();
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
