//! Which column (CSV header name, JSON key) holds what, and how one row's values
//! become an [`Identity`]: the status vocabulary of the HR system, dates, defaults.
//!
//! The mapping is written in the deployment configuration's `roster:` section
//! ([`crate::section`]); without one the conventional names apply (`id`, `email`,
//! `login`, `display_name`, `status`, `effective`, every other column an attribute).

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{RowProblem, SourceRow};
use provision_core::model::{EmploymentStatus, Identity, IdentityId};

/// How the display name is found: one column, or several joined with a space
/// (`[First Name, Last Name]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DisplayNameColumns {
    /// One column holds the whole name.
    Column(String),
    /// These columns, in order, joined with one space (empty ones skipped).
    Joined(Vec<String>),
}

impl DisplayNameColumns {
    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        match self {
            DisplayNameColumns::Column(c) => std::slice::from_ref(c),
            DisplayNameColumns::Joined(cs) => cs,
        }
    }
}

/// The HR system's words for each employment status, in addition to the built-in
/// ones. Matching ignores case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusValues {
    /// Words meaning active (built in: `active`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<String>,
    /// Words meaning on leave (built in: `on_leave`, `on leave`, `leave`,
    /// `leave of absence`, `loa`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_leave: Vec<String>,
    /// Words meaning terminated (built in: `terminated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terminated: Vec<String>,
}

/// An employment status without its effective time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// Working.
    Active,
    /// On leave.
    OnLeave,
    /// Leaving or left.
    Terminated,
}

const BUILT_IN_ACTIVE: &[&str] = &["active"];
const BUILT_IN_ON_LEAVE: &[&str] = &["on_leave", "on leave", "leave", "leave of absence", "loa"];
const BUILT_IN_TERMINATED: &[&str] = &["terminated"];

impl StatusValues {
    /// The status a cell's text means, if any.
    pub fn classify(&self, text: &str) -> Option<StatusKind> {
        let t = text.trim();
        let is = |built_in: &[&str], extra: &[String]| {
            built_in.iter().any(|w| w.eq_ignore_ascii_case(t))
                || extra.iter().any(|w| w.trim().eq_ignore_ascii_case(t))
        };
        if is(BUILT_IN_ACTIVE, &self.active) {
            Some(StatusKind::Active)
        } else if is(BUILT_IN_ON_LEAVE, &self.on_leave) {
            Some(StatusKind::OnLeave)
        } else if is(BUILT_IN_TERMINATED, &self.terminated) {
            Some(StatusKind::Terminated)
        } else {
            None
        }
    }

    /// Every accepted word, for "expected one of" messages.
    pub fn expected(&self) -> String {
        let mut out = Vec::new();
        for (built_in, extra, kind) in [
            (BUILT_IN_ACTIVE, &self.active, "active"),
            (BUILT_IN_ON_LEAVE, &self.on_leave, "on leave"),
            (BUILT_IN_TERMINATED, &self.terminated, "terminated"),
        ] {
            let words: Vec<String> = built_in
                .iter()
                .map(|w| format!("`{w}`"))
                .chain(extra.iter().map(|w| format!("`{w}`")))
                .collect();
            out.push(format!("{} ({kind})", words.join(", ")));
        }
        out.join("; ")
    }
}

/// Which columns hold what. Column names are header names (CSV) or keys (JSON),
/// never positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterMapping {
    /// The person's stable HR id (required in every row).
    pub id: String,
    /// The work email address (required in every row).
    pub email: String,
    /// The login; when absent (or the cell is empty) the login is the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The name shown to people (required in every row).
    pub display_name: DisplayNameColumns,
    /// The employment status; when absent everyone is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The termination date or time. Required in a terminated row. In an active or
    /// on-leave row it is a scheduled termination (notice given): the person becomes
    /// a leaver at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    /// Attribute name → column. `None`: every column not mapped above becomes an
    /// attribute named after its column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    /// The HR system's status words.
    #[serde(default)]
    pub statuses: StatusValues,
    /// When a termination given as a date (`2025-03-31`) takes effect, in UTC.
    #[serde(default = "midnight")]
    pub termination_time_utc: NaiveTime,
    /// True (a mapping written in the configuration): every named column must be
    /// in a CSV header. False (the conventional mapping): `login`, `status` and
    /// `effective` are used when the header has them.
    #[serde(default)]
    pub strict_columns: bool,
}

fn midnight() -> NaiveTime {
    NaiveTime::MIN
}

impl Default for RosterMapping {
    /// The conventional mapping: columns named `id`, `email`, `login`,
    /// `display_name`, `status`, `effective`; every other column an attribute.
    fn default() -> Self {
        Self {
            id: "id".into(),
            email: "email".into(),
            login: Some("login".into()),
            display_name: DisplayNameColumns::Column("display_name".into()),
            status: Some("status".into()),
            effective: Some("effective".into()),
            attributes: None,
            statuses: StatusValues::default(),
            termination_time_utc: midnight(),
            strict_columns: false,
        }
    }
}

