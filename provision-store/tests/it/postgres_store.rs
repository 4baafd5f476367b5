//! The PostgreSQL store. Runs only with the `postgres` feature and a server named
//! by `PROVISION_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! otherwise each test prints why it is skipped and passes. Each test creates its
//! own database on that server.
//!
//! A throwaway server on loopback, with Debian's `postgresql` package (not as root):
//!
//! ```text
//! su postgres -s /bin/sh -c '/usr/lib/postgresql/15/bin/initdb -D /tmp/pg/data -A trust -U postgres &&
//!   /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg/data -l /tmp/pg/log \
//!     -o "-p 55433 -k /tmp/pg -c listen_addresses=127.0.0.1" start'
//! PROVISION_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:55433/postgres \
//!   cargo test -p provision-store --features postgres
//! ```
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use crate::pg_url;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome, ChainError};
use provision_core::journal::{Journal, JournalEntry, JournalError, OperationState, RunId};
use provision_core::model::{
    IdentityId, Operation, OperationId, OperationKind, Plan, Priority, Reason, ReasonKind,
    SystemName,
};
use provision_store::{PostgresStore, StoreError, schema::SCHEMA_VERSION};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// A fresh database for one test, or `None` (with a message) when no server is configured.
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

fn event(run: &str, identity: &str, system: &str, minute: i64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_770_000_000 + minute * 60, 0).unwrap(),
        run: RunId(run.into()),
        actor: "hr-sync".into(),
        identity: IdentityId(identity.into()),
        system: SystemName::new(system),
        operation: OperationId(format!("{identity}/{system}/suspend_account")),
        action: "suspend_account".into(),
        entitlement: None,
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: Some("hr-9".into()),
            detail: "terminated".into(),
            valid_until: None,
        },
        note: None,
    }
}

fn plan(n: usize) -> Plan {
    Plan {
        operations: (0..n)
            .map(|i| Operation {
                id: OperationId(format!("e{i}/okta/suspend_account")),
                identity: IdentityId(format!("e{i}")),
                login: format!("e{i}@example.com"),
                system: SystemName::new("okta"),
                kind: OperationKind::SuspendAccount,
                reason: Reason {
                    kind: ReasonKind::Termination,
                    policies: vec![],
                    event: None,
                    detail: "terminated".into(),
                    valid_until: None,
                },
                priority: Priority::Leaver,
            })
            .collect(),
        dependencies: vec![],
    }
}

#[tokio::test]
async fn migrates_verifies_and_detects_sql_tampering() {
    let Some(store) = fresh("tamper").await else {
        return;
    };
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    for i in 0..5 {
        store
            .append(event(
                "run-1",
                &format!("e{}", i % 2),
                if i < 3 { "okta" } else { "slack" },
                i,
            ))
            .await
            .unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap().records, 5);

    // Queries.
    let e0: Vec<u64> = store
        .identity_history(&IdentityId("e0".into()))
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(e0, vec![0, 2, 4]);
    assert_eq!(
        store
            .run_history(&RunId("run-1".into()))
            .await
            .unwrap()
            .len(),
        5
    );
    let okta: Vec<u64> = store
        .system_history(
            &SystemName::new("okta"),
            Utc.timestamp_opt(1_770_000_000 + 60, 0).unwrap(),
            Utc.timestamp_opt(1_770_000_000 + 600, 0).unwrap(),
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(okta, vec![1, 2]);

    // Export: JSON lines an auditor can verify on their own.
    let mut out = Vec::new();
    assert_eq!(store.export_audit_jsonl(&mut out).await.unwrap(), 5);
    let exported = provision_core::audit::read_jsonl(&out[..], "export").unwrap();
    assert_eq!(provision_core::audit::verify(&exported).unwrap().records, 5);

    // The trigger refuses updates; with it disabled, the chain shows the change.
    assert!(
        sqlx::query(
            "UPDATE audit_log SET event_json = replace(event_json, 'e1', 'e7') WHERE seq = 3"
        )
        .execute(store.pool())
        .await
        .is_err()
    );
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET event_json = replace(event_json, 'e1', 'e7') WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Chain(ChainError::Altered { seq: 3, .. })),
        "{err}"
    );
    sqlx::query("DELETE FROM audit_log WHERE seq = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Chain(ChainError::UnexpectedSeq { expected: 1, .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn appends_from_two_instances_form_one_chain() {
    let Some(a) = fresh("chain").await else {
        return;
    };
    let b = PostgresStore::connect_with(a.pool().connect_options().as_ref().clone())
        .await
        .unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                s.append(event("run-c", &format!("e{w}"), "okta", i))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(a.verify_audit().await.unwrap().records, 120);
}

#[tokio::test]
async fn journal_round_trip() {
    let Some(store) = fresh("journal").await else {
        return;
    };
    let run = RunId("run-j".into());
    store.begin_run(&run, &plan(3)).await.unwrap();
    store.begin_run(&run, &plan(3)).await.unwrap();
    assert!(matches!(
        store.begin_run(&run, &plan(2)).await,
        Err(JournalError::RunConflict(_))
    ));
    let entry = JournalEntry {
        run: run.clone(),
        operation: OperationId("e0/okta/suspend_account".into()),
        state: OperationState::InFlight { attempt: 1 },
        at: Utc::now(),
    };
    store.record(&entry).await.unwrap();
    assert_eq!(store.plan(&run).await.unwrap(), plan(3));
    let back = store.entries(&run).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].state, entry.state);
    let ghost = JournalEntry {
        run: RunId("ghost".into()),
        ..entry
    };
    assert!(matches!(
        store.record(&ghost).await,
        Err(JournalError::UnknownRun(_))
    ));
}

