//! The quickstart's wiring uses the real GitHub adapter for a `github` system when
//! `GITHUB_ORG` and `GITHUB_TOKEN` (or the app's variables) are set, and the sandbox
//! (preset `github`) otherwise. The quickstart's own `provision.yaml` names no GitHub
//! system yet, so the test adds one as a deployment would.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use provision_core::config::{SystemConfig, load_config};
use provision_core::engine::Engine;
use provision_core::model::SystemName;
use provision_examples::Systems;

fn wire(vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = move |k: &str| vars.get(k).cloned();
    let mut config =
        load_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("provision.yaml")).unwrap();
    let mut github = SystemConfig::new("sandbox");
    github.settings.insert("preset".into(), "github".into());
    config.systems.insert(SystemName::new("github"), github);
    Systems::wire(&config, &env, Engine::builder())
        .map(|(systems, _)| {
            systems
                .real()
                .into_iter()
                .map(|(name, at)| format!("{name} {at}"))
                .collect()
        })
        .map_err(|e| e.to_string())
}

#[test]
fn github_is_real_when_its_variables_are_set() {
    assert_eq!(wire(&[]).unwrap(), Vec::<String>::new());
    assert_eq!(
        wire(&[("GITHUB_TOKEN", "github_pat_x")]).unwrap(),
        Vec::<String>::new(),
        "no organization: the sandbox"
    );
    let real = wire(&[
        ("GITHUB_ORG", "acme"),
        ("GITHUB_TOKEN", "github_pat_quickstart_secret"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["github https://api.github.com/ organization acme".to_owned()]
    );
    let e = wire(&[("GITHUB_ORG", "acme"), ("GITHUB_APP_ID", "12")]).unwrap_err();
    assert!(
        e.contains("GITHUB_APP_INSTALLATION_ID") && !e.contains("github_pat"),
        "{e}"
    );
}
