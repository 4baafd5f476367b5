//! Loading the deployment configuration from YAML, and resolving credential references.
//!
//! ```yaml
//! systems:
//!   okta:
//!     adapter: okta                      # adapter type: okta, google, aws, sandbox, custom
//!     aliases: [okta-prod]
//!     enforcement: additive              # additive | authoritative | report
//!     kind_enforcement: {app: report}
//!     external_owners:
//!       - {engine: okta-group-rules, kind: group, resource_prefix: "rule-"}
//!     rate_limit: {requests: 600, per_seconds: 60, burst: 50}
//!     concurrency: 4
//!     delete_leavers: false
//!     drift_remediation: report_only     # report_only | fix_missing | fix_all
//!     credentials:
//!       api_token: {env: OKTA_API_TOKEN}  # or {file: /run/secrets/okta_token}
//!     settings:
//!       org_url: https://example.okta.com
//! dependencies:
//!   - {system: gitlab, depends_on: okta, on: account}
//! blast_radius: {max_share: 0.1, max_identities: 50, max_operations: 500}
//! roster:                                # see crate::roster::section
//!   path: hr/workers.csv
//!   columns: {id: Employee ID, email: Work Email, display_name: Full Name}
//! ```
//!
//! Secrets are never written in this file: a credential is `{env: VAR}` or `{file:
//! path}`, and a setting named like a token, secret, password or key is refused.
//! Every problem is reported with file, line, column and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::SystemName;
use crate::secret::SecretString;
use crate::yaml::{Diagnostic, Diagnostics};
use crate::yaml::{Fields, Node, Reader, Value, parse_yaml};

use super::{
    BlastRadius, CredentialRef, CrossSystemDependency, DependencyTarget, DeploymentConfig,
    DriftRemediation, Enforcement, ExternalOwnership, RateLimitConfig, SystemConfig,
};

/// Why a deployment configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is wrong: every problem, each with file:line:column and field.
    #[error("invalid deployment configuration: {0}")]
    Invalid(Diagnostics),
}

impl ConfigError {
    /// The problems, when the error is [`ConfigError::Invalid`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => &d.0,
            ConfigError::Io { .. } => &[],
        }
    }
}

/// Why a credential could not be read. Names the variable or path, never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The environment variable is not set.
    #[error("credential environment variable `{name}` is not set")]
    EnvMissing {
        /// The variable.
        name: String,
    },
    /// The environment variable does not hold valid UTF-8.
    #[error("credential environment variable `{name}` is not valid UTF-8")]
    EnvNotUnicode {
        /// The variable.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read credential file {}: {source}", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The variable or file is empty.
    #[error("credential {source_name} is empty")]
    Empty {
        /// `environment variable X` or `file P`.
        source_name: String,
    },
}

/// Reads a credential from its environment variable or file. A file's trailing
/// line break is removed. Errors name the variable or path, never the value.
pub fn resolve_credential(reference: &CredentialRef) -> Result<SecretString, CredentialError> {
    let (value, source_name) = match reference {
        CredentialRef::Env { env } => match std::env::var(env) {
            Ok(v) => (v, format!("environment variable `{env}`")),
            Err(std::env::VarError::NotPresent) => {
                return Err(CredentialError::EnvMissing { name: env.clone() });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CredentialError::EnvNotUnicode { name: env.clone() });
            }
        },
        CredentialRef::File { file } => match std::fs::read_to_string(file) {
            Ok(mut v) => {
                let trimmed = v.trim_end_matches(['\n', '\r']).len();
                v.truncate(trimmed);
                (v, format!("file {}", file.display()))
            }
            Err(source) => {
                return Err(CredentialError::File {
                    path: file.clone(),
                    source,
                });
            }
        },
    };
    if value.trim().is_empty() {
        return Err(CredentialError::Empty { source_name });
    }
    Ok(SecretString::from(value))
}

/// Loads the deployment configuration from a YAML file.
pub fn load_config(path: &Path) -> Result<DeploymentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_config(&path.display().to_string(), &text)
}

