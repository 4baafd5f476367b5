//! Governance records in SQLite and PostgreSQL: what is stored reads back the same,
//! survives a reopen, refuses duplicates (a second decision on one item), and
//! cannot be changed or deleted from SQL. The PostgreSQL half runs with the
//! `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (see `postgres_store.rs`).

#![allow(clippy::unwrap_used)]

#[cfg(feature = "postgres")]
use crate::pg_url;
use chrono::{Duration, TimeZone, Utc};
use provision_core::drift::Severity;
use provision_core::model::{Entitlement, IdentityId, SystemName};
use provision_governance::review::ReviewScope;
use provision_governance::{
    AccessRequest, Approver, Campaign, CampaignClosure, Decision, Exception, ExceptionScope,
    GovernanceEvent, GovernanceStore, GovernanceStoreError, ItemKind, NoResponse, Outcome,
    RequestEvent, RequestEventKind, RequestState, ReviewItem,
};
use provision_store::SqliteStore;

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

fn exception() -> Exception {
    Exception {
        id: "exc-1".into(),
        identity: IdentityId::new("e1002"),
        scope: ExceptionScope::Entitlement {
            entitlement: Entitlement::new("slack", "channel", "#sales"),
        },
        rationale: "shadowing sales".into(),
        approver: "e1007".into(),
        starts_at: t0(),
        expires_at: t0() + Duration::days(30),
        recorded_at: t0(),
        renews: None,
        origin: None,
    }
}

fn request() -> AccessRequest {
    AccessRequest {
        id: "req-1".into(),
        requester: "e1003".into(),
        beneficiary: IdentityId::new("e1003"),
        entitlement: Entitlement::new("aws", "permission_set", "PaymentsAdmin"),
        starts_at: None,
        ends_at: t0() + Duration::hours(8),
        justification: "refund backlog".into(),
        approver: Approver::Person("cloud-lead".into()),
        self_approval_allowed: false,
        requested_at: t0(),
        events: Vec::new(),
    }
}

fn campaign() -> Campaign {
    Campaign {
        id: "rc-1".into(),
        name: "Q4 review".into(),
        scope: ReviewScope::all().department("Engineering"),
        opened_at: t0(),
        due_at: t0() + Duration::days(7),
        items: vec![ReviewItem {
            id: "i-0001".into(),
            kind: ItemKind::OutsidePolicy,
            severity: Severity::Medium,
            reviewer: "e1007".into(),
            identity: Some(IdentityId::new("e1002")),
            person: "Marcus Webb".into(),
            login: "marcus@company.com".into(),
            department: Some("Engineering".into()),
            system: SystemName::new("slack"),
            entitlement: Some(Entitlement::new("slack", "channel", "#sales-engineering")),
            rule: None,
            evidence: vec!["slack holds it; no policy gives it".into()],
            fix: "revoke it".into(),
            fix_operations: Vec::new(),
        }],
        certified: 12,
        grants_in_scope: 13,
        keep_until: Some(t0() + Duration::days(97)),
        no_response: NoResponse::Revoke,
        allow_self_review: false,
        escalated_from: None,
    }
}

fn closure() -> CampaignClosure {
    CampaignClosure {
        campaign: "rc-1".into(),
        closed_at: t0() + Duration::days(8),
        closed_by: "provision-cli:alice".into(),
        rule: NoResponse::Revoke,
        undecided: Vec::new(),
        escalated_to: None,
    }
}

fn decision(reviewer: &str) -> Decision {
    Decision {
        campaign: "rc-1".into(),
        item: "i-0001".into(),
        reviewer: reviewer.into(),
        outcome: Outcome::Revoke {
            reason: "not in Sales".into(),
        },
        decided_at: t0() + Duration::hours(1),
        exception: None,
        via: Some("csv import of e1007.csv by provision-cli:alice".into()),
    }
}

/// The same checks against any store.
async fn round_trip(store: &dyn GovernanceStore) {
    store.add_exception(&exception()).await.unwrap();
    assert!(matches!(
        store.add_exception(&exception()).await,
        Err(GovernanceStoreError::Duplicate(id)) if id == "exc-1"
    ));
    assert_eq!(store.exceptions().await.unwrap(), vec![exception()]);

    store.add_request(&request()).await.unwrap();
    let approved = RequestEvent {
        at: t0() + Duration::minutes(5),
        kind: RequestEventKind::Approved {
            by: "cloud-lead".into(),
        },
    };
    store.add_request_event("req-1", &approved).await.unwrap();
    assert!(store.add_request_event("req-404", &approved).await.is_err());
    let read = store.requests().await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].events, vec![approved]);
    assert_eq!(
        read[0].state(t0() + Duration::hours(1)),
        RequestState::Approved
    );

    store.add_campaign(&campaign()).await.unwrap();
    assert_eq!(store.campaign("rc-1").await.unwrap(), Some(campaign()));
    assert_eq!(store.campaign("rc-2").await.unwrap(), None);
    store.add_decision(&decision("e1007")).await.unwrap();
    assert!(matches!(
        store.add_decision(&decision("someone-else")).await,
        Err(GovernanceStoreError::Duplicate(_))
    ));
    assert_eq!(
        store.decisions("rc-1").await.unwrap(),
        vec![decision("e1007")]
    );
    assert_eq!(store.campaigns().await.unwrap(), vec![campaign()]);
    assert!(store.closures().await.unwrap().is_empty());
    store.add_closure(&closure()).await.unwrap();
    assert!(matches!(
        store.add_closure(&closure()).await,
        Err(GovernanceStoreError::Duplicate(id)) if id == "rc-1"
    ));
    assert_eq!(store.closures().await.unwrap(), vec![closure()]);

    let event = GovernanceEvent {
        at: t0(),
        kind: "sod_refusal".into(),
        actor: "hr-sync".into(),
        identity: Some("e1002".into()),
        subject: Some("Payments admin approves refunds".into()),
        detail: "refused".into(),
    };
    store.add_event(&event).await.unwrap();
    assert_eq!(store.events().await.unwrap(), vec![event]);
}

#[tokio::test]
async fn sqlite_keeps_governance_records_append_only_across_a_reopen() {
    let dir = std::env::temp_dir().join(format!("provision-gov-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("provision.db");
    let store = SqliteStore::open(&path).await.unwrap();
    round_trip(&store).await;
    for sql in [
        "UPDATE gov_exceptions SET record_json = '{}'",
        "DELETE FROM gov_decisions",
        "UPDATE gov_requests SET beneficiary = 'x'",
        "DELETE FROM gov_request_events",
        "DELETE FROM gov_campaigns",
        "UPDATE gov_events SET kind = 'x'",
        "DELETE FROM gov_campaign_closures",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    store.close().await;
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.exceptions().await.unwrap(), vec![exception()]);
    assert_eq!(again.decisions("rc-1").await.unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_keeps_governance_records_append_only() {
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    let Some(url) = pg_url::postgres_url("postgres_keeps_governance_records_append_only") else {
        return;
    };
    let admin = sqlx::postgres::PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_test_{}_governance", std::process::id());
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
    let store = provision_store::PostgresStore::connect_with(admin.database(&db))
        .await
        .unwrap();
    round_trip(&store).await;
    for sql in [
        "UPDATE gov_exceptions SET record_json = '{}'",
        "DELETE FROM gov_decisions",
        "DELETE FROM gov_request_events",
        "UPDATE gov_events SET kind = 'x'",
        "UPDATE gov_campaign_closures SET closed_us = 0",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}
