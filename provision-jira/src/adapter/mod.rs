//! The [`Adapter`] implementation: accounts by `accountId`, product access, groups by
//! `groupId`, project roles, and the account lifecycle through the org API.
//!
//! The code is split by what it acts on: `accounts` (who a person is, creation, the
//! org API's lifecycle), `groups`, `products` (access given through groups) and
//! `project_roles`. This module holds the adapter and the trait impl, which sends
//! each entitlement to its kind.

mod accounts;
mod groups;
mod products;
mod project_roles;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRecord,
    ResourceRef,
};
use provision_http::names::NameCache;
use tokio::sync::OnceCell;

use crate::client::JiraClient;
use crate::config::ConfigError;
use crate::config::JiraConfig;
use crate::descriptor::{
    DescriptorInputs, KIND_GROUP, KIND_PRODUCT, KIND_PROJECT_ROLE, jira_descriptor,
};
use crate::model::ApplicationRole;
use accounts::Resolved;
use project_roles::role_of;

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
    /// Each managed project role's actors, read once per run for every account's
    /// grants (see [`project_roles::RunActors`]).
    run_actors: project_roles::RunActors,
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
            run_actors: project_roles::RunActors::default(),
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
        self.account_page(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            KIND_GROUP => self.group_grants(&resource.resource, cursor).await,
            KIND_PRODUCT => self.product_grants(&resource.resource, cursor).await,
            KIND_PROJECT_ROLE => self.project_role_grants(&resource.resource, cursor).await,
            other => Err(unknown_kind(other)),
        }
    }

    /// Page 0: the account's groups (those giving a product read as the product);
    /// page `n` ≥ 1: its roles in the `n`-th managed project, from each role's actors
    /// read once per run for every account.
    async fn read_account_grants(
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
            let actors = self.run_role_actors(project, rid).await?;
            if actors.user_ids().any(|a| a == id) {
                items.push(record(
                    self.entitlement(KIND_PROJECT_ROLE, project).with_role(name),
                ));
            }
        }
        Ok(Page::new(items, next))
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            KIND_PRODUCT => self.product_resources().await,
            KIND_GROUP => self.group_resources(cursor).await,
            KIND_PROJECT_ROLE if !self.config.projects.is_empty() => {
                self.project_role_resources().await
            }
            other => Err(AdapterError::Unsupported {
                what: format!("listing Jira {other} resources"),
            }),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
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

    async fn check(
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

/// A person nothing confirms: a finding with the reason (`Conflict`: the executor
/// confirms with `check`, which cannot either, and reports it; it is never retried).
fn unconfirmed(reason: String) -> AdapterError {
    AdapterError::Conflict {
        error: SystemError::new(None, Some("unconfirmed_person".to_owned()), reason),
    }
}

fn unknown_kind(kind: &str) -> AdapterError {
    AdapterError::Unsupported {
        what: format!("Jira has no resource kind {kind:?} (product, group, project_role)"),
    }
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
    fn cursors_round_trip() {
        assert_eq!(parse_pair(Some("2:50")).ok(), Some((2, 50)));
        assert!(parse_offset(Some("x")).is_err());
    }
}