impl RosterMapping {
    /// Every column the mapping names outside `attributes`.
    pub fn core_columns(&self) -> Vec<&str> {
        let mut out = vec![self.id.as_str(), self.email.as_str()];
        out.extend(self.login.as_deref());
        out.extend(self.display_name.columns().iter().map(String::as_str));
        out.extend(self.status.as_deref());
        out.extend(self.effective.as_deref());
        out
    }

    /// Builds a person from one row's values (already trimmed; empty is absent).
    /// Every problem names its column.
    pub(crate) fn build(
        &self,
        values: RowValues<'_>,
        row: &SourceRow,
    ) -> Result<Identity, Vec<RowProblem>> {
        let mut problems = Vec::new();
        let mut problem = |column: &str, message: String| {
            problems.push(RowProblem::new(row.clone(), column, message));
        };
        let id = values.id.filter(|s| !s.is_empty());
        if id.is_none() {
            problem(
                &self.id,
                "missing id (expected the person's stable HR id)".into(),
            );
        }
        let email = match values.email.filter(|s| !s.is_empty()) {
            None => {
                problem(
                    &self.email,
                    "missing email (expected the work email address)".into(),
                );
                None
            }
            Some(e) if !looks_like_email(&e) => {
                problem(
                    &self.email,
                    format!(
                        "`{e}` is not an email address (expected one such as sarah.chen@company.com)"
                    ),
                );
                None
            }
            Some(e) => Some(e),
        };
        let parts: Vec<Cow<'_, str>> = values.display_name.into_iter().flatten().collect();
        let display_name = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.as_ref())
            .collect::<Vec<_>>()
            .join(" ");
        if display_name.is_empty() {
            let columns = self.display_name.columns().join("`, `");
            problem(
                self.display_name
                    .columns()
                    .first()
                    .map_or("", String::as_str),
                format!("missing display name (expected the name shown to people in `{columns}`)"),
            );
        }
        let status = match (&self.status, values.status) {
            (_, None) if self.status.is_some() && values.status_present => {
                problem(
                    self.status.as_deref().unwrap_or_default(),
                    format!(
                        "missing status; expected one of: {}",
                        self.statuses.expected()
                    ),
                );
                None
            }
            (_, None) => Some(StatusKind::Active),
            (column, Some(text)) => match self.statuses.classify(&text) {
                Some(kind) => Some(kind),
                None => {
                    problem(
                        column.as_deref().unwrap_or_default(),
                        format!(
                            "unknown status `{text}`; expected one of: {}",
                            self.statuses.expected()
                        ),
                    );
                    None
                }
            },
        };
        let effective_column = self.effective.as_deref().unwrap_or_default();
        let effective = match values.effective.filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(text) => match parse_effective(&text, self.termination_time_utc) {
                Ok(t) => Ok(Some(t)),
                Err(message) => {
                    problem(effective_column, message);
                    Err(())
                }
            },
        };
        let status = match (status, effective) {
            (Some(StatusKind::Terminated), Ok(None)) => {
                let message = match &self.effective {
                    Some(c) => format!(
                        "a terminated person needs a termination date in `{c}` (expected an RFC 3339 time such as 2025-03-31T17:00:00Z or a date such as 2025-03-31)"
                    ),
                    None => "a terminated person needs a termination date, but the roster mapping names no `effective` column".to_owned(),
                };
                problem(self.status.as_deref().unwrap_or_default(), message);
                None
            }
            (Some(_), Ok(Some(effective))) => Some(EmploymentStatus::Terminated { effective }),
            (Some(StatusKind::Active), Ok(None)) => Some(EmploymentStatus::Active),
            (Some(StatusKind::OnLeave), Ok(None)) => Some(EmploymentStatus::OnLeave),
            (None, _) | (_, Err(())) => None,
        };
        let mut attributes = BTreeMap::new();
        for (name, value) in values.attributes {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                attributes.insert(name.into_owned(), v.into_owned());
            }
        }
        match (id, email, status, problems.is_empty()) {
            (Some(id), Some(email), Some(status), true) => {
                let email = email.into_owned();
                let login = values
                    .login
                    .filter(|l| !l.is_empty())
                    .map_or_else(|| email.clone(), Cow::into_owned);
                Ok(Identity {
                    id: IdentityId(id.into_owned()),
                    login,
                    email,
                    display_name,
                    attributes,
                    status,
                })
            }
            (id, ..) => {
                let id = id.map(|i| IdentityId::new(i.as_ref()));
                for p in &mut problems {
                    p.id.clone_from(&id);
                }
                Err(problems)
            }
        }
    }
}

