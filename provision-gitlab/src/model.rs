//! Serde types for the GitLab endpoints the adapter uses (only the fields it reads).
//!
//! Members follow `API_Entities_Member` of GitLab's OpenAPI description; users,
//! groups and projects follow the REST documentation (the description has no
//! `/users`, `/groups/:id` or `/projects` entities).

use provision_core::model::AccountState;
use serde::Deserialize;

/// A user (`GET /users`, `GET /users/:id`, `POST /users`) or a member (the member
/// entity carries the user's fields plus `access_level`).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// The numeric id.
    pub id: u64,
    /// The username (`sarah.connor`).
    #[serde(default)]
    pub username: String,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `active`, `blocked`, `deactivated`, `ldap_blocked`, `banned`,
    /// `blocked_pending_approval`.
    #[serde(default)]
    pub state: Option<String>,
    /// The primary email: shown to administrators (and, on gitlab.com, for
    /// enterprise users to group owners).
    #[serde(default)]
    pub email: Option<String>,
    /// The public email, when the user made one public.
    #[serde(default)]
    pub public_email: Option<String>,
    /// `last_sign_in_at` (administrators only).
    #[serde(default)]
    pub last_sign_in_at: Option<String>,
    /// The SAML identity of a member of a group with SAML SSO.
    #[serde(default)]
    pub group_saml_identity: Option<SamlIdentity>,
    /// A bot (project, group or service-account bot; the ghost user): no person's
    /// account, so never read as one.
    #[serde(default)]
    pub bot: bool,
    /// `human`, or the kind of bot (`project_bot`, `service_account`, …), where shown.
    #[serde(default)]
    pub user_type: Option<String>,
}

/// A member's SAML identity.
#[derive(Debug, Clone, Deserialize)]
pub struct SamlIdentity {
    /// The identity provider's name id for the person.
    #[serde(default)]
    pub extern_uid: Option<String>,
}

impl User {
    /// The login the SDK correlates by: the email when GitLab shows one, else the
    /// username.
    pub fn login(&self) -> &str {
        self.email
            .as_deref()
            .or(self.public_email.as_deref())
            .filter(|e| !e.is_empty())
            .unwrap_or(&self.username)
    }

    /// Whether `login` (an email or a username) names this user.
    pub fn answers_to(&self, login: &str) -> bool {
        let same = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(login));
        same(Some(&self.username))
            || same(self.email.as_deref())
            || same(self.public_email.as_deref())
            || same(
                self.group_saml_identity
                    .as_ref()
                    .and_then(|i| i.extern_uid.as_deref()),
            )
    }

    /// A bot, never a person: GitLab's `bot` flag, a `user_type` other than `human`,
    /// or a bot's username ([`is_bot_username`]).
    pub fn is_bot(&self) -> bool {
        self.bot
            || self
                .user_type
                .as_deref()
                .is_some_and(|t| !t.is_empty() && t != "human")
            || is_bot_username(&self.username)
    }

    /// The SDK's account state.
    pub fn account_state(&self) -> AccountState {
        account_state(self.state.as_deref().unwrap_or("active"))
    }
}

/// Whether a username is one GitLab gives bots: a group or project access token's
/// user (`group_<id>_bot_<hash>`, `project_<id>_bot_<hash>`, older `project_<id>_bot`)
/// or a service account (`service_account_…`). The member entity has no `bot` flag,
/// so this is how a bot is known among members.
pub fn is_bot_username(username: &str) -> bool {
    let token_bot = |prefix: &str| {
        username.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            digits > 0
                && rest[digits..]
                    .strip_prefix("_bot")
                    .is_some_and(|tail| tail.is_empty() || tail.starts_with('_'))
        })
    };
    token_bot("group_") || token_bot("project_") || username.starts_with("service_account_")
}

/// GitLab user state → account state.
pub fn account_state(state: &str) -> AccountState {
    match state {
        "active" => AccountState::Active,
        "blocked_pending_approval" => AccountState::Staged,
        "deactivated" => AccountState::Deprovisioned,
        // blocked, ldap_blocked, banned: cannot sign in; memberships kept.
        _ => AccountState::Suspended,
    }
}

