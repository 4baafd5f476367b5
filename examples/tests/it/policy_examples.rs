//! The example deployment, policies and roster load and validate together, and
//! give the seed's worked example: Sarah, a Sales Engineer.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use provision_core::adapter::FactoryRegistry;
use provision_core::engine::Engine;
use provision_core::model::{Entitlement, Identity, PolicySet};
use provision_roster::load_roster;

/// The example's policies, validated against the sandbox systems `provision.yaml`
/// names, and its roster.
fn examples() -> (PolicySet, Vec<Identity>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let factories = FactoryRegistry::new().with(provision_sandbox::factory());
    let validated =
        match Engine::validate(dir.join("provision.yaml"), dir.join("policies"), &factories) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
    let roster = load_roster(&dir.join("roster.yaml")).unwrap();
    (validated.policies, roster)
}

fn entitlements_of(policies: &PolicySet, person: &Identity) -> BTreeSet<Entitlement> {
    policies
        .policies
        .iter()
        .filter(|p| p.selector.matches(person).is_some())
        .flat_map(|p| p.grants.iter().map(|g| g.entitlement.clone()))
        .collect()
}

#[test]
fn sarah_the_sales_engineer_gets_the_seed_entitlements() {
    let (policies, roster) = examples();
    let sarah = roster
        .iter()
        .find(|p| p.display_name == "Sarah Chen")
        .unwrap();
    let expected: BTreeSet<Entitlement> = [
        Entitlement::new("okta", "group", "sales-team"),
        Entitlement::new("okta", "group", "engineering-team"),
        Entitlement::new("google", "group", "sales@company.com").with_role("member"),
        Entitlement::new("google", "group", "engineering@company.com").with_role("member"),
        Entitlement::new("salesforce", "profile", "Sales Engineer"),
        Entitlement::new("gitlab", "group", "customer-solutions").with_role("reporter"),
        Entitlement::new("slack", "channel", "#sales"),
        Entitlement::new("slack", "channel", "#sales-engineering"),
        Entitlement::new("jira", "project_role", "SALES").with_role("Reporter"),
    ]
    .into_iter()
    .collect();
    assert_eq!(entitlements_of(&policies, sarah), expected);
}

#[test]
fn a_mover_from_engineering_to_sales_changes_a_real_difference() {
    let (policies, roster) = examples();
    let priya = roster.iter().find(|p| p.id.as_str() == "e1003").unwrap();
    assert_eq!(priya.attribute("department"), Some("Engineering"));
    let before = entitlements_of(&policies, priya);
    let mut moved = priya.clone();
    moved.attributes.insert("department".into(), "Sales".into());
    moved
        .attributes
        .insert("title".into(), "Account Executive".into());
    let after = entitlements_of(&policies, &moved);
    assert!(
        before.contains(&Entitlement::new("gitlab", "group", "engineering").with_role("developer"))
    );
    assert!(
        !after.contains(&Entitlement::new("gitlab", "group", "engineering").with_role("developer"))
    );
    assert!(after.contains(&Entitlement::new("salesforce", "profile", "Sales User")));
    assert!(
        before.is_disjoint(&after),
        "an engineer turned sales rep keeps nothing here"
    );
}

#[test]
fn the_senior_engineer_policy_is_the_seed_shape() {
    let (policies, roster) = examples();
    let senior = policies
        .policies
        .iter()
        .find(|p| p.name == "Senior Engineer Access")
        .unwrap();
    assert!(senior.grants.iter().any(|g| {
        g.entitlement
            == Entitlement::new("aws", "permission_set", "EngineeringSeniorReadOnly")
                .with_scope("account:production")
    }));
    let marcus = roster.iter().find(|p| p.id.as_str() == "e1002").unwrap();
    assert!(senior.selector.matches(marcus).is_some());
    let priya = roster.iter().find(|p| p.id.as_str() == "e1003").unwrap();
    assert!(senior.selector.matches(priya).is_none());
}
