//! SIEM delivery from a SQLite store: 5,000 audit records read by seq range, each
//! batch re-checked against the hash chain, written as JSON lines to a file (synced
//! per batch) and the cursor saved per batch — the whole path a sink's pump takes.
//!
//! ```text
//! cargo bench -p provision-store --bench siem
//! ```
//!
//! The store is filled once (appends are durable transactions and are not what is
//! measured); each iteration delivers everything from an empty cursor under a new
//! sink name, so every iteration reads and sends all records.
//!
//! Measured on the shared 2-core build machine (load average about 8), bench
//! profile: median 157 ms per 5,000 records (criterion interval 126–193 ms), about
//! 32,000 records a second including one `fsync` of the file per 500-record batch.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome};
use provision_core::model::{
    Entitlement, IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName,
};
use provision_siem::{DeliveryConfig, JsonLinesSink, SinkPump};
use provision_store::SqliteStore;

const RECORDS: u64 = 5_000;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc
            .timestamp_opt(1_790_000_000 + i as i64, 0)
            .single()
            .unwrap_or_default(),
        run: RunId(format!("run-{}", i / 1000)),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{:06}", i % 2000)),
        system: SystemName::new(["okta", "google", "aws", "slack"][(i % 4) as usize]),
        operation: OperationId(format!("e{i}/grant/group/engineering")),
        action: "grant".into(),
        entitlement: Some(Entitlement::new("okta", "group", "engineering-team")),
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["Engineering Access".into()],
            event: Some(format!("hr-event-{i}")),
            detail: "policy 'Engineering Access' matched department=Engineering".into(),
            valid_until: None,
        },
        note: None,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("provision-siem-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = rt.block_on(async {
        let store = SqliteStore::open(dir.join("provision.db"))
            .await
            .expect("store");
        for i in 0..RECORDS {
            store.append(event(i)).await.expect("append");
        }
        Arc::new(store)
    });
    let out = dir.join("siem.jsonl");
    let run = AtomicU64::new(0);
    let mut group = c.benchmark_group("siem");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("sqlite_to_jsonl_5000_records_batch_500", |b| {
        b.iter(|| {
            let n = run.fetch_add(1, Ordering::Relaxed);
            let _ = std::fs::remove_file(&out);
            let pump = SinkPump::new(
                Arc::new(JsonLinesSink::file(format!("bench-{n}"), &out).expect("sink")),
                store.clone(),
                store.clone(),
                DeliveryConfig::default().with_batch_size(500),
            );
            let delivered = rt.block_on(pump.deliver_pending()).expect("delivery");
            assert_eq!(delivered, RECORDS);
            black_box(delivered)
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
