//! A deployment of six sandbox systems (Okta, Google, AWS, GitLab, Slack, Jira), one
//! policy giving every engineer something in each, a roster of three engineers, and
//! a server configuration over a SQLite file; the sandboxes outlive a service, so a
//! restarted service finds the same systems.

// Each test binary uses part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::Adapter;
use provision_core::model::{AccountState, SystemName};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};
use provision_server::{EngineParts, ServerConfig, Service};

pub const SECRET: &str = "test-webhook-secret";
pub const SYSTEMS: [&str; 6] = ["okta", "google", "aws", "gitlab", "slack", "jira"];
pub const PEOPLE: [(&str, &str); 3] = [("e1", "ana"), ("e2", "ben"), ("e3", "cy")];

pub fn login(name: &str) -> String {
    format!("{name}@company.com")
}

/// The deployment; with `rate`, every system allows that many requests a second (the
/// executor's limit and the sandbox's agree). The executor sends one request at a time
/// at that pace (burst 1): a full burst on top of the steady rate would put up to twice
/// the budget into one of the sandbox's fixed windows.
fn deployment(rate: Option<u32>) -> String {
    let limit = rate.map_or(String::new(), |r| {
        format!(", rate_limit: {{requests: {r}, per_seconds: 1, burst: 1}}")
    });
    let mut out = String::from("systems:\n");
    for name in SYSTEMS {
        let delete = if name == "aws" {
            ", delete_leavers: true"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {name}: {{adapter: sandbox, settings: {{preset: {name}}}, enforcement: additive, concurrency: 8{delete}{limit}}}\n"
        ));
    }
    out.push_str(
        "dependencies:\n\
         \x20 - {system: google, depends_on: okta, on: account}\n\
         \x20 - {system: gitlab, depends_on: okta, on: account}\n\
         \x20 - {system: slack, depends_on: okta, on: account}\n\
         \x20 - {system: jira, depends_on: okta, on: account}\n\
         blast_radius: {max_share: 1.0, max_identities: 100000, max_operations: 1000000}\n",
    );
    out
}

const POLICIES: &str = r##"
policies:
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - {system: okta, action: add_to_group, target: "engineering-team"}
      - {system: google, action: add_to_group, target: "engineering@company.com"}
      - {system: aws, action: assign_permission_set, target: "EngineeringReadOnly", account: "production"}
      - {system: gitlab, action: add_to_group, target: "engineering", role: "developer"}
      - {system: slack, action: invite_to_channel, target: "#engineering"}
      - {system: jira, action: assign_project_role, target: "ENG", role: "Developer"}
"##;

pub fn roster_yaml(people: &[(&str, &str)]) -> String {
    let mut out = String::from("people:\n");
    for (id, name) in people {
        out.push_str(&format!(
            "  - id: {id}\n    email: {}\n    display_name: {name}\n    attributes: {{department: Engineering}}\n",
            login(name)
        ));
    }
    out
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub systems: BTreeMap<String, Arc<SandboxSystem>>,
}

impl World {
    /// Six sandboxes answering after `latency`, and the files.
    pub fn new(latency: Duration) -> Self {
        Self::with_people(latency, &PEOPLE)
    }

    pub fn with_people(latency: Duration, people: &[(&str, &str)]) -> Self {
        Self::build(latency, people, None)
    }

    /// Every system rate limited to `rate` requests a second.
    pub fn rate_limited(latency: Duration, people: &[(&str, &str)], rate: u32) -> Self {
        Self::build(latency, people, Some(rate))
    }

    fn build(latency: Duration, people: &[(&str, &str)], rate: Option<u32>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("provision.yaml"), deployment(rate)).unwrap();
        std::fs::write(dir.path().join("policies.yaml"), POLICIES).unwrap();
        std::fs::write(dir.path().join("roster.yaml"), roster_yaml(people)).unwrap();
        let config = SandboxConfig {
            latency,
            pending_recheck: Duration::from_millis(100),
            rate_limit: rate.map(|r| provision_sandbox::SandboxRateLimit {
                requests: r,
                window: Duration::from_secs(1),
            }),
            ..SandboxConfig::default()
        };
        let systems = SYSTEMS
            .iter()
            .map(|name| {
                let preset = presets::by_name(name).unwrap();
                (
                    (*name).to_owned(),
                    Arc::new(preset.sandbox(name, config.clone())),
                )
            })
            .collect();
        Self { dir, systems }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config_text(&self, db: &str, extra: &str) -> String {
        format!(
            "listen: 127.0.0.1:0\ndeployment: provision.yaml\npolicies: policies.yaml\n\
             roster: roster.yaml\nstore: {{sqlite: {db}}}\ninstance: {db}-instance\n\
             sources:\n  - name: workday\n    signature_header: X-Workday-Signature\n    \
             secret: {{file: secret.txt}}\n\
             worker: {{lease_seconds: 2, poll_millis: 20, pending_wait_seconds: 0, pending_recheck_seconds: 1}}\n{extra}"
        )
    }

    /// The server configuration, over `db` in the world's folder.
    pub fn config(&self, db: &str, extra: &str) -> ServerConfig {
        std::fs::write(self.path("secret.txt"), SECRET).unwrap();
        let path = self.path(&format!("{db}.server.yaml"));
        std::fs::write(&path, self.config_text(db, extra)).unwrap();
        ServerConfig::load(&path).unwrap()
    }

