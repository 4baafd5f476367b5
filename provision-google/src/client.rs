//! The Directory API over HTTP, on [`provision_http`]: bearer auth from the
//! service account's JWT-bearer grant, page tokens, and Google's error dialect mapped
//! onto [`AdapterError`]. Never sleeps, never retries.

use std::sync::Arc;

use provision_core::adapter::{AdapterError, SystemError};
use provision_http::auth::{Auth, TokenCache};
use provision_http::classify::{ErrorDialect, default_class};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::config::{
    ConfigError, DIRECTORY_SCOPES, GoogleConfig, SCOPE_USER_SECURITY, SIGN_OUT_SCOPES,
};
use crate::model::GroupsPage;
use crate::model::{ErrorBody, Member, MembersPage, User, UsersPage};

/// The system's name in messages.
pub const SYSTEM: &str = "Google";

/// The largest page `users.list` allows.
pub const USERS_PAGE_SIZE: u32 = 500;
/// The largest page `members.list` allows.
pub const MEMBERS_PAGE_SIZE: u32 = 200;
/// The largest page `groups.list` allows.
pub const GROUPS_PAGE_SIZE: u32 = 200;

/// Error reasons Google uses for throttling (on 403 as well as 429).
const RATE_LIMIT_REASONS: [&str; 5] = [
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "concurrentLimitExceeded",
];

/// What a call does, which decides what "already exists" and "not found" mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A read: 404 is "not found".
    Read,
    /// An insert: 409 `duplicate` is "already done".
    Insert,
    /// A delete or removal: 404 is "already done".
    Remove,
    /// An update: 404 is "not found"; 409 is a conflict to confirm by reading.
    Update,
    /// A list scoped by the configured `customer` or `domain` (users.list,
    /// groups.list): a 400, a 404 or a non-throttling 403 says the customer id or the
    /// domain is wrong (`Bad Request`, `Domain not found.`, `Not Authorized to access
    /// this resource/api`) — a configuration error, never an empty tenant.
    ScopedList,
}

/// Google's error dialect for one kind of call: the first `errors[].reason` is the
/// code, `error.message` the message; throttling comes as 403 with a reason as well
/// as 429; 409 on an insert and 404 on a removal are "already done".
#[derive(Debug, Clone, Copy)]
pub struct GoogleErrors {
    /// What the call does.
    pub kind: CallKind,
}

impl ErrorDialect for GoogleErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let (reason, message) = match serde_json::from_slice::<ErrorBody>(&reply.body) {
            Ok(b) => (
                b.error.errors.iter().find_map(|e| e.reason.clone()),
                b.error
                    .message
                    .clone()
                    .or_else(|| b.error.errors.iter().find_map(|e| e.message.clone()))
                    .unwrap_or_default(),
            ),
            Err(_) => (
                None,
                String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(300)
                    .collect(),
            ),
        };
        SystemError::new(Some(reply.status), reason, message)
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        let status = reply.status;
        let reason_is = |names: &[&str]| error.code.as_deref().is_some_and(|r| names.contains(&r));
        if status == 429 || (status == 403 && reason_is(&RATE_LIMIT_REASONS)) {
            return AdapterError::RateLimited {
                info: reply.rate_limit.clone().unwrap_or_default(),
                error,
            };
        }
        if status >= 500 {
            return default_class(reply, error);
        }
        // a user created a moment ago is not usable everywhere yet
        if reason_is(&["backendError", "internalError"])
            || error.message.contains("creation is not complete")
        {
            return AdapterError::transient(error);
        }
        // a list scoped by the configured customer or domain: a 400, a 404 or a
        // non-throttling 403 says the customer id or the domain is wrong, never that
        // the tenant is empty
        if self.kind == CallKind::ScopedList
            && matches!(status, 400 | 403 | 404)
            && !reason_is(&["accessNotConfigured"])
        {
            let message = format!(
                "{} (check the settings `customer_id` and `domain`: the admin must belong to that customer, and the domain to it)",
                error.message
            );
            return AdapterError::Configuration {
                error: SystemError::new(Some(status), error.code.clone(), message),
            };
        }
        match (status, self.kind) {
            (409, CallKind::Insert) | (404, CallKind::Remove) => {
                AdapterError::AlreadyDone { error }
            }
            _ => default_class(reply, error),
        }
    }
}

