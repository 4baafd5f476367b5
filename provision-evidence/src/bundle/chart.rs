//! The inline SVG chart of deprovisioning times against the target line: the
//! geometry is computed here, the markup is `templates/chart.svg` (autoescaped).

use serde::Serialize;
use serde_json::Value;

use super::RenderError;
use crate::controls::kinds;
use crate::row::EvidenceRow;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 16.0;
/// More leavers than this are drawn as a line over the sorted times.
const MAX_BARS: usize = 300;

/// The chart's geometry, every number formatted as the SVG writes it.
#[derive(Debug, Serialize)]
pub(super) struct ChartView<'a> {
    width: String,
    height: String,
    /// The target in minutes, for the label read aloud.
    target: String,
    left: String,
    top: String,
    plot_width: String,
    plot_height: String,
    ticks: Vec<Tick>,
    /// One bar per leaver (up to [`MAX_BARS`] leavers)...
    bars: Vec<Bar<'a>>,
    /// ... or a line over the sorted times, for more.
    line: Option<String>,
    target_line: TargetLine,
    caption: Caption,
}

#[derive(Debug, Serialize)]
struct Tick {
    x: String,
    y: String,
    label: String,
}

#[derive(Debug, Serialize)]
struct Bar<'a> {
    x: String,
    y: String,
    width: String,
    height: String,
    colour: &'static str,
    who: &'a str,
    minutes: String,
}

#[derive(Debug, Serialize)]
struct TargetLine {
    x2: String,
    y: String,
    label_x: String,
    label_y: String,
    label: String,
}

#[derive(Debug, Serialize)]
struct Caption {
    x: String,
    y: String,
    leavers: usize,
}

/// The chart of every completed leaver in `rows`; `None` when there is none.
pub(super) fn view(rows: &[EvidenceRow], target_seconds: u64) -> Option<ChartView<'_>> {
    let mut minutes: Vec<(f64, &str)> = rows
        .iter()
        .filter(|r| r.kind == kinds::LEAVER_TIMELINESS)
        .filter(|r| r.data.get("complete").and_then(Value::as_bool) == Some(true))
        .filter_map(|r| {
            let s = r.data.get("seconds").and_then(Value::as_f64)?;
            Some((s / 60.0, r.subject.as_deref().unwrap_or_default()))
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
    // Y axis ticks: 0, target, top.
    let ticks = [0.0, target, top_value]
        .into_iter()
        .map(|v| Tick {
            x: format!("{}", LEFT - 4.0),
            y: format!("{:.1}", y(v) + 4.0),
            label: format!("{v:.0}"),
        })
        .collect();
    let n = minutes.len();
    let step = plot_w / n as f64;
    let (bars, line) = if n <= MAX_BARS {
        let bars = minutes
            .iter()
            .enumerate()
            .map(|(i, (m, who))| {
                let h = (y(0.0) - y(*m)).max(1.0);
                Bar {
                    x: format!("{:.2}", LEFT + i as f64 * step + step * 0.1),
                    y: format!("{:.2}", y(0.0) - h),
                    width: format!("{:.2}", (step * 0.8).max(0.5)),
                    height: format!("{h:.2}"),
                    colour: if *m > target { "#c0392b" } else { "#2e86c1" },
                    who,
                    minutes: format!("{m:.1}"),
                }
            })
            .collect();
        (bars, None)
    } else {
        let points: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(i, (m, _))| format!("{:.1},{:.1}", LEFT + (i as f64 + 0.5) * step, y(*m)))
            .collect();
        (Vec::new(), Some(points.join(" ")))
    };
    Some(ChartView {
        width: format!("{WIDTH}"),
        height: format!("{HEIGHT}"),
        target: format!("{target}"),
        left: format!("{LEFT}"),
        top: format!("{TOP}"),
        plot_width: format!("{plot_w}"),
        plot_height: format!("{plot_h}"),
        ticks,
        bars,
        line,
        target_line: TargetLine {
            x2: format!("{:.1}", LEFT + plot_w),
            y: format!("{:.1}", y(target)),
            label_x: format!("{:.1}", LEFT + plot_w - 4.0),
            label_y: format!("{:.1}", y(target) - 4.0),
            label: format!("{target:.0}"),
        },
        caption: Caption {
            x: format!("{:.1}", LEFT + plot_w / 2.0),
            y: format!("{:.1}", HEIGHT - 8.0),
            leavers: n,
        },
    })
}

/// An SVG of every leaver's minutes from termination to last revocation (sorted,
/// one bar each; a line for many), with a dashed line at the target. `None` when
/// the rows hold no completed leaver.
pub fn deprovisioning_chart(
    rows: &[EvidenceRow],
    target_seconds: u64,
) -> Result<Option<String>, RenderError> {
    let Some(chart) = view(rows, target_seconds) else {
        return Ok(None);
    };
    let svg = super::html::render("chart.svg", minijinja::context! { chart })?;
    Ok(Some(svg))
}
