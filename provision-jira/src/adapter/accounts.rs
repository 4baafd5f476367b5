//! People and their accounts: who an [`AccountRef`] is (by `accountId`, or the one
//! account with that visible email, never a guess), creation with the products the
//! policies give, the org API's lifecycle and profile, deletion, and the account
//! listing.

use std::collections::{BTreeMap, BTreeSet};

use provision_core::adapter::{
    Adapter, AdapterError, Applied, Effect, Page, RateLimitInfo, SystemError,
};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef, AccountState};
use reqwest::Method;
use serde_json::{Value, json};

use super::{JiraAdapter, SEARCH_PAGE_SIZE, parse_offset, unconfirmed};
use crate::client::SYSTEM;
use crate::descriptor::{KEY_ACCOUNT_ID, KEY_EMAIL, KIND_PRODUCT};
use crate::model::{NewUser, OrgProfile, User};

/// Who an [`AccountRef`] is in Jira.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resolved {
    /// The account id.
    Id(String),
    /// No active account has this email.
    Nobody,
    /// Someone may have it, but nothing confirms who: the reason.
    Unconfirmed(String),
}

impl JiraAdapter {
    /// Active accounts whose email is exactly `email` (visible or not).
    async fn search_email(&self, email: &str) -> Result<Vec<User>, AdapterError> {
        let size = SEARCH_PAGE_SIZE.to_string();
        let url = self.client.site_url(
            &["user", "search"],
            &[("query", email), ("maxResults", size.as_str())],
        );
        let (users, _): (Vec<User>, _) = self.client.site_get(url).await?;
        Ok(users.into_iter().filter(User::is_person).collect())
    }

    /// The account behind `account`: its id when known; otherwise the one active
    /// account whose visible email is the login. Never a guess: several matches, or
    /// matches whose email is hidden, are [`Resolved::Unconfirmed`] with the reason.
    pub(super) async fn resolve(&self, account: &AccountRef) -> Result<Resolved, AdapterError> {
        if let Some(id) = account.external_id.as_deref().filter(|i| !i.is_empty()) {
            return Ok(Resolved::Id(id.to_owned()));
        }
        let login = account.login.trim();
        let users = self.search_email(login).await?;
        let exact: Vec<&User> = users
            .iter()
            .filter(|u| u.email().is_some_and(|e| e.eq_ignore_ascii_case(login)))
            .collect();
        let hidden = users.iter().filter(|u| u.email().is_none()).count();
        Ok(match (exact.as_slice(), hidden) {
            ([one], 0) => Resolved::Id(one.account_id.clone()),
            ([], 0) => Resolved::Nobody,
            ([_, ..], _) | ([], _) => Resolved::Unconfirmed(format!(
                "cannot tell which Jira account is {login}: the search found {} account(s) \
                 with that email and {hidden} whose email is hidden by privacy settings; map \
                 the person's accountId (correlation key `{KEY_ACCOUNT_ID}`) to decide",
                exact.len()
            )),
        })
    }

