//! OpenID Connect bearer tokens: the signature against the provider's published keys
//! (JWKS, cached by `kid` and fetched again when a token names a key not seen yet, at
//! most every `jwks_min_refresh_seconds`), then `iss`, `aud`, `exp` and `nbf` against the
//! service's clock with a small leeway.
//!
//! Only asymmetric algorithms are accepted (RSA, RSA-PSS, ECDSA, EdDSA): a token
//! with `alg: none` does not even parse, and one with an HMAC algorithm is refused,
//! so a public key can never be used as a shared secret. The algorithm must also be
//! the one the key is published for.
//!
//! `jsonwebtoken` (already the toolkit's signer) checks signatures; the time claims
//! are checked here, against the clock the service is given, so tests can set it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::OidcConfig;

/// Why a token was refused (said in the 401, and logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT, or `alg: none`, or a malformed header.
    #[error("not a signed token: {0}")]
    Malformed(String),
    /// An algorithm that is not asymmetric, or not the key's.
    #[error("algorithm {0} is not accepted")]
    Algorithm(String),
    /// The token names no key, or a key the provider does not publish.
    #[error("unknown signing key {0:?}")]
    UnknownKey(Option<String>),
    /// The signature does not verify, or a claim is of the wrong shape.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` does not contain the configured audience.
    #[error("wrong audience")]
    Audience,
    /// `exp` has passed.
    #[error("expired")]
    Expired,
    /// `nbf` is still to come.
    #[error("not valid yet")]
    NotYetValid,
    /// The key set could not be fetched.
    #[error("the provider's keys could not be fetched: {0}")]
    Keys(String),
}

/// The verified claims of a token.
pub type Claims = serde_json::Map<String, serde_json::Value>;

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Jwk>,
    fetched: Option<Instant>,
}

/// Verifies bearer tokens of one provider.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.config.issuer)
            .field("jwks_url", &self.config.jwks_url)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier for `config` (keys fetched on first use).
    pub fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            config,
            http,
            cache: Mutex::new(KeyCache::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Verifies `token` at `now`: its claims, or why it is refused.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if !asymmetric(header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.clone();
        let jwk = self.key(kid.as_deref()).await?;
        if let Some(alg) = jwk.common.key_algorithm
            && format!("{alg:?}") != format!("{:?}", header.alg)
        {
            return Err(TokenError::Algorithm(format!(
                "{:?} (the key is for {alg:?})",
                header.alg
            )));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Keys(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        // Time and issuer/audience are checked below, against the service's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        self.check_claims(&data.claims, now)?;
        Ok(data.claims)
    }

    fn check_claims(&self, claims: &Claims, now: DateTime<Utc>) -> Result<(), TokenError> {
        if claims.get("iss").and_then(|v| v.as_str()) != Some(self.config.issuer.as_str()) {
            return Err(TokenError::Issuer);
        }
        let audience = &self.config.audience;
        let aud_ok = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => a == audience,
            Some(serde_json::Value::Array(list)) => {
                list.iter().any(|a| a.as_str() == Some(audience))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(TokenError::Audience);
        }
        let leeway = i64::try_from(self.config.leeway_seconds).unwrap_or(i64::MAX);
        let now = now.timestamp();
        let time = |name: &str| claims.get(name).and_then(serde_json::Value::as_i64);
        match time("exp") {
            Some(exp) if now <= exp.saturating_add(leeway) => {}
            Some(_) => return Err(TokenError::Expired),
            None => return Err(TokenError::Invalid("no `exp` claim".to_owned())),
        }
        if let Some(nbf) = time("nbf")
            && now < nbf.saturating_sub(leeway)
        {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }

    /// The key named `kid`: from the cache, or from a fresh fetch when it is not
    /// there and the last fetch is older than `jwks_min_refresh_seconds` (a rotated
    /// key is picked up; a flood of unknown `kid`s does not flood the provider).
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let mut cache = self.cache.lock().await;
        if let Some(jwk) = find(&cache, kid) {
            return Ok(jwk);
        }
        let due = cache.fetched.is_none_or(|at| {
            at.elapsed() >= Duration::from_secs(self.config.jwks_min_refresh_seconds)
        });
        if due {
            let set = self.fetch().await?;
            cache.keys = set
                .keys
                .into_iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        k.common.key_id.clone().unwrap_or_else(|| format!("#{i}")),
                        k,
                    )
                })
                .collect();
            cache.fetched = Some(Instant::now());
        }
        find(&cache, kid).ok_or_else(|| TokenError::UnknownKey(kid.map(str::to_owned)))
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let response = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| TokenError::Keys(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(TokenError::Keys(format!("HTTP {status}")));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| TokenError::Keys(e.without_url().to_string()))
    }
}

/// The key for `kid`; without a `kid`, the only key when there is exactly one.
fn find(cache: &KeyCache, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => cache.keys.get(kid).cloned(),
        None if cache.keys.len() == 1 => cache.keys.values().next().cloned(),
        None => None,
    }
}

fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Shared handle to a verifier.
pub type SharedVerifier = Arc<OidcVerifier>;
