//! The self-contained HTML report (no external file, script or font), rendered from
//! `templates/report.html` (and `templates/chart.svg`, included) with minijinja.
//!
//! Both templates are autoescaped as HTML: every value that comes from the store
//! (subjects, kinds, systems, a system's error text) is escaped by the template
//! engine, never by hand. The numbers are formatted here, as the page shows them
//! (`99.50 %`, `4.2 min`), so the templates hold only markup.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::chart::{self, ChartView};
use super::{Bundle, ExceptionItem, RenderError};
use crate::controls::control;
use crate::staleness::CoverageStatus;

const REPORT: &str = include_str!("templates/report.html");
const CHART: &str = include_str!("templates/chart.svg");

/// The report's templates: `.html` and `.svg` are autoescaped as HTML.
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") || name.ends_with(".svg") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("report.html", REPORT)?;
    env.add_template("chart.svg", CHART)?;
    Ok(env)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.2} %", v * 100.0))
}

fn mins(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |s| format!("{:.1} min", s / 60.0))
}

/// `ok` when the value meets the goal, `bad` when it does not, nothing without a value.
fn target_met(v: Option<f64>, goal: f64) -> &'static str {
    match v {
        Some(v) if v >= goal => "ok",
        Some(_) => "bad",
        None => "",
    }
}

#[derive(Serialize)]
struct Report<'a> {
    period: String,
    generated: String,
    rows: usize,
    audit_in_period: u64,
    audit_verified: u64,
    head: Option<Head<'a>>,
    controls: Vec<ControlRow<'a>>,
    provisioning: Provisioning,
    completeness: Share,
    boundary: Share,
    request_cycle: Option<RequestCycle>,
    deprovisioning: Vec<Deprovisioning<'a>>,
    chart: Option<ChartView<'a>>,
    exception_count: usize,
    exceptions: &'a [ExceptionItem],
    by_kind: Vec<KindCount<'a>>,
}

#[derive(Serialize)]
struct Head<'a> {
    seq: u64,
    hash: &'a str,
}

#[derive(Serialize)]
struct ControlRow<'a> {
    id: &'a str,
    title: &'static str,
    class: &'static str,
    word: &'static str,
    systems: Vec<Freshness<'a>>,
    rows: usize,
}

#[derive(Serialize)]
struct Freshness<'a> {
    system: &'a str,
    stale: bool,
    /// Hours since the freshest evidence, one decimal.
    age: String,
    /// The threshold in hours, one decimal.
    threshold: String,
}

#[derive(Serialize)]
struct Provisioning {
    class: &'static str,
    value: String,
    operations: u64,
    succeeded: u64,
    failed: u64,
    pending: u64,
}

/// A share KPI: `part` of `whole`.
#[derive(Serialize)]
struct Share {
    class: &'static str,
    value: String,
    part: u64,
    whole: u64,
}

#[derive(Serialize)]
struct RequestCycle {
    p50: String,
    p95: String,
    requests: u64,
    max: String,
}

#[derive(Serialize)]
struct Deprovisioning<'a> {
    system: &'a str,
    leavers: u64,
    p50: String,
    p95: String,
    max: String,
    class: &'static str,
    over_target: u64,
    target_minutes: u64,
    incomplete: u64,
}

#[derive(Serialize)]
struct KindCount<'a> {
    kind: &'a str,
    rows: usize,
}

fn hours(seconds: u64) -> String {
    format!("{:.1}", seconds as f64 / 3600.0)
}

fn view(b: &Bundle) -> Report<'_> {
    let controls = b
        .coverage
        .controls
        .iter()
        .map(|c| {
            let (class, word) = match c.status {
                CoverageStatus::Covered => ("ok", "covered"),
                CoverageStatus::Degraded => ("warn", "degraded"),
                CoverageStatus::Missing => ("bad", "missing"),
            };
            ControlRow {
                id: c.control.as_str(),
                title: control(c.control.as_str()).map_or("", |c| c.title),
                class,
                word,
                systems: c
                    .systems
                    .iter()
                    .map(|s| Freshness {
                        system: s.system.as_str(),
                        stale: s.stale,
                        age: hours(s.age_seconds),
                        threshold: hours(s.threshold_seconds),
                    })
                    .collect(),
                rows: b
                    .rows
                    .iter()
                    .filter(|r| r.controls.contains(&c.control))
                    .count(),
            }
        })
        .collect();
    let k = &b.kpis;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &b.rows {
        *by_kind.entry(r.kind.as_str()).or_default() += 1;
    }
    let target = k.deprovisioning.first().map_or(900, |d| d.target_seconds);
    Report {
        period: b.period.to_string(),
        generated: b.generated_at.to_rfc3339(),
        rows: b.rows.len(),
        audit_in_period: b.audit_records_in_period,
        audit_verified: b.audit_records_verified,
        head: b.audit_head.as_ref().map(|a| Head {
            seq: a.seq,
            hash: &a.hash,
        }),
        controls,
        provisioning: Provisioning {
            class: target_met(k.provisioning.rate, 0.99),
            value: pct(k.provisioning.rate),
            operations: k.provisioning.operations,
            succeeded: k.provisioning.succeeded,
            failed: k.provisioning.failed,
            pending: k.provisioning.pending,
        },
        completeness: Share {
            class: target_met(k.audit_completeness.share, 1.0),
            value: pct(k.audit_completeness.share),
            part: k.audit_completeness.traceable,
            whole: k.audit_completeness.grants,
        },
        boundary: Share {
            class: target_met(k.boundary.share, 1.0),
            value: pct(k.boundary.share),
            part: k.boundary.within_boundary,
            whole: k.boundary.changes,
        },
        request_cycle: k.request_cycle.as_ref().map(|r| RequestCycle {
            p50: mins(r.p50_seconds),
            p95: mins(r.p95_seconds),
            requests: r.requests,
            max: mins(r.max_seconds),
        }),
        deprovisioning: k
            .deprovisioning
            .iter()
            .map(|d| Deprovisioning {
                system: &d.system,
                leavers: d.leavers,
                p50: mins(d.p50_seconds),
                p95: mins(d.p95_seconds),
                max: mins(d.max_seconds),
                class: if d.over_target == 0 { "ok" } else { "bad" },
                over_target: d.over_target,
                target_minutes: d.target_seconds / 60,
                incomplete: d.incomplete,
            })
            .collect(),
        chart: chart::view(&b.rows, target),
        exception_count: b.exceptions.len(),
        exceptions: &b.exceptions,
        by_kind: by_kind
            .into_iter()
            .map(|(kind, rows)| KindCount { kind, rows })
            .collect(),
    }
}

/// Renders `template` with `context`.
pub(super) fn render(
    template: &'static str,
    context: impl Serialize,
) -> Result<String, RenderError> {
    environment()
        .and_then(|env| env.get_template(template)?.render(context))
        .map_err(|e| RenderError {
            template,
            message: e.to_string(),
        })
}

/// The report page.
pub(super) fn report(b: &Bundle) -> Result<String, RenderError> {
    render("report.html", view(b))
}
