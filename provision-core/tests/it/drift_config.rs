//! The `drift_remediation` setting in the deployment file.

#![allow(clippy::unwrap_used)]

use provision_core::config::DriftRemediation;
use provision_core::config::parse_config;
use provision_core::model::SystemName;

const FILE: &str = "provision.yaml";

#[test]
fn drift_remediation_loads_per_system_and_defaults_to_report_only() {
    let text = "systems:\n  okta:\n    adapter: okta\n    drift_remediation: fix_all\n  slack:\n    adapter: slack\n    drift_remediation: fix_missing\n  jira:\n    adapter: jira\n";
    let config = parse_config(FILE, text).unwrap();
    let mode = |n: &str| config.systems[&SystemName::new(n)].drift_remediation;
    assert_eq!(mode("okta"), DriftRemediation::FixAll);
    assert_eq!(mode("slack"), DriftRemediation::FixMissing);
    assert_eq!(mode("jira"), DriftRemediation::ReportOnly);
}

#[test]
fn an_unknown_drift_remediation_is_named_with_file_line_and_field() {
    let text = "systems:\n  okta:\n    adapter: okta\n    drift_remediation: fix_everything\n";
    let err = parse_config(FILE, text).unwrap_err();
    let messages: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        messages,
        vec![
            "provision.yaml:4:24: systems.okta.drift_remediation: unknown drift remediation `fix_everything`; expected `report_only`, `fix_missing` or `fix_all`"
                .to_owned()
        ]
    );
}

#[test]
fn drift_remediation_round_trips_through_serde() {
    let json = serde_json::to_string(&DriftRemediation::FixMissing).unwrap();
    assert_eq!(json, "\"fix_missing\"");
    let back: DriftRemediation = serde_json::from_str("\"fix_all\"").unwrap();
    assert_eq!(back, DriftRemediation::FixAll);
}
