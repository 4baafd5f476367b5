//! The quickstart's access review scene, run with the steps of `provision review`
//! (open, export, decide from the filled CSV, close): over the seeded example company,
//! the Engineering manager gets exactly Marcus's SoD conflict (everything else is
//! certified by policy), revokes it, and the revoke reaches AWS through the executor
//! and the audit log; the list is written as a self-contained HTML page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use provision_core::audit::AuditLog;
use provision_core::model::OperationKind;
use provision_examples::drift_scene::MARCUS;
use provision_examples::review_scene::{REVIEWER, toxic_pair};
use provision_examples::{Console, Quickstart};
use provision_governance::{GovernanceStore, ItemKind};

#[tokio::test]
async fn the_review_scene_revokes_the_conflict_the_manager_decided() {
    let run_dir =
        std::env::temp_dir().join(format!("provision-review-scene-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let no_env = |_: &str| None;
    let mut qs = Quickstart::load(examples, &run_dir, &no_env, Arc::new(Console::quiet()))
        .await
        .unwrap();
    qs.seed_company();
    let out = qs.review_access().await.unwrap().expect("sandboxes only");

    let mine: Vec<_> = out.campaign.items_for(REVIEWER).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].kind, ItemKind::SodConflict);
    assert_eq!(mine[0].identity.as_ref().unwrap().as_str(), MARCUS);
    assert_eq!(out.campaign.items.len(), 1, "nothing else needs a decision");
    assert_eq!(out.campaign.certified + 2, out.campaign.grants_in_scope);

    let [payments_admin, approve_refunds] = toxic_pair();
    assert_eq!(out.plan.operations.len(), 1);
    assert_eq!(
        out.plan.operations[0].kind,
        OperationKind::Revoke {
            entitlement: payments_admin.clone()
        }
    );
    assert_eq!(out.report.totals.failed, 0, "{}", out.report);
    let marcus = qs
        .roster
        .iter()
        .find(|p| p.id.as_str() == MARCUS)
        .unwrap()
        .login
        .clone();
    let aws = qs.systems.sandbox("aws").unwrap().snapshot();
    assert!(
        !aws.grants
            .contains(&(marcus.clone(), payments_admin.clone()))
    );
    let salesforce = qs.systems.sandbox("salesforce").unwrap().snapshot();
    assert!(salesforce.grants.contains(&(marcus, approve_refunds)));

    // In the SQLite file: the decision, and the revoke's audit record naming the review.
    let decisions = qs.store.decisions(&out.campaign.id).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].reviewer, REVIEWER);
    // The decision came from the manager's filled CSV, as `provision review decide
    // --from` records it, and the campaign was closed after.
    assert!(
        decisions[0]
            .via
            .as_deref()
            .unwrap_or_default()
            .contains(".csv"),
        "{decisions:?}"
    );
    let csv = std::fs::read_to_string(run_dir.join(format!("review-{REVIEWER}.csv"))).unwrap();
    assert!(csv.contains(",revoke,"), "{csv}");
    let closures = qs.store.closures().await.unwrap();
    assert_eq!(closures.len(), 1);
    assert_eq!(closures[0].campaign, out.campaign.id);
    let audit = qs.store.records().await.unwrap();
    let revoke = audit
        .iter()
        .find(|r| {
            r.event.entitlement.as_ref() == Some(&payments_admin) && r.event.action == "revoke"
        })
        .expect("the revoke is audited");
    assert!(
        revoke.event.reason.detail.contains(&out.campaign.id),
        "{:?}",
        revoke.event.reason
    );
    assert!(revoke.event.reason.detail.contains(REVIEWER));

    assert!(!out.state.open && out.state.decided == 1);
    let html = std::fs::read_to_string(&out.html).unwrap();
    assert!(html.contains("Marcus Webb") && html.contains("sod conflict"));
    let _ = std::fs::remove_dir_all(&run_dir);
}
