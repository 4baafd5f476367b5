//! Correlation beyond email: the system's `correlation:` rules tried in order
//! (roster attribute against the account's correlation key), then the login; an
//! ambiguous match is recorded and reported, never guessed, and the planner
//! leaves the person alone in that system.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::Utc;
use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
use provision_core::config::parse_config;
use provision_core::config::{CorrelationRule, DeploymentConfig, SystemConfig};
use provision_core::drift::{DriftClass, DriftInputs, detect_drift};
use provision_core::model::{
    AccountRecord, AccountState, Entitlement, GrantRecord, Identity, IdentityId, Policy,
    PolicyGrant, PolicySet, Selector, SystemName, SystemSnapshot, Validity,
};
use provision_core::planner::{Descriptors, Planner, correlate_with};

fn jira_config(rules: &[(&str, &str)]) -> DeploymentConfig {
    let mut jira = SystemConfig::new("jira");
    jira.correlation = rules
        .iter()
        .map(|(key, attribute)| CorrelationRule {
            key: (*key).into(),
            attribute: (*attribute).into(),
        })
        .collect();
    let mut config = DeploymentConfig::default();
    config.systems.insert("jira".into(), jira);
    config
}

fn descriptors() -> Descriptors {
    BTreeMap::from([(
        SystemName::new("jira"),
        SystemDescriptor::new("jira")
            .with_accounts()
            .with_correlation_keys(&["account_id", "employee_id"])
            .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"])),
    )])
}

fn person(id: &str, email: &str, employee_id: &str, jira_id: &str) -> Identity {
    Identity::new(id, email, id)
        .with_attribute("employee_id", employee_id)
        .with_attribute("jira_account_id", jira_id)
        .with_attribute("department", "Sales")
}

fn snapshot(
    accounts: Vec<AccountRecord>,
    grants: Vec<GrantRecord>,
) -> BTreeMap<SystemName, SystemSnapshot> {
    BTreeMap::from([(
        SystemName::new("jira"),
        SystemSnapshot {
            system: Some("jira".into()),
            accounts,
            grants,
            read_at: None,
        },
    )])
}

fn sales_group() -> Entitlement {
    Entitlement::new("jira", "group", "sales")
}

fn policies() -> PolicySet {
    PolicySet {
        policies: vec![Policy {
            name: "Sales".into(),
            selector: Selector::equals("department", "Sales"),
            grants: vec![PolicyGrant {
                entitlement: sales_group(),
                validity: Validity::ALWAYS,
                source: None,
            }],
            source: None,
        }],
    }
}

fn account_of(actual: &provision_core::model::ActualState, id: &str) -> Option<String> {
    actual.identities[&IdentityId::new(id)]
        .accounts
        .get(&SystemName::new("jira"))
        .map(|a| a.external_id.clone())
}

#[test]
fn rules_are_tried_in_order_then_the_login() {
    let sarah = person("e1", "sarah@example.com", "1001", "5b10a");
    let bob = person("e2", "bob@example.com", "1002", "5b10b");
    let lee = person("e3", "lee@example.com", "1003", "5b10c");
    let people = [sarah, bob, lee];
    let accounts = vec![
        // Jira's login is no email: only the account id ties it to Sarah.
        AccountRecord::new("acc-1", "Sarah C", AccountState::Active)
            .with_correlation("account_id", "5B10A"),
        // The first rule (employee id) says Bob, the second (account id) Sarah:
        // the first rule decides.
        AccountRecord::new("acc-2", "someone", AccountState::Active)
            .with_correlation("employee_id", "1002")
            .with_correlation("account_id", "5b10a-other"),
        // No key: the login.
        AccountRecord::new("acc-3", "LEE@example.com", AccountState::Active),
    ];
    let grants = vec![GrantRecord {
        entitlement: sales_group(),
        account_external_id: "acc-1".into(),
        login: None,
    }];
    let config = jira_config(&[
        ("employee_id", "employee_id"),
        ("account_id", "jira_account_id"),
    ]);
    let actual = correlate_with(
        &people,
        &snapshot(accounts.clone(), grants.clone()),
        &config,
    );
    assert_eq!(account_of(&actual, "e1").as_deref(), Some("acc-1"));
    assert_eq!(account_of(&actual, "e2").as_deref(), Some("acc-2"));
    assert_eq!(account_of(&actual, "e3").as_deref(), Some("acc-3"));
    assert!(
        actual.identities[&IdentityId::new("e1")]
            .grants
            .contains(&sales_group())
    );
    assert!(actual.ambiguous.is_empty());

    // Without the rules, only the login matches: Sarah's and Bob's accounts are orphans.
    let by_login = correlate_with(&people, &snapshot(accounts, grants), &jira_config(&[]));
    assert_eq!(account_of(&by_login, "e1"), None);
    assert_eq!(account_of(&by_login, "e3").as_deref(), Some("acc-3"));
    assert_eq!(
        by_login.unmatched_accounts[&SystemName::new("jira")].len(),
        2
    );
}

