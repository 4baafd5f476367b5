//! Where the deployment, the policies, the roster and the store are, and how the
//! engine is built from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use provision_core::adapter::ConfigError as SystemConfigError;
use provision_core::adapter::{
    Adapter, AdapterFactory, FactoryRegistry, SystemDescriptor, SystemSpec,
};
use provision_core::config::DeploymentConfig;
use provision_core::config::parse_config;
use provision_core::engine::Engine;
use provision_core::executor::{ExecutionSubscriber, PendingConfig};
use provision_core::model::Identity;
use provision_governance::{GovernanceHook, GovernanceStore};
use provision_roster::{RosterConfig, RosterLoad, RosterReader};
use provision_store::SqliteStore;

use crate::cli::Global;
use crate::exit::CliError;

/// The default deployment file.
pub const DEFAULT_CONFIG: &str = "provision.yaml";

/// The paths a command works with, resolved from flags, environment and defaults.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The deployment file.
    pub config: PathBuf,
    /// The policy file or directory.
    pub policies: PathBuf,
    /// The roster file, when one is named or found.
    pub roster: Option<PathBuf>,
    /// The SQLite store.
    pub store: PathBuf,
    /// How long pending operations are re-checked.
    pub pending_wait: std::time::Duration,
}

/// The directory holding the deployment file.
fn config_dir(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Paths {
    /// Resolves the paths: `--config`, `PROVISION_CONFIG`, `./provision.yaml`; the
    /// rest beside the deployment file unless named.
    pub fn resolve(global: &Global) -> Self {
        let config = global
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        let dir = config_dir(&config);
        let policies = global
            .policies
            .clone()
            .unwrap_or_else(|| dir.join("policies"));
        let store = global
            .store
            .clone()
            .unwrap_or_else(|| dir.join(".provision").join("store.db"));
        Self {
            config,
            policies,
            roster: global.roster.clone(),
            store,
            pending_wait: std::time::Duration::from_secs(global.pending_wait),
        }
    }

    /// The default policy directory (beside the deployment file).
    pub fn default_policies(&self) -> PathBuf {
        config_dir(&self.config).join("policies")
    }

    /// The roster: the named one, the deployment's `roster.path` (relative to the
    /// deployment file), or `roster.yaml` beside it.
    pub fn roster_path(&self, config: &DeploymentConfig) -> Result<PathBuf, CliError> {
        Ok(self.roster_path_in(roster_section(config)?.as_ref()))
    }

    /// [`Paths::roster_path`] with the deployment's `roster:` section already read.
    fn roster_path_in(&self, section: Option<&RosterConfig>) -> PathBuf {
        if let Some(path) = &self.roster {
            return path.clone();
        }
        let dir = config_dir(&self.config);
        match section.and_then(|r| r.path.as_ref()) {
            Some(path) if path.is_absolute() => path.clone(),
            Some(path) => dir.join(path),
            None => dir.join("roster.yaml"),
        }
    }
}

/// Sandbox systems that outlive the process: each `adapter: sandbox` system without a
/// `state_file` keeps its state in `<dir>/<system>.json` (`.provision/sandbox/` beside
/// the deployment), so `provision apply` then `provision plan` see the same systems,
/// as the README's walkthrough needs. A `state_file` in the settings wins.
struct PersistentSandboxes {
    inner: Arc<dyn AdapterFactory>,
    dir: PathBuf,
}

#[async_trait::async_trait]
impl AdapterFactory for PersistentSandboxes {
    fn adapter_type(&self) -> &str {
        self.inner.adapter_type()
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, SystemConfigError> {
        self.inner.descriptor(spec)
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, SystemConfigError> {
        if spec.setting("state_file").is_some() {
            return self.inner.build(spec).await;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            SystemConfigError::invalid_setting(
                spec.name.as_str(),
                "state_file",
                format!(
                    "a folder for the sandbox's state, {}: {e}",
                    self.dir.display()
                ),
            )
        })?;
        let mut config = spec.config.clone();
        let file = self.dir.join(format!("{}.json", spec.name.as_str()));
        config
            .settings
            .insert("state_file".to_owned(), file.display().to_string());
        self.inner
            .build(SystemSpec {
                name: spec.name,
                config: &config,
            })
            .await
    }
}

/// Every adapter factory this command knows: the real systems and the sandbox.
pub fn factories() -> FactoryRegistry {
    FactoryRegistry::new()
        .with(provision_okta::factory())
        .with(provision_google::factory())
        .with(provision_aws::factory())
        .with(provision_slack::factory())
        .with(provision_jira::factory())
        .with(provision_jira::tickets_factory())
        .with(provision_gitlab::factory())
        .with(provision_github::factory())
        .with(provision_salesforce::factory())
        .with(provision_scim::factory())
        .with(provision_listing::factory())
        .with(provision_sandbox::factory())
}

/// Loads the deployment file (for its `roster:` section and the blast radius).
pub fn load_config(path: &Path) -> Result<DeploymentConfig, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path.display(), e))?;
    parse_config(&path.display().to_string(), &text)
        .map_err(|e| CliError::Invalid(format!("deployment: {e}")))
}

