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
//!     rate_budgets:                      # named budgets the adapter declares
//!       users: {requests: 600, per_seconds: 60}
//!     concurrency: 4
//!     delete_leavers: false
//!     drift_remediation: report_only     # report_only | fix_missing | fix_all
//!     correlation:                       # tried in order, then the login
//!       - {key: employee_id, attribute: employee_id}
//!     credentials:
//!       api_token: {env: OKTA_API_TOKEN}  # or {file: /run/secrets/okta_token}
//!     settings:
//!       org_url: https://example.okta.com
//! dependencies:
//!   - {system: gitlab, depends_on: okta, on: account}
//! blast_radius: {max_share: 0.1, max_identities: 50, max_operations: 500}
//! roster:                                # read by provision-roster
//!   path: hr/workers.csv
//!   columns: {id: Employee ID, email: Work Email, display_name: Full Name}
//! evidence:                              # read by provision-evidence
//!   controls: {okta.mfa_enrollment: [SOC2-CC6.1]}
//!   stale_after: 6h
//! ```
//!
//! Secrets are never written in this file: a credential is `{env: VAR}` or `{file:
//! path}`, and a setting whose name reads like a secret is refused: a word of the name
//! is (or ends in) `token`, `secret`, `password`, `passwd`, `passphrase`, `apikey` or
//! `credential`, or two words are `private key`, `api key`, `access key`, `secret
//! key`, `signing key`, `client key`, `encryption key` or `master key`. `public_key`,
//! `key_id` or `org_url` are ordinary settings.
//!
//! A `blast_radius:` block sets the limits it writes and keeps the others' defaults:
//! without `max_share` the share limit stays at 10 % of the population (write
//! `max_share: 1.0` to lift it).
//!
//! A dependency's `kind:` must be a resource kind of its system: the
//! [`Engine`](crate::engine::Engine) checks it against the systems' descriptors at
//! build and in `validate`.
//!
//! Every problem is reported with file, line, column and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::SystemName;
use crate::yaml::{Diagnostic, Diagnostics};
use crate::yaml::{Fields, Node, Reader, parse_yaml};

use super::credentials::{read_credentials, read_settings};
use super::dependencies::read_dependencies;
use super::{
    BlastRadius, CorrelationRule, DeploymentConfig, DriftRemediation, Enforcement,
    ExternalOwnership, RateLimitConfig, SystemConfig,
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

const TOP_FIELDS: &[&str] = &[
    "systems",
    "dependencies",
    "blast_radius",
    "roster",
    "evidence",
    "governance",
];
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
    "rate_budgets",
    "correlation",
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
    for name in super::EXTENSION_SECTIONS {
        if let Some(node) = top.get(name) {
            let section = super::ExtensionSection::new(r.file(), node.clone());
            config.extensions.insert((*name).to_owned(), section);
        }
    }
    top.finish(r, TOP_FIELDS);
    config
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
    f.nonempty_text(r, key)
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
    if let Some(n) = f.get("rate_budgets") {
        let bpath = f.path_of("rate_budgets");
        if let Some(mut bf) = r.fields(n, &bpath) {
            for (budget, _, v) in bf.all() {
                if let Some(limit) = read_rate_limit(r, v, &bf.path_of(&budget)) {
                    system.rate_budgets.insert(budget, limit);
                }
            }
        }
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
    if let Some(list) = f.get("correlation") {
        let cpath = f.path_of("correlation");
        for (i, item) in r.items(list, &cpath).unwrap_or_default().iter().enumerate() {
            if let Some(rule) = read_correlation_rule(r, item, &format!("{cpath}[{i}]")) {
                system.correlation.push(rule);
            }
        }
    }
    f.finish(r, SYSTEM_FIELDS);
    adapter.map(|_| system)
}

/// One `correlation:` entry: `{key: employee_id, attribute: employee_id}`.
fn read_correlation_rule(r: &mut Reader, node: &Node, path: &str) -> Option<CorrelationRule> {
    let mut f = r.fields(node, path)?;
    let key = f
        .required(r, "key", "the correlation key on the system's accounts")
        .and_then(|n| r.nonempty_text(n, &format!("{path}.key")));
    let attribute = f
        .required(
            r,
            "attribute",
            "the roster attribute holding the same value",
        )
        .and_then(|n| r.nonempty_text(n, &format!("{path}.attribute")));
    f.finish(r, &["key", "attribute"]);
    Some(CorrelationRule {
        key: key?,
        attribute: attribute?,
    })
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

fn read_blast_radius(r: &mut Reader, node: &Node) -> Option<BlastRadius> {
    let path = "blast_radius";
    let mut f = r.fields(node, path)?;
    // A limit not written keeps its default: the share limit (10 %) stays unless
    // `max_share` is written (`max_share: 1.0` lifts it); the counts have no default.
    let mut b = BlastRadius::default();
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_settings(settings: &str) -> Result<DeploymentConfig, ConfigError> {
        parse_config(
            "provision.yaml",
            &format!("systems:\n  okta:\n    adapter: okta\n    settings: {settings}\n"),
        )
    }

    #[test]
    fn a_public_key_or_key_id_is_an_ordinary_setting() {
        let config = with_settings(
            "{public_key: 'ssh-ed25519 AAAA', key_id: kid-1, keyspace: ks, org_url: https://x.okta.com}",
        )
        .unwrap();
        let settings = &config.systems[&SystemName::new("okta")].settings;
        assert_eq!(settings["public_key"], "ssh-ed25519 AAAA");
        assert_eq!(settings["key_id"], "kid-1");
    }

    #[test]
    fn secret_looking_settings_are_refused_without_echoing_them() {
        for name in [
            "api_token",
            "clientSecret",
            "db_password",
            "private_key",
            "privateKey",
            "api_key",
            "apiKey",
            "aws_secret_access_key",
            "access_key",
            "credentials",
            "key",
        ] {
            let err = with_settings(&format!("{{{name}: hunter2-value}}")).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("setting `{name}` looks like a secret")),
                "{name}: {text}"
            );
            assert!(!text.contains("hunter2-value"), "{name}: {text}");
            assert_eq!(err.diagnostics()[0].location.line, 4, "{name}");
        }
    }

    #[test]
    fn a_blast_radius_block_without_max_share_keeps_the_default_share() {
        let config = parse_config(
            "provision.yaml",
            "systems:\n  okta: {adapter: okta}\nblast_radius: {max_identities: 5}\n",
        )
        .unwrap();
        assert_eq!(config.blast_radius.max_identities, Some(5));
        assert_eq!(
            config.blast_radius.max_share,
            BlastRadius::default().max_share
        );
        assert!(config.blast_radius.max_share.is_some());

        let lifted = parse_config(
            "provision.yaml",
            "systems:\n  okta: {adapter: okta}\nblast_radius: {max_share: 1.0}\n",
        )
        .unwrap();
        assert_eq!(lifted.blast_radius.max_share, Some(1.0));
    }
}
