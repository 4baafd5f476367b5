//! HTTP to one GitLab instance, on [`provision_http`]: the API root, the token,
//! `Link` / `X-Next-Page` pagination and GitLab's error dialect.
//!
//! The client never sleeps and never retries: every response's `RateLimit-*` headers
//! become a [`RateLimitInfo`], every failure an [`AdapterError`] the executor
//! classifies.

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, StaticAuth};
use provision_http::classify::{ErrorDialect, default_class, json_system_error};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::paginate;
use provision_http::rate_limit::RateLimitParser;
use reqwest::Method;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::ConfigError;
use crate::config::{GitlabAuth, GitlabConfig};

/// The system's name in messages.
pub const SYSTEM: &str = "GitLab";

/// The header that names the throttle (the budget) a reply counts against.
pub const RATE_LIMIT_NAME: &str = "RateLimit-Name";

/// The largest page GitLab serves.
pub const PER_PAGE: u32 = 100;

/// GitLab's error dialect.
///
/// * The message is `message` (a string, or an object of field errors) or OAuth's
///   `error`/`error_description`; a 401/403 also gets the `WWW-Authenticate`
///   challenge and the `scope` GitLab names (`insufficient_scope`, `scope: api`).
/// * 409 `Member already exists` (and any "already exists" / "has already been
///   taken") is [`AdapterError::AlreadyDone`], as is a 400 refusing a level below
///   what the person inherits from an ancestor group ("… inherited membership from
///   group …": they already reach the resource at a higher level).
/// * 404 `Group Not Found` / `Project Not Found` is [`AdapterError::Configuration`]
///   (a policy or the `group` setting names a group or project that does not exist),
///   as is a 404 that is not GitLab's JSON at all (a wrong `base_url`); only GitLab's
///   own 404 for a member or a user is [`AdapterError::NotFound`].
/// * 429 with `RateLimit-*` or `Retry-After` is [`AdapterError::RateLimited`]; a 429
///   without any of them (gitlab.com's edge sometimes sends one) is
///   [`AdapterError::Transient`], so the executor backs off exponentially with jitter
///   instead of waiting a fixed time.
/// * 403 is [`AdapterError::Unauthorized`], naming the scope or the role missing
///   (`admin_mode` for an administrator's token where Admin Mode is on).
/// * Every reply's `RateLimit-Name` is its [`RateLimitInfo::bucket`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GitlabErrors;

