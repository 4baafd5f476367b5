//! `adapter: jira` through the factory: the descriptor from settings alone (the org
//! key's presence, not its value, decides suspension), a build that names what is
//! missing and never a secret, and a built adapter that reaches both hosts.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Effect, SystemSpec};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, OperationKind, SystemName};
use provision_testkit::conformance;
use support::{FakeJira, Hosts};

fn spec_config(settings: &[(&str, &str)]) -> SystemConfig {
    let mut s = SystemConfig::new("jira");
    for (k, v) in settings {
        s.settings.insert((*k).into(), (*v).into());
    }
    s
}

fn secret_file(name: &str, secret: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("jira-{name}-{}", std::process::id()));
    std::fs::write(&path, secret).unwrap();
    path
}

#[tokio::test]
async fn the_factory_describes_without_credentials_and_builds_with_them() {
    let factory = provision_jira::factory();
    assert_eq!(factory.adapter_type(), "jira");
    let name = SystemName::new("jira-prod");
    let bare = spec_config(&[
        ("site_url", "https://acme.atlassian.net"),
        ("email", "ops@acme.com"),
        ("project_roles", "Administrators, Member"),
    ]);
    let spec = SystemSpec {
        name: &name,
        config: &bare,
    };
    let d = factory.descriptor(spec).unwrap();
    assert!(!d.can_suspend, "no org key named: cannot suspend");
    assert_eq!(
        d.kind("project_role").unwrap().roles,
        ["Administrators", "Member"]
    );
    let err = factory.build(spec).await.err().unwrap().to_string();
    assert!(
        err.contains("jira-prod") && err.contains("api_token"),
        "{err}"
    );

    let hosts = Hosts::start(FakeJira::new()).await;
    let id = hosts.fake.add_user("ada@example.com");
    let token = secret_file("token", support::TOKEN);
    let key = secret_file("key", support::ORG_KEY);
    let mut c = spec_config(&[
        ("site_url", &hosts.site.uri()),
        ("email", support::EMAIL),
        ("org_api_url", &hosts.org.uri()),
        ("projects", "ENG"),
    ]);
    c.credentials.insert(
        "api_token".into(),
        CredentialRef::File {
            file: token.clone(),
        },
    );
    c.credentials.insert(
        "org_api_key".into(),
        CredentialRef::File { file: key.clone() },
    );
    hosts.fake.add_project("ENG");
    let spec = SystemSpec {
        name: &name,
        config: &c,
    };
    let d = factory.descriptor(spec).unwrap();
    assert!(d.can_suspend && d.kind("project_role").unwrap().enumerable);
    let jira = factory.build(spec).await.unwrap();
    assert_eq!(
        jira.descriptor(),
        &d,
        "the built adapter says what the factory said"
    );
    let who = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(id.clone()),
    };
    assert_eq!(
        conformance::run(jira.as_ref(), &who, OperationKind::SuspendAccount)
            .await
            .unwrap(),
        Effect::Changed
    );
    assert!(!hosts.fake.user(&id).active);
    std::fs::remove_file(token).unwrap();
    std::fs::remove_file(key).unwrap();
}

#[tokio::test]
async fn a_bad_site_url_or_plain_http_fails_naming_the_setting_never_the_secret() {
    let factory = provision_jira::factory();
    let name = SystemName::new("jira-main");
    let file = secret_file("bad-url", "VERY-SECRET-token");
    for (url, expected) in [
        ("acme.atlassian.net", "site_url"),
        ("http://acme.atlassian.net", "plain http"),
    ] {
        let mut c = spec_config(&[("site_url", url), ("email", "ops@acme.com")]);
        c.credentials.insert(
            "api_token".into(),
            CredentialRef::File { file: file.clone() },
        );
        let err = factory
            .build(SystemSpec {
                name: &name,
                config: &c,
            })
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"))
            .to_string();
        assert!(
            err.contains("jira-main") && err.contains(expected),
            "{url}: {err}"
        );
        assert!(!err.contains("VERY-SECRET-token"), "{err}");
    }
    // profile_sync without the org key cannot work: said at build.
    let mut c = spec_config(&[
        ("site_url", "https://acme.atlassian.net"),
        ("email", "ops@acme.com"),
        ("profile_sync", "true"),
    ]);
    c.credentials.insert(
        "api_token".into(),
        CredentialRef::File { file: file.clone() },
    );
    let err = factory
        .build(SystemSpec {
            name: &name,
            config: &c,
        })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("profile_sync") && err.contains("org_api_key"),
        "{err}"
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn from_env_reads_the_quickstart_variables() {
    let vars = [
        ("JIRA_URL", "https://acme.atlassian.net"),
        ("JIRA_EMAIL", "ops@acme.com"),
        ("JIRA_API_TOKEN", "tok"),
        ("ATLASSIAN_ORG_API_KEY", "key"),
    ];
    let lookup = |n: &str| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    };
    let config = provision_jira::JiraConfig::from_lookup(lookup).unwrap();
    assert!(config.org.is_some());
    assert_eq!(
        config.org.unwrap().api_url.as_str(),
        "https://api.atlassian.com/"
    );
    let without = |n: &str| {
        if n == "ATLASSIAN_ORG_API_KEY" {
            None
        } else {
            lookup(n)
        }
    };
    assert!(
        provision_jira::JiraConfig::from_lookup(without)
            .unwrap()
            .org
            .is_none()
    );
    let missing = |n: &str| if n == "JIRA_EMAIL" { None } else { lookup(n) };
    let err = provision_jira::JiraConfig::from_lookup(missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("JIRA_EMAIL"), "{err}");
}
