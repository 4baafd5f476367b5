//! Shared test support: a mocked token endpoint that verifies the assertion, a mocked
//! Directory API, and the discovery-document conformance check.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use provision_core::model::{
    AccountRef, Entitlement, IdentityId, Operation, OperationKind, Priority, Reason, ReasonKind,
    SystemName,
};
pub mod fake;

use provision_google::{GoogleAdapter, GoogleConfig};
use provision_testkit::discovery::DiscoverySpec;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const KEY_JSON: &str = include_str!("../../fixtures/test-service-account.json");
pub const PUBLIC_KEY: &str = include_str!("../../fixtures/test-public-key.pem");
pub const ADMIN: &str = "admin@example.com";
pub const SERVICE_ACCOUNT: &str = "provisioner@provision-tests.iam.gserviceaccount.com";

/// The token endpoint: verifies each assertion's signature and audience, records its
/// header and claims, and hands out `ya29.token-N`.
pub struct TokenEndpoint {
    pub audience: String,
    pub expires_in: u64,
    pub issued: Arc<AtomicUsize>,
    pub assertions: Arc<Mutex<Vec<(jsonwebtoken::Header, Value, String)>>>,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let grant_type = form.get("grant_type").cloned().unwrap_or_default();
        let Some(assertion) = form.get("assertion") else {
            return ResponseTemplate::new(400).set_body_json(
                json!({"error":"invalid_request","error_description":"no assertion"}),
            );
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
            Ok(data) => {
                self.assertions.lock().unwrap().push((data.header, data.claims, grant_type));
                let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": format!("ya29.token-{n}"),
                    "expires_in": self.expires_in,
                    "token_type": "Bearer"
                }))
            }
            Err(e) => ResponseTemplate::new(400)
                .set_body_json(json!({"error":"invalid_grant","error_description":format!("Invalid JWT Signature. {e}")})),
        }
    }
}

pub struct Env {
    pub api: MockServer,
    pub token: MockServer,
    pub adapter: GoogleAdapter,
    pub issued: Arc<AtomicUsize>,
    pub assertions: Arc<Mutex<Vec<(jsonwebtoken::Header, Value, String)>>>,
}

pub fn token_url(token: &MockServer) -> String {
    format!("{}/token", token.uri())
}

impl Env {
    pub async fn new() -> Self {
        Self::with(3600, |b| b).await
    }

    pub async fn with(
        expires_in: u64,
        configure: impl FnOnce(
            provision_google::GoogleConfigBuilder,
        ) -> provision_google::GoogleConfigBuilder,
    ) -> Self {
        let api = MockServer::start().await;
        let token = MockServer::start().await;
        let issued = Arc::new(AtomicUsize::new(0));
        let assertions = Arc::new(Mutex::new(Vec::new()));
        Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/token"))
            .respond_with(TokenEndpoint {
                audience: token_url(&token),
                expires_in,
                issued: issued.clone(),
                assertions: assertions.clone(),
            })
            .mount(&token)
            .await;
        let builder = GoogleConfig::builder()
            .service_account_key_json(KEY_JSON.to_owned())
            .admin_subject(ADMIN)
            .base_url(api.uri())
            .token_url(token_url(&token))
            .timeout(Duration::from_secs(5));
        let config = configure(builder).build().unwrap();
        let adapter = GoogleAdapter::new(config).unwrap();
        Env {
            api,
            token,
            adapter,
            issued,
            assertions,
        }
    }

    /// Every request the API mock received conforms to the discovery document.
    pub async fn assert_conform(&self) -> Vec<String> {
        let spec = DiscoverySpec::load_shared("google-admin-directory-v1.trimmed.json").unwrap();
        let requests = self.api.received_requests().await.unwrap();
        provision_testkit::assert_requests_conform(&spec, &requests)
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    /// Forgets the API mock's mocks and requests, after checking that every request
    /// it received so far conforms (a reset must not hide one from the check).
    pub async fn reset(&self) {
        self.assert_conform().await;
        self.api.reset().await;
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.api.received_requests().await.unwrap()
    }
}

pub const DIR: &str = "/admin/directory/v1";

pub fn google_error(status: u16, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}]
        }
    }))
}

pub fn op(kind: OperationKind) -> Operation {
    let identity = IdentityId::new("e1001");
    let system = SystemName::new("google");
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: "sarah@example.com".into(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["engineering".into()],
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

pub fn sarah() -> AccountRef {
    AccountRef::by_login("sarah@example.com")
}

pub fn group(name: &str, role: Option<&str>) -> Entitlement {
    let e = Entitlement::new("google", "group", name);
    match role {
        Some(r) => e.with_role(r),
        None => e,
    }
}

pub fn org_unit(path: &str) -> Entitlement {
    Entitlement::new("google", "org_unit", path)
}

/// Captures every log line written while the guard lives.
#[derive(Clone, Default)]
pub struct LogBuffer(pub Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let buffer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || buffer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
