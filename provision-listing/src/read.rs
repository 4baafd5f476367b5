//! Reading the export: one [`ListingRow`] per user, each error naming the file, the
//! row and the column.

use chrono::{DateTime, NaiveDate, Utc};
use provision_core::model::AccountState;
use serde_json::Value;

use crate::config::{ListingColumns, ListingConfig, ListingFormat};

/// One user in the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRow {
    /// The row's line (CSV, header = 1) or index (JSON, from 1).
    pub row: usize,
    /// The login.
    pub login: String,
    /// Enabled or not, by the status column.
    pub state: AccountState,
    /// The roles or groups held.
    pub grants: Vec<String>,
    /// The last sign-in, when the export says.
    pub last_login: Option<DateTime<Utc>>,
}

/// Why the export could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingError {
    /// The file.
    pub file: String,
    /// The row, when one is at fault.
    pub row: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ListingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.row {
            Some(row) => write!(f, "{} row {row}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Parses `text` as the configured export.
pub fn parse(config: &ListingConfig, text: &str) -> Result<Vec<ListingRow>, ListingError> {
    let file = config.path.display().to_string();
    let fail = |row: Option<usize>, message: String| ListingError {
        file: file.clone(),
        row,
        message,
    };
    let mut rows = Vec::new();
    match config.format {
        ListingFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| fail(None, format!("the header row cannot be read: {e}")))?
                .clone();
            let index = |name: &str| headers.iter().position(|h| h == name);
            let login_at = index(&config.columns.login).ok_or_else(|| {
                fail(
                    Some(1),
                    missing_column("login_column", &config.columns.login),
                )
            })?;
            let grants_at = index(&config.columns.grants).ok_or_else(|| {
                fail(
                    Some(1),
                    missing_column("grants_column", &config.columns.grants),
                )
            })?;
            let optional = |setting: &str, name: &Option<String>| match name {
                None => Ok(None),
                Some(n) => index(n)
                    .map(Some)
                    .ok_or_else(|| fail(Some(1), missing_column(setting, n))),
            };
            let status_at = optional("status_column", &config.columns.status)?;
            let last_at = optional("last_login_column", &config.columns.last_login)?;
            for (n, record) in reader.records().enumerate() {
                let line = n + 2;
                let record = record.map_err(|e| fail(Some(line), e.to_string()))?;
                let cell = |at: usize| record.get(at).unwrap_or("").trim().to_owned();
                let grants = split(&cell(grants_at), config.columns.separator);
                rows.push(
                    row(
                        &config.columns,
                        line,
                        cell(login_at),
                        status_at.map(cell),
                        grants,
                        last_at.map(cell),
                    )
                    .map_err(|m| fail(Some(line), m))?,
                );
            }
        }
        ListingFormat::Json => {
            let doc: Value =
                serde_json::from_str(text).map_err(|e| fail(None, format!("not JSON: {e}")))?;
            let items = match &doc {
                Value::Array(items) => items.clone(),
                Value::Object(map) => match map.values().find(|v| v.is_array()) {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(fail(None, "no array of users".to_owned())),
                },
                _ => return Err(fail(None, "no array of users".to_owned())),
            };
            for (n, item) in items.iter().enumerate() {
                let at = n + 1;
                let text = |key: &str| match item.get(key) {
                    Some(Value::String(s)) => Some(s.trim().to_owned()),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                let login = text(&config.columns.login).ok_or_else(|| {
                    fail(
                        Some(at),
                        missing_column("login_column", &config.columns.login),
                    )
                })?;
                let grants = match item.get(&config.columns.grants) {
                    Some(Value::Array(list)) => list
                        .iter()
                        .filter_map(|v| v.as_str().map(|s| s.trim().to_owned()))
                        .filter(|s| !s.is_empty())
                        .collect(),
                    Some(Value::String(s)) => split(s, config.columns.separator),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => {
                        return Err(fail(
                            Some(at),
                            format!(
                                "`{}` (grants_column) is neither a list nor text: {other}",
                                config.columns.grants
                            ),
                        ));
                    }
                };
                let status = config.columns.status.as_deref().and_then(text);
                let last = config.columns.last_login.as_deref().and_then(text);
                rows.push(
                    row(&config.columns, at, login, status, grants, last)
                        .map_err(|m| fail(Some(at), m))?,
                );
            }
        }
    }
    Ok(rows)
}

fn missing_column(setting: &str, name: &str) -> String {
    format!("no column `{name}` (the `{setting}` setting names it)")
}

fn split(cell: &str, separator: char) -> Vec<String> {
    cell.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn row(
    columns: &ListingColumns,
    at: usize,
    login: String,
    status: Option<String>,
    grants: Vec<String>,
    last_login: Option<String>,
) -> Result<ListingRow, String> {
    if login.is_empty() {
        return Err(format!("the login (`{}`) is empty", columns.login));
    }
    let state = match status.as_deref() {
        Some(s)
            if columns
                .disabled_values
                .iter()
                .any(|d| d.eq_ignore_ascii_case(s)) =>
        {
            AccountState::Suspended
        }
        _ => AccountState::Active,
    };
    let last_login =
        match last_login.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_time(s).ok_or_else(|| {
                format!("the last sign-in `{s}` is neither RFC 3339 nor YYYY-MM-DD")
            })?),
        };
    Ok(ListingRow {
        row: at,
        login,
        state,
        grants,
        last_login,
    })
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(path: &str) -> ListingConfig {
        let mut c = ListingConfig::new("payroll", path);
        c.columns.status = Some("status".into());
        c.columns.last_login = Some("last_login".into());
        c
    }

    #[test]
    fn csv_rows_split_roles_and_read_status() {
        let text = "email,roles,status,last_login\nada@example.com,approver; viewer,Active,2026-11-30\nbob@example.com,,Disabled,\n";
        let rows = parse(&config("users.csv"), text).unwrap();
        assert_eq!(rows[0].grants, ["approver", "viewer"]);
        assert_eq!(rows[0].state, AccountState::Active);
        assert!(rows[0].last_login.is_some());
        assert_eq!(rows[1].state, AccountState::Suspended);
        assert!(rows[1].grants.is_empty());
    }

    #[test]
    fn a_missing_column_names_the_setting_and_a_bad_cell_its_row() {
        let err = parse(&config("users.csv"), "mail,roles,status,last_login\n").unwrap_err();
        assert!(err.to_string().contains("login_column"), "{err}");
        let err = parse(
            &config("users.csv"),
            "email,roles,status,last_login\nada@example.com,x,Active,last tuesday\n",
        )
        .unwrap_err();
        assert_eq!(err.row, Some(2));
        assert!(err.to_string().contains("last tuesday"), "{err}");
    }

    #[test]
    fn json_takes_lists_or_text_and_a_wrapping_object() {
        let text = r#"{"users":[{"email":"ada@example.com","roles":["approver"],"status":"active"},{"email":"bob@example.com","roles":"a;b","status":"locked"}]}"#;
        let rows = parse(&config("users.json"), text).unwrap();
        assert_eq!(rows[0].grants, ["approver"]);
        assert_eq!(rows[1].grants, ["a", "b"]);
        assert_eq!(rows[1].state, AccountState::Suspended);
    }
}
