//! Governance through the engine over the quickstart's example deployment:
//! separation of duties in the plan, exceptions, requests and approvals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::governance_support;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use governance_support::*;
use provision_core::audit::{AuditLog, AuditOutcome};
use provision_core::drift::DriftClass;
use provision_core::engine::EngineError;
use provision_core::model::SystemName;
use provision_core::model::{Entitlement, IdentityId, OperationKind, ReasonKind};
use provision_evidence::store::EvidenceStore;
use provision_governance::{
    ExceptionScope, ExceptionStatus, GovernanceError, GovernanceStore, NewException, NewRequest,
    RequestState, SodConflict, evidence_facts,
};

fn request_for(id: &str, e: Entitlement, hours: i64) -> NewRequest {
    NewRequest {
        requester: id.into(),
        beneficiary: IdentityId::new(id),
        entitlement: e,
        starts_at: None,
        ends_at: Some(Utc::now() + Duration::hours(hours)),
        justification: "quarter-end refund backlog".into(),
    }
}

#[tokio::test]
async fn a_plan_creating_an_sod_conflict_is_refused_and_recorded_until_an_exception_covers_it() {
    let w = World::new().await;
    let rules = w.rules();
    assert_eq!(rules.rules.len(), 1);
    let gov = w.gov();

    // Marcus already approves refunds in Salesforce (given by hand) and asks for the
    // payments admin permission set; the cloud lead approves the request.
    w.by_hand(MARCUS, &approve_refunds());
    let req = gov
        .request(request_for(MARCUS, payments_admin(), 8), &w.roster)
        .await
        .unwrap();
    gov.approve(&req.id, "cloud-lead").await.unwrap();

    // The gate refuses Marcus (and only Marcus): his changes are held back, the
    // refusal names him, the rule and both grants, and it is in the audit log.
    let planned = w.engine.plan(&w.roster, "nightly").await.unwrap();
    let refusals = planned.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let refusal = &refusals[0];
    assert_eq!(refusal.identity.as_str(), MARCUS);
    assert_eq!(refusal.by, "sod");
    assert!(!refusal.held_back.is_empty());
    let c: &SodConflict = refusal.reason_as().expect("an SoD conflict");
    assert_eq!(c.identity.as_str(), MARCUS);
    assert_eq!(c.rule, "Payments admin approves refunds");
    assert!(c.grants.contains(&payments_admin()) && c.grants.contains(&approve_refunds()));
    let message = EngineError::from(refusal.clone()).to_string();
    assert!(
        message.contains(MARCUS)
            && message.contains("Payments admin approves refunds")
            && message.contains("aws/permission_set/PaymentsAdmin")
            && message.contains("salesforce/permission_set/ApproveRefunds"),
        "{message}"
    );
    assert!(
        planned
            .preview()
            .operations
            .iter()
            .all(|o| o.identity.as_str() != MARCUS),
        "Marcus's operations are held back"
    );
    // Recorded in the audit log.
    let audit = w.audit.records().await.unwrap();
    assert!(audit.iter().any(|r| r.event.action == "sod_refusal"
        && r.event.identity.as_str() == MARCUS
        && matches!(&r.event.outcome, AuditOutcome::Failed { class, .. } if class == "refused")));
    let approved = planned.approve().unwrap();
    w.engine.apply(&approved).await.unwrap();
    assert!(!w.holds(MARCUS, &payments_admin()), "nothing was applied");

    // An exception for Marcus and the rule lets the plan through.
    gov.record_exception(
        NewException::new(
            MARCUS,
            ExceptionScope::SodRule {
                rule: "Payments admin approves refunds".into(),
            },
        )
        .rationale("covers the refund backlog while the second approver is on leave")
        .approver("cfo")
        .expires_at(Utc::now() + Duration::days(14)),
    )
    .await
    .unwrap();
    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let grant = plan
        .operations
        .iter()
        .find(|o| o.kind.entitlement() == Some(&payments_admin()))
        .expect("the requested grant is planned");
    assert!(matches!(grant.kind, OperationKind::Grant { .. }));
    let report = w.engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(w.holds(MARCUS, &payments_admin()));
}

