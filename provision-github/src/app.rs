//! GitHub App authentication: an RS256 app JWT (signed by the toolkit's
//! [`JwtSigner`]) exchanged for a one-hour installation token, cached by the toolkit's
//! [`provision_http::auth::TokenCache`] (renewed before it expires, dropped on a 401).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::adapter::{AdapterError, SystemError};
use provision_core::clock::Clock;
use provision_core::secret::SecretString;
use provision_http::auth::{AccessToken, JwtSigner, TokenSource, sensitive};
use provision_http::client::{HttpClient, RequestKind};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::{Deserialize, Serialize};

use crate::client::{API_VERSION, GithubErrors, MEDIA_TYPE};

/// How far `iat` is set in the past, for clock skew between us and GitHub.
pub const IAT_BACKDATE: Duration = Duration::from_secs(60);
/// How long an app JWT lives: GitHub refuses more than 10 minutes.
pub const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);
/// An installation token is renewed when it has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The app JWT's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    /// Issued at (epoch seconds), backdated by [`IAT_BACKDATE`].
    pub iat: i64,
    /// Expiry (epoch seconds), [`JWT_LIFETIME`] from now (never more than 10 minutes).
    pub exp: i64,
    /// The app id (or client id).
    pub iss: String,
}

impl AppClaims {
    /// The claims for a JWT made at `now`.
    pub fn at(app_id: &str, now: DateTime<Utc>) -> Self {
        let now = now.timestamp();
        Self {
            iat: now - IAT_BACKDATE.as_secs() as i64,
            exp: now + JWT_LIFETIME.as_secs() as i64,
            iss: app_id.to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct InstallationToken {
    token: String,
    expires_at: Option<String>,
}

/// Fetches installation tokens: `POST /app/installations/{id}/access_tokens` with the
/// app JWT as `Bearer`.
pub struct InstallationTokenSource {
    app_id: String,
    installation_id: u64,
    signer: JwtSigner,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InstallationTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationTokenSource")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .finish_non_exhaustive()
    }
}

impl InstallationTokenSource {
    /// A source for the app's installation; the key is parsed now, so a bad key is an
    /// error here (never echoing the key).
    pub fn new(
        app_id: &str,
        installation_id: u64,
        private_key: &SecretString,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, provision_http::auth::JwtKeyError> {
        Ok(Self {
            app_id: app_id.to_owned(),
            installation_id,
            signer: JwtSigner::rs256_pem(private_key, None)?,
            clock,
        })
    }

    /// The app JWT for now.
    pub fn app_jwt(&self) -> Result<SecretString, AdapterError> {
        self.signer
            .sign(&AppClaims::at(&self.app_id, self.clock.now()))
    }
}

#[async_trait]
impl TokenSource for InstallationTokenSource {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        use provision_core::secret::ExposeSecret;
        let jwt = self.app_jwt()?;
        let url = http.url(&[
            "app",
            "installations",
            &self.installation_id.to_string(),
            "access_tokens",
        ]);
        let request = http
            .reqwest()
            .post(url)
            .header(ACCEPT, MEDIA_TYPE)
            .header("X-GitHub-Api-Version", API_VERSION)
            .header(
                AUTHORIZATION,
                sensitive(&format!("Bearer {}", jwt.expose_secret()))?,
            );
        tracing::debug!(
            installation = self.installation_id,
            "fetching an installation token"
        );
        let reply = http
            .send(request, RequestKind::Read)
            .await?
            .into_result(&GithubErrors)
            .map_err(|e| match e {
                AdapterError::Unauthorized { error } | AdapterError::NotFound { error } => {
                    AdapterError::Configuration {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!(
                                "{} — GitHub refused the app's JWT or the installation (check \
                                 settings.app_id, settings.installation_id and the private key)",
                                error.message
                            ),
                        ),
                    }
                }
                other => other,
            })?;
        let token: InstallationToken = reply.json("GitHub")?;
        let now = self.clock.now();
        let expires_in = token
            .expires_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            // An expiry already past (clock skew, a replayed answer) is used once and
            // renewed at the next request.
            .map(|t| {
                (t.with_timezone(&Utc) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
            });
        Ok(AccessToken {
            value: SecretString::from(token.token),
            // GitHub documents one hour when it does not say.
            expires_in: expires_in.or(Some(Duration::from_secs(3600))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_backdated_a_minute_and_live_under_ten() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let c = AppClaims::at("42", now);
        assert_eq!(c.iat, 1_700_000_000 - 60);
        assert!(c.exp - 1_700_000_000 <= 600);
        assert!(c.exp > 1_700_000_000);
        assert_eq!(c.iss, "42");
    }
}
