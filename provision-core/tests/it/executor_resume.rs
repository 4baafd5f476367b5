//! Cancel an apply half-way, resume from the journal: the intended state, nothing repeated.
#![allow(clippy::unwrap_used)] // tests may unwrap

use crate::exec_support;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use exec_support::*;
use provision_core::executor::OperationOutcome;
use provision_core::journal::OperationState;
use provision_core::model::{AccountState, Entitlement};
use provision_sandbox::{SandboxConfig, presets};

#[tokio::test(start_paused = true)]
async fn a_cancelled_apply_resumes_without_repeating_work() {
    let okta = Arc::new(presets::okta().sandbox(
        "okta",
        SandboxConfig {
            latency: Duration::from_millis(100),
            ..SandboxConfig::default()
        },
    ));
    let slack = Arc::new(presets::slack().sandbox(
        "slack",
        SandboxConfig {
            latency: Duration::from_millis(100),
            ..SandboxConfig::default()
        },
    ));
    let mut ops = Vec::new();
    let mut expected_grants = BTreeSet::new();
    for person in ["ann", "ben", "cid", "dee"] {
        ops.push(create(person, "okta"));
        for g in ["engineering", "vpn"] {
            ops.push(grant(person, "okta", "group", g));
            expected_grants.insert((login(person), Entitlement::new("okta", "group", g)));
        }
        ops.push(create(person, "slack"));
        ops.push(grant(person, "slack", "channel", "#general"));
        expected_grants.insert((
            login(person),
            Entitlement::new("slack", "channel", "#general"),
        ));
    }
    let p = plan(ops);
    let journal = Arc::new(MemJournal::default());
    let r = run("half-way");

    let exec = builder(&[&okta, &slack])
        .journal(journal.clone())
        .build()
        .unwrap();
    // Stop the run part-way: the future is dropped mid-flight.
    let cancelled =
        tokio::time::timeout(Duration::from_millis(250), exec.apply(&r, &approved(&p))).await;
    assert!(cancelled.is_err(), "the apply was still running");
    let before = journal.entries_of(&r);
    let succeeded_first: BTreeSet<_> = before
        .iter()
        .filter(|e| matches!(e.state, OperationState::Succeeded { .. }))
        .map(|e| e.operation.clone())
        .collect();
    let in_flight_first: BTreeSet<_> = before
        .iter()
        .filter(|e| matches!(e.state, OperationState::InFlight { .. }))
        .map(|e| e.operation.clone())
        .filter(|o| !succeeded_first.contains(o))
        .collect();
    assert!(
        !succeeded_first.is_empty() && succeeded_first.len() < p.operations.len(),
        "stopped half-way"
    );
    assert!(
        !in_flight_first.is_empty(),
        "some operations were in flight when stopped"
    );

    // A new executor (a restarted service) resumes from the journal.
    let exec = builder(&[&okta, &slack])
        .journal(journal.clone())
        .build()
        .unwrap();
    let report = exec.resume(&r).await.unwrap();
    assert!(report.is_complete(), "{report}");

    let after = &journal.entries_of(&r)[before.len()..];
    for e in after {
        if let OperationState::InFlight { .. } = e.state {
            assert!(
                !succeeded_first.contains(&e.operation),
                "{} succeeded before and was sent again",
                e.operation
            );
        }
    }
    for id in &succeeded_first {
        let op = report.operation(id).unwrap();
        assert!(op.from_journal && op.outcome.is_success());
    }
    // Operations in flight at the stop were checked before anything else was sent.
    for id in &in_flight_first {
        assert!(
            report.operation(id).unwrap().checks >= 1,
            "{id} was checked first"
        );
    }
    let snap_okta = okta.snapshot();
    let snap_slack = slack.snapshot();
    for person in ["ann", "ben", "cid", "dee"] {
        assert_eq!(snap_okta.accounts[&login(person)], AccountState::Active);
        assert_eq!(snap_slack.accounts[&login(person)], AccountState::Active);
    }
    let grants: BTreeSet<_> = snap_okta
        .grants
        .union(&snap_slack.grants)
        .cloned()
        .collect();
    assert_eq!(grants, expected_grants);
    assert_eq!(okta.stats().max_creates_per_login(), 1);
    assert_eq!(slack.stats().max_creates_per_login(), 1);
    assert!(
        report
            .operations
            .iter()
            .all(|o| !matches!(o.outcome, OperationOutcome::Failed { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn resuming_a_finished_run_sends_nothing() {
    let okta = Arc::new(presets::okta().sandbox("okta", SandboxConfig::default()));
    let p = plan(vec![
        create("ann", "okta"),
        grant("ann", "okta", "group", "engineering"),
    ]);
    let journal = Arc::new(MemJournal::default());
    let exec = builder(&[&okta]).journal(journal.clone()).build().unwrap();
    exec.apply(&run("r"), &approved(&p)).await.unwrap();
    let requests = okta.stats().requests;
    let report = exec.resume(&run("r")).await.unwrap();
    assert!(report.is_complete());
    assert_eq!(okta.stats().requests, requests);
    assert!(report.operations.iter().all(|o| o.from_journal));
}

#[tokio::test]
async fn resume_without_a_journal_says_so() {
    let okta = Arc::new(presets::okta().sandbox("okta", SandboxConfig::default()));
    let exec = builder(&[&okta]).build().unwrap();
    let err = exec.resume(&run("r")).await.unwrap_err();
    assert!(err.to_string().contains("needs a journal"), "{err}");
}
