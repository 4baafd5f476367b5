//! `provision plan`: reads the systems and shows what would change.

use std::path::Path;

use provision_core::engine::Engine;
use provision_core::model::Identity;
use provision_core::planner::GuardedPlan;

use crate::cli::{Format, PlanArgs};
use crate::commands::{Ctx, out};
use crate::context::{Paths, build_engine, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::phases::Phases;
use crate::plan_doc::{Inputs, PlanDocument, PlanInputs, digest};
use crate::render;

/// The digests of the inputs a plan is made from.
pub fn inputs(paths: &Paths, engine: &Engine) -> Result<Inputs, CliError> {
    Ok(Inputs {
        config: digest(&paths.config)?,
        policies: digest(&paths.policies)?,
        roster: digest(&paths.roster_path(engine.config())?)?,
    })
}

/// Plans the whole roster; returns the guarded plan and its document.
pub async fn make_plan(
    paths: &Paths,
    engine: &Engine,
    roster: &[Identity],
    event: &str,
) -> Result<(GuardedPlan, PlanDocument), CliError> {
    let guarded = engine.plan(roster, event).await?;
    let doc = document(paths, engine, roster, event, &guarded)?;
    Ok((guarded, doc))
}

/// The document of a guarded plan: its provenance (what the policies give the
/// roster) and the digests of its inputs.
pub fn document(
    paths: &Paths,
    engine: &Engine,
    roster: &[Identity],
    event: &str,
    guarded: &GuardedPlan,
) -> Result<PlanDocument, CliError> {
    let desired = engine.desired(roster);
    Ok(PlanDocument::new(
        guarded,
        PlanInputs {
            roster,
            policies: engine.policies(),
            desired: &desired,
            inputs: inputs(paths, engine)?,
            event,
        },
    ))
}

/// The exit outcome of a plan: 0 empty, 2 changes, 4 over the blast radius.
pub fn outcome(doc: &PlanDocument) -> Outcome {
    if doc.blast_radius.exceeded() {
        Outcome::Refused
    } else if doc.plan.operations.is_empty() {
        Outcome::Success
    } else {
        Outcome::Pending
    }
}

/// Prints a plan document in `format` (in text, every person when `all`).
pub fn print(ctx: &Ctx, doc: &PlanDocument, format: Format, all: bool) -> Result<(), CliError> {
    match format {
        Format::Text => out(&render::text(doc, ctx.style, all)),
        // A closed pipe (`| head`) is not an error worth reporting.
        Format::Json => match doc.write_to(std::io::stdout().lock()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(CliError::io("standard output", e));
            }
            _ => {}
        },
        Format::Markdown => out(&render::markdown(doc)),
    }
    Ok(())
}

/// Runs `plan`.
pub async fn run(ctx: &Ctx, args: &PlanArgs) -> CliResult {
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    if to_stdout && args.format != Format::Json {
        return Err(CliError::Other(
            "--out - writes the plan document to standard output, where the text or markdown \
             would go; use it with --format json, or save the document to a file"
                .to_owned(),
        ));
    }
    let mut phases = Phases::start("plan");
    let engine = build_engine(&ctx.paths, None).await?;
    phases.mark("load_deployment_and_policies");
    let roster = load_roster(&ctx.paths, engine.config())?;
    phases.mark("load_roster");
    let guarded = engine.plan(&roster, &args.event).await?;
    phases.mark("read_systems_and_plan");
    let doc = document(&ctx.paths, &engine, &roster, &args.event, &guarded)?;
    phases.mark("build_document");
    // With --format json the document is the output: written once, to the file when
    // one is named, else to standard output.
    let saved_to = args.out.as_deref().filter(|_| !to_stdout);
    if args.format != Format::Json || saved_to.is_none() {
        print(ctx, &doc, args.format, args.all)?;
        phases.mark("print");
    }
    let refused = report_refusals(&guarded);
    if let Some(path) = saved_to {
        doc.write(path)?;
        phases.mark("write_file");
        eprintln!(
            "plan saved to {}; apply it with `provision apply {}`",
            path.display(),
            path.display()
        );
    }
    phases.finish();
    Ok(if refused {
        Outcome::Refused
    } else {
        outcome(&doc)
    })
}

/// Writes the people a hook refused (their changes held back; everyone else's are in
/// the plan) to standard error; true when there is one.
pub fn report_refusals(guarded: &GuardedPlan) -> bool {
    for refusal in guarded.refusals() {
        eprintln!(
            "refused: {refusal} ({} operation(s) held back; recorded in the audit log as {}_refusal)",
            refusal.held_back.len(),
            refusal.by
        );
    }
    !guarded.refusals().is_empty()
}
