//! Serde types for the endpoints the adapter uses (site API and org API).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Jira user (`GET /user`, `/users/search`, `/user/search`, group members, the
/// `POST /user` reply). The email is absent when the person's privacy settings hide it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The only id users are addressed by.
    pub account_id: String,
    /// `atlassian`, `app` or `customer`.
    #[serde(default)]
    pub account_type: Option<String>,
    /// The email, when visible.
    #[serde(default)]
    pub email_address: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// False for deactivated accounts.
    #[serde(default = "yes")]
    pub active: bool,
    /// With `expand=applicationRoles`: the products the user has.
    #[serde(default)]
    pub application_roles: Option<Items<ApplicationRoleRef>>,
}

fn yes() -> bool {
    true
}

impl User {
    /// The email when present and not blank.
    pub fn email(&self) -> Option<&str> {
        self.email_address
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    /// A person's account (not an app's or a service-desk customer's).
    pub fn is_person(&self) -> bool {
        self.account_type
            .as_deref()
            .is_none_or(|t| t == "atlassian")
    }
}

/// Jira's `{ "size": n, "items": [...] }` list wrapper.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Items<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// An application role (product) as a user's expansion names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApplicationRoleRef {
    /// The product key.
    pub key: String,
}

/// The body of `POST /user`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser<'a> {
    /// The email (required).
    pub email_address: &'a str,
    /// The products to give (`[]`: none).
    pub products: Vec<&'a str>,
}

/// A group as `/user/groups` and `/group/bulk` return it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The name (it can change).
    pub name: String,
    /// The id (it cannot).
    #[serde(default)]
    pub group_id: Option<String>,
}

/// A Jira page bean (`/group/member`, `/group/bulk`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageBean<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    /// The offset of the first.
    #[serde(default)]
    pub start_at: Option<u64>,
    /// The total, when given.
    #[serde(default)]
    pub total: Option<u64>,
    /// True on the last page.
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// A project role with its actors (`GET /project/{key}/role/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProjectRole {
    /// The role id.
    #[serde(default)]
    pub id: Option<u64>,
    /// The role name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its actors (users and groups).
    #[serde(default)]
    pub actors: Vec<RoleActor>,
}

/// One actor of a project role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleActor {
    /// `atlassian-user-role-actor` or `atlassian-group-role-actor`.
    #[serde(rename = "type", default)]
    pub actor_type: Option<String>,
    /// For a user actor.
    #[serde(default)]
    pub actor_user: Option<ActorUser>,
}

/// The user of a user actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorUser {
    /// The account.
    #[serde(default)]
    pub account_id: Option<String>,
}

impl ProjectRole {
    /// The account ids of its user actors.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.actors
            .iter()
            .filter_map(|a| a.actor_user.as_ref()?.account_id.as_deref())
    }
}

/// A role as `GET /role` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RoleRef {
    /// The id.
    pub id: u64,
    /// The name.
    pub name: String,
}

/// A product as `GET /applicationrole` lists it, with the groups that give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRole {
    /// The product key.
    pub key: String,
    /// Every group that gives the product.
    #[serde(default)]
    pub group_details: Vec<Group>,
    /// The groups new users of the product join.
    #[serde(default)]
    pub default_groups_details: Vec<Group>,
}

/// Jira's error body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Messages.
    #[serde(default)]
    pub error_messages: Vec<String>,
    /// Field → message.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

/// The org API's `GET /users/{id}/manage/profile` reply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgProfile {
    /// The account.
    pub account: OrgAccount,
}

/// An Atlassian account as the org API shows it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgAccount {
    /// The id.
    #[serde(default)]
    pub account_id: String,
    /// `active`, `inactive` or `closed`.
    #[serde(default)]
    pub account_status: Option<String>,
    /// The email (the org sees it whatever the privacy settings).
    #[serde(default)]
    pub email: Option<String>,
    /// Title, department, ...
    #[serde(default)]
    pub extended_profile: ExtendedProfile,
}

/// The extended profile fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtendedProfile {
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}