impl ErrorDialect for GitlabErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let mut error = json_system_error(reply);
        let body: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
        if let Some(scope) = body
            .as_ref()
            .and_then(|b| b.get("scope"))
            .and_then(|s| s.as_str())
        {
            error.message = format!("{} (the token needs the scope `{scope}`)", error.message);
        }
        if matches!(reply.status, 401 | 403)
            && let Some(challenge) = reply
                .headers
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
        {
            error.message = format!("{} [WWW-Authenticate: {}]", error.message, challenge.trim());
        }
        error
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        let message = error.message.to_ascii_lowercase();
        let gitlab_json = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .is_some_and(|b| b.get("message").is_some() || b.get("error").is_some());
        match reply.status {
            409 if message.contains("already exists") || message.contains("already been taken") => {
                AdapterError::AlreadyDone { error }
            }
            // "Access level should be greater than or equal to Maintainer inherited
            // membership from group acme": the person already reaches the resource at
            // a higher level through an ancestor, so the grant's effect is in place.
            400 if message.contains("inherited membership") => AdapterError::AlreadyDone { error },
            404 if message.contains("group not found") || message.contains("project not found") => {
                let message = format!(
                    "{} — the group or project named does not exist or the token cannot see it \
                     (check the policy's target and settings.group)",
                    error.message
                );
                AdapterError::Configuration {
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            404 if !gitlab_json => {
                let message = format!(
                    "{} — not GitLab's answer: check the GitLab URL (settings.base_url)",
                    error.message
                );
                AdapterError::Configuration {
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            429 if reply
                .rate_limit
                .as_ref()
                .is_none_or(RateLimitInfo::is_empty) =>
            {
                let message = format!(
                    "{} (429 without rate-limit headers: backing off exponentially)",
                    error.message
                );
                AdapterError::transient(SystemError::new(error.status, error.code, message))
            }
            403 if !matches!(
                default_class(reply, error.clone()),
                AdapterError::RateLimited { .. }
            ) =>
            {
                let hint = if error.message.contains("scope") {
                    ""
                } else {
                    " (the token's user needs the Owner role on the group, or Maintainer on \
                     the project, to manage members; an instance administrator for users, \
                     whose token also needs the `admin_mode` scope where Admin Mode is on)"
                };
                AdapterError::Unauthorized {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!("{}{hint}", error.message),
                    ),
                }
            }
            _ => default_class(reply, error),
        }
    }
}

/// One page of a list: its items, the next page's URL, the rate-limit headers.
pub type ListPage<T> = (Vec<T>, Option<Url>, Option<RateLimitInfo>);

/// The GitLab HTTP client.
pub struct GitlabClient {
    http: HttpClient,
    auth: Auth,
    config: GitlabConfig,
}

impl std::fmt::Debug for GitlabClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabClient")
            .field("base_url", &self.config.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl GitlabClient {
    /// A client for the configured instance.
    pub fn new(config: GitlabConfig) -> Result<Self, ConfigError> {
        let http = HttpClient::builder(SYSTEM, config.api_url().as_str())
            .user_agent(concat!("provision-gitlab/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            // `RateLimit-Name` names the throttle a reply counts against
            // (`throttle_authenticated_api`, an endpoint's own limit): the budget tag.
            .rate_limit(RateLimitParser::new().bucket_header(RATE_LIMIT_NAME))
            .build()
            .map_err(|e| {
                ConfigError::invalid_setting(&config.system_name, "base_url", e.to_string())
            })?;
        let auth = match &config.auth {
            GitlabAuth::PrivateToken(t) => Auth::Static(StaticAuth::private_token(t.clone())),
            GitlabAuth::Bearer(t) => Auth::Static(StaticAuth::bearer(t.clone())),
        };
        Ok(Self { http, auth, config })
    }

    /// The configuration.
    pub fn config(&self) -> &GitlabConfig {
        &self.config
    }

    /// A URL under `/api/v4/`, segments given unencoded (a group's full path
    /// `acme/eng` becomes the one segment `acme%2Feng`, as GitLab wants it).
    pub fn url(&self, segments: &[&str]) -> Url {
        self.http.url(segments)
    }

    /// A URL under `/api/v4/` with a query.
    pub fn url_with(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.url(segments);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// A cursor handed back by a caller, as a URL on the instance; anything else is
    /// refused (credentials are never sent elsewhere).
    pub fn cursor_url(&self, cursor: &str) -> Result<Url, AdapterError> {
        let url = Url::parse(cursor).map_err(|_| AdapterError::Invalid {
            error: SystemError::message(format!("not a GitLab page cursor: {cursor:?}")),
        })?;
        self.http.ensure_same_origin(&url)?;
        Ok(url)
    }

    /// Sends one request; 2xx is `Ok`, anything else a classified [`AdapterError`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        tracing::debug!(method = %method, path = url.path(), "gitlab request");
        let kind = RequestKind::of(&method);
        let mut request = self
            .http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        self.http
            .send_authorized(&self.auth, request, kind)
            .await?
            .into_result(&GitlabErrors)
    }

    /// `GET` a JSON value.
    pub async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, AdapterError> {
        self.send(Method::GET, url, None).await?.json(SYSTEM)
    }

    /// `GET` one page of a list. The next page is `Link: rel="next"` when GitLab sends
    /// it (offset and keyset pagination alike), else the `X-Next-Page` number put
    /// into this page's URL; the last page has neither. Totals (`X-Total`,
    /// `X-Total-Pages`) are never read: GitLab drops them above 10,000 rows.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<ListPage<T>, AdapterError> {
        self.http.ensure_same_origin(&url)?;
        let response = self.send(Method::GET, url.clone(), None).await?;
        let items: Vec<T> = response.json(SYSTEM)?;
        let next = paginate::next_link(&response.headers).or_else(|| {
            paginate::next_page_header(&response.headers).map(|page| with_page(&url, page))
        });
        if next.as_ref() == Some(&url) {
            return Err(paginate::repeated_cursor(SYSTEM, url.as_str()));
        }
        Ok((items, next, response.rate_limit))
    }
}

impl GitlabClient {
    /// `GET` every page of a list from `url` on, following the next page to the end
    /// (a page URL that comes back is an error, never an endless walk).
    pub async fn get_all<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>, AdapterError> {
        let mut out = Vec::new();
        let mut guard = paginate::CursorGuard::new(SYSTEM);
        let mut next = Some(url);
        while let Some(url) = next {
            let (items, following, _) = self.get_page::<T>(url).await?;
            out.extend(items);
            if let Some(f) = &following {
                guard.visit(f.as_str())?;
            }
            next = following;
        }
        Ok(out)
    }
}

/// `url` with its `page` parameter set to `page`.
fn with_page(url: &Url, page: u64) -> Url {
    let mut out = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = out.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        q.append_pair("page", &page.to_string());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_http::classify::classify;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            rate_limit: None,
            kind: RequestKind::Write,
        }
    }

    #[test]
    fn gitlab_replies_are_classified_as_the_issue_says() {
        let class = |status, body| {
            classify(&GitlabErrors, &reply(status, body))
                .unwrap()
                .class()
        };
        assert_eq!(
            class(409, r#"{"message":"Member already exists"}"#),
            "already_done"
        );
        assert_eq!(class(404, r#"{"message":"404 Not found"}"#), "not_found");
        assert_eq!(
            class(
                400,
                r#"{"message":{"access_level":["should be greater than or equal to Maintainer inherited membership from group acme"]}}"#
            ),
            "already_done"
        );
        assert_eq!(
            class(
                400,
                r#"{"message":{"access_level":["is not included in the list"]}}"#
            ),
            "invalid"
        );
        assert_eq!(
            class(404, r#"{"message":"404 Group Not Found"}"#),
            "configuration"
        );
        assert_eq!(
            class(404, r#"{"message":"404 Project Not Found"}"#),
            "configuration"
        );
        assert_eq!(class(404, "<html>nginx</html>"), "configuration");
        assert_eq!(class(429, "Retry later"), "transient");
        assert_eq!(class(403, r#"{"message":"403 Forbidden"}"#), "unauthorized");
        let mut throttled = reply(429, "Retry later");
        throttled.rate_limit = Some(RateLimitInfo {
            retry_after: Some(std::time::Duration::from_secs(7)),
            ..RateLimitInfo::default()
        });
        assert_eq!(
            classify(&GitlabErrors, &throttled).unwrap().class(),
            "rate_limited"
        );
        let e = classify(
            &GitlabErrors,
            &reply(
                403,
                r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}"#,
            ),
        )
        .unwrap();
        assert!(e.to_string().contains("scope `api`"), "{e}");
    }

    #[test]
    fn the_next_page_number_goes_into_the_url() {
        let url = Url::parse("https://g.example.com/api/v4/groups/1/members?per_page=100&page=1")
            .unwrap();
        assert_eq!(
            with_page(&url, 2).as_str(),
            "https://g.example.com/api/v4/groups/1/members?per_page=100&page=2"
        );
    }
}
