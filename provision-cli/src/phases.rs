//! Where a command's time goes: named phases, timed with the monotonic clock and
//! logged at `info` (`provision -v plan` shows them; `--log-format json` gives one
//! JSON line per phase, which `cargo bench -p provision-cli` reads).

use std::time::{Duration, Instant};

/// The phases of one command run, in order.
#[derive(Debug)]
pub struct Phases {
    command: &'static str,
    started: Instant,
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    /// Starts timing `command` now.
    pub fn start(command: &'static str) -> Self {
        let now = Instant::now();
        Self {
            command,
            started: now,
            last: now,
            done: Vec::new(),
        }
    }

    /// Ends the phase `name` (it ran since the previous mark) and logs it.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        let took = now - self.last;
        self.last = now;
        self.done.push((name, took));
        tracing::info!(
            command = self.command,
            phase = name,
            ms = took.as_secs_f64() * 1000.0,
            "phase {name} took {:.1} ms",
            took.as_secs_f64() * 1000.0
        );
    }

    /// Logs the whole run: its wall time and the process's peak resident memory
    /// (Linux; absent elsewhere).
    pub fn finish(self) {
        let total = self.last - self.started;
        let peak = peak_rss_mib();
        tracing::info!(
            command = self.command,
            phase = "total",
            ms = total.as_secs_f64() * 1000.0,
            peak_rss_mib = peak.unwrap_or(f64::NAN),
            "{} took {:.1} ms; peak resident memory {}",
            self.command,
            total.as_secs_f64() * 1000.0,
            peak.map(|p| format!("{p:.0} MiB"))
                .unwrap_or_else(|| "unknown".to_owned())
        );
    }
}

/// `VmHWM` (peak resident set) of this process in MiB, from `/proc/self/status`.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
