//! The `roster:` section of the deployment configuration (`provision.yaml`): where
//! the HR export is, its format, and which column holds what.
//!
//! ```yaml
//! roster:
//!   path: hr/workers.csv          # optional
//!   format: csv                   # optional: csv | json | yaml; default by extension
//!   columns:                      # header names (CSV) or keys (JSON), never positions
//!     id: Employee ID             # required
//!     email: Work Email           # required
//!     login: Username             # optional; default: the email
//!     display_name: [First Name, Last Name]   # one column, or several joined
//!     status: Worker Status       # optional; default: everyone active
//!     effective: Termination Date # the termination date or time
//!     attributes:                 # optional; default: every other column
//!       department: Department
//!       title: Job Title
//!       manager: Manager ID
//!   statuses:                     # the HR system's words, besides the built-in ones
//!     active: [Active, Hired]
//!     on_leave: [Leave of Absence]
//!     terminated: [Terminated, Separated]
//!   termination_time_utc: "17:00" # when a date-only termination takes effect
//! ```
//!
//! Without `columns:` the conventional names apply (see [`RosterMapping::default`]).
//!
//! The kernel keeps the section as written
//! ([`ExtensionSection`](provision_core::config::ExtensionSection));
//! [`RosterConfig::from_deployment`] reads it with the core's YAML reader, so every
//! problem is named with file:line:column and field, as in the core sections.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::RosterFormat;
use crate::mapping::{DisplayNameColumns, RosterMapping, StatusValues};
use provision_core::config::ConfigError;
use provision_core::config::DeploymentConfig;
use provision_core::yaml::{Fields, Node, Reader, Value};

/// The deployment's roster settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RosterConfig {
    /// The roster file, as written (relative paths are the caller's to resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The format; `None`: by the file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<RosterFormat>,
    /// Which column holds what.
    #[serde(default)]
    pub mapping: RosterMapping,
}

impl RosterConfig {
    /// The section's name in `provision.yaml`.
    pub const SECTION: &'static str = "roster";

    /// Reads the deployment's `roster:` section: `None` when the file has none;
    /// every problem in it as [`ConfigError::Invalid`], each with file:line:column
    /// and field.
    ///
    /// ```
    /// use provision_core::config::parse_config;
    /// use provision_roster::RosterConfig;
    /// let deployment = parse_config(
    ///     "provision.yaml",
    ///     "systems: {okta: {adapter: okta}}\nroster: {format: xls}\n",
    /// )?;
    /// let err = RosterConfig::from_deployment(&deployment).unwrap_err();
    /// assert!(err.to_string().contains(
    ///     "provision.yaml:2:18: roster.format: unknown roster format `xls`"
    /// ));
    /// # Ok::<(), provision_core::config::ConfigError>(())
    /// ```
    pub fn from_deployment(config: &DeploymentConfig) -> Result<Option<Self>, ConfigError> {
        config
            .extension(Self::SECTION)
            .map(|section| section.read(read_roster_section))
            .transpose()
    }
}

const SECTION_FIELDS: &[&str] = &[
    "path",
    "format",
    "columns",
    "statuses",
    "termination_time_utc",
];
const COLUMN_FIELDS: &[&str] = &[
    "id",
    "email",
    "login",
    "display_name",
    "status",
    "effective",
    "attributes",
];

