//! `provision apply`: a saved plan exactly as reviewed (refused when reality moved
//! since), or plan now and ask.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use provision_core::engine::Engine;
use provision_core::executor::{ExecutionReport, ExecutionSubscriber, OperationOutcome};
use provision_core::planner::{ApprovedPlan, GuardedPlan};

use crate::cli::{ApplyArgs, ProgressMode};
use crate::commands::plan::{inputs, make_plan};
use crate::commands::{Ctx, out};
use crate::context::{build_engine, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::plan_doc::{PlanDocument, changed_inputs, plan_drift};
use crate::progress::{Mode, Progress};
use crate::render;

/// Why a guarded plan may not be applied with `confirm` (`--confirm-blast-radius`):
/// over the blast radius and not confirmed, or confirmed for fewer people than it
/// touches (a larger surprise is still refused). `None` when it may.
pub fn refusal(guarded: &GuardedPlan, confirm: Option<usize>) -> Option<CliError> {
    let e = guarded.exceeded()?;
    match confirm {
        Some(expected) if e.identities <= expected => None,
        Some(expected) => Some(CliError::Refused(format!(
            "refused: the plan removes access from {} people, more than the {expected} confirmed \
             with --confirm-blast-radius; review it again",
            e.identities
        ))),
        None => Some(CliError::Refused(format!(
            "refused: {e}; after review, apply with --confirm-blast-radius {}",
            e.identities
        ))),
    }
}

/// The one place a guarded plan becomes a plan the engine may apply
/// ([`ApprovedPlan`]): within the blast radius, or confirmed with the number of
/// people it may remove access from (`--confirm-blast-radius N`).
pub fn approve(guarded: GuardedPlan, confirm: Option<usize>) -> Result<ApprovedPlan, CliError> {
    if let Some(refused) = refusal(&guarded, confirm) {
        return Err(refused);
    }
    match (guarded.exceeded().is_some(), confirm) {
        (true, Some(expected)) => guarded.confirm_blast_radius(expected),
        _ => guarded.approve(),
    }
    .map_err(|e| CliError::Refused(format!("refused: {e}")))
}

/// Applies an approved plan with progress, prints the report, and says how it ended.
pub async fn execute(
    engine: &Engine,
    progress: &Progress,
    mode: Mode,
    plan: &ApprovedPlan,
) -> CliResult {
    progress.start(plan.plan(), mode);
    let result = engine.apply(plan).await;
    progress.finish();
    let report = result?;
    print_report(&report);
    let t = &report.totals;
    // Skips behind a pending operation are not failures: the next apply finishes them.
    Ok(if t.failed > 0 {
        Outcome::PartialFailure
    } else {
        if t.pending > 0 {
            out(&format!(
                "{} (the systems complete them later, e.g. at first sign-in); apply again \
                 later to finish what waits on them\n",
                if t.pending == 1 {
                    "1 operation is pending".to_owned()
                } else {
                    format!("{} operations are pending", t.pending)
                }
            ));
        }
        Outcome::Success
    })
}

/// Prints an executor's report: totals, then each operation that did not succeed.
pub fn print_report(report: &ExecutionReport) {
    let t = &report.totals;
    let took = (report.finished_at - report.started_at).num_milliseconds();
    let mut text = format!(
        "applied run {}: {} in {:.1} s: {} succeeded, {} already in place, {} failed, \
         {} skipped, {} pending\n",
        report.run,
        crate::commands::plural(t.operations, "operation", "operations"),
        took as f64 / 1000.0,
        t.succeeded,
        t.already_in_place,
        t.failed,
        t.skipped,
        t.pending
    );
    for op in &report.operations {
        if !matches!(
            op.outcome,
            OperationOutcome::Succeeded | OperationOutcome::AlreadyInPlace
        ) {
            text.push_str(&format!(
                "  {} {}: {}\n",
                op.system, op.operation, op.outcome
            ));
        }
    }
    out(&text);
}

/// The progress display asked for, given where standard error goes.
pub fn mode(choice: ProgressMode) -> Mode {
    match choice {
        ProgressMode::Bars => Mode::Bars,
        ProgressMode::Lines => Mode::Lines,
        ProgressMode::None => Mode::Silent,
        ProgressMode::Auto if std::io::stderr().is_terminal() => Mode::Bars,
        ProgressMode::Auto => Mode::Lines,
    }
}

/// Asks on the terminal; only `yes` confirms. Without a terminal it refuses (pass
/// `--yes`).
pub fn confirm(operations: usize) -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Refused(
            "refused: not a terminal to ask for confirmation; pass --yes (for `apply`, or save \
             the plan with `provision plan --out plan.json` and apply that file)"
                .to_owned(),
        ));
    }
    eprint!(
        "Apply these {}? Only 'yes' is accepted: ",
        crate::commands::plural(operations, "operation", "operations")
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::io("standard input", e))?;
    Ok(answer.trim() == "yes")
}

/// Runs `apply`.
pub async fn run(ctx: &Ctx, args: &ApplyArgs) -> CliResult {
    let progress = Arc::new(Progress::new(ctx.paths.pending_wait));
    let engine = build_engine(
        &ctx.paths,
        Some(Arc::clone(&progress) as Arc<dyn ExecutionSubscriber>),
    )
    .await?;
    let roster = load_roster(&ctx.paths, engine.config())?;
    let mode = mode(args.progress);
    let guarded = match &args.plan {
        Some(path) => {
            let saved = PlanDocument::read(path)?;
            let mut stale = changed_inputs(&saved.inputs, &inputs(&ctx.paths, &engine)?);
            let mut ids = provision_core::model::ExternalIds::new();
            if stale.is_empty() {
                // Re-reading the systems also gives the account ids apply uses.
                let now = engine.plan(&roster, &saved.event).await?;
                stale = plan_drift(&saved.plan, now.preview());
                ids = now.account_ids().clone();
            }
            if !stale.is_empty() {
                let mut msg = format!(
                    "refused: the plan {} is stale, reality moved since it was made:\n",
                    path.display()
                );
                for line in &stale {
                    msg.push_str(&format!("  {line}\n"));
                }
                msg.push_str("plan again and review the new plan");
                return Err(CliError::Refused(msg));
            }
            if saved.plan.operations.is_empty() {
                out("No changes: the saved plan is empty.\n");
                return Ok(Outcome::Success);
            }
            GuardedPlan::new(
                saved.plan,
                Vec::new(),
                roster.len(),
                &engine.config().blast_radius,
            )
            .with_account_ids(ids)
        }
        None => {
            let (guarded, doc) = make_plan(&ctx.paths, &engine, &roster, &args.event).await?;
            out(&render::text(&doc, ctx.style, false));
            if doc.plan.operations.is_empty() {
                return Ok(if crate::commands::plan::report_refusals(&guarded) {
                    Outcome::Refused
                } else {
                    Outcome::Success
                });
            }
            // A refused plan never gets a prompt.
            if let Some(refused) = refusal(&guarded, args.confirm_blast_radius) {
                return Err(refused);
            }
            if !args.yes && !confirm(doc.plan.operations.len())? {
                return Err(CliError::Refused(
                    "refused: not confirmed; nothing was applied".to_owned(),
                ));
            }
            guarded
        }
    };
    let refused = crate::commands::plan::report_refusals(&guarded);
    let plan = approve(guarded, args.confirm_blast_radius)?;
    let outcome = execute(&engine, &progress, mode, &plan).await?;
    // The others' changes went ahead; the refused people's were held back.
    Ok(if refused { Outcome::Refused } else { outcome })
}
