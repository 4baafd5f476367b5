//! A manual system (`payroll`, `adapter: jira-tickets`) through the engine, with a
//! JSON-lines journal and audit log on disk, every request also sent to Prism serving
//! the trimmed issue spec (`specs/jira-issues.trimmed.json`) in `--errors` mode: a
//! joiner's grant goes pending, a person resolves the issue, the resumed run (a new
//! engine, as after a restart) reports it done; a leaver's revocations share one issue.
//!
//! Prism is started by `provision_testkit::peers::Peer::prism` (SKIPPED without node
//! and npm, a failure with `PROVISION_REQUIRE_PRISM=1`, as in CI); without it the
//! same run goes to the fake alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use provision_core::audit::JsonlAuditLog;
use provision_core::engine::Engine;
use provision_core::executor::OperationOutcome;
use provision_core::journal::JsonlJournal;
use provision_core::model::{EmploymentStatus, Identity};
use provision_testkit::peers::Peer;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use super::fake::{self, FakeTickets};
use crate::prism::Checked;
use crate::support::{EMAIL, TOKEN};

const POLICIES: &str = r#"
policies:
  - name: "Finance payroll"
    triggers:
      - department: "Finance"
    provisions:
      - {system: payroll, action: grant_role, target: "approver"}
      - {system: payroll, action: grant_role, target: "viewer"}
"#;

fn ada(department: &str) -> Identity {
    Identity::new("e1", "ada@example.com", "Ada Lovelace").with_attribute("department", department)
}

async fn engine(dir: &Path, site: &str) -> Engine {
    let yaml = format!(
        "systems:\n  payroll:\n    adapter: jira-tickets\n    credentials:\n      api_token: {{file: {}}}\n    settings:\n      site_url: {site}\n      email: {EMAIL}\n      project: PAY\n      kinds: role\nblast_radius: {{max_share: 1.0, max_identities: 100, max_operations: 100}}\n",
        dir.join("token").display(),
    );
    std::fs::write(dir.join("provision.yaml"), yaml).unwrap();
    Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies.yaml"))
        .factories([provision_jira::tickets_factory()])
        .journal(Arc::new(
            JsonlJournal::open(dir.join("journal.jsonl")).unwrap(),
        ))
        .audit_log(Arc::new(
            JsonlAuditLog::open(dir.join("audit.jsonl")).unwrap(),
        ))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_grant_goes_pending_is_resolved_and_the_next_run_reports_it_done() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/jira-issues.trimmed.json");
    let prism = Peer::prism(
        env!("CARGO_MANIFEST_DIR"),
        spec.to_str().unwrap(),
        "jira-tickets-lifecycle",
    );
    let fake = FakeTickets::default();
    let site = MockServer::start().await;
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    match &prism {
        Some(p) => {
            Mock::given(any())
                .respond_with(Checked {
                    prism: p.url.trim_start_matches("http://").to_owned(),
                    fake: fake.clone(),
                    verdicts: verdicts.clone(),
                })
                .mount(&site)
                .await
        }
        None => fake.mount(&site).await,
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("policies.yaml"), POLICIES).unwrap();

    // Joiner: both grants pending, in one issue.
    let first = engine(dir.path(), &site.uri()).await;
    let plan = first
        .plan(&[ada("Finance")], "hire e1")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert_eq!(plan.operations.len(), 2, "{:?}", plan.operations);
    let report = first.apply(&plan).await.unwrap();
    assert_eq!(report.totals.pending, 2, "{report}");
    assert_eq!(fake.issues().len(), 1, "one issue for the joiner");
    let key = fake.issues()[0].key.clone();
    let text = report.to_string();
    assert!(
        text.contains(&format!("Jira issue {key}")),
        "the report names the issue: {text}"
    );
    drop(first);

    // A person does the work; the run is resumed by a new engine (a restart): the
    // journal's key is checked, no second issue.
    fake.resolve(&key);
    let second = engine(dir.path(), &site.uri()).await;
    let resumed = second.executor().resume(&report.run).await.unwrap();
    assert!(
        resumed
            .operations
            .iter()
            .all(|o| o.outcome == OperationOutcome::Succeeded),
        "{resumed}"
    );
    assert_eq!(fake.issues().len(), 1);
    // Planned again: nothing to do (the done ticket is the system's state).
    let again = second
        .plan(&[ada("Finance")], "nightly reconcile")
        .await
        .unwrap();
    assert!(
        again.preview().operations.is_empty(),
        "{:?}",
        again.preview().operations
    );

    // Leaver: two revocations, one issue.
    let mut leaver = ada("Finance");
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - chrono::Duration::hours(1),
    };
    let plan = second
        .plan(&[leaver], "termination e1")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert_eq!(plan.operations.len(), 2, "{:?}", plan.operations);
    let report = second.apply(&plan).await.unwrap();
    assert_eq!(report.totals.pending, 2, "{report}");
    assert_eq!(fake.issues().len(), 2, "one more issue for the leaver");

    // The ticket's life in the audit log.
    let records = second.audit_log().records().await.unwrap();
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(&r.event).unwrap())
        .collect();
    println!("audit log:\n{}", lines.join("\n"));
    let about_key: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(&format!("Jira issue {key}")))
        .collect();
    assert_eq!(
        about_key.len(),
        4,
        "two pending and two done records name {key}: {lines:#?}"
    );
    assert!(
        about_key[..2]
            .iter()
            .all(|l| l.contains("\"outcome\":\"pending\""))
    );
    assert!(
        about_key[2..]
            .iter()
            .all(|l| l.contains("\"outcome\":\"changed\""))
    );

    let log = crate::support::log(&site).await;
    println!("requests ({}):\n{}", log.len(), log.join("\n"));
    fake::assert_conform(&site).await;
    if prism.is_some() {
        let verdicts_handle = verdicts.clone();
        let verdicts = verdicts.lock().unwrap().clone();
        let refused: Vec<_> = verdicts.iter().filter(|v| v.refused()).collect();
        assert!(refused.is_empty(), "Prism refused: {refused:#?}");
        println!("Prism checked {} requests, refused none", verdicts.len());
        // The check can fail: `fields` that is not an object breaks the spec.
        reqwest::Client::new()
            .post(format!("{}/rest/api/3/issue", site.uri()))
            .basic_auth(EMAIL, Some(TOKEN))
            .header("content-type", "application/json")
            .body(r#"{"fields":"payroll"}"#)
            .send()
            .await
            .unwrap();
        let last = verdicts_handle.lock().unwrap().last().cloned().unwrap();
        assert!(
            last.refused(),
            "a request breaking the spec was not refused: {last:?}"
        );
    }
}
