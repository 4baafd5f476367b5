//! Scene 5, access review: a quarter's review in a day. Someone gives Marcus both
//! halves of a toxic combination by hand (Salesforce's refund approval, AWS's payments
//! admin); a campaign over Engineering gives each manager only what needs a decision
//! (what policy explains is certified and counted), ranked by risk with evidence and a
//! fix; the manager revokes the conflict, and the revoke runs as a plan through the
//! executor and the audit log. The manager's list is written as HTML, CSV and JSON.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use provision_core::executor::ExecutionReport;
use provision_core::model::{AccountState, Entitlement, Plan};
use provision_governance::{
    Campaign, CampaignState, GovernanceStore, ItemKind, Outcome, ReviewScope,
};
use provision_governance::{Governance, GovernanceHook, reviewer_list};

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
        let scope = ReviewScope::all().department("Engineering");
        let observed = self.engine.observe(&self.roster).await?;
        let campaign = gov
            .open_campaign(
                &observed,
                &self.roster,
                "Q4 2026 access review",
                &scope,
                Utc::now() + Duration::days(1),
            )
            .await?;
        self.console.say(format!(
            "  campaign '{}' over Engineering: {} grants in scope, {} certified by policy (not listed), {} item(s) for {} reviewer(s)",
            campaign.name,
            campaign.grants_in_scope,
            campaign.certified,
            campaign.items.len(),
            campaign.reviewers().len()
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

        // The manager revokes the conflict.
        let conflicts: Vec<String> = campaign
            .items_for(REVIEWER)
            .filter(|i| i.kind == ItemKind::SodConflict)
            .map(|i| i.id.clone())
            .collect();
        for item in &conflicts {
            gov.decide(
                &campaign.id,
                item,
                REVIEWER,
                Outcome::Revoke {
                    reason: "no one both runs payments and approves refunds".into(),
                },
            )
            .await?;
            self.console
                .say(format!("  {REVIEWER} decides: revoke {item}"));
        }
        let revocations = gov.review_plan(&campaign.id).await?;
        let plan = self
            .engine
            .guard(
                revocations,
                &self.roster,
                &format!("review:{}", campaign.id),
            )
            .await?
            .approve()?;
        self.console.say(format!(
            "  the decisions as a plan ({} operations):",
            plan.operations.len()
        ));
        for line in show::plan(&plan) {
            self.console.say(line);
        }
        let report = self.engine.apply(&plan).await?;
        for line in show::report(&report) {
            self.console.say(line);
        }
        let state = gov.campaign_state(&campaign.id, Utc::now()).await?;
        self.console.say(format!(
            "  campaign: {} ({} of {} decided; overdue reviewers: {})",
            if state.open { "open" } else { "complete" },
            state.decided,
            state.items,
            if state.overdue.is_empty() {
                "none".to_owned()
            } else {
                state.overdue.join(", ")
            }
        ));

        let list = reviewer_list(&campaign, REVIEWER);
        let html = self.run_dir().join(format!("review-{REVIEWER}.html"));
        let write = |path: PathBuf, text: String| {
            std::fs::write(&path, text).map_err(|source| QuickstartError::RunDir {
                path: path.display().to_string(),
                source,
            })
        };
        write(html.clone(), list.to_html())?;
        write(
            self.run_dir().join(format!("review-{REVIEWER}.csv")),
            list.to_csv().unwrap_or_default(),
        )?;
        write(
            self.run_dir().join(format!("review-{REVIEWER}.json")),
            list.to_json().unwrap_or_default(),
        )?;
        self.console.say(format!(
            "  {REVIEWER}'s list for a browser: {} (CSV and JSON beside it)",
            html.display()
        ));
        Ok(Some(ReviewOutcome {
            campaign,
            plan: plan.into_plan(),
            report,
            state,
            html,
        }))
    }
}
