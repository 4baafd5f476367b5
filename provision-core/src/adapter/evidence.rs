//! Evidence reads: an optional, read-only adapter capability.
//!
//! Some systems can say more than "who holds what": Okta knows which active users
//! enrolled an MFA factor and what its password and sign-on policies are, Google
//! knows who turned on 2-step verification, AWS lists account assignments. An
//! adapter that can read such facts returns an [`EvidenceSource`] from
//! [`Adapter::evidence_source`](super::Adapter::evidence_source); the evidence
//! module turns what it collects into control-mapped, fingerprinted evidence rows.
//!
//! Evidence reads never change anything, and an adapter should use read-only
//! scopes for them where the system has such scopes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AdapterError;
use crate::model::SystemName;

/// One fact an adapter read as evidence, before it is mapped to controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CollectedEvidence {
    /// The system it was read from.
    pub system: SystemName,
    /// What kind of fact this is, namespaced by system, e.g. `okta.mfa_enrollment`,
    /// `okta.password_policy`, `okta.deprovisioning_event`, `google.two_step_verification`,
    /// `aws.account_assignment`. The control mapping is keyed by it.
    pub kind: String,
    /// Whom or what it is about (a login, a policy id), when it is about one thing.
    pub subject: Option<String>,
    /// When it was read (or, for a log event, when the event happened).
    pub collected_at: DateTime<Utc>,
    /// The fact itself, as the system gave it (secrets never included).
    pub data: serde_json::Value,
}

impl CollectedEvidence {
    /// A fact of `kind` read from `system` at `collected_at`.
    pub fn new(
        system: impl Into<SystemName>,
        kind: impl Into<String>,
        collected_at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        CollectedEvidence {
            system: system.into(),
            kind: kind.into(),
            subject: None,
            collected_at,
            data,
        }
    }

    /// The same fact, about `subject`.
    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// An adapter's evidence reads.
#[async_trait]
pub trait EvidenceSource: Send + Sync {
    /// The evidence kinds this source can collect (each a [`CollectedEvidence::kind`]).
    fn evidence_kinds(&self) -> Vec<String>;

    /// Reads every evidence kind it offers, draining pagination itself.
    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError>;
}
