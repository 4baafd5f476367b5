//! The [`Adapter`] implementation: entitlements and lifecycle onto Okta's API.

use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind,
    ResourceRecord, ResourceRef,
};
use provision_http::names::{NameCache, PersonName};
use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use crate::client::{OktaClient, Response, SYSTEM};
use crate::config::{ActivationDelivery, LeaverAction, OktaConfig};
use crate::descriptor::okta_descriptor;
use crate::error::ConfigError;
use crate::model::{AppLink, AppUser, Group, User};

/// Users per page: the largest `limit` `GET /api/v1/users` allows.
pub const USERS_PAGE_SIZE: u32 = 200;
/// Group members per page: the largest `limit` `GET /api/v1/groups/{id}/users` allows.
pub const GROUP_MEMBERS_PAGE_SIZE: u32 = 1000;
/// App assignments per page: the spec's maximum for `GET /api/v1/apps/{id}/users`.
pub const APP_USERS_PAGE_SIZE: u32 = 500;
/// Groups per page of the group listing (Okta recommends at most 200).
pub const GROUPS_PAGE_SIZE: u32 = 200;
/// Apps per page: the largest `limit` `GET /api/v1/apps` allows.
pub const APPS_PAGE_SIZE: u32 = 200;

/// When to look again at an activation waiting for the person (rehire with
/// [`ActivationDelivery::Pending`]).
pub const ACTIVATION_RECHECK: Duration = Duration::from_secs(60 * 60);

/// The account-grants cursor: phase 1 the user's groups, phase 2 their app links.
const GRANTS_GROUPS: &str = "groups|";
const GRANTS_APPS: &str = "apps|";

/// The statuses `lifecycle/suspend` accepts: only `ACTIVE`.
const SUSPENDABLE: &[&str] = &["ACTIVE"];

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
    /// The system's name in the deployment (entitlements read carry it).
    pub(crate) system: String,
    /// Group name → id, resolved once per [`GROUP_ID_TTL`].
    group_ids: NameCache,
}

impl OktaAdapter {
    /// An adapter for the configured org.
    pub fn new(config: OktaConfig) -> Result<Self, ConfigError> {
        let descriptor = okta_descriptor(
            config.leaver_action,
            config.manage_apps,
            config.profile_mapping.values().map(String::as_str),
        );
        Ok(Self {
            client: OktaClient::new(config)?,
            descriptor,
            system: "okta".to_owned(),
            group_ids: NameCache::new(GROUP_ID_TTL),
        })
    }

    /// Builder-style: the system's name in the deployment (`okta-contractors`), carried
    /// by the entitlements [`Adapter::read_account_grants`] reads (default `okta`).
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = name.into();
        self
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
    async fn suspend_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
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

