//! Joiner → mover → leaver through the engine (`adapter: jira` built by the factory
//! from a `provision.yaml`, policies in YAML), against the fake site and org: with the
//! org API key the leaver's account is deactivated; without it the leaver loses
//! product access, groups and project roles instead. A second plan after each apply is
//! empty (idempotence), and every site request conforms to the spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use chrono::Utc;
use provision_core::engine::Engine;
use provision_core::model::{EmploymentStatus, Identity, OperationKind};
use support::{FakeJira, Hosts, assert_conform};

const POLICIES: &str = r#"
policies:
  - name: "Jira for Engineering and Platform"
    triggers:
      - department: {one_of: ["Engineering", "Platform"]}
    provisions:
      - {system: jira, action: grant_product_access, target: "jira-software"}
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - {system: jira, action: add_to_group, target: "engineering"}
      - {system: jira, action: assign_project_role, target: "ENG", role: "Developer"}
  - name: "Platform"
    triggers:
      - department: "Platform"
    provisions:
      - {system: jira, action: assign_project_role, target: "ENG", role: "Developer"}
      - {system: jira, action: assign_project_role, target: "ENG", role: "Administrator"}
"#;

struct World {
    hosts: Hosts,
    dir: std::path::PathBuf,
}

async fn world(tag: &str, org: bool) -> World {
    let fake = FakeJira::new();
    fake.add_group("engineering");
    fake.add_project("ENG");
    let hosts = Hosts::start(fake).await;
    let dir = std::env::temp_dir().join(format!("jira-lifecycle-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), support::TOKEN).unwrap();
    std::fs::write(dir.join("key"), support::ORG_KEY).unwrap();
    std::fs::write(dir.join("policies.yaml"), POLICIES).unwrap();
    let org_lines = if org {
        format!(
            "      org_api_key: {{file: {}}}\n",
            dir.join("key").display()
        )
    } else {
        String::new()
    };
    let org_settings = if org {
        format!(
            "      org_api_url: {}\n      profile_sync: \"true\"\n",
            hosts.org.uri()
        )
    } else {
        String::new()
    };
    let yaml = format!(
        "systems:\n  jira:\n    adapter: jira\n    enforcement: authoritative\n    correlation:\n      - {{key: account_id, attribute: jira_account_id}}\n    credentials:\n      api_token: {{file: {}}}\n{org_lines}    settings:\n      site_url: {}\n      email: {}\n      projects: ENG\n{org_settings}blast_radius: {{max_share: 1.0, max_identities: 100, max_operations: 100}}\n",
        dir.join("token").display(),
        hosts.site.uri(),
        support::EMAIL,
    );
    std::fs::write(dir.join("provision.yaml"), yaml).unwrap();
    World { hosts, dir }
}

impl World {
    async fn engine(&self) -> Engine {
        Engine::builder()
            .deployment(self.dir.join("provision.yaml"))
            .policies(self.dir.join("policies.yaml"))
            .factories([provision_jira::factory()])
            .build()
            .await
            .unwrap()
    }
}

async fn converge(engine: &Engine, roster: &[Identity], event: &str) -> Vec<String> {
    let plan = engine.plan(roster, event).await.unwrap().approve().unwrap();
    let verbs: Vec<String> = plan
        .operations
        .iter()
        .map(|o| match o.kind.entitlement() {
            Some(e) => format!("{} {e}", o.kind.verb()),
            None => o.kind.verb().to_owned(),
        })
        .collect();
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{event}: {report:?}");
    let mut again = engine.plan(roster, event).await.unwrap().approve().unwrap();
    if event == "hire" && again.operations.len() == 1 {
        // `POST /user` cannot carry title and department: with profile sync on, the
        // next run sets them on the new account (one update, one write).
        assert!(
            matches!(
                again.operations[0].kind,
                OperationKind::UpdateAccount { .. }
            ),
            "{:?}",
            again.operations
        );
        assert!(engine.apply(&again).await.unwrap().is_complete());
        again = engine.plan(roster, event).await.unwrap().approve().unwrap();
    }
    assert!(
        again.operations.is_empty(),
        "{event}: not converged: {:?}",
        again.operations
    );
    verbs
}

fn ada(department: &str, title: &str) -> Identity {
    Identity::new("e1", "ada@example.com", "Ada Lovelace")
        .with_attribute("department", department)
        .with_attribute("title", title)
}

async fn joiner_mover(w: &World) -> (Engine, String) {
    let engine = w.engine().await;
    let joiner = converge(&engine, &[ada("Engineering", "Engineer")], "hire").await;
    assert_eq!(
        joiner.len(),
        3,
        "create (carrying the product), group, role: {joiner:?}"
    );
    assert!(joiner.iter().any(|v| v == "create_account"), "{joiner:?}");
    let fake = &w.hosts.fake;
    let id = fake
        .state
        .lock()
        .unwrap()
        .users
        .iter()
        .find(|u| u.email == "ada@example.com")
        .unwrap()
        .id
        .clone();
    assert!(
        fake.members(&fake.group_id("jira-software-users"))
            .contains(&id)
    );
    assert!(fake.members(&fake.group_id("engineering")).contains(&id));
    assert!(fake.actors("ENG", 10001).contains(&id));

    // The mover: Engineering → Platform and a new title.
    let mover = converge(&engine, &[ada("Platform", "Staff Engineer")], "transfer").await;
    assert!(
        mover.contains(&"grant jira/project_role/ENG role=Administrator".to_owned())
            || mover
                .iter()
                .any(|v| v.starts_with("grant") && v.contains("Administrator")),
        "{mover:?}"
    );
    assert!(
        mover
            .iter()
            .any(|v| v.starts_with("revoke") && v.contains("engineering")),
        "{mover:?}"
    );
    assert!(fake.actors("ENG", 10001).contains(&id), "Developer kept");
    assert!(
        fake.actors("ENG", 10002).contains(&id),
        "Administrator given"
    );
    assert!(!fake.members(&fake.group_id("engineering")).contains(&id));
    (engine, id)
}

/// The groups `id` is still a member of.
fn groups_of(fake: &FakeJira, id: &str) -> Vec<String> {
    fake.state
        .lock()
        .unwrap()
        .members
        .iter()
        .filter(|(_, m)| m.contains(id))
        .map(|(g, _)| g.clone())
        .collect()
}

fn terminated(mut who: Identity) -> Identity {
    who.status = EmploymentStatus::Terminated {
        effective: Utc::now() - chrono::Duration::hours(1),
    };
    who
}

#[tokio::test]
async fn with_the_org_key_a_leaver_is_deactivated() {
    let w = world("org", true).await;
    let (engine, id) = joiner_mover(&w).await;
    assert_eq!(
        w.hosts.fake.user(&id).title.as_deref(),
        Some("Staff Engineer"),
        "profile synced"
    );
    assert_eq!(
        w.hosts.fake.user(&id).department.as_deref(),
        Some("Platform")
    );
    let plan = engine
        .plan(
            &[terminated(ada("Platform", "Staff Engineer"))],
            "termination",
        )
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .any(|o| o.kind == OperationKind::SuspendAccount),
        "{:?}",
        plan.operations
    );
    engine.apply(&plan).await.unwrap();
    assert!(!w.hosts.fake.user(&id).active, "deactivated by the org API");
    assert_conform(&w.hosts.site).await;
}

#[tokio::test]
async fn without_the_org_key_a_leaver_loses_product_access_groups_and_roles() {
    let w = world("site", false).await;
    let (engine, id) = joiner_mover(&w).await;
    // A hand-made group membership the policies never gave.
    let fake = &w.hosts.fake;
    let oncall = fake.add_group("weekend-oncall");
    fake.add_member(&oncall, &id);
    let leaver = [terminated(ada("Platform", "Staff Engineer"))];
    let plan = engine
        .plan(&leaver, "termination")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert!(
        !plan
            .operations
            .iter()
            .any(|o| o.kind == OperationKind::SuspendAccount),
        "cannot suspend"
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(fake.user(&id).active, "the account stays (no org key) ...");
    let left = groups_of(fake, &id);
    assert!(
        left.is_empty(),
        "... but every group is gone, product groups included: {left:?}"
    );
    assert!(!fake.actors("ENG", 10001).contains(&id) && !fake.actors("ENG", 10002).contains(&id));
    assert!(w.hosts.org.received_requests().await.unwrap().is_empty());
    assert_conform(&w.hosts.site).await;
}

/// Issue 28 item 13: a leaver whose Atlassian account the organization does not manage
/// (a partner on their own domain) cannot be deactivated by the org API, so the suspend
/// takes away what Jira can: product access, groups and project roles. The run is
/// complete (with a note saying so), and the next run changes nothing.
#[tokio::test]
async fn an_unmanaged_leaver_loses_product_access_groups_and_roles_inside_the_suspend() {
    let w = world("unmanaged", true).await;
    let (engine, id) = joiner_mover(&w).await;
    let fake = &w.hosts.fake;
    fake.edit_user(&id, |u| u.managed = false);
    let oncall = fake.add_group("weekend-oncall");
    fake.add_member(&oncall, &id);
    let leaver = [terminated(ada("Platform", "Staff Engineer"))];
    let plan = engine
        .plan(&leaver, "termination")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    let suspend = plan
        .operations
        .iter()
        .find(|o| o.kind == OperationKind::SuspendAccount)
        .and_then(|o| report.operation(&o.id))
        .unwrap();
    let note = suspend.note.clone().unwrap_or_default();
    assert!(note.contains("not managed"), "{note}");
    assert!(fake.user(&id).active, "the org cannot deactivate it ...");
    let left = groups_of(fake, &id);
    assert!(
        left.is_empty(),
        "... but every group is gone, product groups and hand-made ones included: {left:?}"
    );
    assert!(!fake.actors("ENG", 10001).contains(&id) && !fake.actors("ENG", 10002).contains(&id));

    // The next run: the suspend is planned again (the account is still active) and is
    // already in place, with no write to the site.
    let site_writes = support::writes(&w.hosts.site).await.len();
    let again = engine
        .plan(&leaver, "termination")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&again).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.totals.succeeded, 0, "{report}");
    assert_eq!(support::writes(&w.hosts.site).await.len(), site_writes);
    assert_conform(&w.hosts.site).await;
}
