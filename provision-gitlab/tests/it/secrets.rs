//! The token never reaches Debug output, errors or logs (the testkit's helper): a
//! run of grants, reads, a refused request and a factory build with a bad token,
//! logs captured at TRACE.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{SystemSpec, read_all_accounts};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, Entitlement, OperationKind, SystemName};
use provision_gitlab::{Deployment, GitlabConfig};
use provision_testkit::conformance;
use provision_testkit::secrets::{LogCapture, SecretCheck};
use serde_json::json;
use support::{FakeGitlab, TOKEN, config, self_managed, start};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn the_token_never_appears_in_debug_errors_or_logs() {
    let logs = LogCapture::start();
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let uid = fake.add_user("ada", "ada@example.com");
    let server = start(&fake).await;
    let adapter = self_managed(&server);
    let ada = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some(uid.to_string()),
    };
    let grant = OperationKind::Grant {
        entitlement: Entitlement::new("gitlab", "group", "acme").with_role("developer"),
    };
    conformance::run(&adapter, &ada, grant.clone())
        .await
        .unwrap();
    read_all_accounts(&adapter).await.unwrap();
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "401 Unauthorized"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let refused = conformance::run(&adapter, &ada, grant).await.unwrap_err();

    // A factory build whose token the instance refuses.
    let token_file = std::env::temp_dir().join(format!("gitlab-token-{}", std::process::id()));
    std::fs::write(&token_file, "glpat-WRONG-secret\n").unwrap();
    let mut system = SystemConfig::new("gitlab");
    system.settings.insert("base_url".into(), server.uri());
    system.settings.insert("group".into(), "acme".into());
    system
        .settings
        .insert("deployment".into(), "self_managed".into());
    system.credentials.insert(
        "token".into(),
        CredentialRef::File {
            file: token_file.clone(),
        },
    );
    let name = SystemName::new("gitlab");
    let built = provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &system,
        })
        .await;
    let build_error = built.err().unwrap();
    std::fs::remove_file(&token_file).unwrap();

    assert!(
        logs.text().contains("gitlab request"),
        "the logs were captured"
    );
    SecretCheck::new(&[TOKEN, "glpat-WRONG-secret"])
        .logs(&logs)
        .debug("the adapter", &adapter)
        .debug("the config", &config(&server, Deployment::SelfManaged))
        .debug(
            "a bearer config",
            &GitlabConfig::builder(&server.uri(), "acme")
                .bearer(TOKEN)
                .build()
                .unwrap(),
        )
        .value("the refused request's error", &refused)
        .text(
            "the error as JSON",
            serde_json::to_string(&refused).unwrap(),
        )
        .value("the factory's error", &build_error)
        .assert_clean();
    assert!(build_error.to_string().contains("401"), "{build_error}");
}
