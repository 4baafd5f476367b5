//! Apps: the user's own (`scope: USER`) assignments, given with the configured app
//! profile and taken back only where the user holds them directly, and the reads of
//! an app's users, the apps, and a user's apps.

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountRef, Entitlement, GrantRecord, ResourceRecord, ResourceRef};
use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_USERS_PAGE_SIZE, APPS_PAGE_SIZE, OktaAdapter, changed, parse_cursor};
use crate::client::SYSTEM;
use crate::model::{AppLink, AppUser};

impl OktaAdapter {
    fn app_id<'a>(&'a self, resource: &'a str) -> &'a str {
        self.config()
            .apps
            .get(resource)
            .map(|a| a.id.as_str())
            .unwrap_or(resource)
    }

    /// The policy name of an app id: the configured name, or the id itself.
    fn app_name(&self, app_id: &str) -> String {
        self.config()
            .apps
            .iter()
            .find(|(_, app)| app.id == app_id)
            .map_or_else(|| app_id.to_owned(), |(name, _)| name.clone())
    }

    /// Assigns the app `resource` to the user `uid` (`scope: USER`, with the configured
    /// app profile), or removes the user's own assignment.
    pub(super) async fn change_assignment(
        &self,
        uid: String,
        resource: &str,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let app_id = self.app_id(resource).to_owned();
        if add {
            let url = self
                .client
                .api_url(&["api", "v1", "apps", &app_id, "users"]);
            let mut body = json!({ "id": uid, "scope": "USER" });
            if let Some(profile) = self
                .config()
                .apps
                .get(resource)
                .and_then(|a| a.profile.clone())
            {
                body["profile"] = Value::Object(profile);
            }
            let r = self.client.send(Method::POST, url, Some(&body)).await?;
            // Okta answers with the app user, an existing one included: a push that
            // failed is not access given.
            let assigned: AppUser = r.json(SYSTEM)?;
            if assigned.push_failed() {
                return Err(push_failed(&assigned, resource, &uid));
            }
            Ok(changed(uid, r))
        } else {
            self.unassign_app(&app_id, resource, uid).await
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

    /// Whether the app `resource` is assigned to the user `uid` now (directly or
    /// through a group) and Okta's push to the target app did not fail.
    pub(super) async fn is_assigned(
        &self,
        uid: &str,
        resource: &str,
    ) -> Result<bool, AdapterError> {
        let app_id = self.app_id(resource).to_owned();
        let url = self
            .client
            .api_url(&["api", "v1", "apps", &app_id, "users", uid]);
        let assigned = match self.client.send(Method::GET, url, None).await {
            Ok(r) => !r.json::<AppUser>(SYSTEM)?.push_failed(),
            Err(AdapterError::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        Ok(assigned)
    }

    /// A user's apps: `GET /api/v1/users/{id}/appLinks` (every app assigned directly
    /// or through a group; not paged), then each app's assignment read for its scope.
    /// Only the user's own (`USER`) assignments are grants; the ones held through a
    /// group come and go with that group's membership, read above.
    pub(super) async fn read_user_apps(
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
            if assignment.push_failed() {
                tracing::warn!(user = uid, app = %app_id, provisioning = %assignment.provisioning(), "okta: the app's provisioning failed; not read as held");
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

    pub(super) async fn read_app_users(
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
                // A push that failed is not access held (drift reports it missing).
                .filter(|u| !u.push_failed())
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

    /// One page of every app (`Link` paged), by its configured name where it has one.
    pub(super) async fn app_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let url = match cursor {
            Some(c) => parse_cursor(c)?,
            None => {
                let mut url = self.client.api_url(&["api", "v1", "apps"]);
                url.query_pairs_mut()
                    .append_pair("limit", &APPS_PAGE_SIZE.to_string());
                url
            }
        };
        let (apps, next, rate_limit) = self.client.get_page::<crate::model::App>(url).await?;
        Ok(Page::new(
            apps.into_iter()
                .map(|a| ResourceRecord::new("app", self.app_name(&a.id)).with_external_id(a.id))
                .collect(),
            next.map(String::from),
        )
        .with_rate_limit(rate_limit))
    }
}

/// An assignment whose push to the target app failed (`syncState` `ERROR` or
/// `OUT_OF_SYNC`): a permanent failure with Okta's status, never retried by the
/// executor; Okta's provisioning task waits in the Admin Console.
fn push_failed(assigned: &AppUser, app: &str, uid: &str) -> AdapterError {
    let state = assigned.sync_state.as_deref().unwrap_or_default();
    AdapterError::Permanent {
        error: SystemError::new(
            Some(200),
            Some(format!("syncState:{state}")),
            format!(
                "Okta assigned app {app:?} to user {uid} but its provisioning to the app did \
                 not complete ({}): resolve the provisioning task in the Okta Admin Console \
                 (Dashboard → Tasks), then the next run checks again",
                assigned.provisioning()
            ),
        ),
    }
}
