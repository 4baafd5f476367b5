//! The figures of issue 15, counted from the requests wiremock received (not timed):
//! writes per change, and the reads for a project with 5,000 role actors and a group
//! with 5,000 members. Run with `--nocapture` to see them printed.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, Effect, read_all_grants};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance;
use support::{FakeJira, Hosts, assert_conform, log, writes};

#[tokio::test]
async fn every_change_is_exactly_one_write() {
    let fake = FakeJira::new();
    fake.add_group("engineering");
    fake.add_project("ENG");
    let hosts = Hosts::start(fake).await;
    let jira =
        provision_jira::JiraAdapter::new(hosts.config(true).profile_sync(true).build().unwrap())
            .unwrap();
    let login = "ada@example.com";
    let mut profile = conformance::profile(login, "Ada Lovelace");
    profile.required_grants = vec![Entitlement::new("jira", "product", "jira-software")];
    let create = conformance::operation(&jira, login, OperationKind::CreateAccount { profile });
    let id = jira
        .execute(&create, &AccountRef::by_login(login))
        .await
        .unwrap()
        .external_id
        .unwrap();
    let who = AccountRef {
        login: login.into(),
        external_id: Some(id),
    };
    let dev = Entitlement::new("jira", "project_role", "ENG").with_role("Developer");
    let admin = Entitlement::new("jira", "project_role", "ENG").with_role("Administrator");
    let group = Entitlement::new("jira", "group", "engineering");
    let product = Entitlement::new("jira", "product", "jira-servicedesk");
    let changes = vec![
        // joiner
        OperationKind::Grant {
            entitlement: group.clone(),
        },
        OperationKind::Grant {
            entitlement: dev.clone(),
        },
        OperationKind::Grant {
            entitlement: product.clone(),
        },
        // mover
        OperationKind::UpdateAccount {
            attributes: [("title".to_owned(), "Staff Engineer".to_owned())].into(),
        },
        OperationKind::Grant {
            entitlement: admin.clone(),
        },
        OperationKind::Revoke { entitlement: dev },
        // leaver
        OperationKind::SuspendAccount,
        OperationKind::Revoke { entitlement: admin },
        OperationKind::Revoke { entitlement: group },
        OperationKind::Revoke {
            entitlement: product,
        },
    ];
    let mut changed = 1; // the create
    for kind in changes {
        let effect = conformance::run(&jira, &who, kind.clone()).await.unwrap();
        assert_eq!(effect, Effect::Changed, "{}", kind.verb());
        changed += 1;
    }
    let sent = writes(&hosts.site).await.len() + writes(&hosts.org).await.len();
    let per_change = sent as f64 / changed as f64;
    println!("FIGURE writes per change: {sent} writes / {changed} changes = {per_change:.2}");
    let reads = log(&hosts.site).await.len() + log(&hosts.org).await.len() - sent;
    println!(
        "FIGURE reads alongside those {changed} changes: {reads} (email search before the create, role and product look-ups once per run, the status before the deactivation, the groups before the product revoke)"
    );
    assert_eq!(
        sent,
        changed,
        "site: {:?} org: {:?}",
        writes(&hosts.site).await,
        writes(&hosts.org).await
    );
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn reads_for_5000_role_actors_and_5000_group_members() {
    let fake = FakeJira::new();
    fake.add_project("BIG");
    let gid = fake.add_group("everyone");
    for n in 0..5000 {
        let id = fake.add_user(&format!("p{n}@example.com"));
        fake.add_member(&gid, &id);
        fake.add_actor("BIG", 10001, &id);
    }
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);

    let role = Entitlement::new("jira", "project_role", "BIG").with_role("Developer");
    let grants = read_all_grants(&jira, &role.resource_ref()).await.unwrap();
    assert_eq!(grants.len(), 5000);
    let role_reads = log(&hosts.site).await.len();
    println!(
        "FIGURE project with 5,000 role actors: {role_reads} reads (GET /role once, then one GET \
         /project/BIG/role/{{id}} per configured role name: {})",
        jira.descriptor().kind("project_role").unwrap().roles.len()
    );
    assert_eq!(role_reads, 1 + 4);

    let group = Entitlement::new("jira", "group", "everyone");
    let members = read_all_grants(&jira, &group.resource_ref()).await.unwrap();
    assert_eq!(members.len(), 5000);
    let group_reads = log(&hosts.site).await.len() - role_reads;
    println!(
        "FIGURE group with 5,000 members: {group_reads} reads (GET /group/bulk once for the \
         groupId, then 100 pages of 50)"
    );
    assert_eq!(group_reads, 1 + 100);

    let accounts = provision_core::adapter::read_all_accounts(&jira)
        .await
        .unwrap();
    assert_eq!(accounts.len(), 5000);
    let account_reads = log(&hosts.site).await.len() - role_reads - group_reads;
    println!(
        "FIGURE 5,000 accounts: {account_reads} reads of /users/search (1,000 a page; a full last page costs one more)"
    );
    assert_eq!(account_reads, 6);
    assert_conform(&hosts.site).await;
}

/// Issue 27 §1 (the Jira part): a reconcile reads every account's grants, and each
/// managed project role's actors are read once per run for all of them, not once per
/// account. The floor is one `GET /project/{key}/role/{id}` per project and role.
#[tokio::test]
async fn role_actors_are_read_once_per_run_for_every_account() {
    use provision_core::model::SystemName;
    use provision_core::planner::read_system;
    let fake = FakeJira::new();
    let projects = ["ENG", "OPS"];
    for p in projects {
        fake.add_project(p);
    }
    let ids: Vec<String> = (0..30)
        .map(|n| fake.add_user(&format!("p{n}@example.com")))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        fake.add_actor(projects[n % 2], 10001, id);
    }
    let hosts = Hosts::start(fake).await;
    let jira = provision_jira::JiraAdapter::new(
        hosts
            .config(false)
            .projects(projects.iter().map(|p| (*p).to_owned()).collect())
            .build()
            .unwrap(),
    )
    .unwrap();
    let roles = jira
        .descriptor()
        .kind("project_role")
        .map_or(0, |k| k.roles.len());
    let named = vec![Entitlement::new("jira", "project_role", "ENG").resource_ref()];
    let read = read_system(&jira, &SystemName::new("jira"), &named)
        .await
        .unwrap();
    let held = read
        .snapshot
        .grants
        .iter()
        .filter(|g| g.entitlement.kind == "project_role")
        .count();
    assert_eq!(held, 30, "every account's role");
    let role_reads = log(&hosts.site)
        .await
        .into_iter()
        .filter(|l| l.starts_with("GET /rest/api/3/project/") && l.split('/').count() == 8)
        .count();
    let floor = projects.len() * roles;
    println!(
        "figure: 30 accounts, {} projects x {roles} roles: {role_reads} role-actor reads \
         per reconcile read (floor {floor}; {:.2}x)",
        projects.len(),
        role_reads as f64 / floor as f64
    );
    assert!(
        role_reads as f64 <= 1.1 * floor as f64,
        "{role_reads} role reads for a floor of {floor}"
    );

    // The next run reads afresh: a role given by hand in between is seen.
    hosts.fake.add_actor("OPS", 10002, &ids[0]);
    let read = read_system(&jira, &SystemName::new("jira"), &named)
        .await
        .unwrap();
    assert!(
        read.snapshot
            .grants
            .iter()
            .any(|g| g.account_external_id == ids[0]
                && g.entitlement.resource == "OPS"
                && g.entitlement.role.as_deref() == Some("Administrator")),
        "the second run saw the hand-made role"
    );
}
