//! `provision validate`: the deployment, the policies and the roster, against every
//! system's credential-free descriptor. Needs no secret.

use provision_core::engine::{Engine, EngineError};
use provision_core::yaml::Diagnostic;
use provision_governance::load_sod_rules;
use provision_roster::RosterConfig;

use crate::commands::{Ctx, out};
use crate::context::{factories, load_config, read_roster};
use crate::exit::{CliError, CliResult, Outcome};

/// Runs `validate`: prints every problem with file:line:column, exit 3 if any.
pub fn run(ctx: &Ctx) -> CliResult {
    let paths = &ctx.paths;
    let mut problems: Vec<String> = Vec::new();
    // A file that cannot be read makes the exit 1 (an error), not 3 (invalid).
    let mut unreadable = false;
    let validated = match Engine::validate(&paths.config, &paths.policies, &factories()) {
        Ok(v) => Some(v),
        Err(e) => {
            unreadable |= crate::exit::unreadable(&e);
            problems.extend(problem_lines(&e));
            None
        }
    };
    // The policy files' separation-of-duties rules, as the governance hook reads them
    // when the engine is built.
    if let Some(v) = &validated
        && let Err(e) = load_sod_rules(&paths.policies, &v.config, &v.descriptors)
    {
        if e.diagnostics().is_empty() {
            problems.push(e.to_string());
        } else {
            problems.extend(e.diagnostics().iter().map(ToString::to_string));
        }
    }
    // The roster is checked even when the policies are wrong: every problem at once.
    let config = match &validated {
        Some(v) => Some(v.config.clone()),
        None => load_config(&paths.config).ok(),
    };
    let mut people = 0;
    if let Some(config) = &config {
        // The `roster:` section is read by the roster crate, not by the engine: each
        // of its problems is listed like the deployment's own.
        if let Err(e) = RosterConfig::from_deployment(config) {
            problems.extend(lines(e.diagnostics(), &format!("deployment: {e}")));
        } else {
            match read_roster(paths, config) {
                Ok(load) => {
                    people = load.entries.len();
                    problems.extend(load.problems.iter().map(|p| p.to_diagnostic().to_string()));
                }
                Err(e) => {
                    unreadable |= e.code() == crate::exit::ERROR;
                    problems.push(e.to_string());
                }
            }
        }
    }
    if problems.is_empty() {
        let v = validated.ok_or_else(|| CliError::Other("validation gave no result".into()))?;
        out(&format!(
            "valid: {} systems, {} policies, {} people ({}, {}, {})\n",
            v.config.systems.len(),
            v.policies.policies.len(),
            people,
            paths.config.display(),
            paths.policies.display(),
            paths.roster_path(&v.config)?.display()
        ));
        Ok(Outcome::Success)
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!(
            "{} problem{} found",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        Ok(if unreadable {
            Outcome::Error
        } else {
            Outcome::Invalid
        })
    }
}

/// One line per problem (file:line:column first), from an engine error.
fn problem_lines(e: &EngineError) -> Vec<String> {
    let diagnostics = match e {
        EngineError::Deployment(d) => d.diagnostics(),
        EngineError::Policy(p) => p.diagnostics(),
        _ => &[],
    };
    lines(diagnostics, e)
}

/// One line per diagnostic, or `error` itself when it has none.
fn lines(diagnostics: &[Diagnostic], error: &dyn std::fmt::Display) -> Vec<String> {
    if diagnostics.is_empty() {
        vec![error.to_string()]
    } else {
        diagnostics.iter().map(ToString::to_string).collect()
    }
}
