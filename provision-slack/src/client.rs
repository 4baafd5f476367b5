//! HTTP to one Slack organisation, on [`provision_http`]: the Web API (form posts and
//! query reads, `ok:false` bodies classified per method) and SCIM 2.0.
//!
//! The client never sleeps and never retries: a 429's `Retry-After` becomes the
//! [`RateLimitInfo::retry_after`] of an [`AdapterError::RateLimited`] tagged with the
//! method's budget (or the SCIM read/write budget), and the executor waits exactly
//! that long.

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, StaticAuth};
use provision_http::classify::{ErrorDialect, default_class, is_scim_error, json_system_error};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde_json::Value;
use url::Url;

use crate::config::ConfigError;
use crate::config::SlackConfig;
use crate::descriptor::{
    BUDGET_SCIM_READ, BUDGET_SCIM_USER_READ, BUDGET_SCIM_USER_WRITE, BUDGET_SCIM_WRITE,
    budget_of_method,
};

/// The system's name in messages.
pub const SYSTEM: &str = "Slack";

/// Which token a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The bot token (`conversations.*`, `users.*`, `usergroups.*`).
    Bot,
    /// The Enterprise org-admin token (`admin.*`).
    Admin,
    /// The SCIM token.
    Scim,
}

impl TokenKind {
    /// The credential's name in `provision.yaml`.
    pub fn credential(self) -> &'static str {
        match self {
            TokenKind::Bot => "bot_token",
            TokenKind::Admin => "admin_token",
            TokenKind::Scim => "scim_token",
        }
    }
}

