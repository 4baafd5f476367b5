//! The shared conformance suite against the fake organization: the person exists
//! (GitHub accounts are the person's own), teams and repositories are granted and
//! revoked, accounts paginate, a wrong organization is configuration and the primary
//! limit (a 403!) is honoured. Every request is checked against GitHub's description.

use provision_core::model::SystemName;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance;

use crate::support::{FakeGithub, Mode, ORG, TOKEN, adapter, assert_conform, start};

async fn org() -> (wiremock::MockServer, FakeGithub) {
    let fake = FakeGithub::new(2);
    for n in 0..4 {
        fake.add_member(&format!("member{n}"));
    }
    fake.add_member("sarah-gh");
    fake.add_team("platform", false);
    fake.add_team("oncall", false);
    fake.add_repo("acme/api");
    let server = start(&fake).await;
    (server, fake)
}

/// The plain organization runs the suite's scenarios one by one rather than through
/// `Suite::run`: on github.com leaving the organization is the leaver's "suspension"
/// and the account then leaves the organization's reads (it is not read back as
/// suspended, and nothing reactivates it but a new invitation), and repository
/// collaborators cannot be listed within GitHub's trimmed description, so the
/// grant-then-read-back scenario runs for teams.
#[tokio::test]
async fn a_plain_organization_runs_the_suite_scenarios() {
    let (server, fake) = org().await;
    let (throttled_server, throttled_fake) = org().await;
    throttled_fake.set_mode(Mode::PrimaryLimit);
    let (wrong_server, _w) = org().await;
    let a = adapter(&server);
    let throttled = adapter(&throttled_server);
    let wrong = provision_github::GithubAdapter::new(
        provision_github::GithubConfig::builder("not-our-org")
            .api_url(&wrong_server.uri())
            .token(TOKEN)
            .build()
            .unwrap(),
    )
    .unwrap();
    let _ = ORG;
    let team = Entitlement::new("github", "team", "platform").with_role("maintainer");
    let repo = Entitlement::new("github", "repository", "acme/api").with_role("push");
    let sarah = AccountRef {
        login: "sarah-gh".into(),
        external_id: Some("sarah-gh".into()),
    };
    conformance::accounts_paginate_to_the_end(&a, 5, 2).await;
    conformance::grant_then_revoke(&a, &sarah, &team).await;
    conformance::run(
        &a,
        &sarah,
        OperationKind::Grant {
            entitlement: repo.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        fake.repo_permission("acme/api", "sarah-gh").as_deref(),
        Some("push")
    );
    conformance::run(
        &a,
        &sarah,
        OperationKind::Revoke {
            entitlement: repo.clone(),
        },
    )
    .await
    .unwrap();
    conformance::not_found_means_absent(
        &a,
        &SystemName::new("github"),
        &[team.clone(), repo.clone()],
        false,
    )
    .await;
    conformance::misconfiguration_is_not_absence(&wrong, &sarah, &[]).await;
    conformance::rate_limit_honoured(
        &throttled,
        &sarah,
        OperationKind::Grant {
            entitlement: team.clone(),
        },
    )
    .await;
    // The leaver: removed from the organization (teams and repositories with it).
    conformance::run(
        &a,
        &sarah,
        OperationKind::Grant {
            entitlement: team.clone(),
        },
    )
    .await
    .unwrap();
    let effect = conformance::run(&a, &sarah, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(effect, provision_core::adapter::Effect::Changed);
    assert_eq!(conformance::state_of(&a, "sarah-gh").await, None);
    assert_eq!(fake.team_role("platform", "sarah-gh"), None);
    assert_conform(&server).await;
    assert_conform(&throttled_server).await;
}
