//! The evidence cases both backends run: de-duplication by fingerprint, attached
//! evidence immutable by SQL, a tampered audit log refused before export naming the
//! first bad record, an empty period, and KPI figures from a known store.

#![allow(dead_code)]

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome};
use provision_core::config::{DeploymentConfig, ExternalOwnership, SystemConfig};
use provision_core::model::{
    Entitlement, IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName,
};
use provision_evidence::kpi;
use provision_evidence::produce::{self, RowContext};
use provision_evidence::{
    Assessment, ControlMapping, EvidenceConfig, EvidenceError, EvidenceRow, EvidenceStore,
    EvidenceStoreError, Period,
};
use serde_json::json;

/// What a case needs besides the store's API: raw SQL, as someone with database
/// access would run it.
#[async_trait]
pub trait Backend: EvidenceStore + AuditLog {
    /// Runs one statement; the database's error text on refusal.
    async fn exec(&self, sql: &str) -> Result<u64, String>;
    /// The statement that drops the audit log's update guard (as an attacker would).
    fn drop_audit_guard(&self) -> &'static str;
    /// The one integer a `SELECT COUNT(*) ..` returns.
    async fn count(&self, sql: &str) -> i64;
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn november() -> Period {
    Period::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    )
}

fn row(kind: &str, system: &str, subject: &str, data: serde_json::Value) -> EvidenceRow {
    EvidenceRow::new(
        kind,
        system,
        Some(subject.to_owned()),
        t0(),
        "evidence-1",
        data,
        &ControlMapping::defaults(),
    )
}

fn listing(subject: &str, grants: &[(&str, &[&str])]) -> EvidenceRow {
    let grants: Vec<_> = grants
        .iter()
        .map(|(e, t)| json!({"entitlement": e, "traced_to": t}))
        .collect();
    row(
        "access.listing",
        "okta",
        subject,
        json!({"identity": subject, "account": {"state": "active"}, "grants": grants}),
    )
}

pub async fn the_same_evidence_is_stored_once(store: &dyn Backend) {
    let okta = SystemName::new("okta");
    let rows = vec![
        listing("e1", &[("okta/group/eng", &["policy:Eng"])]),
        listing("e2", &[("okta/group/eng", &["policy:Eng"])]),
        row(
            "okta.mfa_enrollment",
            "okta",
            "ada",
            json!({"factors": ["webauthn"]}),
        ),
    ];
    let first = store
        .record_collection("evidence-1", &okta, t0(), &rows)
        .await
        .unwrap();
    assert_eq!((first.rows, first.new_rows), (3, 3));
    // The same facts collected an hour later by another run: nothing new is stored.
    let mut again = rows.clone();
    for r in &mut again {
        r.run = "evidence-2".into();
        r.collected_at = t0() + Duration::hours(1);
    }
    let second = store
        .record_collection("evidence-2", &okta, t0() + Duration::hours(1), &again)
        .await
        .unwrap();
    assert_eq!((second.rows, second.new_rows), (3, 0));
    assert_eq!(second.dedup_ratio(), 1.0);
    let stored = store.rows_in(&november()).await.unwrap();
    assert_eq!(stored.len(), 3);
    // The first collection's row is kept as it was.
    assert!(
        stored
            .iter()
            .all(|r| r.run == "evidence-1" && r.collected_at == t0())
    );
    assert!(stored.iter().all(EvidenceRow::fingerprint_holds));
    let mfa = stored
        .iter()
        .find(|r| r.kind == "okta.mfa_enrollment")
        .unwrap();
    assert_eq!(mfa.controls[0].as_str(), "SOC2-CC6.1");
    // Both sightings count for staleness.
    let collections = store.collections().await.unwrap();
    assert_eq!(collections.len(), 2);
    assert_eq!(collections[1].collected_at, t0() + Duration::hours(1));
    assert_eq!(collections[1].new_rows, 0);
    // Only the second run's sighting is in a period starting after the first.
    let later = Period::new(t0() + Duration::minutes(30), november().to);
    assert_eq!(store.rows_in(&later).await.unwrap().len(), 3);
    let before = Period::new(november().from, t0());
    assert!(store.rows_in(&before).await.unwrap().is_empty());
}

