//! Serde types for the GitHub endpoints the adapter uses (only the fields it reads).

use serde::Deserialize;

/// A user as lists and lookups return it (`simple-user`, `team-member`).
#[derive(Debug, Clone, Deserialize)]
pub struct SimpleUser {
    /// The username.
    pub login: String,
    /// The numeric id.
    pub id: u64,
    /// The team role (`team-member` only): `member` or `maintainer`.
    #[serde(default)]
    pub role: Option<String>,
    /// The team membership is inherited from a child team (`team-member` only).
    #[serde(default)]
    pub inherited: bool,
}

/// `GET /orgs/{org}/memberships/{username}` and its `PUT`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgMembership {
    /// `active` or `pending`.
    pub state: String,
    /// `admin`, `member` or `billing_manager`.
    #[serde(default)]
    pub role: Option<String>,
}

/// `PUT`/`GET /orgs/{org}/teams/{team_slug}/memberships/{username}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamMembership {
    /// `member` or `maintainer`.
    pub role: String,
    /// `active` or `pending` (the person has not accepted the organization's invitation).
    pub state: String,
}

/// An organization invitation (`GET /orgs/{org}/invitations`).
#[derive(Debug, Clone, Deserialize)]
pub struct Invitation {
    /// The invitation's id.
    pub id: u64,
    /// The invitee's username (absent for an invitation by email).
    #[serde(default)]
    pub login: Option<String>,
    /// The invitee's email (for an invitation by email).
    #[serde(default)]
    pub email: Option<String>,
    /// When it was sent.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A SCIM user of an EMU enterprise.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// GitHub's SCIM id.
    pub id: String,
    /// The IdP's user name (GitHub derives the handle `{userName}_{shortcode}` from it).
    #[serde(default)]
    pub user_name: Option<String>,
    /// The IdP's id for the person.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Active, or suspended.
    #[serde(default = "yes")]
    pub active: bool,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<ScimEmail>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

fn yes() -> bool {
    true
}

/// One SCIM email.
#[derive(Debug, Clone, Deserialize)]
pub struct ScimEmail {
    /// The address.
    pub value: String,
    /// The primary one.
    #[serde(default)]
    pub primary: bool,
}

impl ScimUser {
    /// The primary email, else the first.
    pub fn email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or(self.emails.first())
            .map(|e| e.value.as_str())
    }
}

/// A SCIM list reply.
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
