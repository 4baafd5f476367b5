//! The configuration read from the YAML tree with the core's [`Reader`]: each
//! problem recorded where it was written, reading goes on to find the others.
//!
//! `governance:` belongs to the governance crate and is deserialized with serde from
//! its node (its problems are placed at the section).

use std::net::SocketAddr;
use std::path::PathBuf;

use provision_core::config::CredentialRef;
use provision_core::yaml::{Fields, Node, Reader, Value};

use super::{
    EvidenceJobConfig, HttpLimits, LogConfig, ReconcileConfig, ServerConfig, SiemConfig,
    SiemSinkConfig, SourceConfig, StoreConfig, WebhookConfig, WorkerConfig, default_actor,
    default_signature_header, default_timestamp_header,
};

const TOP: &[&str] = &[
    "listen",
    "public_listen",
    "one_port",
    "http",
    "deployment",
    "policies",
    "roster",
    "store",
    "instance",
    "actor",
    "sources",
    "webhook",
    "worker",
    "reconcile",
    "evidence",
    "siem",
    "governance",
    "log",
    "auth",
];

/// The value of `key`, when written and not null.
pub(super) fn given<'a>(f: &mut Fields<'a>, key: &str) -> Option<&'a Node> {
    f.get(key).filter(|n| n.value != Value::Null)
}

/// The fields of an optional section (absent or null: none to read).
fn section<'a>(r: &mut Reader, top: &mut Fields<'a>, key: &str) -> Option<Fields<'a>> {
    let node = given(top, key)?;
    r.fields(node, key)
}

fn path(r: &mut Reader, node: &Node, field: &str) -> Option<PathBuf> {
    r.nonempty_text(node, field).map(PathBuf::from)
}

/// `key`'s whole number, or `default` when it is not written.
fn count(r: &mut Reader, f: &mut Fields<'_>, key: &str, default: u64) -> u64 {
    let field = f.path_of(key);
    given(f, key)
        .and_then(|n| r.unsigned(n, &field))
        .unwrap_or(default)
}

/// `key`'s whole number, which must be above 0 when written (`none` says what
/// leaving it out means).
fn every(r: &mut Reader, f: &mut Fields<'_>, key: &str, none: &str) -> Option<u64> {
    let field = f.path_of(key);
    let node = given(f, key)?;
    let n = r.unsigned(node, &field)?;
    if n == 0 {
        r.error(node, &field, format!("must be more than 0 ({none})"));
        return None;
    }
    Some(n)
}

/// `{env: VARIABLE}` or `{file: PATH}`; never echoes a plain value (it may be a secret).
pub(super) fn credential(r: &mut Reader, node: &Node, field: &str) -> Option<CredentialRef> {
    if !matches!(node.value, Value::Map(_)) {
        r.error(
            node,
            field,
            "expected `{env: VARIABLE_NAME}` or `{file: /path/to/secret}` (never the secret itself)",
        );
        return None;
    }
    let mut f = r.fields(node, field)?;
    let reference = match (f.get("env"), f.get("file")) {
        (Some(env), None) => r
            .nonempty_text(env, &f.path_of("env"))
            .map(|env| CredentialRef::Env { env }),
        (None, Some(file)) => {
            path(r, file, &f.path_of("file")).map(|file| CredentialRef::File { file })
        }
        _ => {
            r.error(
                node,
                field,
                "expected exactly one of `env` (an environment variable's name) or `file` (a path)",
            );
            None
        }
    };
    f.finish(r, &["env", "file"]);
    reference
}

