//! HTTP to GitHub, on [`provision_http`]: the API root, the token (PAT or GitHub App
//! installation token), `Link` pagination and GitHub's error dialect, including its
//! two kinds of rate limit that both can look like a 403.
//!
//! The client never sleeps and never retries: every reply's `x-ratelimit-*` headers
//! become a [`RateLimitInfo`], every failure an [`AdapterError`] the executor
//! classifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_core::clock::Clock;
use provision_http::auth::{Auth, StaticAuth, TokenCache};
use provision_http::classify::{ErrorDialect, default_class, json_system_error};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::paginate;
use provision_http::rate_limit::RateLimitParser;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;
use url::Url;

use crate::app::{InstallationTokenSource, REFRESH_MARGIN};
use crate::config::{ConfigError, GithubAuth, GithubConfig};

/// The system's name in messages.
pub const SYSTEM: &str = "GitHub";
/// The `Accept` header: GitHub's own media type first (what GitHub recommends), plain
/// JSON as the fallback its description declares (so a server reading only the
/// description, like Prism, can answer too).
pub const MEDIA_TYPE: &str = "application/vnd.github+json, application/json";
/// The REST API version the adapter is written against.
pub const API_VERSION: &str = "2022-11-28";
/// The largest page GitHub serves.
pub const PER_PAGE: u32 = 100;
/// The shortest wait after a secondary rate limit without `retry-after` (GitHub: "at
/// least one minute"), doubled for each one in a row up to [`SECONDARY_MAX`].
pub const SECONDARY_MIN: Duration = Duration::from_secs(60);
/// The longest wait after secondary rate limits in a row.
pub const SECONDARY_MAX: Duration = Duration::from_secs(16 * 60);

/// Which limit a throttled reply hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The primary (hourly) budget: `x-ratelimit-remaining: 0`, wait for the reset.
    Primary,
    /// A secondary limit: `retry-after`, or a message saying so.
    Secondary,
}

/// Which limit, if any, a 403 or 429 reply is: the primary limit says
/// `x-ratelimit-remaining: 0`; a secondary limit sends `retry-after` or says "secondary
/// rate limit" (or "abuse") in its message; a 429 is always a limit. A 403 with none
/// of these is a permission error.
pub fn throttle_of(reply: &HttpResponse, message: &str) -> Option<Throttle> {
    if !matches!(reply.status, 403 | 429) {
        return None;
    }
    if reply
        .rate_limit
        .as_ref()
        .is_some_and(|r| r.remaining == Some(0))
    {
        return Some(Throttle::Primary);
    }
    let m = message.to_ascii_lowercase();
    if reply.headers.contains_key(RETRY_AFTER)
        || m.contains("secondary rate limit")
        || m.contains("abuse")
        || m.contains("rate limit")
        || reply.status == 429
    {
        return Some(Throttle::Secondary);
    }
    None
}

/// GitHub's error dialect.
///
/// * 403/429 with `x-ratelimit-remaining: 0` is the primary limit:
///   [`AdapterError::RateLimited`] until `x-ratelimit-reset`.
/// * 403/429 with `retry-after` is a secondary limit: wait as told. Without it but
///   with a message saying so (or any 429): at least a minute
///   ([`SECONDARY_MIN`]); the client doubles it for each one in a row.
/// * Any other 403 is [`AdapterError::Unauthorized`], never retried.
/// * A 404 that is not GitHub's JSON (a wrong `api_url`) is
///   [`AdapterError::Configuration`].
/// * 422 saying the person is already a member / collaborator is
///   [`AdapterError::AlreadyDone`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubErrors;

impl ErrorDialect for GithubErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let mut error = json_system_error(reply);
        // Keep the field errors of a 422 ("errors": [{"code": "already_exists", ...}]).
        if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&reply.body)
            && let Some(errors) = body.get("errors").and_then(|e| e.as_array())
        {
            let details: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    e.get("message")
                        .or_else(|| e.get("code"))
                        .and_then(|m| m.as_str())
                        .map(str::to_owned)
                })
                .collect();
            if !details.is_empty() && !error.message.contains(&details[0]) {
                error.message = format!("{} ({})", error.message, details.join("; "));
            }
        }
        error
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        let message = error.message.to_ascii_lowercase();
        let github_json = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .is_some_and(|b| b.get("message").is_some() || b.get("detail").is_some());
        if let Some(throttle) = throttle_of(reply, &error.message) {
            let mut info = reply.rate_limit.clone().unwrap_or_default();
            if throttle == Throttle::Secondary && info.retry_after.is_none() {
                info.retry_after = Some(SECONDARY_MIN);
            }
            return AdapterError::RateLimited { info, error };
        }
        match reply.status {
            403 => AdapterError::Unauthorized { error },
            404 if !github_json => {
                let message = format!(
                    "{} — not GitHub's answer: check the API URL (settings.api_url)",
                    error.message
                );
                AdapterError::Configuration {
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            422 if message.contains("already") => AdapterError::AlreadyDone { error },
            _ => default_class(reply, error),
        }
    }
}

