//! A reviewer's list as CSV, JSON and a self-contained HTML page (no script, no
//! external file: it opens from an e-mail attachment).

use chrono::SecondsFormat;
use serde::Serialize;

use super::{Campaign, ReviewItem};

/// One reviewer's items of a campaign, in risk order.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewerList<'a> {
    /// The campaign's id.
    pub campaign: &'a str,
    /// The campaign's name.
    pub name: &'a str,
    /// The reviewer.
    pub reviewer: &'a str,
    /// When decisions are due.
    pub due_at: chrono::DateTime<chrono::Utc>,
    /// Grants certified by policy across the whole campaign (not listed).
    pub certified_by_policy: usize,
    /// The items.
    pub items: Vec<&'a ReviewItem>,
}

impl<'a> ReviewerList<'a> {
    /// The list of `reviewer` in `campaign`.
    pub fn new(campaign: &'a Campaign, reviewer: &'a str) -> Self {
        Self {
            campaign: &campaign.id,
            name: &campaign.name,
            reviewer,
            due_at: campaign.due_at,
            certified_by_policy: campaign.certified,
            items: campaign.items_for(reviewer).collect(),
        }
    }

    /// The items of `reviewer` in `campaign` nobody decided yet (`decisions` are the
    /// campaign's): what a reviewer still has to do.
    pub fn pending(
        campaign: &'a Campaign,
        reviewer: &'a str,
        decisions: &[super::Decision],
    ) -> Self {
        let decided: std::collections::HashSet<&str> =
            decisions.iter().map(|d| d.item.as_str()).collect();
        let mut list = Self::new(campaign, reviewer);
        list.items.retain(|i| !decided.contains(i.id.as_str()));
        list
    }

    /// CSV with a header row: id, kind, severity, person, login, department, system,
    /// entitlement, rule, evidence (`; `-joined), fix, and two columns to fill in:
    /// decision (`keep` or `revoke`) and reason. Every cell is formula-safe
    /// ([`provision_core::untrusted::csv_cell`]); [`super::import::read_csv`] reads
    /// the filled file back.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = provision_core::untrusted::CsvWriter::new(Vec::new());
        w.write_row([
            "id",
            "kind",
            "severity",
            "person",
            "login",
            "department",
            "system",
            "entitlement",
            "rule",
            "evidence",
            "fix",
            "decision",
            "reason",
        ])?;
        for i in &self.items {
            w.write_row([
                i.id.as_str(),
                i.kind.as_str(),
                i.severity.as_str(),
                &i.person,
                &i.login,
                i.department.as_deref().unwrap_or(""),
                i.system.as_str(),
                &i.entitlement
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                i.rule.as_deref().unwrap_or(""),
                &i.evidence.join("; "),
                &i.fix,
                "",
                "",
            ])?;
        }
        let bytes = w.into_inner()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Pretty JSON of the whole list.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A self-contained HTML page: a summary and one row per item, most risky first.
    /// Rendered from a template with autoescaping: whatever HR or a vendor put in a
    /// name, a login or an evidence line is text on the page, never markup.
    pub fn to_html(&self) -> String {
        let items: Vec<HtmlItem<'_>> = self.items.iter().map(|i| HtmlItem::of(i)).collect();
        let page = HtmlPage {
            name: self.name,
            campaign: self.campaign,
            reviewer: self.reviewer,
            due: self.due_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            certified: self.certified_by_policy,
            items,
        };
        render_html(&page)
    }
}

/// What the page template reads of the list.
#[derive(Serialize)]
struct HtmlPage<'a> {
    name: &'a str,
    campaign: &'a str,
    reviewer: &'a str,
    due: String,
    certified: usize,
    items: Vec<HtmlItem<'a>>,
}

/// What the page template reads of one item.
#[derive(Serialize)]
struct HtmlItem<'a> {
    id: &'a str,
    severity: &'a str,
    kind: String,
    person: &'a str,
    login: &'a str,
    department: Option<&'a str>,
    system: &'a str,
    entitlement: Option<String>,
    rule: Option<&'a str>,
    evidence: &'a [String],
    fix: &'a str,
}

impl<'a> HtmlItem<'a> {
    fn of(i: &'a ReviewItem) -> Self {
        Self {
            id: &i.id,
            severity: i.severity.as_str(),
            kind: i.kind.as_str().replace('_', " "),
            person: &i.person,
            login: &i.login,
            department: i.department.as_deref(),
            system: i.system.as_str(),
            entitlement: i.entitlement.as_ref().map(ToString::to_string),
            rule: i.rule.as_deref(),
            evidence: &i.evidence,
            fix: &i.fix,
        }
    }
}

const TEMPLATE: &str = include_str!("templates/reviewer_list.html");

/// Renders the page. The template is part of the crate and its inputs are plain
/// strings and numbers, so rendering cannot fail; were it to, the page says so
/// rather than showing half a list.
fn render_html(page: &HtmlPage<'_>) -> String {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let rendered = env
        .add_template("reviewer_list.html", TEMPLATE)
        .and_then(|()| env.get_template("reviewer_list.html"))
        .and_then(|t| t.render(page));
    rendered.unwrap_or_else(|e| {
        format!("<!DOCTYPE html><html><body><p>the review page could not be rendered: {e}</p></body></html>\n")
    })
}
