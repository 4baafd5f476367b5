//! The [`Adapter`] implementation: entitlements onto Slack channels and user groups,
//! accounts onto SCIM and `admin.users.*`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind,
    Priority, ResourceRecord, ResourceRef,
};

/// The note on a leaver's removals when the tokens cannot deactivate the account.
const LEAVER_ACCOUNT_STAYS: &str = "the Slack account itself was NOT deactivated and its \
    sessions were NOT ended: that needs credentials.scim_token or credentials.admin_token \
    (Slack Enterprise); only managed channels and user groups were taken away";
use provision_http::client::RequestKind;
use provision_http::names::PersonName;
use provision_http::paginate::ScimPage;
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Reply, SYSTEM, SlackClient, TokenKind, classify_code, error_of};
use crate::config::{ScimDeactivation, SlackConfig, channel_key};
use crate::descriptor::{KIND_CHANNEL, KIND_USERGROUP, slack_descriptor};
use crate::error::ConfigError;
use crate::model::{
    Channels, LookupByEmail, Members, ScimList, ScimUser, UsergroupUsers, Usergroups, Users,
    per_user_errors,
};

/// Most users one `conversations.invite` takes.
pub const MAX_INVITE: usize = 1000;
/// How long a channel / group name → id lookup and a login → user id lookup are kept.
pub const NAME_TTL: Duration = Duration::from_secs(600);
/// How soon to look again for an account Slack creates on first SSO sign-in.
pub const FIRST_LOGIN_RECHECK: Duration = Duration::from_secs(15 * 60);
/// How many times a user group's read-modify-write starts over when the list changed
/// between the read and the write, before it is reported as a conflict.
pub const USERGROUP_ATTEMPTS: usize = 3;

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A time-limited map (names → ids, logins → user ids).
#[derive(Debug, Default)]
struct Cache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl Cache {
    fn get(&self, key: &str) -> Option<String> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < NAME_TTL)
            .map(|(v, _)| v.clone())
    }

    fn insert(&self, key: impl Into<String>, value: impl Into<String>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key.into(), (value.into(), Instant::now()));
        }
    }
}

/// User id → email.
type Directory = Arc<HashMap<String, String>>;

/// The Slack adapter.
#[derive(Debug)]
pub struct SlackAdapter {
    client: SlackClient,
    descriptor: SystemDescriptor,
    /// Channel name (without `#`) → id.
    channels: Cache,
    /// User-group handle → id.
    usergroups: Cache,
    /// Lower-case email → user id, and user id → email.
    users: Cache,
    /// Channels the app is known not to be in (invites go through the admin API).
    app_not_in: Mutex<HashSet<String>>,
    /// The system's name in the deployment, as entitlements read carry it.
    system: String,
    /// User id → email, from `users.list`: read on the first page of a member
    /// listing and kept for its later pages.
    directory: Mutex<Option<(Instant, Directory)>>,
}

/// A channel, resolved.
#[derive(Debug, Clone)]
struct ChannelRef {
    id: String,
    /// As the policy wrote it, for messages.
    name: String,
}