/// Parses and validates a deployment configuration held in memory; `file` names it
/// in diagnostics.
pub fn parse_config(file: &str, text: &str) -> Result<DeploymentConfig, ConfigError> {
    let _span = tracing::debug_span!("load_config", file).entered();
    let root = parse_yaml(file, text).map_err(|d| ConfigError::Invalid(Diagnostics(vec![d])))?;
    let mut r = Reader::new(file);
    let config = read_config(&mut r, &root);
    let mut diagnostics = r.into_diagnostics();
    if diagnostics.is_empty() {
        tracing::debug!(
            systems = config.systems.len(),
            "deployment configuration loaded"
        );
        Ok(config)
    } else {
        diagnostics.sort_by_key(|d| (d.location.line, d.location.column));
        Err(ConfigError::Invalid(Diagnostics(diagnostics)))
    }
}

const TOP_FIELDS: &[&str] = &["systems", "dependencies", "blast_radius", "roster"];
const SYSTEM_FIELDS: &[&str] = &[
    "adapter",
    "aliases",
    "enforcement",
    "kind_enforcement",
    "external_owners",
    "rate_limit",
    "concurrency",
    "delete_leavers",
    "drift_remediation",
    "credentials",
    "settings",
];
const ENFORCEMENTS: &str = "`additive`, `authoritative` or `report`";
const DRIFT_REMEDIATIONS: &str = "`report_only`, `fix_missing` or `fix_all`";

fn read_config(r: &mut Reader, root: &Node) -> DeploymentConfig {
    let mut config = DeploymentConfig::default();
    let Some(mut top) = r.fields(root, "") else {
        return config;
    };
    // Names and aliases seen so far -> (owning system, where written).
    let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
    if let Some(systems) = top.required(r, "systems", "a mapping of system name to its settings")
        && let Some(mut sf) = r.fields(systems, "systems")
    {
        let entries = sf.all();
        if entries.is_empty() {
            r.error(systems, "systems", "expected at least one system");
        }
        for (name, key, value) in &entries {
            let loc = key.location(r.file()).to_string();
            if let Some((owner, at)) = names.get(name) {
                r.error(
                    key,
                    &format!("systems.{name}"),
                    format!("system name `{name}` is already an alias of `{owner}` (at {at})"),
                );
            } else {
                names.insert(name.clone(), (name.clone(), loc));
            }
            if let Some(system) = read_system(r, name, value, &mut names) {
                config.systems.insert(SystemName::new(name.clone()), system);
            }
        }
    }
    if let Some(deps) = top.get("dependencies") {
        config.dependencies = read_dependencies(r, deps, &config);
    }
    if let Some(b) = top.get("blast_radius")
        && let Some(b) = read_blast_radius(r, b)
    {
        config.blast_radius = b;
    }
    read_roster(r, &mut top, &mut config);
    top.finish(r, TOP_FIELDS);
    config
}

/// The `roster:` section (see [`crate::roster::section`]): where the HR export is
/// and which column holds what.
fn read_roster(r: &mut Reader, top: &mut Fields<'_>, config: &mut DeploymentConfig) {
    if let Some(n) = top.get("roster") {
        config.roster = crate::roster::section::read_roster_section(r, n);
    }
}

fn enforcement(r: &mut Reader, node: &Node, field: &str) -> Option<Enforcement> {
    match r.text(node, field)?.as_str() {
        "additive" => Some(Enforcement::Additive),
        "authoritative" => Some(Enforcement::Authoritative),
        "report" => Some(Enforcement::Report),
        other => {
            r.error(
                node,
                field,
                format!("unknown enforcement `{other}`; expected {ENFORCEMENTS}"),
            );
            None
        }
    }
}

