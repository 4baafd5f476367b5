//! The SQLite store: migration from nothing, reopen, chain verification on the
//! database, tamper detection through raw SQL, the three audit queries, the journal.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use provision_core::adapter::Effect;
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome, ChainError, read_jsonl, verify};
use provision_core::journal::{Journal, JournalEntry, JournalError, OperationState, RunId};
use provision_core::model::{
    Entitlement, IdentityId, Operation, OperationId, OperationKind, Plan, Priority, Reason,
    ReasonKind, SystemName,
};
use provision_store::{SqliteStore, StoreError, schema::SCHEMA_VERSION};

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-store-test-{}-{}",
        std::process::id(),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("provision.db")
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn event(run: &str, identity: &str, system: &str, action: &str, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        at,
        run: RunId(run.into()),
        actor: "hr-sync".into(),
        identity: IdentityId(identity.into()),
        system: SystemName::new(system),
        operation: OperationId(format!("{identity}/{system}/{action}")),
        action: action.into(),
        entitlement: (action == "grant").then(|| Entitlement::new(system, "group", "engineering")),
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["Engineering Access".into()],
            event: Some(format!("{run}-trigger")),
            detail: format!("policy 'Engineering Access' gave {identity} {action} in {system}"),
            valid_until: None,
        },
        note: None,
    }
}

/// Sarah (e1) joins in run-1, Tom (e2) leaves in run-2, Sarah gets more in run-3.
async fn fill(store: &SqliteStore) {
    let events = [
        event("run-1", "e1", "okta", "create_account", t(0)),
        event("run-1", "e1", "okta", "grant", t(1)),
        event("run-1", "e1", "slack", "grant", t(2)),
        event("run-2", "e2", "okta", "revoke_sessions", t(10)),
        event("run-2", "e2", "okta", "suspend_account", t(11)),
        event("run-2", "e2", "slack", "suspend_account", t(12)),
        event("run-3", "e1", "okta", "grant", t(30)),
    ];
    for e in events {
        store.append(e).await.unwrap();
    }
}

#[tokio::test]
async fn creates_and_migrates_an_empty_file() {
    let path = temp_db("migrate");
    assert!(!path.exists());
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists());
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(store.verify_audit().await.unwrap().records, 0);
    assert!(store.runs().await.unwrap().is_empty());
    // Opening again does not re-run (or fail on) the applied migration.
    store.close().await;
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn reopen_keeps_records_and_continues_the_chain() {
    let path = temp_db("reopen");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;
    let anchor = store.verify_audit().await.unwrap().head.unwrap();
    store.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let next = store
        .append(event("run-4", "e3", "jira", "grant", t(40)))
        .await
        .unwrap();
    assert_eq!(next.seq, 7);
    assert_eq!(next.prev_hash, anchor.hash);
    let verified = store.verify_audit_with_anchor(&anchor).await.unwrap();
    assert_eq!(verified.records, 8);
    let records = store.records().await.unwrap();
    assert_eq!(verify(&records).unwrap().records, 8);
    assert_eq!(records[7].event.system.as_str(), "jira");
}

#[tokio::test]
async fn concurrent_appends_form_one_chain() {
    let path = temp_db("concurrent");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    // A second handle on the same file, as a second process would have.
    let other = Arc::new(SqliteStore::open(&path).await.unwrap());
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = if w % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                s.append(event("run-c", &format!("e{w}-{i}"), "okta", "grant", t(i)))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap().records, 90);
}

#[tokio::test]
async fn a_row_altered_with_sql_is_detected() {
    let path = temp_db("alter");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;

    // The append-only trigger refuses a plain UPDATE ...
    let refused = sqlx::query(
        "UPDATE audit_log SET event_json = replace(event_json, 'changed', 'already_in_place') \
         WHERE seq = 4",
    )
    .execute(store.pool())
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");

    // ... so a tamperer with the file drops it first; the chain still tells.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_log SET event_json = replace(event_json, '\"changed\"', '\"already_in_place\"') \
         WHERE seq = 4",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Chain(ChainError::Altered { seq: 4, .. })),
        "{err}"
    );
    assert!(err.to_string().contains("seq 4"), "{err}");
}

