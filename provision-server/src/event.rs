//! The HR event a source posts, as JSON, and the event the inbox stores.
//!
//! ```json
//! {"event_id": "evt-17", "type": "termination", "person_id": "e1001",
//!  "effective": "2026-12-01T17:00:00Z"}
//! {"event_id": "evt-18", "type": "hire", "start": "2026-12-07T08:00:00Z",
//!  "person": {"id": "e1010", "email": "ana@company.com", "display_name": "Ana Lima",
//!             "attributes": {"department": "Sales", "title": "Account Executive"}}}
//! {"event_id": "evt-19", "type": "transfer", "person_id": "e1002",
//!  "changes": {"department": "Sales", "cost_center": null}}
//! ```
//!
//! Types: `hire`, `rehire` (a `person`, optional `start`), `termination` (optional
//! `effective`, default now), `transfer` (`changes`: attribute to new value, `null`
//! removes it), `leave`, `return`, `removed` (`person_id`). A problem names the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use provision_core::model::{EmploymentStatus, Identity, IdentityId};
use provision_roster::{AttributeChange, HrEvent, HrEventKind, SourceRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A body that is not a valid event: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Malformed {
    /// The field (`effective`, `person.email`; `body` for the whole body).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn malformed(field: impl Into<String>, message: impl Into<String>) -> Malformed {
    Malformed {
        field: field.into(),
        message: message.into(),
    }
}

/// An event as the inbox stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The source it came from.
    pub source: String,
    /// The sender's id.
    pub event_id: String,
    /// The HR event.
    pub event: HrEvent,
    /// A hire's (or rehire's) start: access is granted from then, not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// When the service received it.
    pub received_at: DateTime<Utc>,
}

impl StoredEvent {
    /// The kind.
    pub fn kind(&self) -> HrEventKind {
        self.event.kind()
    }

    /// Whom it is about.
    pub fn identity(&self) -> &IdentityId {
        self.event.id()
    }

    /// When it takes effect: a termination's effective time, a hire's start, else
    /// `None` (now).
    pub fn effective(&self) -> Option<DateTime<Utc>> {
        match &self.event {
            HrEvent::Termination { effective, .. } => Some(*effective),
            _ => self.start,
        }
    }

    /// The kind's name (`termination`).
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// Lower is taken first: leavers before everything else.
    pub fn priority(&self) -> i64 {
        match self.kind() {
            HrEventKind::Termination => 0,
            HrEventKind::Removed => 1,
            HrEventKind::LeaveOfAbsence => 2,
            HrEventKind::ProfileChanged => 3,
            HrEventKind::Transfer => 4,
            HrEventKind::ReturnFromLeave => 5,
            HrEventKind::Rehire => 6,
            _ => 7,
        }
    }
}

/// The name of an event kind, as stored and in metrics.
pub fn kind_name(kind: HrEventKind) -> &'static str {
    match kind {
        HrEventKind::Termination => "termination",
        HrEventKind::Removed => "removed",
        HrEventKind::LeaveOfAbsence => "leave",
        HrEventKind::ProfileChanged => "profile",
        HrEventKind::Transfer => "transfer",
        HrEventKind::ReturnFromLeave => "return",
        HrEventKind::Rehire => "rehire",
        _ => "hire",
    }
}

fn text<'a>(obj: &'a Map<String, Value>, field: &str, path: &str) -> Result<&'a str, Malformed> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(malformed(path, "is empty")),
        Some(other) => Err(malformed(path, format!("must be a string, not {other}"))),
        None => Err(malformed(path, "is missing")),
    }
}

fn optional_time(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, Malformed> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| malformed(field, format!("{s:?} is not an RFC 3339 time: {e}"))),
        Some(other) => Err(malformed(
            field,
            format!("must be an RFC 3339 time string, not {other}"),
        )),
    }
}

fn person(obj: &Map<String, Value>) -> Result<Identity, Malformed> {
    let Some(value) = obj.get("person") else {
        return Err(malformed("person", "is missing"));
    };
    let Value::Object(p) = value else {
        return Err(malformed("person", "must be an object"));
    };
    let id = text(p, "id", "person.id")?;
    let email = text(p, "email", "person.email")?;
    if !email.contains('@') {
        return Err(malformed(
            "person.email",
            format!("{email:?} is not an email address"),
        ));
    }
    let display_name = match p.get("display_name") {
        None => email,
        Some(_) => text(p, "display_name", "person.display_name")?,
    };
    let mut identity = Identity::new(id, email, display_name);
    if p.contains_key("login") {
        identity.login = text(p, "login", "person.login")?.to_owned();
    }
    match p.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(attrs)) => {
            for (k, v) in attrs {
                let Value::String(v) = v else {
                    return Err(malformed(
                        format!("person.attributes.{k}"),
                        format!("must be a string, not {v}"),
                    ));
                };
                identity.attributes.insert(k.clone(), v.clone());
            }
        }
        Some(_) => return Err(malformed("person.attributes", "must be an object")),
    }
    identity.status = EmploymentStatus::Active;
    Ok(identity)
}

