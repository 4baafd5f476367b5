//! OAuth token sources that sign a JWT: client credentials with a `private_key_jwt`
//! client assertion (Okta service apps) and the JWT-bearer grant (Google service
//! accounts with domain-wide delegation). Both post a form to a token endpoint and
//! read the standard token reply with [`request_token`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use provision_core::adapter::{AdapterError, SystemError};
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::jwt::JwtSigner;
use super::token::{AccessToken, TokenSource};
use crate::client::{HttpClient, RequestKind};

/// The client assertion type of a `private_key_jwt` (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The grant type of a signed-JWT assertion (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Deserialize)]
struct TokenReply {
    access_token: SecretString,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Posts `form` to `token_url` and reads the token reply.
///
/// A 429 is `RateLimited` and a 5xx `Transient` (the executor retries the
/// operation); any other refusal is `Unauthorized` with the server's `error` as the
/// code and its `error_description` as the message (`invalid_client`,
/// `invalid_grant`: a revoked key, a missing scope, a subject that is not an admin).
/// A token of another type than `Bearer` (DPoP) is refused: the adapters send bearer
/// tokens only.
pub async fn request_token(
    http: &HttpClient,
    token_url: &Url,
    form: &[(&str, &str)],
) -> Result<AccessToken, AdapterError> {
    request_token_reply(http, token_url, form)
        .await
        .map(|(token, _)| token)
}

/// The fields of a token reply that carry a credential: never handed back by
/// [`request_token_reply`].
pub const SECRET_TOKEN_FIELDS: &[&str] =
    &["access_token", "refresh_token", "id_token", "signature"];

/// [`request_token`], also handing back the reply's other string fields (Salesforce's
/// `instance_url`, the host every API call must go to). The fields that carry a
/// credential ([`SECRET_TOKEN_FIELDS`]) are left out.
pub async fn request_token_reply(
    http: &HttpClient,
    token_url: &Url,
    form: &[(&str, &str)],
) -> Result<(AccessToken, std::collections::BTreeMap<String, String>), AdapterError> {
    let request = http
        .reqwest()
        .post(token_url.clone())
        .header(ACCEPT, "application/json")
        .form(form);
    tracing::debug!(
        system = http.system(),
        path = token_url.path(),
        "token request"
    );
    let reply = http.send(request, RequestKind::Read).await?;
    let status = reply.status;
    if !reply.is_success() {
        if status == 429 || status >= 500 {
            return Err(crate::classify::default_class(
                &reply,
                crate::classify::json_system_error(&reply),
            ));
        }
        let body: OAuthError = serde_json::from_slice(&reply.body).unwrap_or_default();
        return Err(AdapterError::Unauthorized {
            error: SystemError::new(
                Some(status),
                body.error,
                body.error_description
                    .unwrap_or_else(|| format!("{} refused the token request", http.system())),
            ),
        });
    }
    let token: TokenReply =
        serde_json::from_slice(&reply.body).map_err(|e| AdapterError::Unauthorized {
            error: SystemError::new(
                Some(status),
                None,
                format!("unexpected token reply from {}: {e}", http.system()),
            ),
        })?;
    if let Some(kind) = token
        .token_type
        .as_deref()
        .filter(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(AdapterError::Unauthorized {
            error: SystemError::message(format!(
                "{} issued a {kind} token, not a Bearer token: the app requires proof of \
                 possession (DPoP); turn that off for this service app",
                http.system()
            )),
        });
    }
    let fields = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&reply.body)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !SECRET_TOKEN_FIELDS.contains(&k.as_str()))
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect();
    Ok((
        AccessToken {
            value: token.access_token,
            expires_in: token.expires_in.map(Duration::from_secs),
        },
        fields,
    ))
}

fn epoch_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The claims of a `private_key_jwt` client assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAssertionClaims {
    /// The client id.
    pub iss: String,
    /// The client id.
    pub sub: String,
    /// The full token URL.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
    /// A unique id (the server refuses a replay).
    pub jti: String,
}

/// Client credentials with a `private_key_jwt` client assertion (RS256), as Okta's
/// service apps use at the org authorization server.
#[derive(Debug)]
pub struct ClientCredentialsJwt {
    token_url: Url,
    client_id: String,
    scope: String,
    signer: JwtSigner,
    assertion_lifetime: Duration,
}

impl ClientCredentialsJwt {
    /// A source for `client_id` at `token_url`, asking for `scopes`. Assertions live
    /// five minutes (Okta accepts at most one hour).
    pub fn new(
        token_url: Url,
        client_id: impl Into<String>,
        scopes: &[String],
        signer: JwtSigner,
    ) -> Self {
        Self {
            token_url,
            client_id: client_id.into(),
            scope: scopes.join(" "),
            signer,
            assertion_lifetime: Duration::from_secs(300),
        }
    }

