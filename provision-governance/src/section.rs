//! The `governance:` section of `provision.yaml`: who approves and who reviews
//! ([`GovernanceConfig`]), read by this crate from the kernel's raw extension
//! section with the core's YAML reader, so every problem names file, line, column
//! and field, and a system the deployment does not have is refused.
//!
//! ```yaml
//! governance:
//!   manager_attribute: manager
//!   stale_after_days: 90
//!   default_approver: manager            # manager | auto | {owner: NAME}
//!   approvers:
//!     - {system: slack, kind: channel, approver: auto}
//!     - {system: aws, approver: {owner: cloud-lead}}
//!   owners:
//!     - {system: okta, owner: it-ops}
//! ```

use provision_core::config::ConfigError;
use provision_core::config::DeploymentConfig;
use provision_core::yaml::{Node, Reader, Value};

use crate::config::{ApproverRule, ApproverSource, GovernanceConfig, OwnerRule, Target};

const FIELDS: &[&str] = &[
    "manager_attribute",
    "stale_after_days",
    "max_request_days",
    "default_approver",
    "approvers",
    "owners",
];

impl GovernanceConfig {
    /// The deployment's `governance:` section, or the defaults when it has none.
    pub fn from_deployment(config: &DeploymentConfig) -> Result<GovernanceConfig, ConfigError> {
        match config.extension("governance") {
            Some(section) => section.read(|r, node| read_section(r, node, config)),
            None => Ok(GovernanceConfig::default()),
        }
    }
}

/// A whole number of days, at least 1.
fn days(r: &mut Reader, node: &Node, field: &str) -> Option<i64> {
    let n = r.unsigned(node, field)?;
    if n == 0 {
        r.error(node, field, "must be at least 1 day");
        return None;
    }
    Some(i64::try_from(n).unwrap_or(i64::MAX))
}

fn read_section(
    r: &mut Reader,
    node: &Node,
    deployment: &DeploymentConfig,
) -> Option<GovernanceConfig> {
    let mut out = GovernanceConfig::default();
    let mut f = r.fields(node, "governance")?;
    if let Some(v) = f.nonempty_text(r, "manager_attribute") {
        out.manager_attribute = v;
    }
    if let Some(n) = f.get("stale_after_days")
        && let Some(days) = r.unsigned(n, "governance.stale_after_days")
    {
        out.stale_after_days = i64::try_from(days).unwrap_or(i64::MAX);
    }
    if let Some(n) = f.get("max_request_days")
        && let Some(days) = days(r, n, "governance.max_request_days")
    {
        out.max_request_days = days;
    }
    if let Some(n) = f.get("default_approver")
        && let Some(a) = approver(r, n, "governance.default_approver")
    {
        out.default_approver = a;
    }
    if let Some(n) = f.get("approvers") {
        for (i, item) in r
            .items(n, "governance.approvers")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let path = format!("governance.approvers[{i}]");
            let Some(mut g) = r.fields(item, &path) else {
                continue;
            };
            let target = target(r, &mut g, deployment);
            let approver = g
                .required(r, "approver", "manager, auto or {owner: NAME}")
                .and_then(|n| approver(r, n, &format!("{path}.approver")));
            let allow_self_approval = g
                .get("allow_self_approval")
                .and_then(|n| r.boolean(n, &format!("{path}.allow_self_approval")))
                .unwrap_or(false);
            let max_days = g
                .get("max_days")
                .and_then(|n| days(r, n, &format!("{path}.max_days")));
            g.finish(
                r,
                &[
                    "system",
                    "kind",
                    "resource",
                    "approver",
                    "allow_self_approval",
                    "max_days",
                ],
            );
            if let (Some(target), Some(approver)) = (target, approver) {
                out.approvers.push(ApproverRule {
                    target,
                    approver,
                    allow_self_approval,
                    max_days,
                });
            }
        }
    }
    if let Some(n) = f.get("owners") {
        for (i, item) in r
            .items(n, "governance.owners")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let path = format!("governance.owners[{i}]");
            let Some(mut g) = r.fields(item, &path) else {
                continue;
            };
            let target = target(r, &mut g, deployment);
            let owner = g
                .required(r, "owner", "the owner's person id")
                .and_then(|n| r.nonempty_text(n, &format!("{path}.owner")));
            g.finish(r, &["system", "kind", "resource", "owner"]);
            if let (Some(target), Some(owner)) = (target, owner) {
                out.owners.push(OwnerRule { target, owner });
            }
        }
    }
    f.finish(r, FIELDS);
    Some(out)
}

