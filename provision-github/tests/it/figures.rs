//! The figures for the note, counted against the fake: the reads of an
//! organization of 10,000 members, and the writes per change.

use provision_core::adapter::Adapter;
use provision_core::model::{ResourceRef, SystemName};

use crate::support::{FakeGithub, adapter, requests, start};

#[tokio::test]
async fn an_org_of_10000_members_is_read_in_100_pages_plus_one_per_team_page() {
    let fake = FakeGithub::new(100);
    for n in 0..10_000 {
        fake.add_member(&format!("user{n:05}"));
    }
    // 20 people have not accepted their invitations yet.
    for n in 0..20 {
        let u = format!("invited{n}");
        fake.add_user(&u);
        fake.state
            .lock()
            .unwrap()
            .members
            .insert(u, "pending".into());
    }
    fake.add_team("platform", false);
    {
        let mut s = fake.state.lock().unwrap();
        let team = &mut s.teams.get_mut("platform").unwrap().1;
        for n in 0..250 {
            team.insert(format!("user{n:05}"), ("member".into(), "active".into()));
        }
    }
    let server = start(&fake).await;
    let a = adapter(&server);
    let mut cursor: Option<String> = None;
    let mut accounts = 0;
    loop {
        let page = a.read_accounts(cursor.as_deref()).await.unwrap();
        accounts += page.items.len();
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(accounts, 10_020);
    let team = ResourceRef {
        system: SystemName::new("github"),
        kind: "team".into(),
        resource: "platform".into(),
        scope: None,
    };
    let mut cursor: Option<String> = None;
    let mut grants = 0;
    loop {
        let page = a.read_grants(&team, cursor.as_deref()).await.unwrap();
        grants += page.items.len();
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(grants, 250);
    let got = requests(&server).await;
    let members = got
        .iter()
        .filter(|r| r.ends_with("/members") && r.contains("/orgs/acme/members"))
        .count();
    let invitations = got.iter().filter(|r| r.ends_with("/invitations")).count();
    let team_reads = got.iter().filter(|r| r.contains("/teams/")).count();
    println!(
        "FIGURE reads for 10,000 members + 20 invitations + a 250-member team: {} requests \
         ({members} member pages, {invitations} invitation page(s), {team_reads} team pages)",
        got.len()
    );
    assert_eq!(members, 100, "100 a page");
    assert_eq!(invitations, 1);
    assert_eq!(team_reads, 3);
    assert_eq!(got.len(), 104, "nothing is read per account");
}

/// Requests one change makes, counted on the fake: `(reads, writes)`.
async fn cost(
    server: &wiremock::MockServer,
    a: &dyn Adapter,
    account: &provision_core::model::AccountRef,
    kind: provision_core::model::OperationKind,
    replacement: bool,
) -> (usize, usize) {
    let before = requests(server).await;
    let mut op = provision_testkit::conformance::operation(a, &account.login, kind);
    if replacement {
        op.reason.kind = provision_core::model::ReasonKind::Replacement;
    }
    let _ = a.execute(&op, account).await;
    let after = requests(server).await;
    let new = &after[before.len()..];
    let reads = new.iter().filter(|r| r.starts_with("GET")).count();
    (reads, new.len() - reads)
}

#[tokio::test]
async fn writes_per_change() {
    use provision_core::model::{AccountRef, Entitlement, OperationKind};
    use provision_testkit::conformance::profile;

    let fake = FakeGithub::new(100);
    fake.add_user("sarah-gh");
    fake.add_user("ex-gh");
    fake.state.lock().unwrap().former.insert("ex-gh".into());
    fake.add_team("platform", false);
    fake.add_repo("acme/api");
    let server = start(&fake).await;
    let a = adapter(&server);
    let sarah = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some("sarah-gh".into()),
    };
    let mut joiner = profile("sarah@acme.com", "Sarah Chen");
    joiner
        .attributes
        .insert("github_username".into(), "sarah-gh".into());
    let mut rehire = profile("ex@acme.com", "Ex Employee");
    rehire
        .attributes
        .insert("github_username".into(), "ex-gh".into());
    rehire.attributes.insert("rehire".into(), "true".into());
    let team = |role: &str| Entitlement::new("github", "team", "platform").with_role(role);
    let repo = |role: &str| Entitlement::new("github", "repository", "acme/api").with_role(role);

    let mut rows = Vec::new();
    let mut row = |name: &str, c: (usize, usize)| {
        println!("FIGURE {name}: {} read(s), {} write(s)", c.0, c.1);
        rows.push((name.to_owned(), c));
    };
    row(
        "join (invitation)",
        cost(
            &server,
            &a,
            &AccountRef::by_login("sarah@acme.com"),
            OperationKind::CreateAccount {
                profile: joiner.clone(),
            },
            false,
        )
        .await,
    );
    row(
        "join again while pending (re-check)",
        cost(
            &server,
            &a,
            &AccountRef::by_login("sarah@acme.com"),
            OperationKind::CreateAccount { profile: joiner },
            false,
        )
        .await,
    );
    row(
        "rehire (reinstate)",
        cost(
            &server,
            &a,
            &AccountRef::by_login("ex@acme.com"),
            OperationKind::CreateAccount { profile: rehire },
            false,
        )
        .await,
    );
    fake.accept("sarah-gh");
    row(
        "team grant",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Grant {
                entitlement: team("member"),
            },
            false,
        )
        .await,
    );
    row(
        "team role change",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Grant {
                entitlement: team("maintainer"),
            },
            true,
        )
        .await,
    );
    row(
        "repository grant",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Grant {
                entitlement: repo("push"),
            },
            false,
        )
        .await,
    );
    row(
        "repository role change",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Grant {
                entitlement: repo("admin"),
            },
            true,
        )
        .await,
    );
    row(
        "repository revoke",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Revoke {
                entitlement: repo("admin"),
            },
            false,
        )
        .await,
    );
    row(
        "team revoke",
        cost(
            &server,
            &a,
            &sarah,
            OperationKind::Revoke {
                entitlement: team("maintainer"),
            },
            false,
        )
        .await,
    );
    row(
        "leaver (organization removal)",
        cost(&server, &a, &sarah, OperationKind::SuspendAccount, false).await,
    );
    let expected = [
        (1, 1),
        (1, 0),
        (2, 1),
        (0, 1),
        (0, 1),
        (0, 1),
        (0, 1),
        (0, 1),
        (0, 1),
        (0, 1),
    ];
    let got: Vec<(usize, usize)> = rows.iter().map(|(_, c)| *c).collect();
    assert_eq!(got, expected, "{rows:?}");
}

