//! Against scim2-server (python-scim's SCIM 2.0 service provider, which nobody here
//! wrote): a joiner → mover → leaver run through the whole engine, the shared
//! conformance suite, and the writes each change costs.
//!
//! The server: `PROVISION_TEST_SCIM_ROOT` when set (one started with
//! `SCIM_TENANTS=dynamic`, token `peer-test-token`), otherwise each test starts one
//! and stops it ([`provision_testkit::scim_peer`]); one that cannot start fails the
//! test, saying so. Each test works in its own tenant (`<root>/<tenant>/v2`), an
//! empty store of its own.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use provision_core::adapter::{Adapter, read_all_accounts, read_all_grants};
use provision_core::engine::Engine;
use provision_core::model::{AccountState, EmploymentStatus, Entitlement, Identity, OperationKind};
use provision_scim::discovery::Origin;
use provision_scim::{ScimAdapter, ScimConfig};
use provision_testkit::conformance::{self, Suite};
use provision_testkit::scim_peer::{self, ScimPeer, Tenants};

use crate::support;

pub const PEER_TOKEN: &str = scim_peer::TOKEN;

fn peer(tag: &str) -> ScimPeer {
    ScimPeer::start(env!("CARGO_MANIFEST_DIR"), tag, Tenants::Dynamic)
}

fn config(base: &str) -> provision_scim::config::ScimConfigBuilder {
    ScimConfig::builder()
        .system_name("expenses")
        .base_url(base)
        .bearer(PEER_TOKEN)
        .page_size(2)
}

/// Creates a group straight on the server (groups are the application's, not ours).
async fn make_group(base: &str, name: &str) -> String {
    let reply = reqwest::Client::new()
        .post(format!("{base}Groups"))
        .bearer_auth(PEER_TOKEN)
        .header("content-type", "application/scim+json")
        .body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201, "{:?}", reply.text().await);
    let body: serde_json::Value = reply.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

const POLICY: &str = r##"
policies:
  - name: "Engineering"
    triggers:
      - department: "Engineering"
    provisions:
      - system: "expenses"
        action: "add_to_group"
        target: "Engineering"
  - name: "Sales"
    triggers:
      - department: "Sales"
    provisions:
      - system: "expenses"
        action: "add_to_group"
        target: "Sales"
