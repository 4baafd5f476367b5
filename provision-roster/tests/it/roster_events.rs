//! Two rosters in, HR events out: the quickstart's joiner, mover, leaver and the
//! rest, each event naming its row; deterministic; serialisable; and replaying
//! diff(a, b) onto a gives b's people (property test).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use provision_core::model::{EmploymentStatus, Identity, IdentityId};
use provision_roster::diff::diff_entries;
use provision_roster::{
    AttributeChange, HrEvent, HrEventKind, ProfileChange, ProfileField, RosterEntry, RosterReader,
    SourceRow, apply_events, diff_rosters,
};

const BEFORE: &str = "\
id,email,display_name,status,effective,department,title
e1001,sarah@x.com,Sarah Chen,active,,Sales,Sales Engineer
e1002,marcus@x.com,Marcus Webb,active,,Engineering,Senior Engineer
e1003,priya@x.com,Priya Natarajan,active,,Engineering,Engineer
e1004,tom@x.com,Tom Keller,active,,Engineering,Engineer
e1005,ana@x.com,Ana Lima,terminated,2024-12-31T17:00:00Z,Sales,AE
e1006,bo@x.com,Bo Ek,on_leave,,Support,Agent
e1007,kim@x.com,Kim Li,active,,Support,Agent
e1008,lee@x.com,Lee Park,active,,Sales,AE
";

const AFTER: &str = "\
id,email,display_name,status,effective,department,title
e1001,sarah@x.com,Sarah Chen,active,,Sales,Sales Engineer
e1002,marcus.webb@x.com,Marcus Webb,active,,Engineering,Senior Engineer
e1003,priya@x.com,Priya Natarajan,active,,Sales,Engineer
e1004,tom@x.com,Tom Keller,terminated,2025-03-31T17:00:00Z,Engineering,Engineer
e1005,ana@x.com,Ana Lima,active,,Marketing,AE
e1006,bo@x.com,Bo Ek,active,,Support,Agent
e1007,kim@x.com,Kim Li,leave,,Support,Agent
e1009,jo@x.com,Jo Ng,active,,Sales,AE
e1010,,No Email,active,,Sales,AE
";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn each_hr_event_is_found_with_its_row_leavers_first() {
    let reader = RosterReader::new();
    let before = reader.read_str("hr/monday.csv", BEFORE, None).unwrap();
    let after = reader.read_str("hr/tuesday.csv", AFTER, None).unwrap();
    assert_eq!(after.problems.len(), 1, "the row without an email");
    let events = diff_rosters(&before, &after);
    let row = |line| SourceRow::new("hr/tuesday.csv", line);
    let mut ana = Identity::new("e1005", "ana@x.com", "Ana Lima")
        .with_attribute("department", "Marketing")
        .with_attribute("title", "AE");
    ana.status = EmploymentStatus::Active;
    let jo = Identity::new("e1009", "jo@x.com", "Jo Ng")
        .with_attribute("department", "Sales")
        .with_attribute("title", "AE");
    assert_eq!(
        events,
        [
            HrEvent::Termination {
                id: "e1004".into(),
                effective: t("2025-03-31T17:00:00Z"),
                previous_effective: None,
                source: row(5),
            },
            HrEvent::Removed {
                id: "e1008".into(),
                last_seen: SourceRow::new("hr/monday.csv", 9),
            },
            HrEvent::LeaveOfAbsence {
                id: "e1007".into(),
                source: row(8),
            },
            HrEvent::ProfileChanged {
                id: "e1002".into(),
                changes: vec![
                    ProfileChange {
                        field: ProfileField::Email,
                        old: "marcus@x.com".into(),
                        new: "marcus.webb@x.com".into(),
                    },
                    ProfileChange {
                        field: ProfileField::Login,
                        old: "marcus@x.com".into(),
                        new: "marcus.webb@x.com".into(),
                    }
                ],
                source: row(3),
            },
            HrEvent::Transfer {
                id: "e1003".into(),
                changes: vec![AttributeChange {
                    attribute: "department".into(),
                    old: Some("Engineering".into()),
                    new: Some("Sales".into()),
                }],
                source: row(4),
            },
            HrEvent::ReturnFromLeave {
                id: "e1006".into(),
                source: row(7),
            },
            HrEvent::Rehire {
                person: ana,
                source: row(6),
            },
            HrEvent::Hire {
                person: jo,
                source: row(9),
            },
        ]
    );
    // e1010's row had a problem: it is neither hired nor anything else.
    assert!(events.iter().all(|e| e.id().as_str() != "e1010"));
    // The events are what a service stores: they come back from JSON unchanged.
    let json = serde_json::to_string(&events).unwrap();
    let back: Vec<HrEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, events);
    // Replayed onto Monday they give Tuesday.
    let tuesday: Vec<Identity> = after.people().cloned().collect();
    let mut expected = tuesday.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(apply_events(before.people().cloned(), &events), expected);
}

