//! HTTP to one Okta org: authentication, pagination, rate-limit headers, errors.
//!
//! The client never sleeps and never retries: every response's `X-Rate-Limit-*`
//! headers become a [`RateLimitInfo`], every failure an [`AdapterError`] the
//! executor classifies.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_core::secret::{ExposeSecret, SecretString};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use crate::config::{OktaAuth, OktaConfig};
use crate::error::ConfigError;
use crate::model::{ErrorBody, OAuthError, TokenResponse};

/// A successful (2xx) response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body (empty for 204).
    pub body: Vec<u8>,
    /// The `Link: <...>; rel="next"` URL, copied as the server sent it.
    pub next: Option<Url>,
    /// The rate-limit headers.
    pub rate_limit: Option<RateLimitInfo>,
}

impl Response {
    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AdapterError> {
        serde_json::from_slice(&self.body).map_err(|e| AdapterError::Permanent {
            error: SystemError::new(
                Some(self.status),
                None,
                format!("unexpected response body from Okta: {e}"),
            ),
        })
    }
}

struct CachedToken {
    value: SecretString,
    expires_at: Instant,
}

/// The Okta HTTP client.
pub struct OktaClient {
    http: reqwest::Client,
    config: OktaConfig,
    signing_key: Option<EncodingKey>,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("org_url", &self.config.org_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// How long a client assertion is valid (Okta accepts at most one hour).
const ASSERTION_LIFETIME_SECS: i64 = 300;

impl OktaClient {
    /// A client for the configured org. Parses the private key now, so a bad key is a
    /// configuration error, not a failure at the first request.
    pub fn new(config: OktaConfig) -> Result<Self, ConfigError> {
        let signing_key = match &config.auth {
            OktaAuth::PrivateKeyJwt { private_key, .. } => Some(
                EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|e| {
                    ConfigError::invalid("private key", format!("not an RSA PEM key ({e})"))
                })?,
            ),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("provision-okta/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::invalid("HTTP client", e.to_string()))?;
        Ok(Self {
            http,
            config,
            signing_key,
            token: Mutex::new(None),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OktaConfig {
        &self.config
    }

    /// An API URL under the org (`/api/v1/users`), with path segments given
    /// unencoded (they are percent-encoded here).
    pub fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.org_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// Refuses a URL (a `Link` cursor handed back by a caller) that is not on the org:
    /// credentials are never sent elsewhere.
    pub fn ensure_same_origin(&self, url: &Url) -> Result<(), AdapterError> {
        if url.origin() == self.config.org_url.origin() {
            Ok(())
        } else {
            Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "pagination cursor points outside the Okta org ({})",
                    url.origin().ascii_serialization()
                )),
            })
        }
    }

    /// Sends one request; 2xx is `Ok`, anything else a classified [`AdapterError`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, AdapterError> {
        let write = method != Method::GET;
        let auth = self.authorization().await?;
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, auth);
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::debug!(method = %method, path = url.path(), "okta request");
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(e, write))?;
        let status = response.status();
        let headers = response.headers().clone();
        let next = next_link(&headers);
        let rate_limit = parse_rate_limit(&headers);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(e, write))?;
        tracing::debug!(
            method = %method,
            path = url.path(),
            status = status.as_u16(),
            remaining = rate_limit.as_ref().and_then(|r| r.remaining),
            "okta response"
        );
        if status.is_success() {
            return Ok(Response {
                status: status.as_u16(),
                body: bytes.to_vec(),
                next,
                rate_limit,
            });
        }
        Err(classify(status, &headers, &bytes, rate_limit, write))
    }

    /// `GET` one page of a list; returns its items, the next-page URL (from the `Link`
    /// header, copied verbatim) and the rate-limit headers.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<(Vec<T>, Option<Url>, Option<RateLimitInfo>), AdapterError> {
        self.ensure_same_origin(&url)?;
        let response = self.send(Method::GET, url, None).await?;
        let items: Vec<T> = response.json()?;
        Ok((items, response.next, response.rate_limit))
    }

    async fn authorization(&self) -> Result<HeaderValue, AdapterError> {
        let text = match &self.config.auth {
            OktaAuth::ApiToken(token) => format!("SSWS {}", token.expose_secret()),
            OktaAuth::PrivateKeyJwt { .. } => {
                format!("Bearer {}", self.access_token().await?.expose_secret())
            }
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| AdapterError::Unauthorized {
            error: SystemError::message(
                "the credential contains characters not allowed in a header",
            ),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The cached OAuth access token, fetched again when it is within the refresh
    /// margin of its expiry.
    async fn access_token(&self) -> Result<SecretString, AdapterError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() + self.config.token_refresh_margin < token.expires_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Client credentials with a private-key JWT assertion at the org authorization server.
    async fn fetch_token(&self) -> Result<CachedToken, AdapterError> {
        let OktaAuth::PrivateKeyJwt {
            client_id,
            key_id,
            scopes,
            ..
        } = &self.config.auth
        else {
            return Err(AdapterError::Unauthorized {
                error: SystemError::message("no OAuth client configured"),
            });
        };
        let token_url = self.config.token_url().map_err(|e| AdapterError::Invalid {
            error: SystemError::message(e.to_string()),
        })?;
        let assertion = self.client_assertion(client_id, key_id.as_deref(), token_url.as_str())?;
        let scope = scopes.join(" ");
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.expose_secret()),
        ];
        tracing::debug!(path = token_url.path(), "okta token request");
        let response = self
            .http
            .post(token_url)
            .header(header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(e, false))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(e, false))?;
        if !status.is_success() {
            let rate_limit = parse_rate_limit(&headers);
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                return Err(classify(status, &headers, &bytes, rate_limit, false));
            }
            let body: OAuthError = serde_json::from_slice(&bytes).unwrap_or(OAuthError {
                error: None,
                error_description: None,
            });
            return Err(AdapterError::Unauthorized {
                error: SystemError::new(
                    Some(status.as_u16()),
                    body.error,
                    body.error_description
                        .unwrap_or_else(|| "the token request was refused".to_owned()),
                ),
            });
        }
        let token: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|e| AdapterError::Unauthorized {
                error: SystemError::new(
                    Some(status.as_u16()),
                    None,
                    format!("unexpected token response: {e}"),
                ),
            })?;
        if token
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(AdapterError::Unauthorized {
                error: SystemError::message(
                    "the token is not a Bearer token (DPoP is required by the app: turn \
                     'Require DPoP' off for this service app)",
                ),
            });
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok(CachedToken {
            value: token.access_token,
            expires_at: Instant::now() + lifetime,
        })
    }

    fn client_assertion(
        &self,
        client_id: &str,
        key_id: Option<&str>,
        token_url: &str,
    ) -> Result<SecretString, AdapterError> {
        let Some(key) = &self.signing_key else {
            return Err(AdapterError::Unauthorized {
                error: SystemError::message("no private key configured"),
            });
        };
        let now = Utc::now().timestamp();
        let claims = AssertionClaims {
            iss: client_id,
            sub: client_id,
            aud: token_url,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
            jti: format!("{:032x}", rand::random::<u128>()),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = key_id.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims, key)
            .map(SecretString::from)
            .map_err(|e| AdapterError::Unauthorized {
                error: SystemError::message(format!("cannot sign the client assertion: {e}")),
            })
    }
}

