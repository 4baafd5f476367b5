//! Evidence rows: typed, control-mapped, fingerprinted facts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::controls::{ControlId, ControlMapping};
use crate::fingerprint::{Fingerprint, fingerprint};
use provision_core::adapter::CollectedEvidence;
use provision_core::model::SystemName;

/// The `system` of evidence about the SDK's own work across systems (a drift run,
/// a leaver's timeliness everywhere).
pub const SDK_SYSTEM: &str = "provision";

/// One piece of evidence, as stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRow {
    /// SHA-256 of the canonical JSON of kind, system, subject and data.
    pub fingerprint: Fingerprint,
    /// What kind of fact (`access.listing`, `leaver.timeliness`, `okta.mfa_enrollment`).
    pub kind: String,
    /// The system it was read from, or [`SDK_SYSTEM`].
    pub system: SystemName,
    /// Whom or what it is about (an identity id, a policy id), when one thing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The controls it supports.
    pub controls: Vec<ControlId>,
    /// When it was (first) collected.
    pub collected_at: DateTime<Utc>,
    /// The evidence run that (first) produced it.
    pub run: String,
    /// The fact.
    pub data: serde_json::Value,
}

impl EvidenceRow {
    /// A row of `kind`, its controls from `mapping` and its fingerprint computed.
    pub fn new(
        kind: impl Into<String>,
        system: impl Into<SystemName>,
        subject: Option<String>,
        collected_at: DateTime<Utc>,
        run: impl Into<String>,
        data: serde_json::Value,
        mapping: &ControlMapping,
    ) -> Self {
        let kind = kind.into();
        let system = system.into();
        let fingerprint = fingerprint(&kind, system.as_str(), subject.as_deref(), &data);
        Self {
            fingerprint,
            controls: mapping.controls_for(&kind).to_vec(),
            kind,
            system,
            subject,
            collected_at,
            run: run.into(),
            data,
        }
    }

    /// A row from what an adapter's evidence read collected.
    pub fn from_collected(
        collected: CollectedEvidence,
        run: impl Into<String>,
        mapping: &ControlMapping,
    ) -> Self {
        Self::new(
            collected.kind,
            collected.system,
            collected.subject,
            collected.collected_at,
            run,
            collected.data,
            mapping,
        )
    }

    /// True when the stored fingerprint is the fingerprint of the row's content
    /// (false: the row was altered after it was stored).
    pub fn fingerprint_holds(&self) -> bool {
        fingerprint(
            &self.kind,
            self.system.as_str(),
            self.subject.as_deref(),
            &self.data,
        ) == self.fingerprint
    }
}
