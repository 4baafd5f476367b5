//! Groups, by `groupId` (names resolved once per
//! [`GROUP_ID_TTL`](super::GROUP_ID_TTL)): membership changes confirmed by a read
//! when Jira refuses them, a group's members, and the site's groups.

use provision_core::adapter::{AdapterError, Applied, Page, RateLimitInfo, SystemError};
use provision_core::model::{Entitlement, GrantRecord, ResourceRecord};
use reqwest::Method;
use serde_json::json;

use super::{GROUPS_PAGE_SIZE, JiraAdapter, MEMBERS_PAGE_SIZE, parse_offset};
use crate::descriptor::KIND_GROUP;
use crate::model::{Group, PageBean, User};

impl JiraAdapter {
    /// A group's id by name (resolved once per [`GROUP_ID_TTL`](super::GROUP_ID_TTL));
    /// a missing group is a configuration error.
    pub(super) async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
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
    pub(super) async fn user_groups(&self, id: &str) -> Result<Option<Vec<Group>>, AdapterError> {
        let url = self
            .client
            .site_url(&["user", "groups"], &[("accountId", id)]);
        match self.client.site_get::<Vec<Group>>(url).await {
            Ok((groups, _)) => Ok(Some(groups)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn is_member(
        &self,
        id: &str,
        group_id: &str,
    ) -> Result<Option<bool>, AdapterError> {
        Ok(self
            .user_groups(id)
            .await?
            .map(|gs| gs.iter().any(|g| g.group_id.as_deref() == Some(group_id))))
    }

    /// `POST /group/user?groupId=` (201). "Already a member", whatever status Jira
    /// uses, is done once a read confirms it.
    pub(super) async fn add_member(
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
    pub(super) async fn remove_member(
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

    /// One page of a group's members, 50 at a time, to `isLast`.
    pub(super) async fn group_members_page(
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

    pub(super) fn grant_record(&self, entitlement: Entitlement, user: &User) -> GrantRecord {
        GrantRecord {
            entitlement,
            account_external_id: user.account_id.clone(),
            login: user.email().map(str::to_owned),
        }
    }

    /// One page of a group's members (50 a page), as grants of the group `name`.
    pub(super) async fn group_grants(
        &self,
        name: &str,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let gid = self.group_id(name).await?;
        let (users, next, rl) = self.group_members_page(&gid, parse_offset(cursor)?).await?;
        let e = self.entitlement(KIND_GROUP, name);
        let items = users
            .iter()
            .map(|u| self.grant_record(e.clone(), u))
            .collect();
        Ok(Page::new(items, next.map(|n| n.to_string())).with_rate_limit(rl))
    }

    /// One page of the site's groups (`/group/bulk`, 50 a page).
    pub(super) async fn group_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
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
}

fn missing_group(name: &str) -> AdapterError {
    AdapterError::Configuration {
        error: SystemError::message(format!("Jira has no group named {name:?}")),
    }
}
