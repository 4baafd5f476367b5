//! The [`Adapter`] implementation: accounts onto SCIM Users, `group` entitlements
//! onto SCIM Groups.
//!
//! Split by what it acts on: `users` (finding, reading, creating, activating,
//! updating and deleting users) and `groups` (finding groups, reading members,
//! PATCH and PUT membership writes). This module holds the adapter, its caches, and
//! the trait impl that dispatches to them.

mod groups;
mod users;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, Page, ResourceKindDescriptor, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, GrantRecord, Operation, OperationKind, ResourceRecord, ResourceRef,
};
use provision_http::names::NameCache;
use provision_http::paginate::ScimPage;

use crate::client::{RequestCounts, ScimClient};
use crate::config::{ConfigError, GroupWrites, ScimConfig};
use crate::descriptor::{KIND_GROUP, accepted_profile, group_writes, scim_descriptor};
use crate::discovery::{Capabilities, discover};
use crate::model::ProfileAttribute;

/// How long a name → id lookup is kept.
pub const NAME_TTL: Duration = Duration::from_secs(600);
/// How many times a PUT of a group's member list starts over after a 412 (the group
/// changed between the read and the write) before it is reported as a conflict.
pub const PUT_ATTEMPTS: usize = 3;
/// Ids per `id eq … or id eq …` filter when resolving managers.
const IDS_PER_FILTER: usize = 50;

/// The generic SCIM 2.0 adapter: one per application.
#[derive(Debug)]
pub struct ScimAdapter {
    client: ScimClient,
    config: ScimConfig,
    caps: Capabilities,
    descriptor: SystemDescriptor,
    /// HR attribute → SCIM attribute, only those the application accepts.
    profile: Vec<(String, ProfileAttribute)>,
    /// Group name → id.
    groups: NameCache,
    /// Lower-case user name → id.
    users: NameCache,
    /// User id → (user name, HR id), from every user read: logins on member lists,
    /// managers' HR ids.
    known: Mutex<HashMap<String, (String, Option<String>)>>,
    /// The application answered 501/405 to a group PATCH discovery announced.
    patch_refused: AtomicBool,
    /// The application refused a filter discovery announced.
    filter_refused: AtomicBool,
}

impl ScimAdapter {
    /// An adapter that trusts the settings ([`crate::config::Fallback`]) and reads no
    /// discovery endpoint (no request is sent).
    pub fn new(config: ScimConfig) -> Result<Self, ConfigError> {
        let caps = Capabilities::from_settings(
            &config.fallback,
            "discovery not run: capabilities from the settings",
        );
        Self::with_capabilities(config, caps)
    }

    /// An adapter whose capabilities come from the application's discovery endpoints
    /// when the configuration asks for discovery (the default), falling back to the
    /// settings, with a note, for anything they do not say.
    pub async fn connect(config: ScimConfig) -> Result<Self, ConfigError> {
        if !config.discovery {
            let caps = Capabilities::from_settings(
                &config.fallback,
                "discovery off (settings.discovery: false): capabilities from the settings",
            );
            return Self::with_capabilities(config, caps);
        }
        let client = ScimClient::new(&config)?;
        let caps = discover(&client, &config.fallback).await;
        Self::with_parts(config, client, caps)
    }

    /// An adapter with the given capabilities.
    pub fn with_capabilities(config: ScimConfig, caps: Capabilities) -> Result<Self, ConfigError> {
        let client = ScimClient::new(&config)?;
        Self::with_parts(config, client, caps)
    }

    fn with_parts(
        config: ScimConfig,
        client: ScimClient,
        caps: Capabilities,
    ) -> Result<Self, ConfigError> {
        let descriptor = scim_descriptor(&config, &caps);
        let profile = accepted_profile(&config, &caps);
        let groups = NameCache::new(NAME_TTL);
        for (name, id) in &config.groups {
            groups.insert(name.clone(), id.clone());
        }
        Ok(Self {
            client,
            profile,
            descriptor,
            caps,
            config,
            groups,
            users: NameCache::new(NAME_TTL),
            known: Mutex::new(HashMap::new()),
            patch_refused: AtomicBool::new(false),
            filter_refused: AtomicBool::new(false),
        })
    }

    /// What the application can do, and where each answer came from
    /// ([`Capabilities::notes`] lists what came from the settings).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The configuration.
    pub fn config(&self) -> &ScimConfig {
        &self.config
    }

    /// The requests sent so far.
    pub fn request_counts(&self) -> RequestCounts {
        self.client.request_counts()
    }

    /// How group membership is written now: PATCH, or PUT when the settings or
    /// discovery say so, or the application refused a PATCH it announced.
    pub fn group_writes(&self) -> GroupWrites {
        if self.patch_refused.load(Ordering::Relaxed) {
            return GroupWrites::Put;
        }
        group_writes(&self.config, &self.caps)
    }

    fn filters(&self) -> bool {
        self.caps.filter && !self.filter_refused.load(Ordering::Relaxed)
    }

    /// Items per list page: the configured size, capped by `filter.maxResults`.
    fn page_size(&self) -> u64 {
        let size = self.config.page_size;
        u64::from(self.caps.max_results.map_or(size, |m| size.min(m)))
    }

    /// The page a cursor names (the first page without one).
    fn page_at(&self, cursor: Option<&str>) -> Result<ScimPage, AdapterError> {
        match cursor {
            None => Ok(ScimPage::first(self.page_size())),
            Some(c) => ScimPage::from_cursor(self.system(), c, self.page_size()),
        }
    }