/// The class of a Slack error code *for one method*: the same code means different
/// things in different methods (`not_in_channel` is "already done" for
/// `conversations.kick` and "the app is not in the channel" for
/// `conversations.invite`). `context` (a channel or group name) goes into the
/// messages that need it.
pub fn classify_code(
    method: &str,
    error: SystemError,
    kind: RequestKind,
    context: &str,
) -> AdapterError {
    let code = error.code.clone().unwrap_or_default();
    let with = |error: SystemError, note: String| {
        SystemError::new(
            error.status,
            error.code,
            format!("{} — {note}", error.message),
        )
    };
    match (method, code.as_str()) {
        ("conversations.invite", "already_in_channel") => AdapterError::AlreadyDone { error },
        // On an invite, `not_in_channel` is about the *caller*: the app is not in the
        // channel, so it cannot invite anyone. Never about the invitee.
        ("conversations.invite", "not_in_channel") => AdapterError::Configuration {
            error: with(
                error,
                format!(
                    "the Slack app is not a member of channel {context}: add the app to the \
                     channel, or configure credentials.admin_token (Enterprise) so \
                     admin.conversations.invite can be used"
                ),
            ),
        },
        // On a kick, `not_in_channel` means the *app* is not in the channel as often as
        // it means the user is not (slackapi/bolt-js#474): the adapter confirms with
        // `conversations.info` before it calls this done.
        ("conversations.kick", "not_in_channel") => AdapterError::AlreadyDone { error },
        // A workspace setting keeps this token from removing or adding members.
        ("conversations.kick", "restricted_action") => AdapterError::Permanent {
            error: with(
                error,
                format!(
                    "channel {context}: the workspace's settings do not let the app remove \
                     members (Workspace settings → Permissions → Channel Management: \
                     \"People who can remove members from public channels\" / \"… from \
                     private channels\"); allow it there, or remove the member by hand"
                ),
            ),
        },
        ("conversations.invite" | "admin.conversations.invite", "restricted_action") => {
            AdapterError::Permanent {
                error: with(
                    error,
                    format!(
                        "channel {context}: the workspace's settings do not let the app add \
                         members (Workspace settings → Permissions → Channel Management: \
                         who can add members to channels, and the posting permissions of \
                         this channel)"
                    ),
                ),
            }
        }
        ("conversations.join", "method_not_supported_for_channel_type") => {
            AdapterError::Configuration {
                error: with(
                    error,
                    format!(
                        "channel {context} is private: the app cannot join it by itself; \
                         invite the app to the channel"
                    ),
                ),
            }
        }
        (
            "conversations.invite" | "conversations.kick" | "admin.conversations.invite",
            "is_archived"
            | "cant_kick_from_general"
            | "cant_kick_self"
            | "cant_invite_self"
            | "cant_invite"
            | "user_is_restricted"
            | "user_is_ultra_restricted"
            | "ura_max_channels"
            | "method_not_supported_for_channel_type",
        ) => AdapterError::Permanent {
            error: with(error, format!("channel {context}")),
        },
        ("admin.users.session.reset", "cannot_reset_bot" | "cannot_reset_primary_owner") => {
            AdapterError::Permanent { error }
        }
        // (unverified) the documented code for deactivating someone already deactivated.
        ("admin.users.deactivate", "user_already_deactivated" | "user_already_deleted") => {
            AdapterError::AlreadyDone { error }
        }
        // An org-wide app's token (Enterprise Grid) on a method that lists one
        // workspace's users, channels or groups: the workspace must be named.
        (m, "missing_argument") if TEAM_SCOPED_METHODS.contains(&m) => {
            AdapterError::Configuration {
                error: with(
                    error,
                    format!(
                        "{m} needs the workspace: the token is an org-wide app's (Enterprise \
                         Grid); set settings.team_id to the workspace's id (T…), or use a \
                         workspace app's token"
                    ),
                ),
            }
        }
        (_, "channel_not_found") => AdapterError::Configuration {
            error: with(
                error,
                format!(
                    "channel {context} does not exist or the app cannot see it (private \
                     channels need the app invited, and the groups:* scopes)"
                ),
            ),
        },
        (_, "no_such_subteam" | "subteam_not_found") => AdapterError::Configuration {
            error: with(error, format!("no user group {context}")),
        },
        (_, "user_not_found" | "users_not_found" | "user_not_visible") => {
            AdapterError::NotFound { error }
        }
        (_, "ratelimited" | "rate_limited") => AdapterError::RateLimited {
            info: RateLimitInfo::default(),
            error,
        },
        (
            _,
            "not_authed" | "invalid_auth" | "account_inactive" | "token_revoked" | "token_expired"
            | "no_permission" | "ekm_access_denied",
        ) => AdapterError::Unauthorized { error },
        (
            _,
            "missing_scope"
            | "not_allowed_token_type"
            | "not_an_admin"
            | "not_an_enterprise"
            | "feature_not_enabled"
            | "access_denied"
            | "team_access_not_granted"
            | "org_login_required"
            | "plan_upgrade_required"
            | "permission_denied"
            | "unknown_method"
            | "enterprise_is_restricted"
            | "two_factor_setup_required",
        ) => AdapterError::Configuration { error },
        (_, "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout") => {
            AdapterError::Transient {
                error,
                maybe_applied: kind.is_write(),
            }
        }
        (
            _,
            "invalid_arguments" | "invalid_arg_name" | "invalid_array_arg" | "invalid_charset"
            | "invalid_form_data" | "invalid_post_type" | "missing_post_type" | "invalid_cursor"
            | "invalid_users" | "no_users_provided" | "too_many_users" | "no_user" | "invalid_json"
            | "json_not_object",
        ) => AdapterError::Invalid { error },
        _ => AdapterError::Permanent { error },
    }
}

/// Slack's Web API error dialect for one method: a 2xx body with `ok:false` is an
/// error whose code is `error` (a `missing_scope` names the `needed` scope), classified
/// by [`classify_code`]; 429 is rate limited by `Retry-After`; a 404 or an HTML page
/// is not Slack's Web API (a wrong `api_url`): [`AdapterError::Configuration`].
#[derive(Debug, Clone)]
pub struct SlackErrors<'a> {
    /// The method called.
    pub method: &'a str,
    /// A channel or group name for messages.
    pub context: &'a str,
}

