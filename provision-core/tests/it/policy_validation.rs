//! Every validation error names the file, line and column, the field, and what
//! was expected; a load reports all of its errors.

#![allow(clippy::unwrap_used)]

use crate::common;
use provision_core::policy::PolicyLoader;

const FILE: &str = "policies/team.yaml";

/// The diagnostics of a load that must fail, as displayed to the user.
fn errors(text: &str) -> Vec<String> {
    let config = common::config();
    let descriptors = common::descriptors();
    match PolicyLoader::new(&config, &descriptors).load_str(FILE, text) {
        Ok(set) => panic!("expected the load to fail, it gave {set:?}"),
        Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

/// Exactly one diagnostic, which must start with `file:line:col: field:` and contain `needle`.
fn assert_single(text: &str, line_col: &str, field: &str, needle: &str) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let prefix = format!("{FILE}:{line_col}: {field}: ");
    assert!(
        errs[0].starts_with(&prefix),
        "`{}` should start with `{prefix}`",
        errs[0]
    );
    assert!(
        errs[0].contains(needle),
        "`{}` should contain `{needle}`",
        errs[0]
    );
}

fn one_provision(provision: &str) -> String {
    format!(
        "policy:\n  name: P\n  triggers: [{{department: Sales}}]\n  provisions:\n    - {provision}\n"
    )
}

#[test]
fn unknown_system() {
    assert_single(
        &one_provision("{system: github, action: add_to_group, target: x}"),
        "5:16",
        "policy.provisions[0].system",
        "unknown system `github`; expected a configured system or alias: `aws`, `aws-sso`",
    );
}

#[test]
fn action_the_system_does_not_declare() {
    assert_single(
        &one_provision("{system: slack, action: add_to_group, target: x}"),
        "5:31",
        "policy.provisions[0].action",
        "system `slack` (adapter `sandbox`) does not declare action `add_to_group`; expected one of: `invite_to_channel`",
    );
}

#[test]
fn an_action_the_configured_credentials_cannot_grant_names_what_it_needs() {
    let config = common::config();
    let mut descriptors = common::descriptors();
    let slack = descriptors
        .remove(&provision_core::model::SystemName::new("slack"))
        .unwrap()
        .with_unavailable_action("add_to_usergroup", "credentials.bot_token (xoxb-)");
    descriptors.insert(provision_core::model::SystemName::new("slack"), slack);
    let text = one_provision("{system: slack, action: add_to_usergroup, target: x}");
    let errs: Vec<String> = match PolicyLoader::new(&config, &descriptors).load_str(FILE, &text) {
        Ok(set) => panic!("expected the load to fail, it gave {set:?}"),
        Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
    };
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(&format!("{FILE}:5:31: policy.provisions[0].action: "))
            && errs[0].contains(
                "cannot grant `add_to_usergroup` as configured: it needs credentials.bot_token (xoxb-)"
            ),
        "{}",
        errs[0]
    );
}

#[test]
fn role_not_valid_for_the_kind() {
    assert_single(
        &one_provision("{system: gitlab, action: add_to_group, target: eng, role: Developer}"),
        "5:65",
        "policy.provisions[0].role",
        "role `Developer` is not valid for gitlab group; expected one of: `guest`, `reporter`, `developer`, `maintainer`, `owner` (did you mean `developer`?",
    );
}

#[test]
fn role_on_a_kind_without_roles() {
    assert_single(
        &one_provision("{system: slack, action: invite_to_channel, target: \"#a\", role: admin}"),
        "5:70",
        "policy.provisions[0].role",
        "slack channel has no roles, found role `admin`",
    );
}

#[test]
fn role_missing_where_the_kind_has_no_default() {
    assert_single(
        &one_provision("{system: jira, action: assign_project_role, target: SALES}"),
        "5:7",
        "policy.provisions[0].role",
        "missing required field `role`: jira project_role has no default role; expected one of: `Administrator`, `Developer`, `Reporter`",
    );
}

#[test]
fn missing_policy_fields() {
    let errs = errors("policy:\n  description: nothing else\n");
    assert_eq!(
        errs,
        [
            format!(
                "{FILE}:2:3: policy.name: missing required field `name` (expected the policy's unique name)"
            ),
            format!(
                "{FILE}:2:3: policy.triggers: missing required field `triggers` (expected a list of attribute conditions, or `everyone`)"
            ),
            format!(
                "{FILE}:2:3: policy.provisions: missing required field `provisions` (expected a list of entitlements to grant)"
            ),
        ]
    );
}