    async fn reactivate_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
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
    /// then `DELETE` again (deletes, or 404 when the first already did). The planner
    /// plans a deletion only where the deployment says `delete_leavers`.
    async fn delete_account(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
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
        let uid = match self.user_id(account).await {
            Ok(uid) => uid,
            // No user with this login holds anything: the revoke is already done. (A
            // wrong org URL is a `Configuration` error, never this `NotFound`.)
            Err(AdapterError::NotFound { .. }) if !add => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
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
            "app" if self.config().manage_apps => {
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
                    self.unassign_app(&app_id, &e.resource, uid).await
                }
            }
            other => Err(AdapterError::Unsupported {
                what: format!("Okta has no resource kind {other:?} (group, app)"),
            }),
        }
    }

    /// Removes a user's own (`scope: USER`) assignment to an app. The assignment is
    /// read first: absent is already done, and one the user holds through a group
    /// (`scope: GROUP`) cannot be removed per user at all (Okta keeps it while the
    /// group is assigned), so that is an error saying what to do, never a pretended
    /// success.
    async fn unassign_app(
        &self,
        app_id: &str,
        app_name: &str,
        uid: String,
    ) -> Result<Applied, AdapterError> {
        let url = self
            .client
            .api_url(&["api", "v1", "apps", app_id, "users", &uid]);
        let assignment: AppUser = match self.client.send(Method::GET, url.clone(), None).await {
            Ok(r) => r.json(SYSTEM)?,
            Err(AdapterError::NotFound { .. }) => {
                return Ok(Applied::already_in_place().with_external_id(uid));
            }
            Err(e) => return Err(e),
        };
        if assignment.scope.as_deref() == Some("GROUP") {
            return Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "Okta user {uid} holds app {app_name:?} through a group assignment \
                     (scope GROUP): it cannot be revoked per user; remove the user from the \
                     group that is assigned the app, or assign the app to the user directly"
                )),
            });
        }
        let mut url = url;
        url.query_pairs_mut().append_pair("sendEmail", "false");
        match self.client.send(Method::DELETE, url, None).await {
            Ok(r) => Ok(changed(uid, r)),
            Err(AdapterError::NotFound { .. }) => {
                Ok(Applied::already_in_place().with_external_id(uid))
            }
            Err(err) => Err(err),
        }
    }

    /// The policy name of an app id: the configured name, or the id itself.
    fn app_name(&self, app_id: &str) -> String {
        self.config()
            .apps
            .iter()
            .find(|(_, app)| app.id == app_id)
            .map_or_else(|| app_id.to_owned(), |(name, _)| name.clone())
    }

    /// The account's id for a read: `None` when Okta has no such user.
    async fn user_id_for_read(&self, account: &AccountRef) -> Result<Option<String>, AdapterError> {
        match self.user_id(account).await {
            Ok(id) => Ok(Some(id)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of a user's groups (`GET /api/v1/users/{id}/groups`, `Link` paged).
    /// Only `OKTA_GROUP` memberships are grants: `APP_GROUP` memberships belong to the
    /// directory that imported them and `BUILT_IN` (Everyone) to every user.
    async fn read_user_groups(
        &self,
        uid: &str,
        url: Option<Url>,
        account: &AccountRef,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let url =
            url.unwrap_or_else(|| self.client.api_url(&["api", "v1", "users", uid, "groups"]));
        let (groups, next, rate_limit) = match self.client.get_page::<Group>(url).await {
            Ok(page) => page,
            Err(AdapterError::NotFound { .. }) => return Ok(Page::last(Vec::new())),
            Err(e) => return Err(e),
        };
        let items = groups
            .iter()
            .filter(|g| g.group_type.as_deref().is_none_or(|t| t == "OKTA_GROUP"))
            .map(|g| GrantRecord {
                entitlement: Entitlement::new(self.system.as_str(), "group", g.name()),
                account_external_id: uid.to_owned(),
                login: Some(account.login.clone()),
            })
            .collect();
        let next = match next {
            Some(url) => Some(format!("{GRANTS_GROUPS}{url}")),
            None if self.config().manage_apps => Some(GRANTS_APPS.to_owned()),
            None => None,
        };
        Ok(Page::new(items, next).with_rate_limit(rate_limit))
    }

    /// A user's apps: `GET /api/v1/users/{id}/appLinks` (every app assigned directly
    /// or through a group; not paged), then each app's assignment read for its scope.
    /// Only the user's own (`USER`) assignments are grants; the ones held through a
    /// group come and go with that group's membership, read above.
    async fn read_user_apps(
        &self,
        uid: &str,
        account: &AccountRef,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let url = self
            .client
            .api_url(&["api", "v1", "users", uid, "appLinks"]);
        let reply = match self.client.send(Method::GET, url, None).await {
            Ok(r) => r,
            Err(AdapterError::NotFound { .. }) => return Ok(Page::last(Vec::new())),
            Err(e) => return Err(e),
        };
        let links: Vec<AppLink> = reply.json(SYSTEM)?;
        let mut rate_limit = reply.rate_limit;
        let mut app_ids: Vec<String> = links.into_iter().map(|l| l.app_instance_id).collect();
        app_ids.sort();
        app_ids.dedup();
        let mut items = Vec::new();
        for app_id in app_ids {
            let url = self
                .client
                .api_url(&["api", "v1", "apps", &app_id, "users", uid]);
            let reply = match self.client.send(Method::GET, url, None).await {
                Ok(r) => r,
                // Unassigned between the two reads.
                Err(AdapterError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let assignment: AppUser = reply.json(SYSTEM)?;
            rate_limit = reply.rate_limit.or(rate_limit);
            if assignment.scope.as_deref() == Some("GROUP") {
                continue;
            }
            items.push(GrantRecord {
                entitlement: Entitlement::new(self.system.as_str(), "app", self.app_name(&app_id)),
                account_external_id: uid.to_owned(),
                login: Some(account.login.clone()),
            });
        }
        Ok(Page::last(items).with_rate_limit(rate_limit))
    }

    async fn read_account_grants_inner(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(uid) = self.user_id_for_read(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        match cursor {
            None => self.read_user_groups(&uid, None, account).await,
            Some(c) if c == GRANTS_APPS => self.read_user_apps(&uid, account).await,
            Some(c) => match c.strip_prefix(GRANTS_GROUPS) {
                Some(url) => {
                    self.read_user_groups(&uid, Some(parse_cursor(url)?), account)
                        .await
                }
                None => Err(AdapterError::Invalid {
                    error: SystemError::message("not an Okta account-grants cursor"),
                }),
            },
        }
    }

    async fn list_resources_inner(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            "group" => {
                let url = match cursor {
                    Some(c) => parse_cursor(c)?,
                    None => {
                        let mut url = self.client.api_url(&["api", "v1", "groups"]);
                        url.query_pairs_mut()
                            .append_pair("search", "type eq \"OKTA_GROUP\"")
                            .append_pair("limit", &GROUPS_PAGE_SIZE.to_string());
                        url
                    }
                };
                let (groups, next, rate_limit) = self.client.get_page::<Group>(url).await?;
                Ok(Page::new(
                    groups
                        .into_iter()
                        .map(|g| ResourceRecord::new("group", g.name()).with_external_id(g.id))
                        .collect(),
                    next.map(String::from),
                )
                .with_rate_limit(rate_limit))
            }
            "app" if self.config().manage_apps => {
                let url = match cursor {
                    Some(c) => parse_cursor(c)?,
                    None => {
                        let mut url = self.client.api_url(&["api", "v1", "apps"]);
                        url.query_pairs_mut()
                            .append_pair("limit", &APPS_PAGE_SIZE.to_string());
                        url
                    }
                };
                let (apps, next, rate_limit) =
                    self.client.get_page::<crate::model::App>(url).await?;
                Ok(Page::new(
                    apps.into_iter()
                        .map(|a| {
                            ResourceRecord::new("app", self.app_name(&a.id)).with_external_id(a.id)
                        })
                        .collect(),
                    next.map(String::from),
                )
                .with_rate_limit(rate_limit))
            }
            other => Err(AdapterError::Unsupported {
                what: format!("list_resources: Okta lists groups and apps, not {other:?}"),
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
                if u.status == "PROVISIONED"
                    && self.config().activation == ActivationDelivery::Pending
                {
                    CheckStatus::Pending {
                        recheck_after: ACTIVATION_RECHECK,
                    }
                } else if u.state().is_enabled() {
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
    fn evidence_source(&self) -> Option<&dyn provision_core::adapter::EvidenceSource> {
        Some(self)
    }

    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every user: the plain listing (which omits `DEPROVISIONED` users), then a
    /// search for the `DEPROVISIONED` ones, both paged by the `Link` header.
    async fn read_accounts(
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

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            "group" => self.read_group_members(resource, cursor).await,
            "app" => self.read_app_users(resource, cursor).await,
            other => Err(AdapterError::Unsupported {
                what: format!("Okta has no resource kind {other:?} (group, app)"),
            }),
        }
    }

    /// A user's `OKTA_GROUP` memberships (`Link` paged), then their own app
    /// assignments; an unknown user has none.
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.read_account_grants_inner(account, cursor).await
    }

    /// Every `OKTA_GROUP`, or every app, `Link` paged.
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
