//! Channels: a channel's id from its name, invites (up to [`MAX_INVITE`] users a
//! call, through `admin.conversations.invite` when the app is not in the channel),
//! kicks, and the reads of members, channels and a person's channels.

use std::collections::HashMap;

use provision_core::adapter::{AdapterError, Applied, Page, RateLimitInfo, SystemError};
use provision_core::model::{
    AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRecord,
};
use provision_http::client::RequestKind;

use super::{MAX_INVITE, SlackAdapter, internal, looks_like_id, no_user, parse, settle};
use crate::client::{Reply, SYSTEM, TokenKind, classify_code, error_of};
use crate::config::channel_key;
use crate::descriptor::KIND_CHANNEL;
use crate::model::{ChannelInfo, Channels, Members, per_user_errors};

/// A channel, resolved.
#[derive(Debug, Clone)]
pub(super) struct ChannelRef {
    /// The channel's id.
    pub(super) id: String,
    /// As the policy wrote it, for messages.
    name: String,
}

impl SlackAdapter {
    /// A channel's id: an id as given (`C…`/`G…`), a configured name, or a name
    /// looked up with `conversations.list` (public and private, archived included so
    /// an archived channel says `is_archived` rather than "not found").
    pub(super) async fn channel(&self, name: &str) -> Result<ChannelRef, AdapterError> {
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

    /// One page of a channel's member ids (`conversations.members`, cursor to the end).
    pub(super) async fn channel_members(
        &self,
        name: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>, Option<RateLimitInfo>), AdapterError> {
        let channel = self.channel(name).await?;
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
                name,
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
        Ok((members.members, next, reply.rate_limit))
    }

    /// One page of every channel (`#name`, archived ones left out), remembering each
    /// name's id.
    pub(super) async fn channel_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
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
        Ok(Page::new(items, list.response_metadata.next()).with_rate_limit(reply.rate_limit))
    }

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
        self.invite_chunk_after(channel, users, false).await
    }

    /// One `conversations.invite`; `joined` when the app has just joined the channel
    /// (a second `not_in_channel` is not answered by joining again).
    async fn invite_chunk_after(
        &self,
        channel: &ChannelRef,
        users: &[String],
        joined: bool,
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
        // Per-user `errors` are read whether `ok` is true (`force` invited the others)
        // or false.
        let per_user = per_user_errors(&reply.body);
        let Some(error) = error_of(&reply.body) else {
            return settle_per_user(method, users, &per_user, &channel.name, reply.rate_limit);
        };
        if error.code.as_deref() == Some("not_in_channel") && !joined {
            // The app is not in the channel: it joins a public one and invites again;
            // a private one goes through the admin API when there is one.
            match self.join(channel).await {
                Ok(()) => return Box::pin(self.invite_chunk_after(channel, users, true)).await,
                Err(e) if !admin => {
                    return vec![Err(app_not_in(e, channel)); users.len()];
                }
                Err(_) => {}
            }
        }
        if error.code.as_deref() == Some("not_in_channel") && admin {
            tracing::info!(channel = %channel.name, "the app is not in the channel: inviting through admin.conversations.invite");
            if let Ok(mut set) = self.app_not_in.lock() {
                set.insert(channel.id.clone());
            }
            return self.admin_invite(channel, users).await;
        }
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
            out.extend(
                Box::pin(self.invite_chunk_after(channel, std::slice::from_ref(user), joined))
                    .await,
            );
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
        let per_user = per_user_errors(&reply.body);
        let Some(error) = error_of(&reply.body) else {
            return settle_per_user(method, users, &per_user, &channel.name, reply.rate_limit);
        };
        if error.code.as_deref() == Some("failed_for_some_users") || !per_user.is_empty() {
            return settle_per_user(method, users, &per_user, &channel.name, reply.rate_limit);
        }
        let class = classify_code(method, error, RequestKind::Write, &channel.name);
        users.iter().map(|_| settle(class.clone())).collect()
    }

    /// `conversations.kick`. A `not_in_channel` answer may be about the app rather
    /// than the user (slackapi/bolt-js#474), so it is confirmed with
    /// `conversations.info` before it is called done: when the app is in the channel,
    /// the user is not (done); when it is not, it joins a public channel and kicks
    /// again, and a private channel is an error asking for the app to be invited.
    async fn kick(&self, channel: &ChannelRef, user: &str) -> Result<Applied, AdapterError> {
        match self.kick_once(channel, user).await? {
            Some(applied) => return Ok(applied),
            None if self.app_is_in(channel).await? => return Ok(Applied::already_in_place()),
            None => {}
        }
        self.join(channel)
            .await
            .map_err(|e| app_not_in(e, channel))?;
        match self.kick_once(channel, user).await? {
            Some(applied) => Ok(applied),
            // The app is in now: the user is not.
            None => Ok(Applied::already_in_place()),
        }
    }

    /// One kick: `None` when Slack answered `not_in_channel` (whose, unknown yet).
    async fn kick_once(
        &self,
        channel: &ChannelRef,
        user: &str,
    ) -> Result<Option<Applied>, AdapterError> {
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
            Ok(r) => Ok(Some(Applied::changed().with_rate_limit(r.rate_limit))),
            Err(AdapterError::AlreadyDone { error })
                if error.code.as_deref() == Some("not_in_channel") =>
            {
                Ok(None)
            }
            // A user Slack does not know: already so.
            Err(AdapterError::AlreadyDone { .. } | AdapterError::NotFound { .. }) => {
                Ok(Some(Applied::already_in_place()))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the app itself is in the channel (`conversations.info`'s `is_member`).
    /// A private channel the app is not in is invisible to it (`channel_not_found`):
    /// not in.
    async fn app_is_in(&self, channel: &ChannelRef) -> Result<bool, AdapterError> {
        let reply = self
            .client
            .call(
                "conversations.info",
                TokenKind::Bot,
                &[("channel", channel.id.clone())],
                RequestKind::Read,
                &channel.name,
            )
            .await;
        match reply {
            Ok(reply) => Ok(parse::<ChannelInfo>(&reply.body)?.channel.is_member),
            Err(AdapterError::Configuration { error })
                if error.code.as_deref() == Some("channel_not_found") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The app joins a public channel (`conversations.join`, scope `channels:join`);
    /// a private one answers `method_not_supported_for_channel_type`, a
    /// [`Configuration`](AdapterError::Configuration) error asking for the app to be
    /// invited.
    async fn join(&self, channel: &ChannelRef) -> Result<(), AdapterError> {
        self.client
            .call(
                "conversations.join",
                TokenKind::Bot,
                &[("channel", channel.id.clone())],
                RequestKind::Write,
                &channel.name,
            )
            .await?;
        tracing::info!(channel = %channel.name, "the Slack app joined the public channel to manage its members");
        if let Ok(mut set) = self.app_not_in.lock() {
            set.remove(&channel.id);
        }
        Ok(())
    }

    /// Grants and revokes on one channel: the grants in one invite (per 1,000), the
    /// revokes one kick each.
    pub(super) async fn channel_batch(
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

    pub(super) async fn grants_of_channels(
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

/// The app is not in `channel` and could not join it: a
/// [`Configuration`](AdapterError::Configuration) error with Slack's code, naming the
/// channel and what to do.
fn app_not_in(join_error: AdapterError, channel: &ChannelRef) -> AdapterError {
    let said = join_error
        .system_error()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| join_error.to_string());
    AdapterError::Configuration {
        error: SystemError::new(
            Some(200),
            Some("not_in_channel".to_owned()),
            format!(
                "not_in_channel — the Slack app is not a member of channel {} and cannot \
                 join it ({said}): invite the app to the channel (or, for invites, configure \
                 credentials.admin_token so admin.conversations.invite can be used)",
                channel.name
            ),
        ),
    }
}
