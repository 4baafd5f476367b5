//! Live progress: the executor's events as lines, and hooks that play a person's part
//! (signing in for the first time) when an operation goes pending.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use provision_core::executor::{ExecutionEvent, ExecutionSubscriber};
use provision_core::model::{Operation, OperationId, Plan};

use crate::console::Console;
use crate::show;

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    started: Option<Instant>,
    labels: HashMap<OperationId, String>,
    first_started: Vec<OperationId>,
    on_pending: HashMap<OperationId, Hook>,
}

/// An [`ExecutionSubscriber`] that prints each outcome as it happens.
pub struct Progress {
    console: Arc<Console>,
    state: Mutex<State>,
}

impl Progress {
    /// Progress printed to `console`.
    pub fn new(console: Arc<Console>) -> Self {
        Self {
            console,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts following a run of `plan`: `names` turns identity ids into names.
    pub fn follow(&self, plan: &Plan, name: impl Fn(&Operation) -> String) {
        let mut s = self.state();
        s.started = Some(Instant::now());
        s.first_started.clear();
        s.labels = plan
            .operations
            .iter()
            .map(|op| {
                let label = format!(
                    "{:<16} {:<10} {}",
                    name(op),
                    op.system.as_str(),
                    show::what(&op.kind)
                );
                (op.id.clone(), label)
            })
            .collect();
    }

    /// Runs `hook` the first time `operation` goes pending.
    pub fn when_pending(&self, operation: OperationId, hook: impl FnOnce() + Send + 'static) {
        self.state().on_pending.insert(operation, Box::new(hook));
    }

    /// The operations in the order their first attempt was sent.
    pub fn first_started(&self) -> Vec<OperationId> {
        self.state().first_started.clone()
    }

    fn line(&self, s: &State, op: &OperationId, status: &str, extra: &str) -> String {
        let at = s.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let label = s.labels.get(op).map_or(op.0.as_str(), String::as_str);
        format!("  {at:>5.2}s  {status:<7} {label}{extra}")
    }
}

impl ExecutionSubscriber for Progress {
    fn on_event(&self, event: &ExecutionEvent) {
        let mut s = self.state();
        let line = match event {
            ExecutionEvent::Started {
                operation, attempt, ..
            } => {
                if *attempt == 1 {
                    s.first_started.push(operation.clone());
                }
                None
            }
            ExecutionEvent::Retrying {
                operation,
                attempt,
                delay,
                error,
            } => Some(self.line(
                &s,
                operation,
                "retry",
                &format!(
                    " — attempt {attempt}: {error}; checking whether it took effect, next in {} ms",
                    delay.as_millis()
                ),
            )),
            ExecutionEvent::Succeeded { operation, effect } => {
                let extra = match effect {
                    provision_core::adapter::Effect::Changed => "",
                    provision_core::adapter::Effect::AlreadyInPlace => " (already in place)",
                    _ => "",
                };
                Some(self.line(&s, operation, "ok", extra))
            }
            ExecutionEvent::Failed { operation, error } => {
                Some(self.line(&s, operation, "FAILED", &format!(" — {error}")))
            }
            ExecutionEvent::Skipped { operation, because } => Some(self.line(
                &s,
                operation,
                "skipped",
                &format!(" — {because} did not succeed"),
            )),
            ExecutionEvent::Pending { operation, final_ } => {
                let extra = if *final_ {
                    " — still pending at the deadline; the next run re-checks it"
                } else {
                    " — the system completes it later; re-checking"
                };
                let line = self.line(&s, operation, "pending", extra);
                let hook = if *final_ {
                    None
                } else {
                    s.on_pending.remove(operation)
                };
                if let Some(hook) = hook {
                    drop(s);
                    self.console.say(line);
                    hook();
                    return;
                }
                Some(line)
            }
            ExecutionEvent::SystemThrottled {
                system,
                bucket,
                until,
            } => {
                let at = s.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                let bucket = bucket
                    .as_deref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default();
                Some(format!(
                    "  {at:>5.2}s  paused  {system}{bucket} until {} as its server said",
                    until.format("%H:%M:%S%.3f")
                ))
            }
            _ => None,
        };
        drop(s);
        if let Some(line) = line {
            self.console.say(line);
        }
    }
}
