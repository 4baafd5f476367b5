//! `provision review`: access reviews on stored campaigns, as a quarter's review is
//! run. `open` stores one campaign over a scope (systems, kinds, a department) with
//! its due date, how long a keep lasts and its no-response rule; `export` writes one
//! reviewer's undecided items from the stored campaign (HTML, a CSV to fill in,
//! JSON); `decide --from` records a filled CSV (all rows checked first: an unknown
//! item, a second decision, an item outside the reviewer's list or about their own
//! access refuses the file, naming each row); `close` applies the no-response rule;
//! `list` and `status` say where campaigns stand. Revoke decisions run at once as a
//! plan through the gate, the blast-radius guard and the executor, so each executed
//! revoke is in the audit log beside the decision.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use provision_core::engine::Engine;
use provision_core::model::Identity;
use provision_governance::review::export::ReviewerList;
use provision_governance::{
    Campaign, CampaignState, Governance, GovernanceConfig, GovernanceError, GovernanceHook,
    GovernanceStore, NewCampaign, NoResponse, ReviewScope, RevocationRun,
};
use provision_store::SqliteStore;

use crate::cli::{
    NoResponseArg, ReviewArgs, ReviewCloseArgs, ReviewCommand, ReviewDecideArgs, ReviewExportArgs,
    ReviewFormat, ReviewOpenArgs, TextOrJson,
};
use crate::commands::{Ctx, find_person, out, plural};
use crate::context::{build_engine, load_roster, open_store};
use crate::exit::{CliError, CliResult, Outcome};

/// Runs `review ...`.
pub async fn run(ctx: &Ctx, args: &ReviewArgs) -> CliResult {
    let paths = &ctx.paths;
    let engine = build_engine(paths, None).await?;
    let store = open_store(&paths.store).await?;
    let gov = governance(&engine, store)?;
    match &args.command {
        ReviewCommand::Open(a) => {
            let roster = load_roster(paths, engine.config())?;
            open(&engine, &gov, &roster, a).await
        }
        ReviewCommand::List { format } => list(&gov, *format).await,
        ReviewCommand::Status { campaign, format } => {
            let id = campaign_id(&gov, campaign).await?;
            status(&gov, &id, *format).await
        }
        ReviewCommand::Export(a) => {
            let roster = load_roster(paths, engine.config())?;
            export(&gov, &roster, a).await
        }
        ReviewCommand::Decide(a) => {
            let roster = load_roster(paths, engine.config())?;
            decide(&gov, &roster, a).await
        }
        ReviewCommand::Close(a) => {
            let roster = load_roster(paths, engine.config())?;
            close(&gov, &roster, a).await
        }
    }
}

/// Governance over the engine and the store: the policies' SoD rules, the
/// deployment's `governance:` settings, the CLI's actor.
fn governance(engine: &Engine, store: Arc<SqliteStore>) -> Result<Governance<'_>, CliError> {
    let rules = GovernanceHook::of(engine)
        .map(|hook| hook.rules().clone())
        .unwrap_or_default();
    let settings = GovernanceConfig::from_deployment(engine.config())
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    Ok(Governance::new(engine, store as Arc<dyn GovernanceStore>)
        .sod_rules(rules)
        .config(settings)
        .actor(crate::context::actor()))
}

