//! The Directory API over HTTP: bearer auth, page tokens, and Google's error dialect
//! mapped onto [`AdapterError`]. Never sleeps, never retries.

use std::time::Duration;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_core::secret::ExposeSecret;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::{ConfigError, GoogleConfig, SCOPES};
use crate::credential::TokenProvider;
use crate::model::GroupsPage;
use crate::model::{ErrorBody, Member, MembersPage, User, UsersPage};

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

/// Classifies a Directory API error reply.
pub fn classify_error(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    kind: CallKind,
) -> AdapterError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let (reason, message) = match &parsed {
        Some(b) => (
            b.error.errors.iter().find_map(|e| e.reason.clone()),
            b.error
                .message
                .clone()
                .or_else(|| b.error.errors.iter().find_map(|e| e.message.clone()))
                .unwrap_or_default(),
        ),
        None => (None, body.chars().take(300).collect()),
    };
    let reason_is = |names: &[&str]| reason.as_deref().is_some_and(|r| names.contains(&r));
    let error = SystemError::new(Some(status), reason.clone(), message.clone());
    if status == 429 || (status == 403 && reason_is(&RATE_LIMIT_REASONS)) {
        return AdapterError::RateLimited {
            info: RateLimitInfo {
                retry_after,
                ..RateLimitInfo::default()
            },
            error,
        };
    }
    if status >= 500 || reason_is(&["backendError", "internalError"]) {
        return AdapterError::transient(error);
    }
    // a user created a moment ago is not usable everywhere yet
    if message.contains("creation is not complete") {
        return AdapterError::transient(error);
    }
    if kind == CallKind::ScopedList
        && matches!(status, 400 | 403 | 404)
        && !reason_is(&["accessNotConfigured"])
    {
        return AdapterError::Configuration {
            error: SystemError::new(
                Some(status),
                reason.clone(),
                format!(
                    "{message} (check the settings `customer_id` and `domain`: the admin must belong to that customer, and the domain to it)"
                ),
            ),
        };
    }
    match (status, kind) {
        (409, CallKind::Insert) => AdapterError::AlreadyDone { error },
        (409, _) | (412, _) => AdapterError::Conflict { error },
        (404, CallKind::Remove) => AdapterError::AlreadyDone { error },
        (404, _) => AdapterError::NotFound { error },
        (401 | 403, _) => AdapterError::Unauthorized { error },
        (400 | 422, _) => AdapterError::Invalid { error },
        _ => AdapterError::Permanent { error },
    }
}

/// Reads a `Retry-After` given in seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A Directory API client.
#[derive(Debug)]
pub struct DirectoryClient {
    http: reqwest::Client,
    base: Url,
    tokens: TokenProvider,
    customer: Option<String>,
    domain: Option<String>,
}

impl DirectoryClient {
    /// A client for `config`.
    pub fn new(config: &GoogleConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("provision-google/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Other {
                system: config.system_name.clone(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let tokens = TokenProvider::new(
            &config.key,
            &config.subject,
            &SCOPES,
            config.token_url.clone(),
            config.token_refresh_margin,
        )
        .map_err(|reason| {
            ConfigError::missing_credential(
                config.system_name.clone(),
                crate::config::KEY_CREDENTIAL,
                reason,
            )
        })?;
        Ok(DirectoryClient {
            http,
            base: config.base_url.clone(),
            tokens,
            customer: config.customer.clone(),
            domain: config.domain.clone(),
        })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["admin", "directory", "v1"])
                .extend(segments);
        }
        url
    }

    /// Sends one request; `Ok(None)` for an empty (204) reply.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        kind: CallKind,
    ) -> Result<Option<T>, AdapterError> {
        let token = self.tokens.access_token(&self.http).await?;
        let is_read = method == Method::GET;
        let mut request = self
            .http
            .request(method.clone(), self.url(segments))
            .bearer_auth(token.expose_secret());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            let maybe_applied = !is_read && !e.is_connect();
            AdapterError::Transient {
                error: SystemError::message(format!(
                    "{method} {}: {}",
                    segments.join("/"),
                    e.without_url()
                )),
                maybe_applied,
            }
        })?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let text = response.text().await.map_err(|e| AdapterError::Transient {
            error: SystemError::message(format!("reading the reply: {}", e.without_url())),
            maybe_applied: !is_read,
        })?;
        if !(200..300).contains(&status) {
            if status == 401 {
                self.tokens.invalidate().await;
            }
            let error = classify_error(status, retry, &text, kind);
            tracing::debug!(status, class = error.class(), "Directory API error");
            return Err(error);
        }
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AdapterError::Permanent {
                error: SystemError::new(Some(status), None, format!("unexpected reply: {e}")),
            })
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

fn empty_reply(what: &str) -> AdapterError {
    AdapterError::Permanent {
        error: SystemError::message(format!("{what} returned an empty reply")),
    }
}
