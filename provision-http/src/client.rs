//! The HTTP client every adapter builds: base URL, user agent, timeouts, sending a
//! request and reading its reply, and the same-origin rule for credentials.
//!
//! ```
//! use std::time::Duration;
//! use provision_http::client::HttpClient;
//! let http = HttpClient::builder("Okta", "https://acme.okta.com")
//!     .user_agent("provision-okta/0.1")
//!     .timeout(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     http.url(&["api", "v1", "users", "ada@example.com"]).as_str(),
//!     "https://acme.okta.com/api/v1/users/ada@example.com"
//! );
//! ```

use std::time::Duration;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::Auth;
use crate::classify::{self, ErrorDialect};
use crate::rate_limit::RateLimitParser;

/// Whether a request can change anything: decides whether a failure after sending
/// "may have applied" (reads never do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A read (`GET`, or a `POST` that only queries).
    Read,
    /// A change.
    Write,
}

impl RequestKind {
    /// `GET` and `HEAD` are reads; everything else is a write.
    pub fn of(method: &reqwest::Method) -> Self {
        if method == reqwest::Method::GET || method == reqwest::Method::HEAD {
            RequestKind::Read
        } else {
            RequestKind::Write
        }
    }

    /// True for [`RequestKind::Write`].
    pub fn is_write(self) -> bool {
        self == RequestKind::Write
    }
}

/// A client that cannot be built: names the setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// The base URL is not an http(s) URL with a host.
    #[error("invalid base URL `{url}`: {reason}")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// reqwest refused the settings (no TLS backend, a bad user agent).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Builds an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    system: String,
    base_url: String,
    user_agent: String,
    connect_timeout: Duration,
    timeout: Duration,
    rate_limit: RateLimitParser,
}

impl HttpClientBuilder {
    /// The `User-Agent` header (default `provision-http/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How long to wait for the connection to open (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, reply body included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How rate-limit headers are read (default [`RateLimitParser::new`]).
    pub fn rate_limit(mut self, parser: RateLimitParser) -> Self {
        self.rate_limit = parser;
        self
    }

    /// Checks the base URL and builds the client. The base URL gets a trailing `/`, so
    /// paths are joined under it (`https://gitlab.example.com/api/v4/` + `users`).
    pub fn build(self) -> Result<HttpClient, ClientConfigError> {
        let base = parse_base_url(&self.base_url)?;
        let http = reqwest::Client::builder()
            .redirect(same_origin_redirects())
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .build()
            .map_err(|e| ClientConfigError::Build(e.to_string()))?;
        Ok(HttpClient {
            system: self.system,
            http,
            base,
            rate_limit: self.rate_limit,
        })
    }
}

/// How many redirects one request may follow.
const MAX_REDIRECTS: usize = 5;

/// Redirects are followed only within the origin the request went to. reqwest drops
/// `Authorization` on a redirect to another host, but not a scheme's own header
/// (GitLab's `PRIVATE-TOKEN`): a redirect elsewhere is returned as it is (a 3xx,
/// classified `Permanent`) instead of followed with the credential.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// An http(s) URL with a host, with a trailing `/` added to its path. Plain http only
/// on loopback (tests): every base URL is where a credential goes, so it never crosses
/// a network in the clear.
pub fn parse_base_url(text: &str) -> Result<Url, ClientConfigError> {
    let bad = |reason: String| ClientConfigError::BaseUrl {
        url: if text.contains('@') {
            "(not shown: it has a user-info part)".to_owned()
        } else {
            text.to_owned()
        },
        reason,
    };
    let mut url = Url::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(bad("not an http(s) URL with a host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment".to_owned()));
    }
    check_tls_off_loopback(&url).map_err(bad)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Plain http is refused anywhere but on loopback (tests): what is sent there (a
/// credential, HR data, audit records) would cross the network unencrypted.
pub fn check_tls_off_loopback(url: &Url) -> Result<(), String> {
    if url.scheme() == "http" && !is_loopback(url) {
        return Err(
            "plain http: a credential or HR data would cross the network \
                    unencrypted; use https (plain http is allowed only on loopback, for tests)"
                .to_owned(),
        );
    }
    Ok(())
}

/// A base URL a credential will be sent to: [`parse_base_url`] (plain http only on
/// loopback), with no user-info in it. The error says what is wrong and never shows
/// the URL's user-info.
pub fn parse_credential_url(text: &str) -> Result<Url, String> {
    let shown = if text.contains('@') {
        "the URL given (not shown: it has a user-info part)".to_owned()
    } else {
        format!("`{}`", text.trim())
    };
    let url = parse_base_url(text).map_err(|e| match e {
        ClientConfigError::BaseUrl { reason, .. } => format!("{shown}: {reason}"),
        other => format!("{shown}: {other}"),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{shown} has a user name or password in it; give the credential separately"
        ));
    }
    Ok(url)
}