impl SlackAdapter {
    /// An adapter for the configuration.
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        let descriptor = slack_descriptor(config.tokens());
        let adapter = Self {
            channels: Cache::default(),
            usergroups: Cache::default(),
            users: Cache::default(),
            app_not_in: Mutex::new(HashSet::new()),
            system: SYSTEM_NAME.to_owned(),
            directory: Mutex::new(None),
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

    // ---------------------------------------------------------------- resolution

    /// A channel's id: an id as given (`C…`/`G…`), a configured name, or a name
    /// looked up with `conversations.list` (public and private, archived included so
    /// an archived channel says `is_archived` rather than "not found").
    async fn channel(&self, name: &str) -> Result<ChannelRef, AdapterError> {
        let key = channel_key(name);
        if looks_like_id(&key, &['C', 'G']) {
            return Ok(ChannelRef {
                id: key,
                name: name.to_owned(),
            });
        }
        if let Some(id) = self.channels.get(&key) {
            return Ok(ChannelRef {
                id,
                name: name.to_owned(),
            });
        }
        let mut cursor: Option<String> = None;
        let mut guard = provision_http::paginate::CursorGuard::new(SYSTEM);
        loop {
            let page = self.channel_page(cursor.as_deref(), false).await?;
            let list: Channels = parse(&page.body)?;
            for c in &list.channels {
                self.channels.insert(c.name.clone(), c.id.clone());
            }
            if let Some(c) = list.channels.iter().find(|c| c.name == key) {
                return Ok(ChannelRef {
                    id: c.id.clone(),
                    name: name.to_owned(),
                });
            }
            match list.response_metadata.next() {
                Some(next) => {
                    guard.visit(&next)?;
                    cursor = Some(next);
                }
                None => break,
            }
        }
        Err(AdapterError::Configuration {
            error: SystemError::message(format!(
                "Slack: no channel named {name} that the app can see (private channels need \
                 the app invited; or set settings.channel.{key}: <channel id>)"
            )),
        })
    }

    async fn channel_page(
        &self,
        cursor: Option<&str>,
        exclude_archived: bool,
    ) -> Result<Reply, AdapterError> {
        let mut params = vec![
            ("types", "public_channel,private_channel".to_owned()),
            ("exclude_archived", exclude_archived.to_string()),
            ("limit", self.page_size()),
        ];
        if let Some(c) = cursor {
            params.push(("cursor", c.to_owned()));
        }
        self.client
            .call(
                "conversations.list",
                TokenKind::Bot,
                &params,
                RequestKind::Read,
                "",
            )
            .await
    }

    /// A user group's id: an id as given (`S…`), a configured handle, or
    /// `usergroups.list`.
    async fn usergroup(&self, handle: &str) -> Result<String, AdapterError> {
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

    /// The Slack user id of an account: its external id when it is one, else by
    /// email (`users.lookupByEmail` with the bot token, or a SCIM filter). `None`
    /// when Slack has no such user.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, AdapterError> {
        if let Some(id) = account.external_id.as_deref().filter(|id| !id.is_empty()) {
            return Ok(Some(id.to_owned()));
        }
        let email = account.login.trim().to_ascii_lowercase();
        if let Some(id) = self.users.get(&email) {
            return Ok(Some(id));
        }
        let found = if self.tokens().bot {
            match self
                .client
                .call(
                    "users.lookupByEmail",
                    TokenKind::Bot,
                    &[("email", email.clone())],
                    RequestKind::Read,
                    "",
                )
                .await
            {
                Ok(reply) => Some(parse::<LookupByEmail>(&reply.body)?.user.id),
                Err(AdapterError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        } else if self.tokens().scim {
            self.scim_find(&email).await?.map(|u| u.id)
        } else {
            return Err(AdapterError::Configuration {
                error: SystemError::message(
                    "Slack: finding a user by email needs credentials.bot_token (users:read.email) \
                     or credentials.scim_token",
                ),
            });
        };
        if let Some(id) = &found {
            self.users.insert(email, id.clone());
        }
        Ok(found)
    }

    /// User id → email: the directory read afresh on a listing's first page
    /// (`fresh`), else the one kept from it (younger than [`NAME_TTL`]).
    async fn directory(&self, fresh: bool) -> Result<Directory, AdapterError> {
        if !fresh
            && let Ok(kept) = self.directory.lock()
            && let Some((at, map)) = kept.as_ref()
            && at.elapsed() < NAME_TTL
        {
            return Ok(map.clone());
        }
        let map = Arc::new(self.emails().await?);
        if let Ok(mut kept) = self.directory.lock() {
            *kept = Some((Instant::now(), map.clone()));
        }
        Ok(map)
    }

    /// The email of every user id, from the `users.list` directory.
    async fn emails(&self) -> Result<HashMap<String, String>, AdapterError> {
        let mut out = HashMap::new();
        let mut cursor: Option<String> = None;
        let mut guard = provision_http::paginate::CursorGuard::new(SYSTEM);
        loop {
            let page = self.users_page(cursor.as_deref()).await?;
            let users: Users = parse(&page.body)?;
            for u in users.members {
                if let Some(email) = u.profile.email {
                    self.users.insert(email.to_ascii_lowercase(), u.id.clone());
                    out.insert(u.id, email);
                }
            }
            match users.response_metadata.next() {
                Some(next) => {
                    guard.visit(&next)?;
                    cursor = Some(next);
                }
                None => return Ok(out),
            }
        }
    }

    async fn users_page(&self, cursor: Option<&str>) -> Result<Reply, AdapterError> {
        let mut params = vec![("limit", self.page_size())];
        if let Some(c) = cursor {
            params.push(("cursor", c.to_owned()));
        }
        self.client
            .call("users.list", TokenKind::Bot, &params, RequestKind::Read, "")
            .await
    }

    // ---------------------------------------------------------------- channels

    /// Invites users to one channel in as few calls as Slack allows (up to
    /// [`MAX_INVITE`] per call) and settles each user from the answer.
    async fn invite(
        &self,
        channel: &ChannelRef,
        users: &[String],
    ) -> Vec<Result<Applied, AdapterError>> {
        let mut out = Vec::with_capacity(users.len());
        for chunk in users.chunks(MAX_INVITE) {
            out.extend(self.invite_chunk(channel, chunk).await);
        }
        out
    }

    async fn invite_chunk(
        &self,
        channel: &ChannelRef,
        users: &[String],
    ) -> Vec<Result<Applied, AdapterError>> {
        let admin = self.tokens().admin;
        let app_out = self
            .app_not_in
            .lock()
            .map(|s| s.contains(&channel.id))
            .unwrap_or(false);
        if app_out && admin {
            return self.admin_invite(channel, users).await;
        }
        let method = "conversations.invite";
        let params = [
            ("channel", channel.id.clone()),
            ("users", users.join(",")),
            // Invite the valid users even when some fail; the failures come back per
            // user in `errors` ((documented); the parameter is newer than the 2021 spec).
            ("force", "true".to_owned()),
        ];
        let reply = match self
            .client
            .send(
                method,
                TokenKind::Bot,
                &params,
                RequestKind::Write,
                &channel.name,
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) => return vec![Err(e); users.len()],
        };
        let Some(error) = error_of(&reply.body) else {
            return vec![Ok(Applied::changed().with_rate_limit(reply.rate_limit)); users.len()];
        };
        if error.code.as_deref() == Some("not_in_channel") && admin {
            tracing::info!(channel = %channel.name, "the app is not in the channel: inviting through admin.conversations.invite");
            if let Ok(mut set) = self.app_not_in.lock() {
                set.insert(channel.id.clone());
            }
            return self.admin_invite(channel, users).await;
        }
        let per_user = per_user_errors(&reply.body);
        if !per_user.is_empty() {
            return settle_per_user(method, users, &per_user, &channel.name, reply.rate_limit);
        }
        let class = classify_code(method, error, RequestKind::Write, &channel.name);
        if users.len() == 1 || !is_user_specific(&class) {
            return users.iter().map(|_| settle(class.clone())).collect();
        }
        // One user's problem (`already_in_channel`, a restricted guest) without saying
        // whose: settle each on its own.
        let mut out = Vec::with_capacity(users.len());
        for user in users {
            out.extend(Box::pin(self.invite_chunk(channel, std::slice::from_ref(user))).await);
        }
        out
    }

    /// `admin.conversations.invite` (Enterprise): no channel membership needed; a
    /// `failed_for_some_users` answer is a partial success settled per user.
    async fn admin_invite(
        &self,
        channel: &ChannelRef,
        users: &[String],
    ) -> Vec<Result<Applied, AdapterError>> {
        let method = "admin.conversations.invite";
        let params = [
            ("channel_id", channel.id.clone()),
            ("user_ids", users.join(",")),
        ];
        let reply = match self
            .client
            .send(
                method,
                TokenKind::Admin,
                &params,
                RequestKind::Write,
                &channel.name,
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) => return vec![Err(e); users.len()],
        };
        let Some(error) = error_of(&reply.body) else {
            return vec![Ok(Applied::changed().with_rate_limit(reply.rate_limit)); users.len()];
        };
        let per_user = per_user_errors(&reply.body);
        if error.code.as_deref() == Some("failed_for_some_users") || !per_user.is_empty() {
            return settle_per_user(method, users, &per_user, &channel.name, reply.rate_limit);
        }
        let class = classify_code(method, error, RequestKind::Write, &channel.name);
        users.iter().map(|_| settle(class.clone())).collect()
    }

    async fn kick(&self, channel: &ChannelRef, user: &str) -> Result<Applied, AdapterError> {
        let reply = self
            .client
            .call(
                "conversations.kick",
                TokenKind::Bot,
                &[("channel", channel.id.clone()), ("user", user.to_owned())],
                RequestKind::Write,
                &channel.name,
            )
            .await;
        match reply {
            Ok(r) => Ok(Applied::changed().with_rate_limit(r.rate_limit)),
            // Kicking a non-member, or a user Slack does not know: already so.
            Err(AdapterError::AlreadyDone { .. } | AdapterError::NotFound { .. }) => {
                Ok(Applied::already_in_place())
            }
            Err(e) => Err(e),
        }
    }

    /// Grants and revokes on one channel: the grants in one invite (per 1,000), the
    /// revokes one kick each.
    async fn channel_batch(
        &self,
        name: &str,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        let mut out: Vec<Option<Result<Applied, AdapterError>>> = vec![None; batch.len()];
        let channel = match self.channel(name).await {
            Ok(c) => c,
            Err(e) => return vec![Err(e); batch.len()],
        };
        let mut invitees: Vec<(usize, String)> = Vec::new();
        for (i, (op, account)) in batch.iter().enumerate() {
            let grant = matches!(op.kind, OperationKind::Grant { .. });
            match self.user_id(account).await {
                Err(e) => out[i] = Some(Err(e)),
                Ok(None) if grant => out[i] = Some(Err(no_user(account))),
                Ok(None) => out[i] = Some(Ok(Applied::already_in_place())),
                Ok(Some(id)) if grant => invitees.push((i, id)),
                Ok(Some(id)) => out[i] = Some(self.kick(&channel, &id).await),
            }
        }
        // One person twice in a batch is invited once.
        let mut distinct: Vec<String> = Vec::new();
        for (_, id) in &invitees {
            if !distinct.contains(id) {
                distinct.push(id.clone());
            }
        }
        if !distinct.is_empty() {
            let results = self.invite(&channel, &distinct).await;
            let by_user: HashMap<&str, &Result<Applied, AdapterError>> = distinct
                .iter()
                .map(String::as_str)
                .zip(results.iter())
                .collect();
            for (i, id) in &invitees {
                out[*i] = by_user.get(id.as_str()).map(|r| (*r).clone());
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(internal("no answer for this operation"))))
            .collect()
    }

    // ---------------------------------------------------------------- user groups

    async fn usergroup_members(&self, id: &str) -> Result<Vec<String>, AdapterError> {
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

    /// Changes to one user group. `usergroups.users.update` replaces the whole list,
    /// so: read the list, apply every change, read it again, and write only when the
    /// two reads agree; when someone changed it in between (a member added by hand),
    /// start over from the new list, so their change is kept. After
    /// [`USERGROUP_ATTEMPTS`] changing reads the batch fails as a conflict, naming
    /// the group. Slack has no conditional write: the window left is one round trip.
    async fn usergroup_batch(
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

    // ---------------------------------------------------------------- accounts

    async fn scim_find(&self, email: &str) -> Result<Option<ScimUser>, AdapterError> {
        // `emails.value` is RFC 7644's path, `email` Slack's documented short form
        // (unverified); a server that refuses one as a filter gets the next.
        let filters = [
            format!("emails.value eq \"{}\"", scim_quote(email)),
            format!("email eq \"{}\"", scim_quote(email)),
            format!("userName eq \"{}\"", scim_quote(&user_name_for(email))),
        ];
        for filter in filters {
            let reply = self
                .client
                .scim(Method::GET, &["Users"], &[("filter", filter)], None)
                .await;
            let list: ScimList = match reply {
                Ok(r) => r.json(SYSTEM)?,
                // A server that does not filter on this attribute: try the next.
                Err(AdapterError::Invalid { .. }) => continue,
                Err(e) => return Err(e),
            };
            if let Some(u) = list.resources.into_iter().find(|u| {
                u.email().eq_ignore_ascii_case(email) || u.user_name == user_name_for(email)
            }) {
                return Ok(Some(u));
            }
        }
        Ok(None)
    }

    async fn create(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        let name = PersonName::from_profile(profile);
        let email = if profile.email.is_empty() {
            &profile.login
        } else {
            &profile.email
        };
        let body = json!({
            "schemas": [SCIM_USER],
            "userName": user_name_for(email),
            "displayName": profile.display_name,
            "name": {"givenName": name.given, "familyName": name.family},
            "emails": [{"value": email, "primary": true}],
            "active": true,
        });
        match self
            .client
            .scim(Method::POST, &["Users"], &[], Some(&body))
            .await
        {
            Ok(reply) => {
                let user: ScimUser = reply.json(SYSTEM)?;
                self.users
                    .insert(email.to_ascii_lowercase(), user.id.clone());
                Ok(Applied::changed()
                    .with_external_id(user.id)
                    .with_rate_limit(reply.rate_limit))
            }
            // 409: someone with this user name or email exists. Adopted only when it
            // is the same person (same email); reactivated when deactivated.
            Err(AdapterError::Conflict { error }) => {
                let Some(existing) = self.scim_find(email).await? else {
                    return Err(AdapterError::Conflict { error });
                };
                if !existing.email().eq_ignore_ascii_case(email) {
                    return Err(AdapterError::Conflict {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!(
                                "{} — the Slack user {} has another email ({}): not adopted",
                                error.message,
                                existing.user_name,
                                existing.email()
                            ),
                        ),
                    });
                }
                if !existing.active {
                    self.scim_set_active(&existing.id, true).await?;
                }
                Ok(Applied::already_in_place().with_external_id(existing.id))
            }
            Err(e) => Err(e),
        }
    }

    async fn scim_user(&self, id: &str) -> Result<Option<ScimUser>, AdapterError> {
        match self
            .client
            .scim(Method::GET, &["Users", id], &[], None)
            .await
        {
            Ok(r) => Ok(Some(r.json(SYSTEM)?)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn scim_set_active(&self, id: &str, active: bool) -> Result<Applied, AdapterError> {
        let body = json!({
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "replace", "path": "active", "value": active}],
        });
        let reply = self
            .client
            .scim(Method::PATCH, &["Users", id], &[], Some(&body))
            .await?;
        Ok(Applied::changed()
            .with_external_id(id)
            .with_rate_limit(reply.rate_limit))
    }

    /// Deactivation: SCIM `DELETE` (it deactivates; Slack never deletes), or
    /// `admin.users.deactivate` with only the admin token. An account already
    /// deactivated is already done.
    async fn deactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| no_user(account))?;
        if self.tokens().scim {
            match self.scim_user(&id).await? {
                None => return Err(no_user(account)),
                Some(u) if !u.active => {
                    return Ok(Applied::already_in_place().with_external_id(id));
                }
                Some(_) => {}
            }
            if self.client.config().scim_deactivation == ScimDeactivation::PatchInactive {
                return self.scim_set_active(&id, false).await;
            }
            let reply = self
                .client
                .scim(Method::DELETE, &["Users", &id], &[], None)
                .await?;
            return Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(reply.rate_limit));
        }
        // admin.users.deactivate is newer than the 2021 spec: tested against its
        // documented shape (`user_id`, Enterprise org-admin token).
        match self
            .client
            .call(
                "admin.users.deactivate",
                TokenKind::Admin,
                &[("user_id", id.clone())],
                RequestKind::Write,
                "",
            )
            .await
        {
            Ok(r) => Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(r.rate_limit)),
            Err(AdapterError::AlreadyDone { .. }) => {
                Ok(Applied::already_in_place().with_external_id(id))
            }
            Err(e) => Err(e),
        }
    }

    /// Without SCIM, Slack creates the account on the person's first SSO sign-in: an
    /// account that exists is adopted, otherwise the create is pending.
    async fn await_first_login(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        match self.user_id(account).await? {
            Some(id) => Ok(Applied::already_in_place().with_external_id(id)),
            None => Err(AdapterError::Pending {
                recheck_after: FIRST_LOGIN_RECHECK,
                error: SystemError::message(format!(
                    "no Slack account for {} yet: Slack creates it on the first SSO sign-in \
                     (without credentials.scim_token the adapter cannot create it)",
                    account.login
                )),
            }),
        }
    }

    async fn reactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.tokens().scim {
            return Err(AdapterError::Unsupported {
                what: "reactivate_account: Slack reactivates only through SCIM \
                       (credentials.scim_token)"
                    .to_owned(),
            });
        }
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| no_user(account))?;
        self.scim_set_active(&id, true).await
    }

    async fn reset_sessions(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.tokens().admin {
            return Err(AdapterError::Unsupported {
                what: "revoke_sessions: Slack ends sessions only with admin.users.session.reset \
                       (Enterprise; credentials.admin_token)"
                    .to_owned(),
            });
        }
        let Some(id) = self.user_id(account).await? else {
            // No such user: no sessions to end.
            return Ok(Applied::already_in_place());
        };
        match self
            .client
            .call(
                "admin.users.session.reset",
                TokenKind::Admin,
                &[("user_id", id.clone())],
                RequestKind::Write,
                "",
            )
            .await
        {
            Ok(r) => Ok(Applied::changed()
                .with_external_id(id)
                .with_rate_limit(r.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }

    async fn grants_of_channels(
        &self,
        user: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<GrantRecord>, Option<String>, Option<RateLimitInfo>), AdapterError> {
        // users.conversations is not in the 2021 trimmed spec: documented shape
        // (`user`, `types`, `exclude_archived`, `limit`, `cursor`; Tier 3).
        let mut params = vec![
            ("user", user.to_owned()),
            ("types", "public_channel,private_channel".to_owned()),
            ("exclude_archived", "true".to_owned()),
            ("limit", self.page_size()),
        ];
        if let Some(c) = cursor {
            params.push(("cursor", c.to_owned()));
        }
        let reply = self
            .client
            .call(
                "users.conversations",
                TokenKind::Bot,
                &params,
                RequestKind::Read,
                "",
            )
            .await?;
        let list: Channels = parse(&reply.body)?;
        let grants = list
            .channels
            .iter()
            .map(|c| GrantRecord {
                entitlement: Entitlement::new(&self.system, KIND_CHANNEL, format!("#{}", c.name)),
                account_external_id: user.to_owned(),
                login: None,
            })
            .collect();
        Ok((grants, list.response_metadata.next(), reply.rate_limit))
    }
}

/// The adapter type, as entitlements name the system.
const SYSTEM_NAME: &str = "slack";

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
        if self.tokens().scim {
            let count = u64::from(self.client.config().scim_page_size);
            let page = match cursor {
                None => ScimPage::first(count),
                Some(c) => ScimPage::from_cursor(SYSTEM, c, count)?,
            };
            let reply = self
                .client
                .scim(Method::GET, &["Users"], &page.query(), None)
                .await?;
            let list: ScimList = reply.json(SYSTEM)?;
            let next = page
                .next(list.total_results, list.resources.len())
                .map(|p| p.to_cursor());
            let items = list
                .resources
                .iter()
                .map(|u| {
                    AccountRecord::new(u.id.clone(), u.email().to_owned(), u.state())
                        .with_correlation("user_id", u.id.clone())
                        .with_correlation("email", u.email().to_owned())
                })
                .collect();
            return Ok(Page::new(items, next).with_rate_limit(reply.rate_limit));
        }
        let reply = self.users_page(cursor).await?;
        let users: Users = parse(&reply.body)?;
        let items = users
            .members
            .iter()
            .filter(|u| !u.is_bot)
            .filter_map(|u| {
                let email = u.profile.email.clone()?;
                let state = if u.deleted {
                    provision_core::model::AccountState::Deprovisioned
                } else {
                    provision_core::model::AccountState::Active
                };
                Some(
                    AccountRecord::new(u.id.clone(), email.clone(), state)
                        .with_correlation("user_id", u.id.clone())
                        .with_correlation("email", email),
                )
            })
            .collect();
        Ok(Page::new(items, users.response_metadata.next()).with_rate_limit(reply.rate_limit))
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
            KIND_CHANNEL => {
                let channel = self.channel(&resource.resource).await?;
                let mut params = vec![("channel", channel.id.clone()), ("limit", self.page_size())];
                if let Some(c) = cursor {
                    params.push(("cursor", c.to_owned()));
                }
                let reply = self
                    .client
                    .call(
                        "conversations.members",
                        TokenKind::Bot,
                        &params,
                        RequestKind::Read,
                        &resource.resource,
                    )
                    .await?;
                let members: Members = parse(&reply.body)?;
                let next = members.response_metadata.next();
                if next.as_deref() == cursor && next.is_some() {
                    return Err(provision_http::paginate::repeated_cursor(
                        SYSTEM,
                        cursor.unwrap_or_default(),
                    ));
                }
                (members.members, next, reply.rate_limit)
            }
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
            Some("usergroups") => {
                let groups = self.list_usergroups(true).await?;
                let items = groups
                    .usergroups
                    .iter()
                    .filter(|g| g.users.contains(&user))
                    .map(|g| GrantRecord {
                        entitlement: Entitlement::new(&self.system, KIND_USERGROUP, &g.handle),
                        account_external_id: user.clone(),
                        login: Some(account.login.clone()),
                    })
                    .collect();
                Ok(Page::last(items))
            }
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
            KIND_CHANNEL => {
                let reply = self.channel_page(cursor, true).await?;
                let list: Channels = parse(&reply.body)?;
                let items = list
                    .channels
                    .iter()
                    .map(|c| {
                        self.channels.insert(c.name.clone(), c.id.clone());
                        let mut r = ResourceRecord::new(KIND_CHANNEL, format!("#{}", c.name));
                        r.external_id = Some(c.id.clone());
                        r
                    })
                    .collect();
                Ok(Page::new(items, list.response_metadata.next())
                    .with_rate_limit(reply.rate_limit))
            }
            KIND_USERGROUP => {
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
            other => Err(AdapterError::Unsupported {
                what: format!("list_resources({other})"),
            }),
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

/// Per-user settlement of a partial answer: a user listed with a code gets that
/// code's class for `method` (`already_in_channel` is already in place); a user not
/// listed was invited.
fn settle_per_user(
    method: &str,
    users: &[String],
    failures: &[crate::model::PerUserError],
    context: &str,
    rate: Option<RateLimitInfo>,
) -> Vec<Result<Applied, AdapterError>> {
    users
        .iter()
        .map(|u| match failures.iter().find(|f| &f.user == u) {
            None => Ok(Applied::changed().with_rate_limit(rate.clone())),
            Some(f) => settle(classify_code(
                method,
                SystemError::new(
                    Some(200),
                    Some(f.error.clone()),
                    format!("{} (user {u})", f.error),
                ),
                RequestKind::Write,
                context,
            )),
        })
        .collect()
}

/// An error as one operation's result: "already done" is a success.
fn settle(e: AdapterError) -> Result<Applied, AdapterError> {
    match e {
        AdapterError::AlreadyDone { .. } => Ok(Applied::already_in_place()),
        other => Err(other),
    }
}

/// Codes that are about one invitee rather than the channel.
fn is_user_specific(e: &AdapterError) -> bool {
    matches!(
        e.system_error().and_then(|s| s.code.as_deref()),
        Some(
            "already_in_channel"
                | "cant_invite_self"
                | "user_is_restricted"
                | "user_is_ultra_restricted"
                | "ura_max_channels"
                | "user_not_found"
                | "cant_invite"
        )
    )
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

fn as_set(list: &[String]) -> BTreeSet<&str> {
    list.iter().map(String::as_str).collect()
}

/// A Slack id: an upper-case letter from `prefixes`, then upper-case letters and
/// digits (`C0123ABC`).
fn looks_like_id(text: &str, prefixes: &[char]) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && text.len() >= 7
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack user name from an email: the local part, lower case, only letters, digits,
/// `.`, `-` and `_`, at most 21 characters (Slack's rule for names).
pub fn user_name_for(email: &str) -> String {
    let local = email
        .split('@')
        .next()
        .unwrap_or(email)
        .to_ascii_lowercase();
    let name: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(21)
        .collect();
    if name.is_empty() {
        "user".to_owned()
    } else {
        name
    }
}

fn scim_quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
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