/// A member of a group or project (`API_Entities_Member`).
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// The user's id.
    pub id: u64,
    /// The username.
    #[serde(default)]
    pub username: String,
    /// The email (enterprise users on gitlab.com, administrators on self-managed).
    #[serde(default)]
    pub email: Option<String>,
    /// The public email.
    #[serde(default)]
    pub public_email: Option<String>,
    /// The user's state.
    #[serde(default)]
    pub state: Option<String>,
    /// The access level (a number; the description types it as a string).
    #[serde(default, deserialize_with = "number_or_string")]
    pub access_level: Option<u32>,
    /// `YYYY-MM-DD` when the membership ends.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `active` or `awaiting` (a membership waiting for a seat or an approval).
    #[serde(default)]
    pub membership_state: Option<String>,
    /// The SAML identity, on groups with SAML SSO.
    #[serde(default)]
    pub group_saml_identity: Option<SamlIdentity>,
}

impl Member {
    /// The membership waits for a seat (the group's user cap) or an Owner's approval
    /// ("require approval"): it gives no access until then.
    pub fn is_awaiting(&self) -> bool {
        self.membership_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("awaiting"))
    }

    /// The member as a user.
    pub fn user(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            name: None,
            state: self.state.clone(),
            email: self.email.clone(),
            public_email: self.public_email.clone(),
            last_sign_in_at: None,
            group_saml_identity: self.group_saml_identity.clone(),
            bot: false,
            user_type: None,
        }
    }

    /// A bot's membership (a group or project access token, a service account).
    pub fn is_bot(&self) -> bool {
        is_bot_username(&self.username)
    }
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A SAML identity of the top-level group (`GET /groups/:id/saml/identities`,
/// `GET /groups/:id/saml/:uid`): the identity provider's NameID for a user.
#[derive(Debug, Clone, Deserialize)]
pub struct SamlIdentityRecord {
    /// The NameID (`extern_uid`).
    pub extern_uid: String,
    /// The user's id (the docs type it as a string, the example as a number).
    #[serde(deserialize_with = "number_or_string_required")]
    pub user_id: u64,
}

fn number_or_string_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("a user id that is not a whole number")),
        serde_json::Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("a user id that is not a number")),
        _ => Err(serde::de::Error::custom("a user id that is not a number")),
    }
}

/// A SAML group link (`GET /groups/:id/saml_group_links`): members of the identity
/// provider's group `name` get `access_level` in the GitLab group at every sign-in.
#[derive(Debug, Clone, Deserialize)]
pub struct SamlGroupLink {
    /// The identity provider's group name.
    pub name: String,
    /// The access level the link gives.
    #[serde(default, deserialize_with = "number_or_string")]
    pub access_level: Option<u32>,
}

/// A group (`GET /groups/:id`, `GET /groups/:id/descendant_groups`).
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    /// The numeric id.
    pub id: u64,
    /// The full path (`acme/engineering/backend`): the name policies use.
    pub full_path: String,
    /// The parent group's id.
    #[serde(default)]
    pub parent_id: Option<u64>,
}

/// A project (`GET /groups/:id/projects`).
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// The numeric id.
    pub id: u64,
    /// The full path (`acme/engineering/api`): the name policies use.
    pub path_with_namespace: String,
}

/// The token's own user (`GET /user`).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenUser {
    /// The numeric id.
    pub id: u64,
    /// The username.
    #[serde(default)]
    pub username: String,
    /// Whether the token's user is an instance administrator (shown only to admins:
    /// absent means no).
    #[serde(default)]
    pub is_admin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_usernames_are_recognised() {
        for bot in [
            "group_42_bot_4f2a9c",
            "project_7_bot_b1",
            "project_7_bot",
            "service_account_group_42_1a2b",
        ] {
            assert!(is_bot_username(bot), "{bot}");
        }
        for person in ["group_lead", "project_7_bots", "sarah", "group__bot_x"] {
            assert!(!is_bot_username(person), "{person}");
        }
    }
}