    fn system(&self) -> &str {
        &self.config.system_name
    }

    fn group_kind(&self) -> Option<&ResourceKindDescriptor> {
        self.descriptor.kind(KIND_GROUP)
    }

    fn remember(&self, id: &str, user_name: &str, hr_id: Option<&str>) {
        self.users.insert(user_name.to_lowercase(), id);
        if let Ok(mut known) = self.known.lock() {
            known.insert(
                id.to_owned(),
                (user_name.to_owned(), hr_id.map(str::to_owned)),
            );
        }
    }

    fn known_user(&self, id: &str) -> Option<(String, Option<String>)> {
        self.known.lock().ok()?.get(id).cloned()
    }

    fn forget(&self, id: &str) {
        if let Ok(mut known) = self.known.lock()
            && let Some((user_name, _)) = known.remove(id)
        {
            self.users.remove(&user_name.to_lowercase());
        }
    }
}

#[async_trait]
impl Adapter for ScimAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// `GET /Users` page by page (`startIndex` 1-based, `count` capped by
    /// `filter.maxResults`).
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.account_page(cursor).await
    }

    /// One `GET /Groups/{id}`: the group with its members, in one call.
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let _ = cursor;
        if resource.kind != KIND_GROUP || self.group_kind().is_none() {
            return Err(no_kind(self.system(), &resource.kind));
        }
        self.group_members_page(resource).await
    }

    /// The groups the user is a member of: `GET /Groups?filter=members[value eq "…"]`,
    /// or, where filters are refused, every group's members. An unknown user holds
    /// nothing.
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        if self.group_kind().is_none() {
            return Ok(Page::last(Vec::new()));
        }
        let Some(id) = self.user_id(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        self.groups_of_user(&id, &account.login, cursor).await
    }

    /// Every group, by `displayName`.
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        if kind != KIND_GROUP || self.group_kind().is_none() {
            return Err(AdapterError::Unsupported {
                what: format!("list_resources({kind})"),
            });
        }
        self.group_resources(cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => {
                self.create(profile, op.identity.as_str()).await
            }
            OperationKind::UpdateAccount { attributes } => self.update(account, attributes).await,
            OperationKind::SuspendAccount => self.set_active(account, false).await,
            OperationKind::ReactivateAccount => self.set_active(account, true).await,
            OperationKind::DeleteAccount => self.delete(account).await,
            OperationKind::RevokeSessions => Err(AdapterError::Unsupported {
                what: "revoke_sessions: SCIM has no sessions to end".to_owned(),
            }),
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                if entitlement.kind != KIND_GROUP || self.group_kind().is_none() {
                    return Err(no_kind(self.system(), &entitlement.kind));
                }
                let grant = matches!(op.kind, OperationKind::Grant { .. });
                match self.group_writes() {
                    GroupWrites::Put => self
                        .put_members(&entitlement.resource, &[(grant, account.clone())])
                        .await
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| Err(internal("no answer"))),
                    _ => {
                        self.patch_member(&entitlement.resource, grant, account)
                            .await
                    }
                }
            }
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }

    /// Changes to one PUT-only group go out as one read and one write; everything
    /// else one by one.
    async fn execute_batch(
        &self,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        if self.group_writes() != GroupWrites::Put {
            let mut out = Vec::with_capacity(batch.len());
            for (op, account) in batch {
                out.push(self.execute(op, account).await);
            }
            return out;
        }
        let mut out: Vec<Option<Result<Applied, AdapterError>>> = vec![None; batch.len()];
        let mut by_group: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, (op, account)) in batch.iter().enumerate() {
            match &op.kind {
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement }
                    if entitlement.kind == KIND_GROUP =>
                {
                    match by_group
                        .iter_mut()
                        .find(|(g, _)| *g == entitlement.resource)
                    {
                        Some((_, list)) => list.push(i),
                        None => by_group.push((entitlement.resource.clone(), vec![i])),
                    }
                }
                _ => out[i] = Some(self.execute(op, account).await),
            }
        }
        for (group, positions) in by_group {
            let changes: Vec<(bool, AccountRef)> = positions
                .iter()
                .map(|&i| {
                    let (op, account) = &batch[i];
                    (
                        matches!(op.kind, OperationKind::Grant { .. }),
                        account.clone(),
                    )
                })
                .collect();
            let results = self.put_members(&group, &changes).await;
            for (i, r) in positions.into_iter().zip(results) {
                out[i] = Some(r);
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(internal("no answer for this operation"))))
            .collect()
    }
}

fn no_kind(system: &str, kind: &str) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(format!(
            "{system}: no resource kind `{kind}` (SCIM systems have `group`, when the \
             application has groups)"
        )),
    }
}

fn internal(what: &str) -> AdapterError {
    AdapterError::Permanent {
        error: SystemError::message(format!("SCIM adapter: {what}")),
    }
}

/// The page after `page`: up to `totalResults` when the application gives it;
/// without it, until an empty page (a short page is not the end).
fn next_page(page: &ScimPage, total: Option<u64>, returned: usize) -> Option<ScimPage> {
    page.next(total.unwrap_or(u64::MAX), returned)
}

/// A reply body read as `T`, or a permanent error naming the system.
fn parse<T: serde::de::DeserializeOwned>(
    system: &str,
    reply: &provision_http::client::HttpResponse,
) -> Result<T, AdapterError> {
    reply.json(system)
}
