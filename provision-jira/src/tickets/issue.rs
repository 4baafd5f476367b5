//! The Jira issue as the ticket adapter writes and reads it: the record of the
//! operations it asks for (kept in the issue property [`PROPERTY`], so a later run and
//! a restart read back exactly what was asked), its labels, and the serde shapes of
//! `GET /search/jql`, `GET /issue/{key}` and its comments.
//!
//! Shapes follow `specs/jira-issues.trimmed.json` (IssueBean, SearchAndReconcileResults,
//! PageOfComments); the answers of a real tenant were not recorded (unverified).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use provision_core::model::{Entitlement, Operation, OperationKind};

/// The issue property holding the [`TicketRecord`].
pub const PROPERTY: &str = "provision";
/// The label every ticket of the adapter carries.
pub const LABEL: &str = "provision";

/// The label of one person's tickets (a digest: labels cannot hold every character
/// an identity id may have).
pub fn person_label(identity: &str) -> String {
    format!("provision-person-{}", digest(identity))
}

/// The label of one operation's ticket.
pub fn operation_label(operation: &str) -> String {
    format!("provision-op-{}", digest(operation))
}

fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// One operation a ticket asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskedOperation {
    /// The operation's id (deterministic across runs).
    pub id: String,
    /// Its verb (`grant`, `suspend_account`, ...).
    pub verb: String,
    /// The entitlement, for grants and revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    /// The sentence the issue shows for it.
    #[serde(default)]
    pub text: String,
}

impl AskedOperation {
    /// The record of `op` (without its sentence).
    pub fn of(op: &Operation) -> Self {
        Self {
            id: op.id.0.clone(),
            verb: op.kind.verb().to_owned(),
            entitlement: op.kind.entitlement().cloned(),
            text: String::new(),
        }
    }
}

/// What a ticket asks for, kept in the issue property [`PROPERTY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The person's identity id.
    pub identity: String,
    /// The person's login (the account's id in a system without ids of its own).
    pub login: String,
    /// The event that made the plan (`hire e1`, `nightly reconcile`): one ticket per
    /// person per event.
    #[serde(default)]
    pub event: String,
    /// The operations, in the order they were asked.
    pub operations: Vec<AskedOperation>,
}

/// The event an operation belongs to, as tickets group them.
pub fn event_of(op: &Operation) -> String {
    op.reason.event.clone().unwrap_or_default()
}

/// A sentence for the person who does the work.
pub fn sentence(op: &Operation, system: &str) -> String {
    let who = &op.login;
    let what = match &op.kind {
        OperationKind::CreateAccount { profile } => format!(
            "Create an account in {system} for {} ({who})",
            if profile.display_name.is_empty() {
                who
            } else {
                &profile.display_name
            }
        ),
        OperationKind::UpdateAccount { attributes } => {
            let list: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("Update {who}'s account in {system}: {}", list.join(", "))
        }
        OperationKind::ReactivateAccount => format!("Re-enable {who}'s account in {system}"),
        OperationKind::RevokeSessions => format!("End every session of {who} in {system}"),
        OperationKind::SuspendAccount => format!("Disable {who}'s account in {system}"),
        OperationKind::DeleteAccount => format!("Delete {who}'s account in {system}"),
        OperationKind::Grant { entitlement } => {
            format!("Give {who} {} in {system}", describe(entitlement))
        }
        OperationKind::Revoke { entitlement } => {
            format!("Remove {} from {who} in {system}", describe(entitlement))
        }
        _ => format!("{} for {who} in {system}", op.kind.verb()),
    };
    let mut why = op.reason.detail.clone();
    if !op.reason.policies.is_empty() {
        why = format!("{why} (policies: {})", op.reason.policies.join(", "));
    }
    format!("{what}. Why: {why}. Operation: {}", op.id)
}

fn describe(e: &Entitlement) -> String {
    let mut s = format!("{} `{}`", e.kind, e.resource);
    if let Some(role) = &e.role {
        s.push_str(&format!(" as {role}"));
    }
    if let Some(scope) = &e.scope {
        s.push_str(&format!(" on {scope}"));
    }
    s
}

