//! Per-system queues and rate gating: which queued operations may be sent now.
//!
//! Each system has its own queue, so a throttled system never holds up another. In a
//! queue, leaver work ([`Priority::Leaver`]) goes first, then plan order. A request
//! goes when its system has a free concurrency slot, the server's "not before" gates
//! are open (system-wide and for the request's budget) and the GCRA limiter has a cell.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use tokio::time::Instant;

use super::SystemEntry;
use super::rate_limit::{Gate, Refused};
use crate::model::Priority;

/// One system's queue.
pub(crate) struct Queue<'a> {
    pub(crate) entry: &'a SystemEntry,
    limit: usize,
    running: usize,
    /// Ready to go, leavers first, then plan order.
    ready: BTreeSet<(Reverse<Priority>, usize)>,
    /// Waiting for a retry or re-check time.
    delayed: BTreeSet<(Instant, usize)>,
}

/// A request chosen to be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    /// The operation.
    pub(crate) idx: usize,
    /// Its kind of request, as the limiter counts it.
    pub(crate) key: String,
}

/// Every system's queue, in the order of the executor's system map.
pub(crate) struct Queues<'a> {
    queues: Vec<Queue<'a>>,
}

impl<'a> Queues<'a> {
    pub(crate) fn new(entries: impl Iterator<Item = &'a SystemEntry>) -> Self {
        Self {
            queues: entries
                .map(|entry| Queue {
                    entry,
                    limit: entry.config.concurrency.unwrap_or(4).max(1),
                    running: 0,
                    ready: BTreeSet::new(),
                    delayed: BTreeSet::new(),
                })
                .collect(),
        }
    }

    /// The system at position `q`.
    pub(crate) fn entry(&self, q: usize) -> &'a SystemEntry {
        self.queues[q].entry
    }

    /// Puts operation `idx` in queue `q`, ready now or at `at`.
    pub(crate) fn enqueue(
        &mut self,
        q: usize,
        idx: usize,
        priority: Priority,
        at: Option<Instant>,
    ) {
        let queue = &mut self.queues[q];
        match at {
            Some(at) if at > Instant::now() => {
                queue.delayed.insert((at, idx));
            }
            _ => {
                queue.ready.insert((Reverse(priority), idx));
            }
        }
    }

    /// A request of kind `key` to system `q` was answered.
    pub(crate) fn on_answer(&mut self, q: usize, key: &str) {
        let queue = &mut self.queues[q];
        queue.running = queue.running.saturating_sub(1);
        queue.entry.limiter().on_answer(key);
    }

    /// Chooses what to send now, per system, and says when to look again. `priority`
    /// and `key` give an operation's priority and its kind of request.
    pub(crate) fn pick(
        &mut self,
        now: Instant,
        priority: impl Fn(usize) -> Priority,
        key: impl Fn(usize) -> String,
    ) -> (Vec<Chosen>, Option<Instant>) {
        let mut start = Vec::new();
        let mut wake: Option<Instant> = None;
        let mut wake_at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        for queue in &mut self.queues {
            while let Some(&(at, idx)) = queue.delayed.first() {
                if at > now {
                    wake_at(at);
                    break;
                }
                queue.delayed.pop_first();
                queue.ready.insert((Reverse(priority(idx)), idx));
            }
            if queue.ready.is_empty() || queue.running >= queue.limit {
                continue;
            }
            let mut limiter = queue.entry.limiter();
            let mut chosen: Vec<((Reverse<Priority>, usize), String)> = Vec::new();
            let mut running = queue.running;
            // Named budgets found out of cells in this pass: their requests wait.
            let mut spent: Vec<String> = Vec::new();
            for &entry in &queue.ready {
                if running >= queue.limit {
                    break;
                }
                match limiter.system_gate(now) {
                    Gate::Open => {}
                    Gate::Until(t) => {
                        wake_at(t);
                        break;
                    }
                    Gate::AwaitResponse => break,
                }
                let key = key(entry.1);
                if spent.contains(&key) {
                    continue;
                }
                match limiter.gate(&key, now) {
                    Gate::Open => {}
                    Gate::Until(t) => {
                        wake_at(t);
                        continue;
                    }
                    Gate::AwaitResponse => continue,
                }
                match limiter.take_cell(&key) {
                    Ok(()) => {}
                    Err(Refused::Budget(t)) => {
                        wake_at(t);
                        spent.push(key);
                        continue;
                    }
                    Err(Refused::System(t)) => {
                        wake_at(t);
                        break;
                    }
                }
                limiter.on_dispatch(&key);
                chosen.push((entry, key));
                running += 1;
            }
            drop(limiter);
            for (entry, key) in chosen {
                queue.ready.remove(&entry);
                queue.running += 1;
                start.push(Chosen { idx: entry.1, key });
            }
        }
        (start, wake)
    }
}
