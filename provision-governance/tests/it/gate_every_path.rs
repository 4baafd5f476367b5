//! One gate on every path: whatever makes a plan (`plan`, `plan_for`,
//! `plan_people`, a drift fix through `remediation`, a review's revocations or a
//! hand-built plan through `guard`, an approved request), the governance hook checks
//! it, and a separation-of-duties refusal holds back exactly the person it names:
//! everyone else's changes go ahead, and a leaver is never held back.
//!
//! The engines are built over the quickstart's example deployment (whose policy
//! files carry the rule "Payments admin approves refunds"), with policies that also
//! give senior engineers (Marcus, Tom) the payments admin permission set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::governance_support;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use governance_support::*;
use provision_core::audit::{AuditLog, AuditOutcome, MemoryAuditLog};
use provision_core::engine::{Engine, EngineError};
use provision_core::gate::Refusal;
use provision_core::model::{
    Entitlement, IdentityId, Operation, OperationId, OperationKind, Plan, Reason, ReasonKind,
};
use provision_core::planner::GuardedPlan;
use provision_governance::{
    ExceptionScope, Governance, GovernanceHook, GovernanceStore, MemoryGovernanceStore,
    NewException, SodConflict,
};

const RULE: &str = "Payments admin approves refunds";

/// The example policies plus `extra` (YAML of one more policy file).
fn policies_with(test: &str, extra: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(examples().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("extra.yaml"), extra).unwrap();
    dir
}

/// Senior engineers get the payments admin set in production.
const PAYMENTS_ON_CALL: &str = r#"policies:
  - name: "Payments on-call (senior engineers)"
    triggers:
      - department: "Engineering"
        seniority: "Senior"
    provisions:
      - system: "aws-sso"
        action: "assign_permission_set"
        target: "PaymentsAdmin"
        account: "production"
"#;

/// Senior engineers get both halves of the rule.
const BOTH_HALVES: &str = r#"policies:
  - name: "Payments on-call (senior engineers)"
    triggers:
      - department: "Engineering"
        seniority: "Senior"
    provisions:
      - system: "aws-sso"
        action: "assign_permission_set"
        target: "PaymentsAdmin"
        account: "production"
      - system: "salesforce"
        action: "assign_permission_set"
        target: "ApproveRefunds"
"#;

/// The example deployment with drift fixing what is missing in AWS and Salesforce.
fn deployment_fixing_missing() -> PathBuf {
    let text = std::fs::read_to_string(examples().join("provision.yaml")).unwrap();
    let text = text
        .replace(
            "    delete_leavers: true\n",
            "    delete_leavers: true\n    drift_remediation: fix_missing\n",
        )
        .replace(
            "    settings: {preset: salesforce}\n",
            "    settings: {preset: salesforce}\n    drift_remediation: fix_missing\n",
        );
    assert_eq!(text.matches("drift_remediation: fix_missing").count(), 2);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gate-fix-missing.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// An engine over the world's sandboxes with the governance hook over `store`.
async fn engine_over(
    w: &World,
    deployment: PathBuf,
    policies: PathBuf,
    audit: &Arc<MemoryAuditLog>,
    store: Arc<dyn GovernanceStore>,
) -> Engine {
    let mut builder = Engine::builder()
        .deployment(deployment)
        .policies(policies)
        .audit_log(Arc::clone(audit) as _)
        .actor("hr-sync")
        .hook_with(GovernanceHook::with_policy_rules(store));
    for (name, sandbox) in w.sandboxes.systems() {
        builder = builder.adapter(name, sandbox as _);
    }
    builder.build().await.expect("the deployment builds")
}

async fn payments_engine(w: &World, test: &str, audit: &Arc<MemoryAuditLog>) -> Engine {
    engine_over(
        w,
        examples().join("provision.yaml"),
        policies_with(test, PAYMENTS_ON_CALL),
        audit,
        Arc::new(MemoryGovernanceStore::new()),
    )
    .await
}

/// The one refusal of `plan`: Marcus, by the SoD rule, with both grants named.
fn assert_marcus_refused(plan: &GuardedPlan) -> &Refusal {
    let refusals = plan.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let refusal = &refusals[0];
    assert_eq!(refusal.identity.as_str(), MARCUS);
    assert_eq!(refusal.by, "sod");
    let c: &SodConflict = refusal.reason_as().expect("an SoD conflict");
    assert_eq!(c.rule, RULE);
    assert!(c.grants.contains(&payments_admin()) && c.grants.contains(&approve_refunds()));
    let message = EngineError::from(refusal.clone()).to_string();
    for part in [
        MARCUS,
        RULE,
        "aws/permission_set/PaymentsAdmin",
        "salesforce/permission_set/ApproveRefunds",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
    assert!(
        plan.preview()
            .operations
            .iter()
            .all(|o| o.identity.as_str() != MARCUS),
        "Marcus's operations are held back: {:?}",
        plan.preview().operations
    );
    let held: BTreeSet<&OperationId> = refusal.held_back.iter().collect();
    assert!(!held.is_empty(), "the refusal lists what it held back");
    refusal
}

fn grants(plan: &GuardedPlan, who: &str, e: &Entitlement) -> bool {
    plan.preview().operations.iter().any(|o| {
        o.identity.as_str() == who
            && matches!(&o.kind, OperationKind::Grant { entitlement } if entitlement == e)
    })
}

async fn refusals_in_audit(audit: &MemoryAuditLog) -> Vec<String> {
    audit
        .records()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "sod_refusal")
        .inspect(|r| {
            assert!(
                matches!(&r.event.outcome, AuditOutcome::Failed { class, .. } if class == "refused")
            );
            assert!(
                r.event.reason.detail.contains(RULE),
                "{}",
                r.event.reason.detail
            );
        })
        .map(|r| r.event.identity.to_string())
        .collect()
}

#[tokio::test]
async fn plan_and_plan_for_hold_back_only_the_person_refused() {
    let w = World::new().await;
    // Marcus approves refunds in Salesforce (given by hand, outside policy).
    w.by_hand(MARCUS, &approve_refunds());
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = payments_engine(&w, "plan", &audit).await;

    let plan = engine.plan(&w.roster, "nightly").await.unwrap();
    assert_marcus_refused(&plan);
    // Tom, a senior engineer too who holds no refunds approval, gets his grant.
    assert!(grants(&plan, TOM, &payments_admin()), "Tom goes ahead");
    assert_eq!(refusals_in_audit(&audit).await, vec![MARCUS.to_owned()]);

    let people = [w.person(MARCUS), w.person(TOM)];
    let plan = engine
        .plan_for(&w.roster, &people, "hr:update")
        .await
        .unwrap();
    assert_marcus_refused(&plan);
    assert!(grants(&plan, TOM, &payments_admin()));

    // What is approved runs: Tom gets the grant, Marcus does not.
    let report = engine.apply(&plan.approve().unwrap()).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(w.holds(TOM, &payments_admin()));
    assert!(!w.holds(MARCUS, &payments_admin()));
}

#[tokio::test]
async fn plan_people_refuses_as_plan_does() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = payments_engine(&w, "people", &audit).await;
    let plan = engine
        .plan_people(&w.roster, &[w.person(MARCUS)], "hr:update:e1002")
        .await
        .unwrap();
    assert_marcus_refused(&plan);
    assert_eq!(refusals_in_audit(&audit).await, vec![MARCUS.to_owned()]);
}