fn drift_remediation(r: &mut Reader, node: &Node, field: &str) -> Option<DriftRemediation> {
    match r.text(node, field)?.as_str() {
        "report_only" => Some(DriftRemediation::ReportOnly),
        "fix_missing" => Some(DriftRemediation::FixMissing),
        "fix_all" => Some(DriftRemediation::FixAll),
        other => {
            r.error(
                node,
                field,
                format!("unknown drift remediation `{other}`; expected {DRIFT_REMEDIATIONS}"),
            );
            None
        }
    }
}

fn opt_text(r: &mut Reader, f: &mut Fields<'_>, key: &str) -> Option<String> {
    let n = f.get(key)?;
    r.nonempty_text(n, &f.path_of(key))
}

fn read_system(
    r: &mut Reader,
    name: &str,
    node: &Node,
    names: &mut BTreeMap<String, (String, String)>,
) -> Option<SystemConfig> {
    let path = format!("systems.{name}");
    let mut f = r.fields(node, &path)?;
    let adapter = f
        .required(
            r,
            "adapter",
            "the adapter type, e.g. okta, google, aws, sandbox",
        )
        .and_then(|n| r.nonempty_text(n, &format!("{path}.adapter")));
    let mut system = SystemConfig::new(adapter.clone().unwrap_or_default());

    if let Some(list) = f.get("aliases") {
        let apath = f.path_of("aliases");
        for (i, item) in r.items(list, &apath).unwrap_or_default().iter().enumerate() {
            let field = format!("{apath}[{i}]");
            let Some(alias) = r.nonempty_text(item, &field) else {
                continue;
            };
            let here = item.location(r.file()).to_string();
            match names.get(&alias) {
                Some((owner, at)) if owner == &alias => r.error(
                    item,
                    &field,
                    format!("alias `{alias}` collides with the system `{owner}` (at {at})"),
                ),
                Some((owner, at)) => r.error(
                    item,
                    &field,
                    format!("alias `{alias}` is already an alias of `{owner}` (at {at})"),
                ),
                None => {
                    names.insert(alias.clone(), (name.to_owned(), here));
                    system.aliases.push(alias);
                }
            }
        }
    }
    if let Some(n) = f.get("enforcement")
        && let Some(e) = enforcement(r, n, &f.path_of("enforcement"))
    {
        system.enforcement = e;
    }
    if let Some(n) = f.get("kind_enforcement") {
        let kpath = f.path_of("kind_enforcement");
        if let Some(mut kf) = r.fields(n, &kpath) {
            for (kind, _, v) in kf.all() {
                if let Some(e) = enforcement(r, v, &kf.path_of(&kind)) {
                    system.kind_enforcement.insert(kind, e);
                }
            }
        }
    }
    if let Some(list) = f.get("external_owners") {
        let opath = f.path_of("external_owners");
        for (i, item) in r.items(list, &opath).unwrap_or_default().iter().enumerate() {
            if let Some(o) = read_owner(r, item, &format!("{opath}[{i}]")) {
                system.external_owners.push(o);
            }
        }
    }
    if let Some(n) = f.get("rate_limit") {
        system.rate_limit = read_rate_limit(r, n, &f.path_of("rate_limit"));
    }
    if let Some(n) = f.get("concurrency") {
        let field = f.path_of("concurrency");
        match r.unsigned(n, &field) {
            Some(0) => r.error(n, &field, "must be at least 1"),
            Some(c) => system.concurrency = usize::try_from(c).ok(),
            None => {}
        }
    }
    if let Some(n) = f.get("delete_leavers") {
        system.delete_leavers = r.boolean(n, &f.path_of("delete_leavers")).unwrap_or(false);
    }
    if let Some(n) = f.get("drift_remediation")
        && let Some(m) = drift_remediation(r, n, &f.path_of("drift_remediation"))
    {
        system.drift_remediation = m;
    }
    if let Some(n) = f.get("credentials") {
        system.credentials = read_credentials(r, n, &f.path_of("credentials"));
    }
    if let Some(n) = f.get("settings") {
        system.settings = read_settings(r, n, &f.path_of("settings"));
    }
    f.finish(r, SYSTEM_FIELDS);
    adapter.map(|_| system)
}

