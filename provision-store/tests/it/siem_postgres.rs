//! SIEM streaming from the PostgreSQL store: range reads and the cursor that never
//! moves backwards (needs `PROVISION_TEST_POSTGRES_URL`; see `pg_url`).
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use crate::pg_url;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome};
use provision_core::model::{IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName};
use provision_siem::{
    AuditFeed, CursorStore, DeliveryConfig, JsonLinesSink, SiemEvent, SinkCursor, SinkPump,
};
use provision_store::PostgresStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

async fn fresh(name: &str) -> Option<PostgresStore> {
    let url = pg_url::postgres_url(name)?;
    let admin = PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_test_{}_{name}", std::process::id());
    let mut conn = admin.connect().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    Some(
        PostgresStore::connect_with(admin.database(&db))
            .await
            .unwrap(),
    )
}

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_790_000_000 + i as i64, 0).unwrap(),
        run: RunId("run-pg".into()),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{i}")),
        system: SystemName::new("okta"),
        operation: OperationId(format!("e{i}/okta/suspend")),
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

#[tokio::test]
async fn postgres_feed_and_cursor() {
    let Some(store) = fresh("siem_cursor").await else {
        return;
    };
    for i in 0..6 {
        store.append(event(i)).await.unwrap();
    }
    let page = store.records_after(Some(1), 3).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );

    let at = |r: &provision_core::audit::AuditRecord| SinkCursor {
        seq: r.seq,
        hash: r.hash.clone(),
    };
    store.save("s", &at(&page[2])).await.unwrap();
    store.save("s", &at(&page[0])).await.unwrap();
    assert_eq!(store.load("s").await.unwrap(), Some(at(&page[2])));

    let out = std::env::temp_dir().join(format!("provision-siem-pg-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let store = Arc::new(store);
    let pump = SinkPump::new(
        Arc::new(JsonLinesSink::file("pg-file", &out).unwrap()),
        store.clone(),
        store.clone(),
        DeliveryConfig::default().with_batch_size(4),
    );
    assert_eq!(pump.deliver_pending().await.unwrap(), 6);
    store.append(event(6)).await.unwrap();
    assert_eq!(pump.deliver_pending().await.unwrap(), 1);
    let seqs: Vec<u64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<SiemEvent>(l).unwrap().seq().unwrap())
        .collect();
    assert_eq!(seqs, (0..7).collect::<Vec<_>>());
    assert_eq!(store.load("pg-file").await.unwrap().unwrap().seq, 6);
    std::fs::remove_file(&out).unwrap();
}
