//! Product access (`jira-software`, `jira-servicedesk`…): given through the
//! product's default group, taken away by leaving every group that gives it.

use std::collections::BTreeSet;

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{GrantRecord, ResourceRecord};

use super::{JiraAdapter, parse_pair};
use crate::descriptor::KIND_PRODUCT;
use crate::model::ApplicationRole;

impl JiraAdapter {
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
    pub(super) async fn grant_product(&self, id: &str, key: &str) -> Result<Applied, AdapterError> {
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
    pub(super) async fn revoke_product(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Applied, AdapterError> {
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
    pub(super) async fn product_of_group(
        &self,
        group_id: &str,
    ) -> Result<Option<String>, AdapterError> {
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

    /// One page of the members of the groups that give product `key`, as grants of
    /// the product; the cursor is `group index:offset`.
    pub(super) async fn product_grants(
        &self,
        key: &str,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        // Members of every group that gives the product: cursor `group:offset`.
        let role = self.product(key).await?;
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
        let e = self.entitlement(KIND_PRODUCT, key);
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

    /// The site's products (`GET /applicationrole`), one page.
    pub(super) async fn product_resources(&self) -> Result<Page<ResourceRecord>, AdapterError> {
        Ok(Page::last(
            self.products()
                .await?
                .iter()
                .map(|r| ResourceRecord::new(KIND_PRODUCT, &r.key))
                .collect(),
        ))
    }
}
