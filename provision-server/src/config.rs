//! The service's configuration (`provision-server.yaml`): where it listens, the
//! deployment, policies and base roster it serves, its store, the HR sources allowed
//! to post events (each with its signature header and secret), and its cadences.
//!
//! ```yaml
//! listen: 127.0.0.1:8080
//! deployment: provision.yaml
//! policies: policies
//! roster: roster.yaml
//! store: {sqlite: provision.db}
//! sources:
//!   - name: workday
//!     signature_header: X-Workday-Signature
//!     secret: {env: WORKDAY_WEBHOOK_SECRET}
//! reconcile: {every_seconds: 3600}
//! evidence: {every_minutes: 60}
//! siem:
//!   sinks:
//!     - jsonl: {name: audit-file, file: audit.jsonl}
//!     - syslog: {name: soc, tcp: "siem.internal:6514"}
//!     - http: {name: hec, url: "https://siem.example/ingest", token: {env: SIEM_TOKEN}}
//! governance:
//!   approvers:
//!     - {system: aws, approver: {owner: cloud-lead}}
//! ```
//!
//! Relative paths are taken from the configuration file's folder. Secrets are never
//! written here, only referenced (an environment variable or a file).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_core::config::CredentialRef;
use provision_core::config::resolve_credential;
use provision_core::secret::SecretString;
use provision_core::yaml::{Diagnostics, Reader, parse_yaml};

mod auth;
mod read;

/// What can be wrong with the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a configuration: every problem, each with file:line:column and
    /// field (a YAML syntax error, an unknown field or section, a wrong value).
    #[error("{0}")]
    Problems(Diagnostics),
    /// A value is wrong (a secret that cannot be resolved).
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The field (`sources[0].secret`).
        field: String,
        /// Why.
        message: String,
    },
}

/// Where the service keeps its journal, audit log, inbox and schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A SQLite file (one instance).
    Sqlite(PathBuf),
    /// A PostgreSQL database (several instances), its URL in an environment variable
    /// or a file (it may carry the password). Needs the `postgres` feature.
    Postgres {
        /// The service's connection: with `owner` given, a role that owns nothing
        /// (the README's grants), so it can neither cut the audit log nor drop its
        /// triggers.
        url: CredentialRef,
        /// The schema owner's connection (`store.owner`): the migrations run as it at
        /// start, then it is closed. Without it the service's own connection migrates.
        owner: Option<CredentialRef>,
    },
}

/// An HR source allowed to post events to `/webhooks/{name}`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Its name, as in the URL.
    pub name: String,
    /// The header carrying `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
    pub signature_header: String,
    /// The header carrying the Unix time (seconds) the sender signed at.
    pub timestamp_header: String,
    /// Where the shared secret is.
    pub secret: CredentialRef,
}

fn default_signature_header() -> String {
    "X-Provision-Signature".to_owned()
}

fn default_timestamp_header() -> String {
    "X-Provision-Timestamp".to_owned()
}

/// Webhook intake limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The largest body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// How far a signed timestamp may be from now, in seconds (further: 401 stale).
    pub timestamp_tolerance_seconds: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            timestamp_tolerance_seconds: 300,
        }
    }
}

/// What one client may hold of the service: connections and how long they may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once, per listener; the next waits in the kernel's
    /// backlog until one closes (default 512).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// kept-alive connection stays open, in seconds (default 10).
    pub header_read_timeout_seconds: u64,
    /// How long a client may take to send a request's body, in seconds (default 30).
    pub body_read_timeout_seconds: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
        }
    }
}

/// How the worker takes events from the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Events planned and applied together at most (one read of every system).
    pub batch: i64,
    /// How long a taken event or job is held before another worker may take it.
    pub lease_seconds: u64,
    /// How often the inbox and the schedule are looked at when idle, in ms.
    pub poll_millis: u64,
    /// How long a run keeps re-checking a pending operation before handing it to the
    /// schedule (which re-checks it every `pending_recheck_seconds`, across restarts).
    pub pending_wait_seconds: u64,
    /// How often pending operations are re-checked from the schedule.
    pub pending_recheck_seconds: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            lease_seconds: 120,
            poll_millis: 200,
            pending_wait_seconds: 5,
            pending_recheck_seconds: 60,
        }
    }
}