fn transport_error(e: reqwest::Error, write: bool) -> AdapterError {
    // reqwest errors carry the URL (no credentials: those are in headers only).
    let (timeout, connect) = (e.is_timeout(), e.is_connect());
    let what = if timeout {
        "timed out"
    } else if connect {
        "connection failed"
    } else {
        "request failed"
    };
    AdapterError::Transient {
        error: SystemError::message(format!("Okta {what}: {}", e.without_url())),
        // A connection that never opened sent nothing; anything else may have reached Okta.
        maybe_applied: write && !connect,
    }
}

/// `Link: <https://…/api/v1/users?after=…&limit=200>; rel="next"` → the URL.
pub fn next_link(headers: &HeaderMap) -> Option<Url> {
    for value in headers.get_all(header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next
                && let Some(url) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>'))
                && let Ok(url) = Url::parse(url)
            {
                return Some(url);
            }
        }
    }
    None
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `X-Rate-Limit-Limit`, `-Remaining`, `-Reset` (UTC epoch seconds).
pub fn parse_rate_limit(headers: &HeaderMap) -> Option<RateLimitInfo> {
    let info = RateLimitInfo {
        bucket: None,
        limit: header_u64(headers, "x-rate-limit-limit"),
        remaining: header_u64(headers, "x-rate-limit-remaining"),
        reset_at: header_u64(headers, "x-rate-limit-reset")
            .and_then(|s| i64::try_from(s).ok())
            .and_then(|s| Utc.timestamp_opt(s, 0).single()),
        retry_after: None,
    };
    (!info.is_empty()).then_some(info)
}

