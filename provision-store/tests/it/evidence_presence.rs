//! Presence intervals in the SQLite store answer exactly as the in-memory store,
//! which keeps every collection's set of rows: for any sequence of collections
//! (rows vanishing and coming back, kinds changing, times out of order), every
//! period holds the same rows; and recording the latest collection again writes no
//! presence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use provision_core::audit::MemoryAuditLog;
use provision_core::model::SystemName;
use provision_evidence::{
    ControlMapping, EvidenceRow, EvidenceStore, Fingerprint, MemoryEvidenceStore, Period,
};
use provision_store::SqliteStore;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

/// Six rows of one system: four listings and two policies.
fn universe() -> Vec<EvidenceRow> {
    (0..6)
        .map(|i| {
            let kind = if i < 4 {
                "access.listing"
            } else {
                "okta.policy"
            };
            EvidenceRow::new(
                kind,
                "okta",
                Some(format!("s{i}")),
                t0(),
                "evidence-0",
                json!({"n": i}),
                &ControlMapping::defaults(),
            )
        })
        .collect()
}

async fn presence(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM evidence_presence")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn fingerprints(store: &dyn EvidenceStore, period: &Period) -> Vec<Fingerprint> {
    store
        .rows_in(period)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.fingerprint)
        .collect()
}

/// `collections`: (hour it is collected at, which of the six rows it saw).
async fn same_answers(collections: Vec<(i64, u8)>) {
    let dir = std::env::temp_dir().join(format!(
        "provision-evidence-presence-{}-{:x}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let sql = SqliteStore::open(dir.join("provision.db")).await.unwrap();
    let memory = MemoryEvidenceStore::new(Arc::new(MemoryAuditLog::new()));
    let rows = universe();
    let okta = SystemName::new("okta");
    for (n, (hour, mask)) in collections.iter().enumerate() {
        let seen: Vec<EvidenceRow> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| r.clone())
            .collect();
        let at = t0() + Duration::hours(*hour);
        let run = format!("evidence-{n}");
        let a = sql.record_collection(&run, &okta, at, &seen).await.unwrap();
        let b = memory
            .record_collection(&run, &okta, at, &seen)
            .await
            .unwrap();
        assert_eq!(a, b, "collection {n}");
    }
    for from in 0..8 {
        for to in from + 1..=8 {
            let period = Period::new(t0() + Duration::hours(from), t0() + Duration::hours(to));
            assert_eq!(
                fingerprints(&sql, &period).await,
                fingerprints(&memory, &period).await,
                "hours {from}..{to} after {collections:?}"
            );
        }
    }
    // The latest collection once more: no presence written.
    if let Some((hour, mask)) = collections.last() {
        let before = presence(&sql).await;
        let seen: Vec<EvidenceRow> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| r.clone())
            .collect();
        let again = sql
            .record_collection("again", &okta, t0() + Duration::hours(*hour), &seen)
            .await
            .unwrap();
        assert_eq!(again.new_rows, 0);
        assert_eq!(presence(&sql).await, before);
    }
    sql.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn presence_intervals_answer_as_every_collections_set(
        collections in prop::collection::vec((0i64..7, 0u8..64), 1..10)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(same_answers(collections));
    }
}
