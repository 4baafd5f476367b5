//! Separation of duties through the ordinary `Engine::plan`: an engine built from the
//! quickstart's example deployment (whose policy files carry the SoD rule "Payments
//! admin approves refunds") refuses a plan that would create the conflict, with no
//! governance handle in sight; an attached governance store lets an active exception
//! cover it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod governance_support;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use governance_support::*;
use provision_core::audit::{AuditLog, AuditOutcome, MemoryAuditLog};
use provision_core::engine::{Engine, EngineError};
use provision_core::governance::{ExceptionScope, GovernanceStore, NewException};
use provision_core::model::OperationKind;

const RULE: &str = "Payments admin approves refunds";

/// The example policies plus one that gives senior engineers the payments admin
/// permission set in production (Marcus is one).
fn policies_with_payments_admin(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gov-plain-plan-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(examples().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("payments.yaml"),
        r#"policies:
  - name: "Payments on-call (senior engineers)"
    triggers:
      - department: "Engineering"
        seniority: "Senior"
    provisions:
      - system: "aws-sso"
        action: "assign_permission_set"
        target: "PaymentsAdmin"
        account: "production"
"#,
    )
    .unwrap();
    dir
}

/// An engine over the world's sandboxes (seeded with what the example policies give
/// everyone) whose policies also give senior engineers the payments admin set.
async fn engine_over(
    w: &World,
    policies: PathBuf,
    audit: &Arc<MemoryAuditLog>,
    store: Option<Arc<dyn GovernanceStore>>,
) -> Engine {
    let mut builder = Engine::builder()
        .deployment(examples().join("provision.yaml"))
        .policies(policies)
        .audit_log(Arc::clone(audit) as _)
        .actor("hr-sync");
    for (name, sandbox) in w.sandboxes.systems() {
        builder = builder.adapter(name, sandbox as _);
    }
    if let Some(store) = store {
        builder = builder.governance_store(store);
    }
    builder.build().await.expect("the deployment builds")
}

#[tokio::test]
async fn plain_engine_plan_refuses_a_plan_creating_an_sod_conflict_and_records_it() {
    let w = World::new().await;
    // Marcus approves refunds in Salesforce (given by hand, outside policy).
    w.by_hand(MARCUS, &approve_refunds());
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = engine_over(&w, policies_with_payments_admin("refused"), &audit, None).await;
    assert_eq!(
        engine.sod_rules().rules.len(),
        1,
        "loaded with the policies"
    );

    let err = engine.plan(&w.roster, "nightly").await.unwrap_err();
    let EngineError::SodRefused(refusal) = &err else {
        panic!("expected an SoD refusal, got {err}");
    };
    // Only Marcus holds refunds approval: Tom, a senior engineer too, is no conflict.
    assert_eq!(refusal.conflicts.len(), 1, "{err}");
    let c = &refusal.conflicts[0];
    assert_eq!(c.identity.as_str(), MARCUS);
    assert_eq!(c.rule, RULE);
    assert_eq!(c.grants, vec![payments_admin(), approve_refunds()]);
    let message = err.to_string();
    for part in [
        MARCUS,
        RULE,
        "aws/permission_set/PaymentsAdmin",
        "salesforce/permission_set/ApproveRefunds",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }

    // Recorded in the engine's audit log, under the engine's actor.
    let records = audit.records().await.unwrap();
    let refusals: Vec<_> = records
        .iter()
        .filter(|r| r.event.action == "sod_refusal")
        .collect();
    assert_eq!(refusals.len(), 1);
    let r = &refusals[0].event;
    assert_eq!(r.identity.as_str(), MARCUS);
    assert_eq!(r.actor, "hr-sync");
    assert!(r.reason.detail.contains(RULE), "{}", r.reason.detail);
    assert!(
        matches!(&r.outcome, AuditOutcome::Failed { class, .. } if class == "refused"),
        "{:?}",
        r.outcome
    );
    assert!(!w.holds(MARCUS, &payments_admin()), "nothing was applied");

    // plan_for Tom alone (a senior engineer too, who holds no refunds approval) passes.
    let tom = w.person(TOM);
    let plan = engine
        .plan_for(&w.roster, std::slice::from_ref(&tom), "hr:update:e1004")
        .await
        .expect("no conflict for Tom")
        .approve()
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .any(|o| o.identity.as_str() == TOM && o.kind.entitlement() == Some(&payments_admin()))
    );
}

#[tokio::test]
async fn an_exception_in_an_attached_governance_store_lets_the_plain_plan_through() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    // The exception is recorded through a governance handle on the same store.
    w.engine
        .governance(Arc::clone(&w.store) as _)
        .record_exception(
            NewException::new(MARCUS, ExceptionScope::SodRule { rule: RULE.into() })
                .rationale("second approver on leave until the quarter closes")
                .approver("cfo")
                .expires_at(Utc::now() + Duration::days(14)),
        )
        .await
        .unwrap();

    let audit = Arc::new(MemoryAuditLog::new());
    let engine = engine_over(
        &w,
        policies_with_payments_admin("covered"),
        &audit,
        Some(Arc::clone(&w.store) as _),
    )
    .await;
    let plan = engine
        .plan(&w.roster, "nightly")
        .await
        .expect("covered by the exception")
        .approve()
        .unwrap();
    let grant = plan
        .operations
        .iter()
        .find(|o| o.identity.as_str() == MARCUS && o.kind.entitlement() == Some(&payments_admin()))
        .expect("Marcus's payments admin grant is planned");
    assert!(matches!(grant.kind, OperationKind::Grant { .. }));
    let report = engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(w.holds(MARCUS, &payments_admin()));
    assert!(
        !audit
            .records()
            .await
            .unwrap()
            .iter()
            .any(|r| r.event.action == "sod_refusal")
    );
}

#[tokio::test]
async fn a_conflict_already_held_is_not_refused_by_the_plain_plan() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    w.by_hand(MARCUS, &payments_admin());
    // The example engine has the rule; Marcus already holds the pair (by hand), and
    // the plan (which gives him nothing new) is not refused: held conflicts are
    // drift's and reviews' business.
    assert_eq!(w.engine.sod_rules().rules.len(), 1);
    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .expect("an existing conflict is drift's business, not a refusal")
        .approve()
        .unwrap();
    // The rule's resources are read too: the hand-made payments admin set is given by
    // no policy on an authoritative kind, so the plan takes it away (and grants
    // Marcus nothing).
    let marcus: Vec<_> = plan
        .operations
        .iter()
        .filter(|o| o.identity.as_str() == MARCUS)
        .collect();
    assert_eq!(marcus.len(), 1, "{marcus:?}");
    assert!(
        matches!(&marcus[0].kind, OperationKind::Revoke { entitlement } if *entitlement == payments_admin()),
        "{marcus:?}"
    );
}
