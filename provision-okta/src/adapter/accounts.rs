//! Users: finding one (by id, or by login with any status), creation (adopting the
//! same person's existing login), profile updates, the lifecycle transitions
//! (suspend, deactivate, activate, unsuspend, each confirmed by a read when Okta
//! refuses it), sessions, deletion, and the user listing.

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef};
use provision_http::names::PersonName;
use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use super::{
    ACTIVATION_RECHECK, OktaAdapter, USERS_PAGE_SIZE, changed, escape_filter, parse_cursor,
};
use crate::client::{Response, SYSTEM};
use crate::config::{ActivationDelivery, LeaverAction};
use crate::model::User;

/// The statuses `lifecycle/suspend` accepts: only `ACTIVE`.
const SUSPENDABLE: &[&str] = &["ACTIVE"];

/// The filter that lists the users the plain listing hides.
const DEPROVISIONED_SEARCH: &str = "status eq \"DEPROVISIONED\"";

/// The account-reading cursor: phase 1 is the plain listing (every status but
/// `DEPROVISIONED`), phase 2 the search for `DEPROVISIONED` users.
const PHASE_LISTING: &str = "1|";
const PHASE_DEPROVISIONED: &str = "2|";

impl OktaAdapter {
    fn users_url(&self, query: &[(&str, &str)]) -> Url {
        let mut url = self.client.api_url(&["api", "v1", "users"]);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Finds a user by login (any status, `DEPROVISIONED` included); `None` when absent.
    pub async fn find_user_by_login(&self, login: &str) -> Result<Option<User>, AdapterError> {
        if login.contains('/') {
            // Logins with a slash cannot be fetched by login in the path.
            let filter = format!("profile.login eq \"{}\"", escape_filter(login));
            let url = self.users_url(&[("search", filter.as_str())]);
            let (users, _, _) = self.client.get_page::<User>(url).await?;
            return Ok(users
                .into_iter()
                .find(|u| u.login().eq_ignore_ascii_case(login)));
        }
        let url = self.client.api_url(&["api", "v1", "users", login]);
        match self.client.send(Method::GET, url, None).await {
            Ok(r) => r.json(SYSTEM).map(Some),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn get_user(&self, id: &str) -> Result<User, AdapterError> {
        let url = self.client.api_url(&["api", "v1", "users", id]);
        self.client.send(Method::GET, url, None).await?.json(SYSTEM)
    }

    /// The account's Okta id: the one the executor knows, or looked up by login.
    pub(super) async fn user_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
        if let Some(id) = &account.external_id {
            return Ok(id.clone());
        }
        match self.find_user_by_login(&account.login).await? {
            Some(user) => Ok(user.id),
            None => Err(AdapterError::NotFound {
                error: SystemError::message(format!("no Okta user with login {}", account.login)),
            }),
        }
    }

    /// An account's attributes as read: every string field of its Okta profile, plus
    /// each mapped HR attribute under its own name (`department` ← `profile.department`,
    /// `job_title` ← `profile.title`), which is what the planner compares with HR.
    fn account_attributes(
        &self,
        profile: &Map<String, Value>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out: std::collections::BTreeMap<String, String> = profile
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect();
        for (field, attribute) in &self.config().profile_mapping {
            if let Some(value) = profile.get(field).and_then(Value::as_str) {
                out.insert(attribute.clone(), value.to_owned());
            }
        }
        out
    }

    /// The profile sent on create: login, email, names, then the configured mapping.
    fn create_profile(&self, profile: &AccountProfile) -> Map<String, Value> {
        let mut out = Map::new();
        let PersonName {
            given: first,
            family: last,
        } = PersonName::from_profile(profile);
        out.insert("login".into(), profile.login.clone().into());
        out.insert("email".into(), profile.email.clone().into());
        out.insert("firstName".into(), first.into());
        out.insert("lastName".into(), last.into());
        for (field, attribute) in &self.config().profile_mapping {
            if let Some(v) = profile.attributes.get(attribute) {
                out.insert(field.clone(), v.clone().into());
            }
        }
        out
    }

    pub(super) async fn create_account(
        &self,
        profile: &AccountProfile,
    ) -> Result<Applied, AdapterError> {
        let activate = if self.config().activate_on_create {
            "true"
        } else {
            "false"
        };
        let url = self.users_url(&[("activate", activate)]);
        let body = json!({ "profile": self.create_profile(profile) });
        match self.client.send(Method::POST, url, Some(&body)).await {
            // Okta answers 200 (not 201) with the user.
            Ok(r) => {
                let user: User = r.json(SYSTEM)?;
                Ok(Applied::changed()
                    .with_external_id(user.id)
                    .with_rate_limit(r.rate_limit))
            }
            Err(AdapterError::Invalid { error }) if is_duplicate_login(&error) => {
                self.adopt_existing(profile, error).await
            }
            Err(e) => Err(e),
        }
    }

    /// The login exists: adopt the user when it is the same person (same email),
    /// otherwise a conflict naming both.
    async fn adopt_existing(
        &self,
        profile: &AccountProfile,
        error: SystemError,
    ) -> Result<Applied, AdapterError> {
        let Some(existing) = self.find_user_by_login(&profile.login).await? else {
            // Okta said it exists but it cannot be read: let the executor confirm later.
            return Err(AdapterError::Conflict { error });
        };
        if is_same_person(&existing, profile) {
            tracing::info!(user = %existing.id, status = %existing.status, "login exists for the same person: adopted");
            // A suspended or deactivated account is no working account for a joiner:
            // bring it back, or say why not.
            match existing.status.as_str() {
                "SUSPENDED" => {
                    self.transition(&existing.id, "unsuspend", None, &["ACTIVE"])
                        .await
                }
                "DEPROVISIONED" => self.activate(&existing.id).await,
                _ => Ok(Applied::already_in_place().with_external_id(existing.id)),
            }
        } else {
            Err(AdapterError::Conflict {
                error: SystemError::new(
                    error.status,
                    error.code,
                    format!(
                        "login {} already belongs to Okta user {} with a different email; not adopted ({})",
                        profile.login, existing.id, error.message
                    ),
                ),
            })
        }
    }

    pub(super) async fn update_account(
        &self,
        account: &AccountRef,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let mapping = &self.config().profile_mapping;
        let mut profile = Map::new();
        for (key, value) in attributes {
            // An HR attribute that is mapped goes to its Okta field; other keys are
            // Okta profile fields already.
            let fields: Vec<&String> = mapping
                .iter()
                .filter(|(_, attr)| *attr == key)
                .map(|(field, _)| field)
                .collect();
            if fields.is_empty() {
                profile.insert(key.clone(), value.clone().into());
            } else {
                for f in fields {
                    profile.insert(f.clone(), value.clone().into());
                }
            }
        }
        // POST is a partial update: only these fields change.
        let url = self.client.api_url(&["api", "v1", "users", &id]);
        let r = self
            .client
            .send(Method::POST, url, Some(&json!({ "profile": profile })))
            .await?;
        Ok(changed(id, r))
    }

    /// `POST /api/v1/users/{id}/lifecycle/{action}`, with `sendEmail` when given. The
    /// reply's body is dropped unread: an activation's carries the activation link, a
    /// credential.
    async fn lifecycle(
        &self,
        id: &str,
        action: &str,
        send_email: Option<bool>,
    ) -> Result<Response, AdapterError> {
        let mut url = self
            .client
            .api_url(&["api", "v1", "users", id, "lifecycle", action]);
        if let Some(send) = send_email {
            url.query_pairs_mut()
                .append_pair("sendEmail", if send { "true" } else { "false" });
        }
        self.client.send(Method::POST, url, None).await
    }

    /// A lifecycle call, and when Okta refuses it (400 wrong status, 403, 404) the
    /// user's status read again before failing: the user may already be where the
    /// call was taking it (another admin, an earlier attempt), which is success.
    async fn transition(
        &self,
        id: &str,
        action: &str,
        send_email: Option<bool>,
        done: &[&str],
    ) -> Result<Applied, AdapterError> {
        match self.lifecycle(id, action, send_email).await {
            Ok(r) => Ok(changed(id.to_owned(), r)),
            Err(
                AdapterError::Invalid { error }
                | AdapterError::Conflict { error }
                | AdapterError::NotFound { error }
                | AdapterError::Unauthorized { error },
            ) => {
                let status = match self.get_user(id).await {
                    Ok(user) => user.status,
                    // The user itself is gone: nothing can be done to it.
                    Err(AdapterError::NotFound { .. }) => {
                        return Err(AdapterError::NotFound { error });
                    }
                    Err(e) => return Err(e),
                };
                if done.contains(&status.as_str()) {
                    Ok(Applied::already_in_place().with_external_id(id))
                } else {
                    let message = format!(
                        "{} (lifecycle/{action} refused; the user is {status})",
                        error.message
                    );
                    let error = SystemError::new(error.status, error.code, message);
                    Err(match error.status {
                        Some(403) => AdapterError::Unauthorized { error },
                        _ => AdapterError::Conflict { error },
                    })
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A leaver: `suspend` works only on `ACTIVE` users, so the status is read first.
    /// `ACTIVE` users are suspended (or deactivated, when configured); users in any
    /// other live status (`STAGED`, `PROVISIONED` with an open activation link,
    /// `LOCKED_OUT`, `RECOVERY`, `PASSWORD_EXPIRED`) are deactivated, which also closes
    /// an open activation link. `SUSPENDED` (when suspending) and `DEPROVISIONED` are
    /// already done.
    pub(super) async fn suspend_account(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let user = self.get_user(&id).await?;
        let suspend = self.config().leaver_action == LeaverAction::Suspend;
        let status = user.status.as_str();
        if status == "DEPROVISIONED" || (suspend && status == "SUSPENDED") {
            return Ok(Applied::already_in_place().with_external_id(id));
        }
        if suspend && SUSPENDABLE.contains(&status) {
            self.transition(&id, "suspend", None, &["SUSPENDED", "DEPROVISIONED"])
                .await
        } else {
            self.transition(&id, "deactivate", Some(false), &["DEPROVISIONED"])
                .await
        }
    }

    /// `lifecycle/activate` (from `STAGED` or `DEPROVISIONED`), sending the activation
    /// email as configured, then the user read back: a user without a password stays
    /// `PROVISIONED` until the person uses the link. With
    /// [`ActivationDelivery::Pending`] that is reported pending.
    async fn activate(&self, id: &str) -> Result<Applied, AdapterError> {
        let delivery = self.config().activation;
        let send_email = delivery == ActivationDelivery::SendEmail;
        let applied = self
            .transition(id, "activate", Some(send_email), &["ACTIVE", "PROVISIONED"])
            .await?;
        let user = self.get_user(id).await?;
        if user.status == "PROVISIONED" && delivery == ActivationDelivery::Pending {
            return Err(activation_pending(id));
        }
        Ok(applied)
    }

    pub(super) async fn reactivate_account(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let user = self.get_user(&id).await?;
        // `reactivate` only restarts an unfinished activation (PROVISIONED/RECOVERY):
        // it is not the inverse of `deactivate`, `activate` is.
        match user.status.as_str() {
            "SUSPENDED" => self.transition(&id, "unsuspend", None, &["ACTIVE"]).await,
            "DEPROVISIONED" | "STAGED" => self.activate(&id).await,
            "PROVISIONED" if self.config().activation == ActivationDelivery::Pending => {
                Err(activation_pending(&id))
            }
            _ => Ok(Applied::already_in_place().with_external_id(id)),
        }
    }

    pub(super) async fn revoke_sessions(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let mut url = self
            .client
            .api_url(&["api", "v1", "users", &id, "sessions"]);
        url.query_pairs_mut().append_pair("oauthTokens", "true");
        let r = self.client.send(Method::DELETE, url, None).await?;
        Ok(changed(id, r))
    }

    /// Deletion: Okta deletes only `DEPROVISIONED` users; a `DELETE` on any other
    /// status deactivates. So: `DELETE` (deactivates, or deletes a deactivated user),
    /// then `DELETE` again (deletes, or 404 when the first already did). The planner
    /// plans a deletion only where the deployment says `delete_leavers`.
    pub(super) async fn delete_account(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let id = match self.user_id(account).await {
            Ok(id) => id,
            Err(AdapterError::NotFound { .. }) => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
        let delete = || {
            let mut url = self.client.api_url(&["api", "v1", "users", &id]);
            url.query_pairs_mut().append_pair("sendEmail", "false");
            self.client.send(Method::DELETE, url, None)
        };
        match delete().await {
            Ok(_) => {}
            Err(AdapterError::NotFound { .. }) => {
                return Ok(Applied::already_in_place().with_external_id(id));
            }
            Err(e) => return Err(e),
        }
        match delete().await {
            Ok(r) => Ok(changed(id, r)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::changed().with_external_id(id)),
            Err(e) => Err(e),
        }
    }

    /// The account's id for a read: `None` when Okta has no such user.
    pub(super) async fn user_id_for_read(
        &self,
        account: &AccountRef,
    ) -> Result<Option<String>, AdapterError> {
        match self.user_id(account).await {
            Ok(id) => Ok(Some(id)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every user: the plain listing (which omits `DEPROVISIONED` users), then a
    /// search for the `DEPROVISIONED` ones, both paged by the `Link` header.
    pub(super) async fn account_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let limit = USERS_PAGE_SIZE.to_string();
        let (phase, url) = match cursor {
            None => (PHASE_LISTING, self.users_url(&[("limit", limit.as_str())])),
            Some(c) if c == PHASE_DEPROVISIONED => (
                PHASE_DEPROVISIONED,
                self.users_url(&[("search", DEPROVISIONED_SEARCH), ("limit", limit.as_str())]),
            ),
            Some(c) => {
                let (phase, rest) = if let Some(rest) = c.strip_prefix(PHASE_LISTING) {
                    (PHASE_LISTING, rest)
                } else if let Some(rest) = c.strip_prefix(PHASE_DEPROVISIONED) {
                    (PHASE_DEPROVISIONED, rest)
                } else {
                    return Err(AdapterError::Invalid {
                        error: SystemError::message("not an Okta account cursor"),
                    });
                };
                (phase, parse_cursor(rest)?)
            }
        };
        let (users, next, rate_limit) = self.client.get_page::<User>(url).await?;
        let next = match (next, phase) {
            (Some(url), phase) => Some(format!("{phase}{url}")),
            (None, PHASE_LISTING) => Some(PHASE_DEPROVISIONED.to_owned()),
            (None, _) => None,
        };
        Ok(Page::new(
            users
                .into_iter()
                .map(|u| AccountRecord {
                    login: u.login().to_owned(),
                    state: u.state(),
                    last_login: u.last_login,
                    attributes: self.account_attributes(&u.profile),
                    external_id: u.id,
                    correlation: Default::default(),
                })
                .collect(),
            next,
        )
        .with_rate_limit(rate_limit))
    }
}

/// A reactivation waiting for the person to use their activation link.
fn activation_pending(id: &str) -> AdapterError {
    AdapterError::Pending {
        recheck_after: ACTIVATION_RECHECK,
        error: SystemError::message(format!(
            "Okta user {id} is PROVISIONED: reactivated, waiting for the person to use the \
             activation link (activation: pending; the link was not emailed)"
        )),
    }
}

fn is_duplicate_login(error: &SystemError) -> bool {
    error.code.as_deref() == Some("E0000001") && error.message.contains("login")
}

/// The existing Okta user is the person of this profile: same email (case-insensitive).
pub(super) fn is_same_person(user: &User, profile: &AccountProfile) -> bool {
    user.profile_str("email")
        .is_some_and(|e| e.eq_ignore_ascii_case(&profile.email))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::OktaConfig;

    fn names_sent(display: &str) -> (Value, Value) {
        let okta = OktaAdapter::new(
            OktaConfig::builder("https://acme.okta.com")
                .api_token("t")
                .build()
                .unwrap(),
        )
        .unwrap();
        let profile = AccountProfile {
            login: "ada@example.com".into(),
            email: "ada@example.com".into(),
            display_name: display.into(),
            attributes: Default::default(),
            ..Default::default()
        };
        let sent = okta.create_profile(&profile);
        (sent["firstName"].clone(), sent["lastName"].clone())
    }

    #[test]
    fn names_split_and_filters_escape() {
        assert_eq!(
            names_sent("Ada King Lovelace"),
            ("Ada".into(), "King Lovelace".into())
        );
        assert_eq!(names_sent("Cher"), ("Cher".into(), "Cher".into()));
        assert_eq!(escape_filter("a\"b"), "a\\\"b");
    }
}
