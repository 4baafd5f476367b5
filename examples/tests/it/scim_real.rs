//! The quickstart's `expenses` system is the real SCIM adapter when
//! `PROVISION_SCIM_URL` is set (scim2-server on loopback, or any SCIM 2.0
//! application; `PROVISION_SCIM_TOKEN` its bearer token), and the sandbox otherwise.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use provision_core::adapter::{read_all_accounts, read_all_grants};
use provision_core::model::Entitlement;
use provision_examples::{Console, Quickstart};
use provision_scim::{ScimAdapter, ScimConfig};
use provision_testkit::scim_peer::{ScimPeer, TOKEN, Tenants};

use crate::wire;

#[test]
fn the_scim_system_is_real_when_its_url_is_set() {
    assert_eq!(wire(&[]).unwrap(), Vec::<String>::new());
    let real = wire(&[
        ("PROVISION_SCIM_URL", "http://127.0.0.1:8089/v2"),
        ("PROVISION_SCIM_TOKEN", "scim-quickstart-secret"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["expenses SCIM at http://127.0.0.1:8089/v2/".to_owned()]
    );
    let e = wire(&[("PROVISION_SCIM_URL", "http://127.0.0.1:8089/v2")]).unwrap_err();
    assert!(e.contains("token") && e.contains("expenses"), "{e}");
}

/// The quickstart with `expenses` on scim2-server (started by the test, a tenant of
/// its own): after the company is seeded into the sandboxes, a reconcile creates the
/// two managers in the SCIM application and puts them in its Approvers group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_runs_its_scim_system_against_scim2_server() {
    let peer = ScimPeer::start(env!("CARGO_MANIFEST_DIR"), "quickstart", Tenants::Dynamic);
    let base = peer.tenant("quickstart");
    // The application's own group (groups are the application's, not ours).
    let made = reqwest::Client::new()
        .post(format!("{base}Groups"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Approvers"}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201);

    let dir =
        std::env::temp_dir().join(format!("provision-quickstart-scim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let vars = [
        ("PROVISION_SCIM_URL", base.clone()),
        ("PROVISION_SCIM_TOKEN", TOKEN.to_owned()),
    ];
    let env = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let qs = Quickstart::load(examples, &dir, &env, Arc::new(Console::quiet()))
        .await
        .unwrap();
    assert_eq!(qs.systems.real().len(), 1, "{:?}", qs.systems.real());
    assert!(qs.systems.sandbox("expenses").is_none());
    qs.seed_company();
    // The company as seeded (Sarah, the quickstart's joiner, is not in it yet).
    let company: Vec<_> = qs
        .roster
        .iter()
        .filter(|p| p.id.as_str() != "e1001")
        .cloned()
        .collect();
    let plan = qs
        .engine
        .plan(&company, "reconcile")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .all(|o| o.system.as_str() == "expenses"),
        "the sandboxes are seeded: only the SCIM system has work: {:?}",
        plan.operations
    );
    let report = qs.engine.apply(&plan).await.unwrap();
    assert!(report.is_complete(), "{report}");

    let look = ScimAdapter::new(
        ScimConfig::builder()
            .base_url(&base)
            .bearer(TOKEN)
            .build()
            .unwrap(),
    )
    .unwrap();
    let accounts = read_all_accounts(&look).await.unwrap();
    let mut logins: Vec<&str> = accounts.iter().map(|a| a.login.as_str()).collect();
    logins.sort_unstable();
    assert_eq!(logins, ["a.bello@company.com", "dana.ortiz@company.com"]);
    let approvers = read_all_grants(
        &look,
        &Entitlement::new("expenses", "group", "Approvers").resource_ref(),
    )
    .await
    .unwrap();
    assert_eq!(approvers.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
