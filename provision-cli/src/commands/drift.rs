//! `provision drift`: what no longer matches the policies, by severity, with
//! evidence and fix; `--fix` applies what each system's `drift_remediation` allows,
//! after asking (or with `--yes`), like `apply`.
//!
//! Exit 2 only when a finding needs action (it has a fix, or it is more severe than
//! info): a first sign-in still pending is reported but does not keep an alert on.

use std::sync::Arc;

use provision_core::executor::ExecutionSubscriber;

use crate::cli::{DriftArgs, ProgressMode, TextOrJson};
use crate::commands::apply::{approve, confirm, execute, mode, refusal};
use crate::commands::{Ctx, out, plural};
use crate::context::{build_engine, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::progress::Progress;

/// Runs `drift`.
pub async fn run(ctx: &Ctx, args: &DriftArgs) -> CliResult {
    let progress = Arc::new(Progress::new(ctx.paths.pending_wait));
    let engine = build_engine(
        &ctx.paths,
        Some(Arc::clone(&progress) as Arc<dyn ExecutionSubscriber>),
    )
    .await?;
    let roster = load_roster(&ctx.paths, engine.config())?;
    let report = engine.drift(&roster).await?;
    let actionable = report.needing_action().count();
    match args.format {
        TextOrJson::Json => out(&(serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
            + "\n")),
        TextOrJson::Text => {
            if report.findings.is_empty() {
                out("No drift: every system matches the policies.\n");
            } else {
                let counts: Vec<String> = report
                    .counts()
                    .iter()
                    .map(|(class, n)| format!("{n} {class}"))
                    .collect();
                let mut text = format!(
                    "{} ({}), most severe first; {} need{} action:\n",
                    plural(report.findings.len(), "finding", "findings"),
                    counts.join(", "),
                    actionable,
                    if actionable == 1 { "s" } else { "" }
                );
                for finding in &report.findings {
                    text.push_str(&format!("  {finding}\n"));
                }
                out(&text);
            }
        }
    }
    let found = if actionable == 0 {
        Outcome::Success
    } else {
        Outcome::Pending
    };
    if !args.fix {
        return Ok(found);
    }
    let guarded = engine.remediation(&report, &roster, "drift-fix").await?;
    let operations = guarded.preview().operations.len();
    if operations == 0 {
        out("Nothing to fix that drift_remediation allows.\n");
        return Ok(found);
    }
    let mut text = format!(
        "Fixing {} that drift_remediation allows:\n",
        plural(operations, "operation", "operations")
    );
    for op in &guarded.preview().operations {
        text.push_str(&format!("  {} {}\n", op.system, op.id));
    }
    out(&text);
    // A refused plan never gets a prompt; a fix revokes, so it asks like `apply`.
    if let Some(refused) = refusal(&guarded, args.confirm_blast_radius) {
        return Err(refused);
    }
    if !args.yes && !confirm(operations)? {
        return Err(CliError::Refused(
            "refused: not confirmed; nothing was fixed".to_owned(),
        ));
    }
    let plan = approve(guarded, args.confirm_blast_radius)?;
    execute(&engine, &progress, mode(ProgressMode::Auto), &plan).await
}