/// One page of a list: its items, the next page's URL, the rate-limit headers.
pub type ListPage<T> = (Vec<T>, Option<Url>, Option<RateLimitInfo>);

/// The GitHub HTTP client (REST, and for EMU the enterprise's SCIM root).
pub struct GithubClient {
    http: HttpClient,
    auth: Auth,
    scim: Option<(HttpClient, Auth)>,
    config: GithubConfig,
    secondary_streak: AtomicU32,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_url", &self.config.api_url.as_str())
            .field("org", &self.config.org)
            .finish_non_exhaustive()
    }
}

fn http_client(
    config: &GithubConfig,
    base: &str,
    setting: &str,
) -> Result<HttpClient, ConfigError> {
    HttpClient::builder(SYSTEM, base)
        .user_agent(concat!("provision-github/", env!("CARGO_PKG_VERSION")))
        .timeout(config.timeout)
        .rate_limit(RateLimitParser::new().bucket_header("x-ratelimit-resource"))
        .build()
        .map_err(|e| ConfigError::invalid_setting(&config.system_name, setting, e.to_string()))
}

impl GithubClient {
    /// A client for the configured organization; `clock` dates the app JWTs and
    /// measures the installation token's life.
    pub fn new(config: GithubConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let http = http_client(&config, config.api_url.as_str(), "api_url")?;
        let auth = match &config.auth {
            GithubAuth::Token(t) => Auth::Static(StaticAuth::bearer(t.clone())),
            GithubAuth::App {
                app_id,
                installation_id,
                private_key,
            } => {
                let source =
                    InstallationTokenSource::new(app_id, *installation_id, private_key, clock)
                        .map_err(|e| {
                            ConfigError::invalid_setting(
                                &config.system_name,
                                "private_key",
                                e.to_string(),
                            )
                        })?;
                Auth::OAuth(Arc::new(TokenCache::new(
                    source,
                    http.clone(),
                    REFRESH_MARGIN,
                )))
            }
        };
        let scim = match &config.emu {
            Some(emu) => {
                let root = emu.scim_root(&config.api_url);
                let scim_http = http_client(&config, root.as_str(), "scim_url")?;
                let scim_auth = match &emu.scim_token {
                    Some(t) => Auth::Static(StaticAuth::bearer(t.clone())),
                    None => auth.clone(),
                };
                Some((scim_http, scim_auth))
            }
            None => None,
        };
        Ok(Self {
            http,
            auth,
            scim,
            config,
            secondary_streak: AtomicU32::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GithubConfig {
        &self.config
    }

    /// A URL under the API root, segments given unencoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        self.http.url(segments)
    }

    /// A URL under the API root with a query.
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

    /// A URL under the SCIM root (EMU only).
    pub fn scim_url(&self, segments: &[&str]) -> Result<Url, AdapterError> {
        let (http, _) = self.scim()?;
        Ok(http.url(segments))
    }

    fn scim(&self) -> Result<&(HttpClient, Auth), AdapterError> {
        self.scim.as_ref().ok_or_else(|| AdapterError::Unsupported {
            what: "SCIM: only an EMU enterprise (settings.enterprise) has accounts in SCIM".into(),
        })
    }

    /// A cursor handed back by a caller, as a URL on the API; anything else is refused.
    pub fn cursor_url(&self, cursor: &str) -> Result<Url, AdapterError> {
        self.http.cursor_url(cursor)
    }

    /// Sends one REST request; 2xx is `Ok`, anything else a classified [`AdapterError`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        tracing::debug!(method = %method, path = url.path(), "github request");
        let kind = RequestKind::of(&method);
        let mut request = self
            .http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, MEDIA_TYPE)
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self.http.send_authorized(&self.auth, request, kind).await?;
        self.result(reply)
    }

