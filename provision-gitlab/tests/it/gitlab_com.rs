//! gitlab.com as a customer sees it (no instance administrator): the member entity
//! shows `email` only for enterprise users, `?query=` never matches a private email,
//! accounts appear on the first SSO login with a SAML identity, the SSO default
//! membership is minimal access in the top-level group, people can be members of a
//! subgroup or project without being in the top-level group, and group and project
//! access tokens are bot users among the members (issue 28 items 1 and 7).
//!
//! Unverified against a real tenant: the shapes of `/groups/:id/saml/identities`,
//! `/groups/:id/saml/:uid` and `/groups/:id/enterprise_users` follow GitLab's REST
//! documentation (they are not in its OpenAPI description), and that the member
//! entity carries no `bot` flag (the adapter does not rely on one).
#![allow(clippy::unwrap_used)]

use crate::support;
use chrono::{Duration, Utc};
use provision_core::adapter::{Adapter, CheckStatus, Effect, read_all_accounts};
use provision_core::model::{AccountRef, EmploymentStatus, Entitlement, Identity, OperationKind};
use provision_testkit::conformance;
use support::{FakeGitlab, Src, assert_conform, gitlab_com, start};

fn group(path: &str, role: &str) -> Entitlement {
    Entitlement::new("gitlab", "group", path).with_role(role)
}

/// `acme` with a subgroup and a project, as a customer's token sees it.
fn saas_tree() -> FakeGitlab {
    let fake = FakeGitlab::new(100);
    for g in ["acme", "acme/eng"] {
        fake.add_group(g);
    }
    fake.add_project("acme/eng/api");
    fake.state.lock().unwrap().admin = false;
    fake
}

/// Issue 28 item 1: gitlab.com cannot find people by email through the members
/// `query` (it matches public emails only) and hides `email` for all but enterprise
/// users. People are found by their SAML identity (the identity provider's NameID),
/// or, for enterprise users, through `/enterprise_users?search=`.
#[tokio::test]
async fn on_gitlab_com_people_are_found_by_saml_identity_never_by_a_hidden_email() {
    let fake = saas_tree();
    let sarah = fake.first_sso_login("sarah.chen", "sarah@example.com");
    // An enterprise user provisioned before SSO was turned on: no SAML identity.
    let omar = fake.add_user("omar", "omar@acme.example");
    fake.set_enterprise(omar);
    fake.add_member(Src::Group, "acme", omar, 5);
    let server = start(&fake).await;
    let adapter = gitlab_com(&server);

    let by_login = AccountRef::by_login("sarah@example.com");
    let effect = conformance::run(
        &adapter,
        &by_login,
        OperationKind::Grant {
            entitlement: group("acme/eng", "developer"),
        },
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);
    assert_eq!(fake.level(Src::Group, "acme/eng", sarah), Some(30));
    let create = conformance::operation(
        &adapter,
        "sarah@example.com",
        OperationKind::CreateAccount {
            profile: conformance::profile("sarah@example.com", "Sarah Chen"),
        },
    );
    assert_eq!(
        adapter.check(&create, &by_login).await.unwrap(),
        CheckStatus::Done {
            external_id: Some(sarah.to_string())
        }
    );
    let found = adapter.find_user("omar@acme.example").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(omar));

    // Accounts carry the NameID (login and correlation key) where the email is hidden.
    let accounts = read_all_accounts(&adapter).await.unwrap();
    let s = accounts
        .iter()
        .find(|a| a.external_id == sarah.to_string())
        .unwrap();
    assert_eq!(s.login, "sarah@example.com");
    assert_eq!(
        s.correlation.get("saml_name_id").map(String::as_str),
        Some("sarah@example.com")
    );
    let o = accounts
        .iter()
        .find(|a| a.external_id == omar.to_string())
        .unwrap();
    assert_eq!(o.login, "omar@acme.example");
    assert!(
        adapter
            .descriptor()
            .correlation_keys
            .contains(&"saml_name_id".to_owned())
    );
    assert_conform(&server).await;
}

fn person(id: &str, login: &str, department: &str) -> Identity {
    Identity::new(id, login, login).with_attribute("department", department)
}

/// Issue 28 item 7: what a gitlab.com leaver really keeps. The SSO default membership
/// (minimal access in `acme`) is read and revoked; a person who is a member of a
/// project only (not of `acme`) is found and loses it; bots are never read as people.
#[tokio::test]
async fn a_gitlab_com_leaver_keeps_no_membership_and_bots_are_never_people() {
    let fake = saas_tree();
    let sarah = fake.first_sso_login("sarah.chen", "sarah@example.com");
    // A contractor added to one project by hand, never to the top-level group.
    let lee = fake.add_user("lee", "lee@example.com");
    fake.set_saml(lee, "lee@example.com");
    fake.add_member(Src::Project, "acme/eng/api", lee, 30);
    // Group access tokens: bot users holding memberships.
    let top_bot = fake.add_bot(&format!("group_{}_bot_4f2a", fake.group_id("acme")));
    fake.add_member(Src::Group, "acme", top_bot, 40);
    let eng_bot = fake.add_bot(&format!("group_{}_bot_9c1d", fake.group_id("acme/eng")));
    fake.add_member(Src::Group, "acme/eng", eng_bot, 30);
    let server = start(&fake).await;

    let adapter = gitlab_com(&server);
    let accounts = read_all_accounts(&adapter).await.unwrap();
    let mut ids: Vec<String> = accounts.iter().map(|a| a.external_id.clone()).collect();
    ids.sort();
    let mut want = vec![sarah.to_string(), lee.to_string()];
    want.sort();
    assert_eq!(ids, want, "people only, the project-only member included");

    let engine = support::engine(
        "saas-leaver",
        &server.uri(),
        "additive",
        &["deployment: gitlab_com"],
        support::ENGINEERING_DEVELOPERS,
    )
    .await;
    let mut roster = [
        person("e1", "sarah@example.com", "Engineering"),
        person("e2", "lee@example.com", "Contractors"),
    ];
    let plan = engine
        .plan(&roster, "join")
        .await
        .unwrap()
        .approve()
        .unwrap();
    engine.apply(&plan).await.unwrap();
    assert_eq!(fake.level(Src::Group, "acme/eng", sarah), Some(30));

    for p in &mut roster {
        p.status = EmploymentStatus::Terminated {
            effective: Utc::now() - Duration::hours(1),
        };
    }
    let plan = engine
        .plan(&roster, "leave")
        .await
        .unwrap()
        .confirm_blast_radius(2)
        .unwrap();
    let report = engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    let left: Vec<_> = fake
        .state
        .lock()
        .unwrap()
        .members
        .keys()
        .filter(|k| k.2 == sarah || k.2 == lee)
        .cloned()
        .collect();
    assert!(left.is_empty(), "memberships left: {left:?}\n{report}");
    assert_eq!(fake.level(Src::Group, "acme", top_bot), Some(40));
    assert_eq!(fake.level(Src::Group, "acme/eng", eng_bot), Some(30));
    assert_conform(&server).await;
}
