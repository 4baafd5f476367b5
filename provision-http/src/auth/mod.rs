//! Credentials on requests: static schemes, cached OAuth tokens, JWT assertions,
//! credential files.
//!
//! * [`StaticAuth`] — a token that never changes: `SSWS` (Okta), `PRIVATE-TOKEN`
//!   (GitLab), `Bearer` (Slack, GitHub PAT, SCIM), Basic `email:token` (Jira).
//! * [`TokenCache`] — an OAuth access token fetched by a [`TokenSource`], reused until
//!   a refresh margin before it expires, dropped on a 401.
//! * [`JwtSigner`] — the one RS256 signer (PEM key) for client assertions
//!   ([`ClientCredentialsJwt`], Okta), JWT-bearer grants ([`JwtBearerGrant`], Google
//!   domain-wide delegation) and, later, GitHub App tokens.
//! * [`read_secret_file`] — a credential file, its trailing newline stripped.
//!
//! Every credential is a [`SecretString`]; a header built from one is marked sensitive
//! (hidden from `Debug` and from HTTP/2 header compression tables).

mod file;
mod jwt;
mod oauth;
mod token;

use std::sync::Arc;

use base64::Engine;
use provision_core::adapter::{AdapterError, SystemError};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

pub use file::{CredentialFileError, read_secret_file, strip_trailing_newline};
pub use jwt::{JwtKeyError, JwtSigner};
pub use oauth::{
    CLIENT_ASSERTION_TYPE, ClientAssertionClaims, ClientCredentialsJwt, JWT_BEARER_GRANT,
    JwtBearerClaims, JwtBearerGrant, SECRET_TOKEN_FIELDS, request_token, request_token_reply,
};
pub use token::{AccessToken, TokenCache, TokenSource};

/// A credential that never changes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StaticAuth {
    /// `Authorization: SSWS <token>` (Okta API token).
    Ssws(SecretString),
    /// `PRIVATE-TOKEN: <token>` (GitLab personal, group, project or service-account token).
    PrivateToken(SecretString),
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic base64(user:secret)` (Jira: account email and API token).
    Basic {
        /// The user (Jira: the account's email).
        user: String,
        /// The secret (Jira: the API token).
        secret: SecretString,
    },
}

impl StaticAuth {
    /// An Okta API token.
    pub fn ssws(token: impl Into<SecretString>) -> Self {
        StaticAuth::Ssws(token.into())
    }

    /// A GitLab token.
    pub fn private_token(token: impl Into<SecretString>) -> Self {
        StaticAuth::PrivateToken(token.into())
    }

    /// A bearer token.
    pub fn bearer(token: impl Into<SecretString>) -> Self {
        StaticAuth::Bearer(token.into())
    }

    /// Basic authentication (`email:api_token` for Jira).
    pub fn basic(user: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        StaticAuth::Basic {
            user: user.into(),
            secret: secret.into(),
        }
    }

    /// The header to send, its value marked sensitive.
    pub fn header(&self) -> Result<(HeaderName, HeaderValue), AdapterError> {
        let (name, text) = match self {
            StaticAuth::Ssws(t) => (AUTHORIZATION, format!("SSWS {}", t.expose_secret())),
            StaticAuth::PrivateToken(t) => (
                HeaderName::from_static("private-token"),
                t.expose_secret().to_owned(),
            ),
            StaticAuth::Bearer(t) => (AUTHORIZATION, bearer_text(t)),
            StaticAuth::Basic { user, secret } => {
                let pair = format!("{user}:{}", secret.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                (AUTHORIZATION, format!("Basic {encoded}"))
            }
        };
        Ok((name, sensitive(&text)?))
    }
}

fn bearer_text(token: &SecretString) -> String {
    format!("Bearer {}", token.expose_secret())
}

/// A header value from credential text, marked sensitive. A value a header cannot
/// carry (a newline pasted into a token) is `Unauthorized`, without the value.
pub fn sensitive(text: &str) -> Result<HeaderValue, AdapterError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| AdapterError::Unauthorized {
        error: SystemError::message(
            "the credential contains characters not allowed in a header (a pasted newline?)",
        ),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// How a client authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// No credential (a token endpoint, a public API).
    None,
    /// A credential that never changes.
    Static(StaticAuth),
    /// An OAuth access token, as `Authorization: Bearer`, cached and renewed.
    OAuth(Arc<TokenCache>),
}

impl Auth {
    /// Puts the credential on a request's headers (fetching a token when needed).
    pub async fn apply(&self, headers: &mut HeaderMap) -> Result<(), AdapterError> {
        match self {
            Auth::None => {}
            Auth::Static(s) => {
                let (name, value) = s.header()?;
                headers.insert(name, value);
            }
            Auth::OAuth(cache) => {
                let token = cache.token().await?;
                headers.insert(AUTHORIZATION, sensitive(&bearer_text(&token))?);
            }
        }
        Ok(())
    }

    /// True when a rejected credential can be replaced (a cached token).
    pub fn is_renewable(&self) -> bool {
        matches!(self, Auth::OAuth(_))
    }

    /// The system answered 401: drop a cached token. True when a new one will be
    /// fetched for the next request.
    pub async fn token_rejected(&self) -> bool {
        match self {
            Auth::OAuth(cache) => {
                cache.invalidate().await;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header_of(auth: &StaticAuth) -> (String, String) {
        let (name, value) = auth.header().unwrap();
        assert!(value.is_sensitive());
        (name.to_string(), value.to_str().unwrap().to_owned())
    }

    #[test]
    fn each_static_scheme_has_its_header() {
        assert_eq!(
            header_of(&StaticAuth::ssws("00abc")),
            ("authorization".into(), "SSWS 00abc".into())
        );
        assert_eq!(
            header_of(&StaticAuth::private_token("glpat-x")),
            ("private-token".into(), "glpat-x".into())
        );
        assert_eq!(
            header_of(&StaticAuth::bearer("xoxb-1")),
            ("authorization".into(), "Bearer xoxb-1".into())
        );
        // base64("ada@example.com:tok") — the Jira form.
        assert_eq!(
            header_of(&StaticAuth::basic("ada@example.com", "tok")),
            (
                "authorization".into(),
                "Basic YWRhQGV4YW1wbGUuY29tOnRvaw==".into()
            )
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let auth = StaticAuth::basic("ada@example.com", "very-secret-token");
        assert!(!format!("{auth:?}").contains("very-secret-token"));
        let (_, value) = StaticAuth::ssws("very-secret-token").header().unwrap();
        assert!(!format!("{value:?}").contains("very-secret-token"));
        let e = StaticAuth::bearer("very-secret\ntoken")
            .header()
            .unwrap_err();
        assert_eq!(e.class(), "unauthorized");
        assert!(!e.to_string().contains("very-secret"), "{e}");
    }
}
