//! The [`Adapter`] implementation: entitlements and lifecycle onto Okta's API.

use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, ResourceKindDescriptor, SystemDescriptor,
    SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind,
    ResourceRef,
};
use provision_http::names::{NameCache, PersonName};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tracing::Instrument;
use url::Url;

use crate::client::{OktaClient, Response, SYSTEM};
use crate::config::{LeaverAction, OktaConfig};
use crate::error::ConfigError;
use crate::model::{AppUser, Group, User};

/// Users per page: the largest `limit` `GET /api/v1/users` allows.
pub const USERS_PAGE_SIZE: u32 = 200;
/// Group members per page: the largest `limit` `GET /api/v1/groups/{id}/users` allows.
pub const GROUP_MEMBERS_PAGE_SIZE: u32 = 1000;
/// App assignments per page: the spec's maximum for `GET /api/v1/apps/{id}/users`.
pub const APP_USERS_PAGE_SIZE: u32 = 500;

/// The filter that lists the users the plain listing hides.
const DEPROVISIONED_SEARCH: &str = "status eq \"DEPROVISIONED\"";

/// The account-reading cursor: phase 1 is the plain listing (every status but
/// `DEPROVISIONED`), phase 2 the search for `DEPROVISIONED` users.
const PHASE_LISTING: &str = "1|";
const PHASE_DEPROVISIONED: &str = "2|";

/// How long a group's id is reused before its name is looked up again (a group
/// deleted and created again under its name gets a new id).
pub const GROUP_ID_TTL: Duration = Duration::from_secs(15 * 60);

/// The Okta adapter.
#[derive(Debug)]
pub struct OktaAdapter {
    client: OktaClient,
    descriptor: SystemDescriptor,
    /// Group name → id, resolved once per [`GROUP_ID_TTL`].
    group_ids: NameCache,
}

impl OktaAdapter {
    /// An adapter for the configured org.
    pub fn new(config: OktaConfig) -> Result<Self, ConfigError> {
        let mut descriptor = SystemDescriptor::new("okta");
        descriptor
            .kinds
            .push(ResourceKindDescriptor::new("group", &["add_to_group"]));
        descriptor
            .kinds
            .push(ResourceKindDescriptor::new("app", &["assign_app"]));
        descriptor.has_accounts = true;
        descriptor.can_suspend = true;
        descriptor.can_revoke_sessions = true;
        descriptor.can_delete = true;
        descriptor.suspension_keeps_grants = config.leaver_action == LeaverAction::Suspend;
        Ok(Self {
            client: OktaClient::new(config)?,
            descriptor,
            group_ids: NameCache::new(GROUP_ID_TTL),
        })
    }

    /// The HTTP client (for reads the trait does not cover).
    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    fn config(&self) -> &OktaConfig {
        self.client.config()
    }

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

    async fn get_user(&self, id: &str) -> Result<User, AdapterError> {
        let url = self.client.api_url(&["api", "v1", "users", id]);
        self.client.send(Method::GET, url, None).await?.json(SYSTEM)
    }

    /// The account's Okta id: the one the executor knows, or looked up by login.
    async fn user_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
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

