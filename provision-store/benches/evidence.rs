//! Evidence generation and export at a large company's size: 100,000 people, about
//! a million grants over seven systems, 30 days of changes in the audit log
//! (joiners, movers, leavers). Prints, once, the figures for the note: the time to
//! produce the rows, to store them in SQLite, a second identical run (its
//! de-duplication ratio should be 100 %), the export of the 30-day bundle, and the
//! peak resident memory of each step; then criterion measures row production.
//!
//! Reading the systems is not part of it (the planner bench measures reads and
//! correlation at this size); the rows are made from the states a read gives.
//!
//! ```sh
//! cargo bench -p provision-store --bench evidence -- --test        # smoke, 2,000 people
//! EVIDENCE_BENCH_PEOPLE=100000 cargo bench -p provision-store --bench evidence -- --test
//! ```
//!
//! `EVIDENCE_BENCH_KEEP=1` keeps the bundle (to open its report).

#![allow(clippy::unwrap_used, clippy::needless_range_loop)] // a bench: a panic is a failed setup

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use provision_core::audit::{AuditEvent, AuditOutcome, ChainHead};
use provision_core::config::DeploymentConfig;
use provision_core::model::{
    AccountRecord, AccountState, ActualAccount, ActualIdentity, ActualState, DesiredGrant,
    DesiredIdentity, DesiredState, Entitlement, Identity, IdentityId, OperationId, Provenance,
    Reason, ReasonKind, RunId, SystemName, Validity,
};
use provision_evidence::produce::{self, ApprovedGrants, RowContext};
use provision_evidence::{
    ControlMapping, EvidenceConfig, EvidenceRow, EvidenceStore, Period, Recorded,
};
use provision_store::SqliteStore;

const SYSTEMS: [&str; 7] = [
    "okta",
    "google",
    "aws",
    "gitlab",
    "slack",
    "jira",
    "salesforce",
];
const GRANTS_PER_PERSON: usize = 10;
const DAYS: i64 = 30;

