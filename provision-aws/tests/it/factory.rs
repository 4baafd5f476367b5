//! `provision_aws::factory()`: the descriptor from settings alone (no credentials),
//! the adapter built from a deployment entry, and malformed settings refused at build
//! time naming the system, the setting and what was expected, never a secret.
#![allow(clippy::unwrap_used)]

use provision_core::adapter::{ConfigError, SystemSpec};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, IdentityId, Operation, OperationKind, SystemName};
use provision_testkit::secrets::SecretCheck;

const SECRET: &str = "wJalrXUtnFEMI-factory-secret-DO-NOT-LEAK";

struct Files(std::path::PathBuf);

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A deployment entry with file credentials (the secret in a file of its own).
fn system(name: &str) -> (SystemConfig, Files) {
    let dir = std::env::temp_dir().join(format!(
        "provision-aws-factory-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("id"), "AKIDFACTORY").unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let mut c = SystemConfig::new("aws");
    c.settings.insert("region".into(), "eu-west-1".into());
    c.settings.insert(
        "instance_arn".into(),
        "arn:aws:sso:::instance/ssoins-1111222233334444".into(),
    );
    c.settings
        .insert("identity_store_id".into(), "d-1234567890".into());
    c.settings
        .insert("accounts.production".into(), "111122223333".into());
    c.credentials.insert(
        "access_key_id".into(),
        CredentialRef::File {
            file: dir.join("id"),
        },
    );
    c.credentials.insert(
        "secret_access_key".into(),
        CredentialRef::File {
            file: dir.join("secret"),
        },
    );
    (c, Files(dir))
}

#[tokio::test]
async fn the_descriptor_needs_no_credentials_and_build_resolves_them() {
    let name = SystemName::new("aws-prod");
    let mut bare = SystemConfig::new("aws");
    bare.settings.insert("region".into(), "eu-west-1".into());
    bare.credentials.insert(
        "secret_access_key".into(),
        CredentialRef::Env {
            env: "PROVISION_AWS_FACTORY_TEST_UNSET_VARIABLE".into(),
        },
    );
    let factory = provision_aws::factory();
    assert_eq!(factory.adapter_type(), "aws");
    let d = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &bare,
        })
        .unwrap();
    assert!(d.kind("group").unwrap().enumerable);
    assert!(d.kind("permission_set").unwrap().enumerable);

    let (config, _files) = system("build");
    let adapter = factory
        .build(SystemSpec {
            name: &name,
            config: &config,
        })
        .await
        .unwrap();
    assert_eq!(adapter.descriptor().adapter_type, "aws");

    // the delete switch is the deployment's delete_leavers, nothing else
    let kind = OperationKind::DeleteAccount;
    let identity = IdentityId::new("e1");
    let op = Operation {
        id: Operation::make_id(&identity, &name, &kind),
        identity,
        login: "ada@example.com".into(),
        system: name.clone(),
        kind,
        reason: provision_core::model::Reason {
            kind: provision_core::model::ReasonKind::PolicyGrant,
            policies: vec![],
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Default::default(),
    };
    let e = adapter
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "unsupported");
    assert!(e.to_string().contains("delete_leavers"), "{e}");

    // a missing credential names the system and the credential
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
            if system == "aws-prod" && credential == "secret_access_key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_settings_fail_at_build_naming_system_setting_and_expectation() {
    let name = SystemName::new("aws-prod");
    let factory = provision_aws::factory();
    let cases: [(&str, &str, &str); 6] = [
        ("endpoint", "not a url", "http(s) URL"),
        ("endpoint", "ftp://moto.local", "http(s) URL"),
        (
            "instance_arn",
            "arn:aws:iam::111122223333:role/x",
            "ssoins-",
        ),
        ("identity_store_id", "store-1", "d-<10 hex digits>"),
        ("region", "us-nowhere-9", "AWS region"),
        ("accounts.staging", "44445555", "12-digit"),
    ];
    for (setting, value, expected) in cases {
        let (mut config, _files) = system(&format!("bad-{}", setting.replace('.', "-")));
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
                assert_eq!(system, "aws-prod");
                assert_eq!(named, setting);
                assert!(said.contains(expected), "{setting}: {said}");
            }
            other => panic!("{setting}: {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("aws-prod") && text.contains(setting),
            "{text}"
        );
        SecretCheck::new(&[SECRET])
            .value("the error", &err)
            .assert_clean();
    }
}

#[test]
fn configs_and_errors_never_show_the_secret() {
    let (config, _files) = system("debug");
    let name = SystemName::new("aws");
    let built = provision_aws::AwsConfig::from_spec(SystemSpec {
        name: &name,
        config: &config,
    })
    .unwrap();
    assert_eq!(built.system_name(), "aws");
    let adapter = provision_aws::AwsAdapter::new(built.clone()).unwrap();
    SecretCheck::new(&[SECRET])
        .debug("the config", &built)
        .debug("the adapter", &adapter)
        .assert_clean();
}