    /// Resolves a group name to its id (cached for the adapter's life).
    pub async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
        if let Some(id) = self.group_ids.get(name) {
            return Ok(id);
        }
        let mut url = self.client.api_url(&["api", "v1", "groups"]);
        let search = format!("profile.name eq \"{}\"", escape_filter(name));
        url.query_pairs_mut().append_pair("search", &search);
        let (groups, _, _) = self.client.get_page::<Group>(url).await?;
        let matching: Vec<Group> = groups.into_iter().filter(|g| g.name() == name).collect();
        let group = match matching.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(AdapterError::NotFound {
                    error: SystemError::message(format!("no Okta group named {name:?}")),
                });
            }
            _ => {
                return Err(AdapterError::Invalid {
                    error: SystemError::message(format!(
                        "{} Okta groups are named {name:?}; group names must be unique",
                        matching.len()
                    )),
                });
            }
        };
        if let Some(kind) = group.group_type.as_deref()
            && kind != "OKTA_GROUP"
        {
            return Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "Okta group {name:?} is of type {kind}; only OKTA_GROUP memberships can be changed"
                )),
            });
        }
        self.group_ids.insert(name, group.id.clone());
        Ok(group.id)
    }

    fn app_id<'a>(&'a self, resource: &'a str) -> &'a str {
        self.config()
            .apps
            .get(resource)
            .map(|a| a.id.as_str())
            .unwrap_or(resource)
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

    async fn create_account(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
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
            tracing::info!(user = %existing.id, "login exists for the same person: adopted");
            Ok(Applied::already_in_place().with_external_id(existing.id))
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

    async fn update_account(
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

    async fn lifecycle(
        &self,
        id: &str,
        action: &str,
        send_email: bool,
    ) -> Result<Response, AdapterError> {
        let mut url = self
            .client
            .api_url(&["api", "v1", "users", id, "lifecycle", action]);
        if send_email {
            url.query_pairs_mut().append_pair("sendEmail", "false");
        }
        self.client.send(Method::POST, url, None).await
    }

    async fn suspend_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let (action, done_states): (&str, &[&str]) = match self.config().leaver_action {
            LeaverAction::Suspend => ("suspend", &["SUSPENDED", "DEPROVISIONED"]),
            LeaverAction::Deactivate => ("deactivate", &["DEPROVISIONED"]),
        };
        let send_email = action == "deactivate";
        match self.lifecycle(&id, action, send_email).await {
            Ok(r) => Ok(changed(id, r)),
            // Wrong status for the transition: done if the user already is there.
            Err(AdapterError::Invalid { error } | AdapterError::Conflict { error }) => {
                let user = self.get_user(&id).await?;
                if done_states.contains(&user.status.as_str()) {
                    Ok(Applied::already_in_place().with_external_id(id))
                } else {
                    Err(AdapterError::Conflict {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!("{} (user status {})", error.message, user.status),
                        ),
                    })
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn reactivate_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self.user_id(account).await?;
        let user = self.get_user(&id).await?;
        // `reactivate` only restarts an unfinished activation (PROVISIONED/RECOVERY):
        // it is not the inverse of `deactivate`, `activate` is.
        let r = match user.status.as_str() {
            "SUSPENDED" => self.lifecycle(&id, "unsuspend", false).await?,
            "DEPROVISIONED" | "STAGED" => self.lifecycle(&id, "activate", true).await?,
            _ => return Ok(Applied::already_in_place().with_external_id(id)),
        };
        Ok(changed(id, r))
    }

    async fn revoke_sessions(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
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
    /// then `DELETE` again (deletes, or 404 when the first already did).
    async fn delete_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.config().delete_accounts {
            return Err(AdapterError::Unsupported {
                what: "delete_account: deleting Okta users is not enabled (delete_accounts / delete_leavers)"
                    .to_owned(),
            });
        }
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

    async fn grant(
        &self,
        account: &AccountRef,
        e: &Entitlement,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let uid = self.user_id(account).await?;
        match e.kind.as_str() {
            "group" => {
                let gid = self.group_id(&e.resource).await?;
                let url = self
                    .client
                    .api_url(&["api", "v1", "groups", &gid, "users", &uid]);
                let method = if add { Method::PUT } else { Method::DELETE };
                match self.client.send(method, url, None).await {
                    // PUT is idempotent (204 for a member already); DELETE too.
                    Ok(r) => Ok(changed(uid, r)),
                    // Removing someone who is not a member.
                    Err(AdapterError::NotFound { .. }) if !add => {
                        Ok(Applied::already_in_place().with_external_id(uid))
                    }
                    Err(err) => Err(err),
                }
            }
            "app" => {
                let app_id = self.app_id(&e.resource).to_owned();
                if add {
                    let url = self
                        .client
                        .api_url(&["api", "v1", "apps", &app_id, "users"]);
                    let mut body = json!({ "id": uid, "scope": "USER" });
                    if let Some(profile) = self
                        .config()
                        .apps
                        .get(&e.resource)
                        .and_then(|a| a.profile.clone())
                    {
                        body["profile"] = Value::Object(profile);
                    }
                    let r = self.client.send(Method::POST, url, Some(&body)).await?;
                    Ok(changed(uid, r))
                } else {
                    let mut url = self
                        .client
                        .api_url(&["api", "v1", "apps", &app_id, "users", &uid]);
                    url.query_pairs_mut().append_pair("sendEmail", "false");
                    match self.client.send(Method::DELETE, url, None).await {
                        Ok(r) => Ok(changed(uid, r)),
                        Err(AdapterError::NotFound { .. }) => {
                            Ok(Applied::already_in_place().with_external_id(uid))
                        }
                        Err(err) => Err(err),
                    }
                }
            }
            other => Err(AdapterError::Unsupported {
                what: format!("Okta has no resource kind {other:?} (group, app)"),
            }),
        }
    }

    async fn read_group_members(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let url = match cursor {
            Some(c) => parse_cursor(c)?,
            None => {
                let gid = self.group_id(&resource.resource).await?;
                let mut url = self.client.api_url(&["api", "v1", "groups", &gid, "users"]);
                url.query_pairs_mut()
                    .append_pair("limit", &GROUP_MEMBERS_PAGE_SIZE.to_string());
                url
            }
        };
        let (users, next, rate_limit) = self.client.get_page::<User>(url).await?;
        let entitlement =
            Entitlement::new(resource.system.as_str(), "group", resource.resource.clone());
        Ok(Page::new(
            users
                .into_iter()
                .map(|u| GrantRecord {
                    entitlement: entitlement.clone(),
                    login: Some(u.login().to_owned()),
                    account_external_id: u.id,
                })
                .collect(),
            next.map(String::from),
        )
        .with_rate_limit(rate_limit))
    }

    async fn read_app_users(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let url = match cursor {
            Some(c) => parse_cursor(c)?,
            None => {
                let app_id = self.app_id(&resource.resource).to_owned();
                let mut url = self
                    .client
                    .api_url(&["api", "v1", "apps", &app_id, "users"]);
                url.query_pairs_mut()
                    .append_pair("limit", &APP_USERS_PAGE_SIZE.to_string());
                url
            }
        };
        let (users, next, rate_limit) = self.client.get_page::<AppUser>(url).await?;
        let entitlement =
            Entitlement::new(resource.system.as_str(), "app", resource.resource.clone());
        Ok(Page::new(
            users
                .into_iter()
                .map(|u| GrantRecord {
                    entitlement: entitlement.clone(),
                    login: u.user_name().map(str::to_owned),
                    account_external_id: u.id,
                })
                .collect(),
            next.map(String::from),
        )
        .with_rate_limit(rate_limit))
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
            OperationKind::SuspendAccount => self.suspend_account(account).await,
            OperationKind::ReactivateAccount => self.reactivate_account(account).await,
            OperationKind::RevokeSessions => self.revoke_sessions(account).await,
            OperationKind::DeleteAccount => self.delete_account(account).await,
            OperationKind::Grant { entitlement } => self.grant(account, entitlement, true).await,
            OperationKind::Revoke { entitlement } => self.grant(account, entitlement, false).await,
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
        let user = match &account.external_id {
            Some(id) => match self.get_user(id).await {
                Ok(u) => Some(u),
                Err(AdapterError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => self.find_user_by_login(&account.login).await?,
        };
        let done = |id: &str| CheckStatus::Done {
            external_id: Some(id.to_owned()),
        };
        Ok(match (&op.kind, user) {
            (OperationKind::DeleteAccount, None) => CheckStatus::Done { external_id: None },
            (_, None) => CheckStatus::NotDone,
            // A user with this login is "the account" only when it is the same person:
            // otherwise the executor would adopt someone else's account after a conflict.
            (OperationKind::CreateAccount { profile }, Some(u)) => {
                if is_same_person(&u, profile) {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (OperationKind::SuspendAccount, Some(u)) => {
                let target: &[&str] = match self.config().leaver_action {
                    LeaverAction::Suspend => &["SUSPENDED", "DEPROVISIONED"],
                    LeaverAction::Deactivate => &["DEPROVISIONED"],
                };
                if target.contains(&u.status.as_str()) {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (OperationKind::ReactivateAccount, Some(u)) => {
                if u.state().is_enabled() {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement },
                Some(u),
            ) if entitlement.kind == "group" => {
                let gid = self.group_id(&entitlement.resource).await?;
                let url = self
                    .client
                    .api_url(&["api", "v1", "users", &u.id, "groups"]);
                let groups: Vec<Group> = self
                    .client
                    .send(Method::GET, url, None)
                    .await?
                    .json(SYSTEM)?;
                let member = groups.iter().any(|g| g.id == gid);
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                if member == granting {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement },
                Some(u),
            ) if entitlement.kind == "app" => {
                let app_id = self.app_id(&entitlement.resource).to_owned();
                let url = self
                    .client
                    .api_url(&["api", "v1", "apps", &app_id, "users", &u.id]);
                let assigned = match self.client.send(Method::GET, url, None).await {
                    Ok(_) => true,
                    Err(AdapterError::NotFound { .. }) => false,
                    Err(e) => return Err(e),
                };
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                if assigned == granting {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            // Sessions and profile updates cannot be checked cheaply: send again (idempotent).
            _ => CheckStatus::NotDone,
        })
    }
}

fn changed(id: String, r: Response) -> Applied {
    Applied::changed()
        .with_external_id(id)
        .with_rate_limit(r.rate_limit)
}

fn is_duplicate_login(error: &SystemError) -> bool {
    error.code.as_deref() == Some("E0000001") && error.message.contains("login")
}

/// Quotes a value for an Okta search/filter expression.
fn escape_filter(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

fn parse_cursor(cursor: &str) -> Result<Url, AdapterError> {
    Url::parse(cursor).map_err(|e| AdapterError::Invalid {
        error: SystemError::message(format!("not an Okta pagination cursor: {e}")),
    })
}

#[async_trait]
impl Adapter for OktaAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every user: the plain listing (which omits `DEPROVISIONED` users), then a
    /// search for the `DEPROVISIONED` ones, both paged by the `Link` header.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let span = tracing::info_span!("okta.read_accounts", system = "okta");
        async {
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
                        attributes: u
                            .profile
                            .iter()
                            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                            .collect(),
                        external_id: u.id,
                        correlation: Default::default(),
                    })
                    .collect(),
                next,
            )
            .with_rate_limit(rate_limit))
        }
        .instrument(span)
        .await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let span = tracing::info_span!("okta.read_grants", system = "okta", resource = %resource);
        async {
            match resource.kind.as_str() {
                "group" => self.read_group_members(resource, cursor).await,
                "app" => self.read_app_users(resource, cursor).await,
                other => Err(AdapterError::Unsupported {
                    what: format!("Okta has no resource kind {other:?} (group, app)"),
                }),
            }
        }
        .instrument(span)
        .await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let span = tracing::info_span!(
            "okta.execute",
            system = "okta",
            operation = %op.id,
            identity = %op.identity,
            verb = op.kind.verb()
        );
        async {
            let result = self.execute_inner(op, account).await;
            match &result {
                Ok(applied) => tracing::info!(effect = ?applied.effect, "applied"),
                Err(e) => tracing::warn!(class = e.class(), error = %e, "failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        let span = tracing::info_span!("okta.check", system = "okta", operation = %op.id);
        self.check_inner(op, account).instrument(span).await
    }
}

/// The existing Okta user is the person of this profile: same email (case-insensitive).
fn is_same_person(user: &User, profile: &AccountProfile) -> bool {
    user.profile_str("email")
        .is_some_and(|e| e.eq_ignore_ascii_case(&profile.email))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
