//! One joiner → mover → leaver run through the engine, every site request also sent
//! to Prism serving the trimmed Jira spec in `--errors` mode (`shared/peers/start-prism.sh`),
//! which refuses any request that breaks the spec (path, query, security, body).
//!
//! Prism answers with made-up data, so the run's answers come from the stateful fake
//! (`support/mod.rs`): each request the adapter sends is forwarded to Prism as it is
//! (method, path, query, `Authorization`, `Content-Type`, body) and Prism's verdict
//! recorded; the fake's answer goes back to the adapter. The org user-management API
//! is not in the spec, so the run has no org key.
//!
//! The server: `PROVISION_TEST_PRISM_URL` when set (it must serve the Jira spec),
//! otherwise this test starts one on a free port with a pid file in a temporary
//! folder and stops it by that pid file at the end. If Prism cannot start (no node or
//! npm, no network for the first install) the test fails and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use provision_core::engine::Engine;
use provision_core::model::{EmploymentStatus, Identity};
use provision_testkit::botocore::find_shared_dir;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use support::FakeJira;

struct Prism {
    addr: String,
    pidfile: Option<(PathBuf, PathBuf)>,
}

impl Prism {
    fn get() -> Prism {
        if let Ok(url) = std::env::var("PROVISION_TEST_PRISM_URL")
            && !url.trim().is_empty()
        {
            return Prism {
                addr: url
                    .trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned(),
                pidfile: None,
            };
        }
        let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR"))
            .expect("cannot find shared/ (with peers/start-prism.sh); set PROVISION_SHARED_DIR");
        let dir = std::env::temp_dir().join(format!("provision-jira-prism-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("prism.pid");
        let out = Command::new(shared.join("peers/start-prism.sh"))
            .arg(shared.join("specs/jira-cloud-platform-v3.trimmed.json"))
            .arg("0")
            .env("PRISM_PIDFILE", &pidfile)
            .output()
            .unwrap_or_else(|e| panic!("cannot run start-prism.sh: {e}"));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && url.starts_with("http://"),
            "Prism did not start (it needs node and npm, and npm access on first use); \
             start-prism.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Prism {
            addr: url.trim_start_matches("http://").to_owned(),
            pidfile: Some((shared.join("peers/stop.sh"), pidfile)),
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        if let Some((stop, pidfile)) = &self.pidfile {
            let _ = Command::new(stop).arg(pidfile).status();
            if let Some(dir) = pidfile.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// What Prism said about one request.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) request: String,
    status: u16,
    /// Prism's whole answer: status line, headers (its `sl-violations`) and body.
    text: String,
}

impl Verdict {
    /// Prism refused the request itself (not its own made-up answer): a violation
    /// located in the request, in the `sl-violations` header or an error body.
    pub(crate) fn refused(&self) -> bool {
        self.text.contains("[\"request\"")
            || (self.text.contains("stoplight.io/prism/errors")
                && matches!(self.status, 401 | 404 | 405 | 415 | 422))
    }
}

/// Forwards each request to Prism (a plain HTTP/1.1 exchange), records the verdict,
/// and answers with the fake (the ticket tests forward theirs too).
pub(crate) struct Checked<F = FakeJira> {
    pub(crate) prism: String,
    pub(crate) fake: F,
    pub(crate) verdicts: Arc<Mutex<Vec<Verdict>>>,
}

impl<F: Respond> Respond for Checked<F> {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let target = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_owned(),
        };
        let mut head = format!(
            "{} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            req.method,
            self.prism,
            req.body.len()
        );
        for name in ["authorization", "content-type", "accept"] {
            if let Some(v) = req.headers.get(name).and_then(|v| v.to_str().ok()) {
                head.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(&self.prism).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&req.body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.verdicts.lock().unwrap().push(Verdict {
            request: format!("{} {target}", req.method),
            status,
            text,
        });
        self.fake.respond(req)
    }
}

const POLICIES: &str = r#"
policies:
  - name: "Jira for Engineering and Platform"
    triggers:
      - department: {one_of: ["Engineering", "Platform"]}
    provisions:
      - {system: jira, action: grant_product_access, target: "jira-software"}
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - {system: jira, action: add_to_group, target: "engineering"}
      - {system: jira, action: assign_project_role, target: "ENG", role: "Developer"}
  - name: "Platform"
    triggers:
      - department: "Platform"
    provisions:
      - {system: jira, action: assign_project_role, target: "ENG", role: "Administrator"}
"#;

fn ada(department: &str) -> Identity {
    Identity::new("e1", "ada@example.com", "Ada Lovelace").with_attribute("department", department)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiner_mover_leaver_requests_all_pass_prism() {
    let prism = Prism::get();
    let fake = FakeJira::new();
    fake.add_group("engineering");
    fake.add_project("ENG");
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    let site = MockServer::start().await;
    Mock::given(any())
        .respond_with(Checked {
            prism: prism.addr.clone(),
            fake: fake.clone(),
            verdicts: verdicts.clone(),
        })
        .mount(&site)
        .await;

    let dir = std::env::temp_dir().join(format!("jira-prism-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), support::TOKEN).unwrap();
    std::fs::write(dir.join("policies.yaml"), POLICIES).unwrap();
    let yaml = format!(
        "systems:\n  jira:\n    adapter: jira\n    enforcement: authoritative\n    credentials:\n      api_token: {{file: {}}}\n    settings:\n      site_url: {}\n      email: {}\n      projects: ENG\nblast_radius: {{max_share: 1.0, max_identities: 100, max_operations: 100}}\n",
        dir.join("token").display(),
        site.uri(),
        support::EMAIL,
    );
    std::fs::write(dir.join("provision.yaml"), yaml).unwrap();
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies.yaml"))
        .factories([provision_jira::factory()])
        .build()
        .await
        .unwrap();

    let mut leaver = ada("Platform");
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - chrono::Duration::hours(1),
    };
    for (event, roster) in [
        ("hire", ada("Engineering")),
        ("transfer", ada("Platform")),
        ("termination", leaver),
    ] {
        let plan = engine
            .plan(&[roster], event)
            .await
            .unwrap()
            .approve()
            .unwrap();
        assert!(!plan.operations.is_empty(), "{event}: nothing planned");
        let report = engine.apply(&plan).await.unwrap();
        assert!(report.is_complete(), "{event}: {report:?}");
    }
    let id = fake.state.lock().unwrap().users[0].id.clone();
    assert!(
        fake.state
            .lock()
            .unwrap()
            .members
            .values()
            .all(|m| !m.contains(&id)),
        "the leaver holds no group"
    );

    let site_verdicts = verdicts.clone();
    let verdicts = verdicts.lock().unwrap().clone();
    let refused: Vec<&Verdict> = verdicts.iter().filter(|v| v.refused()).collect();
    assert!(refused.is_empty(), "Prism refused: {refused:#?}");
    let writes = verdicts
        .iter()
        .filter(|v| !v.request.starts_with("GET "))
        .count();
    assert!(writes >= 6, "the run wrote through Prism: {verdicts:#?}");
    println!(
        "Prism checked {} requests ({writes} writes), refused none",
        verdicts.len()
    );

    // The check can fail: a create without `products` (required by the spec) is refused.
    let auth = format!("Basic {}", {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            support::EMAIL,
            support::TOKEN
        ))
    });
    reqwest::Client::new()
        .post(format!("{}/rest/api/3/user", site.uri()))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(r#"{"emailAddress":"bad@example.com"}"#)
        .send()
        .await
        .unwrap();
    let last = site_verdicts.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.refused(),
        "a request breaking the spec was not seen as refused: {last:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
