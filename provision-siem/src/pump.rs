//! One sink's delivery: the audit log from the sink's cursor, in batches, retried.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::sync::Notify;

use provision_core::audit::{AuditRecord, ChainError, GENESIS_HASH, record_hash};

use crate::{AuditFeed, CursorStore, SiemError, SiemEvent, SiemSink, SinkCursor, SinkError};

/// Checks that `records` continue the chain from `cursor` (seq order without gaps,
/// each `prev_hash` naming its predecessor, each hash matching its content), so an
/// altered record is refused before it reaches a SIEM.
fn check_chain(cursor: Option<&SinkCursor>, records: &[AuditRecord]) -> Result<(), SiemError> {
    let mut prev = cursor.map(|c| (c.seq, c.hash.clone()));
    for record in records {
        let (expected, prev_hash) = match &prev {
            Some((seq, hash)) => (seq.saturating_add(1), hash.as_str()),
            None => (0, GENESIS_HASH),
        };
        if record.seq != expected {
            return Err(ChainError::UnexpectedSeq {
                position: expected,
                expected,
                found: record.seq,
            }
            .into());
        }
        if record.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                seq: record.seq,
                expected: prev_hash.to_owned(),
                found: record.prev_hash.clone(),
            }
            .into());
        }
        let computed = record_hash(record.seq, &record.prev_hash, &record.event)?;
        if computed != record.hash {
            return Err(ChainError::Altered {
                seq: record.seq,
                stored: record.hash.clone(),
                computed,
            }
            .into());
        }
        prev = Some((record.seq, record.hash.clone()));
    }
    Ok(())
}

/// How a [`SinkPump`] delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// Records per batch (at least 1).
    pub batch_size: usize,
    /// First retry delay after a transient failure.
    pub min_retry_delay: Duration,
    /// Longest retry delay.
    pub max_retry_delay: Duration,
    /// Retries of one batch before [`SinkPump::deliver_pending`] gives up (the
    /// [`run`](SinkPump::run) loop then waits `poll_interval` and starts again, so a
    /// receiver that is down for hours still gets everything once it is back).
    pub max_retries: usize,
    /// How often [`run`](SinkPump::run) looks for new records when nobody wakes it.
    pub poll_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            min_retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(30),
            max_retries: 8,
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl DeliveryConfig {
    /// Sets the batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets the retry delays and count.
    pub fn with_retries(
        mut self,
        min_delay: Duration,
        max_delay: Duration,
        retries: usize,
    ) -> Self {
        self.min_retry_delay = min_delay;
        self.max_retry_delay = max_delay.max(min_delay);
        self.max_retries = retries;
        self
    }

    /// Sets the poll interval.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }
}

