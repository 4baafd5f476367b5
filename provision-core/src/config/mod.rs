//! The deployment configuration: systems, aliases, enforcement, ownership,
//! cross-system dependencies, rate limits and the blast-radius guard.
//!
//! These are the plain data types the planner, orderer and executor read.
//! Loading them from YAML, with errors that name file, line and field, lives in
//! `crate::config::load` (the config helper).

mod credentials;
mod dependencies;
mod extension;
mod load;

pub use credentials::{CredentialError, resolve_credential};
pub use extension::{EXTENSION_SECTIONS, ExtensionSection};
pub use load::{ConfigError, load_config, parse_config};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::SystemName;

/// How far the SDK's word is law in a system (or for one resource kind of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Enforcement {
    /// Grant what policies give; never revoke what no policy granted (manual grants stay).
    #[default]
    Additive,
    /// Also revoke what no policy gives (manual grants are removed).
    Authoritative,
    /// Change nothing; only report.
    Report,
}

/// What a drift run may fix by itself in a system (see `crate::drift`). Whatever the
/// mode, findings are always reported; foreign-owned and pending findings are never
/// fixed, and nothing is changed where [`Enforcement::Report`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftRemediation {
    /// Report drift; fix nothing.
    #[default]
    ReportOnly,
    /// Fix what is missing: grants policies give and the system lacks, and missing
    /// or disabled accounts of active identities. Never revokes or suspends.
    FixMissing,
    /// Also take away what should not be there: revoke unmanaged grants where the
    /// kind's enforcement is [`Enforcement::Authoritative`], and suspend the enabled
    /// accounts of terminated identities (revoking their sessions first).
    FixAll,
}

/// Who manages (part of) a system when it is not this SDK: an IGA, the IdP's own rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalOwnership {
    /// The engine that owns it (`sailpoint`, `okta-group-rules`).
    pub engine: String,
    /// The resource kind it owns; `None` for every kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Resources whose name starts with this prefix; `None` for every resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_prefix: Option<String>,
}

impl ExternalOwnership {
    /// True when this rule covers the given kind and resource.
    pub fn covers(&self, kind: &str, resource: &str) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self
                .resource_prefix
                .as_deref()
                .is_none_or(|p| resource.starts_with(p))
    }
}

/// Where a credential comes from. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CredentialRef {
    /// An environment variable's name.
    Env {
        /// The variable.
        env: String,
    },
    /// A file's path.
    File {
        /// The path.
        file: PathBuf,
    },
}

/// A system's published rate limit, for the executor's GCRA limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period, in seconds.
    #[serde(default = "one")]
    pub per_seconds: u32,
    /// Burst size; defaults to `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

fn one() -> u32 {
    1
}

/// What must exist in another system before work in this one may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DependencyTarget {
    /// The identity's account in the other system.
    #[default]
    Account,
    /// Every grant of the identity in the other system (e.g. AWS access comes through Okta groups).
    Grants,
}

/// A cross-system dependency: for each identity, `system`'s operations (optionally of
/// one kind) wait for `depends_on`'s account or grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossSystemDependency {
    /// The dependent system.
    pub system: SystemName,
    /// Only this resource kind's operations depend (`None`: the account and every grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The system depended on.
    pub depends_on: SystemName,
    /// What in it.
    #[serde(default)]
    pub on: DependencyTarget,
}