/// `system` (a system of the deployment, or an alias), optional `kind` and `resource`.
fn target(
    r: &mut Reader,
    g: &mut provision_core::yaml::Fields<'_>,
    deployment: &DeploymentConfig,
) -> Option<Target> {
    let node = g.required(r, "system", "a system of the deployment")?;
    let path = g.path_of("system");
    let name = r.nonempty_text(node, &path)?;
    let Some(system) = deployment.resolve_system(&name) else {
        let known: Vec<&str> = deployment.systems.keys().map(|s| s.as_str()).collect();
        r.error(
            node,
            &path,
            format!(
                "no system `{name}` in the deployment; known: {}",
                known.join(", ")
            ),
        );
        return None;
    };
    Some(Target {
        system: system.to_string(),
        kind: g.nonempty_text(r, "kind"),
        resource: g.nonempty_text(r, "resource"),
    })
}

/// `manager`, `auto` or `{owner: NAME}`.
fn approver(r: &mut Reader, node: &Node, path: &str) -> Option<ApproverSource> {
    if let Value::Map(_) = node.value {
        let mut f = r.fields(node, path)?;
        let owner = f
            .required(r, "owner", "the approver's person id")
            .and_then(|n| r.nonempty_text(n, &format!("{path}.owner")));
        f.finish(r, &["owner"]);
        return owner.map(ApproverSource::Owner);
    }
    match r.nonempty_text(node, path)?.as_str() {
        "manager" => Some(ApproverSource::Manager),
        "auto" => Some(ApproverSource::Auto),
        other => {
            r.error(
                node,
                path,
                format!("unknown approver `{other}`; expected manager, auto or {{owner: NAME}}"),
            );
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::config::parse_config;

    const SYSTEMS: &str = "systems:\n  okta: {adapter: okta}\n  slack: {adapter: slack}\n";

    #[test]
    fn the_section_is_read_with_its_defaults() {
        let text = format!(
            "{SYSTEMS}governance:\n  stale_after_days: 30\n  approvers:\n    - {{system: slack, kind: channel, approver: auto}}\n    - {{system: okta, approver: {{owner: it-lead}}}}\n  owners:\n    - {{system: okta, owner: it-ops}}\n"
        );
        let config = parse_config("provision.yaml", &text).unwrap();
        let g = GovernanceConfig::from_deployment(&config).unwrap();
        assert_eq!(g.stale_after_days, 30);
        assert_eq!(g.manager_attribute, "manager");
        assert_eq!(g.approvers.len(), 2);
        assert_eq!(
            g.approvers[1].approver,
            ApproverSource::Owner("it-lead".into())
        );
        assert_eq!(g.owners[0].owner, "it-ops");
        let none = parse_config("provision.yaml", SYSTEMS).unwrap();
        assert_eq!(
            GovernanceConfig::from_deployment(&none).unwrap(),
            GovernanceConfig::default()
        );
    }

    #[test]
    fn mistakes_name_file_line_and_field() {
        let text = format!(
            "{SYSTEMS}governance:\n  approvers:\n    - {{system: jira, approver: auto}}\n    - {{system: okta, approver: boss}}\n  reviewers: []\n"
        );
        let config = parse_config("provision.yaml", &text).unwrap();
        let err = GovernanceConfig::from_deployment(&config).unwrap_err();
        let all: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
        let all = all.join("\n");
        assert!(
            all.contains("provision.yaml:6:") && all.contains("no system `jira`"),
            "{all}"
        );
        assert!(
            all.contains("provision.yaml:7:") && all.contains("unknown approver `boss`"),
            "{all}"
        );
        assert!(
            all.contains("provision.yaml:8:") && all.contains("unknown field `reviewers`"),
            "{all}"
        );
    }

    #[test]
    fn a_misspelt_section_name_is_refused_by_the_kernel() {
        let text = format!("{SYSTEMS}governence:\n  stale_after_days: 30\n");
        let err = parse_config("provision.yaml", &text).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `governence`"),
            "{err}"
        );
    }
}