    /// The account id, for an operation that needs someone: nobody is `NotFound`, an
    /// unconfirmed person a `Conflict` naming the reason (a finding, not a retry loop).
    pub(super) async fn require_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
        match self.resolve(account).await? {
            Resolved::Id(id) => Ok(id),
            Resolved::Nobody => Err(AdapterError::NotFound {
                error: SystemError::message(format!(
                    "no active Jira account has the email {}",
                    account.login
                )),
            }),
            Resolved::Unconfirmed(reason) => Err(unconfirmed(reason)),
        }
    }

    /// The account id for a removal: `None` when nobody has the login (nothing to
    /// remove).
    pub(super) async fn id_for_removal(
        &self,
        account: &AccountRef,
    ) -> Result<Option<String>, AdapterError> {
        match self.resolve(account).await? {
            Resolved::Id(id) => Ok(Some(id)),
            Resolved::Nobody => Ok(None),
            Resolved::Unconfirmed(reason) => Err(unconfirmed(reason)),
        }
    }

    pub(super) async fn get_user(
        &self,
        id: &str,
        expand: Option<&str>,
    ) -> Result<User, AdapterError> {
        let mut query = vec![("accountId", id)];
        if let Some(e) = expand {
            query.push(("expand", e));
        }
        let url = self.client.site_url(&["user"], &query);
        Ok(self.client.site_get(url).await?.0)
    }

    /// `POST /user` with the products the policies give. Jira answers 201 also when
    /// the account exists with access: the reply is adopted only when it is the same
    /// person (its email, or the org's view of it, equals the profile's).
    pub(super) async fn create_account(
        &self,
        profile: &AccountProfile,
    ) -> Result<Applied, AdapterError> {
        let email = profile.email.trim();
        let products: Vec<&str> = profile
            .required_grants
            .iter()
            .filter(|e| e.kind == KIND_PRODUCT)
            .map(|e| e.resource.as_str())
            .collect();
        // One read first: an active account with this visible email is adopted as is
        // (the 201 alone cannot tell a new account from an existing one).
        let existing = self.search_email(email).await?;
        if let Some(user) = existing
            .iter()
            .find(|u| u.email().is_some_and(|e| e.eq_ignore_ascii_case(email)))
        {
            let id = user.account_id.clone();
            tracing::info!(account_id = %id, "jira: adopting the existing account of this email");
            self.ensure_products(&id, &products).await?;
            return Ok(Applied::already_in_place().with_external_id(id));
        }
        let body = serde_json::to_value(NewUser {
            email_address: email,
            products: products.clone(),
        })
        .map_err(|e| AdapterError::Invalid {
            error: SystemError::message(e.to_string()),
        })?;
        let url = self.client.site_url(&["user"], &[]);
        let reply = match self.client.site(Method::POST, url, Some(&body)).await {
            Ok(reply) => reply,
            Err(AdapterError::Invalid { error }) if error.status == Some(400) => {
                return Err(AdapterError::Invalid {
                    error: explain_create_refusal(error, email, &products),
                });
            }
            Err(e) => return Err(e),
        };
        let user: User = reply.json(SYSTEM)?;
        let rate_limit = reply.rate_limit.clone();
        match user.email() {
            Some(e) if e.eq_ignore_ascii_case(email) => Ok(Applied::changed()
                .with_external_id(user.account_id)
                .with_rate_limit(rate_limit)),
            Some(other) => Err(AdapterError::Conflict {
                error: SystemError::new(
                    Some(reply.status),
                    None,
                    format!(
                        "Jira answered the creation of {email} with account {} whose email is \
                         {other}: not the same person, not adopted",
                        user.account_id
                    ),
                ),
            }),
            None => {
                self.confirm_hidden(&user.account_id, email, rate_limit)
                    .await
            }
        }
    }

    /// A 201 whose email is hidden: an account that existed already (a new one would
    /// show the email we gave). Adopted only when the org API confirms the email.
    async fn confirm_hidden(
        &self,
        id: &str,
        email: &str,
        rate_limit: Option<RateLimitInfo>,
    ) -> Result<Applied, AdapterError> {
        if self.client.has_org() {
            let profile = self.org_profile(id).await?;
            if profile
                .account
                .email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
            {
                return Ok(Applied::already_in_place()
                    .with_external_id(id)
                    .with_rate_limit(rate_limit));
            }
        }
        Err(unconfirmed(format!(
            "Jira answered the creation of {email} with the existing account {id}, whose email \
             is hidden by its privacy settings{}: not adopted; map the person's accountId \
             (correlation key `{KEY_ACCOUNT_ID}`) to adopt it",
            if self.client.has_org() {
                " and which the org API does not confirm"
            } else {
                " (without the org API key nothing else can confirm it)"
            }
        )))
    }

    /// Gives an adopted account the products its policies give and it lacks.
    async fn ensure_products(&self, id: &str, products: &[&str]) -> Result<(), AdapterError> {
        if products.is_empty() {
            return Ok(());
        }
        let user = self.get_user(id, Some("applicationRoles")).await?;
        let held: BTreeSet<String> = user
            .application_roles
            .map(|r| r.items.into_iter().map(|a| a.key).collect())
            .unwrap_or_default();
        for product in products.iter().filter(|p| !held.contains(**p)) {
            self.grant_product(id, product).await?;
        }
        Ok(())
    }

    pub(super) async fn org_profile(&self, id: &str) -> Result<OrgProfile, AdapterError> {
        let reply = self
            .client
            .org(Method::GET, &["users", id, "manage", "profile"], None)
            .await?;
        reply.json(crate::client::ORG_SYSTEM)
    }

    /// Why the org may not change this account's lifecycle, when it may not.
    async fn not_managed_reason(&self, id: &str) -> Result<Option<String>, AdapterError> {
        let reply = self
            .client
            .org(Method::GET, &["users", id, "manage"], None)
            .await?;
        let body: Value = reply.json(crate::client::ORG_SYSTEM)?;
        let rule = &body["lifecycle.enablement"];
        if rule["allowed"].as_bool() == Some(true) {
            return Ok(None);
        }
        let why = rule["reason"]["message"]
            .as_str()
            .or_else(|| rule["reason"]["key"].as_str())
            .unwrap_or("the organization does not manage this account (no verified domain)");
        Ok(Some(why.to_owned()))
    }

    /// `lifecycle/disable` or `lifecycle/enable`. A refusal is looked into: an
    /// account already in the wanted state is done; an account the org does not
    /// manage is a finding (`Permanent`, with the reason), never retried.
    pub(super) async fn lifecycle(
        &self,
        account: &AccountRef,
        enable: bool,
    ) -> Result<Applied, AdapterError> {
        let Some(id) = self.id_for_removal(account).await? else {
            return if enable {
                Err(AdapterError::NotFound {
                    error: SystemError::message(format!("no Jira account for {}", account.login)),
                })
            } else {
                Ok(Applied::already_in_place())
            };
        };
        let (action, wanted) = if enable {
            ("enable", "active")
        } else {
            ("disable", "inactive")
        };
        // One read first: whether the org API answers a second disable with success or
        // an error is not documented, and "already so" must be a success either way.
        match self.org_profile(&id).await {
            Ok(p) if p.account.account_status.as_deref() == Some(wanted) => {
                return Ok(Applied::already_in_place().with_external_id(id));
            }
            Ok(_) | Err(AdapterError::Unauthorized { .. } | AdapterError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let body = (!enable).then(|| json!({ "message": self.config.deactivation_message }));
        let sent = self
            .client
            .org(
                Method::POST,
                &["users", &id, "manage", "lifecycle", action],
                body.as_ref(),
            )
            .await;
        match sent {
            Ok(reply) => Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::Unauthorized { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                if matches!(&e, AdapterError::Unauthorized { error } if error.status == Some(401)) {
                    return Err(e);
                }
                if let Some(reason) = self.not_managed_reason(&id).await? {
                    if !enable {
                        return self.revoke_all_instead(account, &id, &reason).await;
                    }
                    return Err(AdapterError::Permanent {
                        error: SystemError::new(
                            e.system_error().and_then(|s| s.status),
                            Some("not_managed".to_owned()),
                            format!(
                                "finding: account {id} ({}) cannot be {action}d by the org API: \
                                 {reason}",
                                account.login
                            ),
                        ),
                    });
                }
                let status = self.org_profile(&id).await?.account.account_status;
                if status.as_deref() == Some(wanted) {
                    return Ok(Applied::already_in_place().with_external_id(id));
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The suspend of an account the organization does not manage (a partner, a
    /// contractor on their own domain): the org API cannot deactivate it, so the
    /// leaver loses here what Jira can take away: every product access, group and
    /// project role the account holds ([`Adapter::read_account_grants`]), each
    /// revoked. The answer says so in its note; the next run's suspend finds nothing
    /// left and is already in place (the account stays active in Atlassian, so the
    /// planner asks again every run, for the price of those reads).
    async fn revoke_all_instead(
        &self,
        account: &AccountRef,
        id: &str,
        reason: &str,
    ) -> Result<Applied, AdapterError> {
        let by_id = AccountRef {
            login: account.login.clone(),
            external_id: Some(id.to_owned()),
        };
        let mut held = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.read_account_grants(&by_id, cursor.as_deref()).await?;
            held.extend(page.items.into_iter().map(|g| g.entitlement));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for entitlement in &held {
            // What another engine owns is never ours to revoke (as in any plan).
            if let Some(engine) = self
                .config
                .external_owners
                .iter()
                .find(|o| o.covers(&entitlement.kind, &entitlement.resource))
            {
                kept.push(format!("{entitlement} (owned by {})", engine.engine));
                continue;
            }
            if self.revoke(entitlement, &by_id).await?.effect == Effect::Changed {
                removed.push(entitlement.to_string());
            }
        }
        let note = format!(
            "account {id} ({}) is not managed by the organization ({reason}), so it stays \
             active in Atlassian; instead {} of its product access, groups and project \
             roles in Jira were removed{}{}",
            account.login,
            removed.len(),
            if removed.is_empty() {
                String::new()
            } else {
                format!(": {}", removed.join(", "))
            },
            if kept.is_empty() {
                String::new()
            } else {
                format!("; left to their owners: {}", kept.join(", "))
            }
        );
        tracing::warn!(account_id = %id, "jira: {note}");
        let applied = if removed.is_empty() {
            Applied::already_in_place()
        } else {
            Applied::changed()
        };
        Ok(applied.with_external_id(id).with_note(note))
    }

    /// The mover's title and department onto the Atlassian profile.
    pub(super) async fn update_account(
        &self,
        account: &AccountRef,
        attributes: &BTreeMap<String, String>,
    ) -> Result<Applied, AdapterError> {
        let id = self.require_id(account).await?;
        let mut extended = serde_json::Map::new();
        for (field, key) in [("title", "job_title"), ("department", "department")] {
            if let Some(v) = attributes.get(field) {
                extended.insert(key.to_owned(), Value::from(v.as_str()));
            }
        }
        if extended.is_empty() {
            return Ok(Applied::already_in_place().with_external_id(id));
        }
        let body = json!({ "extended_profile": extended });
        let reply = self
            .client
            .org(
                Method::PATCH,
                &["users", &id, "manage", "profile"],
                Some(&body),
            )
            .await?;
        Ok(Applied::changed()
            .with_external_id(id)
            .with_rate_limit(reply.rate_limit))
    }

    pub(super) async fn delete_account(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(id) = self.id_for_removal(account).await? else {
            return Ok(Applied::already_in_place());
        };
        let url = self.client.site_url(&["user"], &[("accountId", &id)]);
        match self.client.site(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }

    /// One page of `/users/search` (apps and service-desk customers left out); the
    /// listing ends on the first empty page, never on a short one.
    pub(super) async fn account_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let start = parse_offset(cursor)?;
        if start == 0 {
            // A new run: what the per-account reads share is read afresh.
            self.run_actors.clear();
        }
        let size = self.users_page_size;
        let (s, m) = (start.to_string(), size.to_string());
        let url = self.client.site_url(
            &["users", "search"],
            &[("startAt", s.as_str()), ("maxResults", m.as_str())],
        );
        let (users, rate_limit): (Vec<User>, _) = self.client.site_get(url).await?;
        // A bare array whose rows are filtered *after* the page is cut (JRACLOUD-74454,
        // "not a bug"): a short page is not the end. The next page starts `maxResults`
        // further on, and only an empty page ends the listing.
        let next = (!users.is_empty()).then(|| (start + size).to_string());
        let mut records = Vec::with_capacity(users.len());
        for user in users.into_iter().filter(User::is_person) {
            records.push(self.account_record(user).await?);
        }
        Ok(Page::new(records, next).with_rate_limit(rate_limit))
    }

    async fn account_record(&self, user: User) -> Result<AccountRecord, AdapterError> {
        let state = if user.active {
            AccountState::Active
        } else {
            AccountState::Suspended
        };
        let login = user.email().unwrap_or_default().to_owned();
        let mut record = AccountRecord::new(&user.account_id, &login, state)
            .with_correlation(KEY_ACCOUNT_ID, &user.account_id);
        if !login.is_empty() {
            record = record.with_correlation(KEY_EMAIL, &login);
        }
        if self.config.profile_sync && self.client.has_org() {
            match self.org_profile(&user.account_id).await {
                Ok(p) => {
                    let x = p.account.extended_profile;
                    if let Some(t) = x.job_title {
                        record.attributes.insert("title".to_owned(), t);
                    }
                    if let Some(d) = x.department {
                        record.attributes.insert("department".to_owned(), d);
                    }
                }
                // Not managed by the org: its profile is not ours to read or sync.
                Err(AdapterError::Unauthorized { .. } | AdapterError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(record)
    }
}

/// Says plainly why Jira refused a creation with 400: the person has an Atlassian
/// account without access to Jira, or the site has no licence left.
fn explain_create_refusal(error: SystemError, email: &str, products: &[&str]) -> SystemError {
    let lower = error.message.to_ascii_lowercase();
    let products = if products.is_empty() {
        "Jira".to_owned()
    } else {
        products.join(", ")
    };
    let why = if lower.contains("licen") || lower.contains("limit") || lower.contains("seat") {
        format!("the site has no licence left for {products}: free a seat or buy more")
    } else if lower.contains("exist") {
        format!(
            "{email} already has an Atlassian account without access to this site: give it \
             access (a `product` grant, or in admin.atlassian.com), then it is adopted"
        )
    } else {
        format!(
            "either {email} already has an Atlassian account without access to this site, or \
             the site has no licence left for {products}"
        )
    };
    SystemError::new(
        error.status,
        error.code,
        format!(
            "Jira refused to create {email}: {why} (Jira said: {})",
            error.message
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refusals_are_said_plainly() {
        let e = SystemError::new(Some(400), None, "Licence limit exceeded");
        let m = explain_create_refusal(e, "a@x.io", &["jira-software"]).message;
        assert!(m.contains("no licence left for jira-software"), "{m}");
        let e = SystemError::new(Some(400), None, "User already exists");
        let m = explain_create_refusal(e, "a@x.io", &[]).message;
        assert!(
            m.contains("already has an Atlassian account without access"),
            "{m}"
        );
    }
}
