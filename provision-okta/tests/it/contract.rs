//! The adapter contract: a person's grants read whole, resources listed, the
//! descriptor, the factory and its configuration errors, the credential on the wire.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{
    Adapter, FactoryRegistry, SystemSpec, list_all_resources, read_all_account_grants,
};
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, OperationKind, SystemName};
use provision_okta::OktaAdapter;
use provision_testkit::conformance;
use support::{FakeOkta, adapter, assert_conform, config, log, start};

fn system() -> SystemName {
    SystemName::new("okta")
}

/// Held: (kind, resource) pairs, sorted.
fn held(grants: &[provision_core::model::GrantRecord]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = grants
        .iter()
        .map(|g| (g.entitlement.kind.clone(), g.entitlement.resource.clone()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_leaver_is_left_with_nothing_not_even_a_hand_made_membership() {
    // One group per page, so the user's groups come over several `Link` pages.
    let fake = FakeOkta::new(1);
    let uid = fake.add_user("leo@example.com", "leo@example.com", "ACTIVE");
    let everyone = fake.add_group("Everyone", "BUILT_IN");
    let eng = fake.add_group("engineering", "OKTA_GROUP");
    let hand_made = fake.add_group("weekend-oncall", "OKTA_GROUP");
    fake.add_member(&eng, &uid);
    fake.add_member(&hand_made, &uid); // an admin's click; no policy names it
    fake.add_app("0oaGITHUB", "GitHub");
    fake.add_app("0oaWIKI", "Wiki");
    fake.assign_app("0oaGITHUB", &uid, "USER");
    fake.assign_app("0oaWIKI", &uid, "USER"); // not configured: read by its id
    let server = start(&fake).await;
    let okta =
        OktaAdapter::new(config(&server).app("github", "0oaGITHUB").build().unwrap()).unwrap();
    let account = AccountRef {
        login: "leo@example.com".into(),
        external_id: Some(uid.clone()),
    };

    let grants = read_all_account_grants(&okta, &system(), &account)
        .await
        .unwrap();
    assert_eq!(
        held(&grants),
        vec![
            ("app".into(), "0oaWIKI".into()),
            ("app".into(), "github".into()),
            ("group".into(), "engineering".into()),
            ("group".into(), "weekend-oncall".into()),
        ],
        "every OKTA_GROUP and own app assignment; Everyone is no grant"
    );
    assert!(grants.iter().all(|g| g.account_external_id == uid));
    let pages = log(&server)
        .await
        .iter()
        .filter(|r| *r == &format!("GET /api/v1/users/{uid}/groups"))
        .count();
    assert_eq!(pages, 3, "three groups, one per page, by the Link header");

    for grant in &grants {
        let revoke = OperationKind::Revoke {
            entitlement: grant.entitlement.clone(),
        };
        conformance::run(&okta, &account, revoke).await.unwrap();
    }
    let after = read_all_account_grants(&okta, &system(), &account)
        .await
        .unwrap();
    assert!(after.is_empty(), "left with {:?}", held(&after));
    assert!(fake.state.lock().unwrap().app_users.is_empty());
    assert!(
        fake.state
            .lock()
            .unwrap()
            .members
            .iter()
            .all(|(g, _)| g == &everyone)
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn an_unknown_person_holds_nothing() {
    let fake = FakeOkta::new(200);
    let server = start(&fake).await;
    let okta = adapter(&server);
    let grants = read_all_account_grants(
        &okta,
        &system(),
        &AccountRef::by_login("nobody@example.com"),
    )
    .await
    .unwrap();
    assert!(grants.is_empty());
    let gone = AccountRef {
        login: "gone@example.com".into(),
        external_id: Some("00uGONE".into()),
    };
    let grants = read_all_account_grants(&okta, &system(), &gone)
        .await
        .unwrap();
    assert!(grants.is_empty());
    assert_conform(&server).await;
}

#[tokio::test]
async fn groups_and_apps_are_listed_page_by_page() {
    let fake = FakeOkta::new(2);
    fake.add_group("Everyone", "BUILT_IN");
    for name in ["a", "b", "c", "d", "e"] {
        fake.add_group(name, "OKTA_GROUP");
    }
    fake.add_group("ad-imported", "APP_GROUP");
    for i in 0..3 {
        fake.add_app(&format!("0oa{i}"), &format!("App {i}"));
    }
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).app("github", "0oa1").build().unwrap()).unwrap();
    let groups = list_all_resources(&okta, &system(), "group").await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.resource.as_str()).collect();
    assert_eq!(names, vec!["a", "b", "c", "d", "e"], "OKTA_GROUPs only");
    assert!(groups.iter().all(|g| g.external_id.is_some()));
    let apps = list_all_resources(&okta, &system(), "app").await.unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(
        names,
        vec!["0oa0", "github", "0oa2"],
        "configured names first"
    );
    let requests = log(&server).await;
    assert_eq!(
        requests
            .iter()
            .filter(|r| *r == "GET /api/v1/groups")
            .count(),
        3
    );
    assert_eq!(
        requests.iter().filter(|r| *r == "GET /api/v1/apps").count(),
        2
    );
    let err = okta.list_resources("role", None).await.unwrap_err();
    assert_eq!(err.class(), "unsupported");
    assert_conform(&server).await;
}

#[test]
fn the_descriptor_declares_enumerable_kinds_and_the_endpoint_families() {
    let okta = OktaAdapter::new(
        provision_okta::OktaConfig::builder("https://acme.okta.com")
            .api_token("t")
            .build()
            .unwrap(),
    )
    .unwrap();
    let d = okta.descriptor();
    assert!(d.kind("group").unwrap().enumerable);
    assert!(d.kind("app").unwrap().enumerable);
    let budgets: Vec<&str> = d.rate_budgets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(budgets, vec!["users", "groups", "apps", "sessions"]);
    assert!(
        d.rate_budgets.iter().all(|b| b.limit.is_none()),
        "okta.md documents no per-minute numbers"
    );
}

fn spec_config(settings: &[(&str, &str)]) -> SystemConfig {
    let mut s = SystemConfig::new("okta");
    for (k, v) in settings {
        s.settings.insert((*k).into(), (*v).into());
    }
    s
}

fn token_file(name: &str, secret: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("okta-{name}-{}", std::process::id()));
    std::fs::write(&path, secret).unwrap();
    path
}

#[tokio::test]
async fn the_factory_describes_without_credentials_and_builds_with_them() {
    let factory = provision_okta::factory();
    assert_eq!(factory.adapter_type(), "okta");
    let name = SystemName::new("okta-contractors");
    // No credential at all: the descriptor still comes (policies validate in CI).
    let bare = spec_config(&[
        ("org_url", "https://acme.okta.com"),
        ("manage_apps", "false"),
    ]);
    let d = factory
        .descriptor(SystemSpec {
            name: &name,
            config: &bare,
        })
        .unwrap();
    assert!(d.kind("group").is_some() && d.kind("app").is_none());
    let err = factory
        .build(SystemSpec {
            name: &name,
            config: &bare,
        })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("okta-contractors") && err.contains("api_token"),
        "{err}"
    );

    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let gid = fake.add_group("engineering", "OKTA_GROUP");
    fake.add_member(&gid, &uid);
    let server = start(&fake).await;
    let file = token_file("factory", "00FACTORY-token\n");
    let mut with_token = spec_config(&[("org_url", &server.uri())]);
    with_token.credentials.insert(
        "api_token".into(),
        CredentialRef::File { file: file.clone() },
    );
    with_token.adapter = "okta".into();
    let registry = FactoryRegistry::new().with(factory);
    let okta = registry
        .build(SystemSpec {
            name: &name,
            config: &with_token,
        })
        .await
        .unwrap();
    let grants = read_all_account_grants(
        okta.as_ref(),
        &name,
        &AccountRef {
            login: "ada@example.com".into(),
            external_id: Some(uid),
        },
    )
    .await
    .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].entitlement.system.as_str(),
        "okta-contractors",
        "entitlements read carry the deployment's system name"
    );
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        sent[0].headers.get("authorization").unwrap(),
        "SSWS 00FACTORY-token",
        "the file's trailing newline is no part of the token"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_bad_org_url_or_plain_http_fails_at_build_naming_the_setting_never_the_secret() {
    let factory = provision_okta::factory();
    let name = SystemName::new("okta-main");
    let file = token_file("bad-url", "00VERY-SECRET-token");
    for (url, expected) in [
        ("acme.okta.com", "org_url"),
        ("https://", "org_url"),
        ("http://acme.okta.com", "plain http"),
        ("http://10.1.2.3:8080", "plain http"),
    ] {
        let mut c = spec_config(&[("org_url", url)]);
        c.credentials.insert(
            "api_token".into(),
            CredentialRef::File { file: file.clone() },
        );
        let err = factory
            .build(SystemSpec {
                name: &name,
                config: &c,
            })
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"))
            .to_string();
        assert!(
            err.contains("okta-main") && err.contains("org_url") && err.contains(expected),
            "{url}: {err}"
        );
        assert!(!err.contains("00VERY-SECRET-token"), "{err}");
    }
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn an_api_token_goes_as_ssws() {
    let fake = FakeOkta::new(200);
    fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = adapter(&server);
    okta.find_user_by_login("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers.get("authorization").unwrap(),
        "SSWS 00SECRET-api-token-value"
    );
}

#[tokio::test]
async fn the_factory_builds_an_oauth_service_app_from_client_id_and_private_key() {
    let fake = FakeOkta::new(200);
    fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, _, issued) = support::oauth_fake_setup(&fake, 3600).await;
    let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-key.pem");
    let client_id = token_file("client-id", "0oaSERVICEAPP\n");
    let mut c = spec_config(&[("org_url", &server.uri()), ("key_id", "kid-1")]);
    c.credentials
        .insert("private_key".into(), CredentialRef::File { file: key });
    c.credentials.insert(
        "client_id".into(),
        CredentialRef::File {
            file: client_id.clone(),
        },
    );
    let name = SystemName::new("okta");
    let okta = provision_okta::factory()
        .build(SystemSpec {
            name: &name,
            config: &c,
        })
        .await
        .unwrap();
    let accounts = provision_core::adapter::read_all_accounts(okta.as_ref())
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(issued.lock().unwrap().len(), 1, "one token, accepted");
    std::fs::remove_file(client_id).unwrap();
}

