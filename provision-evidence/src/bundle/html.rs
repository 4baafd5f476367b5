//! The self-contained HTML report (no external file, script or font).

use std::fmt::Write;

use super::{Bundle, chart};
use crate::controls::control;
use crate::staleness::CoverageStatus;

/// Escapes text for HTML.
pub(crate) fn escape(s: &str) -> String {
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

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.2} %", v * 100.0))
}

fn mins(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |s| format!("{:.1} min", s / 60.0))
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f4f7}.ok{color:#1e8449;font-weight:600}.bad{color:#c0392b;font-weight:600}.warn{color:#b9770e;font-weight:600}\
.meta{color:#555;font-size:13px}code{font-size:12px;word-break:break-all}.kpis td:nth-child(2){font-weight:600}";

/// The report page.
pub(super) fn report(b: &Bundle) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Audit evidence {}</title><style>{STYLE}</style></head><body>",
        escape(&b.period.to_string())
    );
    let _ = write!(
        h,
        "<h1>Audit evidence</h1><p class=\"meta\">Period {}<br>Generated {}<br>{} evidence rows, {} audit records in the period, {} audit records verified<br>Audit chain head: {}</p>",
        escape(&b.period.to_string()),
        b.generated_at.to_rfc3339(),
        b.rows.len(),
        b.audit_records_in_period,
        b.audit_records_verified,
        b.audit_head.as_ref().map_or_else(
            || "(empty log)".to_owned(),
            |a| format!("seq {} <code>{}</code>", a.seq, escape(&a.hash))
        )
    );

    // Controls and coverage.
    h.push_str("<h2>Controls and coverage</h2><table><tr><th>Control</th><th>Requirement</th><th>Coverage</th><th>Systems (age of freshest evidence / threshold)</th><th>Rows</th></tr>");
    for c in &b.coverage.controls {
        let (class, word) = match c.status {
            CoverageStatus::Covered => ("ok", "covered"),
            CoverageStatus::Degraded => ("warn", "degraded"),
            CoverageStatus::Missing => ("bad", "missing"),
        };
        let systems: Vec<String> = c
            .systems
            .iter()
            .map(|s| {
                format!(
                    "{}{}: {:.1} h / {:.1} h",
                    escape(s.system.as_str()),
                    if s.stale { " (stale)" } else { "" },
                    s.age_seconds as f64 / 3600.0,
                    s.threshold_seconds as f64 / 3600.0
                )
            })
            .collect();
        let rows = b
            .rows
            .iter()
            .filter(|r| r.controls.contains(&c.control))
            .count();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{rows}</td></tr>",
            escape(c.control.as_str()),
            escape(control(c.control.as_str()).map_or("", |c| c.title)),
            systems.join("<br>")
        );
    }
    h.push_str("</table>");

    // KPIs.
    let k = &b.kpis;
    let target_met = |v: Option<f64>, goal: f64| match v {
        Some(v) if v >= goal => "ok",
        Some(_) => "bad",
        None => "",
    };
    h.push_str("<h2>KPIs</h2><table class=\"kpis\"><tr><th>KPI</th><th>Value</th><th>Target</th><th>From</th></tr>");
    let _ = write!(
        h,
        "<tr><td>Provisioning success rate</td><td class=\"{}\">{}</td><td>&gt; 99 %</td><td>{} operations: {} succeeded, {} failed, {} pending</td></tr>",
        target_met(k.provisioning.rate, 0.99),
        pct(k.provisioning.rate),
        k.provisioning.operations,
        k.provisioning.succeeded,
        k.provisioning.failed,
        k.provisioning.pending
    );
    let _ = write!(
        h,
        "<tr><td>Audit completeness</td><td class=\"{}\">{}</td><td>100 %</td><td>{} of {} grants traceable to a policy or an approved request</td></tr>",
        target_met(k.audit_completeness.share, 1.0),
        pct(k.audit_completeness.share),
        k.audit_completeness.traceable,
        k.audit_completeness.grants
    );
    let _ = write!(
        h,
        "<tr><td>Boundary compliance</td><td class=\"{}\">{}</td><td>100 %</td><td>{} of {} changes on resources with no external owner</td></tr>",
        target_met(k.boundary.share, 1.0),
        pct(k.boundary.share),
        k.boundary.within_boundary,
        k.boundary.changes
    );
    match &k.request_cycle {
        Some(r) => {
            let _ = write!(
                h,
                "<tr><td>Request cycle time</td><td>p50 {}, p95 {}</td><td></td><td>{} requests, slowest {}</td></tr>",
                mins(r.p50_seconds),
                mins(r.p95_seconds),
                r.requests,
                mins(r.max_seconds)
            );
        }
        None => h.push_str(
            "<tr><td>Request cycle time</td><td>n/a</td><td></td><td>no access requests in the period</td></tr>",
        ),
    }
    h.push_str("</table>");

    // Deprovisioning.
    h.push_str("<h2>Deprovisioning time</h2><table><tr><th>System</th><th>Leavers</th><th>p50</th><th>p95</th><th>Max</th><th>Over target</th><th>Incomplete</th></tr>");
    for d in &k.deprovisioning {
        let class = if d.over_target == 0 { "ok" } else { "bad" };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{} (target {} min)</td><td>{}</td></tr>",
            escape(&d.system),
            d.leavers,
            mins(d.p50_seconds),
            mins(d.p95_seconds),
            mins(d.max_seconds),
            d.over_target,
            d.target_seconds / 60,
            d.incomplete
        );
    }
    h.push_str("</table>");
    let target = k.deprovisioning.first().map_or(900, |d| d.target_seconds);
    match chart::deprovisioning_chart(&b.rows, target) {
        Some(svg) => h.push_str(&svg),
        None => h.push_str("<p class=\"meta\">No leaver in the period.</p>"),
    }

    // Exceptions.
    let _ = write!(h, "<h2>Exceptions ({})</h2>", b.exceptions.len());
    if b.exceptions.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>");
    } else {
        h.push_str("<table><tr><th>Kind</th><th>Subject</th><th>Detail</th></tr>");
        for e in &b.exceptions {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.kind),
                escape(&e.subject),
                escape(&e.detail)
            );
        }
        h.push_str("</table>");
    }

    // Evidence by kind.
    let mut by_kind: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in &b.rows {
        *by_kind.entry(r.kind.as_str()).or_default() += 1;
    }
    h.push_str("<h2>Evidence by kind</h2><table><tr><th>Kind</th><th>Rows</th></tr>");
    for (kind, n) in by_kind {
        let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", escape(kind));
    }
    h.push_str("</table><p class=\"meta\">Every row, with its fingerprint (SHA-256 of its canonical JSON), is in evidence.jsonl and evidence.csv next to this page; manifest.json holds the files' SHA-256 and the audit chain head.</p></body></html>");
    h
}
