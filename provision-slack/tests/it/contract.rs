//! The factory and the descriptor: what the configured tokens allow, policies that
//! need a missing token failing at load, the adapter built from `provision.yaml`.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::collections::BTreeMap;

use provision_core::adapter::{FactoryRegistry, SystemSpec, read_all_account_grants};
use provision_core::config::parse_config;
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::model::{AccountRef, SystemName};
use provision_core::policy::load_policies;
use provision_slack::descriptor::token_needed;

use support::{BOT, FakeSlack, start};

fn deployment(credentials: &[&str]) -> String {
    let mut creds = String::new();
    if credentials.is_empty() {
        creds.push_str("      {}\n");
    }
    for c in credentials {
        creds.push_str(&format!("      {c}: {{env: SLACK_TEST_UNSET_{c}}}\n"));
    }
    format!(
        "systems:\n  slack:\n    adapter: slack\n    enforcement: additive\n    credentials:\n{creds}"
    )
}

const POLICY: &str = r##"
policies:
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - system: "slack"
        action: "invite_to_channel"
        target: "#engineering-general"
"##;

fn validate(credentials: &[&str]) -> Result<(), String> {
    let config = parse_config("provision.yaml", &deployment(credentials)).unwrap();
    let registry = FactoryRegistry::new().with(provision_slack::factory());
    let mut descriptors = BTreeMap::new();
    for (name, system) in &config.systems {
        let d = registry
            .descriptor(SystemSpec {
                name,
                config: system,
            })
            .map_err(|e| e.to_string())?;
        descriptors.insert(name.clone(), d);
    }
    let dir = std::env::temp_dir().join(format!(
        "slack-policies-{}-{}",
        std::process::id(),
        credentials.join("-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("engineering.yaml"), POLICY).unwrap();
    let result = load_policies(&dir, &config, &descriptors)
        .map(|_| ())
        .map_err(|e| e.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
    result
}

#[test]
fn a_channel_policy_fails_validation_without_a_bot_token() {
    validate(&["bot_token"]).unwrap();
    let e = validate(&["scim_token"]).unwrap_err();
    assert!(
        e.contains("invite_to_channel") && e.contains("engineering.yaml"),
        "{e}"
    );
    // The message names the token (and scopes) the action needs.
    assert!(
        e.contains("cannot grant `invite_to_channel`") && e.contains("credentials.bot_token"),
        "{e}"
    );
    assert!(
        token_needed("invite_to_channel")
            .unwrap()
            .contains("channels:write")
    );
}

#[test]
fn no_token_at_all_fails_naming_the_credentials() {
    let e = validate(&[]).unwrap_err();
    assert!(e.contains("bot_token") && e.contains("scim_token"), "{e}");
}

#[test]
fn the_descriptor_follows_the_tokens_and_never_deletes() {
    let registry = FactoryRegistry::new().with(provision_slack::factory());
    let name = SystemName::new("slack");
    let describe = |creds: &[&str]| {
        let mut c = SystemConfig::new("slack");
        for k in creds {
            c.credentials.insert(
                (*k).into(),
                CredentialRef::Env {
                    env: "UNSET".into(),
                },
            );
        }
        registry
            .descriptor(SystemSpec {
                name: &name,
                config: &c,
            })
            .unwrap()
    };
    let bot = describe(&["bot_token"]);
    assert!(!bot.has_accounts && !bot.can_suspend && !bot.can_revoke_sessions);
    assert!(bot.kind("usergroup").unwrap().whole_list_membership);
    let enterprise = describe(&["bot_token", "admin_token", "scim_token"]);
    assert!(enterprise.has_accounts && enterprise.can_suspend && enterprise.can_revoke_sessions);
    assert!(!enterprise.can_delete, "Slack accounts are never deleted");
    assert_eq!(enterprise.correlation_keys, vec!["email", "user_id"]);
    let budgets: Vec<&str> = enterprise
        .rate_budgets
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    for b in [
        "conversations.invite",
        "usergroups.users.update",
        "scim_read",
        "scim_write",
        "scim_user_read",
        "scim_user_write",
    ] {
        assert!(budgets.contains(&b), "{b} in {budgets:?}");
    }
}

#[tokio::test]
async fn the_factory_builds_from_provision_yaml_and_names_entitlements_by_the_system() {
    let fake = FakeSlack::new(1000);
    fake.add_channel("eng");
    let a = fake.add_user("a@example.com");
    fake.with_channel("eng", |c| c.members.push(a.clone()));
    let server = start(&fake).await;
    let token_file = std::env::temp_dir().join(format!("slack-bot-{}", std::process::id()));
    std::fs::write(&token_file, format!("{BOT}\n")).unwrap();
    let mut c = SystemConfig::new("slack");
    c.credentials.insert(
        "bot_token".into(),
        CredentialRef::File {
            file: token_file.clone(),
        },
    );
    c.settings
        .insert("api_url".into(), format!("{}/api/", server.uri()));
    let name = SystemName::new("slack-eu");
    let registry = FactoryRegistry::new().with(provision_slack::factory());
    let slack = registry
        .build(SystemSpec {
            name: &name,
            config: &c,
        })
        .await
        .unwrap();
    let grants = read_all_account_grants(
        slack.as_ref(),
        &name,
        &AccountRef {
            login: "a@example.com".into(),
            external_id: Some(a),
        },
    )
    .await
    .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].entitlement.system.as_str(), "slack-eu");
    assert_eq!(grants[0].entitlement.resource, "#eng");
    std::fs::remove_file(token_file).unwrap();
    support::assert_conform(&server).await;

    // A user token where the bot token goes: refused at build, naming the slot.
    let wrong = std::env::temp_dir().join(format!("slack-wrong-{}", std::process::id()));
    std::fs::write(&wrong, "xoxp-SECRET-user").unwrap();
    c.credentials.insert(
        "bot_token".into(),
        CredentialRef::File {
            file: wrong.clone(),
        },
    );
    let e = registry
        .build(SystemSpec {
            name: &name,
            config: &c,
        })
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("bot_token") && !e.contains("SECRET"), "{e}");
    std::fs::remove_file(wrong).unwrap();
}
