//! `provision review`: opens an access review campaign over a scope (systems, kinds,
//! a department), stored with the journal, and writes one reviewer's list as a
//! self-contained HTML page, CSV or JSON; without `--reviewer`, a summary of who has
//! how many items. Each reviewer (the manager from the roster, else the resource's
//! owner) gets only what needs a decision; what policy explains is certified and
//! counted.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{Duration, Utc};
use provision_governance::{Campaign, GovernanceStore, ReviewScope};
use provision_governance::{Governance, GovernanceConfig, GovernanceHook, reviewer_list};

use crate::cli::{ReviewArgs, ReviewFormat};
use crate::commands::{Ctx, find_person, out};
use crate::context::{build_engine, load_roster, open_store};
use crate::exit::{CliError, CliResult, Outcome};

/// The reviewer of items with no manager and no owner.
const UNASSIGNED: &str = "unassigned";

/// The scope the options name.
fn scope(args: &ReviewArgs) -> ReviewScope {
    let mut scope = ReviewScope::all()
        .systems(args.systems.iter().cloned())
        .kinds(args.kinds.iter().cloned());
    scope.department = args.department.clone();
    scope
}

/// Who has how many items, and what policy certified.
fn summary(campaign: &Campaign) -> String {
    let mut out = format!(
        "Campaign {} \"{}\": {} item(s) need a decision by {}; {} grant(s) certified by policy\n",
        campaign.id,
        campaign.name,
        campaign.items.len(),
        campaign.due_at.format("%Y-%m-%d"),
        campaign.certified
    );
    for reviewer in campaign.reviewers() {
        let n = campaign
            .items
            .iter()
            .filter(|i| i.reviewer == reviewer)
            .count();
        let _ = writeln!(out, "  {reviewer:<20} {n} item(s)");
    }
    out
}

/// Runs `review`.
pub async fn run(ctx: &Ctx, args: &ReviewArgs) -> CliResult {
    let paths = &ctx.paths;
    let engine = build_engine(paths, None).await?;
    let roster = load_roster(paths, engine.config())?;
    // Checked before anything is stored: a person of the roster (id, login or email),
    // or `unassigned` (items with no manager and no owner; the CLI configures none).
    let reviewer = match &args.reviewer {
        Some(who) if who == UNASSIGNED => Some(UNASSIGNED.to_owned()),
        Some(who) => Some(find_person(&roster, who)?.id.as_str().to_owned()),
        None => None,
    };
    let store = open_store(&paths.store).await?;
    let rules = GovernanceHook::of(&engine)
        .map(|hook| hook.rules().clone())
        .unwrap_or_default();
    let settings = GovernanceConfig::from_deployment(engine.config())
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let gov = Governance::new(&engine, store as Arc<dyn GovernanceStore>)
        .sod_rules(rules)
        .config(settings)
        .actor(crate::context::actor());
    let due = Utc::now() + Duration::days(i64::from(args.due_days));
    let observed = engine.observe(&roster).await?;
    let campaign = gov
        .open_campaign(&observed, &roster, &args.name, &scope(args), due)
        .await
        .map_err(|e| CliError::Other(format!("review: {e}")))?;
    let Some(reviewer) = reviewer else {
        out(&summary(&campaign));
        return Ok(if campaign.items.is_empty() {
            Outcome::Success
        } else {
            Outcome::Pending
        });
    };
    let list = reviewer_list(&campaign, &reviewer);
    let text = match args.format {
        ReviewFormat::Html => list.to_html(),
        ReviewFormat::Csv => list
            .to_csv()
            .map_err(|e| CliError::Other(format!("cannot write CSV: {e}")))?,
        ReviewFormat::Json => list
            .to_json()
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?,
    };
    let mine = campaign
        .items
        .iter()
        .filter(|i| i.reviewer == reviewer)
        .count();
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| CliError::io(path.display(), e))?;
            out(&format!(
                "Campaign {}: {mine} item(s) for {reviewer} written to {}\n",
                campaign.id,
                path.display()
            ));
        }
        None => out(&text),
    }
    Ok(if mine == 0 {
        Outcome::Success
    } else {
        Outcome::Pending
    })
}
