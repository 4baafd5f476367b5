//! HTTP to one Okta org, on [`provision_http`]: the org URL, the credential (SSWS or
//! an OAuth service app), `Link` pagination and Okta's error dialect.
//!
//! The client never sleeps and never retries: every response's `X-Rate-Limit-*`
//! headers become a [`RateLimitInfo`], every failure an [`AdapterError`] the
//! executor classifies.

use std::sync::Arc;
use std::time::Duration;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, ClientCredentialsJwt, JwtSigner, StaticAuth, TokenCache};
use provision_http::classify::{ErrorDialect, default_class};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::paginate;
use provision_http::rate_limit::RateLimitParser;
use reqwest::Method;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::ConfigError;
use crate::config::{OktaAuth, OktaConfig};
use crate::descriptor::budget_of;
use crate::model::ErrorBody;

/// The system's name in messages.
pub const SYSTEM: &str = "Okta";

/// A reply (2xx once [`OktaClient::send`] returns it).
pub type Response = HttpResponse;

/// How long to wait after a 429 from Okta's concurrency limit: requests in flight
/// finish within moments, so this is a short retry, not a wait for the minute's reset.
pub const CONCURRENCY_RETRY: Duration = Duration::from_secs(1);

/// Okta's error dialect: `errorCode`, `errorSummary`, the `errorCauses`' summaries and
/// `errorId` (the id Okta support asks for), plus the `WWW-Authenticate` header of a
/// 401/403 (it names a missing scope). A 429 with `X-Rate-Limit-Limit: 0` and
/// `X-Rate-Limit-Remaining: 0` is the concurrency limit, not the minute's budget. A 404
/// without Okta's error code is a wrong org URL ([`AdapterError::Configuration`]), not
/// an absent resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct OktaErrors;

