//! `provision drift`: what no longer matches the policies, by severity, with
//! evidence and fix; `--fix` applies what each system's `drift_remediation` allows.

use std::sync::Arc;

use provision_core::executor::ExecutionSubscriber;

use crate::cli::{DriftArgs, Format, ProgressMode};
use crate::commands::apply::{approve, execute, mode};
use crate::commands::{Ctx, out};
use crate::context::{build_engine, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::progress::Progress;

/// Runs `drift`.
pub async fn run(ctx: &Ctx, args: &DriftArgs) -> CliResult {
    let progress = Arc::new(Progress::default());
    let engine = build_engine(
        &ctx.paths,
        Some(Arc::clone(&progress) as Arc<dyn ExecutionSubscriber>),
    )
    .await?;
    let roster = load_roster(&ctx.paths, engine.config())?;
    let report = engine.drift(&roster).await?;
    match args.format {
        Format::Json => out(&(serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
            + "\n")),
        Format::Text | Format::Markdown => {
            if report.findings.is_empty() {
                out("No drift: every system matches the policies.\n");
            } else {
                let counts: Vec<String> = report
                    .counts()
                    .iter()
                    .map(|(class, n)| format!("{n} {class}"))
                    .collect();
                let mut text = format!(
                    "{} findings ({}), most severe first:\n",
                    report.findings.len(),
                    counts.join(", ")
                );
                for finding in &report.findings {
                    text.push_str(&format!("  {finding}\n"));
                }
                out(&text);
            }
        }
    }
    if !args.fix {
        return Ok(if report.findings.is_empty() {
            Outcome::Success
        } else {
            Outcome::Pending
        });
    }
    let guarded = engine.remediation(&report, &roster, "drift-fix").await?;
    if guarded.preview().operations.is_empty() {
        out("Nothing to fix that drift_remediation allows.\n");
        return Ok(if report.findings.is_empty() {
            Outcome::Success
        } else {
            Outcome::Pending
        });
    }
    out(&format!(
        "Fixing {} operations that drift_remediation allows:\n",
        guarded.preview().operations.len()
    ));
    let plan = approve(guarded, args.confirm_blast_radius)?;
    execute(&engine, &progress, mode(ProgressMode::Auto), &plan).await
}