/// The whole configuration; `None` when a required part is missing or wrong (the
/// problems are in `r`).
pub(super) fn server(r: &mut Reader, root: &Node) -> Option<ServerConfig> {
    let mut top = r.fields(root, "")?;
    let top_listen = top.required(r, "listen", "an address such as 127.0.0.1:8080");
    let listen = top_listen.and_then(|n| address(r, n, "listen"));
    let public_node = given(&mut top, "public_listen");
    let public_listen = public_node.and_then(|n| address(r, n, "public_listen"));
    let one_port = given(&mut top, "one_port")
        .and_then(|n| r.boolean(n, "one_port"))
        .unwrap_or(false);
    let http = section(r, &mut top, "http").map_or_else(HttpLimits::default, |f| http(r, f));
    let deployment = top
        .required(r, "deployment", "the deployment file's path")
        .and_then(|n| path(r, n, "deployment"));
    let policies = top
        .required(r, "policies", "the policies' file or folder")
        .and_then(|n| path(r, n, "policies"));
    let roster = given(&mut top, "roster").and_then(|n| path(r, n, "roster"));
    let store = top
        .required(
            r,
            "store",
            "`{sqlite: FILE}` or `{postgres: {env: VARIABLE}}`",
        )
        .and_then(|n| store(r, n));
    let instance = given(&mut top, "instance").and_then(|n| r.nonempty_text(n, "instance"));
    let actor = match given(&mut top, "actor") {
        Some(n) => r.nonempty_text(n, "actor"),
        None => Some(default_actor()),
    };
    let sources = given(&mut top, "sources")
        .map(|n| sources(r, n))
        .unwrap_or_default();
    let webhook =
        section(r, &mut top, "webhook").map_or_else(WebhookConfig::default, |f| webhook(r, f));
    let worker =
        section(r, &mut top, "worker").map_or_else(WorkerConfig::default, |f| worker(r, f));
    let reconcile =
        section(r, &mut top, "reconcile").map_or_else(ReconcileConfig::default, |mut f| {
            let every_seconds = every(r, &mut f, "every_seconds", "leave it out for no reconcile");
            f.finish(r, &["every_seconds"]);
            ReconcileConfig { every_seconds }
        });
    let evidence =
        section(r, &mut top, "evidence").map_or_else(EvidenceJobConfig::default, |mut f| {
            let every_minutes = every(
                r,
                &mut f,
                "every_minutes",
                "leave it out for no evidence cadence",
            );
            f.finish(r, &["every_minutes"]);
            EvidenceJobConfig { every_minutes }
        });
    let siem = section(r, &mut top, "siem").map_or_else(SiemConfig::default, |f| siem(r, f));
    let governance = given(&mut top, "governance").and_then(|n| governance(r, n));
    let auth = given(&mut top, "auth").map_or_else(Default::default, |n| super::auth::auth(r, n));
    if let (Some(addr), Some(node)) = (listen, top_listen)
        && !addr.ip().is_loopback()
    {
        let mut missing = Vec::new();
        if !auth.any() {
            missing.push(
                "the service holds admin credentials and will not serve its routes to the \
                 network without an `auth:` section (oidc, tokens or proxy)",
            );
        }
        if public_node.is_none() && !one_port {
            missing.push(
                "give the webhooks their own listener (`public_listen: ADDRESS`) so the \
                 internal routes are not served where HR systems reach, or say \
                 `one_port: true` to serve both on this one",
            );
        }
        for why in missing {
            r.error(
                node,
                "listen",
                format!("{addr} is not a loopback address: {why}"),
            );
        }
    }
    if let (Some(a), Some(b), Some(node)) = (listen, public_listen, public_node)
        && a == b
    {
        r.error(
            node,
            "public_listen",
            format!("{b} is `listen` too; give the public listener its own port"),
        );
    }
    let log = section(r, &mut top, "log").map_or_else(LogConfig::default, |mut f| {
        let json = given(&mut f, "json")
            .and_then(|n| r.boolean(n, "log.json"))
            .unwrap_or(false);
        f.finish(r, &["json"]);
        LogConfig { json }
    });
    top.finish(r, TOP);
    Some(ServerConfig {
        listen: listen?,
        public_listen,
        one_port,
        http,
        deployment: deployment?,
        policies: policies?,
        roster,
        store: store?,
        instance,
        actor: actor?,
        sources,
        webhook,
        worker,
        reconcile,
        evidence,
        siem,
        governance,
        log,
        auth,
    })
}

fn store(r: &mut Reader, node: &Node) -> Option<StoreConfig> {
    let mut f = r.fields(node, "store")?;
    let store = match (f.get("sqlite"), f.get("postgres")) {
        (Some(file), None) => path(r, file, "store.sqlite").map(StoreConfig::Sqlite),
        (None, Some(url)) => {
            let owner = given(&mut f, "owner").and_then(|n| credential(r, n, "store.owner"));
            credential(r, url, "store.postgres").map(|url| StoreConfig::Postgres { url, owner })
        }
        _ => {
            r.error(
                node,
                "store",
                "expected exactly one of `sqlite` (a file) or `postgres` (`{env: VARIABLE}` or `{file: PATH}` holding its URL)",
            );
            None
        }
    };
    f.finish(r, &["sqlite", "postgres", "owner"]);
    store
}