#[tokio::test]
async fn a_request_approved_becomes_a_grant_whose_audit_record_names_requester_approver_and_request()
 {
    let w = World::new().await;
    let gov = w.gov();
    let req = gov
        .request(request_for(PRIYA, payments_admin(), 8), &w.roster)
        .await
        .unwrap();
    assert_eq!(req.state(Utc::now()), RequestState::Pending);

    // Refused, and nothing changes: approval by someone who is not the approver.
    let err = gov.approve(&req.id, ENG_MANAGER).await.unwrap_err();
    assert!(
        matches!(&err, GovernanceError::NotApprover { expected, .. } if expected == "cloud-lead"),
        "{err}"
    );
    assert_eq!(
        gov.requests().await.unwrap()[0].state(Utc::now()),
        RequestState::Pending
    );
    // Nothing is granted before approval.
    let plan = w.engine.plan(&w.roster, "nightly").await.unwrap();
    assert!(
        plan.preview()
            .operations
            .iter()
            .all(|o| o.kind.entitlement() != Some(&payments_admin()))
    );

    gov.approve(&req.id, "cloud-lead").await.unwrap();
    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let op = plan
        .operations
        .iter()
        .find(|o| o.kind.entitlement() == Some(&payments_admin()))
        .expect("the approved request is planned");
    assert!(
        op.reason.valid_until.is_some(),
        "time-bound: {:?}",
        op.reason
    );
    let report = w.engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(w.holds(PRIYA, &payments_admin()));

    let audit = w.audit.records().await.unwrap();
    let record = audit
        .iter()
        .find(|r| {
            r.event.entitlement.as_ref() == Some(&payments_admin()) && r.event.action == "grant"
        })
        .expect("the grant is audited");
    let why = &record.event.reason.detail;
    assert!(
        why.contains(&req.id)
            && why.contains(&format!("by {PRIYA}"))
            && why.contains("approved by cloud-lead"),
        "{why}"
    );
    assert_eq!(
        record.event.reason.policies,
        vec![format!("request {}", req.id)]
    );

    // Request-to-provisioned time is recorded.
    let stored = gov.requests().await.unwrap();
    assert_eq!(stored[0].state(Utc::now()), RequestState::Provisioned);
    let cycle = stored[0]
        .cycle_time()
        .expect("provisioned requests have a cycle time");
    assert!(
        cycle >= Duration::zero() && cycle < Duration::minutes(5),
        "{cycle}"
    );

    // Auto-approved kinds are approved on submission.
    let auto = gov
        .request(
            request_for(PRIYA, Entitlement::new("slack", "channel", "#sales"), 4),
            &w.roster,
        )
        .await
        .unwrap();
    assert_eq!(auto.approved_by(), Some("auto"));
    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .unwrap()
        .approve()
        .unwrap();
    w.engine.apply(&plan).await.unwrap();
    let times =
        provision_governance::cycle_times(&gov.requests().await.unwrap(), Duration::hours(4));
    assert_eq!(times.provisioned.len(), 2, "{times:?}");
    assert_eq!((times.auto_provisioned, times.auto_within_target), (1, 1));

    // The requests become evidence, from which the request cycle-time KPI is read; a
    // second collection of the same records stores nothing new.
    let evidence =
        provision_evidence::MemoryEvidenceStore::new(Arc::clone(&w.audit) as Arc<dyn AuditLog>);
    let collector = provision_evidence::Collector::new(&w.engine).unwrap();
    let recorded = collector
        .record(
            &evidence,
            &SystemName::new(provision_evidence::row::SDK_SYSTEM),
            "evidence-1",
            evidence_facts(w.store.as_ref()).await.unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((recorded.rows, recorded.new_rows), (2, 2), "two requests");
    let again = collector
        .record(
            &evidence,
            &SystemName::new(provision_evidence::row::SDK_SYSTEM),
            "evidence-2",
            evidence_facts(w.store.as_ref()).await.unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.new_rows, 0, "stored once");
    let period = provision_evidence::Period::new(
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    let rows = evidence.rows_in(&period).await.unwrap();
    let mut subjects: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "governance.request")
        .filter_map(|r| r.subject.clone())
        .collect();
    subjects.sort();
    let mut expected = vec![req.id.clone(), auto.id.clone()];
    expected.sort();
    assert_eq!(subjects, expected);
    let cycle = provision_evidence::kpi::request_cycle(&rows).expect("requests exist");
    assert_eq!(
        cycle.requests, 2,
        "both provisioned, so both have a cycle time"
    );
}

#[tokio::test]
async fn an_expired_exception_is_a_finding_and_its_grant_is_revoked_on_the_next_run() {
    let w = World::new().await;
    let gov = w.gov();
    let sales = Entitlement::new("slack", "channel", "#sales");
    // Refused, and nothing stored: an exception without an expiry.
    let err = gov
        .record_exception(
            NewException::new(
                PRIYA,
                ExceptionScope::Entitlement {
                    entitlement: sales.clone(),
                },
            )
            .rationale("shadowing the sales team")
            .approver(ENG_MANAGER),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::ExceptionWithoutExpiry { .. }),
        "{err}"
    );
    assert!(w.store.exceptions().await.unwrap().is_empty());

    let exception = gov
        .record_exception(
            NewException::new(
                PRIYA,
                ExceptionScope::Entitlement {
                    entitlement: sales.clone(),
                },
            )
            .rationale("shadowing the sales team")
            .approver(ENG_MANAGER)
            .expires_at(Utc::now() + Duration::seconds(3)),
        )
        .await
        .unwrap();
    // While it is active the grant is part of the desired state, with a reason saying so.
    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let grant = plan
        .operations
        .iter()
        .find(|o| o.identity.as_str() == PRIYA && o.kind.entitlement() == Some(&sales))
        .expect("granted under the exception");
    assert!(
        grant.reason.detail.contains(&exception.id),
        "{:?}",
        grant.reason
    );
    assert_eq!(grant.reason.valid_until, Some(exception.expires_at));
    w.engine.apply(&plan).await.unwrap();
    assert!(w.holds(PRIYA, &sales));

    tokio::time::sleep(StdDuration::from_millis(3200)).await;
    let lines = gov.exception_review(Utc::now()).await.unwrap();
    assert_eq!(lines[0].status, ExceptionStatus::Expired);
    let drift = w.engine.drift(&w.roster).await.unwrap();
    let finding = drift
        .of_class(DriftClass::ExpiredException)
        .find(|f| f.identity.as_ref().map(IdentityId::as_str) == Some(PRIYA))
        .expect("the expired exception is a finding");
    assert!(finding.evidence.observed.contains(&exception.id));

    let plan = w
        .engine
        .plan(&w.roster, "nightly")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let revoke = plan
        .operations
        .iter()
        .find(|o| o.identity.as_str() == PRIYA && o.kind.entitlement() == Some(&sales))
        .expect("the grant is revoked on the next run");
    assert!(matches!(revoke.kind, OperationKind::Revoke { .. }));
    assert_eq!(revoke.reason.kind, ReasonKind::Expired);
    assert!(
        revoke.reason.detail.contains(&exception.id),
        "{:?}",
        revoke.reason
    );
    w.engine.apply(&plan).await.unwrap();
    assert!(!w.holds(PRIYA, &sales));
}

