//! The [`Adapter`] implementation: entitlements onto Slack channels and user groups,
//! accounts onto SCIM and `admin.users.*`.
//!
//! The code is split by what it acts on: `channels` (invites, kicks, channel
//! reads), `usergroups` (the whole-list read-modify-write), `accounts` (finding
//! users, the directory, the SCIM and `admin.users.*` lifecycle). This module holds
//! the adapter, its caches, and the trait impl that dispatches to them.

mod accounts;
mod channels;
mod usergroups;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind, Priority,
    ResourceRecord, ResourceRef,
};
use provision_http::names::NameCache;
use serde_json::Value;

use crate::client::SlackClient;
use crate::config::ConfigError;
use crate::config::SlackConfig;
use crate::descriptor::{KIND_CHANNEL, KIND_USERGROUP, slack_descriptor};

use accounts::Directory;
pub use accounts::user_name_for;

/// The note on a leaver's removals when the tokens cannot deactivate the account.
const LEAVER_ACCOUNT_STAYS: &str = "the Slack account itself was NOT deactivated and its \
    sessions were NOT ended: that needs credentials.scim_token or credentials.admin_token \
    (Slack Enterprise); only managed channels and user groups were taken away";

/// Most users one `conversations.invite` takes.
pub const MAX_INVITE: usize = 1000;
/// How long a channel / group name → id lookup and a login → user id lookup are kept.
pub const NAME_TTL: Duration = Duration::from_secs(600);
/// How soon to look again for an account Slack creates on first SSO sign-in.
pub const FIRST_LOGIN_RECHECK: Duration = Duration::from_secs(15 * 60);
/// How many times a user group's read-modify-write starts over when the list changed
/// between the read and the write, before it is reported as a conflict.
pub const USERGROUP_ATTEMPTS: usize = 3;

/// How long what one list answers for every account (the user groups with their
/// members) is kept within a run.
pub const RUN_CACHE_TTL: Duration = Duration::from_secs(120);

/// The adapter type, as entitlements name the system.
const SYSTEM_NAME: &str = "slack";

/// The Slack adapter.
#[derive(Debug)]
pub struct SlackAdapter {
    client: SlackClient,
    descriptor: SystemDescriptor,
    /// Channel name (without `#`) → id.
    channels: NameCache,
    /// User-group handle → id.
    usergroups: NameCache,
    /// Lower-case email → user id, and user id → email.
    users: NameCache,
    /// Channels the app is known not to be in (invites go through the admin API).
    app_not_in: Mutex<HashSet<String>>,
    /// The system's name in the deployment, as entitlements read carry it.
    system: String,
    /// User id → email, from `users.list`: read on the first page of a member
    /// listing and kept for its later pages.
    directory: Mutex<Option<(Instant, Directory)>>,
    /// Every user group with its members (`usergroups.list?include_users=true`), read
    /// once per run for all the per-account reads: a run starts with the first page
    /// of [`Adapter::read_accounts`], which drops it; a user-group write drops it too,
    /// and it is never older than [`RUN_CACHE_TTL`].
    usergroup_members: Mutex<Option<(Instant, Arc<crate::model::Usergroups>)>>,
}

impl SlackAdapter {
    /// An adapter for the configuration.
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        let descriptor = slack_descriptor(config.tokens());
        let adapter = Self {
            channels: NameCache::new(NAME_TTL),
            usergroups: NameCache::new(NAME_TTL),
            users: NameCache::new(NAME_TTL),
            app_not_in: Mutex::new(HashSet::new()),
            system: SYSTEM_NAME.to_owned(),
            directory: Mutex::new(None),
            usergroup_members: Mutex::new(None),
            client: SlackClient::new(config)?,
            descriptor,
        };
        for (name, id) in &adapter.client.config().channels {
            adapter.channels.insert(name.clone(), id.clone());
        }
        for (handle, id) in &adapter.client.config().usergroups {
            adapter.usergroups.insert(handle.clone(), id.clone());
        }
        Ok(adapter)
    }

    /// Builder-style: the system's name in the deployment (`slack`, `slack-eu`), which
    /// the entitlements read back carry.
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = name.into();
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &SlackClient {
        &self.client
    }

    fn tokens(&self) -> crate::descriptor::Tokens {
        self.client.config().tokens()
    }

    fn page_size(&self) -> String {
        self.client.config().page_size.to_string()
    }
}

