//! `provision show plan.json`: a saved plan rendered again, as `plan` printed it
//! (text, JSON or the pull-request markdown), without reading any system.

use crate::cli::ShowArgs;
use crate::commands::Ctx;
use crate::commands::plan::{outcome, print};
use crate::exit::CliResult;
use crate::plan_doc::PlanDocument;

/// Runs `show`: exit 0 for an empty plan, 2 with changes, 4 over the blast radius.
pub fn run(ctx: &Ctx, args: &ShowArgs) -> CliResult {
    let doc = PlanDocument::read(&args.plan)?;
    print(ctx, &doc, args.format, args.all)?;
    Ok(outcome(&doc))
}