/// Reads the `roster:` section; every problem is recorded in `r` with its place.
fn read_roster_section(r: &mut Reader, node: &Node) -> Option<RosterConfig> {
    let path = "roster";
    let mut f = r.fields(node, path)?;
    let mut config = RosterConfig::default();
    let mut ok = true;
    if let Some(n) = f.get("path") {
        match r.nonempty_text(n, &f.path_of("path")) {
            Some(p) => config.path = Some(PathBuf::from(p)),
            None => ok = false,
        }
    }
    if let Some(n) = f.get("format") {
        let field = f.path_of("format");
        match r.text(n, &field).map(|t| t.parse::<RosterFormat>()) {
            Some(Ok(format)) => config.format = Some(format),
            Some(Err(message)) => {
                r.error(n, &field, message);
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(n) = f.get("columns") {
        match read_columns(r, n, &f.path_of("columns")) {
            Some(m) => config.mapping = m,
            None => ok = false,
        }
    }
    if let Some(n) = f.get("statuses") {
        match read_statuses(r, n, &f.path_of("statuses")) {
            Some(s) => config.mapping.statuses = s,
            None => ok = false,
        }
    }
    if let Some(n) = f.get("termination_time_utc") {
        let field = f.path_of("termination_time_utc");
        match r.text(n, &field) {
            Some(t) => match NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(t.trim(), "%H:%M:%S"))
            {
                Ok(time) => config.mapping.termination_time_utc = time,
                Err(_) => {
                    r.error(
                        n,
                        &field,
                        format!("invalid time `{t}`; expected a UTC time of day such as \"17:00\""),
                    );
                    ok = false;
                }
            },
            None => ok = false,
        }
    }
    f.finish(r, SECTION_FIELDS);
    ok.then_some(config)
}

fn column(r: &mut Reader, f: &mut Fields<'_>, key: &str) -> Option<Option<String>> {
    match f.get(key) {
        None => Some(None),
        Some(n) => r.nonempty_text(n, &f.path_of(key)).map(Some),
    }
}

fn read_columns(r: &mut Reader, node: &Node, path: &str) -> Option<RosterMapping> {
    let mut f = r.fields(node, path)?;
    let required = |r: &mut Reader, f: &mut Fields<'_>, key: &str, what: &str| {
        let n = f.required(r, key, what)?;
        r.nonempty_text(n, &f.path_of(key))
    };
    let id = required(
        r,
        &mut f,
        "id",
        "the header of the column holding the person's HR id",
    );
    let email = required(
        r,
        &mut f,
        "email",
        "the header of the column holding the work email",
    );
    let login = column(r, &mut f, "login");
    let display_name = match f.required(
        r,
        "display_name",
        "the header of the column holding the display name, or a list of headers to join",
    ) {
        None => None,
        Some(n) => {
            let field = f.path_of("display_name");
            match &n.value {
                Value::Seq(items) if items.is_empty() => {
                    r.error(n, &field, "expected at least one column");
                    None
                }
                Value::Seq(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| r.nonempty_text(item, &format!("{field}[{i}]")))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(DisplayNameColumns::Joined),
                _ => r.nonempty_text(n, &field).map(DisplayNameColumns::Column),
            }
        }
    };
    let status = column(r, &mut f, "status");
    let effective = column(r, &mut f, "effective");
    let attributes = match f.get("attributes") {
        None => Some(None),
        Some(n) => {
            let apath = f.path_of("attributes");
            match &n.value {
                // A list of headers: each becomes an attribute of the same name.
                Value::Seq(items) => {
                    let mut out = BTreeMap::new();
                    let mut ok = true;
                    for (i, item) in items.iter().enumerate() {
                        match r.nonempty_text(item, &format!("{apath}[{i}]")) {
                            Some(h) => {
                                out.insert(h.clone(), h);
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some(Some(out))
                }
                _ => r.fields(n, &apath).and_then(|mut af| {
                    let mut out = BTreeMap::new();
                    let mut ok = true;
                    for (name, _, v) in af.all() {
                        match r.nonempty_text(v, &af.path_of(&name)) {
                            Some(h) => {
                                out.insert(name, h);
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some(Some(out))
                }),
            }
        }
    };
    f.finish(r, COLUMN_FIELDS);
    Some(RosterMapping {
        id: id?,
        email: email?,
        login: login?,
        display_name: display_name?,
        status: status?,
        effective: effective?,
        attributes: attributes?,
        strict_columns: true,
        ..RosterMapping::default()
    })
}

fn read_statuses(r: &mut Reader, node: &Node, path: &str) -> Option<StatusValues> {
    let mut f = r.fields(node, path)?;
    let mut out = StatusValues::default();
    let mut ok = true;
    for key in ["active", "on_leave", "terminated"] {
        let Some(n) = f.get(key) else { continue };
        let field = f.path_of(key);
        let words: Vec<String> = match &n.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| r.nonempty_text(item, &format!("{field}[{i}]")))
                .collect(),
            _ => r.nonempty_text(n, &field).into_iter().collect(),
        };
        match key {
            "active" => out.active = words,
            "on_leave" => out.on_leave = words,
            _ => out.terminated = words,
        }
    }
    let all: Vec<(&str, &String)> = out
        .active
        .iter()
        .map(|w| ("active", w))
        .chain(out.on_leave.iter().map(|w| ("on_leave", w)))
        .chain(out.terminated.iter().map(|w| ("terminated", w)))
        .collect();
    let builtin = StatusValues::default();
    for (i, (kind, word)) in all.iter().enumerate() {
        let clash = all[..i]
            .iter()
            .find(|(k, w)| k != kind && w.trim().eq_ignore_ascii_case(word.trim()))
            .map(|(k, _)| (*k).to_owned())
            .or_else(|| {
                builtin
                    .classify(word)
                    .map(|s| format!("{s:?}"))
                    .filter(|s| !kind_matches(kind, s))
            });
        if let Some(other) = clash {
            r.error(
                node,
                &format!("{path}.{kind}"),
                format!("status word `{word}` also means {other}; each word may mean one status"),
            );
            ok = false;
        }
    }
    f.finish(r, &["active", "on_leave", "terminated"]);
    ok.then_some(out)
}

fn kind_matches(kind: &str, debug_name: &str) -> bool {
    matches!(
        (kind, debug_name),
        ("active", "Active") | ("on_leave", "OnLeave") | ("terminated", "Terminated")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::yaml::parse_yaml;

    fn read(text: &str) -> Result<RosterConfig, Vec<String>> {
        let root = parse_yaml("provision.yaml", text).unwrap();
        let mut r = Reader::new("provision.yaml");
        let Value::Map(entries) = &root.value else {
            panic!()
        };
        let out = read_roster_section(&mut r, &entries[0].1);
        if r.is_clean() {
            Ok(out.unwrap())
        } else {
            Err(r
                .into_diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect())
        }
    }

    #[test]
    fn the_section_gives_a_strict_mapping() {
        let c = read(
            "roster:\n  path: hr/workers.csv\n  columns:\n    id: Employee ID\n    email: Work Email\n    display_name: [First Name, Last Name]\n    status: Worker Status\n    effective: Termination Date\n    attributes: {department: Department}\n  statuses: {terminated: [Separated]}\n  termination_time_utc: \"17:00\"\n",
        )
        .unwrap();
        assert_eq!(c.path, Some(PathBuf::from("hr/workers.csv")));
        assert_eq!(c.format, None);
        let m = &c.mapping;
        assert!(m.strict_columns);
        assert_eq!(m.id, "Employee ID");
        assert_eq!(m.login, None);
        assert_eq!(
            m.display_name,
            DisplayNameColumns::Joined(vec!["First Name".into(), "Last Name".into()])
        );
        assert_eq!(
            m.attributes,
            Some(BTreeMap::from([("department".into(), "Department".into())]))
        );
        assert_eq!(m.statuses.terminated, ["Separated"]);
        assert_eq!(
            m.termination_time_utc,
            NaiveTime::from_hms_opt(17, 0, 0).unwrap()
        );
    }

    #[test]
    fn mistakes_are_named_with_place_and_expectation() {
        let errs = read(
            "roster:\n  format: xlsx\n  columns:\n    email: Work Email\n    display_name: []\n    colour: x\n  statuses: {active: [Leave]}\n  termination_time_utc: five\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 6, "{errs:#?}");
        assert!(errs[0].starts_with("provision.yaml:2:11: roster.format: unknown roster format `xlsx`; expected `csv`, `json` or `yaml`"), "{}", errs[0]);
        assert!(
            errs[1]
                .starts_with("provision.yaml:4:5: roster.columns.id: missing required field `id`"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].contains("roster.columns.display_name: expected at least one column"),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].contains("roster.columns.colour: unknown field `colour`"),
            "{}",
            errs[3]
        );
        assert!(
            errs[4].contains("roster.statuses.active: status word `Leave` also means OnLeave"),
            "{}",
            errs[4]
        );
        assert!(
            errs[5].contains("roster.termination_time_utc: invalid time `five`"),
            "{}",
            errs[5]
        );
    }
}