#[test]
fn a_changed_termination_date_is_a_termination_naming_the_old_date() {
    let before = "id,email,display_name,status,effective\ne1,a@x.com,A,terminated,2025-03-31\n";
    let after = "id,email,display_name,status,effective\ne1,a@x.com,A,terminated,2025-04-15\n";
    let reader = RosterReader::new();
    let events = diff_rosters(
        &reader.read_str("a.csv", before, None).unwrap(),
        &reader.read_str("b.csv", after, None).unwrap(),
    );
    assert_eq!(
        events,
        [HrEvent::Termination {
            id: "e1".into(),
            effective: t("2025-04-15T00:00:00Z"),
            previous_effective: Some(t("2025-03-31T00:00:00Z")),
            source: SourceRow::new("b.csv", 2),
        }]
    );
}

// ---- property: apply(a, diff(a, b)) == b -----------------------------------------

fn status() -> impl Strategy<Value = EmploymentStatus> {
    prop_oneof![
        Just(EmploymentStatus::Active),
        Just(EmploymentStatus::OnLeave),
        (0i64..3).prop_map(|d| EmploymentStatus::Terminated {
            effective: Utc
                .with_ymd_and_hms(2025, 3, 31, 17, 0, 0)
                .single()
                .unwrap_or_default()
                + chrono::Duration::days(d),
        }),
    ]
}

fn person() -> impl Strategy<Value = (u8, Identity)> {
    (
        0u8..12,
        0u8..2,
        0u8..2,
        0u8..2,
        proptest::collection::btree_map("[a-c]", "[xy]{0,1}", 0..3),
        status(),
    )
        .prop_map(|(id, email, login, name, attributes, status)| {
            let email = format!("p{id}.{email}@x.com");
            let identity = Identity {
                id: IdentityId(format!("e{id}")),
                login: if login == 0 {
                    email.clone()
                } else {
                    format!("login{id}")
                },
                email,
                display_name: format!("Person {id} v{name}"),
                attributes: attributes
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .collect(),
                status,
            };
            (id, identity)
        })
}

fn roster(file: &'static str) -> impl Strategy<Value = Vec<RosterEntry>> {
    proptest::collection::vec(person(), 0..12).prop_map(move |people| {
        // One row per id (a roster's ids are unique), in a shuffled-looking order.
        let unique: BTreeMap<u8, Identity> = people.into_iter().collect();
        unique
            .into_values()
            .rev()
            .enumerate()
            .map(|(i, identity)| RosterEntry {
                identity,
                source: SourceRow::new(file, i as u64 + 2),
            })
            .collect()
    })
}

fn sorted(entries: &[RosterEntry]) -> Vec<Identity> {
    let mut people: Vec<Identity> = entries.iter().map(|e| e.identity.clone()).collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    people
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_the_events_of_a_diff_gives_the_later_roster(a in roster("a.csv"), b in roster("b.csv")) {
        let events = diff_entries(&a, &b, &Default::default());
        let replayed = apply_events(a.iter().map(|e| e.identity.clone()), &events);
        prop_assert_eq!(replayed, sorted(&b));
        // Deterministic: the same rosters in another order give the same events.
        let mut a_rev = a.clone();
        a_rev.reverse();
        let mut b_rev = b.clone();
        b_rev.reverse();
        prop_assert_eq!(&diff_entries(&a_rev, &b_rev, &Default::default()), &events);
        // Leavers first, then by id; one event of a kind per person; every event
        // names a row of the roster it comes from.
        let keys: Vec<(HrEventKind, &IdentityId)> = events.iter().map(|e| (e.kind(), e.id())).collect();
        let mut in_order = keys.clone();
        in_order.sort();
        in_order.dedup();
        prop_assert_eq!(&keys, &in_order);
        for e in &events {
            let expected_file = if e.kind() == HrEventKind::Removed { "a.csv" } else { "b.csv" };
            prop_assert_eq!(e.source().file.as_str(), expected_file);
        }
        // A transfer names exactly the attributes that differ.
        for e in &events {
            if let HrEvent::Transfer { id, changes, .. } = e {
                let old = &a.iter().find(|x| &x.identity.id == id).unwrap().identity.attributes;
                let new = &b.iter().find(|x| &x.identity.id == id).unwrap().identity.attributes;
                prop_assert!(!changes.is_empty());
                for c in changes {
                    prop_assert_eq!(old.get(&c.attribute), c.old.as_ref());
                    prop_assert_eq!(new.get(&c.attribute), c.new.as_ref());
                    prop_assert_ne!(&c.old, &c.new);
                }
                let differing = old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).collect::<std::collections::BTreeSet<_>>().len();
                prop_assert_eq!(changes.len(), differing);
            }
        }
        // No change, no events.
        prop_assert!(diff_entries(&b, &b, &Default::default()).is_empty());
    }
}
