//! Serde types for the Directory API endpoints and the token endpoint the adapter uses.

use provision_core::secret::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// `users.insert` body (the fields required on insert plus the ones the adapter sets).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    /// The user's primary email (the correlation login).
    pub primary_email: String,
    /// Given and family name (both required).
    pub name: UserName,
    /// A random password for an SSO-only user: sent once, never stored or logged.
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// Always false: see the crate docs ("Password handling").
    pub change_password_at_next_login: bool,
    /// Where the user is created.
    pub org_unit_path: String,
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// A user's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    /// First name (at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name (at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
}

/// One entry of a user's `organizations` (department and title), with every other
/// field of the entry (`name`, `costCenter`, `type`, ...) kept as it was read:
/// `users.update` replaces the whole list, so what is written back must carry them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The primary organization (absent when the entry does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// The entry's other fields, as read.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Organization {
    /// True for the entry marked primary.
    pub fn is_primary(&self) -> bool {
        self.primary == Some(true)
    }
}

/// `organizations` with `wanted`'s department and title set on the primary entry (or
/// the first one, or a new primary entry when there is none), every other entry and
/// field as in `current`: the list `users.update` must get, since it replaces it whole.
pub fn merge_organizations(
    current: Option<&[Organization]>,
    wanted: &Organization,
) -> Vec<Organization> {
    let mut orgs = current.map(<[Organization]>::to_vec).unwrap_or_default();
    let target = orgs
        .iter()
        .position(Organization::is_primary)
        .or(if orgs.is_empty() { None } else { Some(0) });
    match target {
        Some(i) => {
            if let Some(d) = &wanted.department {
                orgs[i].department = Some(d.clone());
            }
            if let Some(t) = &wanted.title {
                orgs[i].title = Some(t.clone());
            }
        }
        None => orgs.push(Organization {
            primary: Some(true),
            ..wanted.clone()
        }),
    }
    orgs
}

/// `users.update` body: only the fields present change (Google's update keeps absent fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdate {
    /// New name parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<UserName>,
    /// New org unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_path: Option<String>,
    /// Suspend (true) or reactivate (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Department/title (replaces the whole list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<Organization>>,
}

/// A user as `users.get` / `users.list` return it (the fields read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Immutable id.
    pub id: String,
    /// Primary email.
    pub primary_email: String,
    /// Name.
    #[serde(default)]
    pub name: Option<UserName>,
    /// Suspended by an admin (or by Google).
    #[serde(default)]
    pub suspended: bool,
    /// Archived (an archived user cannot sign in either).
    #[serde(default)]
    pub archived: bool,
    /// RFC 3339; `1970-01-01T00:00:00.000Z` when the user never signed in.
    #[serde(default)]
    pub last_login_time: Option<String>,
    /// The org unit the user sits in.
    #[serde(default)]
    pub org_unit_path: Option<String>,
    /// Organizations (department, title).
    #[serde(default)]
    pub organizations: Option<Vec<Organization>>,
}

/// A page of `users.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    /// The users (absent when none).
    #[serde(default)]
    pub users: Vec<User>,
    /// The next page's token; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A group member (`members.insert` body and listing entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's id (read only in practice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The member's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `OWNER`, `MANAGER` or `MEMBER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `USER`, `GROUP`, `CUSTOMER` or `EXTERNAL`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
}

/// A page of `members.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersPage {
    /// The members (absent when none).
    #[serde(default)]
    pub members: Vec<Member>,
    /// The next page's token; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A group as `groups.list` returns it (the fields read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Immutable id.
    #[serde(default)]
    pub id: Option<String>,
    /// The group's email: how policies name it.
    pub email: String,
}

/// A page of `groups.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsPage {
    /// The groups (absent when none).
    #[serde(default)]
    pub groups: Vec<Group>,
    /// The next page's token; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// Google's JSON error body: `{"error":{"code","message","errors":[{reason,domain,message}],"status"}}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` object.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorDetail {
    /// The HTTP status again.
    #[serde(default)]
    pub code: Option<u16>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// Detail entries; the first `reason` is what to decide on.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
    /// The canonical status (`PERMISSION_DENIED`, `RESOURCE_EXHAUSTED`).
    #[serde(default)]
    pub status: Option<String>,
}

/// One entry of `error.errors`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorItem {
    /// `duplicate`, `notFound`, `userRateLimitExceeded`, `backendError`, ...
    #[serde(default)]
    pub reason: Option<String>,
    /// `global`, `usageLimits`, ...
    #[serde(default)]
    pub domain: Option<String>,
    /// The entry's message.
    #[serde(default)]
    pub message: Option<String>,
}