/// A Directory API client.
#[derive(Debug)]
pub struct DirectoryClient {
    http: HttpClient,
    /// The token of every call but sign-out ([`DIRECTORY_SCOPES`]).
    auth: Auth,
    /// The token of users.signOut ([`SIGN_OUT_SCOPES`]).
    sign_out_auth: Auth,
    customer: Option<String>,
    domain: Option<String>,
}

impl DirectoryClient {
    /// A client for `config`.
    pub fn new(config: &GoogleConfig) -> Result<Self, ConfigError> {
        let http = HttpClient::builder(SYSTEM, config.base_url.as_str())
            .user_agent(concat!("provision-google/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .build()
            .map_err(|e| {
                ConfigError::invalid_setting(config.system_name.clone(), "base_url", e.to_string())
            })?;
        // one token per scope set: a delegation lacking one scope of a token request
        // fails the whole request
        let tokens = |scopes: &[&str]| {
            let source = config
                .key
                .token_source(&config.subject, scopes, config.token_url.clone())
                .map_err(|reason| {
                    ConfigError::missing_credential(
                        config.system_name.clone(),
                        crate::config::KEY_CREDENTIAL,
                        reason,
                    )
                })?;
            Ok::<_, ConfigError>(Auth::OAuth(Arc::new(TokenCache::new(
                source,
                http.clone(),
                config.token_refresh_margin,
            ))))
        };
        Ok(DirectoryClient {
            auth: tokens(&DIRECTORY_SCOPES)?,
            sign_out_auth: tokens(&SIGN_OUT_SCOPES)?,
            http,
            customer: config.customer.clone(),
            domain: config.domain.clone(),
        })
    }

    /// `users.signOut` with its own token. When the token endpoint refuses that token
    /// (`unauthorized_client`: the domain-wide delegation lacks
    /// `admin.directory.user.security`), sign-out is [`AdapterError::Unsupported`] with
    /// the scope named: a configuration gap, while every other call keeps working.
    pub async fn sign_out(&self, user_key: &str) -> Result<(), AdapterError> {
        if let Err(e) = self
            .sign_out_auth
            .apply(&mut reqwest::header::HeaderMap::new())
            .await
        {
            return Err(match e {
                AdapterError::Unauthorized { error }
                    if matches!(
                        error.code.as_deref(),
                        Some("unauthorized_client" | "access_denied" | "invalid_scope")
                    ) =>
                {
                    AdapterError::Unsupported {
                        what: format!(
                            "revoke_sessions: the service account's domain-wide delegation does not grant the scope {SCOPE_USER_SECURITY} that users.signOut needs (token endpoint: {error})"
                        ),
                    }
                }
                other => other,
            });
        }
        self.call_with::<serde_json::Value>(
            &self.sign_out_auth,
            Method::POST,
            &["users", user_key, "signOut"],
            &[],
            None,
            CallKind::Update,
        )
        .await?;
        Ok(())
    }

    /// Sends one request; `Ok(None)` for an empty (204) reply. A 401 drops the cached
    /// token and the request goes once more with a new one.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        kind: CallKind,
    ) -> Result<Option<T>, AdapterError> {
        self.call_with(&self.auth, method, segments, query, body, kind)
            .await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        auth: &Auth,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        kind: CallKind,
    ) -> Result<Option<T>, AdapterError> {
        let path: Vec<&str> = ["admin", "directory", "v1"]
            .into_iter()
            .chain(segments.iter().copied())
            .collect();
        let request_kind = RequestKind::of(&method);
        let mut request = self.http.reqwest().request(method, self.http.url(&path));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self
            .http
            .send_authorized(auth, request, request_kind)
            .await?
            .into_result(&GoogleErrors { kind })
            .map_err(|e| missing_group(e, segments))
            .inspect_err(|e| tracing::debug!(class = e.class(), "Directory API error"))?;
        if reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        reply.json(SYSTEM).map(Some)
    }

    /// One page of users (`users.list`, customer or domain, 500 per page).
    pub async fn list_users(
        &self,
        page_token: Option<&str>,
        search: Option<&str>,
    ) -> Result<UsersPage, AdapterError> {
        let max = USERS_PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = Vec::new();
        // users.list fails without customer or domain
        match (&self.domain, &self.customer) {
            (Some(domain), _) => query.push(("domain", domain)),
            (None, Some(customer)) => query.push(("customer", customer)),
            (None, None) => query.push(("customer", crate::config::MY_CUSTOMER)),
        }
        query.push(("maxResults", &max));
        if let Some(q) = search {
            query.push(("query", q));
        }
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        Ok(self
            .call(Method::GET, &["users"], &query, None, CallKind::ScopedList)
            .await?
            .unwrap_or_default())
    }

    fn scope_query(&self) -> (&'static str, &str) {
        match (&self.domain, &self.customer) {
            (Some(domain), _) => ("domain", domain),
            (None, Some(customer)) => ("customer", customer),
            (None, None) => ("customer", crate::config::MY_CUSTOMER),
        }
    }

    /// One page of the customer's (or domain's) groups (`groups.list`, 200 per page).
    pub async fn list_groups(&self, page_token: Option<&str>) -> Result<GroupsPage, AdapterError> {
        let max = GROUPS_PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = vec![self.scope_query(), ("maxResults", &max)];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        Ok(self
            .call(Method::GET, &["groups"], &query, None, CallKind::ScopedList)
            .await?
            .unwrap_or_default())
    }

    /// One page of the groups a user is a direct member of (`groups.list?userKey=`,
    /// 200 per page; Google refuses `customer`/`domain` with `userKey`).
    pub async fn list_user_groups(
        &self,
        user_key: &str,
        page_token: Option<&str>,
    ) -> Result<GroupsPage, AdapterError> {
        let max = GROUPS_PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = vec![("userKey", user_key), ("maxResults", &max)];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        Ok(self
            .call(Method::GET, &["groups"], &query, None, CallKind::Read)
            .await?
            .unwrap_or_default())
    }

    /// One page of a group's members (`members.list`, 200 per page).
    pub async fn list_members(
        &self,
        group: &str,
        page_token: Option<&str>,
    ) -> Result<MembersPage, AdapterError> {
        let max = MEMBERS_PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = vec![("maxResults", &max)];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        Ok(self
            .call(
                Method::GET,
                &["groups", group, "members"],
                &query,
                None,
                CallKind::Read,
            )
            .await?
            .unwrap_or_default())
    }

    /// `users.get`.
    pub async fn get_user(&self, user_key: &str) -> Result<User, AdapterError> {
        self.call(Method::GET, &["users", user_key], &[], None, CallKind::Read)
            .await?
            .ok_or_else(|| empty_reply("users.get"))
    }

    /// `users.get` for a person's own account. `users.get` also resolves aliases, so
    /// an email key must be the user's **primary** email: a user found by an alias is
    /// someone else's account and reads as [`AdapterError::NotFound`] (the rule create
    /// uses when it adopts). An id key is taken as it is.
    pub async fn get_account(&self, user_key: &str) -> Result<User, AdapterError> {
        let user = self.get_user(user_key).await?;
        if user_key.contains('@') && !user.primary_email.eq_ignore_ascii_case(user_key) {
            return Err(AdapterError::NotFound {
                error: SystemError::message(format!(
                    "no user has the primary email {user_key}: it is an alias of {}",
                    user.primary_email
                )),
            });
        }
        Ok(user)
    }

    /// `members.get`.
    pub async fn get_member(&self, group: &str, member: &str) -> Result<Member, AdapterError> {
        self.call(
            Method::GET,
            &["groups", group, "members", member],
            &[],
            None,
            CallKind::Read,
        )
        .await?
        .ok_or_else(|| empty_reply("members.get"))
    }
}

/// A 404 about the `groupKey` of a `groups/{group}/…` call: the group itself does not
/// exist, which is a configuration error naming the group (a policy names a group that
/// is not there), never "not a member" or "already removed". Only a missing
/// `memberKey` means the membership is absent.
fn missing_group(error: AdapterError, segments: &[&str]) -> AdapterError {
    let (
        ["groups", group, _, ..],
        AdapterError::NotFound { error: e } | AdapterError::AlreadyDone { error: e },
    ) = (segments, &error)
    else {
        return error;
    };
    if e.status != Some(404) || !e.message.contains("groupKey") {
        return error;
    }
    AdapterError::Configuration {
        error: SystemError::new(
            e.status,
            e.code.clone(),
            format!(
                "{} (the group {group} does not exist: check the group's address in the policy)",
                e.message
            ),
        ),
    }
}

fn empty_reply(what: &str) -> AdapterError {
    AdapterError::Permanent {
        error: SystemError::message(format!("{what} returned an empty reply")),
    }
}