#[tokio::test]
async fn drift_reports_held_sod_conflicts_as_high_severity_findings() {
    let w = World::new().await;
    w.by_hand(MARCUS, &approve_refunds());
    w.by_hand(MARCUS, &payments_admin());
    let drift = w.engine.drift(&w.roster).await.unwrap();
    let f: Vec<_> = drift.of_class(DriftClass::SodConflict).collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].identity.as_ref().map(IdentityId::as_str), Some(MARCUS));
    assert!(f[0].severity >= provision_core::drift::Severity::High);
    assert!(
        f[0].evidence
            .expected
            .contains("Payments admin approves refunds")
    );
}

#[tokio::test]
async fn simulate_shows_the_people_a_policy_change_would_put_into_conflict() {
    use provision_core::model::{Policy, PolicyGrant, Selector, Validity};
    let w = World::new().await;
    let gov = w.gov();
    assert!(
        gov.simulate(&w.roster, w.engine.policies(), None)
            .is_empty()
    );

    let mut proposed = w.engine.policies().clone();
    proposed.policies.push(Policy {
        name: "Senior engineers run payments".into(),
        selector: Selector::All(vec![
            Selector::equals("department", "Engineering"),
            Selector::equals("seniority", "Senior"),
        ]),
        grants: [payments_admin(), approve_refunds()]
            .into_iter()
            .map(|entitlement| PolicyGrant {
                entitlement,
                validity: Validity::ALWAYS,
                source: None,
            })
            .collect(),
        source: None,
    });
    let conflicts = gov.simulate(&w.roster, &proposed, None);
    let seniors: Vec<String> = w
        .roster
        .iter()
        .filter(|p| {
            p.attribute("department") == Some("Engineering")
                && p.attribute("seniority") == Some("Senior")
        })
        .map(|p| p.id.to_string())
        .collect();
    let named: Vec<String> = conflicts.iter().map(|c| c.identity.to_string()).collect();
    assert_eq!(named, seniors);
    assert!(named.contains(&MARCUS.to_owned()));
    assert!(
        conflicts
            .iter()
            .all(|c| c.rule == "Payments admin approves refunds" && c.grants.len() == 2)
    );
}