fn read_owner(r: &mut Reader, node: &Node, path: &str) -> Option<ExternalOwnership> {
    let mut f = r.fields(node, path)?;
    let engine = f
        .required(r, "engine", "the name of the engine that owns it")
        .and_then(|n| r.nonempty_text(n, &format!("{path}.engine")));
    let kind = opt_text(r, &mut f, "kind");
    let resource_prefix = opt_text(r, &mut f, "resource_prefix");
    f.finish(r, &["engine", "kind", "resource_prefix"]);
    Some(ExternalOwnership {
        engine: engine?,
        kind,
        resource_prefix,
    })
}

fn positive_u32(r: &mut Reader, node: &Node, field: &str) -> Option<u32> {
    let v = r.unsigned(node, field)?;
    match u32::try_from(v) {
        Ok(0) => {
            r.error(node, field, "must be at least 1");
            None
        }
        Ok(v) => Some(v),
        Err(_) => {
            r.error(node, field, "number too large");
            None
        }
    }
}

fn read_rate_limit(r: &mut Reader, node: &Node, path: &str) -> Option<RateLimitConfig> {
    let mut f = r.fields(node, path)?;
    let requests = f
        .required(r, "requests", "the number of requests allowed per period")
        .and_then(|n| positive_u32(r, n, &format!("{path}.requests")));
    let per_seconds = match f.get("per_seconds") {
        Some(n) => positive_u32(r, n, &f.path_of("per_seconds")),
        None => Some(1),
    };
    let burst = match f.get("burst") {
        Some(n) => Some(positive_u32(r, n, &f.path_of("burst"))?),
        None => None,
    };
    f.finish(r, &["requests", "per_seconds", "burst"]);
    Some(RateLimitConfig {
        requests: requests?,
        per_seconds: per_seconds?,
        burst,
    })
}

/// True for a name that reads like it holds a secret (`api_token`, `clientSecret`,
/// `private-key`, `password`).
fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| {
            [
                "token",
                "secret",
                "password",
                "passwd",
                "key",
                "apikey",
                "credential",
                "credentials",
            ]
            .contains(&part)
                || part.ends_with("token")
                || part.ends_with("secret")
                || part.ends_with("password")
                || part.ends_with("key")
        })
}

const USE_A_REFERENCE: &str =
    "write `{env: VARIABLE_NAME}` or `{file: /path/to/secret}` under `credentials:` instead";

fn read_credentials(r: &mut Reader, node: &Node, path: &str) -> BTreeMap<String, CredentialRef> {
    let mut out = BTreeMap::new();
    let Some(mut f) = r.fields(node, path) else {
        return out;
    };
    for (name, _, value) in f.all() {
        let field = f.path_of(&name);
        match &value.value {
            Value::Map(_) => {
                let Some(mut cf) = r.fields(value, &field) else {
                    continue;
                };
                let env = cf.get("env");
                let file = cf.get("file");
                let reference = match (env, file) {
                    (Some(e), None) => r
                        .nonempty_text(e, &format!("{field}.env"))
                        .map(|env| CredentialRef::Env { env }),
                    (None, Some(p)) => r
                        .nonempty_text(p, &format!("{field}.file"))
                        .map(|p| CredentialRef::File { file: PathBuf::from(p) }),
                    _ => {
                        r.error(
                            value,
                            &field,
                            "expected exactly one of `env` (an environment variable's name) or `file` (a path)",
                        );
                        None
                    }
                };
                cf.finish(r, &["env", "file"]);
                if let Some(reference) = reference {
                    out.insert(name, reference);
                }
            }
            // Never echo the value: it may be the secret itself.
            _ => r.error(
                value,
                &field,
                format!(
                    "credential `{name}` is written inline ({}); secrets are never written in the configuration: {USE_A_REFERENCE}",
                    value.value.describe()
                ),
            ),
        }
    }
    out
}

