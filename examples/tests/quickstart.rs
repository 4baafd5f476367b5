//! Runs the quickstart's scenes against the sandboxes and checks what a person would:
//! who holds what afterwards, in which order the leaver lost access, and that the
//! audit trail verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use provision_core::adapter::Adapter;
use provision_core::executor::OperationOutcome;
use provision_core::model::{AccountState, Entitlement, OperationKind};
use provision_core::sandbox::RequestKind;
use provision_examples::scenes::{PRIYA, SARAH, TOM};
use provision_examples::{Console, Quickstart};

const SYSTEMS: [&str; 7] = [
    "okta",
    "google",
    "aws",
    "gitlab",
    "slack",
    "jira",
    "salesforce",
];

fn held(qs: &Quickstart, login: &str) -> BTreeSet<Entitlement> {
    SYSTEMS
        .iter()
        .flat_map(|s| qs.systems.sandbox(s).unwrap().snapshot().grants)
        .filter(|(l, _)| l == login)
        .map(|(_, e)| e)
        .collect()
}

fn login_of(qs: &Quickstart, id: &str) -> String {
    qs.roster
        .iter()
        .find(|p| p.id.as_str() == id)
        .unwrap()
        .login
        .clone()
}

fn loaded(run_dir: &Path) -> Quickstart {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    // No real systems in tests, whatever the environment says.
    let no_env = |_: &str| None;
    let qs = Quickstart::load(examples, run_dir, &no_env, Arc::new(Console::quiet())).unwrap();
    assert!(qs.systems.real().is_empty());
    qs
}