"##;

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(base: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("scim-lifecycle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/p.yaml"), POLICY).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, PEER_TOKEN).unwrap();
        let yaml = format!(
            "systems:\n  expenses:\n    adapter: scim\n    enforcement: additive\n    \
             delete_leavers: false\n    credentials:\n      token: {{file: {}}}\n    \
             settings:\n      base_url: {base}\n      page_size: \"2\"\n",
            token.display()
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

fn person(id: &str, email: &str, name: &str, department: &str, title: &str) -> Identity {
    Identity::new(id, email, name)
        .with_attribute("department", department)
        .with_attribute("title", title)
}

#[tokio::test]
async fn joiner_mover_leaver_and_the_suite_against_scim2_server() {
    let peer = peer("lifecycle");

    // --- Joiner → mover → leaver through the engine, `adapter: scim` from the factory.
    let base = peer.tenant("lifecycle");
    make_group(&base, "Engineering").await;
    make_group(&base, "Sales").await;
    let files = Files::new(&base);
    let engine = Engine::builder()
        .deployment(files.dir.join("provision.yaml"))
        .policies(files.dir.join("policies"))
        .factory(provision_scim::factory())
        .actor("scim-lifecycle-test")
        .build()
        .await
        .unwrap();
    // A second adapter on the same tenant, to look at what the engine did.
    let look = ScimAdapter::connect(config(&base).build().unwrap())
        .await
        .unwrap();
    assert_eq!(look.capabilities().origin, Origin::Discovered);
    assert!(
        look.capabilities().notes.is_empty(),
        "{:?}",
        look.capabilities().notes
    );
    assert_eq!(look.capabilities().max_results, Some(1000));

    let boss = person(
        "e1005",
        "boss@example.com",
        "Grace Boss",
        "Engineering",
        "Director",
    );
    let sarah = person(
        "e1001",
        "sarah@example.com",
        "Sarah Chen",
        "Engineering",
        "Engineer",
    )
    .with_attribute("manager", "e1005");
    let joiners = engine
        .plan(&[boss.clone(), sarah.clone()], "joiner")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&joiners).await.unwrap();
    assert!(report.is_complete(), "{report}");

    let accounts = read_all_accounts(&look).await.unwrap();
    let sarah_acc = accounts
        .iter()
        .find(|a| a.login == "sarah@example.com")
        .unwrap();
    assert_eq!(sarah_acc.state, AccountState::Active);
    assert_eq!(
        sarah_acc.attributes.get("department").unwrap(),
        "Engineering"
    );
    assert_eq!(sarah_acc.attributes.get("title").unwrap(), "Engineer");
    // Her manager is written as his SCIM id and read back as his HR id — if he was
    // created first; the plan does not order two joiners, so either is right.
    if let Some(m) = sarah_acc.attributes.get("manager") {
        assert_eq!(m, "e1005");
    }
    let eng = Entitlement::new("expenses", "group", "Engineering").resource_ref();
    let members = read_all_grants(&look, &eng).await.unwrap();
    assert!(
        members
            .iter()
            .any(|g| g.account_external_id == sarah_acc.external_id)
    );

    // Mover: Sarah goes to Sales with a new title.
    let moved = person(
        "e1001",
        "sarah@example.com",
        "Sarah Chen",
        "Sales",
        "Account Executive",
    )
    .with_attribute("manager", "e1005");
    // The move takes Engineering away (its policy no longer matches): a removal, so
    // a person confirms it for this roster of two.
    let plan = engine
        .plan(&[boss.clone(), moved.clone()], "mover")
        .await
        .unwrap()
        .confirm_blast_radius(1)
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .any(|o| matches!(o.kind, OperationKind::UpdateAccount { .. })),
        "{:?}",
        plan.operations
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    let accounts = read_all_accounts(&look).await.unwrap();
    let sarah_acc = accounts
        .iter()
        .find(|a| a.login == "sarah@example.com")
        .unwrap();
    assert_eq!(sarah_acc.attributes.get("department").unwrap(), "Sales");
    assert_eq!(
        sarah_acc.attributes.get("title").unwrap(),
        "Account Executive"
    );
    assert_eq!(
        sarah_acc.attributes.get("manager").map(String::as_str),
        Some("e1005")
    );
    let sales = Entitlement::new("expenses", "group", "Sales").resource_ref();
    assert!(
        read_all_grants(&look, &sales)
            .await
            .unwrap()
            .iter()
            .any(|g| g.account_external_id == sarah_acc.external_id)
    );
    assert!(
        !read_all_grants(&look, &eng)
            .await
            .unwrap()
            .iter()
            .any(|g| g.account_external_id == sarah_acc.external_id),
        "the policy that gave Engineering no longer matches: revoked"
    );

    // Leaver: deactivated, not deleted (delete_leavers: false).
    let mut leaver = moved.clone();
    leaver.status = EmploymentStatus::Terminated {
        effective: Utc::now() - ChronoDuration::minutes(1),
    };
    // One leaver: a person confirms the removal, whatever the guard's limits.
    let plan = engine
        .plan(&[boss.clone(), leaver], "leaver")
        .await
        .unwrap()
        .confirm_blast_radius(1)
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .any(|o| matches!(o.kind, OperationKind::SuspendAccount)),
        "{:?}",
        plan.operations
    );
    assert!(
        !plan
            .operations
            .iter()
            .any(|o| matches!(o.kind, OperationKind::DeleteAccount))
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(
        conformance::state_of(&look, "sarah@example.com").await,
        Some(AccountState::Suspended)
    );
    assert_eq!(
        conformance::state_of(&look, "boss@example.com").await,
        Some(AccountState::Active)
    );

    // --- The shared suite, with deletion, in a tenant of its own; 429s and a wrong
    // URL come from wiremock (scim2-server has no rate limits).
    let base = peer.tenant("suite");
    make_group(&base, "Engineering").await;
    let other = make_group(&base, "Managers").await;
    for n in 0..3 {
        let seeded = ScimAdapter::new(config(&base).build().unwrap()).unwrap();
        conformance::run(
            &seeded,
            &provision_core::model::AccountRef::by_login(format!("seed{n}@example.com")),
            OperationKind::CreateAccount {
                profile: conformance::profile(&format!("seed{n}@example.com"), "Seed Person"),
            },
        )
        .await
        .unwrap();
    }
    let scim = Arc::new(
        ScimAdapter::connect(config(&base).delete_leavers(true).build().unwrap())
            .await
            .unwrap(),
    );
    let throttled_server = support::throttled().await;
    let throttled = support::adapter(&throttled_server, |b| b);
    let wrong_server = support::not_scim().await;
    let wrong = support::adapter(&wrong_server, |b| b);
    let base_for_hand = base.clone();
    let hand_made: conformance::HandMadeGrant<'_> = Box::new(move |account| {
        let base = base_for_hand.clone();
        let other = other.clone();
        Box::pin(async move {
            let id = account.external_id.clone().unwrap();
            let reply = reqwest::Client::new()
                .patch(format!("{base}Groups/{other}"))
                .bearer_auth(PEER_TOKEN)
                .header("content-type", "application/scim+json")
                .body(
                    provision_scim::dialect::Dialect::rfc()
                        .add_member(&id)
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_success());
            Entitlement::new("scim", "group", "Managers")
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Entitlement> + Send>>
    });
    let report = Suite::new(
        scim.as_ref(),
        vec![Entitlement::new("scim", "group", "Engineering")],
    )
    .create(conformance::profile("ada@example.com", "Ada Lovelace"))
    .hand_made(hand_made)
    .throttled(
        &throttled,
        OperationKind::Grant {
            entitlement: Entitlement::new("scim", "group", "Engineering"),
        },
    )
    .misconfigured(&wrong)
    .min_account_pages(2)
    .delete_at_the_end()
    .run()
    .await;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

/// Writes per change, counted on the wire: one request for a create, a grant, a
/// revoke, a mover's update; one read and one write for a deactivation (a second
/// one is no write at all).
#[tokio::test]
async fn writes_per_change_against_scim2_server() {
    let peer = peer("writes");
    let base = peer.tenant("writes");
    make_group(&base, "Engineering").await;
    let scim = ScimAdapter::connect(config(&base).delete_leavers(true).build().unwrap())
        .await
        .unwrap();
    let discovery = scim.request_counts();
    assert_eq!(
        (discovery.reads, discovery.writes),
        (3, 0),
        "three discovery reads"
    );

    let mut figures = Vec::new();
    let login = "lin@example.com";
    let mut account = provision_core::model::AccountRef::by_login(login);
    let mut step = |name: &str,
                    before: provision_scim::client::RequestCounts,
                    after: provision_scim::client::RequestCounts| {
        figures.push(format!(
            "{name}: {} writes, {} reads",
            after.writes - before.writes,
            after.reads - before.reads
        ));
        (after.writes - before.writes, after.reads - before.reads)
    };
    let mut profile = conformance::profile(login, "Lin Wu");
    profile
        .attributes
        .insert("department".into(), "Engineering".into());
    let b = scim.request_counts();
    let created = scim
        .execute(
            &conformance::operation(&scim, login, OperationKind::CreateAccount { profile }),
            &account,
        )
        .await
        .unwrap();
    account.external_id = created.external_id.clone();
    assert_eq!(step("create_account", b, scim.request_counts()), (1, 0));

    let group = Entitlement::new("scim", "group", "Engineering");
    let b = scim.request_counts();
    conformance::run(
        &scim,
        &account,
        OperationKind::Grant {
            entitlement: group.clone(),
        },
    )
    .await
    .unwrap();
    // The group's id is looked up once (a read), then cached.
    assert_eq!(
        step(
            "grant (first, group id looked up)",
            b,
            scim.request_counts()
        ),
        (1, 1)
    );
    let b = scim.request_counts();
    conformance::run(
        &scim,
        &account,
        OperationKind::Revoke {
            entitlement: group.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(step("revoke", b, scim.request_counts()), (1, 0));
    let b = scim.request_counts();
    conformance::run(
        &scim,
        &account,
        OperationKind::Grant {
            entitlement: group.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(step("grant", b, scim.request_counts()), (1, 0));
    // Reads cost what the data costs: a group's members are one read.
    let b = scim.request_counts();
    let members = read_all_grants(&scim, &group.resource_ref()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        step("read a group's members", b, scim.request_counts()),
        (0, 1)
    );

    let b = scim.request_counts();
    conformance::run(
        &scim,
        &account,
        OperationKind::UpdateAccount {
            attributes: [
                ("department".to_owned(), "Sales".to_owned()),
                ("title".to_owned(), "Account Executive".to_owned()),
            ]
            .into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        step("update_account (2 attributes)", b, scim.request_counts()),
        (1, 0)
    );

    let b = scim.request_counts();
    conformance::run(&scim, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(step("suspend_account", b, scim.request_counts()), (1, 1));
    let b = scim.request_counts();
    conformance::run(&scim, &account, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(
        step("suspend_account again", b, scim.request_counts()),
        (0, 1)
    );
    let b = scim.request_counts();
    conformance::run(&scim, &account, OperationKind::DeleteAccount)
        .await
        .unwrap();
    assert_eq!(step("delete_account", b, scim.request_counts()), (1, 0));
    println!(
        "writes per change against scim2-server:\n  {}",
        figures.join("\n  ")
    );
}
