//! SIEM streaming from the service configuration: the service applies a
//! termination, and a JSON-lines file sink receives its audit records — every record
//! of the store's audit log, in seq order, each once.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::audit::AuditLog;
use support::{World, eventually, eventually_async, listener, login, post_signed, termination};

const WAIT: Duration = Duration::from_secs(20);

/// Every event in the sink's file.
fn events(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The audit records in the sink's file: (seq, operation id). Drift findings (the
/// reconcile's) travel in the same stream and are left out here.
fn delivered(path: &std::path::Path) -> Vec<(u64, String)> {
    events(path)
        .into_iter()
        .filter(|event| event["type"] != "drift_finding")
        .map(|event| {
            assert_eq!(event["type"], "audit", "{event}");
            (
                event["record"]["seq"].as_u64().unwrap(),
                event["record"]["event"]["operation"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_reconciles_drift_findings_reach_the_sink() {
    let world = World::new(Duration::from_millis(2));
    let config = world.config(
        "siem-drift",
        "siem:\n  sinks:\n    - jsonl: {name: audit-file, file: drift.jsonl}\n",
    );
    let sink_file = world.path("drift.jsonl");
    let service = provision_server::Service::start(config, world.parts())
        .await
        .unwrap();
    world.provision_everyone(&service).await;
    let channel = provision_core::model::Entitlement::new("slack", "channel", "#engineering");
    assert!(world.systems["slack"].revoke_by_hand(&login("ben"), &channel));
    let before = events(&sink_file).len();
    service
        .reconcile(&provision_core::journal::RunId("drift-1".into()))
        .await
        .unwrap();
    let found = events(&sink_file)[before..]
        .iter()
        .filter(|e| e["type"] == "drift_finding")
        .map(|e| e["finding"].to_string())
        .collect::<Vec<_>>();
    assert!(
        found
            .iter()
            .any(|f| f.contains("#engineering") && f.contains("ben@company.com")),
        "the hand removal is a finding in the sink: {found:?}"
    );
}

#[tokio::test]
async fn a_jsonl_sink_receives_the_audit_records_of_a_termination_in_order_each_once() {
    let world = World::new(Duration::from_millis(2));
    let config = world.config(
        "siem",
        "siem:\n  sinks:\n    - jsonl: {name: audit-file, file: audit.jsonl}\n",
    );
    let sink_file = world.path("audit.jsonl");
    let service = provision_server::Service::start(config, world.parts())
        .await
        .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();

    let (status, json) = post_signed(running.addr, &termination("evt-1", "e1", None)).await;
    assert_eq!(status, 202, "{json}");
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ana"))).await);

    // Every record the store holds reaches the file, the termination's among them,
    // once its run is over (the systems show the lockout before the run's last
    // records are written).
    let store = service.store().clone();
    let inbox = store.clone();
    assert!(
        eventually_async(WAIT, || {
            let inbox = inbox.clone();
            async move {
                inbox
                    .inbox_in_state(provision_store::InboxState::Done)
                    .await
                    .unwrap()
                    .len()
                    == 1
            }
        })
        .await,
        "the termination's run finished"
    );
    let all_delivered = eventually_async(WAIT, || {
        let store = store.clone();
        let path = sink_file.clone();
        async move {
            let records = AuditLog::records(&*store).await.unwrap();
            let got = delivered(&path);
            !records.is_empty() && got.len() == records.len()
        }
    })
    .await;
    let got = delivered(&sink_file);
    assert!(all_delivered, "{} records delivered", got.len());
    for op in ["e1/okta/revoke_sessions", "e1/okta/suspend_account"] {
        assert!(got.iter().any(|(_, o)| o == op), "{op} not delivered");
    }
    let records = AuditLog::records(&*store).await.unwrap();
    let expected: Vec<(u64, String)> = records
        .iter()
        .map(|r| (r.seq, r.event.operation.0.clone()))
        .collect();
    assert_eq!(
        got, expected,
        "the audit log in seq order, each record once"
    );

    // After a restart the sink resumes from its cursor: nothing is sent twice.
    running.shutdown().await.unwrap();
    drop(service);
    let service = provision_server::Service::start(
        world.config(
            "siem",
            "siem:\n  sinks:\n    - jsonl: {name: audit-file, file: audit.jsonl}\n",
        ),
        world.parts(),
    )
    .await
    .unwrap();
    let running = service.clone().spawn_on(listener().await).unwrap();
    let (status, _) = post_signed(running.addr, &termination("evt-2", "e2", None)).await;
    assert_eq!(status, 202);
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ben"))).await);
    let store = service.store().clone();
    let caught_up = eventually_async(WAIT, || {
        let store = store.clone();
        let path = sink_file.clone();
        // The suspension's audit record is written just after the system answered:
        // caught up once it is there too.
        async move {
            let got = delivered(&path);
            got.iter().any(|(_, o)| o == "e2/okta/suspend_account")
                && got.len() == AuditLog::records(&*store).await.unwrap().len()
        }
    })
    .await;
    assert!(caught_up);
    let got = delivered(&sink_file);
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "each once, in order");
    assert!(got.iter().any(|(_, o)| o == "e2/okta/suspend_account"));
    running.shutdown().await.unwrap();
}
