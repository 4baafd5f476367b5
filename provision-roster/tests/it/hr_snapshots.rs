//! Snapshots of an HR source: the events between two pulls, and the guard that holds
//! a pull that looks like a broken export (a mass termination, people missing).

use chrono::{DateTime, TimeZone, Utc};
use provision_core::model::{EmploymentStatus, Identity};
use provision_roster::snapshot::{HoldReason, Snapshot, SnapshotGuard, SnapshotReview, review};
use provision_roster::{HrEvent, HrEventKind, RosterEntry, RosterLoad, RowProblem, SourceRow};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, hour, 0, 0).unwrap()
}

fn person(n: usize) -> Identity {
    Identity::new(format!("e{n}"), format!("p{n}@acme.com"), format!("P {n}"))
}

fn load(people: Vec<Identity>) -> RosterLoad {
    RosterLoad {
        entries: people
            .into_iter()
            .enumerate()
            .map(|(n, identity)| RosterEntry {
                identity,
                source: SourceRow::new("workday", n as u64 + 2),
            })
            .collect(),
        problems: vec![],
    }
}

fn company(n: usize) -> Vec<Identity> {
    (0..n).map(person).collect()
}

fn terminated(mut p: Identity) -> Identity {
    p.status = EmploymentStatus::Terminated { effective: at(5) };
    p
}

fn guard() -> SnapshotGuard {
    SnapshotGuard {
        max_terminations: 5,
        max_missing_share: 0.10,
    }
}

#[test]
fn a_termination_in_the_pull_is_an_event_even_if_no_webhook_came() {
    let before = Snapshot::new("workday", at(6), load(company(100)));
    let mut people = company(100);
    people[42] = terminated(people[42].clone());
    let after = Snapshot::new("workday", at(7), load(people));
    let SnapshotReview::Apply(events) = review(Some(&before), &after, &guard()) else {
        panic!("one leaver is not held")
    };
    assert_eq!(events.len(), 1);
    assert!(matches!(
        &events[0],
        HrEvent::Termination { id, effective, .. } if id.as_str() == "e42" && *effective == at(5)
    ));
}

#[test]
fn a_snapshot_that_terminates_more_than_the_limit_is_held_and_named() {
    let before = Snapshot::new("workday", at(6), load(company(100)));
    let people = company(100)
        .into_iter()
        .enumerate()
        .map(|(n, p)| if n < 6 { terminated(p) } else { p })
        .collect();
    let after = Snapshot::new("workday", at(7), load(people));
    let SnapshotReview::Held(held) = review(Some(&before), &after, &guard()) else {
        panic!("six leavers over a limit of five must be held")
    };
    assert_eq!(
        held.reasons,
        [HoldReason::MassTermination { count: 6, limit: 5 }]
    );
    let finding = held.to_string();
    assert!(finding.contains("HR source `workday`"), "{finding}");
    assert!(finding.contains("2026-12-07T07:00:00+00:00"), "{finding}");
    assert!(
        finding.contains("nothing applied until a person confirms"),
        "{finding}"
    );
    // Exactly five is still applied.
    let people = company(100)
        .into_iter()
        .enumerate()
        .map(|(n, p)| if n < 5 { terminated(p) } else { p })
        .collect();
    let after = Snapshot::new("workday", at(7), load(people));
    assert!(matches!(
        review(Some(&before), &after, &guard()),
        SnapshotReview::Apply(events) if events.len() == 5
    ));
}

#[test]
fn a_snapshot_missing_too_many_people_is_held_and_confirming_it_gives_its_events() {
    let before = Snapshot::new("workday", at(6), load(company(100)));
    // A truncated export: the last 11 people are not in it.
    let after = Snapshot::new("workday", at(7), load(company(89)));
    let SnapshotReview::Held(held) = review(Some(&before), &after, &guard()) else {
        panic!("11 % missing over a limit of 10 % must be held")
    };
    assert!(held.reasons.contains(&HoldReason::MissingPeople {
        missing: 11,
        of: 100,
        limit: 0.10
    }));
    assert!(
        held.to_string()
            .contains("11 of 100 people (11.0 %) are missing"),
        "{held}"
    );
    let events = held.confirm("it-admin@acme.com");
    assert_eq!(events.len(), 11);
    assert!(events.iter().all(|e| e.kind() == HrEventKind::Removed));
}

#[test]
fn unreadable_rows_count_as_missing_but_give_no_event() {
    let before = Snapshot::new("workday", at(6), load(company(10)));
    let mut after = load(company(8));
    for n in 8..10 {
        let mut p = RowProblem::new(SourceRow::new("workday", n as u64 + 2), "status", "unknown");
        p.id = Some(person(n).id);
        after.problems.push(p);
    }
    let after = Snapshot::new("workday", at(7), after);
    let SnapshotReview::Held(held) = review(Some(&before), &after, &guard()) else {
        panic!("20 % unreadable must be held")
    };
    assert!(
        held.events.is_empty(),
        "an unreadable person is not removed"
    );
    assert!(matches!(
        held.reasons[0],
        HoldReason::MissingPeople { missing: 2, .. }
    ));
}

#[test]
fn the_first_snapshot_is_all_hires_and_never_held() {
    let first = Snapshot::new("workday", at(6), load(company(50)));
    let SnapshotReview::Apply(events) = review(None, &first, &guard()) else {
        panic!("nothing to compare with")
    };
    assert_eq!(events.len(), 50);
    assert!(events.iter().all(|e| e.kind() == HrEventKind::Hire));
}
