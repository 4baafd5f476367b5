//! Every GitHub quirk from `shared/apis/README.md` (and the issue), against the
//! unkind fake; every request checked against GitHub's description.

use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError, CheckStatus, Effect};
use provision_core::model::{AccountProfile, AccountRef, Entitlement, OperationKind, ReasonKind};
use provision_testkit::conformance;

use crate::support::{FakeGithub, Mode, adapter, assert_conform, requests, start};

fn joiner(username: Option<&str>) -> AccountProfile {
    let mut p = conformance::profile("sarah@acme.com", "Sarah Chen");
    if let Some(u) = username {
        p.attributes.insert("github_username".into(), u.into());
    }
    p
}

fn create(a: &dyn Adapter, profile: AccountProfile) -> provision_core::model::Operation {
    conformance::operation(
        a,
        &profile.login.clone(),
        OperationKind::CreateAccount { profile },
    )
}

fn sarah() -> AccountRef {
    AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some("sarah-gh".into()),
    }
}

#[tokio::test]
async fn a_join_is_an_invitation_pending_until_accepted_and_rechecked_never_resent() {
    let fake = FakeGithub::new(100);
    fake.add_user("sarah-gh");
    let server = start(&fake).await;
    let a = adapter(&server);
    let op = create(&a, joiner(Some("sarah-gh")));

    let e = a
        .execute(&op, &AccountRef::by_login("sarah@acme.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending", "{e}");
    assert_eq!(fake.member_state("sarah-gh").as_deref(), Some("pending"));
    // The next run: still pending, and no second invitation.
    let e = a
        .execute(&op, &AccountRef::by_login("sarah@acme.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending");
    assert!(e.to_string().contains("re-checked, not re-sent"), "{e}");
    assert_eq!(fake.state.lock().unwrap().invitations_sent, 1);
    assert!(matches!(
        a.check(&op, &AccountRef::by_login("sarah@acme.com"))
            .await
            .unwrap(),
        CheckStatus::Pending { .. }
    ));
    fake.accept("sarah-gh");
    assert_eq!(
        a.check(&op, &AccountRef::by_login("sarah@acme.com"))
            .await
            .unwrap(),
        CheckStatus::Done {
            external_id: Some("sarah-gh".into())
        }
    );
    // Active already: in place, tagged with the invitation budget.
    let done = a
        .execute(&op, &AccountRef::by_login("sarah@acme.com"))
        .await
        .unwrap();
    assert_eq!(done.effect, Effect::AlreadyInPlace);
    assert_eq!(
        done.rate_limit.and_then(|r| r.bucket).as_deref(),
        Some("invitations")
    );
    let writes: Vec<String> = requests(&server)
        .await
        .into_iter()
        .filter(|r| !r.starts_with("GET"))
        .collect();
    assert_eq!(writes, vec!["PUT /orgs/acme/memberships/sarah-gh"]);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_person_without_a_username_is_pending_with_the_reason_and_nothing_is_sent() {
    let fake = FakeGithub::new(100);
    fake.add_team("platform", false);
    let server = start(&fake).await;
    let a = adapter(&server);
    let e = a
        .execute(
            &create(&a, joiner(None)),
            &AccountRef::by_login("sarah@acme.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending");
    assert!(e.to_string().contains("github_username"), "{e}");
    assert!(e.to_string().contains("not emails"), "{e}");
    // A grant for an account known only by email: the same.
    let grant = conformance::operation(
        &a,
        "sarah@acme.com",
        OperationKind::Grant {
            entitlement: Entitlement::new("github", "team", "platform"),
        },
    );
    let e = a
        .execute(&grant, &AccountRef::by_login("sarah@acme.com"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending");
    assert!(requests(&server).await.is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn a_rehire_is_invited_with_reinstate_and_a_wrong_rehire_flag_falls_back() {
    let fake = FakeGithub::new(100);
    fake.add_member("sarah-gh");
    fake.add_team("platform", false);
    fake.add_user("newbie");
    let server = start(&fake).await;
    let a = adapter(&server);
    // Leaver: one write removes the member (and their teams).
    let leave = conformance::operation(&a, "sarah@acme.com", OperationKind::SuspendAccount);
    let done = a.execute(&leave, &sarah()).await.unwrap();
    assert_eq!(done.effect, Effect::Changed);
    assert_eq!(fake.member_state("sarah-gh"), None);
    assert_eq!(
        a.execute(&leave, &sarah()).await.unwrap().effect,
        Effect::AlreadyInPlace
    );
    // Rehire.
    let mut profile = joiner(Some("sarah-gh"));
    profile.attributes.insert("rehire".into(), "true".into());
    let e = a
        .execute(
            &create(&a, profile),
            &AccountRef::by_login("sarah@acme.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending");
    let got = server.received_requests().await.unwrap();
    let invite = got
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("an invitation");
    let body: serde_json::Value = serde_json::from_slice(&invite.body).unwrap();
    assert_eq!(body["role"], "reinstate");
    // HR says rehire, GitHub says never a member: a plain invitation follows.
    let mut profile = joiner(Some("newbie"));
    profile.login = "newbie@acme.com".into();
    profile.attributes.insert("rehire".into(), "true".into());
    let e = a
        .execute(
            &create(&a, profile),
            &AccountRef::by_login("newbie@acme.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(), "pending");
    assert_eq!(fake.member_state("newbie").as_deref(), Some("pending"));
    assert_conform(&server).await;
}

#[tokio::test]
async fn teams_are_one_put_and_an_idp_synced_team_is_a_configuration_finding() {
    let fake = FakeGithub::new(100);
    fake.add_member("sarah-gh");
    fake.add_team("platform", false);
    fake.add_team("idp-synced", true);
    let server = start(&fake).await;
    let a = adapter(&server);
    let grant = |team: &str, role: &str| {
        conformance::operation(
            &a,
            "sarah@acme.com",
            OperationKind::Grant {
                entitlement: Entitlement::new("github", "team", team).with_role(role),
            },
        )
    };
    a.execute(&grant("platform", "member"), &sarah())
        .await
        .unwrap();
    let mut change = grant("platform", "maintainer");
    change.reason.kind = ReasonKind::Replacement;
    a.execute(&change, &sarah()).await.unwrap();
    assert_eq!(
        fake.team_role("platform", "sarah-gh"),
        Some(("maintainer".into(), "active".into()))
    );
    let before = requests(&server).await.len();
    let e = a
        .execute(&grant("idp-synced", "member"), &sarah())
        .await
        .unwrap_err();
    assert_eq!(e.class(), "configuration", "{e}");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("identity provider"), "{e}");
    assert!(e.to_string().contains("idp-synced"), "{e}");
    assert_eq!(
        requests(&server).await.len(),
        before + 1,
        "one request, no loop"
    );
    // Reads: one list with roles.
    let page = a
        .read_grants(
            &provision_core::model::ResourceRef {
                system: provision_core::model::SystemName::new("github"),
                kind: "team".into(),
                resource: "platform".into(),
                scope: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].entitlement.role.as_deref(),
        Some("maintainer")
    );
    assert_eq!(page.items[0].account_external_id, "sarah-gh");
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_collaborator_put_is_not_read_back_and_a_201_is_a_pending_invitation() {
    let fake = FakeGithub::new(100);
    fake.add_member("sarah-gh");
    fake.add_user("outsider");
    fake.add_repo("acme/api");
    let server = start(&fake).await;
    let a = adapter(&server);
    let grant = |role: &str| {
        conformance::operation(
            &a,
            "sarah@acme.com",
            OperationKind::Grant {
                entitlement: Entitlement::new("github", "repository", "acme/api").with_role(role),
            },
        )
    };
    a.execute(&grant("push"), &sarah()).await.unwrap();
    a.execute(&grant("maintain"), &sarah()).await.unwrap();
    assert_eq!(
        fake.repo_permission("acme/api", "sarah-gh").as_deref(),
        Some("maintain")
    );
    let got = requests(&server).await;
    assert_eq!(got.len(), 2, "one PUT per change, no read-back: {got:?}");
    // Only check reads back.
    assert_eq!(
        a.check(&grant("maintain"), &sarah()).await.unwrap(),
        CheckStatus::Done { external_id: None }
    );
    let outsider = AccountRef {
        login: "o@example.com".into(),
        external_id: Some("outsider".into()),
    };
    let e = a.execute(&grant("pull"), &outsider).await.unwrap_err();
    assert_eq!(e.class(), "pending", "{e}");
    let e = a.execute(&grant("owner"), &sarah()).await.unwrap_err();
    assert_eq!(e.class(), "invalid");
    // Collaborators are not listed (outside the description): an empty read, never
    // an error that would fail every plan naming a repository.
    let read = a
        .read_grants(
            &provision_core::model::ResourceRef {
                system: provision_core::model::SystemName::new("github"),
                kind: "repository".into(),
                resource: "acme/api".into(),
                scope: None,
            },
            None,
        )
        .await
        .unwrap();
    assert!(read.items.is_empty() && read.next.is_none());
    assert_conform(&server).await;
}

#[tokio::test]
async fn the_primary_limit_is_a_403_with_remaining_zero_and_waits_for_the_reset() {
    let fake = FakeGithub::new(100);
    let server = start(&fake).await;
    fake.set_mode(Mode::PrimaryLimit);
    let a = adapter(&server);
    match a.read_accounts(None).await.unwrap_err() {
        AdapterError::RateLimited { info, .. } => {
            assert_eq!(info.remaining, Some(0));
            assert!(info.reset_at.is_some() || info.retry_after.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_secondary_limit_waits_a_minute_then_backs_off_and_honours_retry_after() {
    let fake = FakeGithub::new(100);
    let server = start(&fake).await;
    fake.set_mode(Mode::SecondaryLimit);
    let a = adapter(&server);
    let wait = |e: AdapterError| match e {
        AdapterError::RateLimited { info, .. } => info.retry_after.unwrap(),
        other => panic!("{other:?}"),
    };
    let first = wait(a.read_accounts(None).await.unwrap_err());
    let second = wait(a.read_accounts(None).await.unwrap_err());
    assert_eq!(first, Duration::from_secs(60));
    assert_eq!(second, Duration::from_secs(120), "backs off");
    fake.set_mode(Mode::SecondaryRetryAfter);
    assert_eq!(
        wait(a.read_accounts(None).await.unwrap_err()),
        Duration::from_secs(30)
    );
}

#[tokio::test]
async fn sessions_cannot_be_revoked_and_deletion_is_refused_on_a_plain_org() {
    let fake = FakeGithub::new(100);
    let server = start(&fake).await;
    let a = adapter(&server);
    assert!(!a.descriptor().can_revoke_sessions);
    assert!(!a.descriptor().can_delete);
    for kind in [OperationKind::RevokeSessions, OperationKind::DeleteAccount] {
        let op = conformance::operation(&a, "sarah@acme.com", kind);
        let e = a.execute(&op, &sarah()).await.unwrap_err();
        assert_eq!(e.class(), "unsupported", "{e}");
    }
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn a_wrong_org_or_url_is_configuration_never_absence() {
    let fake = FakeGithub::new(100);
    let server = start(&fake).await;
    let wrong = provision_github::GithubAdapter::new(
        provision_github::GithubConfig::builder("no-such-org")
            .api_url(&server.uri())
            .token(crate::support::TOKEN)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        wrong.read_accounts(None).await.unwrap_err().class(),
        "configuration"
    );
    fake.set_mode(Mode::NotGithub);
    assert_eq!(
        adapter(&server)
            .read_accounts(None)
            .await
            .unwrap_err()
            .class(),
        "configuration"
    );
}