#[tokio::test]
async fn an_indexed_column_altered_with_sql_is_detected() {
    let path = temp_db("column");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(store.pool())
        .await
        .unwrap();
    // Hide Tom's suspension from his history without touching the hashed event.
    sqlx::query("UPDATE audit_log SET identity_id = 'e9' WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::ColumnMismatch {
                seq: 4,
                column: "identity_id",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_row_deleted_with_sql_is_detected() {
    let path = temp_db("delete");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;
    let anchor = store.verify_audit().await.unwrap().head.unwrap();
    assert!(
        sqlx::query("DELETE FROM audit_log WHERE seq = 2")
            .execute(store.pool())
            .await
            .is_err(),
        "the trigger refuses deletes"
    );
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Chain(ChainError::UnexpectedSeq {
                expected: 2,
                found: 3,
                ..
            })
        ),
        "{err}"
    );

    // Deleting the last row is caught with the anchor.
    let path = temp_db("delete-last");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;
    let anchor_last = store.verify_audit().await.unwrap().head.unwrap();
    assert_eq!(anchor_last.seq, anchor.seq);
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(store.verify_audit().await.is_ok());
    let err = store
        .verify_audit_with_anchor(&anchor_last)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Chain(ChainError::Truncated {
                len: 6,
                anchor_seq: 6
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn the_three_queries() {
    let path = temp_db("queries");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;

    // History of one identity: every change, with its reason, in order.
    let sarah = store
        .identity_history(&IdentityId("e1".into()))
        .await
        .unwrap();
    let seqs: Vec<u64> = sarah.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 6]);
    assert!(sarah.iter().all(|r| r.event.identity.as_str() == "e1"));
    assert_eq!(
        sarah[1].event.reason.policies,
        vec!["Engineering Access".to_string()]
    );
    assert_eq!(
        sarah[3].event.reason.event.as_deref(),
        Some("run-3-trigger")
    );

    // Everything one run did.
    let run2 = store.run_history(&RunId("run-2".into())).await.unwrap();
    let actions: Vec<(&str, &str)> = run2
        .iter()
        .map(|r| (r.event.system.as_str(), r.event.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("okta", "revoke_sessions"),
            ("okta", "suspend_account"),
            ("slack", "suspend_account")
        ]
    );

    // Everything that touched okta in [t(1), t(30)): not the create at t(0), not the grant at t(30).
    let okta = store
        .system_history(&SystemName::new("okta"), t(1), t(30))
        .await
        .unwrap();
    let seqs: Vec<u64> = okta.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 3, 4]);
    assert!(
        store
            .system_history(&SystemName::new("gitlab"), t(0), t(60))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn export_is_verifiable_json_lines() {
    let path = temp_db("export");
    let store = SqliteStore::open(&path).await.unwrap();
    fill(&store).await;
    let mut out = Vec::new();
    assert_eq!(store.export_audit_jsonl(&mut out).await.unwrap(), 7);
    let records = read_jsonl(&out[..], "export").unwrap();
    assert_eq!(records, store.records().await.unwrap());
    assert_eq!(verify(&records).unwrap().records, 7);
}

fn plan() -> Plan {
    let op = |id: &str, kind| Operation {
        id: OperationId(id.into()),
        identity: IdentityId("e1".into()),
        login: "sarah@example.com".into(),
        system: SystemName::new("okta"),
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec![],
            event: None,
            detail: "joiner".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    };
    Plan {
        operations: vec![
            op(
                "e1/okta/grant/group/eng",
                OperationKind::Grant {
                    entitlement: Entitlement::new("okta", "group", "eng"),
                },
            ),
            op("e1/okta/revoke_sessions", OperationKind::RevokeSessions),
        ],
        dependencies: vec![],
    }
}

#[tokio::test]
async fn journal_keeps_runs_with_plans_and_entries_across_reopen() {
    let path = temp_db("journal");
    let store = SqliteStore::open(&path).await.unwrap();
    let run = RunId("run-j".into());
    store.begin_run(&run, &plan()).await.unwrap();
    store.begin_run(&run, &plan()).await.unwrap();
    assert!(matches!(
        store.begin_run(&run, &Plan::default()).await,
        Err(JournalError::RunConflict(_))
    ));
    let op = OperationId("e1/okta/grant/group/eng".into());
    let entries = vec![
        JournalEntry {
            run: run.clone(),
            operation: op.clone(),
            state: OperationState::InFlight { attempt: 1 },
            at: t(0),
        },
        JournalEntry {
            run: run.clone(),
            operation: op.clone(),
            state: OperationState::Succeeded {
                effect: Effect::Changed,
                external_id: None,
            },
            at: t(1),
        },
    ];
    for e in &entries {
        store.record(e).await.unwrap();
    }
    let ghost = JournalEntry {
        run: RunId("ghost".into()),
        ..entries[0].clone()
    };
    assert!(matches!(
        store.record(&ghost).await,
        Err(JournalError::UnknownRun(r)) if r.0 == "ghost"
    ));
    assert!(matches!(
        store.entries(&RunId("ghost".into())).await,
        Err(JournalError::UnknownRun(_))
    ));
    store.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.runs().await.unwrap(), vec![run.clone()]);
    assert_eq!(store.plan(&run).await.unwrap(), plan());
    assert_eq!(store.entries(&run).await.unwrap(), entries);
    let replayed = provision_core::journal::replay(&store.entries(&run).await.unwrap());
    assert_eq!(
        replayed.resume_action(&op),
        provision_core::journal::ResumeAction::Done
    );
}

#[tokio::test]
async fn recorded_outcome_is_the_latest_record_of_that_run_and_operation() {
    let store = SqliteStore::open(temp_db("recorded-outcome"))
        .await
        .unwrap();
    fill(&store).await;
    let grant = OperationId("e1/okta/grant".into());
    let run1 = RunId("run-1".into());
    assert_eq!(
        store.recorded_outcome(&run1, &grant).await.unwrap(),
        Some(AuditOutcome::Changed)
    );
    // Same operation id in run-3 only; nothing for it in run-2.
    assert_eq!(
        store
            .recorded_outcome(&RunId("run-2".into()), &grant)
            .await
            .unwrap(),
        None
    );
    let mut failed = event("run-1", "e1", "okta", "grant", t(40));
    failed.outcome = AuditOutcome::Failed {
        class: "permanent".into(),
        error: "HTTP 403 E0000006".into(),
    };
    store.append(failed.clone()).await.unwrap();
    assert_eq!(
        store.recorded_outcome(&run1, &grant).await.unwrap(),
        Some(failed.outcome)
    );
    store.close().await;
}

/// The database and its `-wal` and `-shm` files are readable by their owner only: they
/// hold HR data, the journal and the audit log.
#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_db("mode");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .append(event("run-1", "e1", "okta", "grant", t(0)))
        .await
        .unwrap();
    let mut files = vec![path.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}