fn sources(r: &mut Reader, node: &Node) -> Vec<SourceConfig> {
    let mut out: Vec<SourceConfig> = Vec::new();
    for (i, item) in r
        .items(node, "sources")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("sources[{i}]");
        let Some(mut f) = r.fields(item, &at) else {
            continue;
        };
        let name = f
            .required(r, "name", "the source's name, as in the URL")
            .and_then(|n| {
                let field = f.path_of("name");
                let name = r.text(n, &field)?;
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    r.error(
                        n,
                        &field,
                        "letters, digits, '-' and '_' only (it is part of the URL)",
                    );
                    return None;
                }
                if out.iter().any(|s| s.name == name) {
                    r.error(n, &field, "named twice");
                    return None;
                }
                Some(name)
            });
        let mut header = |key: &str, default: fn() -> String| match given(&mut f, key) {
            Some(n) => r.nonempty_text(n, &format!("{at}.{key}")),
            None => Some(default()),
        };
        let signature_header = header("signature_header", default_signature_header);
        let timestamp_header = header("timestamp_header", default_timestamp_header);
        let secret = f
            .required(r, "secret", "`{env: VARIABLE}` or `{file: PATH}`")
            .and_then(|n| credential(r, n, &format!("{at}.secret")));
        f.finish(
            r,
            &["name", "signature_header", "timestamp_header", "secret"],
        );
        if let (Some(name), Some(signature_header), Some(timestamp_header), Some(secret)) =
            (name, signature_header, timestamp_header, secret)
        {
            out.push(SourceConfig {
                name,
                signature_header,
                timestamp_header,
                secret,
            });
        }
    }
    out
}

/// A socket address such as `127.0.0.1:8080`.
fn address(r: &mut Reader, n: &Node, field: &str) -> Option<SocketAddr> {
    let text = r.text(n, field)?;
    match text.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(e) => {
            r.error(
                n,
                field,
                format!("`{text}` is not an address such as 127.0.0.1:8080 ({e})"),
            );
            None
        }
    }
}

fn http(r: &mut Reader, mut f: Fields<'_>) -> HttpLimits {
    let d = HttpLimits::default();
    let max_connections = every(r, &mut f, "max_connections", "leave it out for 512")
        .map_or(d.max_connections, |m| {
            usize::try_from(m).unwrap_or(usize::MAX)
        });
    let header = every(
        r,
        &mut f,
        "header_read_timeout_seconds",
        "leave it out for 10 s",
    );
    let body = every(
        r,
        &mut f,
        "body_read_timeout_seconds",
        "leave it out for 30 s",
    );
    f.finish(
        r,
        &[
            "max_connections",
            "header_read_timeout_seconds",
            "body_read_timeout_seconds",
        ],
    );
    HttpLimits {
        max_connections,
        header_read_timeout_seconds: header.unwrap_or(d.header_read_timeout_seconds),
        body_read_timeout_seconds: body.unwrap_or(d.body_read_timeout_seconds),
    }
}

fn webhook(r: &mut Reader, mut f: Fields<'_>) -> WebhookConfig {
    let d = WebhookConfig::default();
    let max_body_bytes = count(r, &mut f, "max_body_bytes", d.max_body_bytes as u64);
    let config = WebhookConfig {
        max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        timestamp_tolerance_seconds: count(
            r,
            &mut f,
            "timestamp_tolerance_seconds",
            d.timestamp_tolerance_seconds,
        ),
    };
    f.finish(r, &["max_body_bytes", "timestamp_tolerance_seconds"]);
    config
}

fn worker(r: &mut Reader, mut f: Fields<'_>) -> WorkerConfig {
    let d = WorkerConfig::default();
    let batch = match given(&mut f, "batch") {
        Some(n) => match r.unsigned(n, "worker.batch") {
            Some(0) => {
                r.error(n, "worker.batch", "must be at least 1");
                d.batch
            }
            Some(b) => i64::try_from(b).unwrap_or(i64::MAX),
            None => d.batch,
        },
        None => d.batch,
    };
    let config = WorkerConfig {
        batch,
        lease_seconds: count(r, &mut f, "lease_seconds", d.lease_seconds),
        poll_millis: count(r, &mut f, "poll_millis", d.poll_millis),
        pending_wait_seconds: count(r, &mut f, "pending_wait_seconds", d.pending_wait_seconds),
        pending_recheck_seconds: count(
            r,
            &mut f,
            "pending_recheck_seconds",
            d.pending_recheck_seconds,
        ),
    };
    f.finish(
        r,
        &[
            "batch",
            "lease_seconds",
            "poll_millis",
            "pending_wait_seconds",
            "pending_recheck_seconds",
        ],
    );
    config
}

