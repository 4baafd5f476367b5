//! Sarah's company: the seed's worked example as plain data, shared by the
//! planner and orderer tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
use provision_core::config::{
    CrossSystemDependency, DependencyTarget, DeploymentConfig, SystemConfig,
};
use provision_core::model::*;
use provision_core::planner::Descriptors;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn descriptor(
    adapter: &str,
    kinds: Vec<ResourceKindDescriptor>,
    suspend: bool,
    sessions: bool,
    first_login: bool,
) -> SystemDescriptor {
    let mut d = SystemDescriptor::new(adapter);
    d.kinds = kinds;
    d.has_accounts = true;
    d.can_suspend = suspend;
    d.can_revoke_sessions = sessions;
    d.can_delete = true;
    d.accounts_created_on_first_login = first_login;
    d
}

/// Okta, Google, Salesforce, GitLab (accounts on first SSO login), Slack, Jira
/// (cannot suspend: a leaver's Jira grants are revoked one by one).
pub fn descriptors() -> Descriptors {
    let mut m = BTreeMap::new();
    m.insert(
        "okta".into(),
        descriptor(
            "okta",
            vec![ResourceKindDescriptor::new("group", &["add_to_group"])],
            true,
            true,
            false,
        ),
    );
    m.insert(
        "google".into(),
        descriptor(
            "google",
            vec![ResourceKindDescriptor::new("group", &["add_to_group"])],
            true,
            true,
            false,
        ),
    );
    m.insert(
        "salesforce".into(),
        descriptor(
            "salesforce",
            vec![ResourceKindDescriptor::new("profile", &["assign_profile"])],
            true,
            false,
            false,
        ),
    );
    m.insert(
        "gitlab".into(),
        descriptor(
            "gitlab",
            vec![
                ResourceKindDescriptor::new("group", &["add_to_group"]).with_roles(
                    &["guest", "reporter", "developer", "maintainer", "owner"],
                    Some("developer"),
                ),
            ],
            true,
            false,
            true,
        ),
    );
    m.insert(
        "slack".into(),
        descriptor(
            "slack",
            vec![ResourceKindDescriptor::new(
                "channel",
                &["invite_to_channel"],
            )],
            true,
            true,
            false,
        ),
    );
    m.insert(
        "jira".into(),
        descriptor(
            "jira",
            vec![
                ResourceKindDescriptor::new("project_role", &["add_project_role"])
                    .with_roles(&["Reporter", "Developer", "Administrator"], None),
            ],
            false,
            false,
            false,
        ),
    );
    m
}

/// Every system additive; every SSO app's account depends on the Okta account.
pub fn config() -> DeploymentConfig {
    let mut c = DeploymentConfig::default();
    for s in ["okta", "google", "salesforce", "gitlab", "slack", "jira"] {
        c.systems.insert(s.into(), SystemConfig::new(s));
    }
    for s in ["google", "salesforce", "gitlab", "slack", "jira"] {
        c.dependencies.push(CrossSystemDependency {
            system: s.into(),
            kind: None,
            depends_on: "okta".into(),
            on: DependencyTarget::Account,
        });
    }
    c
}

pub fn grant(e: Entitlement) -> PolicyGrant {
    PolicyGrant {
        entitlement: e,
        validity: Validity::ALWAYS,
        source: None,
    }
}

pub fn policy(name: &str, selector: Selector, grants: Vec<Entitlement>) -> Policy {
    Policy {
        name: name.into(),
        selector,
        grants: grants.into_iter().map(grant).collect(),
        source: None,
    }
}

pub fn okta(g: &str) -> Entitlement {
    Entitlement::new("okta", "group", g)
}
pub fn google(g: &str) -> Entitlement {
    Entitlement::new("google", "group", g)
}
pub fn salesforce(p: &str) -> Entitlement {
    Entitlement::new("salesforce", "profile", p)
}
pub fn gitlab(g: &str, role: &str) -> Entitlement {
    Entitlement::new("gitlab", "group", g).with_role(role)
}
pub fn slack(c: &str) -> Entitlement {
    Entitlement::new("slack", "channel", c)
}
pub fn jira(p: &str, role: &str) -> Entitlement {
    Entitlement::new("jira", "project_role", p).with_role(role)
}

/// "Sales Access" for the Sales department, "Sales Engineer Access" for its
/// Sales Engineers, "Account Executive Access" for its account executives.
pub fn policies() -> PolicySet {
    PolicySet {
        policies: vec![
            policy(
                "Sales Access",
                Selector::equals("department", "Sales"),
                vec![
                    okta("sales-team"),
                    google("sales@company.com"),
                    slack("#sales"),
                    jira("SALES", "Reporter"),
                ],
            ),
            policy(
                "Sales Engineer Access",
                Selector::All(vec![
                    Selector::equals("department", "Sales"),
                    Selector::equals("title", "Sales Engineer"),
                ]),
                vec![
                    okta("engineering-team"),
                    google("engineering@company.com"),
                    salesforce("Sales Engineer"),
                    gitlab("customer-solutions", "reporter"),
                    slack("#sales-engineering"),
                ],
            ),
            policy(
                "Account Executive Access",
                Selector::All(vec![
                    Selector::equals("department", "Sales"),
                    Selector::equals("title", "Account Executive"),
                ]),
                vec![salesforce("Account Executive")],
            ),
        ],
    }
}

pub fn sarah() -> Identity {
    Identity::new("e1001", "sarah.chen@company.com", "Sarah Chen")
        .with_attribute("department", "Sales")
        .with_attribute("title", "Sales Engineer")
}

/// Sarah's nine entitlements as a Sales Engineer.
pub fn sarah_entitlements() -> Vec<Entitlement> {
    vec![
        okta("sales-team"),
        okta("engineering-team"),
        google("sales@company.com"),
        google("engineering@company.com"),
        salesforce("Sales Engineer"),
        gitlab("customer-solutions", "reporter"),
        slack("#sales"),
        slack("#sales-engineering"),
        jira("SALES", "Reporter"),
    ]
}

/// The position of each operation id in the plan's order.
pub fn positions(plan: &Plan) -> BTreeMap<String, usize> {
    plan.operations
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.0.clone(), i))
        .collect()
}

/// Asserts that every dependency edge of the plan is respected by its order.
pub fn assert_edges_respected(plan: &Plan) {
    let pos = positions(plan);
    for d in &plan.dependencies {
        assert!(
            pos[&d.before.0] < pos[&d.after.0],
            "{} must run before {}",
            d.before,
            d.after
        );
    }
}

/// The (verb, system, entitlement) triples of a plan, for set comparisons.
pub fn summary(ops: &[Operation]) -> Vec<String> {
    let mut v: Vec<String> = ops
        .iter()
        .map(|o| match o.kind.entitlement() {
            Some(e) => format!("{} {}", o.kind.verb(), e),
            None => format!("{} {}", o.kind.verb(), o.system),
        })
        .collect();
    v.sort();
    v
}
