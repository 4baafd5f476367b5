//! User groups: a group's id from its handle, and its changes as one
//! read-modify-write of the whole member list (`usergroups.users.update`).

use std::collections::BTreeSet;

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{
    AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRecord,
};
use provision_http::client::RequestKind;

use std::sync::Arc;
use std::time::Instant;

use super::{
    RUN_CACHE_TTL, SlackAdapter, USERGROUP_ATTEMPTS, internal, looks_like_id, no_user, parse,
};
use crate::client::TokenKind;
use crate::descriptor::KIND_USERGROUP;
use crate::model::{UsergroupUsers, Usergroups};

impl SlackAdapter {
    /// A user group's id: an id as given (`S…`), a configured handle, or
    /// `usergroups.list`.
    pub(super) async fn usergroup(&self, handle: &str) -> Result<String, AdapterError> {
        let key = handle.trim().trim_start_matches('@').to_owned();
        if looks_like_id(&key, &['S']) {
            return Ok(key);
        }
        if let Some(id) = self.usergroups.get(&key) {
            return Ok(id);
        }
        let groups = self.list_usergroups(false).await?;
        for g in &groups.usergroups {
            self.usergroups.insert(g.handle.clone(), g.id.clone());
        }
        groups
            .usergroups
            .iter()
            .find(|g| g.handle == key || g.name == key)
            .map(|g| g.id.clone())
            .ok_or_else(|| AdapterError::Configuration {
                error: SystemError::message(format!(
                    "Slack: no user group with the handle {handle} (or set \
                     settings.usergroup.{key}: <group id>)"
                )),
            })
    }

    async fn list_usergroups(&self, include_users: bool) -> Result<Usergroups, AdapterError> {
        let reply = self
            .client
            .call(
                "usergroups.list",
                TokenKind::Bot,
                &[("include_users", include_users.to_string())],
                RequestKind::Read,
                "",
            )
            .await?;
        parse(&reply.body)
    }

    pub(super) async fn usergroup_members(&self, id: &str) -> Result<Vec<String>, AdapterError> {
        let reply = self
            .client
            .call(
                "usergroups.users.list",
                TokenKind::Bot,
                &[("usergroup", id.to_owned())],
                RequestKind::Read,
                id,
            )
            .await?;
        Ok(parse::<UsergroupUsers>(&reply.body)?.users)
    }

    /// Every user group (by handle), remembering each handle's id.
    pub(super) async fn usergroup_resources(&self) -> Result<Page<ResourceRecord>, AdapterError> {
        let groups = self.list_usergroups(false).await?;
        let items = groups
            .usergroups
            .iter()
            .map(|g| {
                self.usergroups.insert(g.handle.clone(), g.id.clone());
                let mut r = ResourceRecord::new(KIND_USERGROUP, g.handle.clone());
                r.external_id = Some(g.id.clone());
                r
            })
            .collect();
        Ok(Page::last(items))
    }

    /// Every user group with its members, read once per run (see
    /// `SlackAdapter::usergroup_members`).
    async fn usergroups_with_members(&self) -> Result<Arc<Usergroups>, AdapterError> {
        if let Ok(kept) = self.usergroup_members.lock()
            && let Some((at, groups)) = kept.as_ref()
            && at.elapsed() < RUN_CACHE_TTL
        {
            return Ok(groups.clone());
        }
        let groups = Arc::new(self.list_usergroups(true).await?);
        for g in &groups.usergroups {
            self.usergroups.insert(g.handle.clone(), g.id.clone());
        }
        if let Ok(mut kept) = self.usergroup_members.lock() {
            *kept = Some((Instant::now(), groups.clone()));
        }
        Ok(groups)
    }

    /// Drops the run's user-group list (a new run, or a write that changed it).
    pub(super) fn forget_usergroup_members(&self) {
        if let Ok(mut kept) = self.usergroup_members.lock() {
            *kept = None;
        }
    }

    /// The user groups `user` is a member of (`usergroups.list` with members, read
    /// once per run for every account), as grants of the account `login`.
    pub(super) async fn usergroup_grants(
        &self,
        user: &str,
        login: &str,
    ) -> Result<Vec<GrantRecord>, AdapterError> {
        let groups = self.usergroups_with_members().await?;
        Ok(groups
            .usergroups
            .iter()
            .filter(|g| g.users.iter().any(|u| u == user))
            .map(|g| GrantRecord {
                entitlement: Entitlement::new(&self.system, KIND_USERGROUP, &g.handle),
                account_external_id: user.to_owned(),
                login: Some(login.to_owned()),
            })
            .collect())
    }

