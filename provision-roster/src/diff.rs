//! Two rosters in, HR events out: who was hired, transferred, terminated,
//! rehired, went on or came back from leave, changed name or login, or vanished.
//!
//! Events are listed leavers first: by [`crate::HrEventKind`] (terminations, removals,
//! leaves, profile and attribute changes, returns, rehires, hires), then by id. A
//! person's events commute, so [`crate::apply_events`] of the list onto the earlier
//! roster gives the later one, whatever the order.

use std::collections::{BTreeMap, HashSet};

use crate::events::{AttributeChange, HrEvent, ProfileChange, ProfileField};
use crate::{RosterEntry, RosterLoad};
use provision_core::model::{EmploymentStatus, IdentityId};

/// The events between two loads. A person whose row in `after` had a problem is
/// unknown there, not gone: no event is produced for them.
pub fn diff_rosters(before: &RosterLoad, after: &RosterLoad) -> Vec<HrEvent> {
    let unknown: HashSet<&IdentityId> = after
        .problems
        .iter()
        .filter_map(|p| p.id.as_ref())
        .collect();
    diff_entries(&before.entries, &after.entries, &unknown)
}

/// The events between two lists of people; ids in `unknown` produce no event.
pub fn diff_entries(
    before: &[RosterEntry],
    after: &[RosterEntry],
    unknown: &HashSet<&IdentityId>,
) -> Vec<HrEvent> {
    let old: BTreeMap<&IdentityId, &RosterEntry> =
        before.iter().map(|e| (&e.identity.id, e)).collect();
    let new: BTreeMap<&IdentityId, &RosterEntry> =
        after.iter().map(|e| (&e.identity.id, e)).collect();
    let mut events = Vec::new();
    for (id, was) in &old {
        if !new.contains_key(id) && !unknown.contains(id) {
            events.push(HrEvent::Removed {
                id: (*id).clone(),
                last_seen: was.source.clone(),
            });
        }
    }
    for (id, now) in &new {
        match old.get(id) {
            None => events.push(HrEvent::Hire {
                person: now.identity.clone(),
                source: now.source.clone(),
            }),
            Some(was) => person_events(was, now, &mut events),
        }
    }
    events.sort_by(|a, b| (a.kind(), a.id()).cmp(&(b.kind(), b.id())));
    events
}

fn person_events(was: &RosterEntry, now: &RosterEntry, events: &mut Vec<HrEvent>) {
    let (a, b) = (&was.identity, &now.identity);
    let id = || b.id.clone();
    let source = || now.source.clone();
    use EmploymentStatus::{Active, OnLeave, Terminated};
    match (&a.status, &b.status) {
        (Terminated { .. }, Active | OnLeave) => {
            // The whole new record: a rehire may come back to another job.
            events.push(HrEvent::Rehire {
                person: b.clone(),
                source: source(),
            });
            return;
        }
        (Active | OnLeave, Terminated { effective }) => events.push(HrEvent::Termination {
            id: id(),
            effective: *effective,
            previous_effective: None,
            source: source(),
        }),
        (Terminated { effective: before }, Terminated { effective }) if before != effective => {
            events.push(HrEvent::Termination {
                id: id(),
                effective: *effective,
                previous_effective: Some(*before),
                source: source(),
            });
        }
        (Active, OnLeave) => events.push(HrEvent::LeaveOfAbsence {
            id: id(),
            source: source(),
        }),
        (OnLeave, Active) => events.push(HrEvent::ReturnFromLeave {
            id: id(),
            source: source(),
        }),
        _ => {}
    }
    let mut profile = Vec::new();
    for (field, old, new) in [
        (ProfileField::Email, &a.email, &b.email),
        (ProfileField::Login, &a.login, &b.login),
        (ProfileField::DisplayName, &a.display_name, &b.display_name),
    ] {
        if old != new {
            profile.push(ProfileChange {
                field,
                old: old.clone(),
                new: new.clone(),
            });
        }
    }
    if !profile.is_empty() {
        events.push(HrEvent::ProfileChanged {
            id: id(),
            changes: profile,
            source: source(),
        });
    }
    let changes = attribute_changes(&a.attributes, &b.attributes);
    if !changes.is_empty() {
        events.push(HrEvent::Transfer {
            id: id(),
            changes,
            source: source(),
        });
    }
}

/// Exactly the attributes whose values differ, by name.
fn attribute_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<AttributeChange> {
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(name), new.get(name));
            (o != n).then(|| AttributeChange {
                attribute: name.clone(),
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{HrEventKind, SourceRow};
    use provision_core::model::Identity;

    fn entry(line: u64, p: Identity) -> RosterEntry {
        RosterEntry {
            identity: p,
            source: SourceRow::new("w.csv", line),
        }
    }

    #[test]
    fn a_transfer_names_exactly_the_attributes_that_changed() {
        let a = [entry(
            2,
            Identity::new("e1", "p@x.com", "Priya")
                .with_attribute("department", "Engineering")
                .with_attribute("title", "Engineer")
                .with_attribute("location", "London"),
        )];
        let b = [entry(
            7,
            Identity::new("e1", "p@x.com", "Priya")
                .with_attribute("department", "Sales")
                .with_attribute("title", "Engineer")
                .with_attribute("cost_center", "CC9"),
        )];
        let events = diff_entries(&a, &b, &HashSet::new());
        assert_eq!(
            events,
            [HrEvent::Transfer {
                id: IdentityId::new("e1"),
                changes: vec![
                    AttributeChange {
                        attribute: "cost_center".into(),
                        old: None,
                        new: Some("CC9".into())
                    },
                    AttributeChange {
                        attribute: "department".into(),
                        old: Some("Engineering".into()),
                        new: Some("Sales".into())
                    },
                    AttributeChange {
                        attribute: "location".into(),
                        old: Some("London".into()),
                        new: None
                    },
                ],
                source: SourceRow::new("w.csv", 7),
            }]
        );
    }

    #[test]
    fn a_person_with_a_row_problem_is_not_removed() {
        let a = [entry(2, Identity::new("e1", "a@x.com", "A"))];
        let e1 = IdentityId::new("e1");
        assert!(diff_entries(&a, &[], &HashSet::from([&e1])).is_empty());
        let events = diff_entries(&a, &[], &HashSet::new());
        assert_eq!(events[0].kind(), HrEventKind::Removed);
        assert_eq!(events[0].source(), &SourceRow::new("w.csv", 2));
    }
}
