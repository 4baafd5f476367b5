//! `provision_google::factory()`: the descriptor without credentials, the adapter built
//! from a deployment entry, and malformed settings refused at build time naming the
//! system, the setting and what was expected, never the key.
#![allow(clippy::unwrap_used)]

use provision_core::adapter::{ConfigError, SystemSpec};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, OperationKind, SystemName};
use provision_testkit::secrets::{LogCapture, SecretCheck};

const KEY_JSON: &str = include_str!("../fixtures/test-service-account.json");

/// A piece of the private key: it must never show up anywhere.
fn key_piece() -> String {
    let key: serde_json::Value = serde_json::from_str(KEY_JSON).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    pem.lines().nth(3).unwrap().to_owned()
}

struct KeyFile(std::path::PathBuf);

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn system(tag: &str) -> (SystemConfig, KeyFile) {
    let file = std::env::temp_dir().join(format!(
        "provision-google-factory-{tag}-{}.json",
        std::process::id()
    ));
    std::fs::write(&file, KEY_JSON).unwrap();
    let mut c = SystemConfig::new("google");
    c.credentials.insert(
        "service_account_key".into(),
        CredentialRef::File { file: file.clone() },
    );
    c.settings
        .insert("admin_subject".into(), "admin@example.com".into());
    c.settings
        .insert("base_url".into(), "http://127.0.0.1:9/".into());
    (c, KeyFile(file))
}

#[tokio::test]
async fn the_descriptor_needs_no_credentials_and_build_resolves_them() {
    let name = SystemName::new("workspace");
    let mut bare = SystemConfig::new("google");
    bare.credentials.insert(
        "service_account_key".into(),
        CredentialRef::Env {
            env: "PROVISION_GOOGLE_FACTORY_TEST_UNSET_VARIABLE".into(),
        },
    );
    let factory = provision_google::factory();
    assert_eq!(factory.adapter_type(), "google");
    let d = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &bare,
        })
        .unwrap();
    assert!(d.kind("group").unwrap().enumerable);

    let err = factory
        .build(SystemSpec {
            name: &name,
            config: &bare,
        })
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ConfigError::MissingCredential { system, credential, .. }
            if system == "workspace" && credential == "service_account_key"),
        "{err:?}"
    );

    let (config, _file) = system("build");
    let adapter = factory
        .build(SystemSpec {
            name: &name,
            config: &config,
        })
        .await
        .unwrap();
    // deletion follows the deployment's delete_leavers, off here
    let op = provision_testkit::conformance::operation(
        adapter.as_ref(),
        "ada@example.com",
        OperationKind::DeleteAccount,
    );
    let e = adapter
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "unsupported");
    assert!(e.to_string().contains("delete_leavers"), "{e}");
}

#[tokio::test]
async fn malformed_settings_fail_at_build_naming_system_setting_and_expectation() {
    let logs = LogCapture::start();
    let name = SystemName::new("workspace");
    let factory = provision_google::factory();
    let cases = [
        ("base_url", "admin.googleapis.com", "http(s) URL"),
        ("token_url", "mailto:x@example.com", "http(s) URL"),
        ("admin_subject", "admin", "email address"),
        ("customer_id", "example.com", "customer id"),
        ("domain", "https://example.com", "domain name"),
        ("default_org_unit", "Engineering", "starting with `/`"),
    ];
    let mut errors = Vec::new();
    for (setting, value, expected) in cases {
        let (mut config, _file) = system(setting);
        config.settings.insert(setting.into(), value.into());
        let err = factory
            .build(SystemSpec {
                name: &name,
                config: &config,
            })
            .await
            .err()
            .unwrap_or_else(|| panic!("{setting} = {value} was accepted"));
        match &err {
            ConfigError::InvalidSetting {
                system,
                setting: named,
                expected: said,
            } => {
                assert_eq!(system, "workspace");
                assert_eq!(named, setting);
                assert!(said.contains(expected), "{setting}: {said}");
            }
            other => panic!("{setting}: {other:?}"),
        }
        errors.push(err);
    }
    // a broken key names the credential, not its content
    let (mut config, _file) = system("broken");
    let broken = std::env::temp_dir().join(format!(
        "provision-google-broken-{}.json",
        std::process::id()
    ));
    std::fs::write(
        &broken,
        KEY_JSON.replacen("\"client_email\"", "\"client_mail\"", 1),
    )
    .unwrap();
    config.credentials.insert(
        "service_account_key".into(),
        CredentialRef::File {
            file: broken.clone(),
        },
    );
    let err = factory
        .build(SystemSpec {
            name: &name,
            config: &config,
        })
        .await
        .err()
        .unwrap();
    let _ = std::fs::remove_file(&broken);
    assert!(
        matches!(&err, ConfigError::MissingCredential { credential, .. } if credential == "service_account_key"),
        "{err:?}"
    );
    errors.push(err);

    let mut check = SecretCheck::new(&[&key_piece()]).logs(&logs);
    for (n, e) in errors.iter().enumerate() {
        check = check.value(&format!("error {n}"), e);
    }
    check.assert_clean();
}

#[test]
fn configs_and_adapters_never_show_the_key() {
    let (config, _file) = system("debug");
    let name = SystemName::new("google");
    let built = provision_google::GoogleConfig::from_spec(SystemSpec {
        name: &name,
        config: &config,
    })
    .unwrap();
    assert_eq!(built.system_name(), "google");
    let adapter = provision_google::GoogleAdapter::new(built.clone()).unwrap();
    SecretCheck::new(&[&key_piece()])
        .debug("the config", &built)
        .debug("the adapter", &adapter)
        .assert_clean();
}