#[test]
fn one_account_matching_two_people_is_reported_and_nobody_is_touched() {
    // A data error in HR: two people with the same employee id.
    let sarah = person("e1", "sarah@example.com", "1001", "x1");
    let twin = person("e2", "twin@example.com", "1001", "x2");
    let people = [sarah, twin];
    let accounts = vec![
        AccountRecord::new("acc-1", "sarah.c", AccountState::Active)
            .with_correlation("employee_id", "1001"),
    ];
    let config = jira_config(&[("employee_id", "employee_id")]);
    let actual = correlate_with(&people, &snapshot(accounts, vec![]), &config);
    assert_eq!(account_of(&actual, "e1"), None);
    assert_eq!(account_of(&actual, "e2"), None);
    assert_eq!(actual.ambiguous.len(), 1);
    assert_eq!(
        actual.ambiguous[0].identities,
        vec![IdentityId::new("e1"), IdentityId::new("e2")]
    );
    assert_eq!(actual.ambiguous[0].accounts, vec!["acc-1"]);

    // No account is created for either of them (that would be a duplicate).
    let now = Utc::now();
    let d = descriptors();
    let planner = Planner::new(&config, &d);
    let desired = planner.desired(&people, &policies(), now);
    let plan = planner
        .plan(&desired, &actual, now)
        .unwrap()
        .approve()
        .unwrap();
    assert!(plan.is_empty(), "{:?}", plan.operations);

    // Drift reports the account for a person to decide, with no fix.
    let report = detect_drift(&desired, &actual, &DriftInputs::new(&config, &d, now));
    let orphans: Vec<_> = report.of_class(DriftClass::Orphaned).collect();
    assert_eq!(orphans.len(), 1, "{report}");
    assert!(orphans[0].remediation.is_empty());
    assert!(
        orphans[0].evidence.expected.contains("ambiguous"),
        "{}",
        orphans[0].evidence.expected
    );
}

#[test]
fn one_person_matching_two_accounts_is_reported_and_left_alone() {
    let sarah = person("e1", "sarah@example.com", "1001", "x1");
    let people = [sarah];
    let accounts = vec![
        AccountRecord::new("acc-1", "sarah.c", AccountState::Active)
            .with_correlation("employee_id", "1001"),
        AccountRecord::new("acc-2", "sarah.chen", AccountState::Active)
            .with_correlation("employee_id", "1001"),
    ];
    let grants = vec![GrantRecord {
        entitlement: Entitlement::new("jira", "group", "admins"),
        account_external_id: "acc-2".into(),
        login: None,
    }];
    let mut config = jira_config(&[("employee_id", "employee_id")]);
    // Authoritative: were either account attached, the admins grant would be revoked.
    config
        .systems
        .get_mut(&SystemName::new("jira"))
        .unwrap()
        .enforcement = provision_core::config::Enforcement::Authoritative;
    let actual = correlate_with(&people, &snapshot(accounts, grants), &config);
    let s = &actual.identities[&IdentityId::new("e1")];
    assert!(s.accounts.is_empty());
    assert!(s.grants.is_empty());
    assert!(s.ambiguous.contains(&SystemName::new("jira")));
    assert_eq!(actual.ambiguous[0].accounts, vec!["acc-1", "acc-2"]);

    let now = Utc::now();
    let d = descriptors();
    let planner = Planner::new(&config, &d);
    let desired = planner.desired(&people, &policies(), now);
    let plan = planner
        .plan(&desired, &actual, now)
        .unwrap()
        .approve()
        .unwrap();
    assert!(plan.is_empty(), "{:?}", plan.operations);
}

#[test]
fn the_deployment_file_names_the_rules_in_order() {
    let text = "systems:
  jira:
    adapter: jira
    correlation:
      - {key: employee_id, attribute: employee_id}
      - {key: account_id, attribute: jira_account_id}
";
    let config = parse_config("deploy.yaml", text).unwrap();
    let rules = &config.systems[&SystemName::new("jira")].correlation;
    assert_eq!(
        rules,
        &vec![
            CorrelationRule {
                key: "employee_id".into(),
                attribute: "employee_id".into()
            },
            CorrelationRule {
                key: "account_id".into(),
                attribute: "jira_account_id".into()
            },
        ]
    );

    let missing = "systems:
  jira:
    adapter: jira
    correlation:
      - {key: employee_id}
";
    let err = parse_config("deploy.yaml", missing)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("correlation[0]") && err.contains("attribute"),
        "{err}"
    );
}
