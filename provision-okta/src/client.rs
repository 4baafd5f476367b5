//! HTTP to one Okta org, on [`provision_http`]: the org URL, the credential (SSWS or
//! an OAuth service app), `Link` pagination and Okta's error dialect.
//!
//! The client never sleeps and never retries: every response's `X-Rate-Limit-*`
//! headers become a [`RateLimitInfo`], every failure an [`AdapterError`] the
//! executor classifies.

use std::sync::Arc;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, ClientCredentialsJwt, JwtSigner, StaticAuth, TokenCache};
use provision_http::classify::ErrorDialect;
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::paginate;
use provision_http::rate_limit::{RateLimitParser, SkewCorrection};
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::{OktaAuth, OktaConfig};
use crate::error::ConfigError;
use crate::model::ErrorBody;

/// The system's name in messages.
pub const SYSTEM: &str = "Okta";

/// A reply (2xx once [`OktaClient::send`] returns it).
pub type Response = HttpResponse;

/// Okta's error dialect: `errorCode`, `errorSummary` and the `errorCauses`' summaries.
#[derive(Debug, Clone, Copy, Default)]
pub struct OktaErrors;

impl ErrorDialect for OktaErrors {
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
            // Resets stay as Okta states them (its clock); a 429's wait is measured
            // against its `Date` header (reset − Date), as Okta's SDKs do. The
            // conformance suite asserts the stated reset.
            .rate_limit(RateLimitParser::new().skew_correction(SkewCorrection::Off))
            .build()
            .map_err(|e| ConfigError::invalid("HTTP client", e.to_string()))?;
        let auth = match &config.auth {
            OktaAuth::ApiToken(token) => Auth::Static(StaticAuth::Ssws(token.clone())),
            OktaAuth::PrivateKeyJwt {
                client_id,
                private_key,
                key_id,
                scopes,
            } => {
                let signer = JwtSigner::rs256_pem(private_key, key_id.clone())
                    .map_err(|e| ConfigError::invalid("private key", e.to_string()))?;
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
            .into_result(&OktaErrors)
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
