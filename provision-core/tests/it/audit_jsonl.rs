//! The JSON-lines audit log file, the in-memory log and the JSON-lines export.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use provision_core::audit::{
    AuditError, AuditEvent, AuditLog, AuditOutcome, ChainError, JsonlAuditLog, MemoryAuditLog,
    export_jsonl, read_jsonl, verify,
};
use provision_core::journal::RunId;
use provision_core::model::{IdentityId, OperationId, Reason, ReasonKind, SystemName};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-audit-test-{}-{}",
        std::process::id(),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("audit.jsonl")
}

fn event(identity: &str, action: &str) -> AuditEvent {
    AuditEvent {
        at: Utc::now(),
        run: RunId("run-7".into()),
        actor: "ops@example.com".into(),
        identity: IdentityId(identity.into()),
        system: SystemName::new("okta"),
        operation: OperationId(format!("{identity}/okta/{action}")),
        action: action.into(),
        entitlement: None,
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: Some("hr-42".into()),
            detail: "terminated".into(),
            valid_until: None,
        },
        note: None,
    }
}

#[tokio::test]
async fn memory_log_chains_concurrent_appends() {
    let log = Arc::new(MemoryAuditLog::new());
    let mut tasks = Vec::new();
    for t in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                log.append(event(&format!("e{t}-{i}"), "grant"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = log.records().await.unwrap();
    assert_eq!(verify(&records).unwrap().records, 200);
}

#[tokio::test]
async fn file_log_survives_reopen_and_continues_the_chain() {
    let path = temp_path("reopen");
    {
        let log = JsonlAuditLog::open(&path).unwrap();
        for i in 0..3 {
            let r = log
                .append(event(&format!("e{i}"), "revoke_sessions"))
                .await
                .unwrap();
            assert_eq!(r.seq, i);
        }
    }
    let log = JsonlAuditLog::open(&path).unwrap();
    let fourth = log.append(event("e3", "suspend_account")).await.unwrap();
    assert_eq!(fourth.seq, 3);
    let records = log.records().await.unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!(fourth.prev_hash, records[2].hash);
    assert_eq!(records[3].event.action, "suspend_account");
    assert_eq!(verify(&records).unwrap().records, 4);
    // One line per record on disk.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn an_edit_to_the_file_is_detected_by_verify() {
    let path = temp_path("edit");
    let log = JsonlAuditLog::open(&path).unwrap();
    log.append(event("e1", "grant")).await.unwrap();
    log.append(event("e2", "grant")).await.unwrap();
    log.append(event("e3", "grant")).await.unwrap();
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"identity\":\"e2\"", "\"identity\":\"e9\"", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    let records = JsonlAuditLog::open(&path).unwrap().records().await.unwrap();
    assert!(matches!(
        verify(&records).unwrap_err(),
        ChainError::Altered { seq: 1, .. }
    ));

    // Deleting a line is detected too.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let records = JsonlAuditLog::open(&path).unwrap().records().await.unwrap();
    assert_eq!(verify(&records).unwrap_err().seq(), 1);
}

#[tokio::test]
async fn a_corrupt_line_is_an_error_naming_the_line() {
    let path = temp_path("corrupt");
    let log = JsonlAuditLog::open(&path).unwrap();
    log.append(event("e1", "grant")).await.unwrap();
    drop(log);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\": 1, \"event\": tru\n");
    std::fs::write(&path, text).unwrap();
    let err = JsonlAuditLog::open(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, AuditError::Corrupt(_)), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("audit.jsonl"), "{message}");
}

#[tokio::test]
async fn export_writes_verifiable_json_lines() {
    let log = MemoryAuditLog::new();
    let mut failed = event("e5", "grant");
    failed.outcome = AuditOutcome::Failed {
        class: "unauthorized".into(),
        error: "HTTP 403 E0000006: You do not have permission".into(),
    };
    log.append(event("e4", "grant")).await.unwrap();
    log.append(failed).await.unwrap();
    let records = log.records().await.unwrap();

    let mut out = Vec::new();
    assert_eq!(export_jsonl(&records, &mut out).unwrap(), 2);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.lines().count(), 2);
    // Each line is a standalone JSON object a SIEM can ingest.
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["event"]["outcome"]["outcome"], "failed");
    assert_eq!(second["event"]["identity"], "e5");
    assert_eq!(second["prev_hash"], serde_json::json!(records[0].hash));

    let back = read_jsonl(BufReader::new(&out[..]), "export").unwrap();
    assert_eq!(back, records);
    assert_eq!(verify(&back).unwrap().records, 2);
}

#[tokio::test]
async fn a_torn_last_line_from_a_crash_is_cut_and_the_chain_continues() {
    let path = temp_path("torn");
    let log = JsonlAuditLog::open(&path).unwrap();
    log.append(event("e1", "grant")).await.unwrap();
    log.append(event("e2", "grant")).await.unwrap();
    drop(log);
    // The process died inside the third append: half a line, no newline.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\":2,\"event\":{\"at\":\"2026-");
    std::fs::write(&path, text).unwrap();

    let log = JsonlAuditLog::open(&path).unwrap();
    let third = log.append(event("e3", "grant")).await.unwrap();
    assert_eq!(third.seq, 2);
    let records = log.records().await.unwrap();
    assert_eq!(verify(&records).unwrap().records, 3);
    assert_eq!(records[2].event.identity.as_str(), "e3");
}
