//! The inline SVG chart of deprovisioning times against the target line.

use std::fmt::Write;

use serde_json::Value;

use super::html::escape;
use crate::controls::kinds;
use crate::row::EvidenceRow;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 16.0;
/// More leavers than this are drawn as a line over the sorted times.
const MAX_BARS: usize = 300;

/// An SVG of every leaver's minutes from termination to last revocation (sorted,
/// one bar each; a line for many), with a dashed line at the target. `None` when
/// the rows hold no completed leaver.
pub fn deprovisioning_chart(rows: &[EvidenceRow], target_seconds: u64) -> Option<String> {
    let mut minutes: Vec<(f64, String)> = rows
        .iter()
        .filter(|r| r.kind == kinds::LEAVER_TIMELINESS)
        .filter(|r| r.data.get("complete").and_then(Value::as_bool) == Some(true))
        .filter_map(|r| {
            let s = r.data.get("seconds").and_then(Value::as_f64)?;
            Some((s / 60.0, r.subject.clone().unwrap_or_default()))
        })
        .collect();
    if minutes.is_empty() {
        return None;
    }
    minutes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let target = target_seconds as f64 / 60.0;
    let top_value = minutes
        .last()
        .map_or(target, |m| m.0)
        .max(target * 1.25)
        .max(1.0);
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let y = |v: f64| TOP + plot_h - (v / top_value) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Deprovisioning time per leaver, minutes, against the {target} minute target">"##
    );
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>"##
    );
    // Y axis ticks: 0, target, top.
    for v in [0.0, target, top_value] {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#444">{:.0} min</text>"##,
            LEFT - 4.0,
            y(v) + 4.0,
            v
        );
    }
    let n = minutes.len();
    let step = plot_w / n as f64;
    if n <= MAX_BARS {
        for (i, (m, who)) in minutes.iter().enumerate() {
            let colour = if *m > target { "#c0392b" } else { "#2e86c1" };
            let h = (y(0.0) - y(*m)).max(1.0);
            let _ = write!(
                svg,
                r##"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{colour}"><title>{}: {:.1} min</title></rect>"##,
                LEFT + i as f64 * step + step * 0.1,
                y(0.0) - h,
                (step * 0.8).max(0.5),
                h,
                escape(who),
                m
            );
        }
    } else {
        let points: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(i, (m, _))| format!("{:.1},{:.1}", LEFT + (i as f64 + 0.5) * step, y(*m)))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#2e86c1" stroke-width="2"/>"##,
            points.join(" ")
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#c0392b">target {:.0} min</text>"##,
        LEFT + plot_w,
        y(target),
        y(target),
        LEFT + plot_w - 4.0,
        y(target) - 4.0,
        target
    );
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#444">{n} leaver(s), fastest to slowest; minutes from termination to last revocation</text></svg>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0
    );
    Some(svg)
}
