//! The [`Adapter`] implementation: accounts by `accountId`, product access, groups by
//! `groupId`, project roles, and the account lifecycle through the org API.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation,
    OperationKind, ResourceRecord, ResourceRef,
};
use provision_http::names::NameCache;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::client::{JiraClient, SYSTEM};
use crate::config::JiraConfig;
use crate::descriptor::{
    DescriptorInputs, KEY_ACCOUNT_ID, KEY_EMAIL, KIND_GROUP, KIND_PRODUCT, KIND_PROJECT_ROLE,
    jira_descriptor,
};
use crate::error::ConfigError;
use crate::model::{
    ApplicationRole, Group, NewUser, OrgProfile, PageBean, ProjectRole, RoleRef, User,
};

/// How long a group name → `groupId` resolution is trusted.
pub const GROUP_ID_TTL: Duration = Duration::from_secs(600);
/// `/users/search` page size (its maximum).
pub const USERS_PAGE_SIZE: u64 = 1000;
/// `/group/member` page size (its maximum).
pub const MEMBERS_PAGE_SIZE: u64 = 50;
/// `/group/bulk` page size.
pub const GROUPS_PAGE_SIZE: u64 = 50;
/// `/user/search` page size when resolving an email.
pub const SEARCH_PAGE_SIZE: u64 = 50;

/// Who an [`AccountRef`] is in Jira.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    /// The account id.
    Id(String),
    /// No active account has this email.
    Nobody,
    /// Someone may have it, but nothing confirms who: the reason.
    Unconfirmed(String),
}

/// The Jira Cloud adapter. See the crate documentation for its behaviour.
#[derive(Debug)]
pub struct JiraAdapter {
    client: JiraClient,
    config: JiraConfig,
    descriptor: SystemDescriptor,
    /// The system's name in the deployment (entitlements read carry it).
    system: String,
    /// Group name → `groupId`.
    group_ids: NameCache,
    /// Role name → id, resolved once per adapter (per run).
    role_ids: OnceCell<BTreeMap<String, u64>>,
    /// The site's products and the groups that give them, read once per run.
    products: OnceCell<Vec<ApplicationRole>>,
    users_page_size: u64,
}

impl JiraAdapter {
    /// An adapter for the configured site (and org, when its key is given).
    pub fn new(config: JiraConfig) -> Result<Self, ConfigError> {
        let descriptor = jira_descriptor(&DescriptorInputs::of(&config));
        if config.org.is_none() {
            tracing::info!(
                "jira: no org API key: accounts cannot be deactivated; a leaver loses product \
                 access, groups and project roles instead"
            );
        }
        Ok(Self {
            client: JiraClient::new(&config)?,
            config,
            descriptor,
            system: "jira".to_owned(),
            group_ids: NameCache::new(GROUP_ID_TTL),
            role_ids: OnceCell::new(),
            products: OnceCell::new(),
            users_page_size: USERS_PAGE_SIZE,
        })
    }

