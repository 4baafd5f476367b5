//! YAML rosters, in this SDK's own shape.
//!
//! ```yaml
//! people:                      # or the list at the top of the file
//!   - id: e1001                # required, unique
//!     email: sarah.chen@company.com
//!     login: sarah.chen@company.com   # optional, defaults to email
//!     display_name: Sarah Chen
//!     attributes: {department: Sales, title: Sales Engineer}
//!     status: terminated       # active (default) | on_leave | terminated
//!     effective: 2025-03-31T17:00:00Z   # required with terminated (RFC 3339)
//! ```
//!
//! Attribute values are kept as text (numbers and booleans as written). A person
//! with a problem (a missing or unknown field, a bad status or date, an id or login
//! already used, which names both places) is reported and left out; the others
//! load. A roster of 100,000 people reads within the large-data YAML budget
//! ([`provision_core::yaml::parse_large_yaml`]; the alias-bomb guard still applies), and its
//! plain entries are read without the general parser
//! ([`crate::parse_large_list`]: the same tree, positions included).

use std::collections::BTreeMap;
use std::path::Path;

use crate::errors::{RosterError, RowProblem, SourceRow};
use crate::parse_large_list;
use crate::{Collector, RosterLoad, RosterReader};
use provision_core::model::{EmploymentStatus, Identity, IdentityId};
use provision_core::yaml::{Diagnostics, Node, Reader, Value};

/// Loads a roster file (format by extension, the conventional column mapping),
/// refusing it when any row has a problem. [`RosterReader`] gives the people that
/// could be read together with the row problems.
pub fn load_roster(path: &Path) -> Result<Vec<Identity>, RosterError> {
    RosterReader::new().read_path(path)?.into_strict()
}

/// Parses a YAML roster held in memory, refusing it when any row has a problem;
/// `file` names it in diagnostics.
pub fn parse_roster(file: &str, text: &str) -> Result<Vec<Identity>, RosterError> {
    read_yaml(file, text)?.into_strict()
}

/// Reads a YAML roster: the people that could be read and the row problems. A
/// syntax error or a document that is not a list of people stops the load.
pub(crate) fn read_yaml(file: &str, text: &str) -> Result<RosterLoad, RosterError> {
    let mut root =
        parse_large_list(file, text).map_err(|d| RosterError::Invalid(Diagnostics(vec![d])))?;
    let mut r = Reader::new(file);
    let list = match &root.value {
        Value::Seq(_) => Some((&root, "")),
        _ => match r.fields(&root, "") {
            Some(mut top) => {
                let list = top.required(&mut r, "people", "a list of people");
                top.finish(&mut r, &["people"]);
                list.map(|l| (l, "people"))
            }
            None => None,
        },
    };
    let path = match list {
        Some((list, path)) => r
            .items(list, if path.is_empty() { "people" } else { path })
            .map(|_| path),
        None => None,
    };
    if !r.is_clean() {
        return Err(RosterError::Invalid(Diagnostics(r.into_diagnostics())));
    }
    let Some(path) = path else {
        return Ok(RosterLoad::default());
    };
    // The list checked above, now owned: a plain person's text moves out of it.
    let items = match &mut root.value {
        Value::Seq(items) => items,
        Value::Map(entries) => match entries
            .iter_mut()
            .find(|(k, _)| k.value.scalar_text().as_deref() == Some("people"))
        {
            Some((
                _,
                Node {
                    value: Value::Seq(items),
                    ..
                },
            )) => items,
            _ => return Ok(RosterLoad::default()),
        },
        _ => return Ok(RosterLoad::default()),
    };
    let mut collector = Collector::with_capacity(items.len());
    for (i, item) in items.iter_mut().enumerate() {
        let path = if path.is_empty() {
            format!("[{i}]")
        } else {
            format!("{path}[{i}]")
        };
        let line = item.line.max(1) as u64;
        let column = item.column.max(1) as u64;
        let source = SourceRow::new(file, line);
        if let Some(person) = take_valid_person(item) {
            collector.person(
                person,
                source,
                Some(column),
                &format!("{path}.id"),
                &format!("{path}.login"),
            );
            continue;
        }
        let mut r = Reader::new(file);
        let person = read_person(&mut r, item, &path);
        if r.is_clean()
            && let Some(person) = person
        {
            collector.person(
                person,
                source,
                Some(column),
                &format!("{path}.id"),
                &format!("{path}.login"),
            );
            continue;
        }
        let id = item_id(item);
        for d in r.into_diagnostics() {
            collector.problem(RowProblem {
                row: SourceRow::new(file, d.location.line as u64),
                column: Some(d.location.column as u64),
                field: d.field,
                message: d.message,
                id: id.clone(),
            });
        }
    }
    Ok(collector.finish())
}