    /// Sends one SCIM request (EMU) with `application/scim+json`.
    pub async fn send_scim(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        let (http, auth) = self.scim()?;
        tracing::debug!(method = %method, path = url.path(), "github scim request");
        let kind = RequestKind::of(&method);
        let mut request = http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, "application/scim+json");
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/scim+json")
                .body(body.to_string());
        }
        let reply = http.send_authorized(auth, request, kind).await?;
        self.result(reply)
    }

    /// Classifies a reply; a secondary limit without `retry-after` waits at least a
    /// minute, doubled for each one in a row (GitHub: "wait at least one minute, then
    /// back off exponentially"); any success ends the streak.
    fn result(&self, reply: HttpResponse) -> Result<HttpResponse, AdapterError> {
        let retry_after_given = reply.headers.contains_key(RETRY_AFTER);
        match reply.into_result(&GithubErrors) {
            Ok(reply) => {
                self.secondary_streak.store(0, Ordering::Relaxed);
                Ok(reply)
            }
            Err(AdapterError::RateLimited { mut info, error }) => {
                let primary = info.remaining == Some(0);
                if !primary && !retry_after_given {
                    let n = self.secondary_streak.fetch_add(1, Ordering::Relaxed).min(4);
                    info.retry_after = Some((SECONDARY_MIN * 2u32.pow(n)).min(SECONDARY_MAX));
                }
                Err(AdapterError::RateLimited { info, error })
            }
            Err(e) => Err(e),
        }
    }

    /// `GET` a JSON value.
    pub async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, AdapterError> {
        self.send(Method::GET, url, None).await?.json(SYSTEM)
    }

    /// `GET` one page of a list, the next page from `Link: rel="next"` (copied, never
    /// built); the last page has none.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<ListPage<T>, AdapterError> {
        self.http.ensure_same_origin(&url)?;
        let response = self.send(Method::GET, url.clone(), None).await?;
        let items: Vec<T> = response.json(SYSTEM)?;
        let next = paginate::next_link(&response.headers);
        if next.as_ref() == Some(&url) {
            return Err(paginate::repeated_cursor(SYSTEM, url.as_str()));
        }
        Ok((items, next, response.rate_limit))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_http::classify::classify;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, body: &str, headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        let rate_limit = RateLimitParser::new().parse(&map);
        HttpResponse {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
            rate_limit,
            kind: RequestKind::Write,
        }
    }

    fn class(r: &HttpResponse) -> &'static str {
        classify(&GithubErrors, r).unwrap().class()
    }

    #[test]
    fn a_403_is_a_rate_limit_only_with_its_signals() {
        let primary = reply(
            403,
            r#"{"message":"API rate limit exceeded for user ID 1."}"#,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "4102444800"),
            ],
        );
        assert_eq!(class(&primary), "rate_limited");
        let secondary = reply(
            403,
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
            &[("x-ratelimit-remaining", "4000")],
        );
        match classify(&GithubErrors, &secondary).unwrap() {
            AdapterError::RateLimited { info, .. } => {
                assert!(info.retry_after.unwrap() >= Duration::from_secs(60));
            }
            other => panic!("{other:?}"),
        }
        let told = reply(429, r#"{"message":"slow down"}"#, &[("retry-after", "7")]);
        assert_eq!(class(&told), "rate_limited");
        let permission = reply(
            403,
            r#"{"message":"Resource not accessible by integration"}"#,
            &[("x-ratelimit-remaining", "4999")],
        );
        let e = classify(&GithubErrors, &permission).unwrap();
        assert_eq!(e.class(), "unauthorized");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("Resource not accessible"), "{e}");
    }

    #[test]
    fn field_errors_and_html_404s_are_kept_and_named() {
        let e = classify(
            &GithubErrors,
            &reply(
                422,
                r#"{"message":"Validation Failed","errors":[{"resource":"Team","code":"custom","message":"User is already a member"}]}"#,
                &[],
            ),
        )
        .unwrap();
        assert_eq!(e.class(), "already_done");
        assert!(e.to_string().contains("already a member"), "{e}");
        assert_eq!(
            class(&reply(404, "<html>nginx</html>", &[])),
            "configuration"
        );
        assert_eq!(
            class(&reply(404, r#"{"message":"Not Found"}"#, &[])),
            "not_found"
        );
    }
}
