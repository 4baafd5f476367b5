//! SIEM streaming from the SQLite store: the cursor survives a restart of the
//! process (the store reopened), never moves backwards, and an edited row is
//! refused before it reaches a SIEM.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome};
use provision_core::model::{IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName};
use provision_siem::{
    AuditFeed, CursorStore, DeliveryConfig, JsonLinesSink, SiemError, SiemEvent, SinkCursor,
    SinkPump,
};
use provision_store::SqliteStore;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_790_000_000 + i as i64, 0).unwrap(),
        run: RunId("run-9".into()),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{i}")),
        system: SystemName::new("google"),
        operation: OperationId(format!("e{i}/google/suspend")),
        action: "suspend_account".into(),
        entitlement: None,
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: None,
            detail: "terminated".into(),
            valid_until: None,
        },
        note: None,
    }
}

fn dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-siem-store-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seqs_in(path: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<SiemEvent>(l).unwrap().seq().unwrap())
        .collect()
}

async fn pump(store: &SqliteStore, out: &std::path::Path) -> SinkPump {
    let store = Arc::new(store.clone());
    SinkPump::new(
        Arc::new(JsonLinesSink::file("siem-file", out).unwrap()),
        store.clone(),
        store,
        DeliveryConfig::default().with_batch_size(3),
    )
}

#[tokio::test]
async fn cursor_survives_reopening_the_store_and_each_record_goes_out_once() {
    let dir = dir("reopen");
    let db = dir.join("provision.db");
    let out = dir.join("siem.jsonl");
    let store = SqliteStore::open(&db).await.unwrap();
    for i in 0..7 {
        store.append(event(i)).await.unwrap();
    }
    assert_eq!(pump(&store, &out).await.deliver_pending().await.unwrap(), 7);
    store.close().await;

    let store = SqliteStore::open(&db).await.unwrap();
    assert_eq!(store.load("siem-file").await.unwrap().unwrap().seq, 6);
    for i in 7..11 {
        store.append(event(i)).await.unwrap();
    }
    assert_eq!(pump(&store, &out).await.deliver_pending().await.unwrap(), 4);
    assert_eq!(pump(&store, &out).await.deliver_pending().await.unwrap(), 0);
    assert_eq!(seqs_in(&out), (0..11).collect::<Vec<_>>());
    assert_eq!(store.load("another-sink").await.unwrap(), None);
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_stored_cursor_never_moves_backwards_and_reads_are_ranges() {
    let dir = dir("backwards");
    let store = SqliteStore::open(dir.join("provision.db")).await.unwrap();
    for i in 0..5 {
        store.append(event(i)).await.unwrap();
    }
    let records = store.records().await.unwrap();
    let at = |i: usize| SinkCursor {
        seq: records[i].seq,
        hash: records[i].hash.clone(),
    };
    store.save("s", &at(3)).await.unwrap();
    store.save("s", &at(1)).await.unwrap();
    assert_eq!(store.load("s").await.unwrap(), Some(at(3)));
    store.save("s", &at(4)).await.unwrap();
    assert_eq!(store.load("s").await.unwrap(), Some(at(4)));

    let page = store.records_after(Some(1), 2).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(store.records_after(None, 10).await.unwrap(), records);
    assert!(store.records_after(Some(4), 10).await.unwrap().is_empty());
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_edited_row_is_refused_before_it_reaches_the_siem() {
    let dir = dir("edited");
    let out = dir.join("siem.jsonl");
    let store = SqliteStore::open(dir.join("provision.db")).await.unwrap();
    for i in 0..4 {
        store.append(event(i)).await.unwrap();
    }
    // Someone with file access drops the trigger and moves record 2 to another system.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET system = 'slack' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let err = pump(&store, &out)
        .await
        .deliver_pending()
        .await
        .unwrap_err();
    assert!(matches!(err, SiemError::Feed(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("seq 2") && message.contains("system"),
        "{message}"
    );
    // Nothing of the batch holding the edited row went out.
    assert_eq!(seqs_in(&out), Vec::<u64>::new());
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