/// Parses a posted body from `source` into the event to store.
pub fn parse_event(source: &str, body: &[u8]) -> Result<StoredEvent, Malformed> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| malformed("body", format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(malformed("body", "must be a JSON object"));
    };
    let event_id = text(&obj, "event_id", "event_id")?.to_owned();
    if event_id.len() > 200 {
        return Err(malformed("event_id", "longer than 200 characters"));
    }
    let kind = text(&obj, "type", "type")?;
    let row = SourceRow::new(format!("webhook:{source}/{event_id}"), 1);
    let person_id = || text(&obj, "person_id", "person_id").map(IdentityId::new);
    let mut start = None;
    let event = match kind {
        "termination" => HrEvent::Termination {
            id: person_id()?,
            effective: optional_time(&obj, "effective")?.unwrap_or_else(Utc::now),
            previous_effective: None,
            source: row,
        },
        "hire" | "rehire" => {
            let person = person(&obj)?;
            start = optional_time(&obj, "start")?;
            if kind == "hire" {
                HrEvent::Hire {
                    person,
                    source: row,
                }
            } else {
                HrEvent::Rehire {
                    person,
                    source: row,
                }
            }
        }
        "transfer" => {
            let Some(Value::Object(changes)) = obj.get("changes") else {
                return Err(malformed(
                    "changes",
                    "must be an object of attribute to new value (null removes it)",
                ));
            };
            if changes.is_empty() {
                return Err(malformed("changes", "is empty"));
            }
            let mut list = Vec::new();
            for (attribute, v) in changes {
                let new = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => {
                        return Err(malformed(
                            format!("changes.{attribute}"),
                            format!("must be a string or null, not {other}"),
                        ));
                    }
                };
                list.push(AttributeChange {
                    attribute: attribute.clone(),
                    old: None,
                    new,
                });
            }
            HrEvent::Transfer {
                id: person_id()?,
                changes: list,
                source: row,
            }
        }
        "leave" => HrEvent::LeaveOfAbsence {
            id: person_id()?,
            source: row,
        },
        "return" => HrEvent::ReturnFromLeave {
            id: person_id()?,
            source: row,
        },
        "removed" => HrEvent::Removed {
            id: person_id()?,
            last_seen: row,
        },
        other => {
            return Err(malformed(
                "type",
                format!(
                    "{other:?} is not one of hire, rehire, termination, transfer, leave, return, removed"
                ),
            ));
        }
    };
    Ok(StoredEvent {
        source: source.to_owned(),
        event_id,
        event,
        start,
        received_at: Utc::now(),
    })
}

/// The people after `events` (in order) on `base`. A person an HR source removed
/// stays, terminated from when the removal was received, so that their access stays
/// gone (the reconcile would otherwise no longer know them).
pub fn roster_after(base: &[Identity], events: &[StoredEvent]) -> Vec<Identity> {
    let hr: Vec<HrEvent> = events
        .iter()
        .map(|e| match &e.event {
            HrEvent::Removed { id, last_seen } => HrEvent::Termination {
                id: id.clone(),
                effective: e.received_at,
                previous_effective: None,
                source: last_seen.clone(),
            },
            other => other.clone(),
        })
        .collect();
    provision_roster::apply_events(base.iter().cloned(), &hr)
}

/// The attributes a transfer sets, for logs.
pub fn describe_changes(changes: &[AttributeChange]) -> BTreeMap<&str, Option<&str>> {
    changes
        .iter()
        .map(|c| (c.attribute.as_str(), c.new.as_deref()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> String {
        parse_event("workday", body.as_bytes()).unwrap_err().field
    }

    #[test]
    fn each_problem_names_its_field() {
        assert_eq!(field_of("nope"), "body");
        assert_eq!(field_of("[]"), "body");
        assert_eq!(
            field_of(r#"{"type":"termination","person_id":"e1"}"#),
            "event_id"
        );
        assert_eq!(field_of(r#"{"event_id":"a","person_id":"e1"}"#), "type");
        assert_eq!(
            field_of(r#"{"event_id":"a","type":"fired","person_id":"e1"}"#),
            "type"
        );
        assert_eq!(
            field_of(r#"{"event_id":"a","type":"termination"}"#),
            "person_id"
        );
        assert_eq!(
            field_of(
                r#"{"event_id":"a","type":"termination","person_id":"e1","effective":"soon"}"#
            ),
            "effective"
        );
        assert_eq!(
            field_of(r#"{"event_id":"a","type":"hire","person":{"id":"e9"}}"#),
            "person.email"
        );
        assert_eq!(
            field_of(
                r#"{"event_id":"a","type":"hire","person":{"id":"e9","email":"x@y","attributes":{"level":3}}}"#
            ),
            "person.attributes.level"
        );
        assert_eq!(
            field_of(
                r#"{"event_id":"a","type":"transfer","person_id":"e1","changes":{"title":1}}"#
            ),
            "changes.title"
        );
    }

    #[test]
    fn a_termination_and_a_dated_hire_parse() {
        let t = parse_event(
            "workday",
            br#"{"event_id":"evt-1","type":"termination","person_id":"e1","effective":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(t.identity().as_str(), "e1");
        assert_eq!(t.priority(), 0);
        assert_eq!(
            t.effective().unwrap().to_rfc3339(),
            "2030-01-01T00:00:00+00:00"
        );
        let h = parse_event(
            "workday",
            br#"{"event_id":"evt-2","type":"hire","start":"2030-01-02T08:00:00Z","person":{"id":"e9","email":"ana@company.com","attributes":{"department":"Sales"}}}"#,
        )
        .unwrap();
        assert_eq!(h.kind_name(), "hire");
        assert!(h.start.is_some());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<StoredEvent>(&json).unwrap(), h);
    }
}
