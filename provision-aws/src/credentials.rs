//! AWS credentials: fixed ones (environment, shared profile, configuration), or the
//! full `aws-config` chain behind the `aws-config` feature.

use std::fmt;

use aws_credential_types::Credentials;
use provision_core::secret::{ExposeSecret, SecretString};

/// An access key pair, with an optional session token. `Debug` shows only the key id.
#[derive(Clone)]
pub struct StaticCredentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl StaticCredentials {
    /// Credentials from an access key id, its secret and an optional session token.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<SecretString>,
        session_token: Option<SecretString>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Where the signing credentials come from.
#[derive(Clone)]
pub(crate) enum CredentialSource {
    /// Fixed credentials.
    Static(StaticCredentials),
    /// The `aws-config` chain (refreshing, cached by the provider).
    #[cfg(feature = "aws-config")]
    Provider(aws_credential_types::provider::SharedCredentialsProvider),
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Static(c) => c.fmt(f),
            #[cfg(feature = "aws-config")]
            CredentialSource::Provider(_) => f.write_str("CredentialsChain"),
        }
    }
}

impl CredentialSource {
    /// Credentials to sign one request with. The secret leaves its `SecretString` only
    /// here, into `aws-credential-types`' own redacting type, for the signer.
    pub(crate) async fn resolve(&self) -> Result<Credentials, String> {
        match self {
            CredentialSource::Static(c) => Ok(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose_secret().to_owned(),
                c.session_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_owned()),
                None,
                "provision-static",
            )),
            #[cfg(feature = "aws-config")]
            CredentialSource::Provider(p) => {
                use aws_credential_types::provider::ProvideCredentials;
                // The provider's error text names the failing provider, never a secret.
                p.provide_credentials()
                    .await
                    .map_err(|e| format!("no AWS credentials from the credential chain: {e}"))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret_and_token() {
        let c = StaticCredentials::new(
            "AKIDVISIBLE",
            "super-secret-key",
            Some(SecretString::from("session-token-value")),
        );
        let d = format!("{c:?}");
        assert!(d.contains("AKIDVISIBLE"));
        assert!(
            !d.contains("super-secret-key") && !d.contains("session-token-value"),
            "{d}"
        );
    }
}