/// The server's clock, from the `Date` header.
fn server_date(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = headers.get(header::DATE)?.to_str().ok()?;
    let t: SystemTime = httpdate::parse_http_date(text).ok()?;
    Some(DateTime::<Utc>::from(t))
}

/// Maps a non-2xx response onto the executor's classes, keeping Okta's
/// `errorCode`, `errorSummary` and `errorCauses`.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    rate_limit: Option<RateLimitInfo>,
    write: bool,
) -> AdapterError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let mut message = parsed.error_summary.clone().unwrap_or_else(|| {
        status
            .canonical_reason()
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
    let error = SystemError::new(Some(status.as_u16()), parsed.error_code, message);
    match status.as_u16() {
        429 => {
            let mut info = rate_limit.unwrap_or_default();
            // Wait until the reset as measured on the server's clock (as Okta's SDKs do),
            // so a skewed local clock does not shorten or stretch the wait.
            if let (Some(reset), Some(date)) = (info.reset_at, server_date(headers)) {
                info.retry_after = Some((reset - date).to_std().unwrap_or(Duration::ZERO));
            }
            AdapterError::RateLimited { info, error }
        }
        401 | 403 => AdapterError::Unauthorized { error },
        404 => AdapterError::NotFound { error },
        409 => AdapterError::Conflict { error },
        400 | 405 | 406 | 415 | 422 => AdapterError::Invalid { error },
        500 | 502 | 504 => AdapterError::Transient {
            error,
            maybe_applied: write,
        },
        503 => AdapterError::transient(error),
        s if s >= 500 => AdapterError::Transient {
            error,
            maybe_applied: write,
        },
        _ => AdapterError::Permanent { error },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_is_copied_verbatim() {
        let mut h = HeaderMap::new();
        h.append(
            header::LINK,
            HeaderValue::from_static("<https://a.okta.com/api/v1/users?limit=200>; rel=\"self\""),
        );
        h.append(
            header::LINK,
            HeaderValue::from_static(
                "<https://a.okta.com/api/v1/users?after=00u%2Fopaque&limit=200>; rel=\"next\"",
            ),
        );
        let next = next_link(&h).unwrap();
        assert_eq!(
            next.as_str(),
            "https://a.okta.com/api/v1/users?after=00u%2Fopaque&limit=200"
        );
        let mut one = HeaderMap::new();
        one.insert(
            header::LINK,
            HeaderValue::from_static(
                "<https://a/x?after=1>; rel=\"self\", <https://a/x?after=2>; rel=\"next\"",
            ),
        );
        assert_eq!(next_link(&one).unwrap().as_str(), "https://a/x?after=2");
        let mut none = HeaderMap::new();
        none.insert(
            header::LINK,
            HeaderValue::from_static("<https://a/x>; rel=\"self\""),
        );
        assert!(next_link(&none).is_none());
    }

    #[test]
    fn error_body_keeps_code_summary_and_causes() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[{"errorSummary":"login: An object with this field already exists in the current organization"}]}"#;
        let e = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, None, true);
        let AdapterError::Invalid { error } = e else {
            panic!("{e:?}")
        };
        assert_eq!(error.code.as_deref(), Some("E0000001"));
        assert!(error.message.contains("already exists"));
        assert_eq!(error.status, Some(400));
    }
}
