//! Joiner → leaver through the whole engine (`adapter: slack` built by the factory,
//! policies, planner, executor) against the stateful fake: without Enterprise the
//! leaver is kicked from every managed channel and removed from managed user groups,
//! and nothing pretends the account was deactivated; with Enterprise the sessions are
//! reset first, then the account is deactivated.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::path::PathBuf;

use chrono::{Duration as ChronoDuration, Utc};
use provision_core::engine::Engine;
use provision_core::model::{EmploymentStatus, Identity, OperationKind};

use support::{ADMIN, BOT, FakeSlack, SCIM, assert_conform, calls, start};

const POLICY: &str = r##"
policies:
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - system: "slack"
        action: "invite_to_channel"
        target: "#engineering-general"
      - system: "slack"
        action: "add_to_usergroup"
        target: "oncall"
"##;

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(tag: &str, server: &str, tokens: &[(&str, &str)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("slack-lifecycle-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/engineering.yaml"), POLICY).unwrap();
        let mut creds = String::new();
        for (name, value) in tokens {
            let file = dir.join(name);
            std::fs::write(&file, value).unwrap();
            creds.push_str(&format!("      {name}: {{file: {}}}\n", file.display()));
        }
        let yaml = format!(
            "systems:\n  slack:\n    adapter: slack\n    enforcement: additive\n    \
             credentials:\n{creds}    settings:\n      api_url: {server}/api/\n      \
             scim_url: {server}/scim/v2/\n"
        );
        std::fs::write(dir.join("provision.yaml"), yaml).unwrap();
        Self { dir }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn engine(files: &Files) -> Engine {
    Engine::builder()
        .deployment(files.dir.join("provision.yaml"))
        .policies(files.dir.join("policies"))
        .factory(provision_slack::factory())
        .actor("slack-lifecycle-test")
        .build()
        .await
        .unwrap()
}

fn sarah() -> Identity {
    Identity::new("e1001", "sarah@example.com", "Sarah Chen")
        .with_attribute("department", "Engineering")
}

fn fake_org() -> (FakeSlack, String) {
    let fake = FakeSlack::new(1000);
    let seed = fake.add_user("seed@example.com");
    let sarah = fake.add_user("sarah@example.com");
    fake.add_channel("engineering-general");
    fake.add_channel("random");
    fake.add_group("oncall", &[&seed]);
    (fake, sarah)
}

#[tokio::test]
async fn without_enterprise_a_leaver_loses_every_channel_and_group_but_keeps_the_account() {
    let (fake, id) = fake_org();
    let server = start(&fake).await;
    let files = Files::new("bot", &server.uri(), &[("bot_token", BOT)]);
    let engine = engine(&files).await;

    let joiner = engine
        .plan(&[sarah()], "joiner")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&joiner).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(fake.members("engineering-general").contains(&id));
    assert!(fake.group_users("oncall").contains(&id));

    let mut leaver = sarah();
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - ChronoDuration::minutes(1),
    };
    // One person in the roster: a leaver is all of it, so a person confirms.
    let plan = engine
        .plan(&[leaver], "leaver")
        .await
        .unwrap()
        .confirm_blast_radius(1)
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .all(|o| matches!(o.kind, OperationKind::Revoke { .. })),
        "without SCIM or admin tokens nothing but revokes can be planned: {:?}",
        plan.operations
            .iter()
            .map(|o| o.kind.verb())
            .collect::<Vec<_>>()
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(!fake.members("engineering-general").contains(&id));
    assert!(!fake.group_users("oncall").contains(&id));
    assert!(
        fake.user(&id).active,
        "the account itself could not be deactivated"
    );
    // ...and the report says so plainly, on the leaver's removals.
    let text = report.to_string();
    assert!(
        text.contains("the Slack account itself was NOT deactivated")
            && text.contains("sessions were NOT ended"),
        "{text}"
    );
    assert_eq!(calls(&server, "admin.users.session.reset").await, 0);
    assert_conform(&server).await;
}

#[tokio::test]
async fn with_enterprise_a_leaver_has_sessions_reset_then_is_deactivated() {
    let (fake, id) = fake_org();
    let server = start(&fake).await;
    let files = Files::new(
        "enterprise",
        &server.uri(),
        &[
            ("bot_token", BOT),
            ("admin_token", ADMIN),
            ("scim_token", SCIM),
        ],
    );
    let engine = engine(&files).await;
    let joiner = engine
        .plan(&[sarah()], "joiner")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&joiner).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(fake.members("engineering-general").contains(&id));

    let mut leaver = sarah();
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - ChronoDuration::minutes(1),
    };
    // One person in the roster: a leaver is all of it, so a person confirms.
    let plan = engine
        .plan(&[leaver], "leaver")
        .await
        .unwrap()
        .confirm_blast_radius(1)
        .unwrap();
    let verbs: Vec<&str> = plan.operations.iter().map(|o| o.kind.verb()).collect();
    assert!(
        verbs.contains(&"revoke_sessions") && verbs.contains(&"suspend_account"),
        "{verbs:?}"
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(
        !fake.user(&id).active,
        "deactivated (SCIM DELETE), not deleted"
    );
    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    let reset = order
        .iter()
        .position(|l| l.ends_with("admin.users.session.reset"))
        .unwrap();
    let delete = order
        .iter()
        .position(|l| l.starts_with("DELETE /scim/v2/Users/"))
        .unwrap();
    assert!(reset < delete, "sessions first: {order:?}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn enterprise_without_scim_waits_for_first_sign_in_and_deactivates_through_admin() {
    let (fake, id) = fake_org();
    let server = start(&fake).await;
    let files = Files::new(
        "admin",
        &server.uri(),
        &[("bot_token", BOT), ("admin_token", ADMIN)],
    );
    let engine = engine(&files).await;
    let newcomer = Identity::new("e1002", "newcomer@example.com", "New Comer")
        .with_attribute("department", "Engineering");
    let plan = engine
        .plan(&[sarah(), newcomer], "joiners")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&plan).await.unwrap();
    // Sarah has a Slack account: her grants go through. The newcomer's account is
    // Slack's to create on first SSO sign-in: pending, and so are their grants.
    assert!(fake.members("engineering-general").contains(&id));
    assert!(report.totals.pending >= 1, "{report}");
    assert_eq!(report.totals.failed, 0, "{report}");

    let mut leaver = sarah();
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - ChronoDuration::minutes(1),
    };
    // One person in the roster: a leaver is all of it, so a person confirms.
    let plan = engine
        .plan(&[leaver], "leaver")
        .await
        .unwrap()
        .confirm_blast_radius(1)
        .unwrap();
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(!fake.user(&id).active);
    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    let reset = order
        .iter()
        .position(|p| p.ends_with("admin.users.session.reset"))
        .unwrap();
    let deactivate = order
        .iter()
        .position(|p| p.ends_with("admin.users.deactivate"))
        .unwrap();
    assert!(reset < deactivate, "sessions first: {order:?}");
    assert_conform(&server).await;
}