/// Delivers the audit log to one sink, from its durable cursor.
pub struct SinkPump {
    sink: Arc<dyn SiemSink>,
    feed: Arc<dyn AuditFeed>,
    cursors: Arc<dyn CursorStore>,
    config: DeliveryConfig,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for SinkPump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkPump")
            .field("sink", &self.sink.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SinkPump {
    /// A pump from `feed` to `sink`, its cursor kept in `cursors` under the sink's name.
    pub fn new(
        sink: Arc<dyn SiemSink>,
        feed: Arc<dyn AuditFeed>,
        cursors: Arc<dyn CursorStore>,
        config: DeliveryConfig,
    ) -> Self {
        Self {
            sink,
            feed,
            cursors,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The sink's name.
    pub fn sink_name(&self) -> &str {
        self.sink.name()
    }

    /// The sink.
    pub fn sink(&self) -> &Arc<dyn SiemSink> {
        &self.sink
    }

    /// A handle that wakes this pump (for [`WakingAuditLog`](crate::WakingAuditLog)).
    pub fn waker(&self) -> crate::SiemWaker {
        crate::SiemWaker::new(vec![self.wake.clone()])
    }

    pub(crate) fn waker_notifies(&self) -> Vec<Arc<Notify>> {
        vec![self.wake.clone()]
    }

    /// Tells a running [`run`](Self::run) loop that records were appended (it then
    /// delivers at once instead of at the next poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn cursor_error(&self, message: String) -> SiemError {
        SiemError::Cursor {
            sink: self.sink.name().to_owned(),
            message,
        }
    }

    /// The sink's cursor, checked against the log (the record at its seq must still
    /// have its hash).
    pub async fn cursor(&self) -> Result<Option<SinkCursor>, SiemError> {
        let Some(cursor) = self
            .cursors
            .load(self.sink.name())
            .await
            .map_err(|m| self.cursor_error(m))?
        else {
            return Ok(None);
        };
        let before = cursor.seq.checked_sub(1);
        let at = self.feed.records_after(before, 1).await?;
        match at.first() {
            Some(record) if record.seq == cursor.seq && record.hash == cursor.hash => {
                Ok(Some(cursor))
            }
            other => Err(SiemError::CursorMismatch {
                sink: self.sink.name().to_owned(),
                found: other.map_or_else(
                    || "no record".to_owned(),
                    |r| format!("seq {} hash {}", r.seq, r.hash),
                ),
                cursor,
            }),
        }
    }

    /// Delivers every record after the cursor, batch by batch, advancing the cursor
    /// after each acknowledged batch. A transient failure is retried with exponential
    /// backoff (jittered) up to `max_retries` times; then, or on a rejection, the
    /// error is returned and the cursor stays after the last acknowledged batch.
    /// Returns the number of records delivered.
    pub async fn deliver_pending(&self) -> Result<u64, SiemError> {
        let mut cursor = self.cursor().await?;
        let mut delivered = 0u64;
        loop {
            let records = self
                .feed
                .records_after(
                    cursor.as_ref().map(|c| c.seq),
                    self.config.batch_size.max(1),
                )
                .await?;
            let Some(last) = records.last() else {
                return Ok(delivered);
            };
            let next = SinkCursor {
                seq: last.seq,
                hash: last.hash.clone(),
            };
            check_chain(cursor.as_ref(), &records)?;
            let count = records.len() as u64;
            let batch: Vec<SiemEvent> = records
                .into_iter()
                .map(|record| SiemEvent::Audit { record })
                .collect();
            self.send_with_retries(&batch).await?;
            self.cursors
                .save(self.sink.name(), &next)
                .await
                .map_err(|m| self.cursor_error(m))?;
            tracing::debug!(
                sink = self.sink.name(),
                through = next.seq,
                count,
                "SIEM batch delivered"
            );
            delivered += count;
            cursor = Some(next);
        }
    }

    /// Sends one batch, retrying transient failures.
    pub(crate) async fn send_with_retries(&self, batch: &[SiemEvent]) -> Result<(), SiemError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.min_retry_delay)
            .with_max_delay(self.config.max_retry_delay)
            .with_max_times(self.config.max_retries)
            .with_jitter();
        (|| self.sink.deliver(batch))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(SinkError::is_transient)
            // A receiver's Retry-After is a floor under the backoff's own delay.
            .adjust(|error: &SinkError, delay| {
                delay.map(|d| error.retry_after().map_or(d, |wait| wait.max(d)))
            })
            .notify(|error, delay| {
                tracing::warn!(sink = self.sink.name(), %error, ?delay, "SIEM delivery failed; retrying");
            })
            .await
            .map_err(|error| SiemError::Sink {
                sink: self.sink.name().to_owned(),
                error,
            })
    }

    /// Delivers until `shutdown` completes: whatever is pending, then again on each
    /// [`wake`](Self::wake) or every `poll_interval`. A sink that stays unavailable
    /// past the retries is tried again at the next poll; a rejection, a cursor
    /// failure or a cursor that no longer matches the log ends the loop with the error.
    pub async fn run(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), SiemError> {
        tokio::pin!(shutdown);
        loop {
            match self.deliver_pending().await {
                Ok(_) => {}
                Err(SiemError::Sink { sink, error }) if error.is_transient() => {
                    tracing::warn!(%sink, %error, "SIEM sink still unavailable; trying again later");
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }
}
