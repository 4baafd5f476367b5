//! Serde types for the Slack replies the adapter reads (only the fields it reads).

use provision_core::model::AccountState;
use serde::Deserialize;
use serde_json::Value;

/// `response_metadata` of a paged Web API reply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseMetadata {
    /// The next page's cursor; empty or absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl ResponseMetadata {
    /// The next cursor, `None` when empty (the end; a short page is not the end).
    pub fn next(&self) -> Option<String> {
        self.next_cursor
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    }
}

/// `conversations.members`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Members {
    /// User ids.
    #[serde(default)]
    pub members: Vec<String>,
    /// Paging.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}

/// A channel in `conversations.list` / `users.conversations`.
#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    /// `C…` / `G…`.
    pub id: String,
    /// The name, without `#`.
    #[serde(default)]
    pub name: String,
    /// Archived channels take no invitations.
    #[serde(default)]
    pub is_archived: bool,
    /// A private channel (`conversations.info`): the app cannot join it by itself.
    #[serde(default)]
    pub is_private: bool,
    /// Whether the *calling app* is in the channel (`conversations.info`).
    #[serde(default)]
    pub is_member: bool,
}

/// `conversations.info`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelInfo {
    /// The channel.
    pub channel: Channel,
}

/// `conversations.list` / `users.conversations`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Channels {
    /// The channels on this page.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Paging.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}

/// A user in `users.list` / `users.lookupByEmail`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// `U…` / `W…`.
    pub id: String,
    /// Deactivated.
    #[serde(default)]
    pub deleted: bool,
    /// A bot user.
    #[serde(default)]
    pub is_bot: bool,
    /// The profile (its `email` needs `users:read.email`).
    #[serde(default)]
    pub profile: UserProfile,
}

/// The part of a user's profile read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserProfile {
    /// Email, when the token may read it.
    #[serde(default)]
    pub email: Option<String>,
}

/// `users.list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Users {
    /// The users on this page.
    #[serde(default)]
    pub members: Vec<User>,
    /// Paging.
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}

/// `users.lookupByEmail`.
#[derive(Debug, Clone, Deserialize)]
pub struct LookupByEmail {
    /// The user.
    pub user: User,
}

/// A user group in `usergroups.list`.
#[derive(Debug, Clone, Deserialize)]
pub struct Usergroup {
    /// `S…`.
    pub id: String,
    /// The handle (`oncall`), as policies name it.
    #[serde(default)]
    pub handle: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// Members, with `include_users=true`.
    #[serde(default)]
    pub users: Vec<String>,
}

/// `usergroups.list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Usergroups {
    /// The groups.
    #[serde(default)]
    pub usergroups: Vec<Usergroup>,
}

/// `usergroups.users.list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsergroupUsers {
    /// Member ids: the whole list (this method is not paged).
    #[serde(default)]
    pub users: Vec<String>,
}

/// One user's failure in a partial answer: `conversations.invite`'s `errors` list.
#[derive(Debug, Clone, Deserialize)]
pub struct PerUserError {
    /// The user id.
    pub user: String,
    /// Slack's code for this user.
    #[serde(default)]
    pub error: String,
}

/// The per-user failures of a partial answer, whichever shape it came in:
/// `conversations.invite` (with `force`) lists `errors: [{user, ok, error}]`;
/// `admin.conversations.invite`'s `failed_for_some_users` carries
/// `failed_user_ids: {"U1": "code"}` (the documented shape; not in the 2021 spec, (unverified)).
pub fn per_user_errors(body: &Value) -> Vec<PerUserError> {
    let mut out = Vec::new();
    if let Some(list) = body.get("errors").and_then(Value::as_array) {
        for e in list {
            if let Ok(one) = serde_json::from_value::<PerUserError>(e.clone()) {
                out.push(one);
            }
        }
    }
    if let Some(map) = body.get("failed_user_ids").and_then(Value::as_object) {
        for (user, code) in map {
            out.push(PerUserError {
                user: user.clone(),
                error: code.as_str().unwrap_or("failed").to_owned(),
            });
        }
    }
    if let Some(list) = body.get("failed_user_ids").and_then(Value::as_array) {
        for user in list.iter().filter_map(Value::as_str) {
            out.push(PerUserError {
                user: user.to_owned(),
                error: "failed".to_owned(),
            });
        }
    }
    out
}

/// A SCIM user (the fields read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// Slack's user id.
    pub id: String,
    /// The user name.
    #[serde(default)]
    pub user_name: String,
    /// Active (false once deactivated).
    #[serde(default = "yes")]
    pub active: bool,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<ScimEmail>,
}

fn yes() -> bool {
    true
}

/// A SCIM email.
#[derive(Debug, Clone, Deserialize)]
pub struct ScimEmail {
    /// The address.
    #[serde(default)]
    pub value: String,
    /// Primary.
    #[serde(default)]
    pub primary: bool,
}

impl ScimUser {
    /// The primary email, else the first, else the user name.
    pub fn email(&self) -> &str {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
            .unwrap_or(self.user_name.as_str())
    }

    /// The SDK's state: Slack deactivates, never deletes.
    pub fn state(&self) -> AccountState {
        if self.active {
            AccountState::Active
        } else {
            AccountState::Deprovisioned
        }
    }
}

/// A SCIM `ListResponse` (the list key is `Resources`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimList {
    /// Everything that matched.
    #[serde(default)]
    pub total_results: u64,
    /// This page.
    #[serde(default, rename = "Resources")]
    pub resources: Vec<ScimUser>,
}
