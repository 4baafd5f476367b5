//! What a `jira-tickets` system says in `provision.yaml`: the Jira site (the same
//! credential as `adapter: jira`), the project and issue type tickets are opened in,
//! extra fields, which statuses and resolutions mean done and rejected, how long a
//! ticket may stay open, and the kinds of access the manual system has.

use std::time::Duration;

use provision_core::adapter::{ConfigError, SystemSpec};
use provision_core::secret::SecretString;
use serde_json::{Map, Value};

use crate::config::JiraConfig;

/// The resolutions that mean "not done, and not going to be" unless configured.
pub const DEFAULT_REJECTED_RESOLUTIONS: &[&str] = &[
    "Won't Do",
    "Won't Fix",
    "Declined",
    "Rejected",
    "Cannot Reproduce",
];

/// Business days a ticket may stay open unless configured.
pub const DEFAULT_DEADLINE_BUSINESS_DAYS: u32 = 2;

/// One kind of access the manual system has, and the policy action that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualKind {
    /// The resource kind (`role`, `module`).
    pub kind: String,
    /// The policy action (`grant_role` unless configured as `role=assign_role`).
    pub action: String,
}

/// The `jira-tickets` adapter's configuration; build it with [`TicketConfig::builder`]
/// or [`TicketConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct TicketConfig {
    /// The Jira site and its credential (only the site API is used).
    pub jira: JiraConfig,
    /// The project key tickets are opened in (`IT`, `PAY`).
    pub project: String,
    /// The issue type's name (`Task`, `Service Request`).
    pub issue_type: String,
    /// Fields every ticket is created with besides project, type, summary, description
    /// and labels (a components list, a custom "request type" field), as Jira's
    /// `fields` object.
    pub fields: Map<String, Value>,
    /// Status names that mean the work is finished (compared without case); empty:
    /// any status in Jira's `done` status category.
    pub done_statuses: Vec<String>,
    /// Resolutions of a finished ticket that mean the work was refused: the operation
    /// fails with the resolver's last comment.
    pub rejected_resolutions: Vec<String>,
    /// Business days (Monday to Friday) a ticket may stay open before its operation
    /// fails as overdue (a finding in the run report); 0 never.
    pub deadline_business_days: u32,
    /// The kinds of access the system has.
    pub kinds: Vec<ManualKind>,
    /// Whether the system has accounts the SDK asks to create, disable and re-enable
    /// (`accounts: true`). Off by default: a ticket asks for the access and the person
    /// doing it makes the account as needed, so a joiner's grants share one issue
    /// (with accounts on, the grants wait for the account's ticket to be done and
    /// come in a second one).
    pub accounts: bool,
    /// How soon to look at an open ticket again within a run that keeps checking.
    pub recheck_after: Duration,
}

impl TicketConfig {
    /// Tickets in `project` on the Jira site `site_url`, as `email` with `api_token`.
    pub fn builder(
        site_url: &str,
        email: impl Into<String>,
        api_token: impl Into<SecretString>,
        project: impl Into<String>,
    ) -> TicketConfigBuilder {
        TicketConfigBuilder {
            site_url: site_url.to_owned(),
            email: email.into(),
            api_token: api_token.into(),
            project: project.into(),
            issue_type: "Task".to_owned(),
            fields: Map::new(),
            done_statuses: Vec::new(),
            rejected_resolutions: DEFAULT_REJECTED_RESOLUTIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            deadline_business_days: DEFAULT_DEADLINE_BUSINESS_DAYS,
            kinds: vec![manual_kind("role")],
            accounts: false,
            system_name: "jira-tickets".to_owned(),
        }
    }

    /// From a deployment's system entry.
    ///
    /// Settings: `site_url`, `email`, `project` (required); `issue_type` (`Task`),
    /// `fields` (a JSON object), `done_statuses` and `rejected_resolutions` (comma
    /// separated), `deadline_business_days` (2), `kinds` (comma separated `kind` or
    /// `kind=action`; `role`), `accounts` (`true`/`false`, false). Credential:
    /// `api_token` (required).
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let mut b = Self::builder(
            spec.required_setting("site_url", "the site URL, `https://<site>.atlassian.net`")?,
            spec.required_setting("email", "the email of the API token's account")?,
            spec.required_credential("api_token")?,
            spec.required_setting("project", "the key of the project tickets are opened in")?,
        )
        .system_name(system);
        if let Some(v) = spec.setting("issue_type") {
            b = b.issue_type(v);
        }
        if let Some(v) = spec.setting("fields") {
            let fields = match serde_json::from_str::<Value>(v) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "fields",
                        "a JSON object of Jira fields, e.g. {\"components\":[{\"name\":\"Payroll\"}]}",
                    ));
                }
            };
            b = b.fields(fields);
        }
        if let Some(v) = spec.setting("done_statuses") {
            b = b.done_statuses(comma_list(v));
        }
        if let Some(v) = spec.setting("rejected_resolutions") {
            b = b.rejected_resolutions(comma_list(v));
        }
        if let Some(v) = spec.setting("deadline_business_days") {
            let days = v.trim().parse().map_err(|_| {
                ConfigError::invalid_setting(
                    system,
                    "deadline_business_days",
                    format!("a whole number of business days, not `{v}`"),
                )
            })?;
            b = b.deadline_business_days(days);
        }
        if let Some(v) = spec.setting("kinds") {
            b = b.kinds(parse_kinds(system, v)?);
        }
        b = b.accounts(parse_accounts(spec)?);
        b.build()
    }
}