/// Rows `names` of the listing, in a collection at `t0 + hours`.
async fn collect(store: &dyn Backend, hours: i64, rows: &[EvidenceRow]) {
    store
        .record_collection(
            &format!("evidence-{hours}"),
            &SystemName::new("okta"),
            t0() + Duration::hours(hours),
            rows,
        )
        .await
        .unwrap();
}

/// The subjects of the rows seen in `[t0 + from, t0 + to)` hours.
async fn seen(store: &dyn Backend, from: i64, to: i64) -> Vec<String> {
    let period = Period::new(t0() + Duration::hours(from), t0() + Duration::hours(to));
    let mut subjects: Vec<String> = store
        .rows_in(&period)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.subject)
        .collect();
    subjects.sort();
    subjects
}

pub async fn an_unchanged_run_writes_no_presence_and_a_returning_row_keeps_its_periods(
    store: &dyn Backend,
) {
    let [a, b, c] = ["a", "b", "c"].map(|s| listing(s, &[("okta/group/eng", &["policy:Eng"])]));
    let policy = row("okta.policy", "okta", "p", json!({"mfa": "required"}));
    let presence = "SELECT COUNT(*) FROM evidence_presence";
    let all = [a.clone(), b.clone(), c.clone()];
    collect(store, 0, &all).await;
    assert_eq!(store.count(presence).await, 3);
    // A second identical run writes its collection and no presence at all.
    collect(store, 1, &all).await;
    assert_eq!(store.count(presence).await, 3);
    assert_eq!(
        store
            .count("SELECT COUNT(*) FROM evidence_presence WHERE last_collection_id IS NULL")
            .await,
        3
    );
    // b vanishes: its interval is closed, nothing is added.
    collect(store, 2, &[a.clone(), c.clone()]).await;
    assert_eq!(store.count(presence).await, 3);
    // b comes back: one new interval.
    collect(store, 3, &all).await;
    assert_eq!(store.count(presence).await, 4);
    // Another kind of evidence from the same system (a policy read on its own) is
    // its own stream: it does not close the listing's intervals.
    collect(store, 4, std::slice::from_ref(&policy)).await;
    collect(store, 5, &all).await;
    assert_eq!(store.count(presence).await, 5);
    assert_eq!(store.count("SELECT COUNT(*) FROM evidence_rows").await, 4);

    assert_eq!(seen(store, 0, 1).await, ["a", "b", "c"]);
    assert_eq!(seen(store, 1, 2).await, ["a", "b", "c"]);
    assert_eq!(seen(store, 2, 3).await, ["a", "c"]);
    assert_eq!(seen(store, 3, 4).await, ["a", "b", "c"]);
    assert_eq!(seen(store, 4, 5).await, ["p"]);
    assert_eq!(seen(store, 5, 6).await, ["a", "b", "c"]);
    assert_eq!(seen(store, 2, 5).await, ["a", "b", "c", "p"]);
    assert!(seen(store, 6, 7).await.is_empty());
    // A closed interval cannot be reopened or moved by SQL.
    let g = b.fingerprint.as_str();
    for sql in [
        format!("UPDATE evidence_presence SET last_collection_id = NULL WHERE fingerprint = '{g}'"),
        format!(
            "UPDATE evidence_presence SET last_collection_id = last_collection_id + 1 \
             WHERE fingerprint = '{g}' AND last_collection_id IS NOT NULL"
        ),
    ] {
        let err = store.exec(&sql).await.expect_err(&sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(seen(store, 2, 3).await, ["a", "c"]);
}

pub async fn attached_evidence_cannot_be_changed_by_sql(store: &dyn Backend) {
    let okta = SystemName::new("okta");
    let attached = listing("e1", &[("okta/group/eng", &["policy:Eng"])]);
    let loose = listing("e2", &[("okta/group/eng", &["policy:Eng"])]);
    store
        .record_collection(
            "evidence-1",
            &okta,
            t0(),
            &[attached.clone(), loose.clone()],
        )
        .await
        .unwrap();
    let soc2 = Assessment {
        id: "soc2-2026".into(),
        name: "SOC 2 Type II 2026".into(),
        period: november(),
    };
    store.create_assessment(&soc2).await.unwrap();
    assert!(matches!(
        store.create_assessment(&soc2).await,
        Err(EvidenceStoreError::AssessmentExists(_))
    ));
    let n = store
        .attach("soc2-2026", std::slice::from_ref(&attached.fingerprint))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let unknown = provision_evidence::Fingerprint("00".repeat(32));
    assert!(matches!(
        store.attach("soc2-2026", &[unknown]).await,
        Err(EvidenceStoreError::UnknownFingerprint(_))
    ));
    assert!(matches!(
        store
            .attach("nope", std::slice::from_ref(&loose.fingerprint))
            .await,
        Err(EvidenceStoreError::UnknownAssessment(_))
    ));

    let f = attached.fingerprint.as_str();
    for sql in [
        format!("UPDATE evidence_rows SET data_json = '{{}}' WHERE fingerprint = '{f}'"),
        format!("UPDATE evidence_rows SET controls_json = '[]' WHERE fingerprint = '{f}'"),
        format!("DELETE FROM evidence_rows WHERE fingerprint = '{f}'"),
        format!("DELETE FROM evidence_attachments WHERE fingerprint = '{f}'"),
        "UPDATE evidence_attachments SET assessment_id = 'other'".to_owned(),
        "DELETE FROM evidence_assessments".to_owned(),
        format!("DELETE FROM evidence_presence WHERE fingerprint = '{f}'"),
        "UPDATE evidence_presence SET first_collection_id = first_collection_id + 1".to_owned(),
        "UPDATE evidence_streams SET kinds_json = '[]'".to_owned(),
    ] {
        let err = store.exec(&sql).await.expect_err(&sql);
        assert!(
            err.contains("attached to an assessment") || err.contains("append-only"),
            "{sql}: {err}"
        );
    }
    let kept = store.attached("soc2-2026").await.unwrap();
    assert_eq!(kept, vec![attached.clone()]);
    // A row not attached can still be edited by SQL; the export then names it.
    let g = loose.fingerprint.as_str();
    store
        .exec(&format!(
            "UPDATE evidence_rows SET data_json = '{{\"grants\":[]}}' WHERE fingerprint = '{g}'"
        ))
        .await
        .unwrap();
    let err = provision_evidence::export(
        store,
        &EvidenceConfig::default(),
        &DeploymentConfig::default(),
        november(),
        &std::env::temp_dir().join(format!("evidence-altered-{}", std::process::id())),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EvidenceError::RowAltered { .. }), "{err}");
    assert!(err.to_string().contains(g), "{err}");
}

#[allow(clippy::too_many_arguments)] // a test helper spelling out one audit event
fn event(
    seq: i64,
    run: &str,
    identity: &str,
    system: &str,
    action: &str,
    entitlement: Option<Entitlement>,
    outcome: AuditOutcome,
    reason: Reason,
    at: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        at,
        run: RunId(run.into()),
        actor: "hr-sync".into(),
        identity: IdentityId(identity.into()),
        system: SystemName::new(system),
        operation: OperationId(format!("{identity}/{system}/{action}/{seq}")),
        action: action.into(),
        entitlement,
        outcome,
        reason,
        note: None,
    }
}

