//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evidence_scene;
mod github_real;
mod gitlab_real;
mod policy_examples;
mod presets_match_adapters;
mod quickstart;
mod readme_systems;
mod review_scene;
mod salesforce_real;
mod scim_real;

/// The real systems the quickstart wires for these variables, as `name where`.
fn wire(vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    use provision_core::config::load_config;
    use provision_core::engine::Engine;
    use provision_examples::Systems;
    use std::collections::HashMap;
    use std::path::Path;

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