impl ErrorDialect for SlackErrors<'_> {
    fn body_error(&self, reply: &HttpResponse) -> Option<SystemError> {
        ok_false(reply)
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        if reply.is_success() {
            return classify_code(self.method, error, reply.kind, self.context);
        }
        match default_class(reply, error) {
            AdapterError::NotFound { error } | AdapterError::Invalid { error }
                if reply.status == 404 || reply.status == 405 =>
            {
                AdapterError::Configuration {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!(
                            "{} — not Slack's Web API answering {}: check settings.api_url",
                            error.message, self.method
                        ),
                    ),
                }
            }
            other => other,
        }
    }
}

/// `ok:false` → Slack's code, with `needed`/`provided` scopes for `missing_scope`
/// and `response_metadata.messages` when given.
pub fn ok_false(reply: &HttpResponse) -> Option<SystemError> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    if body.get("ok")?.as_bool()? {
        return None;
    }
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error")
        .to_owned();
    let mut message = code.clone();
    if let Some(needed) = body.get("needed").and_then(Value::as_str) {
        message.push_str(&format!(": the token lacks the scope `{needed}`"));
        if let Some(provided) = body.get("provided").and_then(Value::as_str) {
            message.push_str(&format!(" (it has: {provided})"));
        }
    }
    if let Some(messages) = body
        .pointer("/response_metadata/messages")
        .and_then(Value::as_array)
    {
        let texts: Vec<&str> = messages.iter().filter_map(Value::as_str).collect();
        if !texts.is_empty() {
            message.push_str(&format!(" ({})", texts.join("; ")));
        }
    }
    Some(SystemError::new(Some(reply.status), Some(code), message))
}

/// SCIM's dialect: the status table; a 404 is "no such user" only when the body is a
/// SCIM error (`urn:…:Error` schema, or Slack's v1 `Errors` object); any other 404 is
/// a wrong `scim_url` ([`AdapterError::Configuration`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScimErrors;

impl ErrorDialect for ScimErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let mut e = json_system_error(reply);
        if let Ok(body) = serde_json::from_slice::<Value>(&reply.body)
            && let Some(desc) = body.pointer("/Errors/description").and_then(Value::as_str)
        {
            e.message = desc.to_owned();
        }
        e
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        match default_class(reply, error) {
            AdapterError::NotFound { error } if !is_scim_error(reply) => {
                AdapterError::Configuration {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!(
                            "{} — not a SCIM service's answer: check settings.scim_url",
                            error.message
                        ),
                    ),
                }
            }
            other => other,
        }
    }
}

/// The Slack HTTP client: one for the Web API, one for SCIM, one credential per
/// configured token.
pub struct SlackClient {
    web: HttpClient,
    scim: HttpClient,
    bot: Option<Auth>,
    admin: Option<Auth>,
    scim_auth: Option<Auth>,
    config: SlackConfig,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A successful Web API reply: the body and the headroom it announced.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The JSON body (`ok: true`, or an `ok:false` the caller settles itself).
    pub body: Value,
    /// Rate-limit headroom, in the method's budget.
    pub rate_limit: Option<RateLimitInfo>,
}

