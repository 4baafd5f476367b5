//! A cached OAuth access token, generic over how it is fetched.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use provision_core::adapter::AdapterError;
use secrecy::SecretString;
use tokio::sync::Mutex;

use crate::client::HttpClient;

/// A token as a token endpoint gave it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub value: SecretString,
    /// Its lifetime (`expires_in`); `None` when the endpoint did not say.
    pub expires_in: Option<Duration>,
}

/// How a token is fetched: client credentials with a `private_key_jwt` assertion
/// ([`super::ClientCredentialsJwt`], Okta), a JWT-bearer grant
/// ([`super::JwtBearerGrant`], Google), later a GitHub App installation token.
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// Fetches a new token with `http` (which sends no credential of its own).
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError>;
}

struct Cached {
    value: SecretString,
    expires_at: Instant,
}

/// An access token, fetched once and reused until it is within the refresh margin of
/// its expiry; dropped when the system rejects it (401). Concurrent callers wait for
/// one fetch instead of each making their own.
pub struct TokenCache {
    source: Box<dyn TokenSource>,
    http: HttpClient,
    refresh_margin: Duration,
    default_lifetime: Duration,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `source`, fetching with `http`; a token is renewed when it has less
    /// than `refresh_margin` left. A token without `expires_in` is taken to live one
    /// hour (the usual default of OAuth servers).
    pub fn new(
        source: impl TokenSource + 'static,
        http: HttpClient,
        refresh_margin: Duration,
    ) -> Self {
        Self {
            source: Box::new(source),
            http,
            refresh_margin,
            default_lifetime: Duration::from_secs(3600),
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one.
    pub async fn token(&self) -> Result<SecretString, AdapterError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() + self.refresh_margin < token.expires_at
        {
            return Ok(token.value.clone());
        }
        tracing::debug!(source = ?self.source, "fetching an access token");
        let fresh = self.source.fetch(&self.http).await?;
        let lifetime = fresh.expires_in.unwrap_or(self.default_lifetime);
        *cached = Some(Cached {
            value: fresh.value.clone(),
            expires_at: Instant::now() + lifetime,
        });
        Ok(fresh.value)
    }

    /// Drops the cached token (the system rejected it): the next call fetches anew.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Counting {
        fetched: Arc<AtomicU32>,
        lifetime: Duration,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self, _http: &HttpClient) -> Result<AccessToken, AdapterError> {
            let n = self.fetched.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(AccessToken {
                value: SecretString::from(format!("token-{n}")),
                expires_in: Some(self.lifetime),
            })
        }
    }

    fn counting_cache(lifetime: Duration, margin: Duration) -> (TokenCache, Arc<AtomicU32>) {
        let fetched = Arc::new(AtomicU32::new(0));
        let http = HttpClient::builder("Test", "http://127.0.0.1:9")
            .build()
            .unwrap();
        let source = Counting {
            fetched: fetched.clone(),
            lifetime,
        };
        (TokenCache::new(source, http, margin), fetched)
    }

    #[tokio::test]
    async fn a_token_is_reused_until_the_refresh_margin() {
        let (cache, fetched) = counting_cache(Duration::from_secs(3600), Duration::from_secs(60));
        assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
        assert_eq!(cache.token().await.unwrap().expose_secret(), "token-1");
        assert_eq!(fetched.load(Ordering::SeqCst), 1);

        // 30 s of life is inside a 60 s margin: every call renews.
        let (cache, fetched) = counting_cache(Duration::from_secs(30), Duration::from_secs(60));
        cache.token().await.unwrap();
        assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_rejected_token_is_dropped_and_fetched_again() {
        let (cache, fetched) = counting_cache(Duration::from_secs(3600), Duration::from_secs(60));
        cache.token().await.unwrap();
        cache.invalidate().await;
        assert_eq!(cache.token().await.unwrap().expose_secret(), "token-2");
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let (cache, fetched) = counting_cache(Duration::from_secs(3600), Duration::from_secs(60));
        let cache = Arc::new(cache);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.token().await.unwrap() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().expose_secret(), "token-1");
        }
        assert_eq!(fetched.load(Ordering::SeqCst), 1);
    }
}