/// Checks the URL settings among `keys` that a deployment wrote for `system`
/// ([`parse_credential_url`]: http(s) with a host, no user-info, plain http only on
/// loopback). For a factory's `descriptor`, so `provision validate` refuses what
/// building the adapter would, without a credential.
pub fn check_url_settings(
    system: &str,
    settings: &std::collections::BTreeMap<String, String>,
    keys: &[&str],
) -> Result<(), provision_core::adapter::ConfigError> {
    for key in keys {
        if let Some(value) = settings.get(*key) {
            parse_credential_url(value).map_err(|why| {
                provision_core::adapter::ConfigError::invalid_setting(system, *key, why)
            })?;
        }
    }
    Ok(())
}

/// One system's HTTP client. Cheap to share (`reqwest::Client` is a handle).
#[derive(Clone)]
pub struct HttpClient {
    system: String,
    http: reqwest::Client,
    base: Url,
    rate_limit: RateLimitParser,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("system", &self.system)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A builder for `system` (its name in messages: `"Okta"`) at `base_url`.
    pub fn builder(system: impl Into<String>, base_url: impl Into<String>) -> HttpClientBuilder {
        HttpClientBuilder {
            system: system.into(),
            base_url: base_url.into(),
            user_agent: concat!("provision-http/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            rate_limit: RateLimitParser::new(),
        }
    }

    /// The system's name, as messages say it.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The base URL (always ending in `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }

    /// A URL under the base with `segments` appended, each percent-encoded here
    /// (give them unencoded: a login with `@` or `/` stays one segment).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// Refuses a URL that is not on the base URL's origin (scheme, host and port): a
    /// next-page `Link` to another host is an error, never followed, so credentials
    /// are never sent elsewhere.
    pub fn ensure_same_origin(&self, url: &Url) -> Result<(), AdapterError> {
        if url.origin() == self.base.origin() {
            Ok(())
        } else {
            Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "{} gave a URL outside {} ({}): not followed",
                    self.system,
                    self.base.origin().ascii_serialization(),
                    url.origin().ascii_serialization()
                )),
            })
        }
    }

    /// A page cursor a caller handed back (a next-page URL this client gave out), as a
    /// URL on the base URL's origin; anything else is refused (`Invalid`), so a
    /// credential is never sent elsewhere.
    pub fn cursor_url(&self, cursor: &str) -> Result<Url, AdapterError> {
        let url = Url::parse(cursor).map_err(|_| AdapterError::Invalid {
            error: SystemError::message(format!("not a {} page cursor: {cursor:?}", self.system)),
        })?;
        self.ensure_same_origin(&url)?;
        Ok(url)
    }

    /// Sends a request as built (no credentials added) and reads the whole reply.
    /// Every status is `Ok` here; [`HttpResponse::into_result`] classifies.
    /// A transport failure is [`AdapterError::Transient`] (see
    /// [`classify::transport_error`]).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        kind: RequestKind,
    ) -> Result<HttpResponse, AdapterError> {
        let request = self.build(request)?;
        self.execute(request, kind).await
    }

    /// Sends a request with `auth`'s credential, only to the base URL's origin. When
    /// the system answers 401 and the credential is a cached token, the token is
    /// dropped and the request sent once more with a fresh one.
    pub async fn send_authorized(
        &self,
        auth: &Auth,
        request: reqwest::RequestBuilder,
        kind: RequestKind,
    ) -> Result<HttpResponse, AdapterError> {
        let request = self.build(request)?;
        self.ensure_same_origin(request.url())?;
        let again = if auth.is_renewable() {
            request.try_clone()
        } else {
            None
        };
        let mut request = request;
        auth.apply(request.headers_mut()).await?;
        let response = self.execute(request, kind).await?;
        if response.status != StatusCode::UNAUTHORIZED.as_u16() {
            return Ok(response);
        }
        match again {
            Some(mut request) if auth.token_rejected().await => {
                tracing::debug!(system = %self.system, "401 on a cached token: fetching a new one");
                auth.apply(request.headers_mut()).await?;
                self.execute(request, kind).await
            }
            _ => Ok(response),
        }
    }

    fn build(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Request, AdapterError> {
        request.build().map_err(|e| AdapterError::Invalid {
            error: SystemError::message(format!(
                "cannot build the request to {}: {}",
                self.system,
                classify::error_chain(&e)
            )),
        })
    }

    async fn execute(
        &self,
        request: reqwest::Request,
        kind: RequestKind,
    ) -> Result<HttpResponse, AdapterError> {
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| classify::transport_error(&self.system, &e, kind))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| classify::body_read_error(&self.system, &e, kind))?;
        let rate_limit = if status >= 400 {
            let info = self.rate_limit.throttled(&headers);
            (!info.is_empty()).then_some(info)
        } else {
            self.rate_limit.parse(&headers)
        };
        tracing::debug!(
            system = %self.system,
            method = %method,
            path,
            status,
            remaining = rate_limit.as_ref().and_then(|r| r.remaining),
            "http reply"
        );
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
            rate_limit,
            kind,
        })
    }
}

