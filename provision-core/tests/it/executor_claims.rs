//! Two executors applying the same run through shared operation claims (in memory):
//! each operation reaches its system once, the end state is the intended one.
#![allow(clippy::unwrap_used)] // tests may unwrap

use crate::exec_support;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use exec_support::*;
use provision_core::adapter::Adapter;
use provision_core::executor::{ClaimSettings, ExecutorError, OperationOutcome};
use provision_core::journal::{
    ClaimOutcome, Journal, JournalEntry, MemoryClaims, MemoryJournal, OperationClaims,
    OperationState,
};
use provision_core::model::{AccountRef, AccountState, Entitlement, Plan};
use provision_sandbox::{RequestKind, SandboxConfig, SandboxSystem, presets};

fn slow(sandbox: SandboxSystem) -> Arc<SandboxSystem> {
    Arc::new(sandbox)
}

fn systems() -> (Arc<SandboxSystem>, Arc<SandboxSystem>) {
    let config = SandboxConfig {
        latency: Duration::from_millis(15),
        ..SandboxConfig::default()
    };
    (
        slow(presets::okta().sandbox("okta", config.clone())),
        slow(presets::slack().sandbox("slack", config)),
    )
}

/// Writes each operation received, by operation id.
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

fn team_plan() -> (Plan, BTreeSet<(String, Entitlement)>) {
    let mut ops = Vec::new();
    let mut expected = BTreeSet::new();
    for person in ["ann", "ben", "cid", "dee", "eve", "fay"] {
        ops.push(create(person, "okta"));
        for g in ["engineering", "vpn"] {
            ops.push(grant(person, "okta", "group", g));
            expected.insert((login(person), Entitlement::new("okta", "group", g)));
        }
        ops.push(create(person, "slack"));
        ops.push(grant(person, "slack", "channel", "#general"));
        expected.insert((
            login(person),
            Entitlement::new("slack", "channel", "#general"),
        ));
    }
    (plan(ops), expected)
}

