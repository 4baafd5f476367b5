//! `adapter: gitlab` in `provision.yaml`: the descriptor comes from the settings alone
//! (no credential), and `build` checks the token against the deployment setting.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{ConfigError, SystemSpec};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::SystemName;
use support::{FakeGitlab, TOKEN, assert_conform, start};

fn system(settings: &[(&str, &str)], token_file: Option<&std::path::Path>) -> SystemConfig {
    let mut s = SystemConfig::new("gitlab");
    for (k, v) in settings {
        s.settings.insert((*k).into(), (*v).into());
    }
    if let Some(file) = token_file {
        s.credentials.insert(
            "token".into(),
            CredentialRef::File {
                file: file.to_owned(),
            },
        );
    }
    s
}

fn token_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("gitlab-{name}-{}", std::process::id()));
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

#[test]
fn the_descriptor_needs_no_credential() {
    let name = SystemName::new("gitlab");
    let factory = provision_gitlab::factory();
    assert_eq!(factory.adapter_type(), "gitlab");
    let com = system(
        &[("base_url", "https://gitlab.com"), ("group", "acme")],
        None,
    );
    let d = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &com,
        })
        .unwrap();
    assert!(d.accounts_created_on_first_login && !d.can_suspend && !d.can_delete);
    let own = system(
        &[("base_url", "https://git.example.com"), ("group", "acme")],
        None,
    );
    let d = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &own,
        })
        .unwrap();
    assert!(d.can_suspend && d.can_delete && !d.accounts_created_on_first_login);
    assert!(
        d.kind_for_action("add_to_group")
            .is_some_and(|k| k.nested && k.enumerable)
    );
    assert!(d.kind_for_action("add_to_project").is_some());
    let bad = system(&[("deployment", "cloud")], None);
    let e = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &bad,
        })
        .unwrap_err();
    assert!(e.to_string().contains("deployment"), "{e}");
}

#[tokio::test]
async fn self_managed_needs_an_admin_token_and_says_so_at_build_time() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    let server = start(&fake).await;
    let file = token_file("admin");
    let name = SystemName::new("gitlab-own");
    let uri = server.uri();
    let settings = [
        ("base_url", uri.as_str()),
        ("group", "acme"),
        ("deployment", "self_managed"),
    ];
    let cfg = system(&settings, Some(&file));
    let adapter = provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &cfg,
        })
        .await
        .unwrap();
    assert!(adapter.descriptor().can_suspend);

    fake.state.lock().unwrap().admin = false;
    let e = provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &cfg,
        })
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ConfigError::Other { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("gitlab-own") && text.contains("administrator"),
        "{text}"
    );

    // The same token is fine for membership only (gitlab.com mode).
    let com = system(
        &[
            ("base_url", uri.as_str()),
            ("group", "acme"),
            ("deployment", "gitlab_com"),
        ],
        Some(&file),
    );
    provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &com,
        })
        .await
        .unwrap();

    // A managed group that does not exist is named.
    let missing = system(
        &[
            ("base_url", uri.as_str()),
            ("group", "nope"),
            ("deployment", "gitlab_com"),
        ],
        Some(&file),
    );
    let e = provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &missing,
        })
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("Group Not Found"), "{e}");
    // No credential: named, before any request.
    let none = system(&[("base_url", uri.as_str()), ("group", "acme")], None);
    let e = provision_gitlab::factory()
        .build(SystemSpec {
            name: &name,
            config: &none,
        })
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ConfigError::MissingCredential { .. }), "{e:?}");
    std::fs::remove_file(&file).unwrap();
    assert_conform(&server).await;
}
