//! Service-account credentials: the JWT-bearer assertion (RS256, signed with the
//! service account's key, impersonating the configured admin through `sub`) and
//! the access-token cache.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_core::secret::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::model::{TokenErrorBody, TokenResponse};

/// The OAuth grant type of a signed-JWT assertion (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long a minted assertion is valid (Google's maximum, one hour).
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// A service-account key file's fields the adapter uses. The private key is a
/// [`SecretString`]: never printed, zeroed on drop.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// The service account's email: the assertion's `iss`.
    pub client_email: String,
    /// The key's id: the assertion header's `kid`.
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// The PEM private key.
    pub private_key: SecretString,
    /// The token endpoint the key names.
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses a key file's JSON. The error names `origin` and the line/column, never
    /// the content.
    pub fn from_json(json: &SecretString, origin: &str) -> Result<Self, String> {
        serde_json::from_str(json.expose_secret()).map_err(|e| {
            format!(
                "{origin}: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )
        })
    }

    pub(crate) fn signing_key(&self) -> Result<EncodingKey, String> {
        EncodingKey::from_rsa_pem(self.private_key.expose_secret().as_bytes()).map_err(|_| {
            format!(
                "the private_key of {} is not an RSA private key in PEM form",
                self.client_email
            )
        })
    }
}

/// The claims of the assertion sent to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The service account (`client_email`).
    pub iss: String,
    /// The impersonated admin (domain-wide delegation).
    pub sub: String,
    /// The scopes, space-separated.
    pub scope: String,
    /// The token endpoint.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (at most one hour after `iat`).
    pub exp: u64,
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

/// Mints assertions and caches the access token until shortly before it expires.
/// Concurrent callers wait for one token request instead of each making their own.
pub struct TokenProvider {
    client_email: String,
    key_id: Option<String>,
    signing_key: EncodingKey,
    subject: String,
    scope: String,
    token_url: Url,
    refresh_margin: Duration,
    cached: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("client_email", &self.client_email)
            .field("subject", &self.subject)
            .field("scope", &self.scope)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `key`, impersonating `subject`, asking for `scopes`.
    pub fn new(
        key: &ServiceAccountKey,
        subject: &str,
        scopes: &[&str],
        token_url: Url,
        refresh_margin: Duration,
    ) -> Result<Self, String> {
        Ok(TokenProvider {
            client_email: key.client_email.clone(),
            key_id: key.private_key_id.clone(),
            signing_key: key.signing_key()?,
            subject: subject.to_owned(),
            scope: scopes.join(" "),
            token_url,
            refresh_margin,
            cached: Mutex::new(None),
        })
    }

    /// The claims an assertion minted at `now` carries.
    pub fn claims_at(&self, now: SystemTime) -> AssertionClaims {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        AssertionClaims {
            iss: self.client_email.clone(),
            sub: self.subject.clone(),
            scope: self.scope.clone(),
            aud: self.token_url.to_string(),
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        }
    }

    /// A signed assertion (RS256, `kid` = the key id).
    pub fn mint_assertion(&self, now: SystemTime) -> Result<SecretString, AdapterError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &self.claims_at(now), &self.signing_key)
            .map(SecretString::from)
            .map_err(|e| AdapterError::Unauthorized {
                error: SystemError::message(format!(
                    "cannot sign the service-account assertion: {e}"
                )),
            })
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<SecretString, AdapterError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.token.clone());
        }
        let (token, lifetime) = self.fetch(http).await?;
        let refresh_at = Instant::now() + lifetime.saturating_sub(self.refresh_margin);
        *cached = Some(CachedToken {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    /// Forgets the cached token (after the API rejected it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
    ) -> Result<(SecretString, Duration), AdapterError> {
        let assertion = self.mint_assertion(SystemTime::now())?;
        tracing::debug!(subject = %self.subject, "requesting a Google access token");
        let response = http
            .post(self.token_url.clone())
            .form(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.expose_secret()),
            ])
            .send()
            .await
            .map_err(|e| {
                AdapterError::transient(SystemError::message(format!(
                    "token endpoint unreachable: {}",
                    e.without_url()
                )))
            })?;
        let status = response.status().as_u16();
        let retry_after = crate::client::retry_after(response.headers());
        let text = response.text().await.map_err(|e| {
            AdapterError::transient(SystemError::message(format!(
                "token response unreadable: {}",
                e.without_url()
            )))
        })?;
        if (200..300).contains(&status) {
            let body: TokenResponse =
                serde_json::from_str(&text).map_err(|e| AdapterError::Permanent {
                    error: SystemError::new(
                        Some(status),
                        None,
                        format!("token response is not a token: {e}"),
                    ),
                })?;
            let lifetime = Duration::from_secs(body.expires_in.unwrap_or(3600));
            return Ok((body.access_token, lifetime));
        }
        let parsed: Option<TokenErrorBody> = serde_json::from_str(&text).ok();
        let (code, message) = match parsed {
            Some(b) => (b.error, b.error_description.unwrap_or_default()),
            None => (None, text.chars().take(200).collect()),
        };
        let error = SystemError::new(Some(status), code, format!("token endpoint: {message}"));
        Err(match status {
            429 => AdapterError::RateLimited {
                info: RateLimitInfo {
                    retry_after,
                    ..RateLimitInfo::default()
                },
                error,
            },
            500..=599 => AdapterError::transient(error),
            // invalid_grant / unauthorized_client: key revoked, delegation missing a scope,
            // the subject not an admin of the domain
            _ => AdapterError::Unauthorized { error },
        })
    }
}