#[tokio::test]
async fn a_request_is_checked_when_opened_against_the_deployment_its_window_and_sod() {
    let w = World::new().await;
    let gov = w.gov();
    // A system or kind the deployment does not have: refused, named.
    let err = gov
        .request(
            request_for(MARCUS, Entitlement::new("sap", "role", "X"), 8),
            &w.roster,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GovernanceError::UnknownEntitlement { detail, .. } if detail.contains("sap")),
        "{err}"
    );
    let err = gov
        .request(
            request_for(MARCUS, Entitlement::new("aws", "bucket", "X"), 8),
            &w.roster,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::UnknownEntitlement { .. }),
        "{err}"
    );
    // Both sides of the 30-day default window.
    let err = gov
        .request(
            request_for(MARCUS, payments_admin(), 24 * 30 + 1),
            &w.roster,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GovernanceError::WindowTooLong {
                days: 31,
                max: 30,
                ..
            }
        ),
        "{err}"
    );
    let year_9999 = NewRequest {
        ends_at: Some("9999-12-31T00:00:00Z".parse().unwrap()),
        ..request_for(MARCUS, payments_admin(), 1)
    };
    assert!(matches!(
        gov.request(year_9999, &w.roster).await.unwrap_err(),
        GovernanceError::WindowTooLong { .. }
    ));
    // Marcus asks for refund approval, then for the payments admin set: the second
    // would give him both halves of the rule, refused when opened, naming it.
    gov.request(request_for(MARCUS, approve_refunds(), 24 * 30), &w.roster)
        .await
        .unwrap();
    let err = gov
        .request(request_for(MARCUS, payments_admin(), 8), &w.roster)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GovernanceError::RequestConflict { conflict, .. }
            if conflict.contains("Payments admin approves refunds")),
        "{err}"
    );
    // An exception that has not started yet does not cover it; one in force does.
    let rule = ExceptionScope::SodRule {
        rule: "Payments admin approves refunds".into(),
    };
    gov.record_exception(
        NewException::new(MARCUS, rule.clone())
            .rationale("next quarter's backlog")
            .approver("cfo")
            .starts_at(Utc::now() + Duration::days(1))
            .expires_at(Utc::now() + Duration::days(14)),
    )
    .await
    .unwrap();
    assert!(matches!(
        gov.request(request_for(MARCUS, payments_admin(), 8), &w.roster)
            .await
            .unwrap_err(),
        GovernanceError::RequestConflict { .. }
    ));
    gov.record_exception(
        NewException::new(MARCUS, rule)
            .rationale("the refund backlog")
            .approver("cfo")
            .expires_at(Utc::now() + Duration::days(14)),
    )
    .await
    .unwrap();
    gov.request(request_for(MARCUS, payments_admin(), 8), &w.roster)
        .await
        .unwrap();
}
