//! JSON rosters: an array of objects, or an object whose `people` is that array
//! (other keys, such as paging fields, are ignored). Keys are found through a
//! [`RosterMapping`], as CSV columns are.
//!
//! ```json
//! {"people": [
//!   {"employeeId": "e1001", "workEmail": "sarah.chen@company.com", "name": "Sarah Chen",
//!    "status": "Active", "department": "Sales", "level": 3}
//! ]}
//! ```
//!
//! Strings, numbers and booleans are read as text; `null` and a missing key are
//! absent values. A key holding a list or an object is a row problem, except, with
//! the conventional mapping, `attributes`, whose entries become attributes (the
//! shape [`provision_core::model::Identity`] serialises to). A syntax error stops the load
//! (the file cannot be split into people); a wrong person never does.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::errors::{RosterError, RowProblem, SourceRow};
use crate::mapping::{RosterMapping, RowValues};
use crate::{Collector, RosterLoad};

/// Reads a JSON roster held in memory; `file` names it in problems.
pub(crate) fn read_json(
    file: &str,
    text: &str,
    mapping: &RosterMapping,
) -> Result<RosterLoad, RosterError> {
    read_json_list(file, text, mapping, "people")
}

/// Reads a JSON roster whose people are a bare array, or the array under `list_key`
/// of the top-level object (`people`; Workday RaaS: `Report_Entry`; BambooHR:
/// `employees`). Lines in problems are lines of `text`.
pub fn read_json_list(
    file: &str,
    text: &str,
    mapping: &RosterMapping,
    list_key: &str,
) -> Result<RosterLoad, RosterError> {
    let syntax = |e: serde_json::Error| {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => &message[..i],
            None => &message,
        };
        RosterError::at(
            file,
            e.line() as u64,
            e.column() as u64,
            "",
            format!(
                "invalid JSON roster: {message} (expected an array of people, or {{\"people\": [...]}})"
            ),
        )
    };
    let items: Vec<&RawValue> = match text.trim_start().chars().next() {
        Some('[') => serde_json::from_str(text).map_err(syntax)?,
        Some('{') => {
            let top: std::collections::HashMap<String, &RawValue> =
                serde_json::from_str(text).map_err(syntax)?;
            let Some(list) = top.get(list_key) else {
                return Err(RosterError::at(
                    file,
                    1,
                    1,
                    list_key,
                    format!(
                        "expected the people as a list under `{list_key}`; the object has no such key"
                    ),
                ));
            };
            // `list` borrows from `text`, so the people's offsets still give their lines.
            serde_json::from_str::<Vec<&RawValue>>(list.get()).map_err(|e| {
                RosterError::at(
                    file,
                    1,
                    1,
                    list_key,
                    format!("expected a list of people under `{list_key}`: {e}"),
                )
            })?
        }
        _ => {
            return Err(RosterError::at(
                file,
                1,
                1,
                "",
                format!("expected a JSON array of people, or an object {{\"{list_key}\": [...]}}"),
            ));
        }
    };
    let base = text.as_ptr() as usize;
    let mut line: u64 = 1;
    let mut scanned = 0usize;
    let mut collector = Collector::with_capacity(items.len());
    for raw in items {
        // `raw` borrows from `text`: its offset gives the person's line.
        let offset = (raw.get().as_ptr() as usize)
            .saturating_sub(base)
            .min(text.len());
        if offset > scanned {
            line += text.as_bytes()[scanned..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            scanned = offset;
        }
        let source = SourceRow::new(file, line);
        let object: Map<String, Value> = match serde_json::from_str(raw.get()) {
            Ok(o) => o,
            Err(_) => {
                let found: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                collector.problem(RowProblem::new(
                    source,
                    "",
                    format!(
                        "expected an object (one person), found {}",
                        describe(&found)
                    ),
                ));
                continue;
            }
        };
        read_person(&mut collector, mapping, &object, source);
    }
    Ok(collector.finish())
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value as text; a list or object is recorded in `bad` (key, what it is).
fn cell<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    bad: &mut Vec<(String, &'static str)>,
) -> Option<Cow<'a, str>> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s.trim())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        other => {
            bad.push((key.to_owned(), describe(other)));
            None
        }
    }
}