#[test]
fn missing_provision_fields() {
    let errs = errors(&one_provision("{role: developer}"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    for (err, field) in errs.iter().zip(["system", "action", "target"]) {
        let prefix =
            format!("{FILE}:5:7: policy.provisions[0].{field}: missing required field `{field}`");
        assert!(err.starts_with(&prefix), "{err}");
    }
}

#[test]
fn missing_scope_field_of_the_kind() {
    assert_single(
        &one_provision("{system: aws-sso, action: assign_permission_set, target: ReadOnly}"),
        "5:7",
        "policy.provisions[0].account",
        "missing required field `account`: aws permission_set applies in one account",
    );
}

#[test]
fn unknown_fields_in_policy_provision_and_condition() {
    let errs = errors(
        "policy:\n  name: P\n  trigers: []\n  triggers:\n    - department: {nott: Sales}\n  provisions:\n    - {system: okta, action: add_to_group, target: x, acount: prod}\n",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with(&format!("{FILE}:3:3: policy.trigers: unknown field `trigers`; expected one of: name, description, match, triggers, provisions")), "{}", errs[0]);
    assert!(errs[1].starts_with(&format!("{FILE}:5:19: policy.triggers[0].department: a condition needs one of: equals, one_of, not, present")), "{}", errs[1]);
    assert!(errs[2].starts_with(&format!("{FILE}:5:20: policy.triggers[0].department.nott: unknown field `nott`; expected one of: equals, one_of, not, present, case_insensitive")), "{}", errs[2]);
    assert!(errs[3].starts_with(&format!("{FILE}:7:55: policy.provisions[0].acount: unknown field `acount` for okta group; expected one of: system, action, target, role, valid_from, valid_until")), "{}", errs[3]);
}

#[test]
fn duplicate_policy_name_names_both_places() {
    let text = "policies:\n  - name: Sales\n    triggers: everyone\n    provisions: [{system: slack, action: invite_to_channel, target: \"#a\"}]\n  - name: Sales\n    triggers: everyone\n    provisions: [{system: slack, action: invite_to_channel, target: \"#b\"}]\n";
    assert_single(
        text,
        "5:11",
        "policies[1].name",
        &format!("duplicate policy name `Sales`; also defined at {FILE}:2:11"),
    );
}

#[test]
fn conflicting_roles_name_both_policies_and_places() {
    let text = "policies:\n  - name: Engineers\n    triggers: [{department: Engineering}]\n    provisions:\n      - {system: gitlab, action: add_to_group, target: engineering, role: developer}\n  - name: Leads\n    triggers: [{title: Lead}]\n    provisions:\n      - {system: gitlab, action: add_to_group, target: engineering, role: maintainer}\n";
    assert_single(
        text,
        "9:9",
        "policies[1].provisions[0].role",
        &format!(
            "conflicting roles for gitlab/group/engineering: policy `Leads` gives role `maintainer` here, but policy `Engineers` gives role `developer` at {FILE}:5:9"
        ),
    );
}

#[test]
fn the_same_grant_in_two_policies_is_not_a_conflict() {
    let config = common::config();
    let descriptors = common::descriptors();
    let text = "policies:\n  - name: A\n    triggers: everyone\n    provisions: [{system: gitlab, action: add_to_group, target: eng}]\n  - name: B\n    triggers: everyone\n    provisions: [{system: gitlab, action: add_to_group, target: eng, role: developer}]\n";
    PolicyLoader::new(&config, &descriptors)
        .load_str(FILE, text)
        .unwrap();
}

#[test]
fn target_owned_by_an_external_engine() {
    assert_single(
        &one_provision("{system: okta, action: add_to_group, target: okta-rule-sales}"),
        "5:52",
        "policy.provisions[0].target",
        "target `okta-rule-sales` (okta group) is owned by the external engine `okta-group-rules`",
    );
}

#[test]
fn invalid_dates() {
    assert_single(
        &one_provision("{system: okta, action: add_to_group, target: x, valid_until: 2025-13-01}"),
        "5:68",
        "policy.provisions[0].valid_until",
        "invalid date `2025-13-01`",
    );
    assert_single(
        &one_provision(
            "{system: okta, action: add_to_group, target: x, valid_from: 2025-06-01T00:00:00Z, valid_until: 2025-01-01T00:00:00Z}",
        ),
        "5:102",
        "policy.provisions[0].valid_until",
        "valid_until (2025-01-01T00:00:00+00:00) must be later than valid_from (2025-06-01T00:00:00+00:00)",
    );
}

#[test]
fn bad_yaml_gives_file_line_column_and_never_panics() {
    let cases = [
        ("policy:\n  name: P\n  triggers:\n\t- x: y\n", "4:"),
        ("policy:\n  name: [unclosed\n", "2:"),
        ("policy:\n  name: A\n  name: B\n", "3:"),
    ];
    for (text, line) in cases {
        let errs = errors(text);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with(&format!("{FILE}:{line}")),
            "{}",
            errs[0]
        );
        assert!(errs[0].contains("invalid YAML"), "{}", errs[0]);
    }
    let dup = errors("policy:\n  name: A\n  name: B\n");
    assert!(dup[0].to_lowercase().contains("duplicate"), "{}", dup[0]);
}

#[test]
fn wrong_types_are_named() {
    let errs =
        errors("policy:\n  name: [a]\n  triggers: Engineering\n  provisions: {system: okta}\n");
    assert_eq!(
        errs,
        [
            format!("{FILE}:2:9: policy.name: expected a string, found a list"),
            format!(
                "{FILE}:3:13: policy.triggers: expected a list of triggers (each a mapping of attribute conditions) or `everyone`, found a string"
            ),
            format!("{FILE}:4:15: policy.provisions: expected a list, found a mapping"),
        ]
    );
    let top = errors("- just\n- a list\n");
    assert_eq!(
        top,
        [format!("{FILE}:1:1: expected a mapping, found a list")]
    );
}

#[test]
fn empty_triggers_are_refused_rather_than_matching_everyone() {
    assert_single(
        "policy:\n  name: P\n  triggers: [{}]\n  provisions: [{system: okta, action: add_to_group, target: x}]\n",
        "3:14",
        "policy.triggers[0]",
        "an empty trigger would select every identity; write `triggers: everyone`",
    );
}

#[test]
fn every_error_of_a_load_is_reported() {
    let text = "policies:\n  - name: A\n    triggers: [{department: Sales}]\n    provisions:\n      - {system: github, action: add_to_group, target: x}\n      - {system: slack, action: join, target: \"#a\"}\n  - name: A\n    triggers: everyone\n    provisions:\n      - {system: okta, action: add_to_group, target: y, valid_from: yesterday}\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].contains(":5:") && errs[0].contains("unknown system `github`"));
    assert!(errs[1].contains(":6:") && errs[1].contains("does not declare action `join`"));
    assert!(errs[2].contains(":7:") && errs[2].contains("duplicate policy name `A`"));
    assert!(errs[3].contains(":10:") && errs[3].contains("invalid date `yesterday`"));
}

mod fuzz {
    use proptest::prelude::*;

    use super::common;
    use provision_core::config::parse_config;
    use provision_core::policy::PolicyLoader;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text, including YAML-ish fragments, gives a result or located
        /// errors, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "(policy:|policies:|triggers:|provisions:|name:|- |\\{|\\}|\\[|\\]|: |\n|  |\t|\"|'|&a |\\*a|!!str |on|~|[a-z0-9#@.]{1,6}){0,40}") {
            let config = common::config();
            let descriptors = common::descriptors();
            if let Err(e) = PolicyLoader::new(&config, &descriptors).load_str("f.yaml", &text) {
                for d in e.diagnostics() {
                    prop_assert_eq!(d.location.file.as_str(), "f.yaml");
                    prop_assert!(d.location.line >= 1 && d.location.column >= 1);
                }
            }
            let _ = parse_config("c.yaml", &text);
        }
    }
}

#[test]
fn roles_of_a_multiple_role_kind_are_not_a_conflict() {
    use provision_core::adapter::RoleModel;
    use provision_core::model::SystemName;
    let config = common::config();
    let text = "policies:\n  - name: Engineers\n    triggers: everyone\n    provisions: [{system: jira, action: assign_project_role, target: ENG, role: Developer}]\n  - name: Leads\n    triggers: everyone\n    provisions: [{system: jira, action: assign_project_role, target: ENG, role: Administrator}]\n";
    // Held one at a time (the default), two roles on one project conflict ...
    let descriptors = common::descriptors();
    assert!(
        PolicyLoader::new(&config, &descriptors)
            .load_str(FILE, text)
            .is_err()
    );
    // ... held side by side (Jira project roles), they do not.
    let mut descriptors = common::descriptors();
    let jira = descriptors.get_mut(&SystemName::new("jira")).unwrap();
    for kind in jira.kinds.iter_mut().filter(|k| k.kind == "project_role") {
        kind.role_model = RoleModel::Multiple;
    }
    let set = PolicyLoader::new(&config, &descriptors)
        .load_str(FILE, text)
        .unwrap();
    assert_eq!(set.policies.len(), 2);
}