impl SlackClient {
    /// A client for the configuration.
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        let build = |base: &Url| {
            HttpClient::builder(SYSTEM, base.as_str())
                .user_agent(concat!("provision-slack/", env!("CARGO_PKG_VERSION")))
                .timeout(config.timeout)
                .build()
                .map_err(|e| ConfigError::Other {
                    system: config.system_name.clone(),
                    message: format!("the HTTP client cannot be built: {e}"),
                })
        };
        let bearer = |t: &Option<provision_core::secret::SecretString>| {
            t.clone().map(|t| Auth::Static(StaticAuth::bearer(t)))
        };
        Ok(Self {
            web: build(&config.api_url)?,
            scim: build(&config.scim_url)?,
            bot: bearer(&config.bot_token),
            admin: bearer(&config.admin_token),
            scim_auth: bearer(&config.scim_token),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SlackConfig {
        &self.config
    }

    fn auth(&self, token: TokenKind) -> Result<&Auth, AdapterError> {
        let auth = match token {
            TokenKind::Bot => self.bot.as_ref(),
            TokenKind::Admin => self.admin.as_ref(),
            TokenKind::Scim => self.scim_auth.as_ref(),
        };
        auth.ok_or_else(|| AdapterError::Configuration {
            error: SystemError::message(format!(
                "Slack: this needs credentials.{} ({})",
                token.credential(),
                match token {
                    TokenKind::Bot => "a bot token, xoxb-",
                    TokenKind::Admin => "an Enterprise org-admin user token, xoxp-",
                    TokenKind::Scim => "a SCIM token with the admin scope",
                }
            )),
        })
    }

    /// Sends one Web API call and returns the reply **before** looking at `ok`:
    /// HTTP-level failures (429, 5xx, a wrong URL) are classified; an `ok:false` body
    /// is the caller's to settle (partial answers carry per-user detail). Reads go as
    /// `GET` with a query, writes as a form `POST`; the token always rides in
    /// `Authorization: Bearer`, never in the URL.
    pub async fn send(
        &self,
        method: &str,
        token: TokenKind,
        params: &[(&str, String)],
        kind: RequestKind,
        context: &str,
    ) -> Result<Reply, AdapterError> {
        let auth = self.auth(token)?;
        let url = self.web.url(&[method]);
        tracing::debug!(method, "slack call");
        let mut params = params.to_vec();
        if let Some(team) = &self.config.team_id
            && TEAM_SCOPED_METHODS.contains(&method)
        {
            params.push(("team_id", team.clone()));
        }
        let params = params.as_slice();
        let request = match kind {
            RequestKind::Read => self.web.reqwest().get(url).query(params),
            RequestKind::Write => self.web.reqwest().post(url).form(params),
        }
        .header(ACCEPT, "application/json");
        let budget = budget_of_method(method);
        let dialect = SlackErrors { method, context };
        let reply = self
            .web
            .send_authorized(auth, request, kind)
            .await
            .map_err(|e| tag_error(e, budget))?
            .in_bucket(budget);
        if !reply.is_success() {
            return Err(tag_error(
                reply
                    .into_result(&dialect)
                    .err()
                    .unwrap_or_else(|| AdapterError::Permanent {
                        error: SystemError::message("unclassified reply"),
                    }),
                budget,
            ));
        }
        let body: Value = reply.json(SYSTEM)?;
        Ok(Reply {
            body,
            rate_limit: Some(reply.rate_limit.unwrap_or_else(|| RateLimitInfo {
                bucket: Some(budget.to_owned()),
                ..RateLimitInfo::default()
            })),
        })
    }

    /// [`SlackClient::send`], then `ok:false` classified for `method`.
    pub async fn call(
        &self,
        method: &str,
        token: TokenKind,
        params: &[(&str, String)],
        kind: RequestKind,
        context: &str,
    ) -> Result<Reply, AdapterError> {
        let reply = self.send(method, token, params, kind, context).await?;
        match error_of(&reply.body) {
            None => Ok(reply),
            Some(error) => Err(tag_error(
                classify_code(method, error, kind, context),
                budget_of_method(method),
            )),
        }
    }

    /// One SCIM request (`segments` under the SCIM base); 2xx is `Ok`.
    pub async fn scim(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<HttpResponse, AdapterError> {
        let auth = self.auth(TokenKind::Scim)?;
        let kind = RequestKind::of(&method);
        let budget = scim_budget(kind, segments);
        let mut request = self
            .scim
            .reqwest()
            .request(method, self.scim.url(segments))
            .header(ACCEPT, "application/scim+json, application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self
            .scim
            .send_authorized(auth, request, kind)
            .await
            .map_err(|e| tag_error(e, budget))?;
        let mut reply = reply.in_bucket(budget);
        // Slack's SCIM answers carry no rate-limit headers: the budget is named
        // anyway, so the executor paces each kind of request in its own budget from
        // the first answer on.
        if reply.rate_limit.is_none() {
            reply.rate_limit = Some(RateLimitInfo {
                bucket: Some(budget.to_owned()),
                ..RateLimitInfo::default()
            });
        }
        reply
            .into_result(&ScimErrors)
            .map_err(|e| tag_error(e, budget))
    }
}

/// The rate budget a SCIM request counts against: Slack's per-endpoint limits
/// (docs.slack.dev/reference/scim-api/rate-limits) where they are stricter than the
/// org-wide ones — user writes 180/min with a burst of 20, one user's read 300/min —
/// else the org-wide read (1,000/min) or write (600/min) budget.
pub fn scim_budget(kind: RequestKind, segments: &[&str]) -> &'static str {
    let users = segments.first() == Some(&"Users");
    match (kind, users, segments.len()) {
        (RequestKind::Write, true, _) => BUDGET_SCIM_USER_WRITE,
        (RequestKind::Read, true, 2) => BUDGET_SCIM_USER_READ,
        (RequestKind::Read, _, _) => BUDGET_SCIM_READ,
        (RequestKind::Write, _, _) => BUDGET_SCIM_WRITE,
    }
}

/// The Web API methods that need the workspace's `team_id` when the token is an
/// org-wide app's (Enterprise Grid): sent with
/// [`SlackConfig::team_id`](crate::config::SlackConfig::team_id) when it is set.
pub const TEAM_SCOPED_METHODS: &[&str] = &[
    "conversations.list",
    "users.list",
    "users.conversations",
    "usergroups.list",
    "usergroups.users.list",
    "usergroups.users.update",
];

/// The `ok:false` error of a parsed body, if any.
pub fn error_of(body: &Value) -> Option<SystemError> {
    if body.get("ok").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let reply = HttpResponse {
        status: 200,
        headers: reqwest::header::HeaderMap::new(),
        body: serde_json::to_vec(body).unwrap_or_default(),
        rate_limit: None,
        kind: RequestKind::Read,
    };
    ok_false(&reply)
}

/// Puts a throttled error's wait in its budget, so one method's 429 never pauses
/// another method.
fn tag_error(error: AdapterError, budget: &str) -> AdapterError {
    match error {
        AdapterError::RateLimited { mut info, error } => {
            if info.bucket.is_none() {
                info.bucket = Some(budget.to_owned());
            }
            AdapterError::RateLimited { info, error }
        }
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(c: &str) -> SystemError {
        SystemError::new(Some(200), Some(c.to_owned()), c)
    }

    #[test]
    fn not_in_channel_means_two_things() {
        let invite = classify_code(
            "conversations.invite",
            code("not_in_channel"),
            RequestKind::Write,
            "#eng",
        );
        assert_eq!(invite.class(), "configuration");
        assert!(invite.to_string().contains("#eng"), "{invite}");
        let kick = classify_code(
            "conversations.kick",
            code("not_in_channel"),
            RequestKind::Write,
            "#eng",
        );
        assert_eq!(kick.class(), "already_done");
    }

    #[test]
    fn permanent_codes_keep_slacks_code() {
        for (method, c) in [
            ("conversations.invite", "is_archived"),
            ("conversations.kick", "cant_kick_from_general"),
            ("conversations.kick", "restricted_action"),
        ] {
            let e = classify_code(method, code(c), RequestKind::Write, "#general");
            assert_eq!(e.class(), "permanent", "{method} {c}");
            assert_eq!(e.system_error().unwrap().code.as_deref(), Some(c));
        }
    }
}