#[tokio::test]
async fn remediation_refuses_exactly_as_plan_does() {
    let w = World::new().await;
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = engine_over(
        &w,
        deployment_fixing_missing(),
        policies_with("remediation", BOTH_HALVES),
        &audit,
        Arc::new(MemoryGovernanceStore::new()),
    )
    .await;
    let who = |plan: &GuardedPlan| -> Vec<(String, String, String)> {
        plan.refusals()
            .iter()
            .map(|r| {
                let c: &SodConflict = r.reason_as().unwrap();
                (r.identity.to_string(), r.by.clone(), c.rule.clone())
            })
            .collect()
    };
    let planned = engine.plan(&w.roster, "nightly").await.unwrap();
    let expected = who(&planned);
    // Every senior engineer would hold both halves: each is refused, by the rule.
    assert!(
        expected.iter().any(|(id, _, _)| id == MARCUS),
        "{expected:?}"
    );
    assert!(expected.iter().any(|(id, _, _)| id == TOM), "{expected:?}");
    assert!(
        expected
            .iter()
            .all(|(_, by, rule)| by == "sod" && rule == RULE)
    );

    // Drift finds the missing grants, and fix_missing would give them back: the same
    // people are refused, for the same rule, and none of their fixes is in the plan.
    let drift = engine.drift(&w.roster).await.unwrap();
    let fixes = engine
        .remediation(&drift, &w.roster, "drift-fix")
        .await
        .unwrap();
    assert_eq!(who(&fixes), expected);
    for (id, _, _) in &expected {
        assert!(
            fixes
                .preview()
                .operations
                .iter()
                .all(|o| o.identity.as_str() != id.as_str()),
            "{id}'s fixes are held back"
        );
    }
    assert!(!fixes.refusals()[0].held_back.is_empty());
}

