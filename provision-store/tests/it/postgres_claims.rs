//! Two executors, each with its own connection pool to one PostgreSQL database,
//! apply and resume the same run against shared sandbox systems: the database's
//! operation claims let every operation reach its system at most once.
//!
//! Runs only with the `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (see
//! `postgres_store.rs`, or `.ci/run`, which starts a throwaway server); otherwise
//! each test prints SKIPPED and passes. The in-memory variant of the same test
//! (always run) is `provision-core/tests/executor_claims.rs`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use crate::pg_url;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::Adapter;
use provision_core::config::SystemConfig;
use provision_core::executor::{ClaimSettings, ExecutionReport, Executor, RetryConfig};
use provision_core::journal::{ClaimOutcome, Journal, OperationClaims, RunId};
use provision_core::model::{
    AccountProfile, Dependency, Entitlement, IdentityId, Operation, OperationKind, Plan, Priority,
    Reason, ReasonKind, SystemName,
};
use provision_sandbox::{RequestKind, SandboxConfig, SandboxSystem, presets};
use provision_store::PostgresStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// A fresh database; returns its connection options (each caller opens its own store).
async fn fresh_db(name: &str) -> Option<PgConnectOptions> {
    let url = pg_url::postgres_url(name)?;
    let admin = PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_claims_{}_{name}", std::process::id());
    let mut conn = admin.connect().await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    Some(admin.database(&db))
}

