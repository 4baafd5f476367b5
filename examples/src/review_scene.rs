//! Scene 5, access review: a quarter's review in a day, with the steps of
//! `provision review`. Someone gives Marcus both halves of a toxic combination by
//! hand (Salesforce's refund approval, AWS's payments admin); `open` stores one
//! campaign over Engineering that gives each manager only what needs a decision (what
//! policy explains is certified and counted), ranked by risk with evidence and a fix;
//! `export` writes the manager's list (HTML, the CSV to fill in, JSON); the manager
//! fills in `revoke` and `decide --from` imports the file: the revoke runs as a plan
//! through the gate, the executor and the audit log; `close` ends the campaign.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use provision_core::executor::ExecutionReport;
use provision_core::model::{AccountState, Entitlement, Plan};
use provision_governance::review::export::ReviewerList;
use provision_governance::{Campaign, CampaignState, GovernanceStore, NewCampaign, ReviewScope};
use provision_governance::{Governance, GovernanceHook};

use crate::drift_scene::MARCUS;
use crate::scenes::Quickstart;
use crate::{QuickstartError, show};

/// The Engineering manager, who reviews Engineering.
pub const REVIEWER: &str = "e1007";

/// What the review scene did.
#[derive(Debug, Clone)]
pub struct ReviewOutcome {
    /// The campaign, as opened.
    pub campaign: Campaign,
    /// The plan the revoke decisions became.
    pub plan: Plan,
    /// The executor's report of it.
    pub report: ExecutionReport,
    /// The campaign's state after the decisions.
    pub state: CampaignState,
    /// The reviewer's list as a self-contained HTML page.
    pub html: PathBuf,
}

/// The toxic pair of the example's separation-of-duties rule.
pub fn toxic_pair() -> [Entitlement; 2] {
    [
        Entitlement::new("aws", "permission_set", "PaymentsAdmin").with_scope("account:production"),
        Entitlement::new("salesforce", "permission_set", "ApproveRefunds"),
    ]
}