    /// Builder-style: the system's name in the deployment, carried by the
    /// entitlements the adapter reads (default `jira`).
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = name.into();
        self
    }

    /// Builder-style: the `/users/search` page size (tests use small pages).
    pub fn with_users_page_size(mut self, size: u64) -> Self {
        self.users_page_size = size.clamp(1, USERS_PAGE_SIZE);
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &JiraClient {
        &self.client
    }

    fn entitlement(&self, kind: &str, resource: &str) -> Entitlement {
        Entitlement::new(self.system.as_str(), kind, resource)
    }

    // ----- people -------------------------------------------------------------------

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
    async fn resolve(&self, account: &AccountRef) -> Result<Resolved, AdapterError> {
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
    async fn require_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
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
    async fn id_for_removal(&self, account: &AccountRef) -> Result<Option<String>, AdapterError> {
        match self.resolve(account).await? {
            Resolved::Id(id) => Ok(Some(id)),
            Resolved::Nobody => Ok(None),
            Resolved::Unconfirmed(reason) => Err(unconfirmed(reason)),
        }
    }

    async fn get_user(&self, id: &str, expand: Option<&str>) -> Result<User, AdapterError> {
        let mut query = vec![("accountId", id)];
        if let Some(e) = expand {
            query.push(("expand", e));
        }
        let url = self.client.site_url(&["user"], &query);
        Ok(self.client.site_get(url).await?.0)
    }

    // ----- create -------------------------------------------------------------------

    /// `POST /user` with the products the policies give. Jira answers 201 also when
    /// the account exists with access: the reply is adopted only when it is the same
    /// person (its email, or the org's view of it, equals the profile's).
    async fn create_account(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
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

    // ----- org API: lifecycle and profile --------------------------------------------

    async fn org_profile(&self, id: &str) -> Result<OrgProfile, AdapterError> {
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
    async fn lifecycle(&self, account: &AccountRef, enable: bool) -> Result<Applied, AdapterError> {
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
                    return Err(AdapterError::Permanent {
                        error: SystemError::new(
                            e.system_error().and_then(|s| s.status),
                            Some("not_managed".to_owned()),
                            format!(
                                "finding: account {id} ({}) cannot be {action}d by the org API: \
                                 {reason}; its product access, groups and project roles must \
                                 be removed instead",
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

    /// The mover's title and department onto the Atlassian profile.
    async fn update_account(
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

    async fn delete_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
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

    // ----- groups -------------------------------------------------------------------

    /// A group's id by name (resolved once per [`GROUP_ID_TTL`]); a missing group is a
    /// configuration error.
    async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
        if let Some(id) = self.group_ids.get(name) {
            return Ok(id);
        }
        let url = self
            .client
            .site_url(&["group", "bulk"], &[("groupName", name)]);
        let (page, _): (PageBean<Group>, _) = self.client.site_get(url).await?;
        let found = page
            .values
            .into_iter()
            .find(|g| g.name == name)
            .and_then(|g| g.group_id);
        match found {
            Some(id) => {
                self.group_ids.insert(name, id.clone());
                Ok(id)
            }
            None => Err(missing_group(name)),
        }
    }

    /// The groups of an account (`None`: no such account).
    async fn user_groups(&self, id: &str) -> Result<Option<Vec<Group>>, AdapterError> {
        let url = self
            .client
            .site_url(&["user", "groups"], &[("accountId", id)]);
        match self.client.site_get::<Vec<Group>>(url).await {
            Ok((groups, _)) => Ok(Some(groups)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn is_member(&self, id: &str, group_id: &str) -> Result<Option<bool>, AdapterError> {
        Ok(self
            .user_groups(id)
            .await?
            .map(|gs| gs.iter().any(|g| g.group_id.as_deref() == Some(group_id))))
    }

    /// `POST /group/user?groupId=` (201). "Already a member", whatever status Jira
    /// uses, is done once a read confirms it.
    async fn add_member(
        &self,
        id: &str,
        group_id: &str,
        name: &str,
    ) -> Result<Applied, AdapterError> {
        let url = self
            .client
            .site_url(&["group", "user"], &[("groupId", group_id)]);
        let body = json!({ "accountId": id });
        match self.client.site(Method::POST, url, Some(&body)).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                if self.is_member(id, group_id).await? == Some(true) {
                    return Ok(Applied::already_in_place());
                }
                if matches!(e, AdapterError::NotFound { .. })
                    && !self.group_exists(group_id).await?
                {
                    self.group_ids.remove(name);
                    return Err(missing_group(name));
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /group/user?groupId=&accountId=` (Jira answers 200). "Not a member",
    /// whatever status Jira uses, is done once a read confirms it.
    async fn remove_member(
        &self,
        id: &str,
        group_id: &str,
        name: &str,
    ) -> Result<Applied, AdapterError> {
        let url = self.client.site_url(
            &["group", "user"],
            &[("groupId", group_id), ("accountId", id)],
        );
        match self.client.site(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                if matches!(e, AdapterError::NotFound { .. })
                    && !self.group_exists(group_id).await?
                {
                    self.group_ids.remove(name);
                    return Err(missing_group(name));
                }
                match self.is_member(id, group_id).await? {
                    Some(true) => Err(e),
                    _ => Ok(Applied::already_in_place()),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn group_exists(&self, group_id: &str) -> Result<bool, AdapterError> {
        let url = self
            .client
            .site_url(&["group", "bulk"], &[("groupId", group_id)]);
        let (page, _): (PageBean<Group>, _) = self.client.site_get(url).await?;
        Ok(page
            .values
            .iter()
            .any(|g| g.group_id.as_deref() == Some(group_id)))
    }

    // ----- products -----------------------------------------------------------------

    async fn products(&self) -> Result<&[ApplicationRole], AdapterError> {
        self.products
            .get_or_try_init(|| async {
                let url = self.client.site_url(&["applicationrole"], &[]);
                Ok::<_, AdapterError>(self.client.site_get::<Vec<ApplicationRole>>(url).await?.0)
            })
            .await
            .map(Vec::as_slice)
    }

    async fn product(&self, key: &str) -> Result<&ApplicationRole, AdapterError> {
        self.products()
            .await?
            .iter()
            .find(|r| r.key == key)
            .ok_or_else(|| AdapterError::Configuration {
                error: SystemError::message(format!(
                    "the Jira site has no product {key:?} (GET /applicationrole)"
                )),
            })
    }

    /// Product access for an existing account: membership of the product's default
    /// group (one write).
    async fn grant_product(&self, id: &str, key: &str) -> Result<Applied, AdapterError> {
        let role = self.product(key).await?;
        let group = role
            .default_groups_details
            .iter()
            .find(|g| g.group_id.is_some())
            .ok_or_else(|| AdapterError::Configuration {
                error: SystemError::message(format!(
                    "product {key:?} has no default group with an id: product access cannot \
                     be given through a group on this site"
                )),
            })?;
        let group_id = group.group_id.clone().unwrap_or_default();
        self.add_member(id, &group_id, &group.name).await
    }

    /// Takes product access away: the account leaves every group that gives it.
    async fn revoke_product(&self, id: &str, key: &str) -> Result<Applied, AdapterError> {
        let role = self.product(key).await?;
        let giving: BTreeSet<&str> = role
            .group_details
            .iter()
            .chain(&role.default_groups_details)
            .filter_map(|g| g.group_id.as_deref())
            .collect();
        let Some(groups) = self.user_groups(id).await? else {
            return Ok(Applied::already_in_place());
        };
        let mut applied = Applied::already_in_place();
        for g in groups {
            let Some(gid) = g.group_id.as_deref().filter(|g| giving.contains(g)) else {
                continue;
            };
            let done = self.remove_member(id, gid, &g.name).await?;
            if done.effect == provision_core::adapter::Effect::Changed {
                applied = done;
            }
        }
        Ok(applied)
    }

    /// The product a group gives, if any.
    async fn product_of_group(&self, group_id: &str) -> Result<Option<String>, AdapterError> {
        Ok(self
            .products()
            .await?
            .iter()
            .find(|r| {
                r.group_details
                    .iter()
                    .chain(&r.default_groups_details)
                    .any(|g| g.group_id.as_deref() == Some(group_id))
            })
            .map(|r| r.key.clone()))
    }

    // ----- project roles ------------------------------------------------------------

    /// Role name → id (`GET /role`), once per run.
    async fn role_id(&self, name: &str) -> Result<u64, AdapterError> {
        let ids = self
            .role_ids
            .get_or_try_init(|| async {
                let url = self.client.site_url(&["role"], &[]);
                let (roles, _): (Vec<RoleRef>, _) = self.client.site_get(url).await?;
                Ok::<_, AdapterError>(roles.into_iter().map(|r| (r.name, r.id)).collect())
            })
            .await?;
        ids.get(name)
            .copied()
            .ok_or_else(|| AdapterError::Configuration {
                error: SystemError::message(format!("Jira has no project role named {name:?}")),
            })
    }

    /// The actors of one role in one project; a missing project is a configuration
    /// error.
    async fn role_actors(&self, project: &str, role_id: u64) -> Result<ProjectRole, AdapterError> {
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[]);
        match self.client.site_get(url).await {
            Ok((role, _)) => Ok(role),
            Err(AdapterError::NotFound { error }) => Err(AdapterError::Configuration {
                error: SystemError::new(
                    error.status,
                    error.code,
                    format!(
                        "project {project:?} (or role {role_id} in it) does not exist: {}",
                        error.message
                    ),
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /project/{key}/role/{id}` `{"user":[accountId]}`; never the whole-list
    /// `PUT`. A refusal is done when a read shows the actor is there.
    async fn add_role_actor(
        &self,
        id: &str,
        project: &str,
        role: &str,
    ) -> Result<Applied, AdapterError> {
        let role_id = self.role_id(role).await?;
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[]);
        let body = json!({ "user": [id] });
        match self.client.site(Method::POST, url, Some(&body)).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                let actors = self.role_actors(project, role_id).await?;
                if actors.user_ids().any(|a| a == id) {
                    return Ok(Applied::already_in_place());
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /project/{key}/role/{id}?user=` (204). Not an actor is done.
    async fn remove_role_actor(
        &self,
        id: &str,
        project: &str,
        role: &str,
    ) -> Result<Applied, AdapterError> {
        let role_id = self.role_id(role).await?;
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[("user", id)]);
        match self.client.site(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                let actors = self.role_actors(project, role_id).await?;
                if actors.user_ids().any(|a| a == id) {
                    return Err(e);
                }
                Ok(Applied::already_in_place())
            }
            Err(e) => Err(e),
        }
    }

    /// The roles of one project that policies may name, with their ids.
    async fn project_roles(&self) -> Result<Vec<(String, u64)>, AdapterError> {
        let mut out = Vec::new();
        for name in &self.config.project_roles {
            match self.role_id(name).await {
                Ok(id) => out.push((name.clone(), id)),
                Err(AdapterError::Configuration { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    // ----- grants -------------------------------------------------------------------

    async fn grant(
        &self,
        entitlement: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let id = self.require_id(account).await?;
        let applied = match entitlement.kind.as_str() {
            KIND_GROUP => {
                let gid = self.group_id(&entitlement.resource).await?;
                self.add_member(&id, &gid, &entitlement.resource).await?
            }
            KIND_PRODUCT => self.grant_product(&id, &entitlement.resource).await?,
            KIND_PROJECT_ROLE => {
                let role = role_of(entitlement)?;
                self.add_role_actor(&id, &entitlement.resource, role)
                    .await?
            }
            other => return Err(unknown_kind(other)),
        };
        Ok(applied.with_external_id(id))
    }

    async fn revoke(
        &self,
        entitlement: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(id) = self.id_for_removal(account).await? else {
            return Ok(Applied::already_in_place());
        };
        match entitlement.kind.as_str() {
            KIND_GROUP => {
                let gid = self.group_id(&entitlement.resource).await?;
                self.remove_member(&id, &gid, &entitlement.resource).await
            }
            KIND_PRODUCT => self.revoke_product(&id, &entitlement.resource).await,
            KIND_PROJECT_ROLE => {
                let role = role_of(entitlement)?;
                self.remove_role_actor(&id, &entitlement.resource, role)
                    .await
            }
            other => Err(unknown_kind(other)),
        }
    }

    /// Whether the account holds the entitlement now.
    async fn holds(&self, id: &str, entitlement: &Entitlement) -> Result<bool, AdapterError> {
        match entitlement.kind.as_str() {
            KIND_GROUP => {
                let gid = self.group_id(&entitlement.resource).await?;
                Ok(self.is_member(id, &gid).await? == Some(true))
            }
            KIND_PRODUCT => {
                let user = self.get_user(id, Some("applicationRoles")).await?;
                Ok(user
                    .application_roles
                    .is_some_and(|r| r.items.iter().any(|a| a.key == entitlement.resource)))
            }
            KIND_PROJECT_ROLE => {
                let rid = self.role_id(role_of(entitlement)?).await?;
                let actors = self.role_actors(&entitlement.resource, rid).await?;
                Ok(actors.user_ids().any(|a| a == id))
            }
            other => Err(unknown_kind(other)),
        }
    }

    // ----- reads --------------------------------------------------------------------

    async fn read_accounts_inner(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let start = parse_offset(cursor)?;
        let size = self.users_page_size;
        let (s, m) = (start.to_string(), size.to_string());
        let url = self.client.site_url(
            &["users", "search"],
            &[("startAt", s.as_str()), ("maxResults", m.as_str())],
        );
        let (users, rate_limit): (Vec<User>, _) = self.client.site_get(url).await?;
        // A bare array: fewer than asked is the last page.
        let next = (users.len() as u64 >= size).then(|| (start + users.len() as u64).to_string());
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

    fn grant_record(&self, entitlement: Entitlement, user: &User) -> GrantRecord {
        GrantRecord {
            entitlement,
            account_external_id: user.account_id.clone(),
            login: user.email().map(str::to_owned),
        }
    }

    /// One page of a group's members, 50 at a time, to `isLast`.
    async fn group_members_page(
        &self,
        group_id: &str,
        start: u64,
    ) -> Result<(Vec<User>, Option<u64>, Option<RateLimitInfo>), AdapterError> {
        let (s, m) = (start.to_string(), MEMBERS_PAGE_SIZE.to_string());
        let url = self.client.site_url(
            &["group", "member"],
            &[
                ("groupId", group_id),
                ("includeInactiveUsers", "true"),
                ("startAt", s.as_str()),
                ("maxResults", m.as_str()),
            ],
        );
        let (page, rl): (PageBean<User>, _) = self.client.site_get(url).await?;
        let n = page.values.len() as u64;
        let next = match page.is_last {
            Some(true) => None,
            Some(false) if n > 0 => Some(page.start_at.unwrap_or(start) + n),
            // No isLast: an empty page or the total reached ends it.
            _ if n == 0 => None,
            _ => {
                let next = page.start_at.unwrap_or(start) + n;
                page.total.is_none_or(|t| next < t).then_some(next)
            }
        };
        Ok((page.values, next, rl))
    }

    async fn read_grants_inner(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            KIND_GROUP => {
                let gid = self.group_id(&resource.resource).await?;
                let (users, next, rl) =
                    self.group_members_page(&gid, parse_offset(cursor)?).await?;
                let e = self.entitlement(KIND_GROUP, &resource.resource);
                let items = users
                    .iter()
                    .map(|u| self.grant_record(e.clone(), u))
                    .collect();
                Ok(Page::new(items, next.map(|n| n.to_string())).with_rate_limit(rl))
            }
            KIND_PRODUCT => {
                // Members of every group that gives the product: cursor `group:offset`.
                let role = self.product(&resource.resource).await?;
                let groups: Vec<&str> = role
                    .group_details
                    .iter()
                    .chain(&role.default_groups_details)
                    .filter_map(|g| g.group_id.as_deref())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (index, start) = parse_pair(cursor)?;
                let Some(gid) = groups.get(index) else {
                    return Ok(Page::last(Vec::new()));
                };
                let (users, next, rl) = self.group_members_page(gid, start).await?;
                let e = self.entitlement(KIND_PRODUCT, &resource.resource);
                let items = users
                    .iter()
                    .map(|u| self.grant_record(e.clone(), u))
                    .collect();
                let next = match next {
                    Some(n) => Some(format!("{index}:{n}")),
                    None if index + 1 < groups.len() => Some(format!("{}:0", index + 1)),
                    None => None,
                };
                Ok(Page::new(items, next).with_rate_limit(rl))
            }
            KIND_PROJECT_ROLE => {
                // One role of the project per page (each role's actors come whole).
                let roles = self.project_roles().await?;
                let index = parse_offset(cursor)? as usize;
                let Some((name, rid)) = roles.get(index) else {
                    return Ok(Page::last(Vec::new()));
                };
                let actors = self.role_actors(&resource.resource, *rid).await?;
                let e = self
                    .entitlement(KIND_PROJECT_ROLE, &resource.resource)
                    .with_role(name.as_str());
                let items = actors
                    .user_ids()
                    .map(|id| GrantRecord {
                        entitlement: e.clone(),
                        account_external_id: id.to_owned(),
                        login: None,
                    })
                    .collect();
                let next = (index + 1 < roles.len()).then(|| (index + 1).to_string());
                Ok(Page::new(items, next))
            }
            other => Err(unknown_kind(other)),
        }
    }

    /// Page 0: the account's groups (those giving a product read as the product);
    /// page `n` ≥ 1: its roles in the `n`-th managed project.
    async fn read_account_grants_inner(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(id) = self.id_for_removal(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        let index = parse_offset(cursor)? as usize;
        let next = (index < self.config.projects.len()).then(|| (index + 1).to_string());
        let record = |entitlement| GrantRecord {
            entitlement,
            account_external_id: id.clone(),
            login: None,
        };
        if index == 0 {
            let Some(groups) = self.user_groups(&id).await? else {
                return Ok(Page::last(Vec::new()));
            };
            let mut products = BTreeSet::new();
            let mut items = Vec::new();
            for g in groups {
                let product = match g.group_id.as_deref() {
                    Some(gid) => self.product_of_group(gid).await?,
                    None => None,
                };
                match product {
                    Some(key) => {
                        if products.insert(key.clone()) {
                            items.push(record(self.entitlement(KIND_PRODUCT, &key)));
                        }
                    }
                    None => items.push(record(self.entitlement(KIND_GROUP, &g.name))),
                }
            }
            return Ok(Page::new(items, next));
        }
        let project = &self.config.projects[index - 1];
        let mut items = Vec::new();
        for (name, rid) in self.project_roles().await? {
            let actors = self.role_actors(project, rid).await?;
            if actors.user_ids().any(|a| a == id) {
                items.push(record(
                    self.entitlement(KIND_PROJECT_ROLE, project).with_role(name),
                ));
            }
        }
        Ok(Page::new(items, next))
    }

    async fn list_resources_inner(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            KIND_PRODUCT => Ok(Page::last(
                self.products()
                    .await?
                    .iter()
                    .map(|r| ResourceRecord::new(KIND_PRODUCT, &r.key))
                    .collect(),
            )),
            KIND_GROUP => {
                let start = parse_offset(cursor)?;
                let (s, m) = (start.to_string(), GROUPS_PAGE_SIZE.to_string());
                let url = self.client.site_url(
                    &["group", "bulk"],
                    &[("startAt", s.as_str()), ("maxResults", m.as_str())],
                );
                let (page, rl): (PageBean<Group>, _) = self.client.site_get(url).await?;
                let n = page.values.len() as u64;
                let next = (page.is_last == Some(false) && n > 0)
                    .then(|| (page.start_at.unwrap_or(start) + n).to_string());
                let items = page
                    .values
                    .into_iter()
                    .map(|g| {
                        let mut r = ResourceRecord::new(KIND_GROUP, &g.name);
                        r.external_id = g.group_id;
                        r
                    })
                    .collect();
                Ok(Page::new(items, next).with_rate_limit(rl))
            }
            KIND_PROJECT_ROLE if !self.config.projects.is_empty() => {
                // Each configured project is looked up: a missing one is a configuration
                // error, not an empty listing.
                let mut items = Vec::new();
                let mut rate_limit = None;
                for p in &self.config.projects {
                    let url = self.client.site_url(&["project", p, "role"], &[]);
                    match self.client.site_get::<Value>(url).await {
                        Ok((_, rl)) => rate_limit = rl,
                        Err(AdapterError::NotFound { error }) => {
                            return Err(AdapterError::Configuration {
                                error: SystemError::new(
                                    error.status,
                                    error.code,
                                    format!(
                                        "configured project {p:?} does not exist: {}",
                                        error.message
                                    ),
                                ),
                            });
                        }
                        Err(e) => return Err(e),
                    }
                    items.push(ResourceRecord::new(KIND_PROJECT_ROLE, p));
                }
                Ok(Page::last(items).with_rate_limit(rate_limit))
            }
            other => Err(AdapterError::Unsupported {
                what: format!("listing Jira {other} resources"),
            }),
        }
    }

    async fn execute_inner(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => self.create_account(profile).await,
            OperationKind::UpdateAccount { attributes } => {
                self.update_account(account, attributes).await
            }
            OperationKind::SuspendAccount => self.lifecycle(account, false).await,
            OperationKind::ReactivateAccount => self.lifecycle(account, true).await,
            OperationKind::DeleteAccount => self.delete_account(account).await,
            OperationKind::Grant { entitlement } => self.grant(entitlement, account).await,
            OperationKind::Revoke { entitlement } => self.revoke(entitlement, account).await,
            OperationKind::RevokeSessions => Err(AdapterError::Unsupported {
                what: "revoking sessions: neither Jira nor the Atlassian org API has an \
                       endpoint for it"
                    .to_owned(),
            }),
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }

    async fn check_inner(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        let done = |id: Option<String>| CheckStatus::Done { external_id: id };
        match &op.kind {
            OperationKind::CreateAccount { .. } | OperationKind::Grant { .. } => {
                let id = match self.resolve(account).await? {
                    Resolved::Id(id) => id,
                    _ => return Ok(CheckStatus::NotDone),
                };
                match op.kind.entitlement() {
                    None => Ok(done(Some(id))),
                    Some(e) if self.holds(&id, e).await? => Ok(done(Some(id))),
                    Some(_) => Ok(CheckStatus::NotDone),
                }
            }
            OperationKind::Revoke { entitlement } => match self.resolve(account).await? {
                Resolved::Nobody => Ok(done(None)),
                Resolved::Unconfirmed(_) => Ok(CheckStatus::NotDone),
                Resolved::Id(id) if self.holds(&id, entitlement).await? => Ok(CheckStatus::NotDone),
                Resolved::Id(id) => Ok(done(Some(id))),
            },
            OperationKind::SuspendAccount | OperationKind::ReactivateAccount
                if self.client.has_org() =>
            {
                let Resolved::Id(id) = self.resolve(account).await? else {
                    return Ok(CheckStatus::NotDone);
                };
                let wanted = if matches!(op.kind, OperationKind::SuspendAccount) {
                    "inactive"
                } else {
                    "active"
                };
                let status = self.org_profile(&id).await?.account.account_status;
                Ok(if status.as_deref() == Some(wanted) {
                    done(Some(id))
                } else {
                    CheckStatus::NotDone
                })
            }
            _ => Ok(CheckStatus::NotDone),
        }
    }
}

#[async_trait]
impl Adapter for JiraAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every person's account (`/users/search`, 1000 a page; apps and service-desk
    /// customers left out), with `account_id` and (when visible) `email` correlation.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.read_accounts_inner(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.read_grants_inner(resource, cursor).await
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.read_account_grants_inner(account, cursor).await
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        self.list_resources_inner(kind, cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        self.execute_inner(op, account).await
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.check_inner(op, account).await
    }
}

/// A person nothing confirms: a finding with the reason (`Conflict`: the executor
/// confirms with `check`, which cannot either, and reports it; it is never retried).
fn unconfirmed(reason: String) -> AdapterError {
    AdapterError::Conflict {
        error: SystemError::new(None, Some("unconfirmed_person".to_owned()), reason),
    }
}

fn missing_group(name: &str) -> AdapterError {
    AdapterError::Configuration {
        error: SystemError::message(format!("Jira has no group named {name:?}")),
    }
}

fn unknown_kind(kind: &str) -> AdapterError {
    AdapterError::Unsupported {
        what: format!("Jira has no resource kind {kind:?} (product, group, project_role)"),
    }
}

fn role_of(entitlement: &Entitlement) -> Result<&str, AdapterError> {
    entitlement
        .role
        .as_deref()
        .ok_or_else(|| AdapterError::Invalid {
            error: SystemError::message(format!("{entitlement}: a project role needs a role name")),
        })
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

fn bad_cursor(cursor: &str) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(format!("not a Jira page cursor: {cursor:?}")),
    }
}

fn parse_offset(cursor: Option<&str>) -> Result<u64, AdapterError> {
    cursor.map_or(Ok(0), |c| c.parse().map_err(|_| bad_cursor(c)))
}

fn parse_pair(cursor: Option<&str>) -> Result<(usize, u64), AdapterError> {
    let Some(c) = cursor else {
        return Ok((0, 0));
    };
    let (a, b) = c.split_once(':').ok_or_else(|| bad_cursor(c))?;
    Ok((
        a.parse().map_err(|_| bad_cursor(c))?,
        b.parse().map_err(|_| bad_cursor(c))?,
    ))
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

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_pair(Some("2:50")).ok(), Some((2, 50)));
        assert!(parse_offset(Some("x")).is_err());
    }
}
