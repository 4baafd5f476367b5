//! An OAuth 2.0 token endpoint for wiremock that checks signed-JWT requests the way
//! the vendors do, for adapters that mint their own assertions:
//!
//! * [`Grant::JwtBearer`] — RFC 7523 §2.1, the assertion *is* the grant
//!   (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`):
//!   Google service accounts with domain-wide delegation;
//! * [`Grant::ClientCredentialsWithAssertion`] — RFC 7523 §2.2, `private_key_jwt`
//!   client authentication (`grant_type=client_credentials&client_assertion_type=
//!   urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=<JWT>`):
//!   Okta service apps.
//!
//! Each assertion's RS256 signature is verified with the test's public key, its
//! audience must be the endpoint's own URL, `exp` at most an hour after `iat`; the
//! header and claims are recorded so a test can assert on `iss`, `sub`, `scope`,
//! `kid`. Tokens are `<prefix>-1`, `<prefix>-2`, ...; a rejected assertion gets the
//! vendor's error shape (400 `invalid_grant` or 401 `invalid_client`).
//!
//! ```no_run
//! # async fn demo(public_pem: &str) {
//! use provision_testkit::token_endpoint::{Grant, TokenEndpoint};
//! let server = wiremock::MockServer::start().await;
//! let endpoint = TokenEndpoint::new(Grant::JwtBearer, public_pem)
//!     .token_prefix("ya29.token")
//!     .mount(&server, "/token")
//!     .await;
//! // ... point the adapter at endpoint.url() ...
//! assert_eq!(endpoint.issued(), 1);
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The JWT-bearer grant type (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The JWT client-assertion type (RFC 7523 §2.2).
pub const JWT_CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Which signed-JWT flow the endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The assertion is the grant (Google).
    JwtBearer,
    /// Client credentials, the client authenticated by a signed assertion (Okta).
    ClientCredentialsWithAssertion,
}

/// One accepted token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The assertion's header (`alg`, `kid`).
    pub header: Header,
    /// The assertion's claims.
    pub claims: Value,
    /// The form fields other than the assertion itself.
    pub form: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Record {
    accepted: Vec<TokenRequest>,
    rejected: Vec<String>,
    jtis: Vec<String>,
}

/// The token endpoint (a wiremock responder); see the module docs.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    grant: Grant,
    public_pem: String,
    audience: Option<String>,
    expires_in: u64,
    token_prefix: String,
    required_scope: Option<String>,
    reject_replayed_jti: bool,
    record: Arc<Mutex<Record>>,
}

impl TokenEndpoint {
    /// An endpoint for `grant` verifying signatures with `public_pem` (an RSA public
    /// key in PEM form); tokens live an hour.
    pub fn new(grant: Grant, public_pem: &str) -> Self {
        Self {
            grant,
            public_pem: public_pem.to_owned(),
            audience: None,
            expires_in: 3600,
            token_prefix: "test-access-token".to_owned(),
            required_scope: None,
            reject_replayed_jti: matches!(grant, Grant::ClientCredentialsWithAssertion),
            record: Arc::default(),
        }
    }

    /// Seconds each token lives (`expires_in`).
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds;
        self
    }

    /// The tokens' prefix (default `test-access-token`).
    pub fn token_prefix(mut self, prefix: &str) -> Self {
        self.token_prefix = prefix.to_owned();
        self
    }

    /// The exact `scope` the request must carry: in the assertion's claims for
    /// [`Grant::JwtBearer`], in the form for client credentials.
    pub fn require_scope(mut self, scope: &str) -> Self {
        self.required_scope = Some(scope.to_owned());
        self
    }

    /// The audience assertions must name (default: the endpoint's URL once mounted).
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// Mounts the endpoint at `path_` on `server` (POST only) and returns it, its
    /// audience defaulting to `<server>/<path_>`.
    pub async fn mount(mut self, server: &MockServer, path_: &str) -> Self {
        if self.audience.is_none() {
            self.audience = Some(format!("{}{path_}", server.uri()));
        }
        Mock::given(method("POST"))
            .and(path(path_))
            .respond_with(self.clone())
            .mount(server)
            .await;
        self
    }

    /// The URL assertions must name as their audience.
    pub fn url(&self) -> String {
        self.audience.clone().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tokens were issued.
    pub fn issued(&self) -> usize {
        self.lock().accepted.len()
    }

    /// The accepted requests, oldest first.
    pub fn accepted(&self) -> Vec<TokenRequest> {
        self.lock().accepted.clone()
    }

    /// Why requests were refused, oldest first.
    pub fn rejected(&self) -> Vec<String> {
        self.lock().rejected.clone()
    }

    fn refuse(&self, status: u16, error: &str, why: String) -> ResponseTemplate {
        self.lock().rejected.push(why.clone());
        ResponseTemplate::new(status)
            .set_body_json(json!({"error": error, "error_description": why}))
    }
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut form: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let (status, error) = match self.grant {
            Grant::JwtBearer => (400, "invalid_grant"),
            Grant::ClientCredentialsWithAssertion => (401, "invalid_client"),
        };
        let assertion = match self.grant {
            Grant::JwtBearer => {
                if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
                    return self.refuse(400, "unsupported_grant_type", "grant_type".into());
                }
                form.remove("assertion")
            }
            Grant::ClientCredentialsWithAssertion => {
                if form.get("grant_type").map(String::as_str) != Some("client_credentials")
                    || form.get("client_assertion_type").map(String::as_str)
                        != Some(JWT_CLIENT_ASSERTION)
                {
                    return self.refuse(400, "invalid_request", "grant_type".into());
                }
                form.remove("client_assertion")
            }
        };
        let Some(assertion) = assertion else {
            return self.refuse(400, "invalid_request", "no assertion".into());
        };
        let Ok(key) = DecodingKey::from_rsa_pem(self.public_pem.as_bytes()) else {
            return self.refuse(
                500,
                "server_error",
                "the test's public key is not PEM".into(),
            );
        };
        let mut validation = Validation::new(Algorithm::RS256);
        let audience = self.url();
        validation.set_audience(&[audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        let data = match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
            Ok(data) => data,
            Err(e) => return self.refuse(status, error, format!("Invalid JWT: {e}")),
        };
        let claims = data.claims;
        let number = |k: &str| claims.get(k).and_then(Value::as_i64).unwrap_or_default();
        if number("exp") <= number("iat") || number("exp") - number("iat") > 3600 {
            return self.refuse(
                status,
                error,
                "exp must be at most an hour after iat".into(),
            );
        }
        if let Some(scope) = &self.required_scope {
            let sent = match self.grant {
                Grant::JwtBearer => claims.get("scope").and_then(Value::as_str),
                Grant::ClientCredentialsWithAssertion => form.get("scope").map(String::as_str),
            };
            if sent != Some(scope.as_str()) {
                return self.refuse(status, error, format!("scope {sent:?}"));
            }
        }
        if self.reject_replayed_jti {
            let jti = claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut record = self.lock();
            if jti.is_empty() || record.jtis.contains(&jti) {
                drop(record);
                return self.refuse(status, error, "jti missing or replayed".into());
            }
            record.jtis.push(jti);
        }
        let n = {
            let mut record = self.lock();
            record.accepted.push(TokenRequest {
                header: data.header,
                claims: claims.clone(),
                form: form.clone(),
            });
            record.accepted.len()
        };
        let mut body = json!({
            "access_token": format!("{}-{n}", self.token_prefix),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        });
        if let Some(scope) = form.get("scope") {
            body["scope"] = json!(scope);
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}
