//! The desired state as data: what its JSON looks like, that it reads back, and
//! that the matched attribute values are held once per distinct set of values
//! (the planner's memory at 100k identities depends on it).
#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::sync::Arc;

use planner_support::*;
use provision_core::model::*;
use provision_core::planner::Planner;

fn desired_for(people: &[Identity]) -> DesiredState {
    let config = config();
    let descriptors = descriptors();
    Planner::new(&config, &descriptors).desired(people, &policies(), now())
}

fn tom() -> Identity {
    Identity::new("e1002", "tom.li@company.com", "Tom Li")
        .with_attribute("department", "Sales")
        .with_attribute("title", "Sales Engineer")
}

fn ana() -> Identity {
    Identity::new("e1003", "ana.ruiz@company.com", "Ana Ruiz")
        .with_attribute("department", "Sales")
        .with_attribute("title", "Account Executive")
}

fn provenance_of<'a>(
    desired: &'a DesiredState,
    who: &Identity,
    e: &Entitlement,
    policy: &str,
) -> &'a Provenance {
    desired
        .why(&who.id, e)
        .unwrap()
        .iter()
        .find(|p| p.policy_name() == Some(policy))
        .unwrap()
}

#[test]
fn desired_state_json_lists_each_grant_with_its_entitlement_and_reads_back() {
    let desired = desired_for(&[sarah()]);
    let json: serde_json::Value = serde_json::to_value(&desired).unwrap();
    let grants = json["identities"]["e1001"]["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 9);
    let engineering = grants
        .iter()
        .find(|g| g["entitlement"]["resource"] == "engineering-team")
        .unwrap();
    assert_eq!(engineering["entitlement"]["system"], "okta");
    assert_eq!(engineering["entitlement"]["kind"], "group");
    assert_eq!(
        engineering["provenance"][0]["policy"],
        "Sales Engineer Access"
    );
    assert_eq!(
        engineering["provenance"][0]["matched"],
        serde_json::json!({"department": "Sales", "title": "Sales Engineer"})
    );

    let text = serde_json::to_string(&desired).unwrap();
    let back: DesiredState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, desired);
    assert_eq!(
        back.why(&IdentityId::new("e1001"), &okta("engineering-team")),
        desired.why(&IdentityId::new("e1001"), &okta("engineering-team"))
    );
}

#[test]
fn a_grant_listed_twice_is_refused_by_name() {
    let desired = desired_for(&[sarah()]);
    let mut json: serde_json::Value = serde_json::to_value(&desired).unwrap();
    let grants = json["identities"]["e1001"]["grants"]
        .as_array_mut()
        .unwrap();
    let first = grants[0].clone();
    grants.push(first);
    let err = serde_json::from_value::<DesiredState>(json)
        .unwrap_err()
        .to_string();
    // Grants are listed in entitlement order: GitLab's comes first.
    assert!(
        err.contains("grant gitlab/group/customer-solutions role=reporter is listed twice"),
        "{err}"
    );
}

#[test]
fn one_policy_match_shares_its_matched_values_across_its_grants() {
    let desired = desired_for(&[sarah()]);
    let s = sarah();
    let a = provenance_of(
        &desired,
        &s,
        &okta("engineering-team"),
        "Sales Engineer Access",
    );
    let b = provenance_of(
        &desired,
        &s,
        &slack("#sales-engineering"),
        "Sales Engineer Access",
    );
    assert!(Arc::ptr_eq(
        a.shared_matched().unwrap(),
        b.shared_matched().unwrap()
    ));
}

#[test]
fn identities_that_matched_on_the_same_values_share_one_map() {
    let desired = desired_for(&[sarah(), tom(), ana()]);
    let e = okta("engineering-team");
    let sarahs = provenance_of(&desired, &sarah(), &e, "Sales Engineer Access");
    let toms = provenance_of(&desired, &tom(), &e, "Sales Engineer Access");
    assert!(Arc::ptr_eq(
        sarahs.shared_matched().unwrap(),
        toms.shared_matched().unwrap()
    ));

    // "Sales Access" matched all three on department=Sales alone: one map.
    let sales = okta("sales-team");
    let s = provenance_of(&desired, &sarah(), &sales, "Sales Access");
    let a = provenance_of(&desired, &ana(), &sales, "Sales Access");
    assert!(Arc::ptr_eq(
        s.shared_matched().unwrap(),
        a.shared_matched().unwrap()
    ));
    assert_eq!(s.matched().len(), 1);

    // Different values are different maps, each with its own evidence.
    let ae = provenance_of(
        &desired,
        &ana(),
        &salesforce("Account Executive"),
        "Account Executive Access",
    );
    assert_eq!(ae.matched()["title"], "Account Executive");
    assert_eq!(sarahs.matched()["title"], "Sales Engineer");
}