/// Mover profile sync: the HR attributes the deployment maps onto Okta profile fields
/// are the descriptor's profile fields, an account read carries them under their HR
/// names, and an update sends exactly the mapped Okta field.
#[tokio::test]
async fn mapped_hr_attributes_are_profile_fields_read_and_written_under_their_okta_names() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("mia@example.com", "mia@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(
        config(&server)
            .map_attribute("department", "department")
            .map_attribute("title", "job_title")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        okta.descriptor().profile_fields,
        vec!["department".to_owned(), "job_title".to_owned()]
    );

    let account = AccountRef {
        login: "mia@example.com".into(),
        external_id: Some(uid.clone()),
    };
    let update = conformance::operation(
        &okta,
        "mia@example.com",
        OperationKind::UpdateAccount {
            attributes: [("job_title".to_owned(), "Staff Engineer".to_owned())]
                .into_iter()
                .collect(),
        },
    );
    okta.execute(&update, &account).await.unwrap();
    let requests = log(&server).await;
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with(&format!("POST /api/v1/users/{uid}"))),
        "{requests:?}"
    );
    assert_conform(&server).await;

    let accounts = provision_core::adapter::read_all_accounts(&okta)
        .await
        .unwrap();
    let mia = accounts.iter().find(|a| a.external_id == uid).unwrap();
    // Okta's own field name, and the HR attribute the planner compares with HR.
    assert_eq!(
        mia.attributes.get("title").map(String::as_str),
        Some("Staff Engineer")
    );
    assert_eq!(
        mia.attributes.get("job_title").map(String::as_str),
        Some("Staff Engineer")
    );
    assert_eq!(mia.attributes.get("department"), None);
}

#[test]
fn without_a_mapping_okta_keeps_no_profile_fields() {
    let registry = FactoryRegistry::new().with(provision_okta::factory());
    let name = SystemName::new("okta");
    let mut config = SystemConfig::new("okta");
    let descriptor = registry
        .descriptor(SystemSpec {
            name: &name,
            config: &config,
        })
        .unwrap();
    assert!(descriptor.profile_fields.is_empty());
    config
        .settings
        .insert("profile.costCenter".into(), "cost_center".into());
    let descriptor = registry
        .descriptor(SystemSpec {
            name: &name,
            config: &config,
        })
        .unwrap();
    assert_eq!(descriptor.profile_fields, vec!["cost_center".to_owned()]);
}
