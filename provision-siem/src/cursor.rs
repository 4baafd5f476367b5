//! Reading the audit log from a position, and the per-sink cursor.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use provision_core::audit::{Anchor, AuditError, AuditLog, AuditRecord, MemoryAuditLog};

/// The audit log read forward from a position, in seq order.
#[async_trait]
pub trait AuditFeed: Send + Sync {
    /// Up to `limit` records with `seq > after` (every record from seq 0 when
    /// `after` is `None`), in seq order.
    async fn records_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AuditError>;
}

fn page(records: &[AuditRecord], after: Option<u64>, limit: usize) -> Vec<AuditRecord> {
    let start = after.map_or(0, |seq| records.partition_point(|r| r.seq <= seq));
    records.iter().skip(start).take(limit).cloned().collect()
}

#[async_trait]
impl AuditFeed for MemoryAuditLog {
    async fn records_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        Ok(page(&self.snapshot()?, after, limit))
    }
}

/// Any [`AuditLog`] as a feed, by reading every record and skipping to the
/// position (for logs with no indexed read, such as JSON lines files). Databases
/// implement [`AuditFeed`] with a query instead.
#[derive(Debug)]
pub struct ScanFeed<L>(pub L);

#[async_trait]
impl<L: AuditLog> AuditFeed for ScanFeed<L> {
    async fn records_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        Ok(page(&self.0.records().await?, after, limit))
    }
}

/// Where a sink stands: the last audit record it acknowledged.
pub type SinkCursor = Anchor;

/// Durable per-sink cursors.
///
/// `save` must never move a cursor backwards (a second exporter that lags behind
/// must not make the first re-send); a store enforces it in the same write.
#[async_trait]
pub trait CursorStore: Send + Sync {
    /// The last record `sink` acknowledged, or `None` when it has received nothing.
    async fn load(&self, sink: &str) -> Result<Option<SinkCursor>, String>;

    /// Records that `sink` acknowledged every record up to and including `cursor`.
    async fn save(&self, sink: &str, cursor: &SinkCursor) -> Result<(), String>;
}

/// Cursors in memory (tests, short-lived tools: lost when the process ends).
#[derive(Debug, Default)]
pub struct MemoryCursorStore {
    cursors: Mutex<HashMap<String, SinkCursor>>,
}

impl MemoryCursorStore {
    /// No cursors.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CursorStore for MemoryCursorStore {
    async fn load(&self, sink: &str) -> Result<Option<SinkCursor>, String> {
        let cursors = self
            .cursors
            .lock()
            .map_err(|_| "cursor mutex poisoned".to_owned())?;
        Ok(cursors.get(sink).cloned())
    }

    async fn save(&self, sink: &str, cursor: &SinkCursor) -> Result<(), String> {
        let mut cursors = self
            .cursors
            .lock()
            .map_err(|_| "cursor mutex poisoned".to_owned())?;
        let entry = cursors
            .entry(sink.to_owned())
            .or_insert_with(|| cursor.clone());
        if entry.seq <= cursor.seq {
            *entry = cursor.clone();
        }
        Ok(())
    }
}