    /// The claims of an assertion made at `now`.
    pub fn claims_at(&self, now: SystemTime) -> ClientAssertionClaims {
        let iat = epoch_seconds(now);
        ClientAssertionClaims {
            iss: self.client_id.clone(),
            sub: self.client_id.clone(),
            aud: self.token_url.to_string(),
            iat,
            exp: iat + self.assertion_lifetime.as_secs(),
            jti: format!("{:032x}", rand::random::<u128>()),
        }
    }
}

#[async_trait]
impl TokenSource for ClientCredentialsJwt {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        let assertion = self.signer.sign(&self.claims_at(SystemTime::now()))?;
        request_token(
            http,
            &self.token_url,
            &[
                ("grant_type", "client_credentials"),
                ("scope", self.scope.as_str()),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", assertion.expose_secret()),
            ],
        )
        .await
    }
}

/// The claims of a JWT-bearer grant assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtBearerClaims {
    /// The service account (Google: `client_email`).
    pub iss: String,
    /// The user impersonated (Google domain-wide delegation: an admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The scopes, space-separated.
    pub scope: String,
    /// The token endpoint.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (Google: at most one hour after `iat`).
    pub exp: u64,
}

/// The JWT-bearer grant (RFC 7523): a signed assertion exchanged for a token, as
/// Google service accounts use with domain-wide delegation.
#[derive(Debug)]
pub struct JwtBearerGrant {
    token_url: Url,
    issuer: String,
    subject: Option<String>,
    scope: String,
    signer: JwtSigner,
    assertion_lifetime: Duration,
}

impl JwtBearerGrant {
    /// A source for `issuer` (the service account) at `token_url`, impersonating
    /// `subject` when given, asking for `scopes`. Assertions live one hour (Google's
    /// maximum).
    pub fn new(
        token_url: Url,
        issuer: impl Into<String>,
        subject: Option<String>,
        scopes: &[&str],
        signer: JwtSigner,
    ) -> Self {
        Self {
            token_url,
            issuer: issuer.into(),
            subject,
            scope: scopes.join(" "),
            signer,
            assertion_lifetime: Duration::from_secs(3600),
        }
    }

    /// The claims of an assertion made at `now`.
    pub fn claims_at(&self, now: SystemTime) -> JwtBearerClaims {
        let iat = epoch_seconds(now);
        JwtBearerClaims {
            iss: self.issuer.clone(),
            sub: self.subject.clone(),
            scope: self.scope.clone(),
            aud: self.token_url.to_string(),
            iat,
            exp: iat + self.assertion_lifetime.as_secs(),
        }
    }

    /// A signed assertion made at `now`.
    pub fn assertion_at(&self, now: SystemTime) -> Result<SecretString, AdapterError> {
        self.signer.sign(&self.claims_at(now))
    }
}

#[async_trait]
impl TokenSource for JwtBearerGrant {
    async fn fetch(&self, http: &HttpClient) -> Result<AccessToken, AdapterError> {
        let assertion = self.assertion_at(SystemTime::now())?;
        request_token(
            http,
            &self.token_url,
            &[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.expose_secret()),
            ],
        )
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::jwt::tests::{test_pem, test_public_pem};
    use crate::auth::{Auth, TokenCache};
    use crate::classify::JsonErrors;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    /// A token endpoint that verifies a client assertion and numbers its tokens.
    struct Endpoint {
        audience: String,
        issued: Arc<Mutex<Vec<String>>>,
    }

