//! The quickstart uses the real GitLab adapter when `GITLAB_URL` and `GITLAB_TOKEN`
//! are set (with `GITLAB_GROUP`), and the sandbox otherwise.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use provision_core::config::load_config;
use provision_core::engine::Engine;
use provision_examples::Systems;

pub(crate) fn wire(vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = move |k: &str| vars.get(k).cloned();
    let config =
        load_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("provision.yaml")).unwrap();
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
fn gitlab_is_real_when_its_variables_are_set() {
    assert_eq!(wire(&[]).unwrap(), Vec::<String>::new());
    assert_eq!(
        wire(&[("GITLAB_URL", "https://gitlab.com")]).unwrap(),
        Vec::<String>::new()
    );
    let real = wire(&[
        ("GITLAB_URL", "https://gitlab.example.com"),
        ("GITLAB_TOKEN", "glpat-quickstart-secret"),
        ("GITLAB_GROUP", "acme"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["gitlab https://gitlab.example.com/ group acme".to_owned()]
    );
    let e = wire(&[
        ("GITLAB_URL", "https://gitlab.example.com"),
        ("GITLAB_TOKEN", "glpat-quickstart-secret"),
    ])
    .unwrap_err();
    assert!(
        e.contains("GITLAB_GROUP") && !e.contains("glpat-quickstart-secret"),
        "{e}"
    );
}
