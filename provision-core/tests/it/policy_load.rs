//! Policies load from YAML into the resolved model: the seed shape, lists,
//! directories, scopes, roles, validity windows, and selector semantics.

#![allow(clippy::unwrap_used)]

use crate::common;
use provision_core::model::{Entitlement, Identity, PolicySet, Selector};
use provision_core::policy::{PolicyError, PolicyLoader};

fn load(text: &str) -> Result<PolicySet, PolicyError> {
    let config = common::config();
    let descriptors = common::descriptors();
    PolicyLoader::new(&config, &descriptors).load_str("policies/test.yaml", text)
}

fn load_ok(text: &str) -> PolicySet {
    match load(text) {
        Ok(set) => set,
        Err(e) => panic!("expected the policies to load, got: {e}"),
    }
}

const SEED: &str = r##"policy:
  name: "Senior Engineer Access"
  triggers:
    - department: "Engineering"
      seniority: "Senior"
  provisions:
    - system: "okta"
      action: "add_to_group"
      target: "engineering-team"
    - system: "aws-sso"
      action: "assign_permission_set"
      target: "EngineeringSeniorReadOnly"
      account: "production"
    - system: "gitlab"
      action: "add_to_group"
      target: "engineering"
      role: "developer"
    - system: "slack"
      action: "invite_to_channel"
      target: "#engineering-general"
"##;

#[test]
fn the_seed_shape_loads_as_is() {
    let set = load_ok(SEED);
    assert_eq!(set.policies.len(), 1);
    let p = &set.policies[0];
    assert_eq!(p.name, "Senior Engineer Access");
    let source = p.source.as_ref().unwrap();
    assert_eq!(
        (source.file.as_str(), source.line),
        ("policies/test.yaml", 2)
    );
    assert_eq!(
        p.selector,
        Selector::All(vec![
            Selector::equals("department", "Engineering"),
            Selector::equals("seniority", "Senior"),
        ])
    );
    let got: Vec<Entitlement> = p.grants.iter().map(|g| g.entitlement.clone()).collect();
    assert_eq!(
        got,
        vec![
            Entitlement::new("okta", "group", "engineering-team"),
            // The alias resolves to the canonical system; the scope field becomes the scope.
            Entitlement::new("aws", "permission_set", "EngineeringSeniorReadOnly")
                .with_scope("account:production"),
            Entitlement::new("gitlab", "group", "engineering").with_role("developer"),
            Entitlement::new("slack", "channel", "#engineering-general"),
        ]
    );
    let lines: Vec<usize> = p
        .grants
        .iter()
        .map(|g| g.source.as_ref().unwrap().line)
        .collect();
    assert_eq!(lines, vec![7, 10, 14, 18]);
}

#[test]
fn a_policies_list_loads_in_order_and_roles_default() {
    let set = load_ok(
        r#"policies:
  - name: A
    triggers: everyone
    provisions:
      - {system: gitlab, action: add_to_project, target: infra/tools}
      - {system: google, action: add_to_group, target: all@company.com}
  - name: B
    triggers: [{department: Sales}]
    provisions:
      - {system: jira, action: assign_project_role, target: SALES, role: Reporter}
"#,
    );
    let names: Vec<&str> = set.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(set.policies[0].selector, Selector::Everyone);
    assert_eq!(
        set.policies[0].grants[0].entitlement,
        Entitlement::new("gitlab", "project", "infra/tools").with_role("developer")
    );
    assert_eq!(
        set.policies[0].grants[1].entitlement,
        Entitlement::new("google", "group", "all@company.com").with_role("member")
    );
    assert_eq!(
        set.policies[1].grants[0].entitlement,
        Entitlement::new("jira", "project_role", "SALES").with_role("Reporter")
    );
}

#[test]
fn validity_windows_load_as_utc() {
    let set = load_ok(
        r#"policy:
  name: Contractor
  triggers: [{employment_type: contractor}]
  provisions:
    - system: okta
      action: add_to_group
      target: contractors
      valid_from: 2025-01-01T00:00:00Z
      valid_until: "2025-06-30T12:00:00+02:00"
"#,
    );
    let v = set.policies[0].grants[0].validity;
    assert_eq!(v.start.unwrap().to_rfc3339(), "2025-01-01T00:00:00+00:00");
    assert_eq!(v.end.unwrap().to_rfc3339(), "2025-06-30T10:00:00+00:00");
}