/// The full reconcile and drift run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconcileConfig {
    /// Every how many seconds; none: never.
    pub every_seconds: Option<u64>,
}

/// Evidence collection on a cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvidenceJobConfig {
    /// Every how many minutes evidence is collected and recorded (and control
    /// coverage exported as metrics); none: never.
    pub every_minutes: Option<u64>,
}

/// One SIEM sink the audit log streams to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiemSinkConfig {
    /// JSON lines, one record a line: appended to `file`, or to stdout without one.
    Jsonl {
        /// The sink's name (it keys its delivery cursor).
        name: String,
        /// The file (relative to the configuration's folder); stdout when left out.
        file: Option<PathBuf>,
    },
    /// RFC 5424 syslog over TCP.
    Syslog {
        /// The sink's name.
        name: String,
        /// `host:port`.
        tcp: String,
    },
    /// JSON batches POSTed to a URL; a 2xx acknowledges a batch.
    Http {
        /// The sink's name.
        name: String,
        /// The URL.
        url: String,
        /// Where the bearer token is (an environment variable or a file), if any.
        token: Option<CredentialRef>,
    },
}

impl SiemSinkConfig {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Jsonl { name, .. } | Self::Syslog { name, .. } | Self::Http { name, .. } => name,
        }
    }
}

/// Audit records streamed to SIEM sinks as they are written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiemConfig {
    /// The sinks (each with its own durable cursor in the store).
    pub sinks: Vec<SiemSinkConfig>,
    /// Records per batch (default 500).
    pub batch_size: Option<usize>,
}

/// Logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogConfig {
    /// JSON lines instead of text.
    pub json: bool,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:8080`): every route, or, with
    /// [`ServerConfig::public_listen`], every route but the webhooks.
    pub listen: SocketAddr,
    /// The public listener: `POST /webhooks/{source}` and `GET /healthz` only, for HR
    /// systems calling from outside; `listen` then serves the rest (requests,
    /// approvals, findings, metrics) on the internal network. Required when `listen` is
    /// not a loopback address, unless `one_port: true` says that both go on one port.
    pub public_listen: Option<SocketAddr>,
    /// Webhooks and the internal routes on one non-loopback port, knowingly.
    pub one_port: bool,
    /// Connection limits and timeouts.
    pub http: HttpLimits,
    /// The deployment (`provision.yaml`).
    pub deployment: PathBuf,
    /// The policies (a file or folder).
    pub policies: PathBuf,
    /// The roster the service starts from (HR events change it from there).
    pub roster: Option<PathBuf>,
    /// The store.
    pub store: StoreConfig,
    /// This instance's name in leases (default: host and process id).
    pub instance: Option<String>,
    /// Who acts, in the audit log.
    pub actor: String,
    /// The HR sources.
    pub sources: Vec<SourceConfig>,
    /// Webhook limits.
    pub webhook: WebhookConfig,
    /// The worker.
    pub worker: WorkerConfig,
    /// The reconcile cadence.
    pub reconcile: ReconcileConfig,
    /// The evidence cadence.
    pub evidence: EvidenceJobConfig,
    /// SIEM streaming.
    pub siem: SiemConfig,
    /// Who approves access requests (`POST /requests`); by default a person's manager.
    pub governance: Option<provision_governance::GovernanceConfig>,
    /// Logging.
    pub log: LogConfig,
    /// How callers authenticate ([`crate::auth`]); required to listen on anything but
    /// a loopback address.
    pub auth: crate::auth::AuthConfig,
}

fn default_actor() -> String {
    "provision-server".to_owned()
}

impl ServerConfig {
    /// Reads `path`; relative paths in it are made relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut config = Self::parse(&shown, &text)?;
        if let Some(dir) = path.parent() {
            config.rebase(dir);
        }
        Ok(config)
    }

    /// Parses YAML text (`file` names it in errors) with the core's YAML reader and
    /// checks it: every problem is reported at once, each with file:line:column and
    /// field; unknown fields and sections are refused.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let root =
            parse_yaml(file, text).map_err(|d| ConfigError::Problems(Diagnostics(vec![d])))?;
        let mut r = Reader::new(file);
        let config = read::server(&mut r, &root);
        let mut diagnostics = r.into_diagnostics();
        match config {
            Some(config) if diagnostics.is_empty() => Ok(config),
            _ => {
                diagnostics.sort_by_key(|d| (d.location.line, d.location.column));
                Err(ConfigError::Problems(Diagnostics(diagnostics)))
            }
        }
    }

    fn rebase(&mut self, dir: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        at(&mut self.deployment);
        at(&mut self.policies);
        if let Some(r) = self.roster.as_mut() {
            at(r);
        }
        if let StoreConfig::Sqlite(p) = &mut self.store {
            at(p);
        }
        for source in &mut self.sources {
            if let CredentialRef::File { file } = &mut source.secret {
                at(file);
            }
        }
        for sink in &mut self.siem.sinks {
            match sink {
                SiemSinkConfig::Jsonl { file: Some(f), .. } => at(f),
                SiemSinkConfig::Http {
                    token: Some(CredentialRef::File { file }),
                    ..
                } => at(file),
                _ => {}
            }
        }
        if let Some(proxy) = &mut self.auth.proxy
            && let CredentialRef::File { file } = &mut proxy.secret
        {
            at(file);
        }
    }

    /// Resolves every source's secret (the variable or file must exist).
    pub fn source_secrets(&self) -> Result<Vec<(SourceConfig, SecretString)>, ConfigError> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let secret =
                    resolve_credential(&source.secret).map_err(|e| ConfigError::Invalid {
                        path: "server configuration".to_owned(),
                        field: format!("sources[{i}].secret"),
                        message: e.to_string(),
                    })?;
                Ok((source.clone(), secret))
            })
            .collect()
    }

    /// The lease on taken events and jobs.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.worker.lease_seconds.max(1))
    }

    /// This instance's name.
    pub fn instance_name(&self) -> String {
        self.instance.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_store_may_name_the_owner_that_migrates_it() {
        let text = "listen: 127.0.0.1:0\ndeployment: d.yaml\npolicies: p\n\
                    store: {postgres: {env: SERVICE_URL}, owner: {env: OWNER_URL}}\n";
        let config = ServerConfig::parse("c.yaml", text).unwrap();
        match config.store {
            StoreConfig::Postgres { url, owner } => {
                assert_eq!(
                    url,
                    CredentialRef::Env {
                        env: "SERVICE_URL".into()
                    }
                );
                assert_eq!(
                    owner,
                    Some(CredentialRef::Env {
                        env: "OWNER_URL".into()
                    })
                );
            }
            other => panic!("{other:?}"),
        }
        let plain = "owner: postgres://owner:pw@db/provision";
        let bad = text.replace("owner: {env: OWNER_URL}", plain);
        let err = ServerConfig::parse("c.yaml", &bad).unwrap_err().to_string();
        assert!(err.contains("store.owner") && !err.contains("pw@"), "{err}");
    }

    #[test]
    fn a_sample_parses_and_a_bad_source_name_is_named() {
        let text = "listen: 127.0.0.1:0\ndeployment: d.yaml\npolicies: p\nstore: {sqlite: s.db}\n\
                    sources:\n  - {name: workday, secret: {env: X}}\n";
        let config = ServerConfig::parse("c.yaml", text).unwrap();
        assert_eq!(config.sources[0].signature_header, "X-Provision-Signature");
        assert_eq!(config.webhook.max_body_bytes, 65536);
        let bad = text.replace("workday", "work day");
        let err = ServerConfig::parse("c.yaml", &bad).unwrap_err().to_string();
        assert!(err.contains("sources[0].name"), "{err}");
        let unknown = format!("{text}colour: blue\n");
        let err = ServerConfig::parse("c.yaml", &unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn siem_sinks_evidence_and_governance_parse_and_mistakes_are_named() {
        let base = "listen: 127.0.0.1:0\ndeployment: d.yaml\npolicies: p\nstore: {sqlite: s.db}\n";
        let text = format!(
            "{base}evidence: {{every_minutes: 30}}\nsiem:\n  sinks:\n\
             \x20   - jsonl: {{name: file, file: audit.jsonl}}\n\
             \x20   - jsonl: {{name: console}}\n\
             \x20   - syslog: {{name: soc, tcp: \"siem.internal:6514\"}}\n\
             \x20   - http: {{name: hec, url: \"https://siem.example/in\", token: {{env: SIEM_TOKEN}}}}\n\
             governance:\n  default_approver: {{owner: sec-lead}}\n  approvers:\n\
             \x20   - {{system: slack, kind: channel, approver: auto}}\n"
        );
        let config = ServerConfig::parse("c.yaml", &text).unwrap();
        assert_eq!(config.evidence.every_minutes, Some(30));
        assert_eq!(config.siem.sinks.len(), 4);
        assert_eq!(
            config.siem.sinks[3],
            SiemSinkConfig::Http {
                name: "hec".into(),
                url: "https://siem.example/in".into(),
                token: Some(CredentialRef::Env {
                    env: "SIEM_TOKEN".into()
                }),
            }
        );
        let governance = config.governance.unwrap();
        assert_eq!(
            governance.default_approver,
            provision_governance::ApproverSource::Owner("sec-lead".into())
        );

        let twice = text.replace("name: console", "name: file");
        let err = ServerConfig::parse("c.yaml", &twice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("siem.sinks[1].name"), "{err}");
        let no_port = text.replace("siem.internal:6514", "siem.internal");
        let err = ServerConfig::parse("c.yaml", &no_port)
            .unwrap_err()
            .to_string();
        assert!(err.contains("siem.sinks[2].syslog.tcp"), "{err}");
        let zero = text.replace("every_minutes: 30", "every_minutes: 0");
        let err = ServerConfig::parse("c.yaml", &zero)
            .unwrap_err()
            .to_string();
        assert!(err.contains("evidence.every_minutes"), "{err}");
        let unknown = text.replace("- jsonl: {name: console}", "- kafka: {name: console}");
        let err = ServerConfig::parse("c.yaml", &unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka"), "{err}");
    }

    #[test]
    fn every_problem_names_file_line_column_and_field_at_once() {
        let base = "listen: 127.0.0.1:0\ndeployment: d.yaml\npolicies: p\nstore: {sqlite: s.db}\n";
        let text = format!(
            "{base}worker: {{batch: 0}}\nreconcile: {{every_seconds: 0}}\ncolour: blue\n\
             sources:\n  - {{name: w, secret: hunter2}}\n"
        );
        let err = ServerConfig::parse("c.yaml", &text)
            .unwrap_err()
            .to_string();
        for needle in [
            "c.yaml:5:17: worker.batch: must be at least 1",
            "c.yaml:6:28: reconcile.every_seconds: must be more than 0",
            "c.yaml:7:1: colour: unknown field `colour`",
            "c.yaml:9:23: sources[0].secret: expected `{env: VARIABLE_NAME}`",
        ] {
            assert!(err.contains(needle), "{needle} missing from\n{err}");
        }
        assert!(!err.contains("hunter2"), "a secret is never echoed: {err}");

        let err = ServerConfig::parse("c.yaml", "listen: [\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.yaml:"), "{err}");
        let err = ServerConfig::parse("c.yaml", "listen: nowhere\n")
            .unwrap_err()
            .to_string();
        for needle in [
            "c.yaml:1:9: listen: `nowhere` is not an address",
            "c.yaml:1:1: deployment: missing required field",
            "c.yaml:1:1: store: missing required field",
        ] {
            assert!(err.contains(needle), "{needle} missing from\n{err}");
        }
        let err = ServerConfig::parse("c.yaml", &format!("{base}governance: {{approvers: 3}}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.yaml:5:13: governance:"), "{err}");
    }

    #[test]
    fn the_sample_configuration_parses() {
        let config = ServerConfig::parse(
            "provision-server.yaml",
            include_str!("../provision-server.yaml"),
        )
        .unwrap();
        assert_eq!(config.evidence.every_minutes, Some(60));
        assert_eq!(config.siem.sinks[0].name(), "audit-file");
        assert!(config.governance.is_some());
    }
}
