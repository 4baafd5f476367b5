//! The systems the quickstart drives: sandbox systems named like the real ones, or the
//! real Okta, Google Workspace and AWS IAM Identity Center adapters when their
//! credentials are in the environment; and reading their actual state back through
//! the `Adapter` reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use provision_aws::{AwsAdapter, AwsConfigBuilder};
use provision_core::adapter::{Adapter, AdapterError, Page};
use provision_core::config::DeploymentConfig;
use provision_core::model::{
    AccountState, ActualState, DesiredState, Identity, ResourceRef, SystemName, SystemSnapshot,
};
use provision_core::planner::{Descriptors, correlate};
use provision_google::{GoogleAdapter, GoogleConfig};
use provision_okta::{OktaAdapter, OktaConfig};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};

use crate::QuickstartError;
use crate::inject::TimeoutAfterCommit;

/// Sandbox rate limits run this many times faster than the vendors' published ones.
const SANDBOX_SPEEDUP: u32 = 10;
/// Reads wait out at most this many "rate limited" answers in a row.
const READ_RETRIES: u32 = 10;

/// One configured system and what answers for it.
struct System {
    /// What the executor talks to (a sandbox behind a fault injector, or a real adapter).
    adapter: Arc<dyn Adapter>,
    sandbox: Option<Arc<SandboxSystem>>,
    faults: Option<Arc<TimeoutAfterCommit>>,
    /// "https://acme.okta.com" for a real system.
    real: Option<String>,
}

/// Every system in the deployment, by canonical name.
pub struct Systems {
    by_name: BTreeMap<SystemName, System>,
}

/// `OKTA_ORG_URL` and a credential are set.
fn okta_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |n: &str| env(n).is_some_and(|v| !v.trim().is_empty());
    set("OKTA_ORG_URL") && (set("OKTA_API_TOKEN") || set("OKTA_CLIENT_ID"))
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

