//! How a source authenticates: none, basic, bearer, or an OAuth client-credentials
//! grant with a client secret. Every secret is a
//! [`CredentialRef`] resolved into a [`SecretString`] when the source is built.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::AdapterError;
use provision_core::config::{CredentialRef, resolve_credential};
use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::{AccessToken, Auth, StaticAuth, TokenCache, TokenSource, request_token};
use provision_http::client::HttpClient;
use url::Url;

use super::SourceError;

/// A source's credential, as configured (references, never values).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceAuth {
    /// No credential.
    None,
    /// `Authorization: Basic` (Workday RaaS: the integration system user, `isu@tenant`,
    /// and its password).
    Basic {
        /// The user name.
        user: String,
        /// The password or key.
        password: CredentialRef,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: CredentialRef,
    },
    /// An OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with a client secret;
    /// the access token is cached, renewed before it expires and dropped on a 401.
    ClientCredentials {
        /// The token endpoint (HTTPS, or loopback in tests).
        token_url: String,
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: CredentialRef,
        /// The scope to ask for, if the server wants one.
        scope: Option<String>,
    },
}

impl SourceAuth {
    /// Reads the credentials and builds what signs requests for `source_name`.
    pub(crate) fn resolve(&self, source_name: &str) -> Result<Auth, SourceError> {
        let secret = |field: &str, reference: &CredentialRef| {
            resolve_credential(reference).map_err(|error| SourceError::Credential {
                source_name: source_name.to_owned(),
                field: field.to_owned(),
                error,
            })
        };
        Ok(match self {
            SourceAuth::None => Auth::None,
            SourceAuth::Basic { user, password } => Auth::Static(StaticAuth::basic(
                user.clone(),
                secret("auth.password", password)?,
            )),
            SourceAuth::Bearer { token } => {
                Auth::Static(StaticAuth::bearer(secret("auth.token", token)?))
            }
            SourceAuth::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => {
                let config = |message: String| SourceError::Config {
                    source_name: source_name.to_owned(),
                    field: "auth.token_url".into(),
                    message,
                };
                let url = endpoint_url(token_url).map_err(config)?;
                let http = HttpClient::builder(
                    format!("{source_name} token endpoint"),
                    url.origin().ascii_serialization(),
                )
                .build()
                .map_err(|e| config(e.to_string()))?;
                let grant = ClientSecretGrant {
                    token_url: url,
                    client_id: client_id.clone(),
                    client_secret: secret("auth.client_secret", client_secret)?,
                    scope: scope.clone(),
                };
                Auth::OAuth(Arc::new(TokenCache::new(
                    grant,
                    http,
                    Duration::from_secs(60),
                )))
            }
        })
    }
}

/// The client-credentials grant with `client_secret` in the form body
/// (`client_secret_post`, which Workday and most HR APIs accept).
#[derive(Debug)]
struct ClientSecretGrant {
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
}

#[async_trait]
impl TokenSource for ClientSecretGrant {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        request_token(http, &self.token_url, &form).await
    }
}

/// A full endpoint URL a credential goes to (its query kept): https, or http on
/// loopback only, and no user-info. The error never shows a user-info part.
pub(crate) fn endpoint_url(text: &str) -> Result<Url, String> {
    let shown = if text.contains('@') {
        "the URL given (not shown: it has a user-info part)".to_owned()
    } else {
        format!("`{}`", text.trim())
    };
    let url = Url::parse(text.trim()).map_err(|e| format!("{shown}: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(format!("{shown}: not an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{shown} has a user name or password in it; give the credential in `auth`"
        ));
    }
    provision_http::client::check_tls_off_loopback(&url).map_err(|e| format!("{shown}: {e}"))?;
    Ok(url)
}
