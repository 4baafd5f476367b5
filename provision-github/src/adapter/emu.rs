//! Accounts of an Enterprise Managed Users enterprise, over its SCIM API
//! (`/scim/v2/enterprises/{enterprise}/Users`): created, suspended with
//! `active:false`, reactivated with `active:true` (a rehire gets the same account
//! back, metadata kept), and deleted (irreversibly) only where `delete_leavers`.

use provision_core::adapter::{AdapterError, Applied, CheckStatus, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef, AccountState};
use provision_http::paginate::ScimPage;
use reqwest::Method;
use serde_json::json;

use super::{GithubAdapter, emu_handle, missing_is_configuration};
use crate::client::{PER_PAGE, SYSTEM};
use crate::model::{ScimList, ScimUser};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

impl GithubAdapter {
    fn shortcode(&self) -> &str {
        self.config()
            .emu
            .as_ref()
            .map_or("", |e| e.shortcode.as_str())
    }

    fn scim_record(&self, user: &ScimUser) -> AccountRecord {
        let user_name = user.user_name.clone().unwrap_or_default();
        let handle = emu_handle(&user_name, self.shortcode());
        let state = if user.active {
            AccountState::Active
        } else {
            AccountState::Suspended
        };
        let mut record = AccountRecord::new(&handle, &user_name, state)
            .with_correlation("username", &handle)
            .with_correlation("scim_user_name", &user_name);
        if let Some(id) = &user.external_id {
            record = record.with_correlation("external_id", id);
        }
        if let Some(email) = user.email() {
            record = record.with_correlation("email", email);
        }
        record
    }

    /// The SCIM user an account is: by `userName` (the identity's login, which the
    /// IdP sends as the user name), else by `externalId` (GitHub obfuscates a suspended
    /// user's handle and email; the adapter's own creates set `externalId` to the
    /// login, so a rehire is still found). One read each.
    async fn find_scim_user(&self, login: &str) -> Result<Option<ScimUser>, AdapterError> {
        let login = login.replace('"', "");
        for attribute in ["userName", "externalId"] {
            let mut url = self.client.scim_url(&["Users"])?;
            url.query_pairs_mut()
                .append_pair("filter", &format!("{attribute} eq \"{login}\""));
            let reply = self.client.send_scim(Method::GET, url, None).await?;
            let list: ScimList = reply.json(SYSTEM)?;
            let found = list.resources.into_iter().find(|u| {
                let value = match attribute {
                    "userName" => u.user_name.as_deref(),
                    _ => u.external_id.as_deref(),
                };
                value.is_some_and(|v| v.eq_ignore_ascii_case(&login))
            });
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// One page of the enterprise's SCIM users (`startIndex`/`count`, 100 a page).
    pub(super) async fn read_scim_users(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let page = match cursor {
            Some(c) => ScimPage::from_cursor(SYSTEM, c, u64::from(PER_PAGE))?,
            None => ScimPage::first(u64::from(PER_PAGE)),
        };
        let mut url = self.client.scim_url(&["Users"])?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in page.query() {
                q.append_pair(k, &v);
            }
        }
        let reply = self
            .client
            .send_scim(Method::GET, url, None)
            .await
            .map_err(|e| {
                missing_is_configuration(
                    e,
                    "the enterprise's SCIM API was not found (check settings.enterprise and \
                     that it is an EMU enterprise)",
                )
            })?;
        let list: ScimList = reply.json(SYSTEM)?;
        let next = page
            .next(list.total_results, list.resources.len())
            .map(|p| p.to_cursor());
        let items = list.resources.iter().map(|u| self.scim_record(u)).collect();
        Ok(Page::new(items, next).with_rate_limit(reply.rate_limit))
    }

    /// `POST …/Users`; a 409 (the IdP or an earlier run made it) adopts the existing
    /// user when its user name is this person's.
    pub(super) async fn create_scim_user(
        &self,
        profile: &AccountProfile,
    ) -> Result<Applied, AdapterError> {
        let name = provision_http::names::PersonName::from_profile(profile);
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": profile.login,
            "externalId": profile.login,
            "displayName": profile.display_name,
            "name": { "givenName": name.given, "familyName": name.family },
            "emails": [{ "value": profile.email, "primary": true, "type": "work" }],
            "active": true,
        });
        let url = self.client.scim_url(&["Users"])?;
        match self.client.send_scim(Method::POST, url, Some(&body)).await {
            Ok(reply) => {
                let user: ScimUser = reply.json(SYSTEM)?;
                let handle = emu_handle(
                    user.user_name.as_deref().unwrap_or(&profile.login),
                    self.shortcode(),
                );
                Ok(Applied::changed()
                    .with_external_id(handle)
                    .with_rate_limit(reply.rate_limit))
            }
            Err(AdapterError::Conflict { error } | AdapterError::AlreadyDone { error }) => {
                match self.find_scim_user(&profile.login).await? {
                    Some(user) => Ok(Applied::already_in_place()
                        .with_external_id(self.scim_record(&user).external_id)),
                    None => Err(AdapterError::Conflict { error }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the SCIM user exists.
    pub(super) async fn check_scim_user(
        &self,
        profile: &AccountProfile,
    ) -> Result<CheckStatus, AdapterError> {
        Ok(match self.find_scim_user(&profile.login).await? {
            Some(user) => CheckStatus::Done {
                external_id: Some(self.scim_record(&user).external_id),
            },
            None => CheckStatus::NotDone,
        })
    }

    /// `PATCH …/Users/{id}` with `active`: suspension keeps the account and its
    /// metadata, so a rehire gets it back. An account that does not exist is done for
    /// a suspension and not found for a reactivation.
    pub(super) async fn set_scim_active(
        &self,
        account: &AccountRef,
        active: bool,
    ) -> Result<Applied, AdapterError> {
        let Some(user) = self.find_scim_user(&account.login).await? else {
            return if active {
                Err(AdapterError::NotFound {
                    error: SystemError::message(format!("no SCIM user {}", account.login)),
                })
            } else {
                Ok(Applied::already_in_place())
            };
        };
        if user.active == active {
            return Ok(Applied::already_in_place());
        }
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{ "op": "replace", "path": "active", "value": active }],
        });
        let url = self.client.scim_url(&["Users", &user.id])?;
        let reply = self
            .client
            .send_scim(Method::PATCH, url, Some(&body))
            .await?;
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    /// `DELETE …/Users/{id}`: irreversible (GitHub anonymises the user), so only
    /// in an EMU enterprise and only where the deployment sets `delete_leavers`.
    pub(super) async fn delete_scim_user(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        if self.config().emu.is_none() {
            return Err(AdapterError::Unsupported {
                what: "delete on github.com: users own their accounts; a leaver is removed \
                       from the organization instead"
                    .into(),
            });
        }
        if !self.config().delete_leavers {
            return Err(AdapterError::Unsupported {
                what: "delete: deleting a managed user is irreversible and this system's \
                       delete_leavers is not set"
                    .into(),
            });
        }
        let Some(user) = self.find_scim_user(&account.login).await? else {
            return Ok(Applied::already_in_place());
        };
        let url = self.client.scim_url(&["Users", &user.id])?;
        match self.client.send_scim(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }
}
