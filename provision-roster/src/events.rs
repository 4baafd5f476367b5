//! HR events: what changed for one person between two rosters, in the words HR
//! uses (hire, transfer, termination, rehire, leave of absence), each naming the
//! roster row it comes from. Serde-serialisable, so the lifecycle service can store
//! them; [`apply_events`] replays them onto the earlier roster.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::SourceRow;
use provision_core::model::{EmploymentStatus, Identity, IdentityId};

/// One attribute that changed (a transfer): `None` is an absent attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    /// The attribute (`department`, `title`, `manager`).
    pub attribute: String,
    /// The value before; `None` when the attribute was absent.
    pub old: Option<String>,
    /// The value after; `None` when the attribute is now absent.
    pub new: Option<String>,
}

/// A field of a person's profile outside the attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileField {
    /// The work email address.
    Email,
    /// The login accounts are matched by.
    Login,
    /// The name shown to people.
    DisplayName,
}

/// One profile field that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChange {
    /// The field.
    pub field: ProfileField,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
}

/// What happened to one person between two rosters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HrEvent {
    /// The person is terminated from `effective` on: newly, or with a changed date
    /// (`previous_effective`). The time may be in the future (notice given).
    Termination {
        /// Who.
        id: IdentityId,
        /// When the termination takes effect.
        effective: DateTime<Utc>,
        /// The termination time the earlier roster had, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_effective: Option<DateTime<Utc>>,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// The person is no longer in the roster at all (HR exports drop leavers, but a
    /// truncated export drops everyone: the service decides, and the blast-radius
    /// guard applies). Never emitted for a person whose row had a problem.
    Removed {
        /// Who.
        id: IdentityId,
        /// The row in the earlier roster.
        last_seen: SourceRow,
    },
    /// The person went on leave.
    LeaveOfAbsence {
        /// Who.
        id: IdentityId,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// The person's email, login or display name changed.
    ProfileChanged {
        /// Who.
        id: IdentityId,
        /// Exactly the fields that changed.
        changes: Vec<ProfileChange>,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// The person's attributes changed (department, title, manager, location...).
    Transfer {
        /// Who.
        id: IdentityId,
        /// Exactly the attributes that changed, by name.
        changes: Vec<AttributeChange>,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// The person is back from leave.
    ReturnFromLeave {
        /// Who.
        id: IdentityId,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// A terminated person is active (or on leave) again; `person` is their whole
    /// new record.
    Rehire {
        /// The person as the later roster has them.
        person: Identity,
        /// The row in the later roster.
        source: SourceRow,
    },
    /// A person new to the roster; `person` is their whole record (whatever their
    /// status: a first load also brings people already on leave or terminated).
    Hire {
        /// The person.
        person: Identity,
        /// The row in the later roster.
        source: SourceRow,
    },
}

/// The kind of an [`HrEvent`], in the order events are listed: what takes access
/// away first (leavers first), then changes, then what gives access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HrEventKind {
    /// [`HrEvent::Termination`].
    Termination,
    /// [`HrEvent::Removed`].
    Removed,
    /// [`HrEvent::LeaveOfAbsence`].
    LeaveOfAbsence,
    /// [`HrEvent::ProfileChanged`].
    ProfileChanged,
    /// [`HrEvent::Transfer`].
    Transfer,
    /// [`HrEvent::ReturnFromLeave`].
    ReturnFromLeave,
    /// [`HrEvent::Rehire`].
    Rehire,
    /// [`HrEvent::Hire`].
    Hire,
}

impl HrEvent {
    /// Whom the event is about.
    pub fn id(&self) -> &IdentityId {
        match self {
            HrEvent::Termination { id, .. }
            | HrEvent::Removed { id, .. }
            | HrEvent::LeaveOfAbsence { id, .. }
            | HrEvent::ProfileChanged { id, .. }
            | HrEvent::Transfer { id, .. }
            | HrEvent::ReturnFromLeave { id, .. } => id,
            HrEvent::Rehire { person, .. } | HrEvent::Hire { person, .. } => &person.id,
        }
    }

    /// The roster row the event comes from (the earlier roster's for
    /// [`HrEvent::Removed`], the later one's otherwise).
    pub fn source(&self) -> &SourceRow {
        match self {
            HrEvent::Termination { source, .. }
            | HrEvent::LeaveOfAbsence { source, .. }
            | HrEvent::ProfileChanged { source, .. }
            | HrEvent::Transfer { source, .. }
            | HrEvent::ReturnFromLeave { source, .. }
            | HrEvent::Rehire { source, .. }
            | HrEvent::Hire { source, .. } => source,
            HrEvent::Removed { last_seen, .. } => last_seen,
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> HrEventKind {
        match self {
            HrEvent::Termination { .. } => HrEventKind::Termination,
            HrEvent::Removed { .. } => HrEventKind::Removed,
            HrEvent::LeaveOfAbsence { .. } => HrEventKind::LeaveOfAbsence,
            HrEvent::ProfileChanged { .. } => HrEventKind::ProfileChanged,
            HrEvent::Transfer { .. } => HrEventKind::Transfer,
            HrEvent::ReturnFromLeave { .. } => HrEventKind::ReturnFromLeave,
            HrEvent::Rehire { .. } => HrEventKind::Rehire,
            HrEvent::Hire { .. } => HrEventKind::Hire,
        }
    }
}

/// Replays `events` onto `people` (the earlier roster): the result, ordered by id,
/// is the later roster's people. An event about someone absent (other than a hire
/// or rehire) changes nothing.
pub fn apply_events(
    people: impl IntoIterator<Item = Identity>,
    events: &[HrEvent],
) -> Vec<Identity> {
    let mut by_id: BTreeMap<IdentityId, Identity> =
        people.into_iter().map(|p| (p.id.clone(), p)).collect();
    for event in events {
        match event {
            HrEvent::Hire { person, .. } | HrEvent::Rehire { person, .. } => {
                by_id.insert(person.id.clone(), person.clone());
            }
            HrEvent::Removed { id, .. } => {
                by_id.remove(id);
            }
            HrEvent::Termination { id, effective, .. } => {
                if let Some(p) = by_id.get_mut(id) {
                    p.status = EmploymentStatus::Terminated {
                        effective: *effective,
                    };
                }
            }
            HrEvent::LeaveOfAbsence { id, .. } => {
                if let Some(p) = by_id.get_mut(id) {
                    p.status = EmploymentStatus::OnLeave;
                }
            }
            HrEvent::ReturnFromLeave { id, .. } => {
                if let Some(p) = by_id.get_mut(id) {
                    p.status = EmploymentStatus::Active;
                }
            }
            HrEvent::Transfer { id, changes, .. } => {
                if let Some(p) = by_id.get_mut(id) {
                    for c in changes {
                        match &c.new {
                            Some(v) => {
                                p.attributes.insert(c.attribute.clone(), v.clone());
                            }
                            None => {
                                p.attributes.remove(&c.attribute);
                            }
                        }
                    }
                }
            }
            HrEvent::ProfileChanged { id, changes, .. } => {
                if let Some(p) = by_id.get_mut(id) {
                    for c in changes {
                        let slot = match c.field {
                            ProfileField::Email => &mut p.email,
                            ProfileField::Login => &mut p.login,
                            ProfileField::DisplayName => &mut p.display_name,
                        };
                        slot.clone_from(&c.new);
                    }
                }
            }
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_kind_and_source() {
        let e = HrEvent::Termination {
            id: IdentityId::new("e1004"),
            effective: "2025-03-31T17:00:00Z".parse().unwrap(),
            previous_effective: None,
            source: SourceRow::new("hr/workers.csv", 5),
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "termination",
                "id": "e1004",
                "effective": "2025-03-31T17:00:00Z",
                "source": {"file": "hr/workers.csv", "line": 5}
            })
        );
        let back: HrEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        let hire = HrEvent::Hire {
            person: Identity::new("e9", "n@x.com", "N"),
            source: SourceRow::new("w.csv", 9),
        };
        let back: HrEvent = serde_json::from_str(&serde_json::to_string(&hire).unwrap()).unwrap();
        assert_eq!(back, hire);
        assert_eq!(back.kind(), HrEventKind::Hire);
        assert_eq!(back.id().as_str(), "e9");
    }
}