/// The `id` of a person's mapping, when it is readable text.
fn item_id(item: &Node) -> Option<IdentityId> {
    let Value::Map(entries) = &item.value else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.value.scalar_text().as_deref() == Some("id"))
        .and_then(|(_, v)| v.value.scalar_text())
        .filter(|s| !s.trim().is_empty())
        .map(IdentityId)
}

/// A person whose entry has no problem at all — only known fields, text where text
/// is expected, a known status, a valid date where one is required — taken out of
/// the tree without the [`Reader`]'s bookkeeping (no field paths, no copies); `None`
/// (the tree untouched) for anything else, which [`read_person`] then reads and
/// reports. Both give the same person for the same entry.
fn take_valid_person(node: &mut Node) -> Option<Identity> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let mut status = "active";
    let mut effective = None;
    let mut has = [false; 3]; // id, email, display_name
    for (key, value) in entries {
        let Value::Str(key) = &key.value else {
            return None;
        };
        match (key.as_str(), &value.value) {
            ("id" | "email" | "display_name" | "login", Value::Str(s)) if !s.trim().is_empty() => {
                if let Some(i) = ["id", "email", "display_name"]
                    .iter()
                    .position(|k| k == key)
                {
                    has[i] = true;
                }
            }
            ("status", Value::Str(s))
                if ["active", "on_leave", "terminated"].contains(&s.as_str()) =>
            {
                status = s.as_str();
            }
            ("effective", Value::Str(s)) => {
                effective = Some(chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?);
            }
            ("attributes", Value::Map(attributes)) => {
                let plain = attributes.iter().all(|(k, v)| {
                    matches!(k.value, Value::Str(_))
                        && matches!(v.value, Value::Str(_) | Value::Null)
                });
                if !plain {
                    return None;
                }
            }
            _ => return None,
        }
    }
    let status = match (status, effective) {
        ("terminated", Some(t)) => EmploymentStatus::Terminated {
            effective: t.with_timezone(&chrono::Utc),
        },
        ("on_leave", None) => EmploymentStatus::OnLeave,
        ("active", None) => EmploymentStatus::Active,
        _ => return None,
    };
    if has != [true; 3] {
        return None;
    }
    let Value::Map(entries) = &mut node.value else {
        return None;
    };
    let mut text = |key: &str| {
        entries
            .iter_mut()
            .find_map(|(k, v)| match (&k.value, &mut v.value) {
                (Value::Str(k), Value::Str(v)) if k == key => Some(std::mem::take(v)),
                _ => None,
            })
    };
    let (id, email, display_name) = (text("id")?, text("email")?, text("display_name")?);
    let login = text("login");
    let mut attributes = BTreeMap::new();
    if let Some((
        _,
        Node {
            value: Value::Map(pairs),
            ..
        },
    )) = entries
        .iter_mut()
        .find(|(k, _)| matches!(&k.value, Value::Str(k) if k == "attributes"))
    {
        for (k, v) in pairs.iter_mut() {
            if let (Value::Str(k), Value::Str(v)) = (&mut k.value, &mut v.value) {
                attributes.insert(std::mem::take(k), std::mem::take(v));
            }
        }
    }
    Some(Identity {
        id: IdentityId(id),
        login: login.unwrap_or_else(|| email.clone()),
        email,
        display_name,
        attributes,
        status,
    })
}

const PERSON_FIELDS: &[&str] = &[
    "id",
    "email",
    "login",
    "display_name",
    "attributes",
    "status",
    "effective",
];