#[tokio::test]
async fn a_plan_made_elsewhere_passes_the_gate_through_guard() {
    let w = World::new().await;
    // Priya holds the payments admin set (by hand); a hand-built plan grants her the
    // refunds approval too, and one revoking a Slack channel from Tom.
    w.by_hand(PRIYA, &payments_admin());
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = payments_engine(&w, "guard", &audit).await;
    let op = |id: &str, who: &str, kind: OperationKind| Operation {
        id: OperationId(id.into()),
        identity: IdentityId::new(who),
        system: match &kind {
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                entitlement.system.clone()
            }
            _ => unreachable!(),
        },
        login: w.person(who).login,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: Vec::new(),
            event: None,
            detail: "by hand".into(),
            valid_until: None,
        },
        priority: Default::default(),
    };
    let plan = Plan {
        operations: vec![
            op(
                "grant-priya",
                PRIYA,
                OperationKind::Grant {
                    entitlement: approve_refunds(),
                },
            ),
            op(
                "revoke-tom",
                TOM,
                OperationKind::Revoke {
                    entitlement: Entitlement::new("slack", "channel", "#engineering"),
                },
            ),
        ],
        dependencies: Vec::new(),
    };
    let guarded = engine.guard(plan, &w.roster, "review:q4").await.unwrap();
    let refusals = guarded.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].identity.as_str(), PRIYA);
    assert_eq!(
        refusals[0].held_back,
        vec![OperationId("grant-priya".into())]
    );
    let left: Vec<&str> = guarded
        .preview()
        .operations
        .iter()
        .map(|o| o.id.0.as_str())
        .collect();
    assert_eq!(left, vec!["revoke-tom"], "Tom's revocation goes ahead");
    assert_eq!(refusals_in_audit(&audit).await, vec![PRIYA.to_owned()]);
}

#[tokio::test]
async fn an_approved_request_is_refused_at_grant_time_like_any_plan() {
    // The service grants an approved request by planning its beneficiary
    // (plan_people): the request's grant passes the same gate.
    let w = World::new().await;
    w.by_hand(PRIYA, &approve_refunds());
    let gov = w.gov();
    let req = gov
        .request(
            provision_governance::NewRequest {
                requester: PRIYA.into(),
                beneficiary: IdentityId::new(PRIYA),
                entitlement: payments_admin(),
                starts_at: None,
                ends_at: Some(Utc::now() + Duration::hours(8)),
                justification: "quarter-end".into(),
            },
            &w.roster,
        )
        .await
        .unwrap();
    gov.approve(&req.id, "cloud-lead").await.unwrap();
    let plan = w
        .engine
        .plan_people(
            &w.roster,
            &[w.person(PRIYA)],
            &format!("request:{}", req.id),
        )
        .await
        .unwrap();
    assert_eq!(plan.refusals().len(), 1);
    assert_eq!(plan.refusals()[0].identity.as_str(), PRIYA);
    assert!(!grants(&plan, PRIYA, &payments_admin()));
}

#[tokio::test]
async fn a_leaver_is_never_held_back_by_someone_elses_refusal() {
    let mut w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    w.terminate(PRIYA);
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = payments_engine(&w, "leaver", &audit).await;
    let plan = engine.plan(&w.roster, "nightly").await.unwrap();
    assert_marcus_refused(&plan);
    let priya: Vec<&Operation> = plan
        .preview()
        .operations
        .iter()
        .filter(|o| o.identity.as_str() == PRIYA)
        .collect();
    assert!(
        priya.iter().any(|o| matches!(
            o.kind,
            OperationKind::SuspendAccount | OperationKind::DeleteAccount
        )),
        "the leaver's revocations are in the plan: {priya:?}"
    );
    let report = engine.apply(&plan.approve().unwrap()).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
}

#[tokio::test]
async fn an_exception_in_the_hooks_store_lets_the_plan_through() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    let store: Arc<dyn GovernanceStore> = Arc::new(MemoryGovernanceStore::new());
    let audit = Arc::new(MemoryAuditLog::new());
    let engine = engine_over(
        &w,
        examples().join("provision.yaml"),
        policies_with("covered", PAYMENTS_ON_CALL),
        &audit,
        Arc::clone(&store),
    )
    .await;
    Governance::new(&engine, Arc::clone(&store))
        .sod_rules(w.rules())
        .record_exception(
            NewException::new(MARCUS, ExceptionScope::SodRule { rule: RULE.into() })
                .rationale("second approver on leave until the quarter closes")
                .approver("cfo")
                .expires_at(Utc::now() + Duration::days(14)),
        )
        .await
        .unwrap();
    let plan = engine.plan(&w.roster, "nightly").await.unwrap();
    assert!(plan.refusals().is_empty(), "{:?}", plan.refusals());
    assert!(grants(&plan, MARCUS, &payments_admin()));
    let report = engine.apply(&plan.approve().unwrap()).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(w.holds(MARCUS, &payments_admin()));
    assert!(refusals_in_audit(&audit).await.is_empty());
}

#[tokio::test]
async fn a_conflict_already_held_is_drifts_business_not_a_refusal() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    w.by_hand(MARCUS, &payments_admin());
    assert_eq!(w.rules().rules.len(), 1);
    let plan = w.engine.plan(&w.roster, "nightly").await.unwrap();
    assert!(plan.refusals().is_empty(), "{:?}", plan.refusals());
    // The rule's resources are read too: the hand-made payments admin set is given by
    // no policy on an authoritative kind, so the plan takes it away (and grants
    // Marcus nothing).
    let marcus: Vec<_> = plan
        .preview()
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