/// One configured system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemConfig {
    /// Adapter type (`okta`, `google`, `aws`, `sandbox`, a custom name).
    pub adapter: String,
    /// Other names policies may use for this system (`aws-sso`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Enforcement for the whole system.
    #[serde(default)]
    pub enforcement: Enforcement,
    /// Per resource kind overrides of `enforcement`.
    #[serde(default)]
    pub kind_enforcement: BTreeMap<String, Enforcement>,
    /// Parts owned by another engine: never changed, and policies may not target them.
    #[serde(default)]
    pub external_owners: Vec<ExternalOwnership>,
    /// The published rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    /// Concurrent requests to this system; default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Delete a leaver's account after suspending it (only where the system can delete).
    #[serde(default)]
    pub delete_leavers: bool,
    /// Credentials by name, each an environment variable or a file.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialRef>,
    /// Adapter-specific settings (org URL, instance ARN, customer id).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// What a drift run may fix by itself here; default: report only.
    #[serde(default)]
    pub drift_remediation: DriftRemediation,
    /// How accounts are matched to people, tried in order: each maps a roster
    /// attribute onto a correlation key the system's accounts carry
    /// ([`crate::adapter::SystemDescriptor::correlation_keys`]). Empty: by login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlation: Vec<CorrelationRule>,
    /// Limits for the system's named rate budgets
    /// ([`crate::adapter::SystemDescriptor::rate_budgets`]), overriding the vendor's
    /// documented ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_budgets: BTreeMap<String, RateLimitConfig>,
}

/// One way to match a system's accounts to people: the roster attribute whose value
/// equals the account's correlation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationRule {
    /// The key on the account (`employee_id`, `account_id`, `email`, `login`).
    pub key: String,
    /// The roster attribute holding the same value (`employee_id`, `jira_account_id`).
    pub attribute: String,
}

impl SystemConfig {
    /// A system of the given adapter type with defaults everywhere.
    pub fn new(adapter: impl Into<String>) -> Self {
        Self {
            adapter: adapter.into(),
            aliases: Vec::new(),
            enforcement: Enforcement::Additive,
            kind_enforcement: BTreeMap::new(),
            external_owners: Vec::new(),
            rate_limit: None,
            concurrency: None,
            delete_leavers: false,
            credentials: BTreeMap::new(),
            settings: BTreeMap::new(),
            drift_remediation: DriftRemediation::ReportOnly,
            correlation: Vec::new(),
            rate_budgets: BTreeMap::new(),
        }
    }

    /// The enforcement that applies to one resource kind.
    pub fn enforcement_for(&self, kind: &str) -> Enforcement {
        self.kind_enforcement
            .get(kind)
            .copied()
            .unwrap_or(self.enforcement)
    }

    /// The external engine that owns this resource, if any.
    pub fn owner_of(&self, kind: &str, resource: &str) -> Option<&str> {
        self.external_owners
            .iter()
            .find(|o| o.covers(kind, resource))
            .map(|o| o.engine.as_str())
    }
}

/// The blast-radius guard: a plan removing more than this is refused until confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    /// Most identities a plan may suspend, delete or revoke from, without confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_identities: Option<usize>,
    /// Most share (0.0–1.0) of the population a plan may remove access from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_share: Option<f64>,
    /// Most removal operations (revoke, suspend, delete, revoke sessions) per plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_operations: Option<usize>,
}

impl Default for BlastRadius {
    fn default() -> Self {
        Self {
            max_identities: None,
            max_share: Some(0.10),
            max_operations: None,
        }
    }
}

/// The whole deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DeploymentConfig {
    /// Systems by canonical name.
    pub systems: BTreeMap<SystemName, SystemConfig>,
    /// Cross-system dependencies.
    #[serde(default)]
    pub dependencies: Vec<CrossSystemDependency>,
    /// The blast-radius guard.
    #[serde(default)]
    pub blast_radius: BlastRadius,
    /// The extension sections written in the file ([`EXTENSION_SECTIONS`]), by name,
    /// for the crates that read them.
    #[serde(skip)]
    pub extensions: BTreeMap<String, ExtensionSection>,
}

impl DeploymentConfig {
    /// The extension section `name` (`roster`, `evidence`, `governance`), when the
    /// file has one.
    pub fn extension(&self, name: &str) -> Option<&ExtensionSection> {
        self.extensions.get(name)
    }

    /// Resolves a system name or alias to the canonical name.
    pub fn resolve_system(&self, name: &str) -> Option<&SystemName> {
        self.systems
            .iter()
            .find(|(canonical, cfg)| {
                canonical.as_str() == name || cfg.aliases.iter().any(|a| a == name)
            })
            .map(|(canonical, _)| canonical)
    }
}
