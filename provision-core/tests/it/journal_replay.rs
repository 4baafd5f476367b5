//! Journals (memory and JSON-lines file) and the replay helper resume uses.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use provision_core::adapter::{AdapterError, Effect, SystemError};
use provision_core::journal::{
    Journal, JournalEntry, JournalError, JsonlJournal, MemoryJournal, OperationState, ResumeAction,
    RunId, replay,
};
use provision_core::model::{
    Dependency, IdentityId, Operation, OperationId, OperationKind, Plan, Priority, Reason,
    ReasonKind, SystemName,
};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-journal-test-{}-{}",
        std::process::id(),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.jsonl")
}

fn op(id: &str, kind: OperationKind) -> Operation {
    Operation {
        id: OperationId(id.into()),
        identity: IdentityId("e1001".into()),
        login: "sarah@example.com".into(),
        system: SystemName::new("okta"),
        kind,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: Some("hr-1".into()),
            detail: "terminated".into(),
            valid_until: None,
        },
        priority: Priority::Leaver,
    }
}

fn plan() -> Plan {
    Plan {
        operations: vec![
            op("a", OperationKind::RevokeSessions),
            op("b", OperationKind::SuspendAccount),
            op("c", OperationKind::DeleteAccount),
            op("d", OperationKind::ReactivateAccount),
            op("e", OperationKind::RevokeSessions),
        ],
        dependencies: vec![Dependency {
            before: OperationId("a".into()),
            after: OperationId("b".into()),
        }],
    }
}

fn entry(run: &str, op: &str, state: OperationState, t: i64) -> JournalEntry {
    JournalEntry {
        run: RunId(run.into()),
        operation: OperationId(op.into()),
        state,
        at: Utc.timestamp_opt(1_700_000_000 + t, 0).unwrap(),
    }
}

/// a: succeeded after two attempts; b: in flight; c: pending; d: failed; e: never started.
fn entries(run: &str) -> Vec<JournalEntry> {
    vec![
        entry(run, "a", OperationState::InFlight { attempt: 1 }, 0),
        entry(run, "a", OperationState::InFlight { attempt: 2 }, 1),
        entry(
            run,
            "a",
            OperationState::Succeeded {
                effect: Effect::Changed,
                external_id: Some("00u1".into()),
            },
            2,
        ),
        entry(run, "b", OperationState::InFlight { attempt: 1 }, 3),
        entry(run, "c", OperationState::InFlight { attempt: 1 }, 4),
        entry(run, "c", OperationState::Pending { resume: None }, 5),
        entry(run, "d", OperationState::InFlight { attempt: 1 }, 6),
        entry(
            run,
            "d",
            OperationState::Failed {
                error: AdapterError::Permanent {
                    error: SystemError::new(Some(400), Some("E0000001".into()), "bad"),
                },
            },
            7,
        ),
    ]
}

async fn exercise(journal: &dyn Journal) {
    let run = RunId("run-1".into());
    let plan = plan();
    journal.begin_run(&run, &plan).await.unwrap();
    // Beginning again with the same plan is harmless; with another plan it is refused.
    journal.begin_run(&run, &plan).await.unwrap();
    let other = Plan::default();
    assert!(matches!(
        journal.begin_run(&run, &other).await,
        Err(JournalError::RunConflict(r)) if r == run
    ));
    for e in entries("run-1") {
        journal.record(&e).await.unwrap();
    }
    assert_eq!(journal.plan(&run).await.unwrap(), plan);
    assert_eq!(journal.entries(&run).await.unwrap(), entries("run-1"));

    let ghost = RunId("ghost".into());
    assert!(matches!(
        journal.record(&entry("ghost", "a", OperationState::Pending { resume: None }, 0)).await,
        Err(JournalError::UnknownRun(r)) if r == ghost
    ));
    assert!(matches!(
        journal.plan(&ghost).await,
        Err(JournalError::UnknownRun(_))
    ));
    assert!(matches!(
        journal.entries(&ghost).await,
        Err(JournalError::UnknownRun(_))
    ));
}

#[tokio::test]
async fn memory_journal_keeps_runs_plans_and_entries() {
    exercise(&MemoryJournal::new()).await;
}