#[async_trait]
impl Adapter for SlackAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// SCIM `GET /Users` (1-based `startIndex`) with a SCIM token; otherwise
    /// `users.list` (cursor) with the bot token, bots left out.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        if cursor.is_none() {
            // A new run: what the per-account reads share is read afresh.
            self.forget_usergroup_members();
        }
        self.account_page(cursor).await
    }

    /// Channel members (`conversations.members`, cursor to the end) or a user group's
    /// list (`usergroups.users.list`, one call). Logins come from the `users.list`
    /// directory, read on the first page.
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let (ids, next, rate) = match resource.kind.as_str() {
            KIND_CHANNEL => self.channel_members(&resource.resource, cursor).await?,
            KIND_USERGROUP => {
                let id = self.usergroup(&resource.resource).await?;
                (self.usergroup_members(&id).await?, None, None)
            }
            other => {
                return Err(AdapterError::Invalid {
                    error: SystemError::message(format!("Slack has no resource kind `{other}`")),
                });
            }
        };
        let emails = if ids.is_empty() {
            Arc::new(HashMap::new())
        } else {
            self.directory(cursor.is_none()).await?
        };
        let items = ids
            .into_iter()
            .map(|id| GrantRecord {
                entitlement: Entitlement::new(
                    resource.system.as_str(),
                    &resource.kind,
                    &resource.resource,
                ),
                login: emails.get(&id).cloned(),
                account_external_id: id,
            })
            .collect();
        Ok(Page::new(items, next).with_rate_limit(rate))
    }

    /// A person's channels (`users.conversations`, cursor to the end), then on the
    /// last page their user groups (`usergroups.list` with members). An unknown
    /// person holds nothing.
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(user) = self.user_id(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        match cursor {
            Some("usergroups") => Ok(Page::last(
                self.usergroup_grants(&user, &account.login).await?,
            )),
            other => {
                let channel_cursor = other.and_then(|c| c.strip_prefix("channels:"));
                let (mut items, next, rate) =
                    self.grants_of_channels(&user, channel_cursor).await?;
                for g in &mut items {
                    g.login = Some(account.login.clone());
                }
                let next = match next {
                    Some(n) => format!("channels:{n}"),
                    None => "usergroups".to_owned(),
                };
                Ok(Page::new(items, Some(next)).with_rate_limit(rate))
            }
        }
    }

    /// Every channel (`#name`, archived ones left out) or every user group (handle).
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            KIND_CHANNEL => self.channel_resources(cursor).await,
            KIND_USERGROUP => self.usergroup_resources().await,
            other => Err(AdapterError::Unsupported {
                what: format!("list_resources({other})"),
            }),
        }
    }

    /// A channel's id (`C…`/`G…`) or a user group's (`S…`), whichever way the name is
    /// spelled (`#eng`, `eng`, the id; `@oncall`, `oncall`, the id): the planner
    /// matches what it reads (`#name`, bare handles) to what policies wrote through
    /// it, and a renamed channel keeps its id. Names are resolved from the caches,
    /// `conversations.list` / `usergroups.list` on a miss.
    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, AdapterError> {
        match resource.kind.as_str() {
            KIND_CHANNEL => Ok(Some(self.channel(&resource.resource).await?.id)),
            KIND_USERGROUP => Ok(Some(self.usergroup(&resource.resource).await?)),
            _ => Ok(None),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::Grant { .. } | OperationKind::Revoke { .. } => self
                .execute_batch(&[(op.clone(), account.clone())])
                .await
                .into_iter()
                .next()
                .unwrap_or_else(|| Err(internal("no answer"))),
            OperationKind::CreateAccount { profile } => {
                if self.tokens().scim {
                    return self.create(profile).await;
                }
                if self.descriptor.accounts_created_on_first_login {
                    return self.await_first_login(account).await;
                }
                Err(AdapterError::Unsupported {
                    what: "create_account: Slack accounts are created through SCIM \
                           (credentials.scim_token)"
                        .to_owned(),
                })
            }
            OperationKind::SuspendAccount => {
                if !self.tokens().scim && !self.tokens().admin {
                    return Err(AdapterError::Unsupported {
                        what: "suspend_account: Slack deactivates only through SCIM or \
                               admin.users.deactivate (credentials.scim_token or admin_token)"
                            .to_owned(),
                    });
                }
                self.deactivate(account).await
            }
            OperationKind::ReactivateAccount => self.reactivate(account).await,
            OperationKind::RevokeSessions => self.reset_sessions(account).await,
            OperationKind::DeleteAccount => Err(AdapterError::Unsupported {
                what: "delete_account: Slack accounts are never deleted, only deactivated"
                    .to_owned(),
            }),
            OperationKind::UpdateAccount { .. } => Err(AdapterError::Unsupported {
                what: "update_account: the Slack adapter keeps no profile fields".to_owned(),
            }),
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }

    /// Whether an account Slack creates on first SSO sign-in exists yet; everything
    /// else is idempotent and simply sent again.
    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { .. }
                if !self.tokens().scim && self.descriptor.accounts_created_on_first_login =>
            {
                match self.user_id(account).await? {
                    Some(id) => Ok(CheckStatus::Done {
                        external_id: Some(id),
                    }),
                    None => Ok(CheckStatus::Pending {
                        recheck_after: FIRST_LOGIN_RECHECK,
                    }),
                }
            }
            _ => Ok(CheckStatus::NotDone),
        }
    }

    /// Grants and revokes grouped per channel and per user group: a channel's grants go
    /// out in one `conversations.invite` (up to 1,000 users) and each person's result
    /// is settled from the answer; a user group's changes are one read-modify-write.
    async fn execute_batch(
        &self,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        let mut out: Vec<Option<Result<Applied, AdapterError>>> = vec![None; batch.len()];
        // (kind, resource) → positions, in first-seen order.
        let mut groups: Vec<((String, String), Vec<usize>)> = Vec::new();
        for (i, (op, account)) in batch.iter().enumerate() {
            match &op.kind {
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                    let key = (entitlement.kind.clone(), entitlement.resource.clone());
                    match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, list)) => list.push(i),
                        None => groups.push((key, vec![i])),
                    }
                }
                _ => out[i] = Some(self.execute(op, account).await),
            }
        }
        for ((kind, resource), positions) in groups {
            let part: Vec<(Operation, AccountRef)> =
                positions.iter().map(|&i| batch[i].clone()).collect();
            let results = match kind.as_str() {
                KIND_CHANNEL => self.channel_batch(&resource, &part).await,
                KIND_USERGROUP => self.usergroup_batch(&resource, &part).await,
                other => vec![
                    Err(AdapterError::Invalid {
                        error: SystemError::message(format!(
                            "Slack has no resource kind `{other}`"
                        )),
                    });
                    part.len()
                ],
            };
            for (i, r) in positions.into_iter().zip(results) {
                out[i] = Some(r);
            }
        }
        // Without SCIM or an admin token (no Enterprise) a leaver only loses what we
        // can take away: the report says so, on each of their removals.
        let account_stays = !self.tokens().scim && !self.tokens().admin;
        out.into_iter()
            .zip(batch)
            .map(|(r, (op, _))| {
                let r = r.unwrap_or_else(|| Err(internal("no answer for this operation")));
                match r {
                    Ok(applied)
                        if account_stays
                            && op.priority == Priority::Leaver
                            && matches!(op.kind, OperationKind::Revoke { .. }) =>
                    {
                        Ok(applied.with_note(LEAVER_ACCOUNT_STAYS))
                    }
                    other => other,
                }
            })
            .collect()
    }
}

