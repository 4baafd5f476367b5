//! HTTP to one SCIM application, on [`provision_http`]: its credential, its media
//! type, and its error dialect.
//!
//! The client never sleeps and never retries: a 429's `Retry-After` becomes the
//! [`provision_core::adapter::RateLimitInfo::retry_after`] of an
//! [`AdapterError::RateLimited`], and the executor waits that long.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{AdapterError, SystemError};
use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::{AccessToken, Auth, StaticAuth, TokenCache, TokenSource, request_token};
use provision_http::classify::{ErrorDialect, default_class, is_scim_error, json_system_error};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, IF_MATCH};
use serde_json::Value;
use url::Url;

use crate::config::{ConfigError, ScimAuth, ScimConfig};

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// SCIM's error dialect (RFC 7644 §3.12): the code is `scimType`, the message
/// `detail`, and `status` (a string) is the HTTP status again. A 404 is "no such
/// resource" only when its body is a SCIM error; any other 404 (an HTML page, a
/// JSON body of another API) means the base URL is wrong:
/// [`AdapterError::Configuration`], never "already absent".
#[derive(Debug, Clone, Copy, Default)]
pub struct ScimErrors;

impl ErrorDialect for ScimErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        json_system_error(reply)
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        if reply.status == 501 {
            // Not implemented (PATCH or Bulk not offered, RFC 7644 §3.12): retrying
            // will not help.
            return AdapterError::Permanent { error };
        }
        match default_class(reply, error) {
            AdapterError::NotFound { error } if !is_scim_error(reply) => {
                AdapterError::Configuration {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!(
                            "{} — not a SCIM service's answer: check settings.base_url",
                            error.message
                        ),
                    ),
                }
            }
            other => other,
        }
    }
}

/// The `scimType` of an error, when it has one.
pub fn scim_type(error: &AdapterError) -> Option<&str> {
    error.system_error().and_then(|e| e.code.as_deref())
}

/// OAuth 2.0 client credentials with a client secret (`client_secret_post`, RFC 6749
/// §4.4 and §2.3.1): what SCIM applications that take OAuth ask of a provisioning
/// client. The secret rides in the form body, never in a URL or a log.
pub struct ClientSecretCredentials {
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: String,
}

impl std::fmt::Debug for ClientSecretCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretCredentials")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredentials {
    /// A source for `client_id` at `token_url`, asking for `scopes`.
    pub fn new(
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
        scopes: &[String],
    ) -> Self {
        Self {
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope: scopes.join(" "),
        }
    }
}

#[async_trait]
impl TokenSource for ClientSecretCredentials {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        if !self.scope.is_empty() {
            form.push(("scope", self.scope.as_str()));
        }
        request_token(http, &self.token_url, &form).await
    }
}

/// How many requests a client sent, by kind (tests and figures count writes per
/// change with it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET` requests.
    pub reads: u64,
    /// Every other method.
    pub writes: u64,
}

/// One SCIM application's HTTP client.
pub struct ScimClient {
    http: HttpClient,
    auth: Auth,
    content_type: &'static str,
    system: String,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimClient")
            .field("system", &self.system)
            .field("base", &self.http.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl ScimClient {
    /// A client for the configuration.
    pub fn new(config: &ScimConfig) -> Result<Self, ConfigError> {
        let build = |base: &str| {
            HttpClient::builder(config.system_name.clone(), base)
                .user_agent(concat!("provision-scim/", env!("CARGO_PKG_VERSION")))
                .timeout(config.timeout)
                .build()
                .map_err(|e| {
                    ConfigError::invalid_setting(&config.system_name, "base_url", e.to_string())
                })
        };
        let http = build(config.base_url.as_str())?;
        let auth = match &config.auth {
            ScimAuth::Bearer(t) => Auth::Static(StaticAuth::bearer(t.clone())),
            ScimAuth::Basic { user, password } => {
                Auth::Static(StaticAuth::basic(user.clone(), password.clone()))
            }
            ScimAuth::OAuthClientCredentials {
                token_url,
                client_id,
                client_secret,
                scopes,
            } => {
                let origin = token_url.origin().ascii_serialization();
                let token_http = build(&origin).map_err(|_| {
                    ConfigError::invalid_setting(
                        &config.system_name,
                        "token_url",
                        "an http(s) URL with a host",
                    )
                })?;
                let source = ClientSecretCredentials::new(
                    token_url.clone(),
                    client_id.clone(),
                    client_secret.clone(),
                    scopes,
                );
                Auth::OAuth(Arc::new(TokenCache::new(
                    source,
                    token_http,
                    Duration::from_secs(60),
                )))
            }
        };
        Ok(Self {
            http,
            auth,
            content_type: if config.plain_json {
                "application/json"
            } else {
                SCIM_JSON
            },
            system: config.system_name.clone(),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    /// The requests sent so far (token requests not counted).
    pub fn request_counts(&self) -> RequestCounts {
        RequestCounts {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    /// The system's name, as messages say it.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// Sends one request under the base URL and returns the reply, whatever its status
    /// (transport failures are already classified).
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<HttpResponse, AdapterError> {
        let kind = RequestKind::of(&method);
        match kind {
            RequestKind::Read => self.reads.fetch_add(1, Ordering::Relaxed),
            RequestKind::Write => self.writes.fetch_add(1, Ordering::Relaxed),
        };
        tracing::debug!(system = %self.system, %method, path = %segments.join("/"), "scim request");
        let mut request = self
            .http
            .reqwest()
            .request(method, self.http.url(segments))
            .header(ACCEPT, "application/scim+json, application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| AdapterError::Invalid {
                error: SystemError::message(format!("cannot encode the request: {e}")),
            })?;
            request = request.header(CONTENT_TYPE, self.content_type).body(bytes);
        }
        if let Some(etag) = if_match {
            request = request.header(IF_MATCH, etag);
        }
        self.http.send_authorized(&self.auth, request, kind).await
    }

    /// [`ScimClient::send`], then any status other than 2xx classified by
    /// [`ScimErrors`].
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<HttpResponse, AdapterError> {
        self.send(method, segments, query, body, if_match)
            .await?
            .into_result(&ScimErrors)
    }

    /// A GET whose reply is read as `T`, whatever JSON content type it came with
    /// (`application/json` instead of `application/scim+json` is common).
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(T, HttpResponse), AdapterError> {
        let reply = self.call(Method::GET, segments, query, None, None).await?;
        let value = reply.json(&self.system)?;
        Ok((value, reply))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
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
    fn uniqueness_keeps_scim_type_and_detail() {
        let r = reply(
            409,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}"#,
        );
        let e = r.into_result(&ScimErrors).unwrap_err();
        assert_eq!(e.class(), "conflict");
        let se = e.system_error().unwrap();
        assert_eq!(
            (se.status, se.code.as_deref(), se.message.as_str()),
            (Some(409), Some("uniqueness"), "userName taken")
        );
    }

    #[test]
    fn a_404_that_is_not_scim_is_a_configuration_error() {
        let scim = reply(
            404,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"User not found"}"#,
        )
        .into_result(&ScimErrors)
        .unwrap_err();
        assert_eq!(scim.class(), "not_found");
        let html = reply(404, "<html>Not Found</html>")
            .into_result(&ScimErrors)
            .unwrap_err();
        assert_eq!(html.class(), "configuration");
        assert!(html.to_string().contains("base_url"), "{html}");
    }
}