/// A whole reply: status, headers, body and what its rate-limit headers said.
///
/// Its `Debug` shows the body's length and the header names only: a body can carry a
/// credential (a token endpoint's `access_token`, an Okta activation link) and a
/// header a session cookie.
#[derive(Clone)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (empty for 204).
    pub body: Vec<u8>,
    /// The rate-limit headers, parsed (for an error status, with the wait until the
    /// reset measured on the server's clock: [`RateLimitParser::throttled`]).
    pub rate_limit: Option<RateLimitInfo>,
    /// Whether the request was a read or a write.
    pub kind: RequestKind,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("rate_limit", &self.rate_limit)
            .field("kind", &self.kind)
            .finish()
    }
}

impl HttpResponse {
    /// `Ok(self)` for a success, otherwise the error classified by `dialect` (a 2xx
    /// whose body reports an error, as Slack's `ok:false`, is an error too).
    pub fn into_result(self, dialect: &dyn ErrorDialect) -> Result<Self, AdapterError> {
        match classify::classify(dialect, &self) {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    /// Puts the reply's rate-limit headroom in `bucket` (an endpoint family, a method
    /// tier), unless a header already named one.
    pub fn in_bucket(mut self, bucket: impl Into<String>) -> Self {
        if let Some(info) = self.rate_limit.as_mut()
            && info.bucket.is_none()
        {
            info.bucket = Some(bucket.into());
        }
        self
    }

    /// The body as JSON; a body that is not is [`AdapterError::Permanent`] naming
    /// `system`.
    pub fn json<T: DeserializeOwned>(&self, system: &str) -> Result<T, AdapterError> {
        serde_json::from_slice(&self.body).map_err(|e| AdapterError::Permanent {
            error: SystemError::new(
                Some(self.status),
                None,
                format!("unexpected response body from {system}: {e}"),
            ),
        })
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::StaticAuth;
    use crate::classify::JsonErrors;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn debug_never_shows_the_body_or_header_values() {
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", "sid=SESSION-SECRET".parse().unwrap());
        let reply = HttpResponse {
            status: 200,
            headers,
            body: br#"{"access_token":"TOKEN-SECRET"}"#.to_vec(),
            rate_limit: None,
            kind: RequestKind::Read,
        };
        let shown = format!("{reply:?}");
        assert!(
            shown.contains("<31 bytes>") && shown.contains("set-cookie"),
            "{shown}"
        );
        assert!(
            !shown.contains("SECRET") && !shown.contains("34, 97"),
            "{shown}"
        );
    }

    #[test]
    fn base_url_gets_a_trailing_slash_and_segments_are_encoded() {
        let http = HttpClient::builder("GitLab", "https://gitlab.example.com/api/v4")
            .build()
            .unwrap();
        assert_eq!(
            http.base_url().as_str(),
            "https://gitlab.example.com/api/v4/"
        );
        assert_eq!(
            http.url(&["users", "a/b c"]).as_str(),
            "https://gitlab.example.com/api/v4/users/a%2Fb%20c"
        );
        for bad in [
            "gitlab.example.com",
            "ftp://x.example.com",
            "https://x/?q=1",
        ] {
            let e = HttpClient::builder("GitLab", bad).build().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    /// Every client's base URL (Slack, Google and AWS endpoints too) gets the rule: plain
    /// http only on loopback.
    #[test]
    fn no_client_sends_to_plain_http_off_loopback() {
        for ok in [
            "https://slack.com/api",
            "http://127.0.0.1:9000",
            "http://[::1]:9000",
            "http://localhost:9000",
        ] {
            HttpClient::builder("Slack", ok).build().unwrap();
        }
        for bad in [
            "http://slack.com/api",
            "http://10.0.0.5:8080",
            "http://sts.amazonaws.com",
        ] {
            let e = HttpClient::builder("Slack", bad).build().unwrap_err();
            assert!(e.to_string().contains("plain http"), "{bad}: {e}");
        }
        let e = HttpClient::builder("Slack", "http://user:hunter2@slack.com/")
            .build()
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_credential_url_has_no_user_info_and_no_plain_http_off_loopback() {
        assert!(parse_credential_url("https://api.example.com").is_ok());
        assert!(parse_credential_url("http://127.0.0.1:8080").is_ok());
        let e = parse_credential_url("http://api.example.com").unwrap_err();
        assert!(e.contains("plain http"), "{e}");
        let e = parse_credential_url("https://root:hunter2@api.example.com").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse_credential_url("https://root:hunter2@api.example.com/?x=1").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let client = HttpClient::builder("Test", "https://api.example.com/")
            .build()
            .unwrap();
        assert!(
            client
                .cursor_url("https://api.example.com/x?page=2")
                .is_ok()
        );
        assert_eq!(
            client
                .cursor_url("https://evil.example.com/x")
                .unwrap_err()
                .class(),
            "invalid"
        );
        assert_eq!(client.cursor_url("page-2").unwrap_err().class(), "invalid");
    }

    #[test]
    fn a_next_page_on_another_host_is_refused() {
        let http = HttpClient::builder("Okta", "https://acme.okta.com")
            .build()
            .unwrap();
        let same = Url::parse("https://acme.okta.com/api/v1/users?after=x").unwrap();
        assert!(http.ensure_same_origin(&same).is_ok());
        for other in [
            "https://evil.example.com/api/v1/users?after=x",
            "http://acme.okta.com/api/v1/users",
            "https://acme.okta.com:8443/api/v1/users",
        ] {
            let e = http
                .ensure_same_origin(&Url::parse(other).unwrap())
                .unwrap_err();
            assert!(matches!(e, AdapterError::Invalid { .. }), "{e:?}");
            assert!(e.to_string().contains("Okta"), "{e}");
        }
    }

    #[tokio::test]
    async fn credentials_are_not_sent_off_the_base_origin() {
        let server = MockServer::start().await;
        let http = HttpClient::builder("GitLab", "https://gitlab.example.com/")
            .build()
            .unwrap();
        let auth = Auth::Static(StaticAuth::private_token("glpat-secret"));
        let e = http
            .send_authorized(
                &auth,
                http.reqwest().get(format!("{}/users", server.uri())),
                RequestKind::Read,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, AdapterError::Invalid { .. }), "{e:?}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn redirects_are_followed_on_the_origin_only() {
        let api = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        Mock::given(path("/moved"))
            .respond_with(ResponseTemplate::new(301).insert_header("location", "/users"))
            .mount(&api)
            .await;
        Mock::given(path("/users"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
            .mount(&api)
            .await;
        Mock::given(path("/away"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
            )
            .mount(&api)
            .await;
        let http = HttpClient::builder("GitLab", api.uri()).build().unwrap();
        let auth = Auth::Static(StaticAuth::private_token("glpat-secret"));
        let get = |p: &str| http.reqwest().get(http.url(&[p]));
        let reply = http
            .send_authorized(&auth, get("moved"), RequestKind::Read)
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        let reply = http
            .send_authorized(&auth, get("away"), RequestKind::Read)
            .await
            .unwrap();
        assert_eq!(reply.status, 302, "not followed");
        assert_eq!(
            reply.into_result(&JsonErrors).unwrap_err().class(),
            "permanent"
        );
        assert!(elsewhere.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn send_reads_status_body_and_rate_limit() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v4/users"))
            .and(header("private-token", "glpat-secret"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("RateLimit-Remaining", "41")
                    .set_body_json(serde_json::json!([{"id": 1}])),
            )
            .mount(&server)
            .await;
        let http = HttpClient::builder("GitLab", format!("{}/api/v4", server.uri()))
            .build()
            .unwrap();
        let auth = Auth::Static(StaticAuth::private_token("glpat-secret"));
        let reply = http
            .send_authorized(
                &auth,
                http.reqwest().get(http.url(&["users"])),
                RequestKind::Read,
            )
            .await
            .unwrap()
            .into_result(&JsonErrors)
            .unwrap()
            .in_bucket("users");
        assert_eq!(reply.status, 200);
        let info = reply.rate_limit.clone().unwrap();
        assert_eq!(info.remaining, Some(41));
        assert_eq!(info.bucket.as_deref(), Some("users"));
        let users: Vec<serde_json::Value> = reply.json("GitLab").unwrap();
        assert_eq!(users.len(), 1);
    }

    #[tokio::test]
    async fn a_timeout_is_transient_and_maybe_applied_only_for_writes() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(600)))
            .mount(&server)
            .await;
        let http = HttpClient::builder("Jira", server.uri())
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let e = http
            .send(http.reqwest().put(http.url(&["x"])), RequestKind::Write)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, AdapterError::Transient { maybe_applied: true, error } if error.message.contains("Jira timed out")),
            "{e:?}"
        );
        let e = http
            .send(http.reqwest().get(http.url(&["x"])), RequestKind::Read)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AdapterError::Transient {
                    maybe_applied: false,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_never_applied() {
        // Bind a port, then free it: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = HttpClient::builder("Slack", format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        let e = http
            .send(http.reqwest().post(http.url(&["x"])), RequestKind::Write)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, AdapterError::Transient { maybe_applied: false, error } if error.message.contains("connection failed")),
            "{e:?}"
        );
    }
}
