//! Shared test fixtures: the descriptors of the example systems and a deployment
//! built in code (the library ships no presets; adapters publish their own).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provision_core::adapter::{ResourceKindDescriptor as Kind, SystemDescriptor};
use provision_core::config::{DeploymentConfig, ExternalOwnership, SystemConfig};
use provision_core::model::SystemName;

fn system(adapter: &str, kinds: Vec<Kind>) -> SystemDescriptor {
    let mut d = SystemDescriptor::new(adapter);
    d.kinds = kinds;
    d.has_accounts = true;
    d.can_suspend = true;
    d
}

/// Descriptors of okta, google, aws, gitlab, slack, jira and salesforce, keyed by
/// canonical name.
pub fn descriptors() -> BTreeMap<SystemName, SystemDescriptor> {
    let mut okta = system(
        "sandbox",
        vec![
            Kind::new("group", &["add_to_group"]),
            Kind::new("app", &["assign_app"]),
        ],
    );
    okta.can_revoke_sessions = true;
    okta.can_delete = true;
    let google = system(
        "sandbox",
        vec![
            Kind::new("group", &["add_to_group"])
                .with_roles(&["member", "manager", "owner"], Some("member")),
            Kind::new("org_unit", &["place_in_org_unit"]),
        ],
    );
    let mut aws = system(
        "sandbox",
        vec![
            Kind::new("group", &["add_to_group"]),
            Kind::new("permission_set", &["assign_permission_set"]).with_scope("account"),
        ],
    );
    aws.has_accounts = true;
    aws.can_suspend = false;
    let gitlab_roles = &["guest", "reporter", "developer", "maintainer", "owner"];
    let mut gitlab = system(
        "sandbox",
        vec![
            Kind::new("group", &["add_to_group"]).with_roles(gitlab_roles, Some("developer")),
            Kind::new("project", &["add_to_project"]).with_roles(gitlab_roles, Some("developer")),
        ],
    );
    gitlab.accounts_created_on_first_login = true;
    let slack = system(
        "sandbox",
        vec![Kind::new("channel", &["invite_to_channel"])],
    );
    let jira = system(
        "sandbox",
        vec![
            Kind::new("project_role", &["assign_project_role"])
                .with_roles(&["Administrator", "Developer", "Reporter"], None),
            Kind::new("group", &["add_to_group"]),
        ],
    );
    let salesforce = system(
        "sandbox",
        vec![
            Kind::new("profile", &["assign_profile"]),
            Kind::new("permission_set", &["assign_permission_set"]),
        ],
    );
    [
        ("okta", okta),
        ("google", google),
        ("aws", aws),
        ("gitlab", gitlab),
        ("slack", slack),
        ("jira", jira),
        ("salesforce", salesforce),
    ]
    .into_iter()
    .map(|(n, d)| (SystemName::new(n), d))
    .collect()
}

/// A deployment of the seven systems built in code: `aws-sso` is an alias of
/// `aws`; Okta groups starting with `okta-rule-` belong to Okta's own group rules.
pub fn config() -> DeploymentConfig {
    let mut config = DeploymentConfig::default();
    for name in [
        "okta",
        "google",
        "aws",
        "gitlab",
        "slack",
        "jira",
        "salesforce",
    ] {
        config
            .systems
            .insert(SystemName::new(name), SystemConfig::new("sandbox"));
    }
    if let Some(aws) = config.systems.get_mut(&SystemName::new("aws")) {
        aws.aliases.push("aws-sso".into());
    }
    if let Some(okta) = config.systems.get_mut(&SystemName::new("okta")) {
        okta.external_owners.push(ExternalOwnership {
            engine: "okta-group-rules".into(),
            kind: Some("group".into()),
            resource_prefix: Some("okta-rule-".into()),
        });
    }
    config
}

/// The workspace's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}
