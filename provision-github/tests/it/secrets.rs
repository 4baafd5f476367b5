//! The PAT, the app's private key and its installation tokens never reach Debug
//! output, errors or logs (the testkit's helper): grants, reads, a refused request, a
//! factory build with a bad token and an app token fetch, logs captured at TRACE.

use std::sync::Arc;

use provision_core::adapter::{Adapter, SystemSpec, read_all_accounts};
use provision_core::clock::SystemClock;
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, Entitlement, OperationKind, SystemName};
use provision_github::{GithubAdapter, GithubConfig};
use provision_testkit::conformance;
use provision_testkit::secrets::{LogCapture, SecretCheck};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{FakeGithub, TOKEN, adapter, config, start};

const KEY: &str = include_str!("../../../provision-http/tests/fixtures/test-key.pem");
/// A line of the key's body, which must never be echoed.
fn key_line() -> &'static str {
    KEY.lines().nth(3).unwrap()
}

#[tokio::test]
async fn no_credential_appears_in_debug_errors_or_logs() {
    let logs = LogCapture::start();
    let fake = FakeGithub::new(100);
    fake.add_member("ada-gh");
    fake.add_team("platform", false);
    let server = start(&fake).await;
    let a = adapter(&server);
    let ada = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some("ada-gh".into()),
    };
    let grant = OperationKind::Grant {
        entitlement: Entitlement::new("github", "team", "platform"),
    };
    conformance::run(&a, &ada, grant.clone()).await.unwrap();
    read_all_accounts(&a).await.unwrap();
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let refused = conformance::run(&a, &ada, grant).await.unwrap_err();

    // A factory build whose token GitHub refuses.
    let token_file = std::env::temp_dir().join(format!("github-token-{}", std::process::id()));
    std::fs::write(&token_file, "github_pat_WRONG_secret\n").unwrap();
    let mut system = SystemConfig::new("github");
    system.settings.insert("api_url".into(), server.uri());
    system.settings.insert("org".into(), "acme".into());
    system.credentials.insert(
        "token".into(),
        CredentialRef::File {
            file: token_file.clone(),
        },
    );
    let name = SystemName::new("github");
    let wrong = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&wrong)
        .await;
    system.settings.insert("api_url".into(), wrong.uri());
    let build_error = provision_github::factory()
        .build(SystemSpec {
            name: &name,
            config: &system,
        })
        .await
        .err()
        .unwrap();
    std::fs::remove_file(&token_file).unwrap();

    // An app: its installation token is fetched, used, then refused.
    let app_server = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"token": "ghs_INSTALLATION_secret", "expires_at": "2100-01-01T00:00:00Z"}),
        ))
        .mount(&app_server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&app_server)
        .await;
    let app_config = GithubConfig::builder("acme")
        .api_url(&app_server.uri())
        .app("1", 7, KEY)
        .build()
        .unwrap();
    let app = GithubAdapter::with_clock(app_config.clone(), Arc::new(SystemClock)).unwrap();
    let app_error = app.read_accounts(None).await.unwrap_err();
    assert_eq!(app_error.class(), "unauthorized", "{app_error}");

    assert!(
        logs.text().contains("github request"),
        "the logs were captured"
    );
    SecretCheck::new(&[
        TOKEN,
        "github_pat_WRONG_secret",
        "ghs_INSTALLATION_secret",
        key_line(),
    ])
    .logs(&logs)
    .debug("the adapter", &a)
    .debug("the config", &config(&server))
    .debug("the app adapter", &app)
    .debug("the app config", &app_config)
    .value("the refused request's error", &refused)
    .text(
        "the error as JSON",
        serde_json::to_string(&refused).unwrap(),
    )
    .value("the factory's error", &build_error)
    .value("the app's error", &app_error)
    .assert_clean();
    assert!(
        build_error.to_string().contains("Bad credentials"),
        "{build_error}"
    );
}