#[tokio::test]
async fn two_instances_never_hold_the_same_operation() {
    let Some(a) = fresh("claims").await else {
        return;
    };
    let b = PostgresStore::connect_with(a.pool().connect_options().as_ref().clone())
        .await
        .unwrap();
    let run = RunId("run-l".into());
    a.begin_run(&run, &plan(40)).await.unwrap();

    // Both instances take work at once until nothing is left; each operation goes to one.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = Vec::new();
    for (store, owner) in [(a.clone(), "instance-a"), (b.clone(), "instance-b")] {
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_next(&run, owner, Duration::from_secs(60), 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                for c in got {
                    assert!(store.complete(&c).await.unwrap());
                    mine.push(c.operation);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 40, "every operation claimed exactly once");
    assert_eq!(unique.len(), 40);

    // A live lease blocks the other instance; an expired one does not; done is done.
    let run2 = RunId("run-l2".into());
    a.begin_run(&run2, &plan(2)).await.unwrap();
    let op = OperationId("e0/okta/suspend_account".into());
    let held = a
        .claim(&run2, &op, "instance-a", Duration::from_millis(300))
        .await
        .unwrap();
    assert!(held.is_some());
    assert!(
        b.claim(&run2, &op, "instance-b", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = b
        .claim(&run2, &op, "instance-b", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !a.complete(&held.unwrap()).await.unwrap(),
        "a lost its lease"
    );
    assert!(b.complete(&taken).await.unwrap());
    assert!(
        a.claim(&run2, &op, "instance-a", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
}

/// Needs no server: the password in the URL appears in no error and no Debug output.
#[tokio::test]
async fn the_database_password_never_shows() {
    let url = provision_core::secret::SecretString::from(
        "postgres://provision:Sup3rS3cretPw@127.0.0.1:1/provision".to_owned(),
    );
    let err = PostgresStore::connect(&url).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Sup3rS3cretPw"), "{shown}");
    assert!(shown.contains("database"), "{shown}");

    let Some(store) = fresh("debug").await else {
        return;
    };
    let debug = format!("{store:?}");
    assert!(debug.starts_with("PostgresStore"), "{debug}");
    assert!(!debug.contains("127.0.0.1"), "{debug}");
}

/// The attack from the service's own database user: drop the append-only trigger,
/// delete the last records, and `audit verify` still passes. As the least-privileged
/// service role none of that is possible (it owns nothing); the owner still can, and
/// an anchor published before (`audit verify --anchor SEQ:HASH`) catches the cut.
#[tokio::test]
async fn the_service_role_cannot_cut_the_audit_log_and_an_anchor_catches_the_owner() {
    let Some(owner) = fresh("least").await else {
        return;
    };
    let role = format!("provision_svc_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
        .execute(owner.pool())
        .await
        .unwrap();
    let grants = provision_store::postgres_roles::service_role_grants(&role).unwrap();
    for statement in grants.split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(owner.pool())
            .await
            .unwrap();
    }
    let options = owner
        .pool()
        .connect_options()
        .as_ref()
        .clone()
        .username(&role);
    let service = PostgresStore::connect_migrated(options).await.unwrap();
    for i in 0..6 {
        service
            .append(event("run-1", &format!("e{i}"), "okta", i))
            .await
            .unwrap();
    }
    let anchor = service.verify_audit().await.unwrap().head.unwrap();
    assert_eq!(anchor.seq, 5);

    for attack in [
        "DELETE FROM audit_log WHERE seq >= 3",
        "UPDATE audit_log SET event_json = '{}' WHERE seq = 5",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TABLE audit_log",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(attack.to_owned()))
            .execute(service.pool())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{attack}: {err}"
        );
    }
    assert_eq!(service.verify_audit().await.unwrap().records, 6);

    // The owner's TRUNCATE meets the statement trigger.
    let err = sqlx::query("TRUNCATE audit_log")
        .execute(owner.pool())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");

    // Whoever holds the owner's password can drop the trigger and cut the tail: the
    // chain that is left verifies on its own, the anchor does not.
    for sql in [
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DELETE FROM audit_log WHERE seq >= 3",
    ] {
        sqlx::query(sql).execute(owner.pool()).await.unwrap();
    }
    assert_eq!(owner.verify_audit().await.unwrap().records, 3);
    let err = owner.verify_audit_with_anchor(&anchor).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Chain(ChainError::Truncated { anchor_seq: 5, .. })
        ),
        "{err}"
    );
}

/// A service role cannot start on a schema its owner has not migrated yet.
#[tokio::test]
async fn the_service_role_refuses_a_schema_behind_this_build() {
    let Some(owner) = fresh("behind").await else {
        return;
    };
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(owner.pool())
    .await
    .unwrap();
    let options = owner.pool().connect_options().as_ref().clone();
    let err = PostgresStore::connect_migrated(options).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaBehind {
                needed: SCHEMA_VERSION,
                ..
            }
        ),
        "{err}"
    );
}