fn read_person(r: &mut Reader, node: &Node, path: &str) -> Option<Identity> {
    let mut f = r.fields(node, path)?;
    let mut required = |r: &mut Reader, key: &str, expected: &str| {
        let n = f.required(r, key, expected)?;
        r.nonempty_text(n, &format!("{path}.{key}"))
    };
    let id = required(r, "id", "the person's stable HR id");
    let email = required(r, "email", "the work email address");
    let display_name = required(r, "display_name", "the name shown to people");
    let login = match f.get("login") {
        Some(n) => Some(r.nonempty_text(n, &f.path_of("login"))?),
        None => None,
    };
    let mut attributes = BTreeMap::new();
    if let Some(n) = f.get("attributes") {
        let apath = f.path_of("attributes");
        if let Some(mut af) = r.fields(n, &apath) {
            for (key, _, value) in af.all() {
                let field = af.path_of(&key);
                match &value.value {
                    // An empty value is an absent attribute.
                    Value::Null => {}
                    _ => {
                        if let Some(v) = r.text(value, &field) {
                            attributes.insert(key, v);
                        }
                    }
                }
            }
        }
    }
    let effective = f
        .get("effective")
        .map(|n| (n, r.time(n, &format!("{path}.effective"))));
    let status = match f.get("status") {
        None => Some("active".to_owned()),
        Some(n) => {
            r.text(n, &format!("{path}.status"))
                .map(|s| (s, n))
                .and_then(|(s, n)| {
                    if ["active", "on_leave", "terminated"].contains(&s.as_str()) {
                        Some(s)
                    } else {
                        r.error(
                    n,
                    &format!("{path}.status"),
                    format!("unknown status `{s}`; expected `active`, `on_leave` or `terminated`"),
                );
                        None
                    }
                })
        }
    };
    let status = match (status.as_deref(), effective) {
        (Some("terminated"), Some((_, Some(t)))) => {
            Some(EmploymentStatus::Terminated { effective: t })
        }
        (Some("terminated"), Some((_, None))) => None,
        (Some("terminated"), None) => {
            r.error(
                node,
                &format!("{path}.effective"),
                "missing required field `effective` (expected the RFC 3339 time the termination takes effect, e.g. 2025-03-31T17:00:00Z)",
            );
            None
        }
        (Some(other), Some((n, _))) => {
            r.error(
                n,
                &format!("{path}.effective"),
                format!(
                    "`effective` applies only to `status: terminated`, but the status is `{other}`"
                ),
            );
            None
        }
        (Some("on_leave"), None) => Some(EmploymentStatus::OnLeave),
        (Some(_), None) => Some(EmploymentStatus::Active),
        (None, _) => None,
    };
    f.finish(r, PERSON_FIELDS);
    let email = email?;
    Some(Identity {
        id: IdentityId(id?),
        login: login.unwrap_or_else(|| email.clone()),
        email,
        display_name: display_name?,
        attributes,
        status: status?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse_roster("hr/roster.yaml", text)
            .unwrap_err()
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn people_load_with_defaults_and_statuses() {
        let people = parse_roster(
            "hr/roster.yaml",
            "people:\n  - id: e1\n    email: a@x.com\n    display_name: A\n    attributes: {department: Sales, level: 3, manager: }\n  - id: e2\n    email: b@x.com\n    login: bee\n    display_name: B\n    status: on_leave\n  - id: e3\n    email: c@x.com\n    display_name: C\n    status: terminated\n    effective: 2025-03-31T17:00:00Z\n",
        )
        .unwrap();
        assert_eq!(people.len(), 3);
        assert_eq!(people[0].login, "a@x.com", "login defaults to email");
        assert_eq!(people[0].attribute("level"), Some("3"));
        assert_eq!(people[0].attribute("manager"), None);
        assert_eq!(people[0].status, EmploymentStatus::Active);
        assert_eq!(people[1].login, "bee");
        assert_eq!(people[1].status, EmploymentStatus::OnLeave);
        let EmploymentStatus::Terminated { effective } = people[2].status else {
            panic!("e3 should be terminated: {:?}", people[2].status)
        };
        assert_eq!(effective.to_rfc3339(), "2025-03-31T17:00:00+00:00");
    }

    #[test]
    fn a_top_level_list_is_accepted() {
        let people =
            parse_roster("r.yaml", "- {id: e1, email: a@x.com, display_name: A}\n").unwrap();
        assert_eq!(people[0].id.as_str(), "e1");
    }

    #[test]
    fn duplicate_ids_and_logins_name_both_places() {
        let errs = errors(
            "people:\n  - {id: e1, email: a@x.com, display_name: A}\n  - {id: e1, email: b@x.com, display_name: B}\n  - {id: e3, email: a@x.com, display_name: C}\n",
        );
        assert_eq!(
            errs,
            [
                "hr/roster.yaml:3:5: people[1].id: duplicate id `e1`; also used at hr/roster.yaml:2:5",
                "hr/roster.yaml:4:5: people[2].login: duplicate login `a@x.com` (accounts are matched by login); also used at hr/roster.yaml:2:5",
            ]
        );
    }

    #[test]
    fn status_problems_are_named() {
        let errs = errors(
            "people:\n  - {id: e1, email: a@x.com, display_name: A, status: terminated}\n  - {id: e2, email: b@x.com, display_name: B, status: fired}\n  - {id: e3, email: c@x.com, display_name: C, effective: 2025-01-01T00:00:00Z}\n  - {id: e4, email: d@x.com, display_name: D, status: terminated, effective: soon}\n",
        );
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(
            errs[0].starts_with(
                "hr/roster.yaml:2:5: people[0].effective: missing required field `effective`"
            ),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].starts_with("hr/roster.yaml:3:55: people[1].status: unknown status `fired`"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2]
                .contains("people[2].effective: `effective` applies only to `status: terminated`"),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].starts_with("hr/roster.yaml:5:78: people[3].effective: invalid date `soon`"),
            "{}",
            errs[3]
        );
    }

    #[test]
    fn missing_and_unknown_fields_and_bad_yaml() {
        let errs = errors("people:\n  - {id: e1, mail: a@x.com, display_name: A}\n");
        assert_eq!(
            errs,
            [
                "hr/roster.yaml:2:5: people[0].email: missing required field `email` (expected the work email address)",
                "hr/roster.yaml:2:14: people[0].mail: unknown field `mail`; expected one of: id, email, login, display_name, attributes, status, effective",
            ]
        );
        let bad = errors("people:\n  - id: e1\n  - id: [\n");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("hr/roster.yaml:3:"), "{}", bad[0]);
    }

    /// The direct route gives the person the reader gives, and leaves everything else
    /// (any entry with a problem, or not plain) to the reader.
    #[test]
    fn valid_people_are_taken_as_the_reader_reads_them() {
        let text = "people:\n  - {id: e1, email: a@x.com, display_name: A, attributes: {team: core, level: 3, x: }}\n  - {id: e2, email: b@x.com, display_name: B, login: bee, status: on_leave, attributes: {team: core, boss: }}\n  - {id: e3, email: c@x.com, display_name: C, status: terminated, effective: 2025-03-31T17:00:00Z}\n  - {id: e4, email: d@x.com, display_name: D, status: active, effective: 2025-03-31T17:00:00Z}\n  - {id: e5, email: e@x.com, display_name: ' '}\n  - {id: 6, email: f@x.com, display_name: F}\n  - {id: e7, email: g@x.com, display_name: G, extra: 1}\n  - {id: e8, email: h@x.com, display_name: H, status: terminated, effective: soon}\n  - {id: e9, email: i@x.com}\n  - {id: e10, email: j@x.com, display_name: J, attributes: [a]}\n";
        let root = provision_core::yaml::parse_large_yaml("r.yaml", text).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("a mapping")
        };
        let Value::Seq(items) = &entries[0].1.value else {
            panic!("a list")
        };
        let mut taken = 0;
        for (i, item) in items.iter().enumerate() {
            let mut r = Reader::new("r.yaml");
            let read = read_person(&mut r, item, "p").filter(|_| r.is_clean());
            let mut owned = item.clone();
            let direct = take_valid_person(&mut owned);
            if direct.is_some() {
                taken += 1;
                assert_eq!(direct, read, "entry {i}");
            } else {
                assert_eq!(&owned, item, "entry {i} left untouched for the reader");
            }
        }
        // e1 has a number attribute, e4 a date without termination, e5..e10 problems.
        assert_eq!(taken, 2, "e2 and e3 are plain and valid");
    }

    #[test]
    fn the_example_roster_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/roster.yaml");
        let people = load_roster(&path).unwrap();
        assert_eq!(people.len(), 8);
        let sarah = people
            .iter()
            .find(|p| p.display_name == "Sarah Chen")
            .unwrap();
        assert_eq!(sarah.attribute("department"), Some("Sales"));
        assert_eq!(sarah.attribute("title"), Some("Sales Engineer"));
    }
}
