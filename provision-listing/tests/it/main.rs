//! The listing adapter: the shared conformance suite (read-only), a leaver still in
//! the export as a critical drift finding through the engine, the export's age as
//! evidence, one parse per version of the file, and the configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use provision_core::adapter::{Adapter, AdapterError, EvidenceSource};
use provision_core::clock::FixedClock;
use provision_core::drift::{DriftClass, Severity};
use provision_core::engine::Engine;
use provision_core::model::{AccountRef, EmploymentStatus, Entitlement, Identity, OperationKind};
use provision_listing::{ListingAdapter, ListingConfig};
use provision_testkit::conformance::{self, Suite};

const EXPORT: &str = "email,roles,status,last_login\n\
ada@example.com,approver;viewer,Active,2026-11-30\n\
bob@example.com,viewer,Disabled,\n\
\"carol@example.com\",\"approver; exporter\",active,2026-12-01T08:00:00Z\n";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn listing(path: &Path) -> ListingAdapter {
    let mut config = ListingConfig::new("payroll-export", path);
    config.columns.status = Some("status".into());
    config.columns.last_login = Some("last_login".into());
    ListingAdapter::new(config)
}

fn role(name: &str) -> Entitlement {
    Entitlement::new("listing", "role", name)
}

#[tokio::test]
async fn the_conformance_suite_passes_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = listing(&write(dir.path(), "users.csv", EXPORT));
    let report = Suite::new(&adapter, vec![role("approver"), role("viewer")])
        .existing_account(AccountRef {
            login: "ada@example.com".into(),
            external_id: Some("ada@example.com".into()),
        })
        .read_only()
        .run()
        .await;
    for scenario in [
        "accounts_paginate_to_the_end",
        "list_resources",
        "reads_what_is_held",
    ] {
        assert!(report.passed.contains(&scenario), "{scenario}: {report:?}");
    }
    assert!(
        report
            .skipped
            .iter()
            .any(|(s, _)| *s == "grant_then_revoke"),
        "{report:?}"
    );
    // And a write is refused, saying why.
    let op = conformance::operation(
        &adapter,
        "ada@example.com",
        OperationKind::Grant {
            entitlement: role("exporter"),
        },
    );
    let err = adapter
        .execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unsupported { what } if what.contains("read-only")),
        "{err}"
    );
}

#[tokio::test]
async fn json_exports_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "users.json",
        r#"[{"email":"ada@example.com","roles":["approver","viewer"],"status":"active"}]"#,
    );
    let adapter = listing(&path);
    let grants = provision_core::adapter::read_all_grants(&adapter, &role("viewer").resource_ref())
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].login.as_deref(), Some("ada@example.com"));
}

const POLICIES: &str = r#"
policies:
  - name: "Finance payroll"
    triggers:
      - department: "Finance"
    provisions:
      - {system: payroll-export, action: grant_role, target: "approver"}
      - {system: payroll-export, action: grant_role, target: "viewer"}
"#;

#[tokio::test]
async fn a_leaver_still_in_the_listing_is_a_critical_finding() {
    let dir = tempfile::tempdir().unwrap();
    let export = write(dir.path(), "users.csv", EXPORT);
    write(dir.path(), "policies.yaml", POLICIES);
    let yaml = format!(
        "systems:\n  payroll-export:\n    adapter: listing\n    enforcement: report\n    settings:\n      path: {}\n      status_column: status\n      last_login_column: last_login\n",
        export.display()
    );
    write(dir.path(), "provision.yaml", &yaml);
    let engine = Engine::builder()
        .deployment(dir.path().join("provision.yaml"))
        .policies(dir.path().join("policies.yaml"))
        .factories([provision_listing::factory()])
        .build()
        .await
        .unwrap();
    let mut ada = Identity::new("e1", "ada@example.com", "Ada Lovelace")
        .with_attribute("department", "Finance");
    ada.status = EmploymentStatus::Terminated {
        effective: Utc::now() - chrono::Duration::days(3),
    };
    let carol =
        Identity::new("e3", "carol@example.com", "Carol").with_attribute("department", "Finance");
    let report = engine.drift(&[ada, carol]).await.unwrap();
    for f in &report.findings {
        println!("{f}");
    }
    let critical: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical && f.login == "ada@example.com")
        .collect();
    assert!(
        critical.iter().any(|f| f.class == DriftClass::Orphaned),
        "the leaver's listed account is critical: {:#?}",
        report.findings
    );
    // Carol is missing `viewer` and holds `exporter` by hand: both seen.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.login == "carol@example.com" && f.class == DriftClass::Missing)
    );
    // The export's age is offered as evidence.
    let adapter = engine.adapter("payroll-export").unwrap();
    let listing = adapter.evidence_source().unwrap();
    assert_eq!(listing.evidence_kinds(), ["listing.freshness"]);
    // A plan changes nothing in a listing (enforcement: report).
    let plan = engine
        .plan(
            &[Identity::new("e1", "ada@example.com", "Ada")
                .with_attribute("department", "Finance")],
            "hire",
        )
        .await
        .unwrap();
    assert!(
        plan.preview().operations.is_empty(),
        "{:?}",
        plan.preview().operations
    );
}

