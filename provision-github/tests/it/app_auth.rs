//! GitHub App auth against the fake token endpoint: the JWT is RS256, `iat` is 60 s
//! in the past by the clock given, `exp` at most 10 minutes ahead; the installation
//! token is reused, renewed before it expires, and dropped on a 401. No secret
//! reaches the logs or an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use provision_core::adapter::Adapter;
use provision_core::clock::FixedClock;
use provision_github::{GithubAdapter, GithubConfig};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = include_str!("../../../provision-http/tests/fixtures/test-key.pem");
const PUBLIC: &str = include_str!("../../../provision-http/tests/fixtures/test-key.pub.pem");

#[derive(Clone)]
struct TokenEndpoint {
    issued: Arc<AtomicU32>,
    now: i64,
    /// Seconds each token lives (GitHub: one hour).
    lifetime: i64,
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
        let jwt = auth.strip_prefix("Bearer ").unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.validate_exp = false;
        v.set_required_spec_claims(&["exp", "iat", "iss"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["iss"], "4242");
        assert_eq!(
            claims["iat"].as_i64().unwrap(),
            self.now - 60,
            "iat backdated 60 s"
        );
        let exp = claims["exp"].as_i64().unwrap();
        assert!(
            exp > self.now && exp - self.now <= 600,
            "exp within 10 minutes"
        );
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let expires = DateTime::from_timestamp(self.now + self.lifetime, 0).unwrap();
        ResponseTemplate::new(201).set_body_json(json!({
            "token": format!("ghs_installation_SECRET_{n}"),
            "expires_at": expires.to_rfc3339(),
        }))
    }
}

#[tokio::test]
async fn the_app_token_is_fetched_once_reused_and_dropped_on_a_401() {
    let server = MockServer::start().await;
    let now: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let issued = Arc::new(AtomicU32::new(0));
    Mock::given(method("POST"))
        .and(path("/app/installations/99/access_tokens"))
        .respond_with(TokenEndpoint {
            issued: issued.clone(),
            now: now.timestamp(),
            lifetime: 3600,
        })
        .mount(&server)
        .await;
    // The first token is revoked early: GitHub answers 401 to it once.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members"))
        .and(header("authorization", "Bearer ghs_installation_SECRET_1"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members"))
        .and(header("authorization", "Bearer ghs_installation_SECRET_2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"login": "ada", "id": 1}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/invitations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let config = GithubConfig::builder("acme")
        .api_url(&server.uri())
        .app("4242", 99, KEY)
        .build()
        .unwrap();
    let clock = Arc::new(FixedClock::new(now));
    let a = GithubAdapter::with_clock(config, clock).unwrap();
    assert!(!format!("{a:?}").contains("PRIVATE"));
    let page = a.read_accounts(None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "401 dropped the first token"
    );
    // Reused while valid.
    a.read_accounts(page.next.as_deref()).await.unwrap();
    a.read_accounts(None).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let requests = server.received_requests().await.unwrap();
    for r in &requests {
        assert_eq!(
            r.headers
                .get("x-github-api-version")
                .map(|v| v.to_str().unwrap()),
            Some("2022-11-28")
        );
    }
    crate::support::assert_conform(&server).await;
}

#[tokio::test]
async fn a_refused_app_is_a_configuration_error_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "A JSON web token could not be decoded"})),
        )
        .mount(&server)
        .await;
    let config = GithubConfig::builder("acme")
        .api_url(&server.uri())
        .app("4242", 99, KEY)
        .build()
        .unwrap();
    let a = GithubAdapter::new(config).unwrap();
    let e = a.read_accounts(None).await.unwrap_err();
    assert_eq!(e.class(), "configuration", "{e}");
    assert!(e.to_string().contains("app_id"), "{e}");
    assert!(!e.to_string().contains("PRIVATE KEY"));
    assert!(!format!("{e:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn a_token_within_five_minutes_of_expiry_is_renewed_before_use() {
    let server = MockServer::start().await;
    let now: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let issued = Arc::new(AtomicU32::new(0));
    // Tokens that live 4 minutes by the adapter's clock: inside the 5-minute margin.
    Mock::given(method("POST"))
        .and(path("/app/installations/99/access_tokens"))
        .respond_with(TokenEndpoint {
            issued: issued.clone(),
            now: now.timestamp(),
            lifetime: 240,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let config = GithubConfig::builder("acme")
        .api_url(&server.uri())
        .app("4242", 99, KEY)
        .build()
        .unwrap();
    let a = GithubAdapter::with_clock(config, Arc::new(FixedClock::new(now))).unwrap();
    a.read_accounts(None).await.unwrap();
    a.read_accounts(None).await.unwrap();
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "a token about to expire is never sent: a new one is fetched"
    );
}
