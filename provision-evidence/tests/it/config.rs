//! The deployment's `evidence:` section, read by this crate from the kernel's raw
//! extension section: defaults when it is absent, the mapping and thresholds when it
//! is written, and a mistake named with file, line and field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use provision_core::config::ConfigError;
use provision_core::engine::Engine;
use provision_core::model::SystemName;
use provision_evidence::config::DEFAULT_STALE_AFTER;
use provision_evidence::{Collector, EvidenceConfig, EvidenceError};

const SYSTEMS: &str = "\
systems:
  okta:
    adapter: sandbox
    settings: {preset: okta, org_url: https://example.okta.invalid}
";

const EVIDENCE: &str = "\
evidence:
  controls:
    okta.mfa_enrollment: [SOC2-CC6.1, SOX-ITGC-ACCESS]
  stale_after: 4h
  systems:
    okta: {stale_after: 2h}
  deprovisioning_target: 10m
";

const POLICIES: &str = "\
policies:
  - name: Engineering
    triggers:
      - department: Engineering
    provisions:
      - {system: okta, action: add_to_group, target: engineering-team}
";

fn deployment(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-evidence-config-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("provision.yaml"), text).unwrap();
    std::fs::write(dir.join("policies/eng.yaml"), POLICIES).unwrap();
    dir
}

async fn engine(dir: &std::path::Path) -> Engine {
    Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_sandbox::factory()])
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn without_a_section_the_defaults_apply() {
    let dir = deployment("absent", SYSTEMS);
    let engine = engine(&dir).await;
    let collector = Collector::new(&engine).unwrap();
    assert_eq!(collector.config(), &EvidenceConfig::default());
    assert_eq!(
        collector.config().stale_after(&SystemName::new("okta")),
        DEFAULT_STALE_AFTER
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_section_sets_the_mapping_and_the_thresholds() {
    let dir = deployment("written", &format!("{SYSTEMS}{EVIDENCE}"));
    let engine = engine(&dir).await;
    let config = EvidenceConfig::from_deployment(engine.config()).unwrap();
    let ids: Vec<&str> = config
        .mapping
        .controls_for("okta.mfa_enrollment")
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(ids, ["SOC2-CC6.1", "SOX-ITGC-ACCESS"]);
    assert_eq!(
        config.stale_after(&SystemName::new("okta")),
        Duration::from_secs(7200)
    );
    assert_eq!(
        config.stale_after(&SystemName::new("google")),
        Duration::from_secs(4 * 3600)
    );
    assert_eq!(config.deprovisioning_target, Duration::from_secs(600));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unknown_control_id_in_the_mapping_is_a_config_error_naming_file_line_and_field() {
    let text = format!("{SYSTEMS}{EVIDENCE}").replace("SOX-ITGC-ACCESS]", "SOC2-CC9.9]");
    let dir = deployment("unknown-control", &text);
    // The kernel keeps the section as it is written; the evidence crate reads it.
    let engine = engine(&dir).await;
    let err = Collector::new(&engine).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("evidence.controls.okta.mfa_enrollment[1]"),
        "{text}"
    );
    assert!(text.contains("unknown control id `SOC2-CC9.9`"), "{text}");
    // The section starts on line 5: `controls` on 6, the mapping on 7.
    assert!(text.contains("provision.yaml:7:"), "{text}");
    // As an evidence error too, for callers that only have that.
    let wrapped = EvidenceError::from(err);
    assert!(wrapped.to_string().contains("SOC2-CC9.9"), "{wrapped}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_misspelt_field_and_a_bad_duration_are_both_named() {
    let text = format!("{SYSTEMS}{EVIDENCE}")
        .replace("stale_after: 4h", "stale_afetr: 4h")
        .replace("{stale_after: 2h}", "{stale_after: soon}");
    let dir = deployment("mistakes", &text);
    let engine = engine(&dir).await;
    let err = EvidenceConfig::from_deployment(engine.config()).unwrap_err();
    let fields: Vec<&str> = err.diagnostics().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields.len(), 2, "{err}");
    let text = err.to_string();
    assert!(text.contains("stale_afetr"), "{text}");
    assert!(text.contains("evidence.systems.okta.stale_after"), "{text}");
    assert!(text.contains("`soon` is not a duration"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
