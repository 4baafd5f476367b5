//! Reads cost what the data costs (issue 27, section 1, for GitLab): a plan over N
//! people reads the managed tree once, each resource's member list once, and inverts
//! the lists into per-account grants; it never re-lists the tree per account.
#![allow(clippy::unwrap_used)]

use crate::support;

use provision_core::model::Identity;
use support::{FakeGitlab, Src, start};

fn pages(rows: usize) -> usize {
    rows.div_ceil(100).max(1)
}

/// N people (every one in `acme`, half in `acme/eng`, a tenth in a project), three
/// groups and three projects: the plan's reads against the floor — the account list's
/// pages, each resource's member pages, and the tree's listing (the top group, its
/// descendants' and projects' pages, one SAML-link read per group).
#[tokio::test]
async fn a_plan_reads_each_member_list_once_whatever_the_number_of_accounts() {
    let n = 1_000;
    let fake = FakeGitlab::new(100);
    for g in ["acme", "acme/eng", "acme/ops"] {
        fake.add_group(g);
    }
    for p in ["acme/eng/api", "acme/eng/web", "acme/ops/runbooks"] {
        fake.add_project(p);
    }
    let mut roster = Vec::new();
    for i in 0..n {
        let login = format!("user{i}@example.com");
        let id = fake.add_user(&format!("user{i}"), &login);
        fake.add_member(Src::Group, "acme", id, 10);
        if i % 2 == 0 {
            fake.add_member(Src::Group, "acme/eng", id, 30);
        }
        if i % 10 == 0 {
            fake.add_member(Src::Project, "acme/eng/api", id, 40);
        }
        roster.push(
            Identity::new(format!("e{i}"), &login, &login)
                .with_attribute("department", "Engineering"),
        );
    }
    let server = start(&fake).await;
    let engine = support::engine(
        "reads",
        &server.uri(),
        "additive",
        &["deployment: self_managed"],
        support::ENGINEERING_DEVELOPERS,
    )
    .await;
    let before = server.received_requests().await.unwrap().len();

    let plan = engine
        .plan(&roster, "reconcile")
        .await
        .unwrap()
        .approve()
        .unwrap();
    // Half the people lack acme/eng: one grant each, nothing else.
    assert_eq!(plan.operations.len(), n / 2);

    let calls = server.received_requests().await.unwrap().len() - before;
    let members = |src, path| {
        let s = fake.state.lock().unwrap();
        let id = match src {
            Src::Group => s.groups.iter().find(|g| g.full_path == path).unwrap().id,
            Src::Project => s.projects.iter().find(|p| p.path == path).unwrap().id,
        };
        s.members.keys().filter(|k| k.0 == src && k.1 == id).count()
    };
    let member_pages: usize = [
        (Src::Group, "acme"),
        (Src::Group, "acme/eng"),
        (Src::Group, "acme/ops"),
        (Src::Project, "acme/eng/api"),
        (Src::Project, "acme/eng/web"),
        (Src::Project, "acme/ops/runbooks"),
    ]
    .into_iter()
    .map(|(src, path)| pages(members(src, path)))
    .sum();
    let account_pages = pages(n);
    // The top group, its descendants (one page), its projects (one page), and one
    // SAML-link read per group.
    let tree_reads = 1 + 1 + 1 + 3;
    let floor = account_pages + member_pages + tree_reads;
    let ratio = calls as f64 / floor as f64;
    println!(
        "FIGURE reads for a plan over {n} accounts: {calls} requests, floor {floor} \
         ({account_pages} account pages + {member_pages} member pages + {tree_reads} tree reads) = {ratio:.2}x"
    );
    assert!(ratio <= 1.1, "{calls} requests against a floor of {floor}");
}