/// An error as one operation's result: "already done" is a success.
fn settle(e: AdapterError) -> Result<Applied, AdapterError> {
    match e {
        AdapterError::AlreadyDone { .. } => Ok(Applied::already_in_place()),
        other => Err(other),
    }
}

fn no_user(account: &AccountRef) -> AdapterError {
    AdapterError::NotFound {
        error: SystemError::message(format!(
            "Slack has no user with the email {}",
            account.login
        )),
    }
}

fn internal(what: &str) -> AdapterError {
    AdapterError::Permanent {
        error: SystemError::message(format!("Slack adapter: {what}")),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, AdapterError> {
    serde_json::from_value(body.clone()).map_err(|e| AdapterError::Permanent {
        error: SystemError::message(format!("unexpected response body from Slack: {e}")),
    })
}

/// A Slack id: an upper-case letter from `prefixes`, then upper-case letters and
/// digits (`C0123ABC`).
fn looks_like_id(text: &str, prefixes: &[char]) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && text.len() >= 7
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_told_apart() {
        assert!(looks_like_id("C0123ABCD", &['C', 'G']));
        assert!(!looks_like_id("engineering-general", &['C', 'G']));
        assert!(!looks_like_id("CEO", &['C', 'G']));
        assert_eq!(user_name_for("Ada.Lovelace+x@example.com"), "ada.lovelacex");
    }
}