    pub fn parts(&self) -> EngineParts {
        EngineParts {
            factories: provision_core::adapter::FactoryRegistry::new()
                .with(provision_sandbox::factory()),
            adapters: self
                .systems
                .iter()
                .map(|(n, s)| (SystemName::new(n), Arc::clone(s) as Arc<dyn Adapter>))
                .collect(),
            ..EngineParts::default()
        }
    }

    /// Gives everyone in `people` an active account and every grant the policy gives,
    /// straight in the sandboxes (no requests counted).
    pub fn seed(&self, service: &Service, people: &[provision_core::model::Identity]) {
        let desired = service.engine().desired(people);
        for (id, d) in &desired.identities {
            let login = &d.identity.login;
            let _ = id;
            for system in SYSTEMS {
                self.systems[system].with_account(login, AccountState::Active);
            }
            for entitlement in d.grants.keys() {
                self.systems[entitlement.system.as_str()].with_grant(login, entitlement.clone());
            }
        }
    }

    pub async fn service(&self, db: &str) -> Service {
        Service::start(self.config(db, ""), self.parts())
            .await
            .unwrap()
    }

    /// Gives everyone in the roster their access: a reconcile, everyone signs in to
    /// GitLab (accounts appear on first login there), a second reconcile.
    pub async fn provision_everyone(&self, service: &Service) {
        service
            .reconcile(&provision_core::journal::RunId("setup-1".into()))
            .await
            .unwrap();
        for (_, name) in PEOPLE {
            self.systems["gitlab"].sso_login(&login(name));
        }
        service
            .reconcile(&provision_core::journal::RunId("setup-2".into()))
            .await
            .unwrap();
        for (_, name) in PEOPLE {
            assert!(
                self.has_access_everywhere(&login(name)),
                "{name} provisioned"
            );
        }
    }

    pub fn account(&self, system: &str, login: &str) -> Option<AccountState> {
        self.systems[system].snapshot().accounts.get(login).copied()
    }

    /// Active account with a grant in every system.
    pub fn has_access_everywhere(&self, login: &str) -> bool {
        self.systems.values().all(|s| {
            let snap = s.snapshot();
            snap.accounts.get(login) == Some(&AccountState::Active)
                && snap.grants.iter().any(|(l, _)| l == login)
        })
    }

    /// No active account and no session anywhere.
    pub fn locked_out_everywhere(&self, login: &str) -> bool {
        self.systems.values().all(|s| {
            let snap = s.snapshot();
            snap.accounts.get(login) != Some(&AccountState::Active)
                && !snap.sessions.contains(login)
        })
    }

    /// Operations whose write reached some system more than once after taking effect.
    pub fn resent(&self) -> u32 {
        self.systems
            .values()
            .map(|s| s.stats().resent_after_effect.values().sum::<u32>())
            .sum()
    }

    /// Writes that took effect, over every system.
    pub fn effects(&self) -> usize {
        self.systems
            .values()
            .map(|s| s.stats().took_effect.len())
            .sum()
    }
}

/// Headers and body of a signed event.
pub fn signed(body: &str, at: i64) -> (String, String) {
    (
        provision_server::webhook::sign(SECRET, at, body.as_bytes()),
        at.to_string(),
    )
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn termination(event_id: &str, person: &str, effective: Option<&str>) -> String {
    match effective {
        Some(at) => format!(
            r#"{{"event_id":"{event_id}","type":"termination","person_id":"{person}","effective":"{at}"}}"#
        ),
        None => {
            format!(r#"{{"event_id":"{event_id}","type":"termination","person_id":"{person}"}}"#)
        }
    }
}

/// Polls `check` every 50 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn unused(_: &Path) {}

/// Posts a signed event to a running service.
pub async fn post_signed(addr: std::net::SocketAddr, body: &str) -> (u16, serde_json::Value) {
    let (signature, timestamp) = signed(body, now_secs());
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/workday"))
        .header("X-Workday-Signature", signature)
        .header("X-Provision-Timestamp", timestamp)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub fn rfc3339_in(seconds: i64) -> (chrono::DateTime<chrono::Utc>, String) {
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds);
    (at, at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// [`eventually`] with an async check.
pub async fn eventually_async<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `auth:` section giving each `(name, roles)` a static token
/// ([`token_of`]) acting as the person `name`.
pub fn auth_section(callers: &[(&str, &[&str])]) -> String {
    use sha2::Digest;
    let mut out = String::from("auth:\n  tokens:\n");
    for (name, roles) in callers {
        let hash = hex::encode(sha2::Sha256::digest(token_of(name).as_bytes()));
        out.push_str(&format!(
            "    - {{name: {name}, sha256: \"{hash}\", roles: [{}], person: {name}}}\n",
            roles.join(", ")
        ));
    }
    out
}

/// The static token of `name` in [`auth_section`].
pub fn token_of(name: &str) -> String {
    format!("test-token-for-{name}")
}

/// Calls `method url` as `user` (their static token, [`token_of`]) with a JSON
/// `body`; the status and the JSON answer (`null` when there is none).
pub async fn call(
    method: reqwest::Method,
    url: String,
    user: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(user) = user {
        request = request.bearer_auth(token_of(user));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}