/// One row's values, trimmed, looked up through a [`RosterMapping`]. `None` (or
/// empty) is an absent value.
#[derive(Debug, Default)]
pub(crate) struct RowValues<'a> {
    pub id: Option<Cow<'a, str>>,
    pub email: Option<Cow<'a, str>>,
    pub login: Option<Cow<'a, str>>,
    pub display_name: Vec<Option<Cow<'a, str>>>,
    /// The status cell, when non-empty.
    pub status: Option<Cow<'a, str>>,
    /// True when the row has the status column at all (an empty cell is then a
    /// problem; a JSON object without the key means active).
    pub status_present: bool,
    pub effective: Option<Cow<'a, str>>,
    pub attributes: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>,
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A termination time: RFC 3339, or a date taking effect at `time_of_day` UTC.
pub fn parse_effective(text: &str, time_of_day: NaiveTime) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(t) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = t.parse::<NaiveDate>() {
        return Ok(date.and_time(time_of_day).and_utc());
    }
    Err(format!(
        "invalid termination date `{t}`; expected an RFC 3339 time such as 2025-03-31T17:00:00Z or a date such as 2025-03-31 (taking effect at {} UTC)",
        time_of_day.format("%H:%M")
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row() -> SourceRow {
        SourceRow::new("w.csv", 4)
    }

    fn values<'a>(
        id: &'a str,
        email: &'a str,
        status: Option<&'a str>,
        effective: Option<&'a str>,
    ) -> RowValues<'a> {
        RowValues {
            id: Some(id.into()),
            email: Some(email.into()),
            login: None,
            display_name: vec![Some("Sarah".into()), Some("Chen".into())],
            status: status.map(Into::into),
            status_present: true,
            effective: effective.map(Into::into),
            attributes: vec![
                ("department".into(), Some("Sales".into())),
                ("manager".into(), None),
            ],
        }
    }

    fn mapping() -> RosterMapping {
        RosterMapping {
            display_name: DisplayNameColumns::Joined(vec!["First".into(), "Last".into()]),
            status: Some("Status".into()),
            effective: Some("Term Date".into()),
            statuses: StatusValues {
                terminated: vec!["Separated".into()],
                ..StatusValues::default()
            },
            termination_time_utc: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            ..RosterMapping::default()
        }
    }

    #[test]
    fn a_row_becomes_a_person() {
        let p = mapping()
            .build(values("e1", "s@x.com", Some("Active"), None), &row())
            .unwrap();
        assert_eq!(p.display_name, "Sarah Chen");
        assert_eq!(p.login, "s@x.com");
        assert_eq!(p.attribute("department"), Some("Sales"));
        assert_eq!(p.attribute("manager"), None);
        assert_eq!(p.status, EmploymentStatus::Active);
        let on_leave = mapping()
            .build(
                values("e1", "s@x.com", Some("Leave of Absence"), None),
                &row(),
            )
            .unwrap();
        assert_eq!(on_leave.status, EmploymentStatus::OnLeave);
    }

    #[test]
    fn dates_take_effect_at_the_configured_time_and_rfc3339_as_written() {
        let p = mapping()
            .build(
                values("e1", "s@x.com", Some("separated"), Some("2025-03-31")),
                &row(),
            )
            .unwrap();
        assert_eq!(
            p.status,
            EmploymentStatus::Terminated {
                effective: "2025-03-31T17:00:00Z".parse().unwrap()
            }
        );
        let scheduled = mapping()
            .build(
                values(
                    "e1",
                    "s@x.com",
                    Some("active"),
                    Some("2025-04-01T09:00:00+02:00"),
                ),
                &row(),
            )
            .unwrap();
        assert_eq!(
            scheduled.status,
            EmploymentStatus::Terminated {
                effective: "2025-04-01T07:00:00Z".parse().unwrap()
            },
            "an active row with a termination date is a scheduled leaver"
        );
    }

    #[test]
    fn problems_name_the_column_and_what_was_expected() {
        let errs = mapping()
            .build(
                values("e1", "not-an-email", Some("Fired"), Some("31/03/2025")),
                &row(),
            )
            .unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(
            text[0].starts_with("w.csv:4: email: `not-an-email` is not an email address"),
            "{}",
            text[0]
        );
        assert!(text[1].starts_with("w.csv:4: Status: unknown status `Fired`; expected one of: `active` (active); `on_leave`"), "{}", text[1]);
        assert!(
            text[1].contains("`terminated`, `Separated` (terminated)"),
            "{}",
            text[1]
        );
        assert!(text[2].starts_with("w.csv:4: Term Date: invalid termination date `31/03/2025`; expected an RFC 3339 time"), "{}", text[2]);
        assert!(errs.iter().all(|p| p.id == Some(IdentityId::new("e1"))));
        let missing = mapping()
            .build(values("e2", "s@x.com", Some("Terminated"), None), &row())
            .unwrap_err();
        assert_eq!(
            missing[0].to_string(),
            "w.csv:4: Status: a terminated person needs a termination date in `Term Date` (expected an RFC 3339 time such as 2025-03-31T17:00:00Z or a date such as 2025-03-31)"
        );
    }
}