impl Quickstart {
    /// Scene 5: an access review over Engineering (see the module documentation).
    /// Skipped (`None`) when AWS or Salesforce is a real system, not a sandbox.
    pub async fn review_access(&mut self) -> Result<Option<ReviewOutcome>, QuickstartError> {
        self.console.say("");
        self.console
            .say("== 5. access review: only what needs a decision, ranked by risk ==");
        let marcus = self.person(MARCUS)?;
        for e in toxic_pair() {
            let Some(sandbox) = self.systems.sandbox(e.system.as_str()) else {
                self.console.say(format!(
                    "  {} is a real system here: the review scene runs on sandboxes only; skipped",
                    e.system
                ));
                return Ok(None);
            };
            if !sandbox.snapshot().accounts.contains_key(&marcus.login) {
                sandbox.with_account(&marcus.login, AccountState::Active);
            }
            sandbox.with_grant(&marcus.login, e.clone());
            self.console.say(format!(
                "  by hand in {}: {} now holds {e}",
                e.system, marcus.display_name
            ));
        }

        let rules = GovernanceHook::of(&self.engine)
            .map(|hook| hook.rules().clone())
            .unwrap_or_default();
        let store: Arc<dyn GovernanceStore> = Arc::clone(&self.store) as _;
        let gov = Governance::new(&self.engine, store)
            .sod_rules(rules)
            .actor("quickstart");

        // `provision review open`: one stored campaign for the quarter.
        self.console.say(
            "  $ provision review open --name \"Q4 2026 access review\" --department Engineering --due-days 1",
        );
        let observed = self.engine.observe(&self.roster).await?;
        let campaign = gov
            .open(
                &observed,
                &self.roster,
                NewCampaign::new(
                    "Q4 2026 access review",
                    ReviewScope::all().department("Engineering"),
                    Utc::now() + Duration::days(1),
                ),
            )
            .await?;
        self.console.say(format!(
            "  campaign {} '{}' over Engineering: {} grants in scope, {} certified by policy (not listed), {} item(s) for {} reviewer(s); keeps last until {}",
            campaign.id,
            campaign.name,
            campaign.grants_in_scope,
            campaign.certified,
            campaign.items.len(),
            campaign.reviewers().len(),
            campaign
                .keep_until
                .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d").to_string())
        ));
        for reviewer in campaign.reviewers() {
            let name = self.roster.iter().find(|p| p.id.as_str() == reviewer);
            self.console.say(format!(
                "  {reviewer}{}:",
                name.map(|p| format!(" ({})", p.display_name))
                    .unwrap_or_default()
            ));
            for item in campaign.items_for(reviewer) {
                self.console.say(format!(
                    "   {} [{}] {} — {} in {}: {}",
                    item.id,
                    item.severity,
                    item.kind.as_str().replace('_', " "),
                    item.person,
                    item.system,
                    item.entitlement
                        .as_ref()
                        .map_or_else(|| format!("account {}", item.login), ToString::to_string)
                ));
                for line in &item.evidence {
                    self.console.say(format!("       evidence: {line}"));
                }
                self.console.say(format!("       fix: {}", item.fix));
            }
        }

        // `provision review export`: the manager's list from the stored campaign.
        let write = |path: PathBuf, text: String| {
            std::fs::write(&path, text).map_err(|source| QuickstartError::RunDir {
                path: path.display().to_string(),
                source,
            })
        };
        let list = ReviewerList::pending(&campaign, REVIEWER, &[]);
        let html = self.run_dir().join(format!("review-{REVIEWER}.html"));
        let csv_path = self.run_dir().join(format!("review-{REVIEWER}.csv"));
        self.console.say(format!(
            "  $ provision review export {} --reviewer {REVIEWER} --format csv -o {}",
            campaign.id,
            csv_path.display()
        ));
        write(html.clone(), list.to_html())?;
        write(
            self.run_dir().join(format!("review-{REVIEWER}.json")),
            list.to_json().unwrap_or_default(),
        )?;
        let csv = list.to_csv().unwrap_or_default();
        // The manager opens it in a spreadsheet and fills in the last two columns,
        // `decision` and `reason`, for the conflict (every row of this list is one).
        let filled: String = csv
            .lines()
            .enumerate()
            .map(|(i, line)| match line.strip_suffix(",,") {
                Some(row) if i > 0 && line.contains(",sod_conflict,") => {
                    format!("{row},revoke,no one both runs payments and approves refunds\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        write(csv_path.clone(), filled.clone())?;

        // `provision review decide --from`: every row checked, then recorded; the
        // revoke runs at once through the gate and the executor.
        self.console.say(format!(
            "  $ provision review decide {} --reviewer {REVIEWER} --from {}",
            campaign.id,
            csv_path.display()
        ));
        let decisions = gov
            .import_csv(
                &campaign.id,
                REVIEWER,
                &filled,
                &format!("CSV {} imported by the quickstart", csv_path.display()),
            )
            .await?;
        for d in &decisions {
            self.console
                .say(format!("  {REVIEWER} decides: revoke {}", d.item));
        }
        let run = gov
            .apply_revocations(&campaign, &decisions, &self.roster)
            .await?;
        self.console.say(format!(
            "  the decisions as a plan ({} operations):",
            run.plan.operations.len()
        ));
        for line in show::plan(&run.plan) {
            self.console.say(line);
        }
        let Some(report) = run.report else {
            return Err(QuickstartError::Governance(
                provision_governance::GovernanceError::DecisionFile(
                    "the manager's revoke produced no operation".to_owned(),
                ),
            ));
        };
        for line in show::report(&report) {
            self.console.say(line);
        }

        // `provision review close`: nothing is left undecided here.
        self.console
            .say(format!("  $ provision review close {}", campaign.id));
        let closed = gov
            .close_campaign(
                &campaign.id,
                None,
                &self.roster,
                Utc::now() + Duration::days(7),
            )
            .await?;
        let state = gov.campaign_state(&campaign.id, Utc::now()).await?;
        self.console.say(format!(
            "  campaign closed: {} of {} decided, {} left to the no-response rule ({})",
            state.decided,
            state.items,
            closed.closure.undecided.len(),
            closed.closure.rule
        ));
        self.console.say(format!(
            "  {REVIEWER}'s list for a browser: {} (CSV and JSON beside it)",
            html.display()
        ));
        let plan = run.plan;
        Ok(Some(ReviewOutcome {
            campaign,
            plan,
            report,
            state,
            html,
        }))
    }
}