fn run_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-quickstart-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_onboards_moves_and_offboards_with_a_verified_audit_trail() {
    let dir = run_dir("all");
    let mut qs = loaded(&dir);
    qs.seed_company();

    // 1. Sarah: exactly the seed's entitlements, in every system, after her first
    //    GitLab login and a Jira timeout that had taken effect.
    let sarah = login_of(&qs, SARAH);
    let joiner = qs.onboard_sarah().await.unwrap();
    assert!(joiner.report.is_complete(), "{}", joiner.report);
    assert_eq!(joiner.remaining, 0);
    let expected: BTreeSet<Entitlement> = [
        Entitlement::new("okta", "group", "sales-team"),
        Entitlement::new("okta", "group", "engineering-team"),
        Entitlement::new("google", "group", "sales@company.com").with_role("member"),
        Entitlement::new("google", "group", "engineering@company.com").with_role("member"),
        Entitlement::new("salesforce", "profile", "Sales Engineer"),
        Entitlement::new("gitlab", "group", "customer-solutions").with_role("reporter"),
        Entitlement::new("slack", "channel", "#sales"),
        Entitlement::new("slack", "channel", "#sales-engineering"),
        Entitlement::new("jira", "project_role", "SALES").with_role("Reporter"),
    ]
    .into_iter()
    .collect();
    assert_eq!(held(&qs, &sarah), expected);
    for system in ["okta", "google", "gitlab", "slack", "jira", "salesforce"] {
        let snap = qs.systems.sandbox(system).unwrap().snapshot();
        assert_eq!(
            snap.accounts.get(&sarah),
            Some(&AccountState::Active),
            "{system}"
        );
    }
    assert!(
        !qs.systems
            .sandbox("aws")
            .unwrap()
            .snapshot()
            .accounts
            .contains_key(&sarah)
    );
    // GitLab went pending, was re-checked, and completed once she signed in.
    let gitlab_create = joiner
        .report
        .operations
        .iter()
        .find(|o| o.operation.0 == "e1001/gitlab/create_account")
        .unwrap();
    assert_eq!(gitlab_create.outcome, OperationOutcome::Succeeded);
    assert!(gitlab_create.checks >= 1);
    let gitlab = qs.systems.sandbox("gitlab").unwrap();
    assert_eq!(gitlab.stats().creates_per_login.get(&sarah), Some(&1));
    // The Jira grant timed out after committing: confirmed by a check, not sent twice.
    let fired = qs.systems.faults("jira").unwrap().fired();
    assert_eq!(fired.len(), 1);
    let jira_writes = qs
        .systems
        .sandbox("jira")
        .unwrap()
        .stats()
        .log
        .iter()
        .filter(|e| e.kind == RequestKind::Write && e.operation.as_ref() == Some(&fired[0]))
        .count();
    assert_eq!(jira_writes, 1, "the timed-out grant was sent again");
    let jira_grant = joiner.report.operation(&fired[0]).unwrap();
    assert!(jira_grant.outcome.is_success());
    assert!(jira_grant.checks >= 1);

    // 2. Priya: loses exactly the Engineering-only grants, gains exactly the Sales ones.
    let priya = login_of(&qs, PRIYA);
    let before = held(&qs, &priya);
    let mover = qs.move_priya_to_sales().await.unwrap();
    assert!(mover.report.is_complete(), "{}", mover.report);
    assert_eq!(mover.remaining, 0);
    let after = held(&qs, &priya);
    let engineering: BTreeSet<Entitlement> = [
        Entitlement::new("okta", "group", "engineering-team"),
        Entitlement::new("google", "group", "engineering@company.com").with_role("member"),
        Entitlement::new("gitlab", "group", "engineering").with_role("developer"),
        Entitlement::new("slack", "channel", "#engineering-general"),
        Entitlement::new("jira", "project_role", "ENG").with_role("Developer"),
    ]
    .into_iter()
    .collect();
    let sales: BTreeSet<Entitlement> = [
        Entitlement::new("okta", "group", "sales-team"),
        Entitlement::new("google", "group", "sales@company.com").with_role("member"),
        Entitlement::new("slack", "channel", "#sales"),
        Entitlement::new("jira", "project_role", "SALES").with_role("Reporter"),
        Entitlement::new("salesforce", "profile", "Sales User"),
    ]
    .into_iter()
    .collect();
    assert_eq!(before, engineering);
    assert_eq!(after, sales);
    let granted: BTreeSet<Entitlement> = mover
        .plan
        .operations
        .iter()
        .filter_map(|o| match &o.kind {
            OperationKind::Grant { entitlement } => Some(entitlement.clone()),
            _ => None,
        })
        .collect();
    let revoked: BTreeSet<Entitlement> = mover
        .plan
        .operations
        .iter()
        .filter_map(|o| match &o.kind {
            OperationKind::Revoke { entitlement } => Some(entitlement.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(granted, &after - &before);
    assert_eq!(revoked, &before - &after);

    // 3. Tom: every account suspended (AWS, which cannot suspend, loses its grants),
    //    sessions ended before suspension wherever the system has sessions.
    let tom = login_of(&qs, TOM);
    let leaver = qs.offboard_tom().await.unwrap();
    assert!(leaver.report.is_complete(), "{}", leaver.report);
    assert_eq!(leaver.remaining, 0);
    assert!(held(&qs, &tom).iter().all(|e| e.system.as_str() != "aws"));
    for system in ["okta", "google", "gitlab", "slack", "jira"] {
        let sb = qs.systems.sandbox(system).unwrap();
        let snap = sb.snapshot();
        assert_eq!(
            snap.accounts.get(&tom),
            Some(&AccountState::Suspended),
            "{system}"
        );
        assert!(!snap.sessions.contains(&tom), "{system}");
        let writes: Vec<String> = sb
            .stats()
            .log
            .iter()
            .filter(|e| e.kind == RequestKind::Write)
            .filter_map(|e| e.operation.as_ref())
            .filter(|id| id.0.starts_with("e1004/"))
            .map(|id| id.0.clone())
            .collect();
        let pos = |verb: &str| writes.iter().position(|w| w.ends_with(verb));
        let suspend = pos("/suspend_account").expect("suspended");
        if sb.descriptor().can_revoke_sessions {
            let sessions = pos("/revoke_sessions").expect("sessions revoked");
            assert!(sessions < suspend, "{system}: {writes:?}");
        }
    }
    // The plan itself puts every session revocation ahead of every suspension.
    let first_suspend = leaver
        .plan
        .operations
        .iter()
        .position(|o| o.kind == OperationKind::SuspendAccount)
        .unwrap();
    assert!(
        leaver.plan.operations[..first_suspend]
            .iter()
            .all(|o| o.kind == OperationKind::RevokeSessions)
    );

    // The audit trail verifies and holds every change of the three runs.
    let verified = qs.audit_trail().await.unwrap();
    let changes = joiner.report.operations.len()
        + mover.report.operations.len()
        + leaver.report.operations.len();
    assert!(verified.records >= changes as u64);
    let _ = std::fs::remove_dir_all(&dir);
}
