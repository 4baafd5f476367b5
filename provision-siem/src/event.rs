//! What a SIEM receives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use provision_core::audit::AuditRecord;
use provision_core::drift::Finding;

/// One event for a SIEM, serialised as one JSON object with a `type` tag.
///
/// ```json
/// {"type":"audit","record":{"seq":7,"event":{...},"prev_hash":"…","hash":"…"}}
/// {"type":"drift_finding","at":"2026-12-01T09:00:00Z","finding":{...}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SiemEvent {
    /// A record of the audit log.
    Audit {
        /// The record, with its seq and hash chain.
        record: AuditRecord,
    },
    /// A drift finding, when it was found.
    DriftFinding {
        /// When the drift run reported it.
        at: DateTime<Utc>,
        /// The finding.
        finding: Finding,
    },
}

impl SiemEvent {
    /// The audit seq, for audit records.
    pub fn seq(&self) -> Option<u64> {
        match self {
            SiemEvent::Audit { record } => Some(record.seq),
            SiemEvent::DriftFinding { .. } => None,
        }
    }

    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            SiemEvent::Audit { record } => record.event.at,
            SiemEvent::DriftFinding { at, .. } => *at,
        }
    }

    /// A short name of what happened (`audit.grant`, `drift.missing_grant`), used as
    /// the syslog MSGID.
    pub fn name(&self) -> String {
        match self {
            SiemEvent::Audit { record } => format!("audit.{}", record.event.action),
            SiemEvent::DriftFinding { finding, .. } => format!("drift.{}", finding.class),
        }
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