fn siem(r: &mut Reader, mut f: Fields<'_>) -> SiemConfig {
    let mut sinks: Vec<SiemSinkConfig> = Vec::new();
    let items = given(&mut f, "sinks").and_then(|n| r.items(n, "siem.sinks"));
    for (i, item) in items.unwrap_or_default().iter().enumerate() {
        if let Some(sink) = sink(r, item, &format!("siem.sinks[{i}]"), &sinks) {
            sinks.push(sink);
        }
    }
    let batch_size = match given(&mut f, "batch_size") {
        Some(n) => match r.unsigned(n, "siem.batch_size") {
            Some(0) => {
                r.error(n, "siem.batch_size", "must be at least 1");
                None
            }
            Some(b) => Some(usize::try_from(b).unwrap_or(usize::MAX)),
            None => None,
        },
        None => None,
    };
    f.finish(r, &["sinks", "batch_size"]);
    SiemConfig { sinks, batch_size }
}

const SINKS: &[&str] = &["jsonl", "syslog", "http"];

/// One sink: a mapping with one key, its kind.
fn sink(
    r: &mut Reader,
    item: &Node,
    at: &str,
    before: &[SiemSinkConfig],
) -> Option<SiemSinkConfig> {
    let mut outer = r.fields(item, at)?;
    let entries = outer.all();
    let [(kind, key, body)] = entries.as_slice() else {
        r.error(
            item,
            at,
            format!("expected one sink: `{}: {{...}}`", SINKS.join("`, `")),
        );
        return None;
    };
    if !SINKS.contains(&kind.as_str()) {
        r.error(
            key,
            at,
            format!(
                "unknown sink `{kind}`; expected one of: {}",
                SINKS.join(", ")
            ),
        );
        return None;
    }
    let field = format!("{at}.{kind}");
    let mut f = r.fields(body, &field)?;
    let name_node = f.required(r, "name", "the sink's name (it keys its delivery cursor)");
    let name = name_node.and_then(|n| r.text(n, &format!("{at}.name")));
    let sink = match kind.as_str() {
        "jsonl" => {
            let file = given(&mut f, "file").and_then(|n| path(r, n, &format!("{field}.file")));
            f.finish(r, &["name", "file"]);
            SiemSinkConfig::Jsonl {
                name: name.clone()?,
                file,
            }
        }
        "syslog" => {
            let tcp = f.required(r, "tcp", "host:port").and_then(|n| {
                let tcp = r.text(n, &format!("{field}.tcp"))?;
                if !tcp.contains(':') {
                    r.error(n, &format!("{field}.tcp"), "must be host:port");
                    return None;
                }
                Some(tcp)
            });
            f.finish(r, &["name", "tcp"]);
            SiemSinkConfig::Syslog {
                name: name.clone()?,
                tcp: tcp?,
            }
        }
        _ => {
            let url = f
                .required(r, "url", "the URL batches are POSTed to")
                .and_then(|n| r.nonempty_text(n, &format!("{field}.url")));
            let token =
                given(&mut f, "token").and_then(|n| credential(r, n, &format!("{field}.token")));
            f.finish(r, &["name", "url", "token"]);
            SiemSinkConfig::Http {
                name: name.clone()?,
                url: url?,
                token,
            }
        }
    };
    let node = name_node?;
    let name = sink.name();
    if name.is_empty() {
        r.error(node, &format!("{at}.name"), "must not be empty");
        return None;
    }
    if before.iter().any(|s| s.name() == name) {
        r.error(
            node,
            &format!("{at}.name"),
            "named twice (each sink keeps its own cursor by name)",
        );
        return None;
    }
    Some(sink)
}

/// `governance:`, the governance crate's own settings, deserialized from its node.
fn governance(r: &mut Reader, node: &Node) -> Option<provision_governance::GovernanceConfig> {
    match serde_json::from_value(json(node)) {
        Ok(config) => Some(config),
        Err(e) => {
            r.error(node, "governance", e.to_string());
            None
        }
    }
}

/// The node as JSON, for serde.
fn json(node: &Node) -> serde_json::Value {
    use serde_json::Value as Json;
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => i64::try_from(*i)
            .map(Json::from)
            .or_else(|_| u64::try_from(*i).map(Json::from))
            .unwrap_or_else(|_| Json::from(*i as f64)),
        Value::Float(f) => Json::from(*f),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.value.scalar_text().unwrap_or_default(), json(v)))
                .collect(),
        ),
    }
}
