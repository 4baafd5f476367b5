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
