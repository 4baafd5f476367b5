//! App assignments carry their provisioning status (issue 28 item 15): an app user
//! whose push to the target app failed (`syncState` `ERROR` / `OUT_OF_SYNC`) is not a
//! held grant. Reading it as held would tell every report that the person has the app
//! while the target app never got the account.
//!
//! Unverified against a real org: which `status` a failed push shows beside
//! `syncState: ERROR` (the fake says `PROVISIONED`), and whether Okta puts the push's
//! own error text anywhere on the app user (the spec has no field for it: the adapter
//! reports Okta's `status`, `syncState` and `lastSync`).
#![allow(clippy::unwrap_used)]

use crate::support;
use chrono::Utc;
use provision_core::adapter::{Adapter, AdapterError, read_all_account_grants, read_all_grants};
use provision_core::drift::DriftClass;
use provision_core::engine::Engine;
use provision_core::model::{AccountRef, Entitlement, Identity, OperationKind, SystemName};
use provision_okta::OktaAdapter;
use provision_siem::SiemEvent;
use provision_testkit::conformance;
use support::{FakeOkta, assert_conform, config, start};

fn crm() -> Entitlement {
    Entitlement::new("okta", "app", "crm")
}

fn failed_push(fake: &FakeOkta, uid: &str, sync: &str) {
    let mut s = fake.state.lock().unwrap();
    s.app_users
        .insert(("0oacrm".into(), uid.into()), "USER".into());
    s.app_sync.insert(
        ("0oacrm".into(), uid.into()),
        ("PROVISIONED".into(), sync.into()),
    );
}

#[tokio::test]
async fn an_app_user_whose_push_failed_is_not_a_held_grant() {
    let fake = FakeOkta::new(200);
    fake.add_app("0oacrm", "CRM");
    let sam = fake.add_user("sam@example.com", "sam@example.com", "ACTIVE");
    let kim = fake.add_user("kim@example.com", "kim@example.com", "ACTIVE");
    let lee = fake.add_user("lee@example.com", "lee@example.com", "ACTIVE");
    failed_push(&fake, &sam, "ERROR");
    failed_push(&fake, &kim, "OUT_OF_SYNC");
    fake.assign_app("0oacrm", &lee, "USER");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).app("crm", "0oacrm").build().unwrap()).unwrap();

    let holders: Vec<String> = read_all_grants(&okta, &crm().resource_ref())
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.account_external_id)
        .collect();
    assert_eq!(
        holders,
        vec![lee.clone()],
        "only the synchronized one holds it"
    );

    let system = SystemName::new("okta");
    let of = |id: &str| AccountRef {
        login: format!("{id}@example.com"),
        external_id: Some(id.to_owned()),
    };
    let sams = read_all_account_grants(&okta, &system, &of(&sam))
        .await
        .unwrap();
    assert!(
        !sams.iter().any(|g| g.entitlement.kind == "app"),
        "{sams:?}"
    );
    let lees = read_all_account_grants(&okta, &system, &of(&lee))
        .await
        .unwrap();
    assert!(lees.iter().any(|g| g.entitlement.kind == "app"), "{lees:?}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn assigning_an_app_whose_push_fails_is_a_failed_operation_with_oktas_status() {
    let fake = FakeOkta::new(200);
    fake.add_app("0oacrm", "CRM");
    fake.state
        .lock()
        .unwrap()
        .push_fails
        .insert("0oacrm".into());
    let sam = fake.add_user("sam@example.com", "sam@example.com", "ACTIVE");
    let server = start(&fake).await;
    let okta = OktaAdapter::new(config(&server).app("crm", "0oacrm").build().unwrap()).unwrap();
    let account = AccountRef {
        login: "sam@example.com".into(),
        external_id: Some(sam),
    };
    let op = conformance::operation(
        &okta,
        "sam@example.com",
        OperationKind::Grant { entitlement: crm() },
    );
    let e = okta.execute(&op, &account).await.unwrap_err();
    let AdapterError::Permanent { error } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(error.code.as_deref(), Some("syncState:ERROR"));
    assert!(
        error.message.contains("PROVISIONED") && error.message.contains("Admin Console"),
        "{error}"
    );
    assert!(!e.is_retryable());
    assert_conform(&server).await;
}

const POLICIES: &str = r#"
policies:
  - name: "CRM for Sales"
    triggers:
      - department: "Sales"
    provisions:
      - {system: okta, action: assign_app, target: "crm"}
"#;

#[tokio::test]
async fn a_failed_push_is_a_drift_finding_a_siem_record_and_a_failed_operation() {
    let fake = FakeOkta::new(200);
    fake.add_app("0oacrm", "CRM");
    let sam = fake.add_user("sam@example.com", "sam@example.com", "ACTIVE");
    failed_push(&fake, &sam, "ERROR");
    let server = start(&fake).await;
    let dir = std::env::temp_dir().join(format!("okta-app-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "00SECRET-api-token-value").unwrap();
    std::fs::write(dir.join("policies.yaml"), POLICIES).unwrap();
    std::fs::write(
        dir.join("provision.yaml"),
        format!(
            "systems:\n  okta:\n    adapter: okta\n    enforcement: additive\n    credentials:\n      api_token: {{file: {}}}\n    settings:\n      org_url: {}\n      manage_apps: \"true\"\n      app.crm: 0oacrm\n",
            dir.join("token").display(),
            server.uri()
        ),
    )
    .unwrap();
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies.yaml"))
        .factories([provision_okta::factory()])
        .build()
        .await
        .unwrap();
    let roster =
        [Identity::new("e1", "sam@example.com", "Sam Seller")
            .with_attribute("department", "Sales")];

    // Drift: the app is missing, not held.
    let drift = engine.drift(&roster).await.unwrap();
    let finding = drift
        .findings
        .iter()
        .find(|f| f.class == DriftClass::Missing && f.to_string().contains("okta/app/crm"))
        .unwrap_or_else(|| panic!("{:#?}", drift.findings));
    // The record the SIEM stream carries for it.
    let line = SiemEvent::DriftFinding {
        at: Utc::now(),
        finding: finding.clone(),
    }
    .to_json_line()
    .unwrap();
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["type"], "drift_finding");
    assert_eq!(record["finding"]["class"], "missing");
    assert_eq!(record["finding"]["system"], "okta");

    // The plan re-sends the assignment; Okta answers with the failed app user, and
    // the operation fails with Okta's status, never a pretended success.
    let plan = engine
        .plan(&roster, "reconcile")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert!(
        plan.operations
            .iter()
            .any(|o| o.kind == OperationKind::Grant { entitlement: crm() }),
        "{:?}",
        plan.operations
    );
    let report = engine.apply(&plan).await.unwrap();
    assert!(!report.is_complete(), "{report}");
    assert!(report.to_string().contains("syncState:ERROR"), "{report}");
}