impl Systems {
    /// Builds every system of `config`: the real Okta / Google / AWS adapter when
    /// `env` has their variables, otherwise the sandbox preset of the same name.
    pub fn build(
        config: &DeploymentConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, QuickstartError> {
        let mut by_name = BTreeMap::new();
        for name in config.systems.keys() {
            let system = match name.as_str() {
                "okta" if okta_in_env(env) => {
                    let cfg = OktaConfig::from_lookup(env)?;
                    let org = env("OKTA_ORG_URL").unwrap_or_default();
                    real(Arc::new(OktaAdapter::new(cfg)?), org)
                }
                "google" if google_in_env(env) => {
                    let cfg = GoogleConfig::from_lookup(env)?;
                    let who = env("GOOGLE_ADMIN_SUBJECT").unwrap_or_default();
                    real(
                        Arc::new(GoogleAdapter::new(cfg)?),
                        format!("Workspace, acting as {who}"),
                    )
                }
                "aws" if aws_in_env(env) => {
                    let (adapter, where_) = aws_from_env(&config.systems[name], env)?;
                    real(Arc::new(adapter), where_)
                }
                other => sandbox(name, other)?,
            };
            by_name.insert(name.clone(), system);
        }
        Ok(Self { by_name })
    }

    /// Each system's descriptor, for loading policies and planning.
    pub fn descriptors(&self) -> Descriptors {
        self.by_name
            .iter()
            .map(|(n, s)| (n.clone(), s.adapter.descriptor().clone()))
            .collect()
    }

    /// The adapter the executor uses for `name`.
    pub fn adapter(&self, name: &SystemName) -> Option<Arc<dyn Adapter>> {
        self.by_name.get(name).map(|s| Arc::clone(&s.adapter))
    }

    /// The system names.
    pub fn names(&self) -> impl Iterator<Item = &SystemName> {
        self.by_name.keys()
    }

    /// The sandbox behind `name`, unless it is a real system.
    pub fn sandbox(&self, name: &str) -> Option<&Arc<SandboxSystem>> {
        self.by_name.get(&SystemName::new(name))?.sandbox.as_ref()
    }

    /// The fault injector in front of the sandbox `name`.
    pub fn faults(&self, name: &str) -> Option<&Arc<TimeoutAfterCommit>> {
        self.by_name.get(&SystemName::new(name))?.faults.as_ref()
    }

    /// The real systems, with where they are.
    pub fn real(&self) -> Vec<(SystemName, String)> {
        self.by_name
            .iter()
            .filter_map(|(n, s)| Some((n.clone(), s.real.clone()?)))
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

    /// Reads every system (accounts, and the grants on the `managed` resources) through
    /// the `Adapter` reads, page by page, waiting when a system says it is rate
    /// limited, and correlates the result with `identities`.
    pub async fn read_actual(
        &self,
        identities: &[Identity],
        managed: &BTreeSet<ResourceRef>,
    ) -> Result<ActualState, QuickstartError> {
        let snapshots = self.read_snapshots(managed).await?;
        Ok(correlate(identities, &snapshots))
    }

    /// What every system holds (accounts, and the grants on the `managed` resources),
    /// each snapshot with the time it was read.
    pub async fn read_snapshots(
        &self,
        managed: &BTreeSet<ResourceRef>,
    ) -> Result<BTreeMap<SystemName, SystemSnapshot>, QuickstartError> {
        let mut snapshots = BTreeMap::new();
        for (name, system) in &self.by_name {
            let adapter = system.adapter.as_ref();
            let read_error = |error| QuickstartError::Read {
                system: name.clone(),
                error: Box::new(error),
            };
            let accounts = drain(|c| async move { adapter.read_accounts(c.as_deref()).await })
                .await
                .map_err(read_error)?;
            let mut grants = Vec::new();
            for resource in managed.iter().filter(|r| &r.system == name) {
                match drain(|c| async move { adapter.read_grants(resource, c.as_deref()).await })
                    .await
                {
                    Ok(found) => grants.extend(found),
                    // A group that does not exist yet has no members.
                    Err(AdapterError::NotFound { .. }) => {}
                    Err(e) => return Err(read_error(e)),
                }
            }
            snapshots.insert(
                name.clone(),
                SystemSnapshot {
                    system: Some(name.clone()),
                    accounts,
                    grants,
                    read_at: Some(Utc::now()),
                },
            );
        }
        Ok(snapshots)
    }
}

fn real(adapter: Arc<dyn Adapter>, where_: String) -> System {
    System {
        adapter,
        sandbox: None,
        faults: None,
        real: Some(where_),
    }
}

fn sandbox(name: &SystemName, preset_name: &str) -> Result<System, QuickstartError> {
    let preset = presets::all()
        .into_iter()
        .find(|(n, _)| *n == preset_name)
        .map(|(_, p)| p)
        .ok_or_else(|| QuickstartError::NoSandbox {
            system: name.clone(),
        })?;
    let config = SandboxConfig {
        latency: Duration::from_millis(15),
        rate_limit: Some(preset.rate_limit(SANDBOX_SPEEDUP)),
        page_size: 4,
        require_external_id: true,
        pending_recheck: Duration::from_millis(200),
        ..SandboxConfig::default()
    };
    let sb = Arc::new(preset.sandbox(name.as_str(), config));
    let faults = Arc::new(TimeoutAfterCommit::new(
        name.as_str(),
        Arc::clone(&sb) as Arc<dyn Adapter>,
    ));
    Ok(System {
        adapter: Arc::clone(&faults) as Arc<dyn Adapter>,
        sandbox: Some(sb),
        faults: Some(faults),
        real: None,
    })
}

/// Reads every page, waiting as told on "rate limited".
async fn drain<T, F, Fut>(mut read: F) -> Result<Vec<T>, AdapterError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AdapterError>>,
{
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut limited = 0;
    loop {
        match read(cursor.clone()).await {
            Ok(page) => {
                limited = 0;
                out.extend(page.items);
                match page.next {
                    Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => return Ok(out),
                }
            }
            Err(AdapterError::RateLimited { info, .. }) if limited < READ_RETRIES => {
                limited += 1;
                let wait = info.retry_after.unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
            }
            Err(e) => return Err(e),
        }
    }
}