/// The deployment's `roster:` section, read by `provision-roster`; a wrong one is
/// an invalid deployment (exit 3), every problem with file:line:column.
pub fn roster_section(config: &DeploymentConfig) -> Result<Option<RosterConfig>, CliError> {
    RosterConfig::from_deployment(config).map_err(|e| CliError::Invalid(format!("deployment: {e}")))
}

/// Reads the roster with the deployment's mapping; row problems are kept.
pub fn read_roster(paths: &Paths, config: &DeploymentConfig) -> Result<RosterLoad, CliError> {
    let section = roster_section(config)?;
    let path = paths.roster_path_in(section.as_ref());
    let reader = match &section {
        Some(section) => RosterReader::from_config(section),
        None => RosterReader::new(),
    };
    reader.read_path(&path).map_err(|e| match e {
        // A roster that cannot be read is an error (exit 1), a wrong one invalid (3).
        provision_roster::RosterError::Io { .. } => CliError::Other(format!("roster: {e}")),
        e => CliError::Invalid(format!("roster: {e}")),
    })
}

/// Reads the roster; any row problem is an error (exit 3).
pub fn load_roster(paths: &Paths, config: &DeploymentConfig) -> Result<Vec<Identity>, CliError> {
    read_roster(paths, config)?
        .into_strict()
        .map_err(|e| CliError::Invalid(format!("roster: {e}")))
}

/// Opens (creating) the SQLite store, and its folder when it is missing. An error
/// names the store's path.
pub async fn open_store(path: &Path) -> Result<Arc<SqliteStore>, CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::Other(format!(
                "cannot create the store's folder {} (for {}): {e}",
                dir.display(),
                path.display()
            ))
        })?;
    }
    SqliteStore::open(path)
        .await
        .map(Arc::new)
        .map_err(|e| CliError::Other(format!("cannot open the store {}: {e}", path.display())))
}

/// Opens an existing store (for the audit commands, which must not create one).
pub async fn open_existing_store(path: &Path) -> Result<Arc<SqliteStore>, CliError> {
    if !path.exists() {
        return Err(CliError::Other(format!(
            "no store at {} (pass --store or PROVISION_STORE)",
            path.display()
        )));
    }
    open_store(path).await
}

/// The actor recorded in the audit log: `PROVISION_ACTOR`, else the user's name.
pub fn actor() -> String {
    std::env::var("PROVISION_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .map(|u| format!("provision-cli:{u}"))
        .unwrap_or_else(|_| "provision-cli".to_owned())
}

/// Builds the engine: every system's adapter (credentials resolved now), the SQLite
/// store as journal, audit log and governance store, and `subscriber` for progress.
pub async fn build_engine(
    paths: &Paths,
    subscriber: Option<Arc<dyn ExecutionSubscriber>>,
) -> Result<Engine, CliError> {
    let store = open_store(&paths.store).await?;
    let mut builder = Engine::builder()
        .deployment(&paths.config)
        .policies(&paths.policies)
        .registry(factories().with(Arc::new(PersistentSandboxes {
            inner: provision_sandbox::factory(),
            dir: config_dir(&paths.config).join(".provision").join("sandbox"),
        })))
        .store(Arc::clone(&store))
        // Every plan passes the governance hook: the policy files' separation-of-duties
        // rules, the store's exceptions (which cover their conflicts) and approved
        // requests (which are granted).
        .hook_with(GovernanceHook::with_policy_rules(
            store as Arc<dyn GovernanceStore>,
        ))
        .pending(PendingConfig {
            interval: (paths.pending_wait / 6).max(std::time::Duration::from_millis(200)),
            deadline: paths.pending_wait,
        })
        .actor(actor());
    if let Some(subscriber) = subscriber {
        builder = builder.subscriber(subscriber);
    }
    Ok(builder.build().await?)
}
