//! Salesforce's two server-to-server OAuth flows as a [`TokenSource`] for the toolkit's
//! token cache, keeping the `instance_url` each token reply names: the host every API
//! call of that token must go to.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use provision_core::adapter::{AdapterError, SystemError};
use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::{
    AccessToken, JWT_BEARER_GRANT, JwtSigner, TokenSource, request_token_reply,
};
use provision_http::client::HttpClient;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::parse_secure_url;

/// How long a JWT bearer assertion is valid (Salesforce accepts an `exp` at most
/// three minutes ahead).
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(180);

/// The claims of a JWT bearer assertion, as Salesforce reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtBearerClaims {
    /// The app's consumer key.
    pub iss: String,
    /// The username acted as.
    pub sub: String,
    /// The login host (`https://login.salesforce.com`).
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// What a token source sends.
#[derive(Debug)]
enum Grant {
    Jwt {
        consumer_key: String,
        username: String,
        audience: String,
        signer: JwtSigner,
    },
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
}

/// The instance URL the latest token reply named, shared between the token source
/// that learns it and the client that sends to it.
#[derive(Debug, Clone, Default)]
pub struct InstanceUrl(Arc<Mutex<Option<Url>>>);

impl InstanceUrl {
    /// The instance URL, once a token has been fetched.
    pub fn get(&self) -> Option<Url> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, url: Url) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(url);
    }
}

/// A token from Salesforce's token endpoint, by the JWT bearer flow or client
/// credentials; the reply's `instance_url` goes to an [`InstanceUrl`].
#[derive(Debug)]
pub struct SalesforceTokenSource {
    token_url: Url,
    grant: Grant,
    instance: InstanceUrl,
}

impl SalesforceTokenSource {
    /// The JWT bearer flow at `token_url`.
    pub fn jwt_bearer(
        token_url: Url,
        consumer_key: impl Into<String>,
        username: impl Into<String>,
        audience: impl Into<String>,
        signer: JwtSigner,
        instance: InstanceUrl,
    ) -> Self {
        Self {
            token_url,
            grant: Grant::Jwt {
                consumer_key: consumer_key.into(),
                username: username.into(),
                audience: audience.into(),
                signer,
            },
            instance,
        }
    }

    /// The client credentials flow at `token_url`.
    pub fn client_credentials(
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
        instance: InstanceUrl,
    ) -> Self {
        Self {
            token_url,
            grant: Grant::ClientCredentials {
                client_id: client_id.into(),
                client_secret,
            },
            instance,
        }
    }

    /// The claims of an assertion made at `now`, for the JWT bearer flow.
    pub fn claims_at(&self, now: SystemTime) -> Option<JwtBearerClaims> {
        let Grant::Jwt {
            consumer_key,
            username,
            audience,
            ..
        } = &self.grant
        else {
            return None;
        };
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Some(JwtBearerClaims {
            iss: consumer_key.clone(),
            sub: username.clone(),
            aud: audience.clone(),
            exp: now + ASSERTION_LIFETIME.as_secs(),
        })
    }
}

#[async_trait]
impl TokenSource for SalesforceTokenSource {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        let (token, fields) = match &self.grant {
            Grant::Jwt { signer, .. } => {
                let claims = self.claims_at(SystemTime::now()).ok_or_else(|| {
                    AdapterError::Unauthorized {
                        error: SystemError::message("no JWT bearer claims"),
                    }
                })?;
                let assertion = signer.sign(&claims)?;
                request_token_reply(
                    http,
                    &self.token_url,
                    &[
                        ("grant_type", JWT_BEARER_GRANT),
                        ("assertion", assertion.expose_secret()),
                    ],
                )
                .await?
            }
            Grant::ClientCredentials {
                client_id,
                client_secret,
            } => {
                request_token_reply(
                    http,
                    &self.token_url,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id.as_str()),
                        ("client_secret", client_secret.expose_secret()),
                    ],
                )
                .await?
            }
        };
        let instance = fields
            .get("instance_url")
            .ok_or_else(|| AdapterError::Unauthorized {
                error: SystemError::message(format!(
                    "{}'s token reply names no instance_url: the API host is unknown",
                    http.system()
                )),
            })?;
        // The instance receives the token: https only (plain http on loopback, in tests).
        let url = parse_secure_url("instance_url", instance).map_err(|reason| {
            AdapterError::Configuration {
                error: SystemError::message(format!("the token reply's {reason}")),
            }
        })?;
        self.instance.set(url);
        Ok(token)
    }
}
