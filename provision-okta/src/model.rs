//! Serde types for the Okta endpoints the adapter uses (only the fields it reads).

use chrono::{DateTime, Utc};
use provision_core::model::AccountState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An Okta user (`GET /api/v1/users`, `GET /api/v1/users/{id}`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's id (`00u...`).
    pub id: String,
    /// `ACTIVE`, `STAGED`, `PROVISIONED`, `SUSPENDED`, `DEPROVISIONED`, ...
    #[serde(default)]
    pub status: String,
    /// The status an asynchronous transition is heading to.
    #[serde(default)]
    pub transitioning_to_status: Option<String>,
    /// Last sign-in.
    #[serde(default)]
    pub last_login: Option<DateTime<Utc>>,
    /// The profile (`login`, `email`, `firstName`, ... and custom fields).
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl User {
    /// A profile field as text.
    pub fn profile_str(&self, field: &str) -> Option<&str> {
        self.profile.get(field).and_then(Value::as_str)
    }

    /// The login.
    pub fn login(&self) -> &str {
        self.profile_str("login").unwrap_or_default()
    }

    /// The SDK's account state for the Okta status.
    pub fn state(&self) -> AccountState {
        account_state(&self.status)
    }
}

/// Okta user status → account state.
pub fn account_state(status: &str) -> AccountState {
    match status {
        "STAGED" | "PROVISIONED" => AccountState::Staged,
        "SUSPENDED" => AccountState::Suspended,
        "DEPROVISIONED" => AccountState::Deprovisioned,
        // ACTIVE, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT: the account exists and is enabled.
        _ => AccountState::Active,
    }
}

/// An Okta group (`GET /api/v1/groups`).
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    /// The group's id (`00g...`).
    pub id: String,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// The profile (`name`, `description`).
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl Group {
    /// The group's name.
    pub fn name(&self) -> &str {
        self.profile
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// An app assignment (`GET /api/v1/apps/{appId}/users`).
#[derive(Debug, Clone, Deserialize)]
pub struct AppUser {
    /// The assigned user's id.
    pub id: String,
    /// `USER` (assigned directly) or `GROUP` (held through a group's assignment).
    #[serde(default)]
    pub scope: Option<String>,
    /// The app-specific credentials; `userName` is the app login.
    #[serde(default)]
    pub credentials: Option<Map<String, Value>>,
    /// The app user's status (`ACTIVE`, `PROVISIONED`, `PENDING`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// Whether Okta's provisioning reached the target app: `SYNCHRONIZED`,
    /// `SYNCING`, `OUT_OF_SYNC` (changes not pushed), `ERROR` (the push failed; the
    /// task waits in the Admin Console), or `DISABLED` (no provisioning).
    #[serde(default, rename = "syncState")]
    pub sync_state: Option<String>,
    /// When Okta last pushed the app user.
    #[serde(default, rename = "lastSync")]
    pub last_sync: Option<String>,
}

/// `syncState` values that mean the target app does not have what Okta assigned.
pub const FAILED_SYNC_STATES: &[&str] = &["ERROR", "OUT_OF_SYNC"];

impl AppUser {
    /// Whether Okta's push to the target app failed or is still owed
    /// ([`FAILED_SYNC_STATES`]): then the assignment is not access the person holds.
    pub fn push_failed(&self) -> bool {
        self.sync_state
            .as_deref()
            .is_some_and(|s| FAILED_SYNC_STATES.contains(&s))
    }

    /// Okta's own account of the app user's provisioning, for errors and notes:
    /// `status PROVISIONED, syncState ERROR, last pushed …`.
    pub fn provisioning(&self) -> String {
        let mut out = format!(
            "status {}, syncState {}",
            self.status.as_deref().unwrap_or("(none)"),
            self.sync_state.as_deref().unwrap_or("(none)")
        );
        if let Some(at) = &self.last_sync {
            out.push_str(&format!(", last pushed {at}"));
        }
        out
    }

    /// The app user name, when the app has one.
    pub fn user_name(&self) -> Option<&str> {
        self.credentials
            .as_ref()
            .and_then(|c| c.get("userName"))
            .and_then(Value::as_str)
    }
}

/// An app link of a user (`GET /api/v1/users/{id}/appLinks`): one per app assigned
/// directly or through a group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppLink {
    /// The app's id (`0oa...`).
    pub app_instance_id: String,
}

/// An app (`GET /api/v1/apps`): only its id is read.
#[derive(Debug, Clone, Deserialize)]
pub struct App {
    /// The app's id (`0oa...`).
    pub id: String,
}

/// Okta's error body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// `E0000001`, `E0000047`, ...
    #[serde(default)]
    pub error_code: Option<String>,
    /// The summary.
    #[serde(default)]
    pub error_summary: Option<String>,
    /// The id of this error in Okta's logs (what Okta support asks for).
    #[serde(default)]
    pub error_id: Option<String>,
    /// Causes (validation details).
    #[serde(default)]
    pub error_causes: Vec<ErrorCause>,
}

/// One cause of an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCause {
    /// The cause's text.
    #[serde(default)]
    pub error_summary: Option<String>,
}

/// The OAuth token endpoint's answer.
#[derive(Deserialize)]
pub struct TokenResponse {
    /// The bearer token (never printed).
    pub access_token: provision_core::secret::SecretString,
    /// `Bearer` (or `DPoP`, unsupported).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The OAuth token endpoint's error body (`invalid_client`, `use_dpop_nonce`, ...).
#[derive(Debug, Deserialize)]
pub struct OAuthError {
    /// The error code.
    #[serde(default)]
    pub error: Option<String>,
    /// The description.
    #[serde(default)]
    pub error_description: Option<String>,
}
