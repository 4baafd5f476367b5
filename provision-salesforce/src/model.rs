//! Serde types for the Salesforce REST replies the adapter reads.
//!
//! Field names are Salesforce's (`Id`, `Username`, `nextRecordsUrl`); the shapes are
//! from the REST API and object reference guides. No official machine-readable spec
//! exists: the tests say which shapes are unverified against a real org.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A SOQL query reply (`GET /query?q=…`, then `GET {nextRecordsUrl}` until `done`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryReply<T> {
    /// Rows in the whole result.
    #[serde(default)]
    pub total_size: u64,
    /// True on the last batch.
    #[serde(default = "yes")]
    pub done: bool,
    /// This batch's rows.
    #[serde(default = "Vec::new", bound(deserialize = "T: DeserializeOwned"))]
    pub records: Vec<T>,
    /// The path of the next batch (`/services/data/v62.0/query/01g…-2000`), while not
    /// `done`.
    #[serde(default)]
    pub next_records_url: Option<String>,
}

fn yes() -> bool {
    true
}

/// A row with only its id.
#[derive(Debug, Clone, Deserialize)]
pub struct IdRow {
    /// The record id.
    #[serde(rename = "Id")]
    pub id: String,
}

/// A `User` row, as the account read selects it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserRow {
    /// The user id (`005…`).
    pub id: String,
    /// The username (email-shaped, unique across every Salesforce org).
    pub username: String,
    /// The email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Active (holds a licence and can sign in) or deactivated.
    #[serde(default)]
    pub is_active: bool,
    /// The profile's id.
    #[serde(default)]
    pub profile_id: Option<String>,
    /// Last sign-in, `2024-05-01T09:30:00.000+0000`.
    #[serde(default)]
    pub last_login_date: Option<String>,
    /// The SAML federation id.
    #[serde(default)]
    pub federation_identifier: Option<String>,
    /// The HR employee number.
    #[serde(default)]
    pub employee_number: Option<String>,
}

/// A `UserLogin` row: whether the user is frozen.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserLoginRow {
    /// The `UserLogin` record's id (what a freeze `PATCH`es).
    pub id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// Frozen: cannot sign in, licence kept.
    #[serde(default)]
    pub is_frozen: bool,
}

/// The holder of an assignment, through the `Assignee` relationship.
#[derive(Debug, Clone, Deserialize)]
pub struct Assignee {
    /// The holder's username.
    #[serde(rename = "Username", default)]
    pub username: Option<String>,
}

/// A `PermissionSetAssignment` or `PermissionSetLicenseAssign` row.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssignmentRow {
    /// The assignment's id (what a revoke deletes).
    pub id: String,
    /// The user who holds it.
    pub assignee_id: String,
    /// The assigned permission set (for a group's assignment: the group's aggregate
    /// permission set).
    #[serde(default)]
    pub permission_set_id: Option<String>,
    /// The assigned permission set group, for a group's assignment.
    #[serde(default)]
    pub permission_set_group_id: Option<String>,
    /// The assigned licence, for a licence assignment.
    #[serde(default)]
    pub permission_set_license_id: Option<String>,
    /// The holder, when the query selects `Assignee.Username`.
    #[serde(default)]
    pub assignee: Option<Assignee>,
}

/// A `GroupMember` row.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMemberRow {
    /// The membership's id (what a removal deletes).
    pub id: String,
    /// The group.
    pub group_id: String,
    /// The member: a user (`005…`) or a nested group (`00G…`).
    pub user_or_group_id: String,
}

/// A named resource row: a profile or permission set (`Name`), a permission set
/// group, licence or public group (`DeveloperName`).
#[derive(Debug, Clone, Deserialize)]
pub struct NamedRow {
    /// The record id.
    #[serde(rename = "Id")]
    pub id: String,
    /// `Name` (profiles, permission sets: the API name).
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    /// `DeveloperName` (permission set groups and licences, public groups).
    #[serde(rename = "DeveloperName", default)]
    pub developer_name: Option<String>,
}

impl NamedRow {
    /// The name policies use: the developer name where the object has one, else the
    /// name.
    pub fn policy_name(&self) -> Option<&str> {
        self.developer_name.as_deref().or(self.name.as_deref())
    }
}

/// The reply of `POST /sobjects/{Object}`: `{"id", "success", "errors"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateReply {
    /// The new record's id.
    pub id: String,
    /// Whether it was created.
    #[serde(default = "yes")]
    pub success: bool,
}

/// One item of Salesforce's error body (a JSON array of these), or of a composite
/// reply's `errors`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorItem {
    /// The human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The error code (`DUPLICATE_VALUE`, `REQUEST_LIMIT_EXCEEDED`).
    #[serde(rename = "errorCode", default)]
    pub error_code: Option<String>,
    /// The code, as a composite reply's `errors` name it.
    #[serde(rename = "statusCode", default)]
    pub status_code: Option<String>,
    /// The fields the error is about.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl ErrorItem {
    /// The code, whichever field carries it.
    pub fn code(&self) -> Option<&str> {
        self.error_code.as_deref().or(self.status_code.as_deref())
    }
}

/// One item of a composite `DELETE /composite/sobjects?ids=…` reply.
#[derive(Debug, Clone, Deserialize)]
pub struct SaveResult {
    /// The record's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether it was deleted.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

/// Salesforce's date-time form (`2024-05-01T09:30:00.000+0000`), or RFC 3339.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A string literal for SOQL: quoted, with `\` and `'` escaped (and the control
/// characters SOQL escapes), so a name or login can never end the literal early.
pub fn soql_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// True for a Salesforce record id: 15 or 18 ASCII letters and digits. Ids are put
/// into SOQL and URL paths, so anything else is refused first.
pub fn is_record_id(text: &str) -> bool {
    matches!(text.len(), 15 | 18) && text.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn literals_cannot_be_broken_out_of() {
        assert_eq!(soql_literal("ada@example.com"), "'ada@example.com'");
        assert_eq!(
            soql_literal("x' OR Username != '"),
            "'x\\' OR Username != \\''"
        );
        assert_eq!(soql_literal("a\\'b"), "'a\\\\\\'b'");
    }

    #[test]
    fn salesforce_datetimes_parse() {
        let t = parse_datetime("2024-05-01T09:30:00.000+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-01T09:30:00+00:00");
        assert!(parse_datetime("yesterday").is_none());
    }

    #[test]
    fn record_ids_are_checked() {
        assert!(is_record_id("005000000000001AAA"));
        assert!(is_record_id("005000000000001"));
        assert!(!is_record_id("005' OR Id != '"));
    }
}