impl ErrorDialect for OktaErrors {
    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        match default_class(reply, error) {
            AdapterError::RateLimited { mut info, error }
                if reply.status == 429 && info.limit == Some(0) && info.remaining == Some(0) =>
            {
                // Too many requests at once: the minute's reset says nothing about when
                // a slot frees up. Retry shortly instead of pausing until the reset.
                info.reset_at = None;
                info.retry_after = Some(CONCURRENCY_RETRY);
                let message = format!("{} (concurrent request limit)", error.message);
                AdapterError::RateLimited {
                    info,
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            // Only Okta's own "not found" means the user, group or assignment is
            // absent. A 404 without it (an HTML page, another service, E0000022 for a
            // path the org does not have) means the org URL is wrong: never read as
            // "already absent", or every revoke would pass without doing anything.
            AdapterError::NotFound { error } if !is_okta_not_found(&error) => {
                let message = format!(
                    "{} — not an Okta org's answer to {}: check the org URL (settings.org_url)",
                    error.message,
                    match reply.kind {
                        RequestKind::Read => "a read",
                        RequestKind::Write => "a change",
                    }
                );
                AdapterError::Configuration {
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            other => other,
        }
    }

    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let parsed: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
        let mut message = parsed.error_summary.clone().unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(reply.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("unexpected status")
                .to_owned()
        });
        let causes: Vec<&str> = parsed
            .error_causes
            .iter()
            .filter_map(|c| c.error_summary.as_deref())
            .collect();
        if !causes.is_empty() {
            message.push_str(" (");
            message.push_str(&causes.join("; "));
            message.push(')');
        }
        if let Some(challenge) = reply
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
        {
            message.push_str(" [WWW-Authenticate: ");
            message.push_str(challenge.trim());
            message.push(']');
        }
        if let Some(id) = parsed.error_id.as_deref().filter(|id| !id.is_empty()) {
            message.push_str(" [errorId ");
            message.push_str(id);
            message.push(']');
        }
        SystemError::new(Some(reply.status), parsed.error_code, message)
    }
}

/// The Okta HTTP client.
pub struct OktaClient {
    http: HttpClient,
    auth: Auth,
    config: OktaConfig,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("org_url", &self.config.org_url.as_str())
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    /// A client for the configured org. Parses the private key now, so a bad key is a
    /// configuration error, not a failure at the first request.
    pub fn new(config: OktaConfig) -> Result<Self, ConfigError> {
        let http = HttpClient::builder(SYSTEM, config.org_url.as_str())
            .user_agent(concat!("provision-okta/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            // Resets are moved onto the local clock by Okta's `Date` header
            // (reset − Date + now), and a 429's wait is reset − Date, as Okta's SDKs
            // measure it: a skewed local clock neither waits too long nor too little.
            .rate_limit(RateLimitParser::new())
            .build()
            .map_err(|e| ConfigError::Other {
                system: config.system_name.clone(),
                message: format!("the HTTP client cannot be built: {e}"),
            })?;
        let auth = match &config.auth {
            OktaAuth::ApiToken(token) => Auth::Static(StaticAuth::Ssws(token.clone())),
            OktaAuth::PrivateKeyJwt {
                client_id,
                private_key,
                key_id,
                scopes,
            } => {
                let signer = JwtSigner::rs256_pem(private_key, key_id.clone()).map_err(|e| {
                    ConfigError::missing_credential(
                        &config.system_name,
                        "private_key",
                        e.to_string(),
                    )
                })?;
                let source =
                    ClientCredentialsJwt::new(config.token_url()?, client_id, scopes, signer);
                Auth::OAuth(Arc::new(TokenCache::new(
                    source,
                    http.clone(),
                    config.token_refresh_margin,
                )))
            }
        };
        Ok(Self { http, auth, config })
    }

    /// The configuration.
    pub fn config(&self) -> &OktaConfig {
        &self.config
    }

    /// An API URL under the org (`/api/v1/users`), with path segments given
    /// unencoded (they are percent-encoded here).
    pub fn api_url(&self, segments: &[&str]) -> Url {
        self.http.url(segments)
    }

    /// Refuses a URL (a `Link` cursor handed back by a caller) that is not on the org:
    /// credentials are never sent elsewhere.
    pub fn ensure_same_origin(&self, url: &Url) -> Result<(), AdapterError> {
        self.http.ensure_same_origin(url)
    }

    /// Sends one request; 2xx is `Ok`, anything else a classified [`AdapterError`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, AdapterError> {
        tracing::debug!(method = %method, path = url.path(), "okta request");
        let kind = RequestKind::of(&method);
        let budget = budget_of(url.path());
        let mut request = self
            .http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self
            .http
            .send_authorized(&self.auth, request, kind)
            .await
            .map_err(|e| explain_token_error(tag_error(e, budget)))?;
        reply
            .in_bucket(budget)
            .into_result(&OktaErrors)
            .map_err(|e| tag_error(e, budget))
    }

    /// `GET` one page of a list; returns its items, the next-page URL (from the `Link`
    /// header, copied verbatim) and the rate-limit headers. A next page that is the
    /// page just read is an error, never an endless loop.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<(Vec<T>, Option<Url>, Option<RateLimitInfo>), AdapterError> {
        self.ensure_same_origin(&url)?;
        let response = self.send(Method::GET, url.clone(), None).await?;
        let items: Vec<T> = response.json(SYSTEM)?;
        let next = paginate::next_link(&response.headers);
        if next.as_ref() == Some(&url) {
            return Err(paginate::repeated_cursor(SYSTEM, url.as_str()));
        }
        Ok((items, next, response.rate_limit))
    }
}

/// Okta's own answer for a resource that does not exist: an `E0000xxx` code other than
/// `E0000022` (the endpoint does not support the method).
fn is_okta_not_found(error: &SystemError) -> bool {
    error
        .code
        .as_deref()
        .is_some_and(|c| c.starts_with("E0000") && c != "E0000022")
}

/// Puts a throttled error's headroom in its budget, so one family's 429 never pauses
/// another family.
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

/// The OAuth errors an app that requires DPoP gets, with the setting to change: the
/// adapter sends Bearer tokens only.
fn explain_token_error(error: AdapterError) -> AdapterError {
    match error {
        AdapterError::Unauthorized { error }
            if matches!(
                error.code.as_deref(),
                Some("invalid_dpop_proof" | "use_dpop_nonce")
            ) =>
        {
            let message = format!(
                "{} — the service app requires DPoP, which this adapter does not send: in the \
                 Okta Admin Console, Applications > the service app > General > Client \
                 Credentials, clear \"Require Demonstrating Proof of Possession (DPoP) header \
                 in token requests\"",
                error.message
            );
            AdapterError::Configuration {
                error: SystemError::new(error.status, error.code, message),
            }
        }
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_http::classify::classify;
    use reqwest::header::HeaderMap;

    #[test]
    fn error_body_keeps_code_summary_and_causes() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[{"errorSummary":"login: An object with this field already exists in the current organization"}]}"#;
        let reply = HttpResponse {
            status: 400,
            headers: HeaderMap::new(),
            body: body.to_vec(),
            rate_limit: None,
            kind: RequestKind::Write,
        };
        let e = classify(&OktaErrors, &reply).unwrap();
        let AdapterError::Invalid { error } = e else {
            panic!("{e:?}")
        };
        assert_eq!(error.code.as_deref(), Some("E0000001"));
        assert!(error.message.contains("already exists"));
        assert_eq!(error.status, Some(400));
    }
}
