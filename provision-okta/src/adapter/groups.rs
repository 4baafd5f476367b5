//! Groups: a name's id (once per [`GROUP_ID_TTL`](super::GROUP_ID_TTL); only
//! `OKTA_GROUP`s can be changed), membership changes, and the reads of members,
//! groups and a user's groups.

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountRef, Entitlement, GrantRecord, ResourceRecord, ResourceRef};
use reqwest::Method;
use url::Url;

use super::{
    GRANTS_APPS, GRANTS_GROUPS, GROUP_MEMBERS_PAGE_SIZE, GROUPS_PAGE_SIZE, OktaAdapter, changed,
    escape_filter, parse_cursor,
};
use crate::client::SYSTEM;
use crate::model::{Group, User};

impl OktaAdapter {
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

    /// Adds the user `uid` to the group `name` (`PUT`, idempotent) or removes them
    /// (`DELETE`; not a member is already done).
    pub(super) async fn change_membership(
        &self,
        uid: String,
        name: &str,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let gid = self.group_id(name).await?;
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

    /// Whether the user `uid` is a member of the group `name` now.
    pub(super) async fn is_member(&self, uid: &str, name: &str) -> Result<bool, AdapterError> {
        let gid = self.group_id(name).await?;
        let url = self.client.api_url(&["api", "v1", "users", uid, "groups"]);
        let groups: Vec<Group> = self
            .client
            .send(Method::GET, url, None)
            .await?
            .json(SYSTEM)?;
        let member = groups.iter().any(|g| g.id == gid);
        Ok(member)
    }

    /// One page of a user's groups (`GET /api/v1/users/{id}/groups`, `Link` paged).
    /// Only `OKTA_GROUP` memberships are grants: `APP_GROUP` memberships belong to the
    /// directory that imported them and `BUILT_IN` (Everyone) to every user.
    pub(super) async fn read_user_groups(
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

    pub(super) async fn read_group_members(
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

    /// One page of every `OKTA_GROUP` (`Link` paged).
    pub(super) async fn group_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
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
}