    /// Changes to one user group. `usergroups.users.update` replaces the whole list,
    /// so: read the list, apply every change, read it again, and write only when the
    /// two reads agree; when someone changed it in between (a member added by hand),
    /// start over from the new list, so their change is kept. After
    /// [`USERGROUP_ATTEMPTS`] changing reads the batch fails as a conflict, naming
    /// the group. Slack has no conditional write: the window left is one round trip.
    pub(super) async fn usergroup_batch(
        &self,
        handle: &str,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        let id = match self.usergroup(handle).await {
            Ok(id) => id,
            Err(e) => return vec![Err(e); batch.len()],
        };
        let mut users: Vec<Option<Result<(bool, String), AdapterError>>> = Vec::new();
        for (op, account) in batch {
            let grant = matches!(op.kind, OperationKind::Grant { .. });
            users.push(Some(match self.user_id(account).await {
                Ok(Some(u)) => Ok((grant, u)),
                Ok(None) if grant => Err(no_user(account)),
                Ok(None) => Ok((false, String::new())),
                Err(e) => Err(e),
            }));
        }
        let mut before = match self.usergroup_members(&id).await {
            Ok(m) => m,
            Err(e) => return vec![Err(e); batch.len()],
        };
        for _ in 0..USERGROUP_ATTEMPTS {
            let mut after: Vec<String> = before.clone();
            let mut effects = Vec::with_capacity(batch.len());
            for u in &users {
                effects.push(match u {
                    Some(Ok((true, user))) => {
                        if after.contains(user) {
                            Ok(false)
                        } else {
                            after.push(user.clone());
                            Ok(true)
                        }
                    }
                    Some(Ok((false, user))) => {
                        let had = after.len();
                        after.retain(|m| m != user);
                        Ok(after.len() != had)
                    }
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(internal("missing user")),
                });
            }
            if !effects.iter().any(|e| matches!(e, Ok(true))) {
                return effects
                    .into_iter()
                    .map(|e| e.map(|_| Applied::already_in_place()))
                    .collect();
            }
            if after.is_empty() {
                let e = AdapterError::Permanent {
                    error: SystemError::message(format!(
                        "Slack: removing the last member of user group {handle} would leave it \
                         empty, which usergroups.users.update refuses (disable the group instead)"
                    )),
                };
                return effects
                    .into_iter()
                    .map(|r| match r {
                        Ok(true) => Err(e.clone()),
                        Ok(false) => Ok(Applied::already_in_place()),
                        Err(e) => Err(e),
                    })
                    .collect();
            }
            let again = match self.usergroup_members(&id).await {
                Ok(m) => m,
                Err(e) => return vec![Err(e); batch.len()],
            };
            if as_set(&again) != as_set(&before) {
                tracing::info!(usergroup = %handle, "the member list changed while being edited: reading it again");
                before = again;
                continue;
            }
            let write = self
                .client
                .call(
                    "usergroups.users.update",
                    TokenKind::Bot,
                    &[("usergroup", id.clone()), ("users", after.join(","))],
                    RequestKind::Write,
                    handle,
                )
                .await;
            // The run's user-group list no longer says who is in this group.
            self.forget_usergroup_members();
            return match write {
                Ok(reply) => effects
                    .into_iter()
                    .map(|r| {
                        r.map(|changed| {
                            if changed {
                                Applied::changed().with_rate_limit(reply.rate_limit.clone())
                            } else {
                                Applied::already_in_place()
                            }
                        })
                    })
                    .collect(),
                Err(e) => vec![Err(e); batch.len()],
            };
        }
        let e = AdapterError::Conflict {
            error: SystemError::message(format!(
                "Slack: the members of user group {handle} changed under every one of \
                 {USERGROUP_ATTEMPTS} read-modify-write attempts; nothing was written"
            )),
        };
        vec![Err(e); batch.len()]
    }
}

fn as_set(list: &[String]) -> BTreeSet<&str> {
    list.iter().map(String::as_str).collect()
}