    impl Respond for Endpoint {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect();
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(&test_public_pem()).unwrap();
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            v.set_audience(&[&self.audience]);
            let assertion = form
                .get("client_assertion")
                .or_else(|| form.get("assertion"))
                .unwrap();
            let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v) else {
                return ResponseTemplate::new(401).set_body_json(
                    json!({"error": "invalid_client", "error_description": "bad assertion"}),
                );
            };
            let mut issued = self.issued.lock().unwrap();
            issued.push(data.claims.to_string());
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3600,
                "access_token": format!("AT-{}", issued.len()),
            }))
        }
    }

    async fn server_with_endpoint() -> (MockServer, Arc<Mutex<Vec<String>>>, Url) {
        let server = MockServer::start().await;
        let token_url = Url::parse(&format!("{}/oauth2/v1/token", server.uri())).unwrap();
        let issued = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("POST"))
            .and(path("/oauth2/v1/token"))
            .respond_with(Endpoint {
                audience: token_url.to_string(),
                issued: issued.clone(),
            })
            .mount(&server)
            .await;
        (server, issued, token_url)
    }

    fn signer() -> JwtSigner {
        JwtSigner::rs256_pem(&test_pem(), Some("kid-1".into())).unwrap()
    }

    #[tokio::test]
    async fn client_credentials_assertion_has_okta_claims() {
        let (server, issued, token_url) = server_with_endpoint().await;
        let http = HttpClient::builder("Okta", server.uri()).build().unwrap();
        let source = ClientCredentialsJwt::new(
            token_url.clone(),
            "0oa1",
            &["okta.users.read".into()],
            signer(),
        );
        let token = source.fetch(&http).await.unwrap();
        assert_eq!(token.value.expose_secret(), "AT-1");
        assert_eq!(token.expires_in, Some(Duration::from_secs(3600)));
        let claims: serde_json::Value = serde_json::from_str(&issued.lock().unwrap()[0]).unwrap();
        assert_eq!(claims["iss"], "0oa1");
        assert_eq!(claims["sub"], "0oa1");
        assert_eq!(claims["aud"], token_url.as_str());
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            300
        );
        let a = source.claims_at(SystemTime::now());
        let b = source.claims_at(SystemTime::now());
        assert_ne!(a.jti, b.jti, "each assertion is unique");
        let form = &server.received_requests().await.unwrap()[0];
        let form: HashMap<String, String> = url::form_urlencoded::parse(&form.body)
            .into_owned()
            .collect();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["scope"], "okta.users.read");
        assert_eq!(form["client_assertion_type"], CLIENT_ASSERTION_TYPE);
    }

    #[tokio::test]
    async fn jwt_bearer_grant_has_google_claims() {
        let (server, issued, token_url) = server_with_endpoint().await;
        let http = HttpClient::builder("Google", server.uri()).build().unwrap();
        let source = JwtBearerGrant::new(
            token_url.clone(),
            "sa@p.iam.gserviceaccount.com",
            Some("admin@example.com".into()),
            &["scope.a", "scope.b"],
            signer(),
        );
        source.fetch(&http).await.unwrap();
        let claims: serde_json::Value = serde_json::from_str(&issued.lock().unwrap()[0]).unwrap();
        assert_eq!(claims["iss"], "sa@p.iam.gserviceaccount.com");
        assert_eq!(claims["sub"], "admin@example.com");
        assert_eq!(claims["scope"], "scope.a scope.b");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        let form = &server.received_requests().await.unwrap()[0];
        let form: HashMap<String, String> = url::form_urlencoded::parse(&form.body)
            .into_owned()
            .collect();
        assert_eq!(form["grant_type"], JWT_BEARER_GRANT);
    }

    #[tokio::test]
    async fn refusals_keep_the_oauth_code_and_throttling_is_rate_limited() {
        let server = MockServer::start().await;
        let token_url = Url::parse(&format!("{}/token", server.uri())).unwrap();
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "Not a valid email."}),
            ))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"token_type": "DPoP", "access_token": "x", "expires_in": 60}),
            ))
            .mount(&server)
            .await;
        let http = HttpClient::builder("Google", server.uri()).build().unwrap();
        let e = request_token(&http, &token_url, &[]).await.unwrap_err();
        let AdapterError::Unauthorized { error } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(error.code.as_deref(), Some("invalid_grant"));
        assert_eq!(error.message, "Not a valid email.");
        let e = request_token(&http, &token_url, &[]).await.unwrap_err();
        let AdapterError::RateLimited { info, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(info.retry_after, Some(Duration::from_secs(5)));
        let e = request_token(&http, &token_url, &[]).await.unwrap_err();
        assert!(e.to_string().contains("DPoP"), "{e}");
    }

    #[tokio::test]
    async fn a_401_drops_the_cached_token_and_the_request_goes_once_more() {
        let (server, issued, token_url) = server_with_endpoint().await;
        // The API rejects the first token (revoked early), accepts the second.
        Mock::given(method("GET"))
            .and(path("/api/v1/users"))
            .and(header("authorization", "Bearer AT-1"))
            .respond_with(ResponseTemplate::new(401).set_body_json(
                json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/users"))
            .and(header("authorization", "Bearer AT-2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        let http = HttpClient::builder("Okta", server.uri()).build().unwrap();
        let source = ClientCredentialsJwt::new(token_url, "0oa1", &[], signer());
        let auth = Auth::OAuth(Arc::new(TokenCache::new(
            source,
            http.clone(),
            Duration::from_secs(60),
        )));
        let list_users = |auth: Auth| {
            let http = http.clone();
            async move {
                let request = http.reqwest().get(http.url(&["api", "v1", "users"]));
                http.send_authorized(&auth, request, RequestKind::Read)
                    .await
                    .unwrap()
                    .into_result(&JsonErrors)
            }
        };
        assert_eq!(list_users(auth).await.unwrap().status, 200);
        assert_eq!(issued.lock().unwrap().len(), 2);

        // A static credential is not retried: the 401 is the answer.
        let auth = Auth::Static(crate::auth::StaticAuth::bearer("AT-1"));
        let e = list_users(auth).await.unwrap_err();
        assert_eq!(e.system_error().unwrap().code.as_deref(), Some("E0000011"));
    }
}
