//! Progress while a plan is applied: a bar per system on a terminal (done/total,
//! rate, pending, rate-limit pauses), else one line per finished operation. While
//! operations wait for a system to complete them (an account created at first
//! sign-in), it says how long it waits and for how many. Log lines are written
//! through the bars ([`LogWriter`]), so they do not tear them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use provision_core::adapter::Effect;
use provision_core::executor::{ExecutionEvent, ExecutionSubscriber};
use provision_core::model::{OperationId, Plan, SystemName};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bar per system.
    Bars,
    /// One line per finished operation on standard error.
    Lines,
    /// Nothing.
    Silent,
}

struct SystemBar {
    bar: ProgressBar,
    pending: usize,
    /// "waiting up to N s for K pending operations", while some are pending.
    waiting: Option<String>,
    failed: usize,
    paused_until: Option<String>,
}

impl SystemBar {
    fn refresh(&self) {
        let mut parts = Vec::new();
        if self.pending > 0 {
            match &self.waiting {
                Some(waiting) => parts.push(format!("{} pending, {waiting}", self.pending)),
                None => parts.push(format!("{} pending", self.pending)),
            }
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if let Some(until) = &self.paused_until {
            parts.push(format!("rate limited, paused until {until}"));
        }
        self.bar.set_message(parts.join(", "));
    }
}

struct Run {
    mode: Mode,
    /// Operations seen pending and not finished yet.
    pending: BTreeSet<OperationId>,
    systems: HashMap<OperationId, SystemName>,
    bars: BTreeMap<SystemName, SystemBar>,
    _multi: Option<MultiProgress>,
    done: usize,
    total: usize,
}

/// The subscriber the engine is built with; [`Progress::start`] before each apply.
#[derive(Default)]
pub struct Progress {
    run: Mutex<Option<Run>>,
    /// How long pending operations are re-checked (`--pending-wait`).
    wait: Duration,
}

/// The bars on screen, for [`LogWriter`].
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn active_bars() -> MutexGuard<'static, Option<MultiProgress>> {
    BARS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Standard error for log lines: while progress bars are drawn, each line is written
/// with the bars hidden (indicatif's `suspend`) and the bars drawn again below it.
#[derive(Debug, Default)]
pub struct LogWriter {
    line: Vec<u8>,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.line);
        let write = || std::io::stderr().lock().write_all(&line);
        match active_bars().as_ref() {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress {
    /// Progress for runs that re-check pending operations for up to `wait`.
    pub fn new(wait: Duration) -> Self {
        Self {
            run: Mutex::new(None),
            wait,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Run>> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts showing the progress of `plan`.
    pub fn start(&self, plan: &Plan, mode: Mode) {
        let systems: HashMap<OperationId, SystemName> = plan
            .operations
            .iter()
            .map(|op| (op.id.clone(), op.system.clone()))
            .collect();
        let mut totals: BTreeMap<SystemName, u64> = BTreeMap::new();
        for op in &plan.operations {
            *totals.entry(op.system.clone()).or_insert(0) += 1;
        }
        let (multi, bars) = if mode == Mode::Bars {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {rate:>8} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.1}/s", state.per_sec());
                        },
                    )
                    .progress_chars("=> ");
            let bars = totals
                .iter()
                .map(|(system, total)| {
                    let bar = multi.add(ProgressBar::new(*total));
                    bar.set_style(style.clone());
                    bar.set_prefix(system.to_string());
                    (
                        system.clone(),
                        SystemBar {
                            bar,
                            pending: 0,
                            waiting: None,
                            failed: 0,
                            paused_until: None,
                        },
                    )
                })
                .collect();
            (Some(multi), bars)
        } else {
            (None, BTreeMap::new())
        };
        *active_bars() = multi.clone();
        *self.lock() = Some(Run {
            mode,
            pending: BTreeSet::new(),
            systems,
            bars,
            _multi: multi,
            done: 0,
            total: plan.operations.len(),
        });
    }

    /// Stops showing progress (bars are left as they ended).
    pub fn finish(&self) {
        *active_bars() = None;
        if let Some(run) = self.lock().take() {
            for bar in run.bars.values() {
                bar.refresh();
                bar.bar.finish();
            }
        }
    }
}

/// The finished state an event reports, if it is one.
fn finished(event: &ExecutionEvent) -> Option<(&OperationId, String)> {
    match event {
        ExecutionEvent::Succeeded { operation, effect } => Some((
            operation,
            match effect {
                Effect::AlreadyInPlace => "already in place".to_owned(),
                _ => "done".to_owned(),
            },
        )),
        ExecutionEvent::Failed { operation, error } => {
            Some((operation, format!("failed: {error}")))
        }
        ExecutionEvent::Skipped { operation, because } => Some((
            operation,
            format!("skipped (because {because} did not succeed)"),
        )),
        ExecutionEvent::Pending {
            operation,
            final_: true,
        } => Some((
            operation,
            "pending (the system completes it later)".to_owned(),
        )),
        _ => None,
    }
}

impl ExecutionSubscriber for Progress {
    fn on_event(&self, event: &ExecutionEvent) {
        let mut guard = self.lock();
        let Some(run) = guard.as_mut() else { return };
        if let ExecutionEvent::SystemThrottled { system, until, .. } = event {
            let until = until.format("%H:%M:%S").to_string();
            match run.mode {
                Mode::Bars => {
                    if let Some(bar) = run.bars.get_mut(system) {
                        bar.paused_until = Some(until);
                        bar.refresh();
                    }
                }
                Mode::Lines => eprintln!("{system}: rate limited, paused until {until}"),
                Mode::Silent => {}
            }
            return;
        }
        if let ExecutionEvent::Pending {
            operation,
            final_: false,
        } = event
        {
            if !run.pending.insert(operation.clone()) {
                return;
            }
            let system = run.systems.get(operation).cloned();
            let waiting = format!(
                "waiting up to {} s for {}",
                self.wait.as_secs(),
                crate::render::plural(run.pending.len(), "pending operation", "pending operations")
            );
            if run.mode == Mode::Lines {
                let name = system.as_ref().map(ToString::to_string).unwrap_or_default();
                eprintln!("{name} {operation}: pending, the system completes it later; {waiting}");
            }
            if let Some(bar) = system.and_then(|s| run.bars.get_mut(&s)) {
                bar.pending += 1;
                bar.waiting = Some(waiting);
                bar.refresh();
            }
            return;
        }
        let Some((operation, outcome)) = finished(event) else {
            return;
        };
        run.done += 1;
        run.pending.remove(operation);
        let system = run.systems.get(operation).cloned();
        match run.mode {
            Mode::Bars => {
                if let Some(bar) = system.and_then(|s| run.bars.get_mut(&s)) {
                    if matches!(event, ExecutionEvent::Failed { .. }) {
                        bar.failed += 1;
                    }
                    if matches!(event, ExecutionEvent::Succeeded { .. }) && bar.pending > 0 {
                        bar.pending -= 1;
                    }
                    bar.paused_until = None;
                    bar.bar.inc(1);
                    bar.refresh();
                }
            }
            Mode::Lines => {
                let system = system.map(|s| s.to_string()).unwrap_or_default();
                eprintln!(
                    "[{}/{}] {system} {operation}: {outcome}",
                    run.done, run.total
                );
            }
            Mode::Silent => {}
        }
    }
}