fn rule(arg: NoResponseArg) -> NoResponse {
    match arg {
        NoResponseArg::Revoke => NoResponse::Revoke,
        NoResponseArg::Keep => NoResponse::Keep,
        NoResponseArg::Escalate => NoResponse::Escalate,
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A governance refusal as the CLI reports it: refused decisions and decisions on a
/// closed campaign exit 4, an unknown campaign 1.
fn refused(e: GovernanceError) -> CliError {
    match e {
        GovernanceError::DecisionsRefused { .. }
        | GovernanceError::CampaignClosed { .. }
        | GovernanceError::BlastRadius(_)
        | GovernanceError::IncompleteKeep { .. } => CliError::Refused(format!("refused: {e}")),
        GovernanceError::Engine(e) => CliError::Engine(*e),
        e => CliError::Other(format!("review: {e}")),
    }
}

/// The campaign `given` names: its id, or the one campaign whose id begins with it.
async fn campaign_id(gov: &Governance<'_>, given: &str) -> Result<String, CliError> {
    let campaigns = gov
        .store()
        .campaigns()
        .await
        .map_err(|e| refused(e.into()))?;
    if campaigns.iter().any(|c| c.id == given) {
        return Ok(given.to_owned());
    }
    let matching: Vec<&Campaign> = campaigns
        .iter()
        .filter(|c| c.id.starts_with(given))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(CliError::Other(format!(
            "no access review campaign `{given}` (see `provision review list`)"
        ))),
        many => Err(CliError::Other(format!(
            "`{given}` begins {} campaign ids ({}): give more of it",
            many.len(),
            many.iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The reviewer `given` names in `campaign`: one of its reviewers exactly (an owner
/// such as `it-ops`), else a person of the roster by id, login or email.
fn reviewer(campaign: &Campaign, roster: &[Identity], given: &str) -> Result<String, CliError> {
    if campaign.reviewers().contains(given) {
        return Ok(given.to_owned());
    }
    Ok(find_person(roster, given)?.id.as_str().to_owned())
}

/// Who has how many items, and what policy certified.
fn summary(campaign: &Campaign) -> String {
    let mut out = format!(
        "Campaign {} \"{}\": {} need a decision by {}; {} certified by policy; keeps last until {}; no response: {}\n",
        campaign.id,
        campaign.name,
        plural(campaign.items.len(), "item", "items"),
        day(campaign.due_at),
        plural(campaign.certified, "grant", "grants"),
        campaign.keep_until.map_or_else(|| "-".to_owned(), day),
        campaign.no_response,
    );
    for reviewer in campaign.reviewers() {
        let n = campaign.items_for(reviewer).count();
        let _ = writeln!(out, "  {reviewer:<20} {}", plural(n, "item", "items"));
    }
    out
}

async fn open(
    engine: &Engine,
    gov: &Governance<'_>,
    roster: &[Identity],
    args: &ReviewOpenArgs,
) -> CliResult {
    let mut scope = ReviewScope::all()
        .systems(args.systems.iter().cloned())
        .kinds(args.kinds.iter().cloned());
    scope.department = args.department.clone();
    let due = engine.now() + Duration::days(i64::from(args.due_days));
    let mut new = NewCampaign::new(&args.name, scope, due);
    new.keep_until = Some(due + Duration::days(i64::from(args.keep_days)));
    new.no_response = rule(args.no_response);
    let observed = engine.observe(roster).await?;
    let campaign = gov.open(&observed, roster, new).await.map_err(refused)?;
    out(&summary(&campaign));
    out(&format!(
        "Each reviewer's list: provision review export {} --reviewer <person> --format csv -o <person>.csv\n",
        campaign.id
    ));
    Ok(if campaign.items.is_empty() {
        Outcome::Success
    } else {
        Outcome::Pending
    })
}

async fn list(gov: &Governance<'_>, format: TextOrJson) -> CliResult {
    let campaigns = gov.campaigns(gov.engine().now()).await.map_err(refused)?;
    if format == TextOrJson::Json {
        let text = serde_json::to_string_pretty(&campaigns)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?;
        out(&(text + "\n"));
        return Ok(Outcome::Success);
    }
    if campaigns.is_empty() {
        out("No access review campaign yet: open one with `provision review open`\n");
    }
    for c in &campaigns {
        let where_ = match &c.closed {
            Some(closure) => format!(
                "closed {} ({} undecided: {})",
                day(closure.closed_at),
                closure.undecided.len(),
                closure.rule
            ),
            None if !c.state.overdue.is_empty() => format!("open, overdue since {}", day(c.due_at)),
            None => format!("open, due {}", day(c.due_at)),
        };
        out(&format!(
            "{}  \"{}\"  {} of {} decided ({} kept, {} revoked)  {where_}\n",
            c.id, c.name, c.state.decided, c.state.items, c.state.kept, c.state.revoked
        ));
    }
    Ok(Outcome::Success)
}

async fn status(gov: &Governance<'_>, id: &str, format: TextOrJson) -> CliResult {
    let state = gov
        .campaign_state(id, gov.engine().now())
        .await
        .map_err(refused)?;
    let closure = gov.closure(id).await.map_err(refused)?;
    let pending = if state.open && state.decided < state.items {
        Outcome::Pending
    } else {
        Outcome::Success
    };
    if format == TextOrJson::Json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "state": state,
            "closed": closure,
        }))
        .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?;
        out(&(text + "\n"));
        return Ok(pending);
    }
    out(&status_text(&state, closure.as_ref()));
    Ok(pending)
}

fn status_text(
    state: &CampaignState,
    closure: Option<&provision_governance::CampaignClosure>,
) -> String {
    let mut text = format!(
        "Campaign {}: {} of {} decided ({} kept, {} revoked); {} certified by policy; {}\n",
        state.campaign,
        state.decided,
        state.items,
        state.kept,
        state.revoked,
        plural(state.certified, "grant", "grants"),
        match closure {
            Some(c) => format!(
                "closed {} by {} (no response: {}{})",
                day(c.closed_at),
                c.closed_by,
                c.rule,
                c.escalated_to
                    .as_ref()
                    .map(|e| format!(", escalated to {e}"))
                    .unwrap_or_default()
            ),
            None => "open".to_owned(),
        }
    );
    for (reviewer, p) in &state.reviewers {
        let late = if state.overdue.contains(reviewer) {
            "  OVERDUE"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "  {reviewer:<20} {} of {} decided{late}",
            p.decided, p.items
        );
    }
    text
}

async fn export(gov: &Governance<'_>, roster: &[Identity], args: &ReviewExportArgs) -> CliResult {
    let id = campaign_id(gov, &args.campaign).await?;
    let campaign = gov.campaign(&id).await.map_err(refused)?;
    let who = reviewer(&campaign, roster, &args.reviewer)?;
    let decisions = gov
        .store()
        .decisions(&id)
        .await
        .map_err(|e| refused(e.into()))?;
    let list = ReviewerList::pending(&campaign, &who, &decisions);
    let text = match args.format {
        ReviewFormat::Html => list.to_html(),
        ReviewFormat::Csv => list
            .to_csv()
            .map_err(|e| CliError::Other(format!("cannot write CSV: {e}")))?,
        ReviewFormat::Json => list
            .to_json()
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?,
    };
    let mine = list.items.len();
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| CliError::io(path.display(), e))?;
            out(&format!(
                "Campaign {id}: {} for {who} written to {}\n",
                plural(mine, "undecided item", "undecided items"),
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

/// Prints what revocations did, and how the command ends.
fn revocations(run: &RevocationRun) -> Outcome {
    for refusal in &run.held_back {
        out(&format!("held back by the gate: {refusal}\n"));
    }
    let Some(report) = &run.report else {
        return if run.held_back.is_empty() {
            Outcome::Success
        } else {
            Outcome::Refused
        };
    };
    crate::commands::apply::print_report(report);
    if report.totals.failed > 0 {
        Outcome::PartialFailure
    } else if run.held_back.is_empty() {
        Outcome::Success
    } else {
        Outcome::Refused
    }
}

async fn decide(gov: &Governance<'_>, roster: &[Identity], args: &ReviewDecideArgs) -> CliResult {
    let id = campaign_id(gov, &args.campaign).await?;
    let campaign = gov.campaign(&id).await.map_err(refused)?;
    let who = reviewer(&campaign, roster, &args.reviewer)?;
    let text =
        std::fs::read_to_string(&args.from).map_err(|e| CliError::io(args.from.display(), e))?;
    let via = format!(
        "CSV {} imported by {}",
        args.from.display(),
        crate::context::actor()
    );
    let decisions = gov
        .import_csv(&id, &who, &text, &via)
        .await
        .map_err(refused)?;
    let kept = decisions
        .iter()
        .filter(|d| matches!(d.outcome, provision_governance::Outcome::Keep { .. }))
        .count();
    let state = gov
        .campaign_state(&id, gov.engine().now())
        .await
        .map_err(refused)?;
    let left = state.reviewers.get(&who).map_or(0, |p| p.items - p.decided);
    out(&format!(
        "Campaign {id}: {} by {who} recorded from {} ({kept} kept until {}, {} revoked); {who} has {} still undecided\n",
        plural(decisions.len(), "decision", "decisions"),
        args.from.display(),
        campaign.keep_until.map_or_else(|| "-".to_owned(), day),
        decisions.len() - kept,
        plural(left, "item", "items"),
    ));
    let run = apply_revocations(
        gov,
        &campaign,
        &decisions,
        roster,
        args.confirm_blast_radius,
    )
    .await?;
    Ok(revocations(&run))
}

/// Runs the revoke decisions among `decisions`; over the blast radius they wait for
/// `--confirm-blast-radius` (the decisions stay recorded).
async fn apply_revocations(
    gov: &Governance<'_>,
    campaign: &Campaign,
    decisions: &[provision_governance::Decision],
    roster: &[Identity],
    confirm: Option<usize>,
) -> Result<RevocationRun, CliError> {
    match confirm {
        None => gov
            .apply_revocations(campaign, decisions, roster)
            .await
            .map_err(|e| match e {
                GovernanceError::BlastRadius(b) => CliError::Refused(format!(
                    "refused: the decisions are recorded, but their revocations are over the blast radius: {b}; \
                     after review, run them when closing: `provision review close {} --confirm-blast-radius {}`",
                    campaign.id, b.identities
                )),
                e => refused(e),
            }),
        Some(expected) => {
            let engine = gov.engine();
            let plan = provision_governance::review::revocations(campaign, decisions);
            if plan.operations.is_empty() {
                return Ok(RevocationRun::default());
            }
            let guarded = engine
                .guard(plan, roster, &format!("access-review:{}", campaign.id))
                .await?;
            let held_back = guarded.refusals().to_vec();
            let approved = crate::commands::apply::approve(guarded, Some(expected))?;
            let report = engine.apply(&approved).await?;
            Ok(RevocationRun {
                plan: approved.plan().clone(),
                report: Some(report),
                held_back,
            })
        }
    }
}

async fn close(gov: &Governance<'_>, roster: &[Identity], args: &ReviewCloseArgs) -> CliResult {
    let id = campaign_id(gov, &args.campaign).await?;
    let campaign = gov.campaign(&id).await.map_err(refused)?;
    let due = gov.engine().now() + Duration::days(i64::from(args.due_days));
    let closed = gov
        .close_campaign(&id, args.no_response.map(rule), roster, due)
        .await
        .map_err(refused)?;
    let c = &closed.closure;
    out(&format!(
        "Campaign {id} closed: {} undecided, no-response rule {}\n",
        plural(c.undecided.len(), "item", "items"),
        c.rule
    ));
    if let Some(follow_up) = &closed.escalated {
        out(&format!(
            "Escalated to each reviewer's manager: campaign {} due {}\n",
            follow_up.id,
            follow_up.due_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
        out(&summary(follow_up));
    }
    // Every revoke of the campaign not yet done: the rule's, and any an earlier
    // `decide` could not run (over the blast radius, held back, failed).
    let outstanding = gov
        .unexecuted_revocations(&campaign)
        .await
        .map_err(refused)?;
    let run = apply_revocations(
        gov,
        &campaign,
        &outstanding,
        roster,
        args.confirm_blast_radius,
    )
    .await?;
    Ok(revocations(&run))
}
