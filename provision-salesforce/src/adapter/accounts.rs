//! Users: the account read, the create (with its profile), deactivation or freezing,
//! reactivation and the end of a leaver's sessions. Users are never deleted.

use std::collections::BTreeSet;

use provision_core::adapter::{AdapterError, Applied, Effect, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef, AccountState};
use reqwest::Method;
use serde_json::{Value, json};

use super::SalesforceAdapter;
use crate::client::SYSTEM;
use crate::config::LeaverAction;
use crate::descriptor::KIND_PROFILE;
use crate::model::{
    CreateReply, IdRow, SaveResult, UserLoginRow, UserRow, is_record_id, parse_datetime,
    soql_literal,
};

/// The `User` fields the account read selects.
const USER_FIELDS: &str =
    "Id, Username, Email, IsActive, ProfileId, LastLoginDate, FederationIdentifier, EmployeeNumber";

/// Records per composite delete (`DELETE /composite/sobjects?ids=…`): Salesforce's
/// maximum.
pub const COMPOSITE_DELETE_MAX: usize = 200;

/// The longest `Alias` Salesforce accepts.
pub const ALIAS_MAX: usize = 8;

/// A user's state as the lifecycle operations need it.
struct UserState {
    id: String,
    active: bool,
}

impl SalesforceAdapter {
    /// The user id of `account`: its external id when known, else one SOQL lookup by
    /// username. An unknown username is [`AdapterError::NotFound`].
    pub(crate) async fn user_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
        match account.external_id.as_deref() {
            Some(id) if is_record_id(id) => Ok(id.to_owned()),
            Some(id) => Err(AdapterError::Invalid {
                error: SystemError::message(format!("{id:?} is not a Salesforce record id")),
            }),
            None => Ok(self.user_by_username(&account.login).await?.id),
        }
    }

    async fn user_by_username(&self, username: &str) -> Result<UserRow, AdapterError> {
        let soql = format!(
            "SELECT {USER_FIELDS} FROM User WHERE Username = {}",
            soql_literal(username)
        );
        let rows: Vec<UserRow> = self.client.query_all(&soql).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| AdapterError::NotFound {
                error: SystemError::message(format!(
                    "no {SYSTEM} user has the username {username}"
                )),
            })
    }

    async fn user_state(&self, account: &AccountRef) -> Result<UserState, AdapterError> {
        let soql = match account.external_id.as_deref() {
            Some(id) if is_record_id(id) => {
                format!(
                    "SELECT Id, IsActive FROM User WHERE Id = {}",
                    soql_literal(id)
                )
            }
            _ => format!(
                "SELECT Id, IsActive FROM User WHERE Username = {}",
                soql_literal(&account.login)
            ),
        };
        let rows: Vec<Value> = self.client.query_all(&soql).await?;
        let row = rows.first().ok_or_else(|| AdapterError::NotFound {
            error: SystemError::message(format!("no {SYSTEM} user {}", account.login)),
        })?;
        Ok(UserState {
            id: super::field(row, "Id").unwrap_or_default().to_owned(),
            active: row
                .get("IsActive")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    async fn user_login(&self, uid: &str) -> Result<UserLoginRow, AdapterError> {
        let soql = format!(
            "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId = {}",
            soql_literal(uid)
        );
        let rows: Vec<UserLoginRow> = self.client.query_all(&soql).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| AdapterError::NotFound {
                error: SystemError::message(format!("{SYSTEM} has no UserLogin for user {uid}")),
            })
    }

    /// One batch of users, with the batch's frozen users found by one more query.
    pub(crate) async fn account_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        // Standard users only: portal, guest and automated-process users are no one's
        // account.
        let soql =
            format!("SELECT {USER_FIELDS} FROM User WHERE UserType = 'Standard' ORDER BY Id");
        let (rows, next, rate) = self.soql_page::<UserRow>(&soql, cursor).await?;
        let frozen = self.frozen_among(&rows).await?;
        let items = rows
            .into_iter()
            .map(|u| {
                let state = if !u.is_active {
                    AccountState::Deprovisioned
                } else if frozen.contains(&u.id) {
                    AccountState::Suspended
                } else {
                    AccountState::Active
                };
                let mut record = AccountRecord::new(u.id, u.username, state);
                record.last_login = u.last_login_date.as_deref().and_then(parse_datetime);
                for (key, value) in [
                    ("email", u.email),
                    ("employee_id", u.employee_number),
                    ("federation_id", u.federation_identifier),
                ] {
                    if let Some(v) = value.filter(|v| !v.is_empty()) {
                        record = record.with_correlation(key, v);
                    }
                }
                record
            })
            .collect();
        Ok(Page::new(items, next).with_rate_limit(rate))
    }

    /// The frozen users among a batch: one query for every frozen login (frozen users
    /// are few), rather than an `IN (...)` of the batch's ids, which for a batch of
    /// 2,000 users would outgrow the longest URL a `GET` may have.
    async fn frozen_among(&self, users: &[UserRow]) -> Result<BTreeSet<String>, AdapterError> {
        if !users.iter().any(|u| u.is_active) {
            return Ok(BTreeSet::new());
        }
        let soql = "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE IsFrozen = true";
        let rows: Vec<UserLoginRow> = self.client.query_all(soql).await?;
        let batch: BTreeSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
        Ok(rows
            .into_iter()
            .filter(|r| r.is_frozen && batch.contains(r.user_id.as_str()))
            .map(|r| r.user_id)
            .collect())
    }

    /// Creates the user with the profile the create carries (or the configured
    /// default) and the locale keys. A username already taken is adopted when it is the
    /// same person in this org (same email), reactivated if it was deactivated; taken
    /// by someone else, or in another org, it is an error saying so.
    pub(crate) async fn create_user(
        &self,
        profile: &AccountProfile,
    ) -> Result<Applied, AdapterError> {
        let profile_name = profile
            .required_grants
            .iter()
            .find(|e| e.kind == KIND_PROFILE)
            .map(|e| e.resource.clone())
            .or_else(|| self.config().default_profile.clone())
            .ok_or_else(|| AdapterError::Invalid {
                error: SystemError::message(format!(
                    "a {SYSTEM} user cannot be created without a profile: give {} one in a \
                     policy (assign_profile), or set settings.default_profile",
                    profile.login
                )),
            })?;
        let profile_id = self.resource_id(KIND_PROFILE, &profile_name).await?;
        let body = self.user_body(profile, &profile_id);
        match self.client.create("User", &body).await {
            Ok(reply) => {
                let created: CreateReply = reply.json(SYSTEM)?;
                Ok(Applied::changed()
                    .with_external_id(created.id)
                    .with_rate_limit(reply.rate_limit))
            }
            Err(AdapterError::Invalid { error })
                if matches!(
                    error.code.as_deref(),
                    Some("DUPLICATE_USERNAME" | "DUPLICATE_VALUE")
                ) =>
            {
                self.adopt(profile, &profile_id, error).await
            }
            Err(e) => Err(e),
        }
    }

    async fn adopt(
        &self,
        profile: &AccountProfile,
        profile_id: &str,
        error: SystemError,
    ) -> Result<Applied, AdapterError> {
        let existing = match self.user_by_username(&profile.login).await {
            Ok(user) => user,
            // Taken, but not in this org: usernames are unique across every org.
            Err(AdapterError::NotFound { .. }) => {
                let message = format!(
                    "{} — the username {} belongs to a user in another Salesforce org \
                     (usernames are unique across all orgs): give the person another username",
                    error.message, profile.login
                );
                return Err(AdapterError::Permanent {
                    error: SystemError::new(error.status, error.code, message),
                });
            }
            Err(e) => return Err(e),
        };
        let same_person = existing
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&profile.email));
        if !same_person {
            let message = format!(
                "{} — the user {} exists with another email address: not adopted",
                error.message, profile.login
            );
            return Err(AdapterError::Conflict {
                error: SystemError::new(error.status, error.code, message),
            });
        }
        if existing.is_active {
            return Ok(Applied::already_in_place().with_external_id(existing.id));
        }
        // A joiner adopting a deactivated user of theirs: back on, with the profile.
        let reply = self
            .client
            .patch(
                "User",
                &existing.id,
                &json!({"IsActive": true, "ProfileId": profile_id}),
            )
            .await?;
        Ok(Applied::changed()
            .with_external_id(existing.id)
            .with_rate_limit(reply.rate_limit)
            .with_note("an existing, deactivated user with this username was reactivated"))
    }

    fn user_body(&self, profile: &AccountProfile, profile_id: &str) -> Value {
        let defaults = &self.config().defaults;
        let attr = |k: &str| profile.attributes.get(k).filter(|v| !v.trim().is_empty());
        let name = provision_http::names::PersonName::from_profile(profile);
        let last = if name.family.trim().is_empty() {
            profile.login.clone()
        } else {
            name.family.clone()
        };
        let mut body = json!({
            "Username": profile.login,
            "Email": profile.email,
            "LastName": last,
            "Alias": alias(&name.given, &last),
            "ProfileId": profile_id,
            "TimeZoneSidKey": attr("time_zone").unwrap_or(&defaults.time_zone),
            "LocaleSidKey": attr("locale").unwrap_or(&defaults.locale),
            "EmailEncodingKey": defaults.email_encoding,
            "LanguageLocaleKey": attr("language").unwrap_or(&defaults.language),
        });
        if !name.given.trim().is_empty() {
            body["FirstName"] = Value::from(name.given.clone());
        }
        for (attribute, field) in [
            ("employee_id", "EmployeeNumber"),
            ("title", "Title"),
            ("department", "Department"),
            ("federation_id", "FederationIdentifier"),
        ] {
            if let Some(v) = attr(attribute) {
                body[field] = Value::from(v.clone());
            }
        }
        body
    }

    /// A leaver: deactivated (`IsActive=false`), or frozen where Salesforce refuses
    /// the deactivation or the configuration says so; the note says which and why.
    pub(crate) async fn suspend(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let user = match self.user_state(account).await {
            Ok(u) => u,
            Err(AdapterError::NotFound { .. }) => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
        if !user.active {
            return Ok(Applied::already_in_place().with_external_id(user.id));
        }
        if self.config().leaver_action == LeaverAction::Freeze {
            return self.freeze(&user.id, None).await;
        }
        match self
            .client
            .patch("User", &user.id, &json!({"IsActive": false}))
            .await
        {
            Ok(reply) => Ok(Applied::changed()
                .with_external_id(user.id)
                .with_rate_limit(reply.rate_limit)),
            // Refused for a dependency (default workflow user, default lead or case
            // owner, a hierarchy field...): block sign-in now, keep the licence.
            Err(AdapterError::Invalid { error }) => self.freeze(&user.id, Some(error)).await,
            Err(e) => Err(e),
        }
    }

    async fn freeze(
        &self,
        uid: &str,
        refused: Option<SystemError>,
    ) -> Result<Applied, AdapterError> {
        let login = self.user_login(uid).await?;
        let note = match &refused {
            Some(error) => format!(
                "{SYSTEM} refused the deactivation ({error}); the user is frozen instead \
                 (UserLogin.IsFrozen): sign-in is blocked but the licence stays in use until \
                 the dependency is cleared and the user deactivated"
            ),
            None => {
                "frozen (UserLogin.IsFrozen), as configured: the licence stays in use".to_owned()
            }
        };
        if login.is_frozen {
            return Ok(Applied::already_in_place()
                .with_external_id(uid)
                .with_note(note));
        }
        let reply = self
            .client
            .patch("UserLogin", &login.id, &json!({"IsFrozen": true}))
            .await?;
        tracing::info!(
            user = uid,
            deactivation_refused = refused.is_some(),
            "user frozen"
        );
        Ok(Applied::changed()
            .with_external_id(uid)
            .with_rate_limit(reply.rate_limit)
            .with_note(note))
    }

    /// A rehire or a return: `IsActive=true` when deactivated, and unfrozen when
    /// frozen.
    pub(crate) async fn reactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let user = self.user_state(account).await?;
        let mut effect = Effect::AlreadyInPlace;
        let mut rate = None;
        if !user.active {
            let reply = self
                .client
                .patch("User", &user.id, &json!({"IsActive": true}))
                .await?;
            effect = Effect::Changed;
            rate = reply.rate_limit;
        }
        let login = self.user_login(&user.id).await?;
        if login.is_frozen {
            let reply = self
                .client
                .patch("UserLogin", &login.id, &json!({"IsFrozen": false}))
                .await?;
            effect = Effect::Changed;
            rate = reply.rate_limit;
        }
        let applied = match effect {
            Effect::Changed => Applied::changed(),
            _ => Applied::already_in_place(),
        };
        Ok(applied.with_external_id(user.id).with_rate_limit(rate))
    }

    /// Ends every session of the user: their `AuthSession` records are read with one
    /// query and deleted with one composite delete per 200. Needs "Manage Users";
    /// without it Salesforce's refusal is returned as it is.
    pub(crate) async fn revoke_sessions(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let uid = match self.user_id(account).await {
            Ok(uid) => uid,
            Err(AdapterError::NotFound { .. }) => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
        let soql = format!(
            "SELECT Id FROM AuthSession WHERE UsersId = {}",
            soql_literal(&uid)
        );
        let sessions: Vec<IdRow> = self.client.query_all(&soql).await?;
        if sessions.is_empty() {
            return Ok(Applied::already_in_place().with_external_id(uid));
        }
        let mut rate = None;
        let mut failures = Vec::new();
        for chunk in sessions.chunks(COMPOSITE_DELETE_MAX) {
            let ids: Vec<&str> = chunk.iter().map(|s| s.id.as_str()).collect();
            let ids = ids.join(",");
            let reply = self
                .client
                .send(
                    Method::DELETE,
                    &["composite", "sobjects"],
                    &[("ids", ids.as_str()), ("allOrNone", "false")],
                    None,
                )
                .await?;
            rate = reply.rate_limit.clone();
            let results: Vec<SaveResult> = reply.json(SYSTEM)?;
            for r in results.into_iter().filter(|r| !r.success) {
                // A session that ended meanwhile is what was wanted.
                let gone = r.errors.iter().any(|e| {
                    matches!(
                        e.code(),
                        Some("ENTITY_IS_DELETED" | "NOT_FOUND" | "INVALID_CROSS_REFERENCE_KEY")
                    )
                });
                if !gone {
                    failures.push(r);
                }
            }
        }
        if let Some(first) = failures.first() {
            let error = first.errors.first().cloned().unwrap_or_default();
            return Err(AdapterError::Permanent {
                error: SystemError::new(
                    None,
                    error.code().map(str::to_owned),
                    format!(
                        "{} of {} sessions of {} could not be deleted: {}",
                        failures.len(),
                        sessions.len(),
                        account.login,
                        error.message.unwrap_or_default()
                    ),
                ),
            });
        }
        Ok(Applied::changed()
            .with_external_id(uid)
            .with_rate_limit(rate))
    }
}

/// An `Alias` (at most 8 characters): the given name's initial and the family name,
/// lower-case ASCII letters and digits only; `user` when nothing is left.
pub fn alias(given: &str, family: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let mut out: String = clean(given).chars().take(1).collect();
    out.push_str(&clean(family));
    let out: String = out.chars().take(ALIAS_MAX).collect();
    if out.is_empty() {
        "user".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_fit_salesforce() {
        assert_eq!(alias("Ada", "Lovelace"), "alovelac");
        assert_eq!(alias("", "Ng"), "ng");
        assert_eq!(alias("Zoë", "O'Brien-Smith"), "zobriens");
        assert_eq!(alias("", ""), "user");
    }
}