fn grant_reason() -> Reason {
    Reason {
        kind: ReasonKind::PolicyGrant,
        policies: vec!["Engineering".into()],
        event: Some("hr:hire".into()),
        detail: "policy 'Engineering' matched department=Engineering".into(),
        valid_until: None,
    }
}

fn termination(effective: DateTime<Utc>) -> Reason {
    Reason {
        kind: ReasonKind::Termination,
        policies: vec![],
        event: Some("hr:termination".into()),
        detail: format!(
            "identity terminated effective {}: suspend the account",
            effective.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        valid_until: None,
    }
}

/// Ten grants (nine changed, one failed), one pending; three leavers whose okta
/// access went 5, 10 and 20 minutes after termination (the third's google access
/// after 3 minutes); one grant on a group an external engine owns.
async fn known_audit_log(store: &dyn Backend) {
    let eng = |r: &str| Some(Entitlement::new("okta", "group", r));
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    for i in 0..10 {
        let outcome = if i == 9 {
            AuditOutcome::Failed {
                class: "permanent".into(),
                error: "400 E0000001 Api validation failed".into(),
            }
        } else {
            AuditOutcome::Changed
        };
        let resource = if i == 0 { "rule-sales" } else { "eng" };
        store
            .append(event(
                next(),
                "hire-1",
                &format!("j{i}"),
                "okta",
                "grant",
                eng(resource),
                outcome,
                grant_reason(),
                t0() + Duration::seconds(i),
            ))
            .await
            .unwrap();
    }
    store
        .append(event(
            next(),
            "hire-1",
            "j10",
            "gitlab",
            "create_account",
            None,
            AuditOutcome::Pending,
            grant_reason(),
            t0() + Duration::seconds(11),
        ))
        .await
        .unwrap();
    let start = t0() + Duration::hours(1);
    for (leaver, minutes) in [("l1", 5), ("l2", 10), ("l3", 20)] {
        store
            .append(event(
                next(),
                "term-1",
                leaver,
                "okta",
                "revoke_sessions",
                None,
                AuditOutcome::Changed,
                termination(start),
                start + Duration::minutes(1),
            ))
            .await
            .unwrap();
        store
            .append(event(
                next(),
                "term-1",
                leaver,
                "okta",
                "suspend_account",
                None,
                AuditOutcome::Changed,
                termination(start),
                start + Duration::minutes(minutes),
            ))
            .await
            .unwrap();
    }
    store
        .append(event(
            next(),
            "term-1",
            "l3",
            "google",
            "suspend_account",
            None,
            AuditOutcome::Changed,
            termination(start),
            start + Duration::minutes(3),
        ))
        .await
        .unwrap();
}

pub async fn kpis_from_a_known_store(store: &dyn Backend) {
    known_audit_log(store).await;
    let records = store.audit_between(&november()).await.unwrap();
    assert_eq!(records.len(), 18);
    let mapping = ControlMapping::defaults();
    let cx = RowContext {
        run: "evidence-1",
        at: t0() + Duration::hours(2),
        mapping: &mapping,
    };
    let mut rows = produce::lifecycle(&records, &cx);
    rows.extend(produce::leaver_timeliness(
        &records,
        &BTreeMap::new(),
        std::time::Duration::from_secs(900),
        &cx,
    ));
    rows.extend(produce::failed_and_pending(&records, &cx));
    rows.push(listing(
        "e1",
        &[
            ("okta/group/eng", &["policy:Eng"]),
            ("okta/group/admins", &[]),
        ],
    ));
    rows.push(listing(
        "e2",
        &[
            ("okta/group/eng", &["policy:Eng"]),
            ("okta/group/ops", &["request:REQ-7"]),
        ],
    ));
    // A leaver's grants on a suspended account give no access: not counted.
    rows.push(row(
        "access.listing",
        "okta",
        "l1",
        json!({"identity": "l1", "account": {"state": "suspended"}, "grants": [{"entitlement": "okta/group/eng", "traced_to": []}]}),
    ));
    store
        .record_collection("evidence-1", &SystemName::new("provision"), cx.at, &rows)
        .await
        .unwrap();

    let mut config = DeploymentConfig::default();
    let mut okta = SystemConfig::new("okta");
    okta.external_owners.push(ExternalOwnership {
        engine: "okta-group-rules".into(),
        kind: Some("group".into()),
        resource_prefix: Some("rule-".into()),
    });
    config.systems.insert(SystemName::new("okta"), okta);

    let stored = store.rows_in(&november()).await.unwrap();
    let records = store.audit_between(&november()).await.unwrap();
    let k = kpi::compute(november(), &records, &stored, &config, 900);

    // 18 operations: 9 grants and 7 leaver changes succeeded, 1 failed, 1 pending.
    assert_eq!(k.provisioning.operations, 18);
    assert_eq!(k.provisioning.failed, 1);
    assert_eq!(k.provisioning.pending, 1);
    assert_eq!(k.provisioning.succeeded, 16);
    assert_eq!(k.provisioning.rate, Some(16.0 / 17.0));

    let all = &k.deprovisioning[0];
    assert_eq!(all.system, "all");
    assert_eq!(all.leavers, 3);
    assert_eq!(all.p50_seconds, Some(600.0));
    assert_eq!(all.p95_seconds, Some(1200.0));
    assert_eq!(all.max_seconds, Some(1200.0));
    assert_eq!(all.over_target, 1);
    let google = k
        .deprovisioning
        .iter()
        .find(|d| d.system == "google")
        .unwrap();
    assert_eq!((google.leavers, google.max_seconds), (1, Some(180.0)));
    let okta = k
        .deprovisioning
        .iter()
        .find(|d| d.system == "okta")
        .unwrap();
    assert_eq!(
        (okta.leavers, okta.p50_seconds, okta.over_target),
        (3, Some(600.0), 1)
    );

    let c = &k.audit_completeness;
    assert_eq!((c.grants, c.traceable), (4, 3));
    assert_eq!(c.share, Some(0.75));
    assert_eq!(c.untraceable.len(), 1);
    assert_eq!(c.untraceable[0].identity, "e1");
    assert_eq!(c.untraceable[0].entitlement, "okta/group/admins");

    assert_eq!(k.boundary.changes, 10);
    assert_eq!(k.boundary.within_boundary, 9);
    assert_eq!(k.boundary.share, Some(0.9));
    assert!(k.request_cycle.is_none());

    // Lifecycle rows: the three leavers; failed and pending operations one row each.
    let leavers = stored
        .iter()
        .filter(|r| r.kind == "lifecycle.leaver")
        .count();
    assert_eq!(leavers, 3);
    let failed = stored
        .iter()
        .filter(|r| r.kind == "operation.failed")
        .count();
    let pending = stored
        .iter()
        .filter(|r| r.kind == "operation.pending")
        .count();
    assert_eq!((failed, pending), (1, 1));
}

pub async fn a_tampered_audit_log_is_refused_before_export(store: &dyn Backend) {
    known_audit_log(store).await;
    let rows = vec![listing("e1", &[("okta/group/eng", &["policy:Eng"])])];
    store
        .record_collection("evidence-1", &SystemName::new("okta"), t0(), &rows)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("evidence-tamper-{}", std::process::id()));
    let config = EvidenceConfig::default();
    let deployment = DeploymentConfig::default();
    // Untouched, it exports.
    let (bundle, files) = provision_evidence::export(store, &config, &deployment, november(), &dir)
        .await
        .unwrap();
    assert_eq!(bundle.audit_head.as_ref().unwrap().seq, 17);
    assert!(files.html.exists());
    let _ = std::fs::remove_dir_all(&dir);

    // Someone drops the guard and rewrites record 4's outcome.
    store.exec(store.drop_audit_guard()).await.unwrap();
    store
        .exec(
            "UPDATE audit_log SET event_json = REPLACE(event_json, 'changed', 'already_in_place') \
             WHERE seq = 4",
        )
        .await
        .unwrap();
    let err = provision_evidence::export(store, &config, &deployment, november(), &dir)
        .await
        .unwrap_err();
    match &err {
        EvidenceError::Store(EvidenceStoreError::AuditTampered { seq, .. }) => {
            assert_eq!(*seq, 4)
        }
        other => panic!("expected tampering at seq 4, got {other}"),
    }
    assert!(err.to_string().contains("seq 4"), "{err}");
    assert!(!dir.exists(), "nothing written");
}

pub async fn an_empty_period_says_so(store: &dyn Backend) {
    let err = provision_evidence::export(
        store,
        &EvidenceConfig::default(),
        &DeploymentConfig::default(),
        november(),
        &std::env::temp_dir().join("never-written"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EvidenceError::EmptyPeriod { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "no evidence and no audit record in the period 2026-11-01T00:00:00Z to \
         2026-12-01T00:00:00Z: nothing to export"
    );
}
