//! The systems the quickstart drives: sandbox systems named like the real ones, built
//! from `provision.yaml` (`adapter: sandbox`) by a factory that puts a fault injector
//! in front of each; or the real Okta, Google Workspace, AWS IAM Identity Center,
//! GitLab, Slack, Jira and Salesforce adapters when their credentials are in the
//! environment. The engine reads them back; this module keeps the handles a demo
//! needs (seeding, signing someone in, changing a system by hand).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use provision_aws::{AwsAdapter, AwsConfigBuilder};
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};
use provision_core::config::DeploymentConfig;
use provision_core::engine::EngineBuilder;
use provision_core::model::{AccountState, DesiredState, SystemName};
use provision_google::{GoogleAdapter, GoogleConfig};
use provision_okta::{OktaAdapter, OktaConfig};
use provision_sandbox::{SandboxConfig, SandboxFactory, SandboxSystem};

use crate::QuickstartError;
use crate::inject::TimeoutAfterCommit;

/// The systems the quickstart can run against for real, with the variables that
/// switch each on, in the order of the README's table ("Real Okta, Google Workspace,
/// ..."): the quickstart's opening hint lists them, and a test checks the README's
/// table names the same systems.
pub const REAL_SYSTEM_VARIABLES: &[(&str, &str)] = &[
    ("Okta", "OKTA_*"),
    ("Google Workspace", "GOOGLE_*"),
    ("Slack", "SLACK_*"),
    ("Jira Cloud", "JIRA_*"),
    ("AWS IAM Identity Center", "AWS_*"),
    ("Salesforce", "SALESFORCE_*"),
    ("GitLab", "GITLAB_*"),
    ("GitHub", "GITHUB_*"),
];

/// Sandbox rate limits run this many times faster than the vendors' published ones.
const SANDBOX_SPEEDUP: u32 = 10;

/// `OKTA_ORG_URL` and a credential are set.
fn okta_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("OKTA_ORG_URL") && (set("OKTA_API_TOKEN") || set("OKTA_CLIENT_ID"))
}

/// `GITLAB_URL` and `GITLAB_TOKEN` are set (`GITLAB_GROUP` names the managed group).
fn gitlab_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("GITLAB_URL") && set("GITLAB_TOKEN")
}

/// `GITHUB_ORG` and a credential are set (`GITHUB_TOKEN`, or the app variables
/// `GITHUB_APP_ID`, `GITHUB_APP_INSTALLATION_ID`, `GITHUB_APP_PRIVATE_KEY(_FILE)`).
fn github_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("GITHUB_ORG") && (set("GITHUB_TOKEN") || set("GITHUB_APP_ID"))
}

/// A Slack token is set (`SLACK_BOT_TOKEN`; `SLACK_ADMIN_TOKEN` and `SLACK_SCIM_TOKEN`
/// add Enterprise session reset and SCIM accounts).
fn slack_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("SLACK_BOT_TOKEN").is_some_and(|v| !v.trim().is_empty())
}

/// `JIRA_URL`, `JIRA_EMAIL` and `JIRA_API_TOKEN` are set (`ATLASSIAN_ORG_API_KEY` is
/// optional: without it Jira leavers lose their access instead of being deactivated).
fn jira_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("JIRA_URL") && set("JIRA_EMAIL") && set("JIRA_API_TOKEN")
}

/// A Salesforce connected app is set: `SALESFORCE_CLIENT_ID` and either
/// `SALESFORCE_USERNAME` with `SALESFORCE_PRIVATE_KEY`/`SALESFORCE_PRIVATE_KEY_FILE`
/// (JWT bearer flow) or `SALESFORCE_CLIENT_SECRET` (client credentials, with
/// `SALESFORCE_LOGIN_URL` the org's My Domain URL).
fn salesforce_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("SALESFORCE_CLIENT_ID")
        && (set("SALESFORCE_CLIENT_SECRET")
            || (set("SALESFORCE_USERNAME")
                && (set("SALESFORCE_PRIVATE_KEY") || set("SALESFORCE_PRIVATE_KEY_FILE"))))
}

/// `PROVISION_SCIM_URL` is set: the `expenses` system is a real SCIM 2.0 application
/// there (scim2-server on loopback, or any other), with `PROVISION_SCIM_TOKEN` as its
/// bearer token.
fn scim_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("PROVISION_SCIM_URL").is_some_and(|v| !v.trim().is_empty())
}

/// A service-account key and the admin to act as are set.
fn google_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    (set("GOOGLE_APPLICATION_CREDENTIALS") || set("GOOGLE_SERVICE_ACCOUNT_KEY"))
        && set("GOOGLE_ADMIN_SUBJECT")
}

/// AWS credentials, a region and the Identity Center instance are set: the quickstart
/// never picks up AWS credentials that happen to be in the environment unless the
/// instance is named too.
fn aws_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("AWS_ACCESS_KEY_ID")
        && set("AWS_SECRET_ACCESS_KEY")
        && (set("AWS_REGION") || set("AWS_DEFAULT_REGION"))
        && set("PROVISION_AWS_INSTANCE_ARN")
        && set("PROVISION_AWS_IDENTITY_STORE_ID")
}

