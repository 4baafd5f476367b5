//! Accounts: finding a person's Slack user (by id, email or SCIM filter), the
//! `users.list` directory, and the lifecycle — SCIM create (adopting the same person),
//! deactivate, reactivate, `admin.users.session.reset`, and the wait for an account
//! Slack creates on the first SSO sign-in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef};
use provision_http::client::RequestKind;
use provision_http::names::PersonName;
use provision_http::paginate::ScimPage;
use reqwest::Method;
use serde_json::json;

use super::{FIRST_LOGIN_RECHECK, NAME_TTL, SlackAdapter, no_user, parse};
use crate::client::{Reply, SYSTEM, TokenKind};
use crate::config::ScimDeactivation;
use crate::model::{LookupByEmail, ScimList, ScimUser, Users};

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// User id → email.
pub(super) type Directory = Arc<HashMap<String, String>>;

impl SlackAdapter {
    /// SCIM `GET /Users` (1-based `startIndex`) with a SCIM token; otherwise
    /// `users.list` (cursor) with the bot token, bots left out.
    pub(super) async fn account_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        if self.tokens().scim {
            let count = u64::from(self.client.config().scim_page_size);
            let page = match cursor {
                None => ScimPage::first(count),
                Some(c) => ScimPage::from_cursor(SYSTEM, c, count)?,
            };
            let reply = self
                .client
                .scim(Method::GET, &["Users"], &page.query(), None)
                .await?;
            let list: ScimList = reply.json(SYSTEM)?;
            let next = page
                .next(list.total_results, list.resources.len())
                .map(|p| p.to_cursor());
            let items = list
                .resources
                .iter()
                .map(|u| {
                    AccountRecord::new(u.id.clone(), u.email().to_owned(), u.state())
                        .with_correlation("user_id", u.id.clone())
                        .with_correlation("email", u.email().to_owned())
                })
                .collect();
            return Ok(Page::new(items, next).with_rate_limit(reply.rate_limit));
        }
        let reply = self.users_page(cursor).await?;
        let users: Users = parse(&reply.body)?;
        let items = users
            .members
            .iter()
            .filter(|u| !u.is_bot)
            .filter_map(|u| {
                let email = u.profile.email.clone()?;
                let state = if u.deleted {
                    provision_core::model::AccountState::Deprovisioned
                } else {
                    provision_core::model::AccountState::Active
                };
                Some(
                    AccountRecord::new(u.id.clone(), email.clone(), state)
                        .with_correlation("user_id", u.id.clone())
                        .with_correlation("email", email),
                )
            })
            .collect();
        Ok(Page::new(items, users.response_metadata.next()).with_rate_limit(reply.rate_limit))
    }

    /// The Slack user id of an account: its external id when it is one, else by
    /// email (`users.lookupByEmail` with the bot token, or a SCIM filter). `None`
    /// when Slack has no such user.
    pub(super) async fn user_id(
        &self,
        account: &AccountRef,
    ) -> Result<Option<String>, AdapterError> {
        if let Some(id) = account.external_id.as_deref().filter(|id| !id.is_empty()) {
            return Ok(Some(id.to_owned()));
        }
        let email = account.login.trim().to_ascii_lowercase();
        if let Some(id) = self.users.get(&email) {
            return Ok(Some(id));
        }
        let found = if self.tokens().bot {
            match self
                .client
                .call(
                    "users.lookupByEmail",
                    TokenKind::Bot,
                    &[("email", email.clone())],
                    RequestKind::Read,
                    "",
                )
                .await
            {
                Ok(reply) => Some(parse::<LookupByEmail>(&reply.body)?.user.id),
                Err(AdapterError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        } else if self.tokens().scim {
            self.scim_find(&email).await?.map(|u| u.id)
        } else {
            return Err(AdapterError::Configuration {
                error: SystemError::message(
                    "Slack: finding a user by email needs credentials.bot_token (users:read.email) \
                     or credentials.scim_token",
                ),
            });
        };
        if let Some(id) = &found {
            self.users.insert(email, id.clone());
        }
        Ok(found)
    }

    /// User id → email: the directory read afresh on a listing's first page
    /// (`fresh`), else the one kept from it (younger than [`NAME_TTL`]).
    pub(super) async fn directory(&self, fresh: bool) -> Result<Directory, AdapterError> {
        if !fresh
            && let Ok(kept) = self.directory.lock()
            && let Some((at, map)) = kept.as_ref()
            && at.elapsed() < NAME_TTL
        {
            return Ok(map.clone());
        }
        let map = Arc::new(self.emails().await?);
        if let Ok(mut kept) = self.directory.lock() {
            *kept = Some((Instant::now(), map.clone()));
        }
        Ok(map)
    }

    /// The email of every user id, from the `users.list` directory.
    async fn emails(&self) -> Result<HashMap<String, String>, AdapterError> {
        let mut out = HashMap::new();
        let mut cursor: Option<String> = None;
        let mut guard = provision_http::paginate::CursorGuard::new(SYSTEM);
        loop {
            let page = self.users_page(cursor.as_deref()).await?;
            let users: Users = parse(&page.body)?;
            for u in users.members {
                if let Some(email) = u.profile.email {
                    self.users.insert(email.to_ascii_lowercase(), u.id.clone());
                    out.insert(u.id, email);
                }
            }
            match users.response_metadata.next() {
                Some(next) => {
                    guard.visit(&next)?;
                    cursor = Some(next);
                }
                None => return Ok(out),
            }
        }
    }

    async fn users_page(&self, cursor: Option<&str>) -> Result<Reply, AdapterError> {
        let mut params = vec![("limit", self.page_size())];
        if let Some(c) = cursor {
            params.push(("cursor", c.to_owned()));
        }
        self.client
            .call("users.list", TokenKind::Bot, &params, RequestKind::Read, "")
            .await
    }

    /// The SCIM user whose email is `email`. Only an email identifies a person: two
    /// people's emails can make the same user name (`j.smith@acme.com` and
    /// `j.smith@acme.co.uk`), so a user-name match is never taken for them.
    async fn scim_find(&self, email: &str) -> Result<Option<ScimUser>, AdapterError> {
        // `emails.value` is RFC 7644's path, `email` Slack's documented short form
        // (unverified); a server that refuses one as a filter gets the next.
        let filters = [
            format!("emails.value eq \"{}\"", scim_quote(email)),
            format!("email eq \"{}\"", scim_quote(email)),
        ];
        for filter in filters {
            let reply = self
                .client
                .scim(Method::GET, &["Users"], &[("filter", filter)], None)
                .await;
            let list: ScimList = match reply {
                Ok(r) => r.json(SYSTEM)?,
                // A server that does not filter on this attribute: try the next.
                Err(AdapterError::Invalid { .. }) => continue,
                Err(e) => return Err(e),
            };
            if let Some(u) = list
                .resources
                .into_iter()
                .find(|u| u.email().eq_ignore_ascii_case(email))
            {
                return Ok(Some(u));
            }
        }
        Ok(None)
    }

    /// `POST /Users`. A 409 is either the email (the same person: adopted, and
    /// reactivated when deactivated) or the user name alone, held by someone else
    /// (`j.smith@acme.com` holds `j.smith` when `j.smith@acme.co.uk` joins): then the
    /// create is sent again with a numbered suffix (`j.smith2`, `j.smith3`, …, up to
    /// [`USER_NAME_ATTEMPTS`] names).
    pub(super) async fn create(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        let email = if profile.email.is_empty() {
            &profile.login
        } else {
            &profile.email
        };
        let base = user_name_for(email);
        let mut last = None;
        for attempt in 1..=USER_NAME_ATTEMPTS {
            let user_name = suffixed(&base, attempt);
            match self.post_user(profile, email, &user_name).await {
                Ok(applied) => return Ok(applied),
                Err(AdapterError::Conflict { error }) => {
                    if let Some(existing) = self.scim_find(email).await? {
                        return self.adopt(existing).await;
                    }
                    tracing::info!(
                        user_name = %user_name,
                        "slack: the SCIM user name is taken by someone else; trying another"
                    );
                    last = Some(error);
                }
                Err(e) => return Err(e),
            }
        }
        let error = last.unwrap_or_else(|| SystemError::message("409"));
        Err(AdapterError::Conflict {
            error: SystemError::new(
                error.status,
                error.code,
                format!(
                    "{} — Slack refused the user names {base} to {} for {email}, each taken \
                     by someone else: create the account by hand",
                    error.message,
                    suffixed(&base, USER_NAME_ATTEMPTS)
                ),
            ),
        })
    }

    async fn post_user(
        &self,
        profile: &AccountProfile,
        email: &str,
        user_name: &str,
    ) -> Result<Applied, AdapterError> {
        let name = PersonName::from_profile(profile);
        let body = json!({
            "schemas": [SCIM_USER],
            "userName": user_name,
            "displayName": profile.display_name,
            "name": {"givenName": name.given, "familyName": name.family},
            "emails": [{"value": email, "primary": true}],
            "active": true,
        });
        let reply = self
            .client
            .scim(Method::POST, &["Users"], &[], Some(&body))
            .await?;
        let user: ScimUser = reply.json(SYSTEM)?;
        self.users
            .insert(email.to_ascii_lowercase(), user.id.clone());
        Ok(Applied::changed()
            .with_external_id(user.id)
            .with_rate_limit(reply.rate_limit))
    }

    /// The same person's existing account (found by email): adopted, reactivated
    /// when deactivated.
    async fn adopt(&self, existing: ScimUser) -> Result<Applied, AdapterError> {
        if !existing.active {
            self.scim_set_active(&existing.id, true).await?;
        }
        Ok(Applied::already_in_place().with_external_id(existing.id))
    }

    async fn scim_user(&self, id: &str) -> Result<Option<ScimUser>, AdapterError> {
        match self
            .client
            .scim(Method::GET, &["Users", id], &[], None)
            .await
        {
            Ok(r) => Ok(Some(r.json(SYSTEM)?)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn scim_set_active(&self, id: &str, active: bool) -> Result<Applied, AdapterError> {
        let body = json!({
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "replace", "path": "active", "value": active}],
        });
        let reply = self
            .client
            .scim(Method::PATCH, &["Users", id], &[], Some(&body))
            .await?;
        Ok(Applied::changed()
            .with_external_id(id)
            .with_rate_limit(reply.rate_limit))
    }

    /// Deactivation: SCIM `DELETE` (it deactivates; Slack never deletes), or
    /// `admin.users.deactivate` with only the admin token. An account already
    /// deactivated is already done.
    pub(super) async fn deactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| no_user(account))?;
        if self.tokens().scim {
            match self.scim_user(&id).await? {
                None => return Err(no_user(account)),
                Some(u) if !u.active => {
                    return Ok(Applied::already_in_place().with_external_id(id));
                }
                Some(_) => {}
            }
            if self.client.config().scim_deactivation == ScimDeactivation::PatchInactive {
                return self.scim_set_active(&id, false).await;
            }
            let reply = self
                .client
                .scim(Method::DELETE, &["Users", &id], &[], None)
                .await?;
            return Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(reply.rate_limit));
        }
        // admin.users.deactivate is newer than the 2021 spec: tested against its
        // documented shape (`user_id`, Enterprise org-admin token).
        match self
            .client
            .call(
                "admin.users.deactivate",
                TokenKind::Admin,
                &[("user_id", id.clone())],
                RequestKind::Write,
                "",
            )
            .await
        {
            Ok(r) => Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(r.rate_limit)),
            Err(AdapterError::AlreadyDone { .. }) => {
                Ok(Applied::already_in_place().with_external_id(id))
            }
            Err(e) => Err(e),
        }
    }

    /// Without SCIM, Slack creates the account on the person's first SSO sign-in: an
    /// account that exists is adopted, otherwise the create is pending.
    pub(super) async fn await_first_login(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        match self.user_id(account).await? {
            Some(id) => Ok(Applied::already_in_place().with_external_id(id)),
            None => Err(AdapterError::Pending {
                recheck_after: FIRST_LOGIN_RECHECK,
                error: SystemError::message(format!(
                    "no Slack account for {} yet: Slack creates it on the first SSO sign-in \
                     (without credentials.scim_token the adapter cannot create it)",
                    account.login
                )),
            }),
        }
    }

    pub(super) async fn reactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.tokens().scim {
            return Err(AdapterError::Unsupported {
                what: "reactivate_account: Slack reactivates only through SCIM \
                       (credentials.scim_token)"
                    .to_owned(),
            });
        }
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| no_user(account))?;
        self.scim_set_active(&id, true).await
    }

    pub(super) async fn reset_sessions(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        if !self.tokens().admin {
            return Err(AdapterError::Unsupported {
                what: "revoke_sessions: Slack ends sessions only with admin.users.session.reset \
                       (Enterprise; credentials.admin_token)"
                    .to_owned(),
            });
        }
        let Some(id) = self.user_id(account).await? else {
            // No such user: no sessions to end.
            return Ok(Applied::already_in_place());
        };
        match self
            .client
            .call(
                "admin.users.session.reset",
                TokenKind::Admin,
                &[("user_id", id.clone())],
                RequestKind::Write,
                "",
            )
            .await
        {
            Ok(r) => Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(r.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }
}

/// A Slack user name from an email: the local part, lower case, only letters, digits,
/// `.`, `-` and `_`, at most 21 characters (Slack's rule for names).
pub fn user_name_for(email: &str) -> String {
    let local = email
        .split('@')
        .next()
        .unwrap_or(email)
        .to_ascii_lowercase();
    let name: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(21)
        .collect();
    if name.is_empty() {
        "user".to_owned()
    } else {
        name
    }
}

/// How many user names a SCIM create tries (the plain one, then suffixes 2, 3, …)
/// before the collision is reported.
pub const USER_NAME_ATTEMPTS: usize = 5;

/// `base` for the first attempt; `base` with the attempt's number after it for the
/// later ones, shortened so the whole stays within Slack's 21 characters.
fn suffixed(base: &str, attempt: usize) -> String {
    if attempt <= 1 {
        return base.to_owned();
    }
    let suffix = attempt.to_string();
    let keep = 21usize.saturating_sub(suffix.len());
    let stem: String = base.chars().take(keep).collect();
    format!("{stem}{suffix}")
}

fn scim_quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffixed_user_name_stays_within_21_characters() {
        assert_eq!(suffixed("j.smith", 1), "j.smith");
        assert_eq!(suffixed("j.smith", 2), "j.smith2");
        let long = "a".repeat(21);
        assert_eq!(suffixed(&long, 5).len(), 21);
        assert!(suffixed(&long, 5).ends_with('5'));
    }
}
