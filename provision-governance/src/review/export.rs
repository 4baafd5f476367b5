//! A reviewer's list as CSV, JSON and a self-contained HTML page (no script, no
//! external file: it opens from an e-mail attachment).

use std::fmt::Write as _;

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

    /// CSV with a header row: id, kind, severity, person, login, department, system,
    /// entitlement, rule, evidence (`; `-joined), fix, decision (empty: to fill in).
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
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
        ])?;
        for i in &self.items {
            w.write_record([
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
            ])?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Pretty JSON of the whole list.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A self-contained HTML page: a summary and one row per item, most risky first.
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        let title = format!("{} — items for {}", self.name, self.reviewer);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{CSS}</style></head><body>\n",
            esc(&title)
        );
        let _ = write!(
            h,
            "<h1>{}</h1>\n<p class=\"summary\">Campaign <code>{}</code> · reviewer <b>{}</b> · \
             due {} · <b>{}</b> item(s) need your decision · {} grant(s) certified by policy \
             are not listed.</p>\n",
            esc(self.name),
            esc(self.campaign),
            esc(self.reviewer),
            esc(&self.due_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            self.items.len(),
            self.certified_by_policy
        );
        if self.items.is_empty() {
            h.push_str("<p>Nothing needs your decision.</p>\n");
        } else {
            h.push_str(
                "<table><colgroup><col style=\"width:4.2rem\"><col style=\"width:7.5rem\">\
                 <col style=\"width:12%\"><col style=\"width:5.5rem\"><col style=\"width:14%\">\
                 <col><col style=\"width:14%\"><col style=\"width:8.5rem\"></colgroup>\
                 <thead><tr><th>#</th><th>Risk</th><th>Person</th><th>System</th>\
                 <th>Access</th><th>Evidence</th><th>Fix</th><th>Decision</th></tr></thead><tbody>\n",
            );
            for i in &self.items {
                let what = match (&i.entitlement, &i.rule) {
                    (Some(e), Some(r)) => {
                        format!("{}<br><small>rule: {}</small>", esc(&e.to_string()), esc(r))
                    }
                    (Some(e), None) => esc(&e.to_string()),
                    (None, _) => format!("account <code>{}</code>", esc(&i.login)),
                };
                let evidence: Vec<String> = i
                    .evidence
                    .iter()
                    .map(|e| format!("<li>{}</li>", esc(e)))
                    .collect();
                let _ = write!(
                    h,
                    "<tr class=\"{sev}\"><td>{id}</td><td><span class=\"badge {sev}\">{sev}</span><br>\
                     <small>{kind}</small></td><td>{person}<br><small>{login}{dept}</small></td>\
                     <td>{system}</td><td>{what}</td><td><ul>{evidence}</ul></td><td>{fix}</td>\
                     <td class=\"decide\">☐ keep until ____<br>☐ revoke</td></tr>",
                    sev = i.severity.as_str(),
                    id = esc(&i.id),
                    kind = esc(&i.kind.as_str().replace('_', " ")),
                    person = esc(&i.person),
                    login = esc(&i.login),
                    dept = i
                        .department
                        .as_deref()
                        .map(|d| format!(" · {}", esc(d)))
                        .unwrap_or_default(),
                    system = esc(i.system.as_str()),
                    evidence = evidence.join(""),
                    fix = esc(&i.fix),
                );
                h.push('\n');
            }
            h.push_str("</tbody></table>\n");
        }
        h.push_str("</body></html>\n");
        h
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330}\
h1{font-size:1.4rem;margin:0 0 .4rem}.summary{color:#4a5263}\
table{border-collapse:collapse;width:100%;font-size:.88rem;table-layout:fixed}\
th,td{border-bottom:1px solid #dde1e8;padding:.45rem .5rem;text-align:left;vertical-align:top;\
overflow-wrap:anywhere}td:first-child{white-space:nowrap;overflow-wrap:normal}\
th{background:#f3f5f9}ul{margin:0;padding-left:1.1rem}small{color:#5d6576}\
code{font-size:.85em}.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;\
font-size:.75rem;font-weight:600;text-transform:uppercase;color:#fff;background:#7b8494}\
.badge.critical{background:#b3261e}.badge.high{background:#d9631e}.badge.medium{background:#b8860b}\
.badge.low{background:#4f7cac}tr.critical td:first-child{border-left:4px solid #b3261e}\
.decide{white-space:nowrap;color:#4a5263}";

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