/// The real AWS IAM Identity Center adapter from `AWS_*` and `PROVISION_AWS_*`
/// variables; `PROVISION_AWS_ACCOUNTS` (`production=111122223333,staging=…`) names
/// the accounts policies use (`account: production`). Returns the adapter and a
/// description of where it points.
fn aws_from_env(
    system: &provision_core::config::SystemConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(AwsAdapter, String), QuickstartError> {
    let mut builder = AwsConfigBuilder::from_env_with(env)?.delete_leavers(system.delete_leavers);
    for pair in env("PROVISION_AWS_ACCOUNTS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, id) = pair.split_once('=').ok_or_else(|| {
            QuickstartError::AdapterConfig(provision_core::adapter::ConfigError::invalid_setting(
                "aws",
                "PROVISION_AWS_ACCOUNTS",
                format!("name=12-digit-account-id pairs, not '{pair}'"),
            ))
        })?;
        builder = builder.account(name.trim(), id.trim());
    }
    let config = builder.build()?;
    let instance = config.instance_arn().unwrap_or_default().to_owned();
    let endpoint = config.sso_admin_endpoint().as_str().trim_end_matches('/');
    let where_ = format!(
        "Identity Center {instance} in {} via {endpoint}",
        config.region()
    );
    let adapter = AwsAdapter::new(config)?;
    Ok((adapter, where_))
}

/// The quickstart's sandboxes: `provision_sandbox`'s factory with the quickstart's
/// latency, paging and compressed vendor rate limits, each system behind a fault
/// injector; it keeps both handles for the scenes.
pub struct QuickstartSandboxes {
    sandboxes: SandboxFactory,
    faults: Mutex<BTreeMap<SystemName, Arc<TimeoutAfterCommit>>>,
}

impl QuickstartSandboxes {
    fn new() -> Self {
        let config = SandboxConfig {
            latency: Duration::from_millis(15),
            page_size: 4,
            require_external_id: true,
            pending_recheck: Duration::from_millis(200),
            ..SandboxConfig::default()
        };
        Self {
            sandboxes: SandboxFactory::new()
                .with_config(config)
                .with_rate_limit_speedup(SANDBOX_SPEEDUP),
            faults: Mutex::new(BTreeMap::new()),
        }
    }

