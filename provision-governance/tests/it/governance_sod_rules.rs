//! SoD rules in the policy files are validated like policies: file:line, unknown
//! systems and kinds, a rule that can never fire; policies still load beside them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::governance_support;
use governance_support::*;
use provision_core::drift::Severity;
use provision_core::policy::PolicyLoader;
use provision_governance::load_sod_sources;

async fn problems(text: &str) -> Vec<String> {
    let w = World::new().await;
    let err = load_sod_sources(
        [("policies/sod.yaml".to_owned(), text.to_owned())],
        w.engine.config(),
        w.engine.descriptors(),
    )
    .unwrap_err();
    err.diagnostics().iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn the_example_rule_loads_with_aliases_resolved_and_its_location() {
    let w = World::new().await;
    let text = "\
separation_of_duties:
  - name: Deploy and approve
    severity: medium
    conflicting:
      - aws-sso/permission_set/PaymentsAdmin
      - {system: gitlab, kind: group, resource: release-approvers, role: maintainer}
";
    let rules = load_sod_sources(
        [("p.yaml".to_owned(), text.to_owned())],
        w.engine.config(),
        w.engine.descriptors(),
    )
    .unwrap();
    let rule = &rules.rules[0];
    assert_eq!(rule.severity, Severity::Medium);
    assert_eq!(rule.conflicting[0].system, "aws", "alias resolved");
    assert_eq!(rule.conflicting[1].role.as_deref(), Some("maintainer"));
    assert_eq!(rule.source.as_ref().unwrap().to_string(), "p.yaml:2:5");
    // The policy loader accepts a file of rules beside the policies.
    let policies = PolicyLoader::new(w.engine.config(), w.engine.descriptors())
        .load_path(&examples().join("policies"))
        .unwrap();
    assert_eq!(policies.policies.len(), w.engine.policies().policies.len());
}

#[tokio::test]
async fn an_unknown_system_or_kind_is_named_with_file_and_line() {
    let p = problems(
        "\
separation_of_duties:
  - name: A
    conflicting:
      - workday/role/Payroll
      - aws/bucket/ledger
",
    )
    .await;
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("policies/sod.yaml:4:9:") && p[0].contains("unknown system `workday`"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("policies/sod.yaml:5:9:")
            && p[1].contains("no resource kind `bucket`")
            && p[1].contains("permission_set"),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_rule_that_can_never_fire_is_refused() {
    let p = problems(
        "\
separation_of_duties:
  - name: Same twice
    conflicting:
      - okta/group/admins
      - okta/group/admins
  - name: One alone
    conflicting:
      - okta/group/admins
  - name: Two roles of one membership
    conflicting:
      - {system: gitlab, kind: group, resource: eng, role: developer}
      - {system: gitlab, kind: group, resource: eng, role: maintainer}
",
    )
    .await;
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p.iter().all(|m| m.contains("can never fire")), "{p:?}");
    assert!(p[0].starts_with("policies/sod.yaml:4:7:"), "{p:?}");
    assert!(p[2].contains("one role per resource"), "{p:?}");
}

#[tokio::test]
async fn shape_errors_name_the_field() {
    let p = problems(
        "\
separation_of_duties:
  - name: B
    severity: severe
    colour: red
    conflicting:
      - okta/group
      - okta/group/admins
  - name: A
    conflicting: [okta/group/x, okta/group/y]
  - name: A
    conflicting: [okta/group/x, okta/group/z]
",
    )
    .await;
    let lines: Vec<usize> = p
        .iter()
        .map(|m| m.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(lines.is_sorted(), "in line order: {p:?}");
    let all = p.join("\n");
    assert!(all.contains("unknown severity `severe`"), "{all}");
    assert!(all.contains("unknown field `colour`"), "{all}");
    assert!(
        all.contains("`okta/group` is not `system/kind/resource`"),
        "{all}"
    );
    assert!(
        all.contains("duplicate separation-of-duties rule name `A`"),
        "{all}"
    );
}

#[tokio::test]
async fn the_governance_hook_checks_the_rules_when_the_engine_is_built() {
    use provision_core::engine::{Engine, EngineError};
    use provision_governance::{GovernanceHook, MemoryGovernanceStore};
    use std::sync::Arc;
    let dir = std::env::temp_dir().join(format!("provision-sod-validate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for f in ["engineering.yaml", "sales.yaml"] {
        std::fs::copy(
            examples().join("policies").join(f),
            dir.join("policies").join(f),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("policies/sod.yaml"),
        "separation_of_duties:\n  - name: A\n    conflicting: [okta/group/x, okta/role/y]\n",
    )
    .unwrap();
    let build = || {
        Engine::builder()
            .deployment(examples().join("provision.yaml"))
            .policies(dir.join("policies"))
            .factory(provision_sandbox::factory())
            .hook_with(GovernanceHook::with_policy_rules(Arc::new(
                MemoryGovernanceStore::new(),
            )))
            .build()
    };
    let err = build().await.unwrap_err();
    let EngineError::Hook(hook) = &err else {
        panic!("expected the governance hook's error, got {err}");
    };
    assert_eq!(hook.hook, "governance");
    let message = err.to_string();
    assert!(
        message.contains("sod.yaml:3:") && message.contains("no resource kind `role`"),
        "{message}"
    );

    std::fs::copy(
        examples().join("policies/separation_of_duties.yaml"),
        dir.join("policies/sod.yaml"),
    )
    .unwrap();
    let engine = build().await.unwrap();
    let rules = GovernanceHook::of(&engine).unwrap().rules();
    assert_eq!(rules.rules.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