#[tokio::test]
async fn the_file_is_parsed_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "users.csv", EXPORT);
    let adapter = listing(&path);
    let system = provision_core::model::SystemName::new("payroll-export");
    provision_core::adapter::read_all_accounts(&adapter)
        .await
        .unwrap();
    for r in ["approver", "viewer", "exporter"] {
        provision_core::adapter::read_all_grants(&adapter, &role(r).resource_ref())
            .await
            .unwrap();
    }
    for login in ["ada@example.com", "bob@example.com", "carol@example.com"] {
        provision_core::adapter::read_all_account_grants(
            &adapter,
            &system,
            &AccountRef::by_login(login),
        )
        .await
        .unwrap();
    }
    assert_eq!(adapter.parses(), 1, "one parse for seven reads");
    // A new export is read again.
    std::fs::write(&path, EXPORT.replace("viewer,Disabled", "viewer,Active")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let accounts = provision_core::adapter::read_all_accounts(&adapter)
        .await
        .unwrap();
    assert_eq!(adapter.parses(), 2);
    assert!(accounts.iter().all(|a| a.state.is_enabled()));
}

#[tokio::test]
async fn an_export_older_than_its_cadence_is_stale_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "users.csv", EXPORT);
    let exported = SystemTime::now() - Duration::from_secs(3 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(exported)
        .unwrap();
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let adapter = listing(&path).with_clock(clock.clone());
    let fresh = adapter.collect_evidence().await.unwrap();
    assert_eq!(fresh[0].kind, "listing.freshness");
    assert_eq!(fresh[0].data["stale"], false, "{}", fresh[0].data);
    assert_eq!(fresh[0].data["users"], 3);
    clock.set(Utc::now() + chrono::Duration::days(5));
    let stale = adapter.collect_evidence().await.unwrap();
    assert_eq!(stale[0].data["stale"], true, "{}", stale[0].data);
    assert!(stale[0].data["age_hours"].as_i64().unwrap() >= 8 * 24 - 1);
}

#[tokio::test]
async fn configuration_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let export = write(dir.path(), "users.csv", EXPORT);
    let build = |extra: &str, enforcement: &str| {
        let yaml = format!(
            "systems:\n  payroll-export:\n    adapter: listing\n    enforcement: {enforcement}\n    settings:\n      path: {}\n{extra}",
            export.display()
        );
        let config = provision_core::config::parse_config("provision.yaml", &yaml).unwrap();
        let name = provision_core::model::SystemName::new("payroll-export");
        let system = config.systems.get(&name).unwrap().clone();
        ListingConfig::from_spec(provision_core::adapter::SystemSpec {
            name: &name,
            config: &system,
        })
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert!(build("", "authoritative").contains("enforcement"));
    assert!(build("      cadence_days: weekly\n", "report").contains("cadence_days"));
    assert!(build("      separator: ';;'\n", "report").contains("separator"));
    // A column the export lacks: the read says which setting names it.
    let mut config = ListingConfig::new("payroll-export", &export);
    config.columns.login = "mail".into();
    let err = provision_core::adapter::read_all_accounts(&ListingAdapter::new(config))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("login_column") && err.contains("mail"),
        "{err}"
    );
    // A missing file is a configuration error naming the path setting.
    let err = provision_core::adapter::read_all_accounts(&listing(&dir.path().join("gone.csv")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("settings.path"), "{err}");
}
