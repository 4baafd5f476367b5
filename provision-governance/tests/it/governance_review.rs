//! Access reviews over the quickstart's example deployment: one reviewer gets exactly
//! the items that need a decision, and their decisions become the expected plan.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::governance_support;
use chrono::{Duration, Utc};
use governance_support::*;
use provision_core::model::{Entitlement, OperationKind};
use provision_governance::{
    ExceptionScope, GovernanceError, GovernanceStore, ItemKind, Outcome, ReviewScope, reviewer_list,
};

#[tokio::test]
async fn the_engineering_manager_gets_exactly_the_items_needing_a_decision_and_their_decisions_become_the_plan()
 {
    let mut w = World::new().await;
    // Behind the SDK's back: Marcus holds the toxic pair and a Sales channel; Tom has
    // left but his accounts are still active; a contractor's Okta account matches no one.
    let sales_engineering = Entitlement::new("slack", "channel", "#sales-engineering");
    w.by_hand(MARCUS, &approve_refunds());
    w.by_hand(MARCUS, &payments_admin());
    w.by_hand(MARCUS, &sales_engineering);
    w.terminate(TOM);
    w.sandboxes.system("okta").unwrap().with_account(
        "contractor@agency.example",
        provision_core::model::AccountState::Active,
    );
    // HR data is not trusted on the page: Marcus's title carries markup.
    w.roster
        .iter_mut()
        .find(|p| p.id.as_str() == MARCUS)
        .unwrap()
        .display_name = "Marcus Webb <img src=x onerror=alert(1)>".into();

    let gov = w.gov();
    let scope = ReviewScope::all().systems(["okta", "aws", "salesforce", "slack"]);
    let due = Utc::now() + Duration::days(7);
    let observed = w.engine.observe(&w.roster).await.unwrap();
    let campaign = gov
        .open_campaign(&observed, &w.roster, "Q4 2026 access review", &scope, due)
        .await
        .unwrap();

    let mine: Vec<(ItemKind, String, String, Option<String>)> = campaign
        .items_for(ENG_MANAGER)
        .map(|i| {
            (
                i.kind,
                i.identity
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                i.system.to_string(),
                i.entitlement.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    let tom_systems: Vec<String> = {
        let desired = w.engine.desired(&[active(&w, TOM)]);
        let mut s: Vec<String> = desired.identities[&w.person(TOM).id]
            .accounts
            .iter()
            .filter(|s| scope.has_system(s))
            .map(ToString::to_string)
            .collect();
        s.sort();
        s
    };
    let mut expected: Vec<(ItemKind, String, String, Option<String>)> = tom_systems
        .iter()
        .map(|s| (ItemKind::TerminatedActive, TOM.to_owned(), s.clone(), None))
        .collect();
    expected.push((
        ItemKind::SodConflict,
        MARCUS.into(),
        "aws".into(),
        Some(payments_admin().to_string()),
    ));
    expected.push((
        ItemKind::OutsidePolicy,
        MARCUS.into(),
        "slack".into(),
        Some(sales_engineering.to_string()),
    ));
    assert_eq!(
        mine, expected,
        "the engineering manager's items, in risk order"
    );
    assert!(!tom_systems.is_empty());
    // The unowned account goes to Okta's owner, not to a manager.
    let unowned: Vec<_> = campaign.items_for("it-ops").collect();
    assert_eq!(unowned.len(), 1);
    assert_eq!(unowned[0].kind, ItemKind::NoOwner);
    assert_eq!(unowned[0].login, "contractor@agency.example");
    // What policy explains is certified and only counted.
    assert!(campaign.certified > 0);
    assert_eq!(
        campaign.certified
            + campaign
                .items
                .iter()
                .filter(|i| i.entitlement.is_some())
                .count(),
        campaign.grants_in_scope
            - campaign
                .items
                .iter()
                .filter(|i| i.kind == ItemKind::SodConflict)
                .count()
            - tom_grants(&w, &scope),
        "every grant in scope is either certified or an item"
    );
    for item in campaign.items_for(ENG_MANAGER) {
        assert!(
            !item.evidence.is_empty() && !item.fix.is_empty(),
            "{item:?}"
        );
    }

    // Decisions: end Tom's Okta account, keep Marcus's conflict for a month with a
    // reason, revoke the Sales channel.
    let id = |kind: ItemKind, system: &str| {
        campaign
            .items_for(ENG_MANAGER)
            .find(|i| i.kind == kind && i.system.as_str() == system)
            .unwrap()
            .id
            .clone()
    };
    let tom_okta = id(ItemKind::TerminatedActive, "okta");
    let conflict = id(ItemKind::SodConflict, "aws");
    let channel = id(ItemKind::OutsidePolicy, "slack");
    let revoke = |why: &str| Outcome::Revoke { reason: why.into() };
    // Refusals change nothing.
    let err = gov
        .decide(&campaign.id, "i-9999", ENG_MANAGER, revoke("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::ItemNotInCampaign { .. }),
        "{err}"
    );
    let err = gov
        .decide(&campaign.id, &tom_okta, "e1005", revoke("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::NotReviewer { .. }), "{err}");
    let err = gov
        .decide(
            &campaign.id,
            &conflict,
            ENG_MANAGER,
            Outcome::Keep {
                reason: "refund backlog".into(),
                expires_at: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::IncompleteKeep { .. }),
        "{err}"
    );
    assert!(w.store.decisions(&campaign.id).await.unwrap().is_empty());

    gov.decide(
        &campaign.id,
        &tom_okta,
        ENG_MANAGER,
        revoke("left the company"),
    )
    .await
    .unwrap();
    let kept = gov
        .decide(
            &campaign.id,
            &conflict,
            ENG_MANAGER,
            Outcome::Keep {
                reason: "covers refunds until the second approver is hired".into(),
                expires_at: Some(Utc::now() + Duration::days(30)),
            },
        )
        .await
        .unwrap();
    gov.decide(&campaign.id, &channel, ENG_MANAGER, revoke("not in Sales"))
        .await
        .unwrap();
    // A second decision on a closed item is refused.
    let err = gov
        .decide(&campaign.id, &channel, ENG_MANAGER, revoke("again"))
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::ItemClosed { .. }), "{err}");

    // The keep became an exception for Marcus and the rule.
    let exceptions = w.store.exceptions().await.unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(Some(&exceptions[0].id), kept.exception.as_ref());
    assert_eq!(exceptions[0].identity.as_str(), MARCUS);
    assert_eq!(
        exceptions[0].scope,
        ExceptionScope::SodRule {
            rule: "Payments admin approves refunds".into()
        }
    );
    assert_eq!(exceptions[0].approver, ENG_MANAGER);

    let state = gov.campaign_state(&campaign.id, Utc::now()).await.unwrap();
    assert!(state.open);
    assert_eq!(state.decided, 3);
    assert_eq!(
        state.reviewers[ENG_MANAGER].items - state.reviewers[ENG_MANAGER].decided,
        tom_systems.len() - 1
    );
    assert!(state.overdue.is_empty());
    let later = gov
        .campaign_state(&campaign.id, due + Duration::hours(1))
        .await
        .unwrap();
    assert!(later.overdue.contains(&ENG_MANAGER.to_owned()));
    assert!(later.overdue.contains(&"it-ops".to_owned()));

    // The revokes become exactly this plan.
    let revocations = gov.review_plan(&campaign.id).await.unwrap();
    let plan = w
        .engine
        .guard(revocations, &w.roster, "review:q4")
        .await
        .unwrap();
    assert!(plan.refusals().is_empty());
    let mut ops: Vec<(String, String, String)> = plan
        .preview()
        .operations
        .iter()
        .map(|o| {
            (
                o.identity.to_string(),
                o.system.to_string(),
                o.kind.verb().to_owned(),
            )
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        vec![
            (MARCUS.to_owned(), "slack".to_owned(), "revoke".to_owned()),
            (
                TOM.to_owned(),
                "okta".to_owned(),
                "revoke_sessions".to_owned()
            ),
            (
                TOM.to_owned(),
                "okta".to_owned(),
                "suspend_account".to_owned()
            ),
        ]
    );
    let revoke_channel = plan
        .preview()
        .operations
        .iter()
        .find(|o| matches!(&o.kind, OperationKind::Revoke { entitlement } if entitlement == &sales_engineering))
        .unwrap();
    assert!(revoke_channel.reason.detail.contains(&campaign.id));
    assert!(revoke_channel.reason.detail.contains(ENG_MANAGER));
    let plan = plan.approve().unwrap();
    let report = w.engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    assert!(!w.holds(MARCUS, &sales_engineering));

    // Exports of the manager's list.
    let list = reviewer_list(&campaign, ENG_MANAGER);
    let csv = list.to_csv().unwrap();
    assert_eq!(csv.lines().count(), 1 + expected.len());
    assert!(csv.starts_with("id,kind,severity,person"));
    let json: serde_json::Value = serde_json::from_str(&list.to_json().unwrap()).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), expected.len());
    let html = list.to_html();
    assert!(
        html.starts_with("<!DOCTYPE html>") && !html.contains("<script") && !html.contains("http")
    );
    assert!(html.contains("Marcus Webb") && html.contains("critical"));
    assert!(
        html.contains("Marcus Webb &lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"),
        "HR data is escaped on the page"
    );
    if let Ok(path) = std::env::var("PROVISION_REVIEW_HTML") {
        std::fs::write(path, &html).unwrap();
    }
}

/// Grants in scope held by Tom (terminated: his accounts are the items, not his grants).
fn tom_grants(w: &World, scope: &ReviewScope) -> usize {
    let desired = w.engine.desired(&[active(w, TOM)]);
    desired.identities[&w.person(TOM).id]
        .grants
        .keys()
        .filter(|g| scope.has_grant(g))
        .count()
}

/// `id` as the roster had them before they left.
fn active(w: &World, id: &str) -> provision_core::model::Identity {
    let mut p = w.person(id);
    p.status = provision_core::model::EmploymentStatus::Active;
    p
}