#[test]
fn a_directory_loads_as_one_set_in_path_order() {
    let dir = std::env::temp_dir().join(format!("provision-policy-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("teams")).unwrap();
    let one = |name: &str, target: &str| {
        format!(
            "policy:\n  name: {name}\n  triggers: everyone\n  provisions:\n    - {{system: slack, action: invite_to_channel, target: \"{target}\"}}\n"
        )
    };
    std::fs::write(dir.join("b.yml"), one("Second", "#b")).unwrap();
    std::fs::write(dir.join("a.yaml"), one("First", "#a")).unwrap();
    std::fs::write(dir.join("teams/c.yaml"), one("Third", "#c")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a policy").unwrap();
    std::fs::write(dir.join(".hidden.yaml"), "not: [valid").unwrap();

    let config = common::config();
    let descriptors = common::descriptors();
    let set = PolicyLoader::new(&config, &descriptors)
        .load_path(&dir)
        .unwrap();
    let names: Vec<&str> = set.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["First", "Second", "Third"]);
    let file = &set.policies[1].source.as_ref().unwrap().file;
    assert!(file.ends_with("b.yml"), "{file}");

    // Errors across files are all reported, each naming its file.
    std::fs::write(dir.join("a.yaml"), one("Second", "#a")).unwrap();
    std::fs::write(dir.join("teams/c.yaml"), "policy:\n  name: Bad\n").unwrap();
    let err = PolicyLoader::new(&config, &descriptors)
        .load_path(&dir)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("duplicate policy name `Second`"), "{text}");
    assert!(
        text.contains("c.yaml:2:3: policy.triggers: missing required field `triggers`"),
        "{text}"
    );
    assert_eq!(err.diagnostics().len(), 3, "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_directory_is_an_error() {
    let dir = std::env::temp_dir().join(format!("provision-policy-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = common::config();
    let descriptors = common::descriptors();
    let err = PolicyLoader::new(&config, &descriptors)
        .load_path(&dir)
        .unwrap_err();
    assert!(matches!(err, PolicyError::NoPolicyFiles { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- selector semantics ----

fn selector(triggers: &str) -> Selector {
    let text = format!(
        "policy:\n  name: S\n{triggers}\n  provisions:\n    - {{system: slack, action: invite_to_channel, target: \"#x\"}}\n"
    );
    load_ok(&text).policies.remove(0).selector
}

fn person(attrs: &[(&str, &str)]) -> Identity {
    attrs
        .iter()
        .fold(Identity::new("e1", "p@company.com", "P"), |i, (k, v)| {
            i.with_attribute(*k, *v)
        })
}

#[test]
fn triggers_are_or_and_their_keys_are_and() {
    let s = selector(
        "  triggers:\n    - department: Engineering\n      seniority: Senior\n    - title: CTO\n",
    );
    let senior_eng = person(&[("department", "Engineering"), ("seniority", "Senior")]);
    let junior_eng = person(&[("department", "Engineering"), ("seniority", "Junior")]);
    let cto = person(&[("title", "CTO")]);
    assert!(s.matches(&senior_eng).is_some());
    assert!(s.matches(&junior_eng).is_none(), "AND within one trigger");
    assert!(s.matches(&cto).is_some(), "OR across triggers");
    let why = s.matches(&senior_eng).unwrap();
    assert_eq!(why.get("seniority").map(String::as_str), Some("Senior"));
}

#[test]
fn a_list_value_is_one_of_and_numbers_compare_as_text() {
    let s =
        selector("  triggers:\n    - seniority: [Senior, Staff]\n      level: {one_of: [3, 4]}\n");
    assert!(
        s.matches(&person(&[("seniority", "Staff"), ("level", "4")]))
            .is_some()
    );
    assert!(
        s.matches(&person(&[("seniority", "Junior"), ("level", "4")]))
            .is_none()
    );
    assert!(
        s.matches(&person(&[("seniority", "Staff"), ("level", "5")]))
            .is_none()
    );
}

#[test]
fn not_excludes_values_and_matches_a_missing_attribute() {
    let s = selector("  triggers:\n    - department: {not: [Sales, Legal]}\n");
    assert!(s.matches(&person(&[("department", "Sales")])).is_none());
    assert!(s.matches(&person(&[("department", "Legal")])).is_none());
    assert!(
        s.matches(&person(&[("department", "Engineering")]))
            .is_some()
    );
    assert!(s.matches(&person(&[])).is_some());
    let single = selector("  triggers:\n    - department: {not: Sales}\n");
    assert!(
        single
            .matches(&person(&[("department", "Sales")]))
            .is_none()
    );
}

#[test]
fn present_checks_for_a_non_empty_value() {
    let s = selector("  triggers:\n    - manager: {present: true}\n");
    assert!(s.matches(&person(&[("manager", "e7")])).is_some());
    assert!(s.matches(&person(&[("manager", "")])).is_none());
    assert!(s.matches(&person(&[])).is_none());
    let absent = selector("  triggers:\n    - manager: {present: false}\n");
    assert!(absent.matches(&person(&[])).is_some());
    assert!(absent.matches(&person(&[("manager", "e7")])).is_none());
}

#[test]
fn matching_is_case_sensitive_unless_the_policy_or_condition_says_otherwise() {
    let strict = selector("  triggers:\n    - department: Engineering\n");
    assert!(
        strict
            .matches(&person(&[("department", "engineering")]))
            .is_none()
    );
    assert!(
        strict
            .matches(&person(&[("department", "Engineering ")]))
            .is_none()
    );

    let policy_wide = selector(
        "  match: case_insensitive\n  triggers:\n    - department: Engineering\n      title: {not: [intern]}\n",
    );
    assert!(
        policy_wide
            .matches(&person(&[("department", "ENGINEERING")]))
            .is_some()
    );
    assert!(
        policy_wide
            .matches(&person(&[
                ("department", "engineering"),
                ("title", "Intern")
            ]))
            .is_none()
    );

    let per_condition = selector(
        "  triggers:\n    - title: {equals: sales engineer, case_insensitive: true}\n      department: Sales\n",
    );
    assert!(
        per_condition
            .matches(&person(&[
                ("title", "Sales Engineer"),
                ("department", "Sales")
            ]))
            .is_some()
    );
    assert!(
        per_condition
            .matches(&person(&[
                ("title", "Sales Engineer"),
                ("department", "sales")
            ]))
            .is_none()
    );

    let override_off = selector(
        "  match: case_insensitive\n  triggers:\n    - department: {equals: Sales, case_insensitive: false}\n",
    );
    assert!(
        override_off
            .matches(&person(&[("department", "sales")]))
            .is_none()
    );
}