/// The `accounts` setting (`true`/`false`, false when absent).
pub fn parse_accounts(spec: SystemSpec<'_>) -> Result<bool, ConfigError> {
    match spec.setting("accounts").map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::invalid_setting(
            spec.name.as_str(),
            "accounts",
            format!("`true` or `false`, not `{other}`"),
        )),
    }
}

/// `role` → `grant_role`; `role=assign_role` as written.
fn manual_kind(text: &str) -> ManualKind {
    match text.split_once('=') {
        Some((kind, action)) => ManualKind {
            kind: kind.trim().to_owned(),
            action: action.trim().to_owned(),
        },
        None => ManualKind {
            kind: text.trim().to_owned(),
            action: format!("grant_{}", text.trim()),
        },
    }
}

/// The `kinds` setting: comma separated `kind` or `kind=action`.
pub fn parse_kinds(system: &str, text: &str) -> Result<Vec<ManualKind>, ConfigError> {
    let kinds: Vec<ManualKind> = comma_list(text).iter().map(|k| manual_kind(k)).collect();
    if kinds.is_empty()
        || kinds
            .iter()
            .any(|k| k.kind.is_empty() || k.action.is_empty())
    {
        return Err(ConfigError::invalid_setting(
            system,
            "kinds",
            format!("comma separated `kind` or `kind=action`, not `{text}`"),
        ));
    }
    Ok(kinds)
}

/// A comma separated list (names like `Won't Do` keep their spaces).
pub fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Builds a [`TicketConfig`].
#[derive(Debug)]
#[must_use]
pub struct TicketConfigBuilder {
    site_url: String,
    email: String,
    api_token: SecretString,
    project: String,
    issue_type: String,
    fields: Map<String, Value>,
    done_statuses: Vec<String>,
    rejected_resolutions: Vec<String>,
    deadline_business_days: u32,
    kinds: Vec<ManualKind>,
    accounts: bool,
    system_name: String,
}

impl TicketConfigBuilder {
    /// The system's name in the deployment (configuration errors name it).
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// The issue type's name.
    pub fn issue_type(mut self, name: impl Into<String>) -> Self {
        self.issue_type = name.into();
        self
    }

    /// Extra fields every ticket is created with.
    pub fn fields(mut self, fields: Map<String, Value>) -> Self {
        self.fields = fields;
        self
    }

    /// Status names that mean done.
    pub fn done_statuses(mut self, statuses: Vec<String>) -> Self {
        self.done_statuses = statuses;
        self
    }

    /// Resolutions that mean rejected.
    pub fn rejected_resolutions(mut self, resolutions: Vec<String>) -> Self {
        self.rejected_resolutions = resolutions;
        self
    }

    /// Business days a ticket may stay open (0: no deadline).
    pub fn deadline_business_days(mut self, days: u32) -> Self {
        self.deadline_business_days = days;
        self
    }

    /// The kinds of access the system has.
    pub fn kinds(mut self, kinds: Vec<ManualKind>) -> Self {
        self.kinds = kinds;
        self
    }

    /// Whether the system has accounts of its own to create and disable.
    pub fn accounts(mut self, on: bool) -> Self {
        self.accounts = on;
        self
    }

    /// Checks and builds.
    pub fn build(self) -> Result<TicketConfig, ConfigError> {
        let system = self.system_name.clone();
        if self.project.trim().is_empty() {
            return Err(ConfigError::invalid_setting(
                &system,
                "project",
                "the key of the project tickets are opened in",
            ));
        }
        if self.issue_type.trim().is_empty() {
            return Err(ConfigError::invalid_setting(
                &system,
                "issue_type",
                "an issue type's name, e.g. `Task`",
            ));
        }
        for reserved in ["project", "issuetype", "summary", "description", "labels"] {
            if self.fields.contains_key(reserved) {
                return Err(ConfigError::invalid_setting(
                    &system,
                    "fields",
                    format!("no `{reserved}`: the adapter sets it"),
                ));
            }
        }
        let jira = JiraConfig::builder(&self.site_url, self.email, self.api_token)
            .system_name(&system)
            .build()?;
        Ok(TicketConfig {
            jira,
            project: self.project.trim().to_owned(),
            issue_type: self.issue_type,
            fields: self.fields,
            done_statuses: self.done_statuses,
            rejected_resolutions: self.rejected_resolutions,
            deadline_business_days: self.deadline_business_days,
            kinds: self.kinds,
            accounts: self.accounts,
            recheck_after: Duration::from_secs(3600),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_take_an_action_or_get_grant_kind() {
        let kinds = parse_kinds("payroll", "role, module=add_module").unwrap();
        assert_eq!(kinds[0].action, "grant_role");
        assert_eq!(kinds[1].kind, "module");
        assert_eq!(kinds[1].action, "add_module");
        let err = parse_kinds("payroll", " , ").unwrap_err().to_string();
        assert!(err.contains("kinds"), "{err}");
    }

    #[test]
    fn resolutions_keep_their_spaces() {
        assert_eq!(comma_list("Won't Do, Declined"), ["Won't Do", "Declined"]);
    }

    #[test]
    fn the_adapter_owns_summary_and_labels() {
        let mut fields = Map::new();
        fields.insert("labels".into(), Value::Array(vec![]));
        let err = TicketConfig::builder("https://acme.atlassian.net", "a@b.c", "t", "PAY")
            .fields(fields)
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("fields") && err.contains("labels"), "{err}");
    }
}