/// Atlassian Document Format: one paragraph per line.
pub fn adf(lines: &[String]) -> Value {
    let content: Vec<Value> = lines
        .iter()
        .map(|l| json!({"type": "paragraph", "content": [{"type": "text", "text": l}]}))
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// The plain text of an ADF document (every `text` node, paragraphs on their own lines).
pub fn adf_text(doc: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push_str(t);
        }
        if let Some(children) = v.get("content").and_then(Value::as_array) {
            for c in children {
                walk(c, out);
            }
            if v.get("type").and_then(Value::as_str) == Some("paragraph") {
                out.push('\n');
            }
        }
    }
    let mut out = String::new();
    match doc {
        Value::String(s) => out.push_str(s),
        other => walk(other, &mut out),
    }
    out.trim().to_owned()
}

/// `GET /search/jql`'s answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The issues on this page.
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// The next page's token; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Whether this is the last page.
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// An issue with the fields the adapter asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    /// The key (`PAY-12`).
    pub key: String,
    /// The fields asked for.
    #[serde(default)]
    pub fields: IssueFields,
    /// The issue properties asked for.
    #[serde(default)]
    pub properties: serde_json::Map<String, Value>,
}

/// The fields the adapter reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IssueFields {
    /// The workflow status.
    #[serde(default)]
    pub status: Option<Status>,
    /// The resolution, once resolved.
    #[serde(default)]
    pub resolution: Option<Named>,
    /// When it was resolved.
    #[serde(default)]
    pub resolutiondate: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created: Option<String>,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A status and its category.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Its name (`Done`, `In Progress`).
    #[serde(default)]
    pub name: String,
    /// Its category (`new`, `indeterminate`, `done`).
    #[serde(default)]
    pub status_category: Option<Category>,
}

/// A status category.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Category {
    /// `new`, `indeterminate` or `done`.
    #[serde(default)]
    pub key: String,
}

/// Something with a name (a resolution).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Named {
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// `GET /issue/{key}/comment`'s answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CommentPage {
    /// The comments on this page.
    #[serde(default)]
    pub comments: Vec<Comment>,
}

/// One comment.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    /// Who wrote it.
    #[serde(default)]
    pub author: Option<Author>,
    /// Its body (ADF in v3).
    #[serde(default)]
    pub body: Value,
}

/// A comment's author.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Author {
    /// The name Jira shows.
    #[serde(default)]
    pub display_name: String,
}

impl Issue {
    /// The record the adapter stored, when the property is there and readable.
    pub fn record(&self) -> Option<TicketRecord> {
        self.properties
            .get(PROPERTY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Whether the ticket carries the label.
    pub fn has_label(&self, label: &str) -> bool {
        self.fields.labels.iter().any(|l| l == label)
    }

    /// When it was created, when Jira said (`2026-12-07T10:00:00.000+0000`).
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.fields.created.as_deref().and_then(jira_time)
    }

    /// When it was resolved, when it was.
    pub fn resolved(&self) -> Option<DateTime<Utc>> {
        self.fields.resolutiondate.as_deref().and_then(jira_time)
    }
}

/// Jira's timestamps: RFC 3339, or with a `+0000` offset and milliseconds.
pub fn jira_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jira_times_parse_in_both_spellings() {
        let a = jira_time("2026-12-07T10:00:00.000+0000").unwrap();
        let b = jira_time("2026-12-07T10:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(jira_time("yesterday").is_none());
    }

    #[test]
    fn adf_round_trips_to_text() {
        let doc = adf(&["one".into(), "two".into()]);
        assert_eq!(adf_text(&doc), "one\ntwo");
    }

    #[test]
    fn labels_are_stable_and_distinct() {
        assert_eq!(person_label("e1"), person_label("e1"));
        assert_ne!(operation_label("a"), operation_label("b"));
        assert!(!person_label("id with spaces").contains(' '));
    }
}