fn read_person(
    collector: &mut Collector,
    mapping: &RosterMapping,
    object: &Map<String, Value>,
    source: SourceRow,
) {
    let mut not_text = Vec::new();
    let mut text = |key: &str| cell(object, key, &mut not_text);
    let id = text(&mapping.id);
    let email = text(&mapping.email);
    let login = mapping.login.as_deref().and_then(&mut text);
    let display_name = mapping
        .display_name
        .columns()
        .iter()
        .map(|c| text(c))
        .collect();
    let status = mapping.status.as_deref().and_then(&mut text);
    let effective = mapping.effective.as_deref().and_then(&mut text);
    let mut attributes = Vec::new();
    let mut nested_not_text = Vec::new();
    match &mapping.attributes {
        Some(map) => {
            for (name, key) in map {
                attributes.push((Cow::Borrowed(name.as_str()), text(key)));
            }
        }
        None => {
            let core = mapping.core_columns();
            for key in object.keys() {
                if core.contains(&key.as_str()) {
                    continue;
                }
                if key == "attributes"
                    && let Some(Value::Object(nested)) = object.get(key)
                {
                    for (name, value) in nested {
                        match value {
                            Value::Null => {}
                            Value::String(s) => {
                                attributes.push((
                                    Cow::Borrowed(name.as_str()),
                                    Some(Cow::Borrowed(s.trim())),
                                ));
                            }
                            Value::Number(_) | Value::Bool(_) => attributes.push((
                                Cow::Borrowed(name.as_str()),
                                Some(Cow::Owned(value.to_string())),
                            )),
                            other => nested_not_text
                                .push((format!("attributes.{name}"), describe(other))),
                        }
                    }
                    continue;
                }
                attributes.push((Cow::Borrowed(key.as_str()), text(key)));
            }
        }
    }
    not_text.append(&mut nested_not_text);
    let status_present = mapping
        .status
        .as_deref()
        .is_some_and(|k| object.get(k).is_some_and(|v| !v.is_null()));
    if !not_text.is_empty() {
        let id = id.as_deref().map(provision_core::model::IdentityId::new);
        for (key, found) in not_text {
            let mut p = RowProblem::new(
                source.clone(),
                key,
                format!("expected text, a number or a boolean, found {found}"),
            );
            p.id.clone_from(&id);
            collector.problem(p);
        }
        return;
    }
    let values = RowValues {
        id,
        email,
        login,
        display_name,
        status,
        status_present,
        effective,
        attributes,
    };
    let login_field = mapping.login.as_deref().unwrap_or(mapping.email.as_str());
    match mapping.build(values, &source) {
        Ok(person) => collector.person(person, source, None, &mapping.id, login_field),
        Err(problems) => problems.into_iter().for_each(|p| collector.problem(p)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::DisplayNameColumns;
    use provision_core::model::{EmploymentStatus, Identity};
    use std::collections::BTreeMap;

    fn bamboo() -> RosterMapping {
        RosterMapping {
            id: "employeeId".into(),
            email: "workEmail".into(),
            login: None,
            display_name: DisplayNameColumns::Column("name".into()),
            status: Some("status".into()),
            effective: Some("terminationDate".into()),
            attributes: Some(BTreeMap::from([
                ("department".into(), "department".into()),
                ("level".into(), "level".into()),
            ])),
            strict_columns: true,
            ..RosterMapping::default()
        }
    }

    #[test]
    fn an_array_or_a_people_object_loads_with_lines() {
        let text = "{\"next\": null, \"people\": [\n  {\"employeeId\": \"e1\", \"workEmail\": \"a@x.com\", \"name\": \"A\", \"status\": \"Active\", \"department\": \"Sales\", \"level\": 3},\n  {\"employeeId\": \"e2\", \"workEmail\": \"b@x.com\", \"name\": \"B\",\n   \"status\": \"Terminated\", \"terminationDate\": \"2025-03-31T17:00:00Z\", \"level\": null}\n]}\n";
        let load = read_json("hr/people.json", text, &bamboo()).unwrap();
        assert!(load.is_clean(), "{:?}", load.problems);
        assert_eq!(load.entries.len(), 2);
        assert_eq!(load.entries[0].identity.attribute("level"), Some("3"));
        assert_eq!(load.entries[0].source.line, 2);
        assert_eq!(load.entries[1].source.line, 3);
        assert_eq!(load.entries[1].identity.attribute("level"), None);
        assert!(matches!(
            load.entries[1].identity.status,
            EmploymentStatus::Terminated { .. }
        ));
        let array = read_json(
            "p.json",
            "[{\"employeeId\": 7, \"workEmail\": \"a@x.com\", \"name\": \"A\"}]",
            &bamboo(),
        )
        .unwrap();
        assert_eq!(array.entries[0].identity.id.as_str(), "7");
        assert_eq!(array.entries[0].identity.status, EmploymentStatus::Active);
    }

    #[test]
    fn a_bad_person_is_a_row_problem_naming_the_key() {
        let text = "[\n{\"employeeId\": \"e1\", \"workEmail\": \"a@x.com\", \"name\": \"A\", \"department\": [\"x\"]},\n{\"employeeId\": \"e2\", \"name\": \"B\"},\n42,\n{\"employeeId\": \"e3\", \"workEmail\": \"c@x.com\", \"name\": \"C\", \"status\": \"gone\"},\n{\"employeeId\": \"e4\", \"workEmail\": \"d@x.com\", \"name\": \"D\"}\n]";
        let load = read_json("p.json", text, &bamboo()).unwrap();
        let ids: Vec<&str> = load.people().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["e4"]);
        let problems: Vec<String> = load.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems[0],
            "p.json:2: department: expected text, a number or a boolean, found a list"
        );
        assert_eq!(
            problems[1],
            "p.json:3: workEmail: missing email (expected the work email address)"
        );
        assert_eq!(
            problems[2],
            "p.json:4: expected an object (one person), found a number"
        );
        assert!(
            problems[3].starts_with("p.json:5: status: unknown status `gone`"),
            "{}",
            problems[3]
        );
    }

    #[test]
    fn syntax_errors_name_the_place() {
        let e = read_json("p.json", "[\n{\"employeeId\": \"e1\",,}\n]", &bamboo()).unwrap_err();
        assert!(e.to_string().contains("p.json:2:"), "{e}");
        let e = read_json("p.json", "{\"persons\": []}", &bamboo()).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected the people as a list under `people`"),
            "{e}"
        );
    }

    #[test]
    fn identities_serialised_by_this_sdk_read_back_with_the_conventional_mapping() {
        let people = vec![
            Identity::new("e1", "a@x.com", "A").with_attribute("department", "Sales"),
            Identity {
                status: EmploymentStatus::Terminated {
                    effective: "2025-03-31T17:00:00Z".parse().unwrap(),
                },
                login: "bee".into(),
                ..Identity::new("e2", "b@x.com", "B")
            },
        ];
        let text = serde_json::to_string_pretty(&people).unwrap();
        let load = read_json("p.json", &text, &RosterMapping::default()).unwrap();
        assert!(load.is_clean(), "{:?}", load.problems);
        let back: Vec<Identity> = load.people().cloned().collect();
        assert_eq!(back, people);
    }
}