fn people() -> usize {
    std::env::var("EVIDENCE_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// Peak resident set size so far, in MiB (Linux `VmHWM`).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak (Linux >= 4.0: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Who holds what: each person has an account in five systems and ten grants; one
/// grant in a hundred is given by no policy.
fn states(n: usize) -> (ActualState, DesiredState) {
    let mut actual = ActualState::default();
    let mut desired = DesiredState::default();
    let provenance = vec![Provenance::policy(
        "Department access",
        Arc::new(BTreeMap::from([(
            "department".into(),
            "Engineering".into(),
        )])),
    )];
    for i in 0..n {
        let id = IdentityId(format!("e{i:06}"));
        let login = format!("user{i:06}@example.com");
        let mut person = ActualIdentity::default();
        let mut grants = BTreeMap::new();
        for s in 0..5 {
            let system = SystemName::new(SYSTEMS[(i + s) % SYSTEMS.len()]);
            person.accounts.insert(
                system.clone(),
                ActualAccount {
                    external_id: format!("{}-{i}", system.as_str()),
                    state: AccountState::Active,
                    record: AccountRecord::new(
                        format!("{}-{i}", system.as_str()),
                        login.clone(),
                        AccountState::Active,
                    ),
                },
            );
        }
        for g in 0..GRANTS_PER_PERSON {
            let system = SYSTEMS[(i + g) % 5 % SYSTEMS.len()];
            let e = Entitlement::new(system, "group", format!("team-{}-{}", i % 200, g));
            person.grants.insert(e.clone());
            if !(i * GRANTS_PER_PERSON + g).is_multiple_of(100) {
                grants.insert(
                    e,
                    DesiredGrant {
                        provenance: provenance.clone(),
                        validity: Validity::default(),
                    },
                );
            }
        }
        actual.identities.insert(id.clone(), person);
        desired.identities.insert(
            id.clone(),
            DesiredIdentity {
                identity: Identity::new(id.0.clone(), login.clone(), format!("User {i}")),
                accounts: BTreeSet::new(),
                grants,
                expired: BTreeMap::new(),
            },
        );
    }
    (actual, desired)
}

fn reason(kind: ReasonKind, detail: String) -> Reason {
    Reason {
        kind,
        policies: if kind == ReasonKind::Termination {
            vec![]
        } else {
            vec!["Department access".into()]
        },
        event: Some("hr".into()),
        detail,
        valid_until: None,
    }
}

/// 30 days of changes scaled to the population (at 100,000 people: per day 100
/// joiners, 50 movers and 30 leavers, about 33,000 audit records).
fn changes(n: usize) -> Vec<AuditEvent> {
    let per_day = |k: usize| (n * k / 100_000).max(1);
    let mut events = Vec::new();
    let mut next_person = 0usize;
    for day in 0..DAYS {
        let t = start() + Duration::days(day) + Duration::hours(9);
        let run = RunId(format!("day-{day}"));
        let mut push =
            |who: usize, system: &str, action: &str, e: Option<Entitlement>, r: Reason, at| {
                events.push(AuditEvent {
                    at,
                    run: run.clone(),
                    actor: "hr-sync".into(),
                    identity: IdentityId(format!("e{who:06}")),
                    system: SystemName::new(system),
                    operation: OperationId(format!(
                        "e{who:06}/{system}/{action}/{}",
                        events_len_hint(&e)
                    )),
                    action: action.into(),
                    entitlement: e,
                    outcome: AuditOutcome::Changed,
                    reason: r,
                    note: None,
                })
            };
        for _ in 0..per_day(100) {
            let who = next_person % n;
            next_person += 1;
            push(
                who,
                "okta",
                "create_account",
                None,
                reason(ReasonKind::PolicyGrant, "joiner".into()),
                t,
            );
            for g in 0..5 {
                let e = Entitlement::new(SYSTEMS[g], "group", format!("team-{}-{g}", who % 200));
                push(
                    who,
                    SYSTEMS[g],
                    "grant",
                    Some(e),
                    reason(ReasonKind::PolicyGrant, "joiner".into()),
                    t + Duration::seconds(g as i64),
                );
            }
        }
        for _ in 0..per_day(50) {
            let who = next_person % n;
            next_person += 1;
            for g in 0..2 {
                let e = Entitlement::new(SYSTEMS[g], "group", format!("team-{}-{g}", who % 200));
                push(
                    who,
                    SYSTEMS[g],
                    "revoke",
                    Some(e),
                    reason(ReasonKind::PolicyRemoved, "mover".into()),
                    t + Duration::minutes(1),
                );
                let e =
                    Entitlement::new(SYSTEMS[g], "group", format!("team-{}-{g}", (who + 1) % 200));
                push(
                    who,
                    SYSTEMS[g],
                    "grant",
                    Some(e),
                    reason(ReasonKind::PolicyGrant, "mover".into()),
                    t + Duration::minutes(1),
                );
            }
        }
        for l in 0..per_day(30) {
            let who = next_person % n;
            next_person += 1;
            let effective = t + Duration::hours(8);
            let detail = format!(
                "identity terminated effective {}: suspend the account",
                effective.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
            for s in 0..5 {
                let at = effective + Duration::seconds(60 + (l as i64 * 37 + s as i64 * 11) % 1200);
                push(
                    who,
                    SYSTEMS[s],
                    "suspend_account",
                    None,
                    reason(ReasonKind::Termination, detail.clone()),
                    at,
                );
            }
        }
    }
    events
}

fn events_len_hint(e: &Option<Entitlement>) -> String {
    e.as_ref()
        .map_or_else(|| "account".to_owned(), |e| e.resource.clone())
}

/// Writes the audit log straight into the table (one transaction; the chain sealed
/// as the store would), so the bench spends its time on evidence.
async fn seed_audit(store: &SqliteStore, events: Vec<AuditEvent>) {
    let mut head = ChainHead::genesis();
    let mut tx = store.pool().begin().await.unwrap();
    for event in events {
        let record = head.seal(event).unwrap();
        let e = &record.event;
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, run_id, identity_id, system, operation_id, \
             action, event_json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(record.seq as i64)
        .bind(e.at.timestamp_micros())
        .bind(e.run.0.as_str())
        .bind(e.identity.as_str())
        .bind(e.system.as_str())
        .bind(e.operation.0.as_str())
        .bind(e.action.as_str())
        .bind(serde_json::to_string(e).unwrap())
        .bind(record.prev_hash.as_str())
        .bind(record.hash.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// One evidence run's rows, per system, as `Collector::collect` makes them
/// after its read.
fn produce_rows(
    actual: &ActualState,
    desired: &DesiredState,
    records: &[provision_core::audit::AuditRecord],
    run: &str,
    at: DateTime<Utc>,
    mapping: &ControlMapping,
) -> BTreeMap<SystemName, Vec<EvidenceRow>> {
    let cx = RowContext { run, at, mapping };
    let systems: Vec<SystemName> = SYSTEMS.iter().map(|s| SystemName::new(*s)).collect();
    let mut by_system =
        produce::access_listing(&systems, actual, desired, &ApprovedGrants::new(), &cx);
    let mut sdk = produce::lifecycle(records, &cx);
    sdk.extend(produce::leaver_timeliness(
        records,
        &BTreeMap::new(),
        std::time::Duration::from_secs(900),
        &cx,
    ));
    sdk.extend(produce::failed_and_pending(records, &cx));
    by_system.insert(SystemName::new("provision"), sdk);
    by_system
}

async fn store_rows(
    store: &SqliteStore,
    run: &str,
    at: DateTime<Utc>,
    rows: &BTreeMap<SystemName, Vec<EvidenceRow>>,
) -> Recorded {
    let mut total = Recorded::default();
    for (system, rows) in rows {
        total.add(
            store
                .record_collection(run, system, at, rows)
                .await
                .unwrap(),
        );
    }
    total
}

/// Presence intervals stored, and the database's size in MB (with its WAL).
async fn footprint(store: &SqliteStore, dir: &std::path::Path) -> (i64, f64) {
    let presence: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_presence")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let size = ["provision.db", "provision.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
        .sum::<u64>() as f64
        / 1e6;
    (presence, size)
}

fn figures(c: &mut Criterion) {
    let n = people();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("provision-evidence-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.join("provision.db")))
        .unwrap();

    let (actual, desired) = states(n);
    let grants: usize = actual.identities.values().map(|p| p.grants.len()).sum();
    let events = changes(n);
    let audit_len = events.len();
    rt.block_on(seed_audit(&store, events));
    let period = Period::new(start(), start() + Duration::days(DAYS + 1));
    let records = rt.block_on(store.audit_between(&period)).unwrap();
    let mapping = ControlMapping::defaults();
    let at = start() + Duration::days(DAYS);
    eprintln!(
        "evidence bench: {n} people, {grants} grants, {audit_len} audit records over {DAYS} days; setup peak {:.0} MiB",
        peak_mib()
    );

    reset_peak();
    let t = Instant::now();
    let rows = produce_rows(&actual, &desired, &records, "evidence-1", at, &mapping);
    let produced = t.elapsed();
    let count: usize = rows.values().map(Vec::len).sum();
    let t = Instant::now();
    let first = rt.block_on(store_rows(&store, "evidence-1", at, &rows));
    let stored = t.elapsed();
    drop(rows);
    let (presence, size) = rt.block_on(footprint(&store, &dir));
    eprintln!(
        "first run: {count} rows produced in {:.2} s, stored in {:.2} s ({} new, {presence} presence intervals, database {size:.0} MB); peak {:.0} MiB",
        produced.as_secs_f64(),
        stored.as_secs_f64(),
        first.new_rows,
        peak_mib()
    );

    reset_peak();
    let t = Instant::now();
    let at2 = at + Duration::hours(1);
    let rows = produce_rows(&actual, &desired, &records, "evidence-2", at2, &mapping);
    let produced = t.elapsed();
    let t = Instant::now();
    let second = rt.block_on(store_rows(&store, "evidence-2", at2, &rows));
    let second_time = t.elapsed();
    drop(rows);
    let (presence, size) = rt.block_on(footprint(&store, &dir));
    eprintln!(
        "second identical run: {} rows, {} new, de-duplication {:.2} %, produced in {:.2} s, stored in {:.2} s ({presence} presence intervals, database {size:.0} MB); peak {:.0} MiB",
        second.rows,
        second.new_rows,
        second.dedup_ratio() * 100.0,
        produced.as_secs_f64(),
        second_time.as_secs_f64(),
        peak_mib()
    );

    reset_peak();
    let t = Instant::now();
    let (bundle, files) = rt
        .block_on(provision_evidence::export(
            &store,
            &EvidenceConfig::default(),
            &DeploymentConfig::default(),
            period,
            &dir.join("bundle"),
        ))
        .unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6;
    eprintln!(
        "export of the {DAYS}-day bundle: {} rows in {:.2} s (jsonl {:.0} MB, csv {:.0} MB, html {:.1} MB); audit completeness {:.2} %; peak {:.0} MiB",
        bundle.rows.len(),
        t.elapsed().as_secs_f64(),
        size(&files.jsonl),
        size(&files.csv),
        size(&files.html),
        bundle.kpis.audit_completeness.share.unwrap_or(0.0) * 100.0,
        peak_mib()
    );
    drop(bundle);

    let mut group = c.benchmark_group("evidence");
    group.sample_size(10);
    group.bench_function(format!("produce_rows_{n}_people"), |b| {
        b.iter(|| produce_rows(&actual, &desired, &records, "evidence-x", at, &mapping))
    });
    group.finish();
    rt.block_on(store.close());
    if std::env::var_os("EVIDENCE_BENCH_KEEP").is_some() {
        eprintln!("bundle kept in {}", dir.join("bundle").display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

criterion_group!(benches, figures);
criterion_main!(benches);
