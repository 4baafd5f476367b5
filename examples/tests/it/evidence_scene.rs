//! The quickstart's last scene: the scenes' work becomes evidence and an auditor's
//! bundle, and what an auditor would check in it holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use provision_examples::scenes::{PRIYA, SARAH, TOM};
use provision_examples::{Console, Quickstart};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_ends_with_an_auditors_bundle() {
    let dir = std::env::temp_dir().join(format!(
        "provision-quickstart-test-evidence-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let no_env = |_: &str| None;
    let mut qs = Quickstart::load(examples, &dir, &no_env, Arc::new(Console::quiet()))
        .await
        .unwrap();
    qs.seed_company();
    qs.onboard_sarah().await.unwrap();
    qs.move_priya_to_sales().await.unwrap();
    qs.offboard_tom().await.unwrap();
    qs.detect_and_fix_drift().await.unwrap();
    let review = qs
        .review_access()
        .await
        .unwrap()
        .expect("on sandboxes the review scene runs");
    let out = qs.write_evidence_bundle().await.unwrap();

    // The access review's decisions are in the bundle, as evidence of their own kind.
    let decisions = out
        .bundle
        .rows
        .iter()
        .filter(|r| r.kind == "governance.review_decision")
        .count();
    assert!(
        decisions > 0,
        "the review's decisions are evidence: {:?}",
        review.campaign
    );

    // A second identical collection stores nothing new.
    assert!(out.second.recorded.rows > 0);
    assert_eq!(out.second.recorded.new_rows, 0);
    assert_eq!(out.second.recorded.rows, out.first.recorded.rows);

    let rows = &out.bundle.rows;
    let about = |kind: &str, who: &str| {
        rows.iter()
            .find(|r| r.kind == kind && r.subject.as_deref() == Some(who))
            .unwrap_or_else(|| panic!("no {kind} about {who}"))
    };
    about("lifecycle.joiner", SARAH);
    about("lifecycle.mover", PRIYA);
    about("lifecycle.leaver", TOM);
    let tom = about("leaver.timeliness", TOM);
    assert_eq!(tom.data["complete"], true);
    assert_eq!(tom.data["met"], true, "{}", tom.data);
    assert!(
        rows.iter()
            .any(|r| r.kind == "drift.run" && r.data["clean"] == true)
    );

    let k = &out.bundle.kpis;
    assert_eq!(k.provisioning.failed, 0);
    assert_eq!(k.audit_completeness.share, Some(1.0));
    assert_eq!(k.deprovisioning[0].leavers, 1);
    assert!(
        out.bundle.exceptions.is_empty(),
        "{:?}",
        out.bundle.exceptions
    );

    // The bundle carries the chain head the store verifies to.
    let verified = qs.store.verify_audit().await.unwrap();
    let head = out.bundle.audit_head.clone().unwrap();
    assert_eq!(Some(&head), verified.anchor());
    let html = std::fs::read_to_string(&out.files.html).unwrap();
    assert!(html.contains(&head.hash));
    assert!(out.files.jsonl.exists() && out.files.csv.exists() && out.files.manifest.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