#[tokio::test]
async fn writes_per_change_in_an_emu_enterprise() {
    use provision_core::model::{AccountRef, OperationKind};
    use provision_testkit::conformance::profile;

    let fake = FakeGithub::new(100);
    let server = start(&fake).await;
    let a = crate::support::emu_adapter(&server, true);
    let ada = AccountRef::by_login("ada@acme.com");
    let rows = [
        (
            "EMU join (SCIM create)",
            cost(
                &server,
                &a,
                &ada,
                OperationKind::CreateAccount {
                    profile: profile("ada@acme.com", "Ada L"),
                },
                false,
            )
            .await,
        ),
        (
            "EMU leaver (active:false)",
            cost(&server, &a, &ada, OperationKind::SuspendAccount, false).await,
        ),
        (
            "EMU rehire (active:true)",
            cost(&server, &a, &ada, OperationKind::ReactivateAccount, false).await,
        ),
        (
            "EMU delete (delete_leavers)",
            cost(&server, &a, &ada, OperationKind::DeleteAccount, false).await,
        ),
    ];
    for (name, c) in &rows {
        println!("FIGURE {name}: {} read(s), {} write(s)", c.0, c.1);
    }
    let got: Vec<(usize, usize)> = rows.iter().map(|(_, c)| *c).collect();
    assert_eq!(got, vec![(0, 1), (1, 1), (1, 1), (1, 1)]);
}
