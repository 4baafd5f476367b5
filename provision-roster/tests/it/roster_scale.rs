//! Large rosters load; the YAML budget is raised for rosters only, and the
//! alias-bomb guard still refuses bombs in policies, configuration and rosters.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use provision_core::config::DeploymentConfig;
use provision_core::config::parse_config;
use provision_core::policy::PolicyLoader;
use provision_roster::{RosterReader, parse_roster};

/// 20,000 people (about 400,000 YAML nodes): past serde-saphyr's default budget of
/// 250,000 nodes, which refused rosters of more than about 10,000 people.
#[test]
fn a_yaml_roster_of_20000_people_loads() {
    let mut text = String::from("people:\n");
    for i in 0..20_000 {
        write!(
            text,
            "  - id: e{i}\n    email: p{i}@x.com\n    display_name: P {i}\n    attributes:\n      department: D{}\n      title: T{}\n      location: L{}\n      manager: e{}\n",
            i % 9,
            i % 30,
            i % 5,
            i / 10
        )
        .unwrap();
    }
    let people = parse_roster("big.yaml", &text).unwrap();
    assert_eq!(people.len(), 20_000);
    assert_eq!(people[19_999].attribute("manager"), Some("e1999"));
}

#[test]
fn a_csv_roster_of_100000_people_loads() {
    let mut text = String::from("id,email,display_name,department\n");
    for i in 0..100_000 {
        writeln!(text, "e{i},p{i}@x.com,P {i},D{}", i % 9).unwrap();
    }
    let load = RosterReader::new()
        .read_str("big.csv", &text, None)
        .unwrap();
    assert!(load.is_clean());
    assert_eq!(load.entries.len(), 100_000);
    assert_eq!(load.entries[99_999].source.line, 100_001);
}

fn alias_bomb(top: &str) -> String {
    let mut text = format!("{top}\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        writeln!(
            text,
            "x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
        )
        .unwrap();
    }
    text
}

#[test]
fn an_alias_bomb_is_still_refused_in_policies_configuration_and_rosters() {
    let config =
        parse_config("bomb.yaml", &alias_bomb("systems: {okta: {adapter: okta}}")).unwrap_err();
    assert!(
        config.diagnostics()[0].message.starts_with("invalid YAML"),
        "{config}"
    );
    // The bomb is refused by the parser, before any system is looked up.
    let (config_ok, descriptors) = (DeploymentConfig::default(), BTreeMap::new());
    let policy = PolicyLoader::new(&config_ok, &descriptors)
        .load_str("bomb.yaml", &alias_bomb("policy: {name: p}"))
        .unwrap_err();
    assert!(
        policy.diagnostics()[0].message.starts_with("invalid YAML"),
        "{policy}"
    );
    let roster = parse_roster("bomb.yaml", &alias_bomb("people: []")).unwrap_err();
    assert!(
        roster.diagnostics()[0].message.starts_with("invalid YAML"),
        "{roster}"
    );
}