#[tokio::test]
async fn file_journal_keeps_runs_across_reopen() {
    let path = temp_path("reopen");
    exercise(&JsonlJournal::open(&path).unwrap()).await;

    let journal = JsonlJournal::open(&path).unwrap();
    let run = RunId("run-1".into());
    assert_eq!(journal.runs().unwrap(), vec![run.clone()]);
    assert_eq!(journal.plan(&run).await.unwrap(), plan());
    assert_eq!(journal.entries(&run).await.unwrap(), entries("run-1"));
    // Appending after reopen continues the same run.
    let more = entry("run-1", "e", OperationState::InFlight { attempt: 1 }, 9);
    journal.record(&more).await.unwrap();
    let reopened = JsonlJournal::open(&path).unwrap();
    assert_eq!(reopened.entries(&run).await.unwrap().last(), Some(&more));
}

#[tokio::test]
async fn file_journal_names_a_corrupt_line() {
    let path = temp_path("corrupt");
    exercise(&JsonlJournal::open(&path).unwrap()).await;
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("not json\n");
    let bad_line = text.lines().count();
    std::fs::write(&path, &text).unwrap();
    let err = JsonlJournal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt(_)), "{err}");
    assert!(
        err.to_string().contains(&format!("line {bad_line}")),
        "{err}"
    );

    // An entry for a run that was never begun is corrupt too.
    let path = temp_path("orphan");
    let orphan = serde_json::json!({
        "kind": "entry", "run": "nope", "operation": "a",
        "state": {"state": "pending"}, "at": "2024-01-01T00:00:00Z"
    });
    std::fs::write(&path, format!("{orphan}\n")).unwrap();
    let err = JsonlJournal::open(&path).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn replay_gives_each_operation_its_last_state_and_what_resume_should_do() {
    let entries = entries("run-1");
    let replayed = replay(&entries);
    let id = |s: &str| OperationId(s.into());

    assert_eq!(replayed.len(), 4);
    let a = replayed.get(&id("a")).unwrap();
    assert_eq!(a.attempts, 2);
    assert!(matches!(a.state, OperationState::Succeeded { .. }));
    assert_eq!(
        replayed.last_state(&id("b")),
        Some(&OperationState::InFlight { attempt: 1 })
    );

    assert_eq!(replayed.resume_action(&id("a")), ResumeAction::Done);
    assert_eq!(replayed.resume_action(&id("b")), ResumeAction::Recheck);
    assert_eq!(replayed.resume_action(&id("c")), ResumeAction::Recheck);
    assert_eq!(replayed.resume_action(&id("d")), ResumeAction::Done);
    assert_eq!(replayed.resume_action(&id("e")), ResumeAction::Run);

    let plan = plan();
    let remaining: Vec<(&str, ResumeAction)> = replayed
        .remaining(&plan)
        .into_iter()
        .map(|(op, action)| (op.id.0.as_str(), action))
        .collect();
    assert_eq!(
        remaining,
        vec![
            ("b", ResumeAction::Recheck),
            ("c", ResumeAction::Recheck),
            ("e", ResumeAction::Run)
        ]
    );
}

#[test]
fn replay_of_nothing_runs_everything() {
    let replayed = replay(&[]);
    assert!(replayed.is_empty());
    assert_eq!(replayed.remaining(&plan()).len(), 5);
}

#[tokio::test]
async fn file_journal_cuts_a_torn_last_line_and_keeps_going() {
    let path = temp_path("torn");
    exercise(&JsonlJournal::open(&path).unwrap()).await;
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"kind\":\"entry\",\"run\":\"run-1\",\"oper");
    std::fs::write(&path, text).unwrap();

    let journal = JsonlJournal::open(&path).unwrap();
    let run = RunId("run-1".into());
    assert_eq!(journal.entries(&run).await.unwrap(), entries("run-1"));
    let more = entry("run-1", "e", OperationState::InFlight { attempt: 1 }, 9);
    journal.record(&more).await.unwrap();
    let reopened = JsonlJournal::open(&path).unwrap();
    assert_eq!(
        reopened.entries(&run).await.unwrap().len(),
        entries("run-1").len() + 1
    );
}
