//! Service-account credentials: the key file, and the JWT-bearer grant built from it
//! (RS256, signed with the service account's key, impersonating the configured admin
//! through `sub`; [`provision_http::auth::JwtBearerGrant`], cached by
//! [`provision_http::auth::TokenCache`]).

use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::{JwtBearerGrant, JwtSigner};
use serde::Deserialize;
use url::Url;

pub use provision_http::auth::JWT_BEARER_GRANT;

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

    /// The RS256 signer of this key (`kid` = the key id). Fails on a key that cannot
    /// sign, naming the service account, never the key.
    pub fn signer(&self) -> Result<JwtSigner, String> {
        JwtSigner::rs256_pem(&self.private_key, self.private_key_id.clone()).map_err(|_| {
            format!(
                "the private_key of {} is not an RSA private key in PEM form",
                self.client_email
            )
        })
    }

    /// The JWT-bearer grant of this service account at `token_url`, impersonating
    /// `subject` (domain-wide delegation) and asking for `scopes`.
    pub fn token_source(
        &self,
        subject: &str,
        scopes: &[&str],
        token_url: Url,
    ) -> Result<JwtBearerGrant, String> {
        Ok(JwtBearerGrant::new(
            token_url,
            self.client_email.clone(),
            Some(subject.to_owned()),
            scopes,
            self.signer()?,
        ))
    }
}