fn read_settings(r: &mut Reader, node: &Node, path: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(mut f) = r.fields(node, path) else {
        return out;
    };
    for (name, _, value) in f.all() {
        let field = f.path_of(&name);
        if looks_secret(&name) {
            r.error(
                value,
                &field,
                format!(
                    "setting `{name}` looks like a secret and holds a literal value; secrets are never written in the configuration: {USE_A_REFERENCE}"
                ),
            );
            continue;
        }
        if let Some(v) = r.text(value, &field) {
            out.insert(name, v);
        }
    }
    out
}

fn read_dependencies(
    r: &mut Reader,
    node: &Node,
    config: &DeploymentConfig,
) -> Vec<CrossSystemDependency> {
    let mut out = Vec::new();
    let Some(items) = r.items(node, "dependencies") else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("dependencies[{i}]");
        let Some(mut f) = r.fields(item, &path) else {
            continue;
        };
        let system_field = |r: &mut Reader, f: &mut Fields<'_>, key: &str| {
            let n = f.required(r, key, "a configured system name or alias")?;
            let field = f.path_of(key);
            let name = r.nonempty_text(n, &field)?;
            match config.resolve_system(&name) {
                Some(s) => Some(s.clone()),
                None => {
                    let known: Vec<&str> = config.systems.keys().map(SystemName::as_str).collect();
                    r.error(
                        n,
                        &field,
                        format!(
                            "unknown system `{name}`; expected one of the configured systems: {}",
                            known.join(", ")
                        ),
                    );
                    None
                }
            }
        };
        let system = system_field(r, &mut f, "system");
        let depends_on = system_field(r, &mut f, "depends_on");
        let kind = opt_text(r, &mut f, "kind");
        let on = match f.get("on") {
            None => Some(DependencyTarget::Account),
            Some(n) => {
                match r.text(n, &f.path_of("on")).as_deref() {
                    Some("account") => Some(DependencyTarget::Account),
                    Some("grants") => Some(DependencyTarget::Grants),
                    Some(other) => {
                        r.error(
                        n,
                        &f.path_of("on"),
                        format!("unknown dependency target `{other}`; expected `account` or `grants`"),
                    );
                        None
                    }
                    None => None,
                }
            }
        };
        if let (Some(s), Some(d)) = (&system, &depends_on)
            && s == d
        {
            r.error(item, &path, format!("system `{s}` cannot depend on itself"));
        }
        f.finish(r, &["system", "kind", "depends_on", "on"]);
        if let (Some(system), Some(depends_on), Some(on)) = (system, depends_on, on) {
            out.push(CrossSystemDependency {
                system,
                kind,
                depends_on,
                on,
            });
        }
    }
    out
}

fn read_blast_radius(r: &mut Reader, node: &Node) -> Option<BlastRadius> {
    let path = "blast_radius";
    let mut f = r.fields(node, path)?;
    // Only what is written applies (an empty `blast_radius: {}` disables the guard).
    let mut b = BlastRadius {
        max_identities: None,
        max_share: None,
        max_operations: None,
    };
    let mut ok = true;
    if let Some(n) = f.get("max_share") {
        let field = f.path_of("max_share");
        match r.number(n, &field) {
            Some(s) if (0.0..=1.0).contains(&s) => b.max_share = Some(s),
            Some(s) => {
                ok = false;
                r.error(
                    n,
                    &field,
                    format!("share {s} is outside 0..=1; expected a fraction of the population such as 0.1 for 10%"),
                );
            }
            None => ok = false,
        }
    }
    for key in ["max_identities", "max_operations"] {
        if let Some(n) = f.get(key) {
            match r
                .unsigned(n, &f.path_of(key))
                .and_then(|v| usize::try_from(v).ok())
            {
                Some(v) if key == "max_identities" => b.max_identities = Some(v),
                Some(v) => b.max_operations = Some(v),
                None => ok = false,
            }
        }
    }
    f.finish(r, &["max_share", "max_identities", "max_operations"]);
    ok.then_some(b)
}