    fn faults(&self) -> MutexGuard<'_, BTreeMap<SystemName, Arc<TimeoutAfterCommit>>> {
        // A map of handles: a panic elsewhere cannot leave it half-written.
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl AdapterFactory for QuickstartSandboxes {
    fn adapter_type(&self) -> &str {
        self.sandboxes.adapter_type()
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        self.sandboxes.descriptor(spec)
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let sandbox = self.sandboxes.build_sandbox(spec)?;
        let faults = Arc::new(TimeoutAfterCommit::new(
            spec.name.as_str(),
            sandbox as Arc<dyn Adapter>,
        ));
        self.faults().insert(spec.name.clone(), Arc::clone(&faults));
        Ok(faults)
    }
}

/// Every system in the deployment: which are real (and where), and the sandboxes.
pub struct Systems {
    sandboxes: Arc<QuickstartSandboxes>,
    /// Real systems, with where they are (`https://acme.okta.com`).
    real: BTreeMap<SystemName, String>,
}

impl Systems {
    /// Wires the systems of `config` into an engine builder: the real Okta / Google /
    /// AWS adapter when `env` has their variables, otherwise the sandbox the deployment
    /// names (`adapter: sandbox`, built when the engine is).
    pub fn wire(
        config: &DeploymentConfig,
        env: &dyn Fn(&str) -> Option<String>,
        mut builder: EngineBuilder,
    ) -> Result<(Self, EngineBuilder), QuickstartError> {
        let sandboxes = Arc::new(QuickstartSandboxes::new());
        builder = builder.factory(Arc::clone(&sandboxes) as Arc<dyn AdapterFactory>);
        // `adapter: gitlab` in provision.yaml builds the real adapter through its factory.
        builder = builder.factory(provision_gitlab::factory());
        // `adapter: slack` in provision.yaml builds the real adapter from its settings.
        builder = builder.factory(provision_slack::factory());
        // `adapter: jira` in provision.yaml builds the real adapter through its factory.
        builder = builder.factory(provision_jira::factory());
        // `adapter: scim` in provision.yaml builds the real adapter through its factory.
        builder = builder.factory(provision_scim::factory());
        // `adapter: github` in provision.yaml builds the real adapter through its factory.
        builder = builder.factory(provision_github::factory());
        let mut real = BTreeMap::new();
        for name in config.systems.keys() {
            let (adapter, where_): (Arc<dyn Adapter>, String) = match name.as_str() {
                "okta" if okta_in_env(env) => {
                    let cfg = OktaConfig::from_lookup(env)?;
                    let org = env("OKTA_ORG_URL").unwrap_or_default();
                    (Arc::new(OktaAdapter::new(cfg)?), org)
                }
                "google" if google_in_env(env) => {
                    let cfg = GoogleConfig::from_lookup(env)?;
                    let who = env("GOOGLE_ADMIN_SUBJECT").unwrap_or_default();
                    (
                        Arc::new(GoogleAdapter::new(cfg)?),
                        format!("Workspace, acting as {who}"),
                    )
                }
                "gitlab" if gitlab_in_env(env) => {
                    let cfg = provision_gitlab::GitlabConfig::from_lookup(env)?;
                    let at = format!("{} group {}", cfg.base_url, cfg.group);
                    let adapter = provision_gitlab::GitlabAdapter::new(cfg)?;
                    (Arc::new(adapter), at)
                }
                "slack" if slack_in_env(env) => {
                    let cfg = provision_slack::SlackConfig::from_lookup(env)?;
                    let tokens = cfg.tokens();
                    let adapter = provision_slack::SlackAdapter::new(cfg)?;
                    (
                        Arc::new(adapter),
                        format!(
                            "Slack (bot token{}{})",
                            if tokens.admin {
                                ", Enterprise admin"
                            } else {
                                ""
                            },
                            if tokens.scim { ", SCIM" } else { "" }
                        ),
                    )
                }
                "expenses" if scim_in_env(env) => {
                    let url = env("PROVISION_SCIM_URL").unwrap_or_default();
                    let cfg = provision_scim::ScimConfig::builder()
                        .system_name(name.as_str())
                        .base_url(url.trim())
                        .bearer(env("PROVISION_SCIM_TOKEN").unwrap_or_default())
                        .delete_leavers(config.systems[name].delete_leavers)
                        .build()?;
                    let at = format!("SCIM at {}", cfg.base_url);
                    (Arc::new(provision_scim::ScimAdapter::new(cfg)?), at)
                }
                "github" if github_in_env(env) => {
                    let cfg = provision_github::GithubConfig::from_lookup(env)?;
                    let at = format!("{} organization {}", cfg.api_url, cfg.org);
                    (Arc::new(provision_github::GithubAdapter::new(cfg)?), at)
                }
                "aws" if aws_in_env(env) => {
                    let (adapter, where_) = aws_from_env(&config.systems[name], env)?;
                    (Arc::new(adapter), where_)
                }
                "jira" if jira_in_env(env) => {
                    let cfg = provision_jira::JiraConfig::from_lookup(env)?;
                    let site = env("JIRA_URL").unwrap_or_default();
                    let org = if cfg.org.is_some() {
                        "with the org API key"
                    } else {
                        "no org API key: leavers lose access, accounts stay active"
                    };
                    (
                        Arc::new(provision_jira::JiraAdapter::new(cfg)?),
                        format!("{site} ({org})"),
                    )
                }
                "salesforce" if salesforce_in_env(env) => {
                    let cfg = provision_salesforce::SalesforceConfig::from_lookup(env)?;
                    let at = format!(
                        "Salesforce via {}",
                        cfg.login_url.as_str().trim_end_matches('/')
                    );
                    (
                        Arc::new(provision_salesforce::SalesforceAdapter::new(cfg)?),
                        at,
                    )
                }
                _ => continue,
            };
            builder = builder.adapter(name.clone(), adapter);
            real.insert(name.clone(), where_);
        }
        Ok((Self { sandboxes, real }, builder))
    }

    /// The sandbox behind `name`, unless it is a real system.
    pub fn sandbox(&self, name: &str) -> Option<Arc<SandboxSystem>> {
        self.sandboxes.sandboxes.system(name)
    }

    /// The fault injector in front of the sandbox `name`.
    pub fn faults(&self, name: &str) -> Option<Arc<TimeoutAfterCommit>> {
        self.sandboxes.faults().get(&SystemName::new(name)).cloned()
    }

    /// The real systems, with where they are.
    pub fn real(&self) -> Vec<(SystemName, String)> {
        self.real
            .iter()
            .map(|(n, at)| (n.clone(), at.clone()))
            .collect()
    }

    /// Puts the company as it is today into the sandboxes: every account and grant
    /// `desired` gives (real systems are left as they are). Returns accounts and
    /// grants seeded.
    pub fn seed(&self, desired: &DesiredState) -> (usize, usize) {
        let (mut accounts, mut grants) = (0, 0);
        for want in desired.identities.values() {
            let login = &want.identity.login;
            for system in &want.accounts {
                if let Some(sb) = self.sandbox(system.as_str()) {
                    sb.with_account(login, AccountState::Active);
                    accounts += 1;
                }
            }
            for e in want.grants.keys() {
                if let Some(sb) = self.sandbox(e.system.as_str()) {
                    sb.with_grant(login, e.clone());
                    grants += 1;
                }
            }
        }
        (accounts, grants)
    }
}