fn settings(holder: &str) -> ClaimSettings {
    ClaimSettings {
        poll: Duration::from_millis(20),
        ..ClaimSettings::new(holder)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_executors_on_one_run_send_each_operation_once() {
    let (okta, slack) = systems();
    let (p, expected) = team_plan();
    let journal = Arc::new(MemoryJournal::new());
    let claims = Arc::new(MemoryClaims::new());
    let audit = Arc::new(MemAudit::default());
    let make = |holder: &str| {
        builder(&[&okta, &slack])
            .journal(journal.clone())
            .audit_log(audit.clone())
            .claims(claims.clone(), settings(holder))
            .build()
            .unwrap()
    };
    let (a, b) = (make("instance-a"), make("instance-b"));
    let r = run("shared");
    let p = approved(&p);
    let (ra, rb) = tokio::join!(a.apply(&r, &p), b.apply(&r, &p));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());

    // Every operation reached its system exactly once, whoever sent it.
    let sent = writes(&[&okta, &slack]);
    assert_eq!(sent.len(), p.operations.len(), "{sent:?}");
    assert!(sent.values().all(|&n| n == 1), "{sent:?}");
    // Both instances did work (the test would prove nothing otherwise).
    let sent_by = |report: &provision_core::executor::ExecutionReport| {
        report.operations.iter().filter(|o| !o.from_journal).count()
    };
    assert!(
        sent_by(&ra) > 0 && sent_by(&rb) > 0,
        "{} / {}",
        sent_by(&ra),
        sent_by(&rb)
    );
    // Both report the whole run as succeeded, and the systems hold what was intended.
    assert_eq!(ra.success_rate(), 1.0);
    assert_eq!(rb.success_rate(), 1.0);
    assert_eq!(okta.snapshot().accounts.len(), 6);
    assert_eq!(slack.snapshot().accounts.len(), 6);
    let grants: BTreeSet<_> = okta
        .snapshot()
        .grants
        .into_iter()
        .chain(slack.snapshot().grants)
        .collect();
    assert_eq!(grants, expected);
    // One audit record per operation, one InFlight journal entry per operation.
    assert_eq!(audit.events().len(), p.operations.len());
    let in_flight = journal
        .entries(&r)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.state, OperationState::InFlight { .. }))
        .count();
    assert_eq!(in_flight, p.operations.len());
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_after_checking_the_system() {
    let (okta, slack) = systems();
    let p = plan(vec![
        create("ann", "okta"),
        grant("ann", "okta", "group", "vpn"),
    ]);
    let journal = Arc::new(MemoryJournal::new());
    let claims = Arc::new(MemoryClaims::new());
    let r = run("crashed");
    // A first instance claimed the account creation, sent it (it took effect) and
    // died before journaling the outcome; its lease then ran out.
    journal.begin_run(&r, &p).await.unwrap();
    let create_op = &p.operations[0];
    claims
        .claim(&r, &create_op.id, "crashed", Duration::ZERO)
        .await
        .unwrap();
    journal
        .record(&JournalEntry {
            run: r.clone(),
            operation: create_op.id.clone(),
            state: OperationState::InFlight { attempt: 1 },
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let account = AccountRef {
        login: create_op.login.clone(),
        external_id: None,
    };
    okta.execute(create_op, &account).await.unwrap();

    let b = builder(&[&okta, &slack])
        .journal(journal.clone())
        .claims(claims.clone(), settings("instance-b"))
        .build()
        .unwrap();
    // Applying (not resuming): the executor learns of the take-over from the claim.
    let report = b.apply(&r, &approved(&p)).await.unwrap();
    assert_eq!(report.success_rate(), 1.0, "{report:?}");
    let sent = writes(&[&okta]);
    assert_eq!(
        sent.get(&create_op.id.0),
        Some(&1),
        "created twice: {sent:?}"
    );
    assert_eq!(okta.stats().max_creates_per_login(), 1);
    assert!(
        okta.stats()
            .log
            .iter()
            .any(|e| e.kind == RequestKind::Check)
    );
    assert_eq!(
        okta.snapshot().accounts.get(&login("ann")),
        Some(&AccountState::Active)
    );
    // Completed now: nobody else claims it.
    assert_eq!(
        claims
            .claim(&r, &create_op.id, "instance-c", Duration::from_secs(60))
            .await
            .unwrap(),
        ClaimOutcome::AlreadyDone
    );
}

#[tokio::test]
async fn an_operation_another_live_instance_holds_is_not_sent_and_the_wait_is_bounded() {
    let (okta, slack) = systems();
    let p = plan(vec![
        create("ann", "okta"),
        grant("ann", "okta", "group", "vpn"),
    ]);
    let journal = Arc::new(MemoryJournal::new());
    let claims = Arc::new(MemoryClaims::new());
    let r = run("held");
    journal.begin_run(&r, &p).await.unwrap();
    claims
        .claim(&r, &p.operations[0].id, "other", Duration::from_secs(3600))
        .await
        .unwrap();
    let b = builder(&[&okta, &slack])
        .journal(journal.clone())
        .claims(
            claims.clone(),
            ClaimSettings {
                max_wait: Duration::from_millis(200),
                ..settings("instance-b")
            },
        )
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let report = b.apply(&r, &approved(&p)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(writes(&[&okta]).is_empty(), "sent although held elsewhere");
    assert_eq!(report.operations[0].outcome, OperationOutcome::Pending);
    assert_eq!(report.operations[0].attempts, 0);
    // The dependent never started.
    assert_eq!(report.operations[1].outcome, OperationOutcome::Pending);
    assert!(report.operations[1].started_at.is_none());
    // Nothing was journaled for the held operation by this instance.
    assert!(journal.entries(&r).await.unwrap().is_empty());
}

#[tokio::test]
async fn claims_without_a_journal_are_refused() {
    let (okta, slack) = systems();
    let err = builder(&[&okta, &slack])
        .claims(Arc::new(MemoryClaims::new()), settings("a"))
        .build()
        .unwrap_err();
    assert!(matches!(err, ExecutorError::ClaimsWithoutJournal), "{err}");
}