fn op(person: &str, system: &str, kind: OperationKind) -> Operation {
    let identity = IdentityId::new(person);
    let system = SystemName::new(system);
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: format!("{person}@example.com"),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["Engineering Access".into()],
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

/// Per person and system: create the account, then grants that depend on it.
fn team_plan() -> (Plan, BTreeSet<(String, Entitlement)>) {
    let mut operations = Vec::new();
    let mut dependencies = Vec::new();
    let mut expected = BTreeSet::new();
    for person in ["ann", "ben", "cid", "dee", "eve", "fay", "gus", "hal"] {
        for (system, kind, resources) in [
            ("okta", "group", &["engineering", "vpn"][..]),
            ("slack", "channel", &["#general"][..]),
        ] {
            let login = format!("{person}@example.com");
            let create = op(
                person,
                system,
                OperationKind::CreateAccount {
                    profile: AccountProfile {
                        login: login.clone(),
                        email: login.clone(),
                        display_name: person.into(),
                        attributes: BTreeMap::new(),
                        ..Default::default()
                    },
                },
            );
            for r in resources {
                let entitlement = Entitlement::new(system, kind, *r);
                expected.insert((login.clone(), entitlement.clone()));
                let g = op(person, system, OperationKind::Grant { entitlement });
                dependencies.push(Dependency {
                    before: create.id.clone(),
                    after: g.id.clone(),
                });
                operations.push(g);
            }
            operations.push(create);
        }
    }
    (
        Plan {
            operations,
            dependencies,
        },
        expected,
    )
}

fn sandboxes() -> (Arc<SandboxSystem>, Arc<SandboxSystem>) {
    let config = SandboxConfig {
        latency: Duration::from_millis(10),
        ..SandboxConfig::default()
    };
    (
        Arc::new(presets::okta().sandbox("okta", config.clone())),
        Arc::new(presets::slack().sandbox("slack", config)),
    )
}

/// An executor with its own store handle (its own pool) as journal, audit log and claims.
fn executor(store: &Arc<PostgresStore>, systems: &[&Arc<SandboxSystem>], holder: &str) -> Executor {
    let mut b = Executor::builder()
        .journal(store.clone())
        .audit_log(store.clone())
        .claims(
            store.clone(),
            ClaimSettings {
                poll: Duration::from_millis(20),
                ..ClaimSettings::new(holder)
            },
        )
        .retry(RetryConfig {
            initial_delay: Duration::from_millis(20),
            ..RetryConfig::default()
        })
        .actor(holder);
    for s in systems {
        let adapter: Arc<dyn Adapter> = Arc::clone(s) as _;
        b = b.system(s.name().clone(), adapter, SystemConfig::new("sandbox"));
    }
    b.build().unwrap()
}

fn writes(systems: &[&Arc<SandboxSystem>]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for s in systems {
        for e in s.stats().log {
            if let (RequestKind::Write, Some(op)) = (e.kind, e.operation) {
                *out.entry(op.0).or_default() += 1;
            }
        }
    }
    out
}

fn sent_here(report: &ExecutionReport) -> usize {
    report.operations.iter().filter(|o| !o.from_journal).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_apply_and_resume_one_run_each_operation_reaches_the_system_once() {
    let Some(options) = fresh_db("two_instances").await else {
        return;
    };
    let a_store = Arc::new(PostgresStore::connect_with(options.clone()).await.unwrap());
    let b_store = Arc::new(PostgresStore::connect_with(options).await.unwrap());
    let (okta, slack) = sandboxes();
    let (plan, expected) = team_plan();
    let run = RunId("shared-run".into());
    let a = executor(&a_store, &[&okta, &slack], "instance-a");
    let b = executor(&b_store, &[&okta, &slack], "instance-b");

    // A starts the run; B joins a moment later by resuming it from the shared journal.
    // B joins once A has sent something (a bounded wait).
    let plan = approved(&plan);
    let (ra, rb) = tokio::join!(a.apply(&run, &plan), async {
        for _ in 0..500 {
            if b_store.entries(&run).await.is_ok_and(|e| !e.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        b.resume(&run).await
    });
    let (ra, rb) = (ra.unwrap(), rb.unwrap());

    let sent = writes(&[&okta, &slack]);
    assert_eq!(sent.len(), plan.operations.len(), "{sent:?}");
    assert!(
        sent.values().all(|&n| n == 1),
        "sent more than once: {sent:?}"
    );
    assert!(
        sent_here(&ra) > 0 && sent_here(&rb) > 0,
        "both instances must have sent some: a {} b {}",
        sent_here(&ra),
        sent_here(&rb)
    );
    assert_eq!(ra.success_rate(), 1.0, "{ra:?}");
    assert_eq!(rb.success_rate(), 1.0, "{rb:?}");
    let grants: BTreeSet<_> = okta
        .snapshot()
        .grants
        .into_iter()
        .chain(slack.snapshot().grants)
        .collect();
    assert_eq!(grants, expected);
    assert_eq!(okta.stats().max_creates_per_login(), 1);
    assert_eq!(slack.stats().max_creates_per_login(), 1);
    // One audit record per operation in the shared chain, and the chain verifies.
    let audit = a_store.run_history(&run).await.unwrap();
    assert_eq!(audit.len(), plan.operations.len());
    assert_eq!(
        a_store.verify_audit().await.unwrap().records,
        plan.operations.len() as u64
    );
    // Every claim is complete: a third instance finds nothing to send.
    for o in &plan.operations {
        assert_eq!(
            OperationClaims::claim(&*b_store, &run, &o.id, "instance-c", Duration::from_secs(9))
                .await
                .unwrap(),
            ClaimOutcome::AlreadyDone
        );
    }
    let c = executor(&b_store, &[&okta, &slack], "instance-c");
    let rc = c.resume(&run).await.unwrap();
    assert_eq!(rc.success_rate(), 1.0);
    assert_eq!(writes(&[&okta, &slack]), sent, "a finished run sent again");
    a_store.close().await;
    b_store.close().await;
}

#[tokio::test]
async fn claims_in_postgres_hold_renew_expire_and_complete() {
    let Some(options) = fresh_db("claim_semantics").await else {
        return;
    };
    let a = PostgresStore::connect_with(options.clone()).await.unwrap();
    let b = PostgresStore::connect_with(options).await.unwrap();
    let (plan, _) = team_plan();
    let run = RunId("r".into());
    a.begin_run(&run, &plan).await.unwrap();
    let id = &plan.operations[0].id;
    let long = Duration::from_secs(60);
    let claim = |s: &PostgresStore, holder: &'static str, lease: Duration| {
        let s = s.clone();
        let id = id.clone();
        let run = run.clone();
        async move {
            OperationClaims::claim(&s, &run, &id, holder, lease)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        claim(&a, "a", long).await,
        ClaimOutcome::Claimed {
            previous_holder: None,
            ..
        }
    ));
    assert!(
        matches!(claim(&b, "b", long).await, ClaimOutcome::HeldByOther { ref holder, .. } if holder == "a")
    );
    assert!(matches!(
        claim(&a, "a", Duration::ZERO).await,
        ClaimOutcome::Claimed {
            previous_holder: None,
            ..
        }
    ));
    tokio::time::sleep(Duration::from_millis(5)).await;
    // a's lease ran out: b takes over and is told who held it.
    assert!(
        matches!(claim(&b, "b", long).await, ClaimOutcome::Claimed { previous_holder: Some(ref h), .. } if h == "a")
    );
    assert!(!OperationClaims::complete(&a, &run, id, "a").await.unwrap());
    assert!(OperationClaims::release(&b, &run, id, "b").await.unwrap());
    assert!(
        matches!(claim(&a, "a", long).await, ClaimOutcome::Claimed { previous_holder: Some(ref h), .. } if h == "b")
    );
    assert!(OperationClaims::complete(&a, &run, id, "a").await.unwrap());
    assert_eq!(claim(&b, "b", long).await, ClaimOutcome::AlreadyDone);
    // An operation that is not in the run is an error naming it.
    let err = OperationClaims::claim(
        &a,
        &run,
        &provision_core::model::OperationId("nope".into()),
        "a",
        long,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    a.close().await;
    b.close().await;
}

/// A hand-built plan, confirmed (as a person reviewing it would) for every identity it
/// takes access from.
fn approved(plan: &provision_core::model::Plan) -> provision_core::planner::ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    provision_core::planner::ApprovedPlan::confirmed(
        plan.clone(),
        identities.len(),
        identities.len(),
    )
    .expect("a plan confirmed for all it removes is approved")
}
