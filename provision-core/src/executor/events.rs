//! What the executor reports as it goes, for metrics exporters and progress bars.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::adapter::{AdapterError, Effect};
use crate::model::{OperationId, SystemName};

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExecutionEvent {
    /// An attempt of an operation was sent to its system.
    Started {
        /// The operation.
        operation: OperationId,
        /// Its system.
        system: SystemName,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// An attempt failed in a way worth retrying; the next one goes after `delay`.
    Retrying {
        /// The operation.
        operation: OperationId,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next one.
        #[serde(with = "crate::serde_util::duration_ms")]
        delay: Duration,
        /// What the system said.
        error: AdapterError,
    },
    /// The operation took effect (or already was so).
    Succeeded {
        /// The operation.
        operation: OperationId,
        /// Changed, or already in place.
        effect: Effect,
    },
    /// The operation failed for good.
    Failed {
        /// The operation.
        operation: OperationId,
        /// What the system said.
        error: AdapterError,
    },
    /// The operation was not run because one it depends on did not succeed.
    Skipped {
        /// The operation.
        operation: OperationId,
        /// The operation that failed (or stayed pending).
        because: OperationId,
    },
    /// The system accepted the operation and completes it later; it is re-checked.
    /// `final_` is true when the deadline passed and the run stops checking.
    Pending {
        /// The operation.
        operation: OperationId,
        /// True when the run gives up checking (reported as pending).
        #[serde(rename = "final")]
        final_: bool,
    },
    /// A system (or one budget of it) is paused by what its server said.
    SystemThrottled {
        /// The system.
        system: SystemName,
        /// The budget, when the system has several.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<String>,
        /// No request goes to it before then.
        until: DateTime<Utc>,
    },
}

/// Receives events. Called synchronously from the executor: return quickly (queue the
/// event elsewhere if handling it is slow).
pub trait ExecutionSubscriber: Send + Sync {
    /// One event.
    fn on_event(&self, event: &ExecutionEvent);
}

/// A subscriber that forwards every event into a channel.
///
/// ```
/// use provision_core::executor::ChannelSubscriber;
/// let (subscriber, mut events) = ChannelSubscriber::new();
/// // executor builder: .subscriber(std::sync::Arc::new(subscriber))
/// # drop(subscriber);
/// assert!(events.try_recv().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct ChannelSubscriber {
    sender: mpsc::UnboundedSender<ExecutionEvent>,
}

impl ChannelSubscriber {
    /// A subscriber and the receiving end of its channel.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ExecutionEvent>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

impl ExecutionSubscriber for ChannelSubscriber {
    fn on_event(&self, event: &ExecutionEvent) {
        // A dropped receiver means nobody listens any more; that is not an error.
        let _ = self.sender.send(event.clone());
    }
}
