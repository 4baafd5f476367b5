//! Runs the quickstart's scenes against the sandboxes and checks what a person would:
//! who holds what afterwards, in which order the leaver lost access, that drift made
//! by hand is found and fixed, and that the audit trail in the SQLite file verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use provision_core::adapter::Adapter;
use provision_core::audit::{AuditLog, AuditOutcome};
use provision_core::drift::{DriftClass, Severity, Subject};
use provision_core::executor::OperationOutcome;
use provision_core::journal::RunId;
use provision_core::model::{AccountState, Entitlement, IdentityId, OperationKind, ReasonKind};
use provision_examples::drift_scene::{DRIFT_RUN, LEE, MARCUS};
use provision_examples::scenes::{PRIYA, SARAH, TOM};
use provision_examples::{Console, Quickstart};
use provision_sandbox::RequestKind;
use provision_store::SqliteStore;

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

async fn loaded(run_dir: &Path) -> Quickstart {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    // No real systems in tests, whatever the environment says.
    let no_env = |_: &str| None;
    let qs = Quickstart::load(examples, run_dir, &no_env, Arc::new(Console::quiet()))
        .await
        .unwrap();
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
    let mut qs = loaded(&dir).await;
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
    // Every account signs in through Okta: her Okta account is the plan's first step,
    // and every other account of hers depends on it.
    assert_eq!(joiner.plan.operations[0].id.0, "e1001/okta/create_account");
    for op in &joiner.plan.operations {
        if op.system.as_str() != "okta" && matches!(op.kind, OperationKind::CreateAccount { .. }) {
            assert!(
                joiner
                    .plan
                    .dependencies
                    .iter()
                    .any(|d| d.before.0 == "e1001/okta/create_account" && d.after == op.id),
                "{} does not wait for the Okta account",
                op.id
            );
        }
    }
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
    // A grant the account cannot be created without (the Salesforce profile) comes
    // with the account's create.
    let granted: BTreeSet<Entitlement> = mover
        .plan
        .operations
        .iter()
        .flat_map(|o| match &o.kind {
            OperationKind::Grant { entitlement } => vec![entitlement.clone()],
            OperationKind::CreateAccount { profile } => profile.required_grants.clone(),
            _ => Vec::new(),
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
    // AWS cannot suspend: his permission set is revoked first, then his user deleted.
    let aws_ops: Vec<&str> = leaver
        .plan
        .operations
        .iter()
        .filter(|o| o.system.as_str() == "aws")
        .map(|o| o.kind.verb())
        .collect();
    assert_eq!(aws_ops, ["revoke", "delete_account"]);
    assert!(
        !qs.systems
            .sandbox("aws")
            .unwrap()
            .snapshot()
            .accounts
            .contains_key(&tom),
        "Tom's AWS user outlived his termination"
    );
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

    // 4. Drift: Marcus added to #sales-engineering and Lee removed from #sales by hand
    //    in Slack; the drift run finds both, fixes both (Slack channels are
    //    authoritative, drift_remediation fix_all), and the fix is audited.
    let marcus = login_of(&qs, MARCUS);
    let lee = login_of(&qs, LEE);
    let audit_before = qs.store.records().await.unwrap().len();
    let drift = qs.detect_and_fix_drift().await.unwrap();
    let sales_engineering = Entitlement::new("slack", "channel", "#sales-engineering");
    let sales = Entitlement::new("slack", "channel", "#sales");
    let found = |class: DriftClass, login: &str, e: &Entitlement| {
        drift.findings.findings.iter().find(|f| {
            f.class == class
                && f.login == login
                && f.subject
                    == Subject::Grant {
                        entitlement: e.clone(),
                    }
        })
    };
    let unmanaged = found(DriftClass::Unmanaged, &marcus, &sales_engineering)
        .expect("Marcus's hand-made membership is found");
    assert_eq!(unmanaged.severity, Severity::High);
    assert!(unmanaged.evidence.read_at.is_some());
    let missing =
        found(DriftClass::Missing, &lee, &sales).expect("Lee's removed membership is found");
    assert_eq!(
        missing.evidence.policies,
        vec!["Sales (all of Sales)".to_owned()]
    );
    // The hand-made changes never reached the audit log; the fix did.
    assert_eq!(
        drift.plan.operations.len(),
        2,
        "only Slack fixes: {:?}",
        drift.plan.operations
    );
    assert!(drift.report.is_complete(), "{}", drift.report);
    let slack = qs.systems.sandbox("slack").unwrap().snapshot();
    assert!(
        !slack
            .grants
            .contains(&(marcus.clone(), sales_engineering.clone()))
    );
    assert!(slack.grants.contains(&(lee.clone(), sales.clone())));
    let still = |class: DriftClass, login: &str, e: &Entitlement| {
        drift.after.findings.iter().any(|f| {
            f.class == class
                && f.login == login
                && f.subject
                    == Subject::Grant {
                        entitlement: e.clone(),
                    }
        })
    };
    assert!(!still(DriftClass::Unmanaged, &marcus, &sales_engineering));
    assert!(!still(DriftClass::Missing, &lee, &sales));
    // The leaver left nothing behind for drift to find: no enabled account of Tom's anywhere.
    assert!(
        !drift
            .after
            .findings
            .iter()
            .any(|f| f.class == DriftClass::Orphaned && f.login == tom),
        "{:?}",
        drift.after.findings
    );
    // The SQLite store has the fix, with its reason, and nothing for the hand-made changes.
    let from_db = qs
        .store
        .run_history(&RunId(DRIFT_RUN.to_owned()))
        .await
        .unwrap();
    assert_eq!(from_db, drift.audit);
    let fixed: BTreeSet<(String, String, Option<Entitlement>)> = from_db
        .iter()
        .map(|r| {
            assert_eq!(r.event.reason.kind, ReasonKind::DriftRemediation);
            assert_eq!(r.event.outcome, AuditOutcome::Changed);
            (
                r.event.identity.to_string(),
                r.event.action.clone(),
                r.event.entitlement.clone(),
            )
        })
        .collect();
    assert_eq!(
        fixed,
        [
            (
                MARCUS.to_owned(),
                "revoke".to_owned(),
                Some(sales_engineering.clone())
            ),
            (LEE.to_owned(), "grant".to_owned(), Some(sales.clone())),
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        qs.store.records().await.unwrap().len(),
        audit_before + 2,
        "the hand-made changes are not in the audit log, the two fixes are"
    );
    let marcus_history = qs
        .store
        .identity_history(&IdentityId::new(MARCUS))
        .await
        .unwrap();
    assert_eq!(marcus_history.len(), 1, "{marcus_history:?}");

    // The audit trail in the SQLite file verifies on the database and holds every
    // change of the four runs.
    let verified = qs.audit_trail().await.unwrap();
    let changes = joiner.report.operations.len()
        + mover.report.operations.len()
        + leaver.report.operations.len()
        + drift.report.operations.len();
    assert!(verified.records >= changes as u64);
    assert_eq!(
        verified.records,
        qs.store.records().await.unwrap().len() as u64
    );
    // A second process opening the file sees the same verified chain.
    let reopened = SqliteStore::open(qs.store.path()).await.unwrap();
    assert_eq!(
        reopened.verify_audit().await.unwrap().records,
        verified.records
    );
    reopened.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn aws_is_real_when_its_credentials_and_instance_are_set() {
    let dir = run_dir("aws");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vars: std::collections::BTreeMap<&str, &str> = [
        ("AWS_ACCESS_KEY_ID", "AKIDQUICKSTART"),
        ("AWS_SECRET_ACCESS_KEY", "quickstart-secret-never-printed"),
        ("AWS_REGION", "eu-west-1"),
        (
            "PROVISION_AWS_INSTANCE_ARN",
            "arn:aws:sso:::instance/ssoins-0123456789abcdef",
        ),
        ("PROVISION_AWS_IDENTITY_STORE_ID", "d-0123456789"),
        ("PROVISION_AWS_ACCOUNTS", "production=111122223333"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("HOME", "/nonexistent"),
    ]
    .into_iter()
    .collect();
    let env = |k: &str| vars.get(k).map(|v| (*v).to_owned());
    let console = Arc::new(Console::quiet());
    let qs = Quickstart::load(examples, &dir, &env, Arc::clone(&console))
        .await
        .unwrap();
    let real = qs.systems.real();
    assert_eq!(real.len(), 1, "{real:?}");
    assert_eq!(real[0].0.as_str(), "aws");
    assert!(
        real[0].1.contains("ssoins-0123456789abcdef"),
        "{}",
        real[0].1
    );
    assert!(real[0].1.contains("http://127.0.0.1:9"), "{}", real[0].1);
    assert!(qs.systems.sandbox("aws").is_none());
    assert!(qs.systems.sandbox("okta").is_some());
    let out = console.lines().join("\n");
    assert!(out.contains("systems: aws is REAL"), "{out}");
    assert!(!out.contains("quickstart-secret-never-printed"));

    // Without the instance, AWS credentials in the environment are not picked up.
    let partial = |k: &str| {
        (!k.starts_with("PROVISION_AWS_"))
            .then(|| vars.get(k).map(|v| (*v).to_owned()))
            .flatten()
    };
    let qs = Quickstart::load(examples, &dir, &partial, Arc::new(Console::quiet()))
        .await
        .unwrap();
    assert!(qs.systems.real().is_empty());

    // A wrong account mapping names the variable.
    let bad = |k: &str| {
        if k == "PROVISION_AWS_ACCOUNTS" {
            Some("production:111122223333".to_owned())
        } else {
            vars.get(k).map(|v| (*v).to_owned())
        }
    };
    let err = Quickstart::load(examples, &dir, &bad, Arc::new(Console::quiet()))
        .await
        .err()
        .expect("a bad PROVISION_AWS_ACCOUNTS is refused");
    assert!(err.to_string().contains("PROVISION_AWS_ACCOUNTS"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_real_okta_that_cannot_be_reached_is_reported_with_its_cause() {
    let dir = run_dir("okta-down");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A loopback port nothing listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let vars: std::collections::BTreeMap<&str, String> = [
        ("OKTA_ORG_URL", url),
        (
            "OKTA_API_TOKEN",
            "quickstart-token-never-printed".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let env = |k: &str| vars.get(k).cloned();
    let outcome = async {
        let mut qs = Quickstart::load(examples, &dir, &env, Arc::new(Console::quiet())).await?;
        qs.seed_company();
        qs.onboard_sarah().await
    }
    .await;
    let Err(err) = outcome else {
        panic!("an unreachable Okta stops the quickstart");
    };
    let text = provision_core::error_report::error_chain(&err);
    assert!(
        text.to_lowercase().contains("connection refused"),
        "the cause is missing: {text}"
    );
    assert!(!text.contains("quickstart-token-never-printed"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn slack_is_real_when_its_bot_token_is_set() {
    let dir = run_dir("slack");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vars: std::collections::BTreeMap<&str, &str> = [
        ("SLACK_BOT_TOKEN", "xoxb-quickstart-secret-never-printed"),
        ("SLACK_API_URL", "http://127.0.0.1:9/api/"),
    ]
    .into_iter()
    .collect();
    let env = |k: &str| vars.get(k).map(|v| (*v).to_owned());
    let console = Arc::new(Console::quiet());
    let qs = Quickstart::load(examples, &dir, &env, Arc::clone(&console))
        .await
        .unwrap();
    let real = qs.systems.real();
    assert_eq!(real.len(), 1, "{real:?}");
    assert_eq!(real[0].0.as_str(), "slack");
    assert!(qs.systems.sandbox("slack").is_none());
    let out = console.lines().join("\n");
    assert!(out.contains("systems: slack is REAL"), "{out}");
    assert!(!out.contains("quickstart-secret-never-printed"));
    let _ = std::fs::remove_dir_all(&dir);
}
