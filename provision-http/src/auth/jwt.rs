//! The one JWT signer: RS256 with a PEM private key (PKCS#1 or PKCS#8).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provision_core::adapter::{AdapterError, SystemError};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// A key that cannot sign. Never carries the key's text.
#[derive(Debug, thiserror::Error)]
#[error("not an RSA private key in PEM form (PKCS#1 or PKCS#8): {reason}")]
pub struct JwtKeyError {
    /// What the parser said (no key material).
    pub reason: String,
}

/// Signs JWTs with RS256: Okta `private_key_jwt` client assertions, Google
/// domain-wide-delegation assertions, GitHub App tokens. The key is parsed once, when
/// the signer is built, so a bad key is a configuration error, not a failure at the
/// first request.
#[derive(Clone)]
pub struct JwtSigner {
    key: EncodingKey,
    key_id: Option<String>,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("algorithm", &"RS256")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl JwtSigner {
    /// A signer for an RSA private key in PEM form; `key_id` becomes the header's `kid`.
    pub fn rs256_pem(pem: &SecretString, key_id: Option<String>) -> Result<Self, JwtKeyError> {
        let key =
            EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|e| JwtKeyError {
                reason: e.to_string(),
            })?;
        Ok(Self { key, key_id })
    }

    /// The header's `kid`.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// A signed JWT of `claims`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<SecretString, AdapterError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| AdapterError::Unauthorized {
                error: SystemError::message(format!("cannot sign the JWT assertion: {e}")),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The Okta fixtures' test key pair (a throwaway key made for tests).
    pub(crate) fn test_pem() -> SecretString {
        SecretString::from(
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/test-key.pem"
            ))
            .unwrap(),
        )
    }

    pub(crate) fn test_public_pem() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/test-key.pub.pem"
        ))
        .unwrap()
    }

    #[derive(Serialize, serde::Deserialize)]
    struct Claims {
        iss: String,
        exp: i64,
    }

    #[test]
    fn signs_rs256_with_the_kid_and_verifies_with_the_public_key() {
        let signer = JwtSigner::rs256_pem(&test_pem(), Some("kid-1".into())).unwrap();
        let jwt = signer
            .sign(&Claims {
                iss: "app".into(),
                exp: 4_102_444_800,
            })
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(&test_public_pem()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp"]);
        let data = jsonwebtoken::decode::<Claims>(jwt.expose_secret(), &key, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("kid-1"));
        assert_eq!(data.claims.iss, "app");
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        let e = JwtSigner::rs256_pem(
            &SecretString::from("-----BEGIN PRIVATE KEY-----\nsecretbits\n"),
            None,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("secretbits"), "{e}");
    }
}
