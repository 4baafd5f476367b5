//! Per-system queues and rate gating: which queued operations may be sent now.
//!
//! Each system has its own queue, so a throttled system never holds up another. In a
//! queue, leaver work ([`Priority::Leaver`]) goes first, then plan order. A request
//! goes when its system has a free concurrency slot, the server's "not before" gates
//! are open (system-wide and for the request's budget) and the GCRA limiter has a cell.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashSet};

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
    ready: BTreeSet<Ready>,
    /// Waiting for a retry or re-check time.
    delayed: BTreeSet<(Instant, usize)>,
}

/// A ready operation's place in its queue: leavers first, then plan order.
type Ready = (Reverse<Priority>, usize);

/// When a budget waits for an answer, how soon to look again anyway: the request it
/// waits for may belong to another run or a read on the same executor, whose answer
/// does not wake this run.
const AWAIT_RESPONSE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// A request chosen to be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    /// The operations it carries: one, or several changes to one whole-list resource.
    pub(crate) ops: Vec<usize>,
    /// Its kind of request, as the limiter counts it.
    pub(crate) key: String,
}

/// What the queues need to know about a queued operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Its next request's kind, as the limiter counts it.
    pub(crate) key: String,
    /// The whole-list resource it changes, if any (see [`super::graph::Graph`]).
    pub(crate) list: Option<usize>,
    /// Its next request is an attempt (a change), not a check: it may join a batch.
    pub(crate) change: bool,
    /// Most operations of its batch (its whole-list kind's
    /// [`crate::adapter::ResourceKindDescriptor::max_batch`]).
    pub(crate) max_batch: usize,
    /// Its resource takes one request at a time (a whole-list kind).
    pub(crate) serial: bool,
}

/// Every system's queue, in the order of the executor's system map.
pub(crate) struct Queues<'a> {
    queues: Vec<Queue<'a>>,
    /// Whole-list resources with a request out: nothing else on them goes meanwhile
    /// ([`crate::adapter::ResourceKindDescriptor::whole_list_membership`]).
    busy: HashSet<usize>,
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
            busy: HashSet::new(),
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

    /// A request to system `q` was answered; it held whole-list resource `list`, if any.
    /// (The limiter learns of the answer from the request's [`super::OutRequest`].)
    pub(crate) fn on_answer(&mut self, q: usize, list: Option<usize>) {
        if let Some(list) = list {
            self.busy.remove(&list);
        }
        let queue = &mut self.queues[q];
        queue.running = queue.running.saturating_sub(1);
    }

    /// Chooses what to send now, per system, and says when to look again. `priority`
    /// and `describe` give an operation's priority and what its next request is.
    ///
    /// An operation on a whole-list resource goes only while no other request on that
    /// resource is out; the changes queued for the same resource go with it, as one
    /// batch.
    pub(crate) fn pick(
        &mut self,
        now: Instant,
        priority: impl Fn(usize) -> Priority,
        describe: impl Fn(usize) -> Candidate,
    ) -> (Vec<Chosen>, Option<Instant>) {
        let busy = &mut self.busy;
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
            let mut chosen: Vec<(Vec<Ready>, String)> = Vec::new();
            let mut running = queue.running;
            // Named budgets found out of cells in this pass: their requests wait.
            let mut spent: Vec<String> = Vec::new();
            // Operations already chosen in this pass (into a batch): never twice.
            let mut taken: HashSet<Ready> = HashSet::new();
            for &entry in &queue.ready {
                if taken.contains(&entry) {
                    continue;
                }
                if running >= queue.limit {
                    break;
                }
                match limiter.system_gate(now) {
                    Gate::Open => {}
                    Gate::Until(t) => {
                        wake_at(t);
                        break;
                    }
                    Gate::AwaitResponse => {
                        wake_at(now + AWAIT_RESPONSE_POLL);
                        break;
                    }
                }
                let Candidate {
                    key,
                    list,
                    change,
                    max_batch,
                    serial,
                } = describe(entry.1);
                if spent.contains(&key) || (serial && list.is_some_and(|l| busy.contains(&l))) {
                    continue;
                }
                match limiter.gate(&key, now) {
                    Gate::Open => {}
                    Gate::Until(t) => {
                        wake_at(t);
                        continue;
                    }
                    Gate::AwaitResponse => {
                        wake_at(now + AWAIT_RESPONSE_POLL);
                        continue;
                    }
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
                let mut ops = vec![entry];
                if let Some(list) = list {
                    if serial {
                        busy.insert(list);
                    }
                    if change {
                        for &other in &queue.ready {
                            if ops.len() >= max_batch {
                                break;
                            }
                            if other == entry || taken.contains(&other) {
                                continue;
                            }
                            let c = describe(other.1);
                            if c.change && c.list == Some(list) {
                                ops.push(other);
                            }
                        }
                    }
                }
                taken.extend(ops.iter().copied());
                chosen.push((ops, key));
                running += 1;
            }
            drop(limiter);
            for (ops, key) in chosen {
                for entry in &ops {
                    queue.ready.remove(entry);
                }
                queue.running += 1;
                start.push(Chosen {
                    ops: ops.into_iter().map(|(_, idx)| idx).collect(),
                    key,
                });
            }
        }
        (start, wake)
    }
}
