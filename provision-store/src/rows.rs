//! Converting between the core's records and table rows (shared by both backends).

use chrono::{DateTime, Utc};
use provision_core::audit::{AuditEvent, AuditRecord};
use provision_core::journal::{JournalEntry, OperationState};
use provision_core::model::Plan;

use crate::error::StoreError;

/// An `audit_log` row as read.
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at_us: i64,
    pub run_id: String,
    pub identity_id: String,
    pub system: String,
    pub operation_id: String,
    pub action: String,
    pub event_json: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The column list matching [`AuditRow`], for SELECTs.
pub(crate) const AUDIT_COLUMNS: &str = "seq, at_us, run_id, identity_id, system, operation_id, \
     action, event_json, prev_hash, hash";

impl AuditRow {
    /// The record the row holds (the event from `event_json`, which the hash covers).
    pub fn to_record(&self) -> Result<AuditRecord, StoreError> {
        let seq = u64::try_from(self.seq).map_err(|_| StoreError::Corrupt {
            table: "audit_log",
            key: self.seq.to_string(),
            message: "negative seq".to_owned(),
        })?;
        let event: AuditEvent =
            serde_json::from_str(&self.event_json).map_err(|e| StoreError::Corrupt {
                table: "audit_log",
                key: seq.to_string(),
                message: format!("event_json: {e}"),
            })?;
        Ok(AuditRecord {
            seq,
            event,
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }

    /// Checks the indexed columns against the hashed event.
    pub fn check_columns(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let e = &record.event;
        let checks: [(&'static str, String, String); 6] = [
            ("at_us", self.at_us.to_string(), micros(e.at).to_string()),
            ("run_id", self.run_id.clone(), e.run.0.clone()),
            (
                "identity_id",
                self.identity_id.clone(),
                e.identity.0.clone(),
            ),
            ("system", self.system.clone(), e.system.0.clone()),
            (
                "operation_id",
                self.operation_id.clone(),
                e.operation.0.clone(),
            ),
            ("action", self.action.clone(), e.action.clone()),
        ];
        for (column, column_value, event_value) in checks {
            if column_value != event_value {
                return Err(StoreError::ColumnMismatch {
                    seq: record.seq,
                    column,
                    column_value,
                    event_value,
                });
            }
        }
        Ok(())
    }
}

/// Microseconds since the epoch (the `*_us` columns).
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The event as stored in `event_json`.
pub(crate) fn event_json(event: &AuditEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::Corrupt {
        table: "audit_log",
        key: "new".to_owned(),
        message: format!("cannot serialise event: {e}"),
    })
}

/// The plan as stored in `runs.plan_json`.
pub(crate) fn plan_json(plan: &Plan) -> Result<String, StoreError> {
    serde_json::to_string(plan).map_err(|e| StoreError::Corrupt {
        table: "runs",
        key: "new".to_owned(),
        message: format!("cannot serialise plan: {e}"),
    })
}

pub(crate) fn parse_plan(run: &str, json: &str) -> Result<Plan, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        table: "runs",
        key: run.to_owned(),
        message: format!("plan_json: {e}"),
    })
}

pub(crate) fn entry_json(entry: &JournalEntry) -> Result<String, StoreError> {
    serde_json::to_string(entry).map_err(|e| StoreError::Corrupt {
        table: "journal_entries",
        key: "new".to_owned(),
        message: format!("cannot serialise entry: {e}"),
    })
}

pub(crate) fn parse_entry(id: i64, json: &str) -> Result<JournalEntry, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        table: "journal_entries",
        key: id.to_string(),
        message: format!("entry_json: {e}"),
    })
}

/// The state's tag (`in_flight`, `succeeded`, ...) for the `state` column.
pub(crate) fn state_name(state: &OperationState) -> &'static str {
    state.name()
}

/// Reads an [`AuditRow`] from a row of either backend.
pub(crate) fn audit_row<R>(row: &R) -> Result<AuditRow, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        at_us: row.try_get("at_us")?,
        run_id: row.try_get("run_id")?,
        identity_id: row.try_get("identity_id")?,
        system: row.try_get("system")?,
        operation_id: row.try_get("operation_id")?,
        action: row.try_get("action")?,
        event_json: row.try_get("event_json")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Rows to records, in the order given.
pub(crate) fn into_records(rows: Vec<AuditRow>) -> Result<Vec<AuditRecord>, StoreError> {
    rows.iter().map(AuditRow::to_record).collect()
}

/// Verifies a stream of rows (oldest first) without holding the log in memory:
/// per row, that the indexed columns agree with the hashed event and that the
/// record extends the chain; at the end, the anchor if one is given. The error
/// names the first bad seq.
pub(crate) async fn verify_stream<S>(
    mut rows: S,
    anchor: Option<&provision_core::audit::Anchor>,
) -> Result<provision_core::audit::VerifiedChain, StoreError>
where
    S: futures::Stream<Item = Result<AuditRow, sqlx::Error>> + Unpin,
{
    use futures::TryStreamExt;
    let mut verifier = match anchor {
        Some(anchor) => provision_core::audit::ChainVerifier::with_anchor(anchor.clone()),
        None => provision_core::audit::ChainVerifier::new(),
    };
    while let Some(row) = rows.try_next().await? {
        let record = row.to_record()?;
        verifier.push(&record)?;
        row.check_columns(&record)?;
    }
    Ok(verifier.finish()?)
}

/// Writes a stream of rows (oldest first) as JSON lines, one record per line, in
/// the format of [`provision_core::audit::export_jsonl`]; returns the line count.
pub(crate) async fn export_stream<S, W>(mut rows: S, mut writer: W) -> Result<u64, StoreError>
where
    S: futures::Stream<Item = Result<AuditRow, sqlx::Error>> + Unpin,
    W: std::io::Write,
{
    use futures::TryStreamExt;
    let mut lines = 0u64;
    while let Some(row) = rows.try_next().await? {
        let record = row.to_record()?;
        serde_json::to_writer(&mut writer, &record).map_err(std::io::Error::other)?;
        writer.write_all(b"\n")?;
        lines += 1;
    }
    writer.flush()?;
    Ok(lines)
}
