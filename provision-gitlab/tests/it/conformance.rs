//! The shared conformance suite (`provision_testkit::conformance::Suite`), through its
//! one entry point, against the stateful GitLab fake (`support/mod.rs`): self-managed
//! with an admin token (accounts created, deactivated, reactivated, deleted) and
//! gitlab.com (accounts from the first SSO login). A second fake over its rate limit
//! answers the 429 scenario, a third that is no GitLab at all the misconfiguration
//! scenario. Every request each fake received is checked against GitLab's spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;

use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance::{self, Suite};
use support::{FakeGitlab, Mode, Src, assert_conform, gitlab_com, self_managed, start};
use wiremock::MockServer;

/// `acme` with a three-level tree, two projects, four people, paged two to a page.
async fn instance(mode: Mode) -> (MockServer, FakeGitlab) {
    let fake = FakeGitlab::new(2);
    for n in 0..4 {
        fake.add_user(&format!("existing{n}"), &format!("existing{n}@example.com"));
    }
    for g in [
        "acme",
        "acme/engineering",
        "acme/engineering/backend",
        "acme/ops",
        "acme/oncall",
    ] {
        fake.add_group(g);
    }
    fake.add_project("acme/engineering/api");
    fake.add_project("acme/ops/runbooks");
    let server = start(&fake).await;
    fake.set_mode(mode);
    (server, fake)
}

fn entitlements() -> Vec<Entitlement> {
    vec![
        Entitlement::new("gitlab", "group", "acme/engineering").with_role("developer"),
        Entitlement::new("gitlab", "group", "acme/ops").with_role("maintainer"),
        // Above what `acme/engineering` gives: GitLab refuses a direct project
        // membership below the inherited level (the fake too).
        Entitlement::new("gitlab", "project", "acme/engineering/api").with_role("maintainer"),
    ]
}

/// An admin put the person straight into `acme/oncall`, a group no policy names.
fn hand_made<'a>(fake: &FakeGitlab) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            let id = account.external_id.as_deref().unwrap().parse().unwrap();
            fake.add_member(Src::Group, "acme/oncall", id, 10);
            Entitlement::new("gitlab", "group", "acme/oncall").with_role("guest")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

#[tokio::test]
async fn self_managed_runs_the_whole_suite() {
    let (server, fake) = instance(Mode::Normal).await;
    let (throttled_server, _t) = instance(Mode::Throttled).await;
    let (wrong_server, _w) = instance(Mode::NotGitlab).await;
    let adapter = self_managed(&server);
    let throttled = self_managed(&throttled_server);
    let wrong = self_managed(&wrong_server);
    let report = Suite::new(&adapter, entitlements())
        .create(conformance::profile("ada@example.com", "Ada Lovelace"))
        .hand_made(hand_made(&fake))
        .throttled(
            &throttled,
            OperationKind::Grant {
                entitlement: entitlements()[0].clone(),
            },
        )
        .misconfigured_with_revokes(&wrong)
        .min_account_pages(2)
        .delete_at_the_end()
        .run()
        .await;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.passed.len(), 13, "{:?}", report.passed);
    assert_conform(&server).await;
    assert_conform(&throttled_server).await;
}

#[tokio::test]
async fn gitlab_com_runs_the_suite_with_an_account_from_the_first_login() {
    let (server, fake) = instance(Mode::Normal).await;
    let (throttled_server, _t) = instance(Mode::Throttled).await;
    let (wrong_server, _w) = instance(Mode::NotGitlab).await;
    // On gitlab.com the accounts are the people in the managed tree's member lists:
    // SAML put these in `acme` (minimal access) on their first login, with a SAML
    // identity; no customer is an instance administrator.
    fake.state.lock().unwrap().admin = false;
    for n in 0..4 {
        fake.first_sso_login(&format!("sso{n}"), &format!("sso{n}@example.com"));
    }
    let id = fake.first_sso_login("sarah.chen", "sarah@example.com");
    let adapter = gitlab_com(&server);
    let throttled = gitlab_com(&throttled_server);
    let wrong = gitlab_com(&wrong_server);
    let sarah = AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some(id.to_string()),
    };
    let report = Suite::new(&adapter, entitlements())
        .existing_account(sarah)
        .hand_made(hand_made(&fake))
        .throttled(
            &throttled,
            OperationKind::Grant {
                entitlement: entitlements()[0].clone(),
            },
        )
        .misconfigured_with_revokes(&wrong)
        // The tree's member lists are read whole once per run (two to a page here)
        // and the people in them given as one page.
        .min_account_pages(1)
        .run()
        .await;
    let skipped: Vec<&str> = report.skipped.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        skipped,
        vec![
            "create_then_found",
            "suspend_then_state",
            "delete_then_gone"
        ],
        "gitlab.com: accounts come from SSO and cannot be suspended or deleted"
    );
    assert!(report.passed.contains(&"leaver_left_with_nothing"));
    assert_conform(&server).await;
    assert_conform(&throttled_server).await;
}
