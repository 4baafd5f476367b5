//! # provision-siem
//!
//! SIEM streaming: audit records and drift findings, streamed out to one or more
//! sinks as they are written. The kernel (`provision-core`) knows nothing of SIEM:
//! this crate reads its audit log ([`AuditFeed`]) and wraps the log the engine
//! writes to ([`WakingAuditLog`]).
//!
//! * [`SiemEvent`] — what goes out: an audit record (with its seq and hash chain) or
//!   a drift finding, as one JSON object.
//! * [`SiemSink`] — where it goes: [`JsonLinesSink`] (a file or stdout),
//!   [`SyslogTcpSink`] (RFC 5424 over TCP, octet-counting framing per RFC 6587) and,
//!   with the `http` feature, `HttpSink` (batches of JSON lines POSTed to a
//!   receiver, over `provision-http`'s client; without the feature this crate
//!   depends on no HTTP client).
//! * [`AuditFeed`] and [`CursorStore`] — the audit log read from a position, and a
//!   durable per-sink cursor (the seq and hash of the last record the sink
//!   acknowledged). `provision-store` keeps cursors in its database.
//! * [`SinkPump`] and [`SiemExporter`] — delivery: records in seq order, in
//!   batches, retried with exponential backoff, the cursor advanced only after the
//!   sink acknowledged a batch. A receiver that was down gets, once it is back,
//!   every record it missed, in order, and none twice.
//! * [`WakingAuditLog`] — wraps the audit log the engine writes to, so each append
//!   wakes the pumps: records stream out as they are written, not at the next poll.
//!
//! # Delivery guarantees
//!
//! Audit records are delivered **in seq order, each once**, provided the sink's
//! acknowledgement is meaningful: the HTTP sink counts a 2xx as acknowledged, and
//! sends each record's `seq` and each batch's range (`first..=last`) so a receiver
//! can drop the one batch that is re-sent if the exporter stops between the
//! receiver's 2xx and the cursor write. The cursor also keeps the hash of the last
//! delivered record; when the log no longer has that hash at that seq (it was
//! rewritten) delivery stops with [`SiemError::CursorMismatch`].
//!
//! Syslog over TCP has no application acknowledgement: a write the kernel accepted
//! may still be lost when the receiver goes away. [`SyslogTcpSink`] notices a
//! closed connection before each batch, reconnects and re-sends the batch that
//! failed, and carries each record's seq in its structured data
//! (`[provision@32473 seq="…"]`) so gaps and repeats are visible to the receiver.
//!
//! Findings are not in the audit log; [`SiemExporter::publish_findings`] sends
//! them to every sink directly (retried, but with no cursor).
//!
//! ```no_run
//! use std::sync::Arc;
//! use provision_core::audit::JsonlAuditLog;
//! use provision_siem::{
//!     DeliveryConfig, JsonLinesSink, MemoryCursorStore, ScanFeed, SiemExporter, SiemSink,
//!     SyslogTcpSink,
//! };
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The audit log a run wrote, streamed to a file and to a syslog receiver.
//! let log = JsonlAuditLog::open("audit.jsonl")?;
//! let sinks: Vec<Arc<dyn SiemSink>> = vec![
//!     Arc::new(JsonLinesSink::file("archive", "/var/log/provision/audit.jsonl")?),
//!     Arc::new(SyslogTcpSink::new("syslog", "siem.example.com:6514")),
//! ];
//! let exporter = SiemExporter::new(
//!     Arc::new(ScanFeed(log)),
//!     Arc::new(MemoryCursorStore::new()), // provision-store keeps them durably
//!     sinks,
//!     DeliveryConfig::default(),
//! )?;
//! exporter.run(|| std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod cursor;
mod event;
mod exporter;
#[cfg(feature = "http")]
pub mod http;
mod jsonl;
mod pump;
mod sink;
mod syslog;
mod waking;

pub use cursor::{AuditFeed, CursorStore, MemoryCursorStore, ScanFeed, SinkCursor};
pub use event::SiemEvent;
pub use exporter::SiemExporter;
#[cfg(feature = "http")]
pub use http::HttpSink;
pub use jsonl::JsonLinesSink;
pub use pump::{DeliveryConfig, SinkPump};
pub use sink::{SiemError, SiemSink, SinkError};
pub use syslog::{SyslogTcpSink, format_rfc5424, frame_octet_counted};
pub use waking::{SiemWaker, WakingAuditLog};
