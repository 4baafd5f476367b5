//! The orderer's cross-system edges and cycle errors.
#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::collections::BTreeMap;

use planner_support::*;
use provision_core::config::{CrossSystemDependency, DependencyTarget};
use provision_core::model::*;
use provision_core::orderer::{check_dependency_cycles, dependencies, order};
use provision_core::planner::{correlate, desired, plan};

fn dep(
    system: &str,
    depends_on: &str,
    on: DependencyTarget,
    kind: Option<&str>,
) -> CrossSystemDependency {
    CrossSystemDependency {
        system: system.into(),
        kind: kind.map(str::to_owned),
        depends_on: depends_on.into(),
        on,
    }
}

fn sarah_unordered(config: &provision_core::config::DeploymentConfig) -> Plan {
    let descriptors = descriptors();
    let d = desired(&[sarah()], &policies(), config, &descriptors, now());
    plan(
        &d,
        &correlate(&[sarah()], &BTreeMap::new()),
        config,
        &descriptors,
        now(),
    )
}

#[test]
fn the_seed_config_has_no_cycle() {
    assert_eq!(check_dependency_cycles(&config()), Ok(()));
}

#[test]
fn a_config_cycle_is_named_at_load() {
    let mut c = config();
    c.dependencies
        .push(dep("okta", "gitlab", DependencyTarget::Grants, None));
    let err = check_dependency_cycles(&c).unwrap_err();
    let mut systems: Vec<&str> = err.systems.iter().map(SystemName::as_str).collect();
    systems.sort_unstable();
    assert_eq!(systems, vec!["gitlab", "okta"]);
    let text = err.to_string();
    assert!(
        text.contains("okta -> gitlab -> okta") || text.contains("gitlab -> okta -> gitlab"),
        "{text}"
    );

    let mut c = config();
    c.dependencies
        .push(dep("jira", "jira", DependencyTarget::Account, None));
    let err = check_dependency_cycles(&c).unwrap_err();
    assert_eq!(
        err.to_string().split(':').nth(1).unwrap().trim(),
        "jira -> jira; no order of work can satisfy them"
    );
}

#[test]
fn a_plan_cycle_names_the_operations_and_systems() {
    let mut c = config();
    // Okta's account waits for GitLab's grants, which wait for GitLab's account,
    // which waits for Okta's account.
    c.dependencies
        .push(dep("okta", "gitlab", DependencyTarget::Grants, None));
    let err = order(sarah_unordered(&c), &c).unwrap_err();
    let ops: Vec<&str> = err.operations.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(
        ops,
        vec![
            "e1001/gitlab/create_account",
            "e1001/gitlab/grant/group/customer-solutions#reporter",
            "e1001/okta/create_account",
        ]
    );
    assert_eq!(
        err.systems,
        vec![SystemName::new("gitlab"), SystemName::new("okta")]
    );
    let text = err.to_string();
    assert!(text.contains("e1001/gitlab/create_account -> e1001/gitlab/grant/group/customer-solutions#reporter -> e1001/okta/create_account -> e1001/gitlab/create_account"), "{text}");
    assert!(text.contains("(systems: gitlab, okta)"), "{text}");
}

#[test]
fn grants_dependency_of_one_kind_waits_for_every_grant_of_the_other_system() {
    // AWS-style: slack channel invites come through okta groups.
    let mut c = config();
    c.dependencies.push(dep(
        "slack",
        "okta",
        DependencyTarget::Grants,
        Some("channel"),
    ));
    let p = sarah_unordered(&c);
    let edges = dependencies(&p, &c);
    let has = |b: &str, a: &str| edges.iter().any(|d| d.before.0 == b && d.after.0 == a);
    for okta_grant in [
        "e1001/okta/grant/group/sales-team",
        "e1001/okta/grant/group/engineering-team",
    ] {
        assert!(has(okta_grant, "e1001/slack/grant/channel/#sales"));
        assert!(has(
            okta_grant,
            "e1001/slack/grant/channel/#sales-engineering"
        ));
        // The account itself does not wait for Okta's groups.
        assert!(!has(okta_grant, "e1001/slack/create_account"));
    }
    let ordered = order(p, &c).unwrap();
    assert_edges_respected(&ordered);
}

#[test]
fn ordering_is_stable_whatever_the_input_order() {
    let c = config();
    let p = sarah_unordered(&c);
    let mut reversed = p.clone();
    reversed.operations.reverse();
    assert_eq!(order(p, &c).unwrap(), order(reversed, &c).unwrap());
}

#[test]
fn a_diamond_is_not_a_cycle_but_a_ring_of_three_is() {
    let mut c = config();
    c.dependencies.clear();
    c.dependencies.extend([
        dep("google", "okta", DependencyTarget::Account, None),
        dep("slack", "okta", DependencyTarget::Account, None),
        dep("jira", "google", DependencyTarget::Account, None),
        dep("jira", "slack", DependencyTarget::Grants, None),
    ]);
    assert_eq!(check_dependency_cycles(&c), Ok(()));
    let ordered = order(sarah_unordered(&c), &c).unwrap();
    assert_edges_respected(&ordered);

    c.dependencies
        .push(dep("okta", "jira", DependencyTarget::Account, None));
    let err = check_dependency_cycles(&c).unwrap_err();
    let mut systems: Vec<&str> = err.systems.iter().map(SystemName::as_str).collect();
    systems.sort_unstable();
    // Either ring through jira back to okta names its three systems.
    assert_eq!(systems.len(), 3, "{err}");
    assert!(
        systems.contains(&"okta") && systems.contains(&"jira"),
        "{err}"
    );
}
