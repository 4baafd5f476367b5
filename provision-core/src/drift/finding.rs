//! One drift finding: what differs, how bad it is, what was read, and the fix.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AccountState, Entitlement, IdentityId, Operation, OperationId, SystemName};

/// The kind of difference between desired and actual state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftClass {
    /// A policy says yes, the system says no: a grant or an account is missing
    /// (or the account is suspended or deprovisioned).
    Missing,
    /// The system says yes, no policy does: a grant made by hand on a resource the
    /// SDK manages, or a grant a terminated identity still holds.
    Unmanaged,
    /// An account that should not be enabled: it matches no identity, or it belongs
    /// to a terminated identity.
    Orphaned,
    /// A difference on a target an external engine owns: reported, never touched.
    ForeignOwned,
    /// A difference a known in-flight operation (or the system itself, e.g. an
    /// account created on first SSO login) is about to resolve: not drift.
    Pending,
    /// An active account nobody signed in to for longer than the threshold.
    Stale,
    /// A person holds a combination a separation-of-duties rule forbids, and no
    /// active exception covers it (`crate::governance`).
    SodConflict,
    /// An exception ended and nothing renews it; its grant is revoked on the next
    /// run (`crate::governance`).
    ExpiredException,
}

impl DriftClass {
    /// The name used in reports (`missing`, `unmanaged`, `orphaned`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::Missing => "missing",
            DriftClass::Unmanaged => "unmanaged",
            DriftClass::Orphaned => "orphaned",
            DriftClass::ForeignOwned => "foreign_owned",
            DriftClass::Pending => "pending",
            DriftClass::Stale => "stale",
            DriftClass::SodConflict => "sod_conflict",
            DriftClass::ExpiredException => "expired_exception",
        }
    }
}

impl fmt::Display for DriftClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a finding is. Ordered from least (`Info`) to most (`Critical`) urgent.
///
/// | finding | severity |
/// | --- | --- |
/// | orphaned: enabled account of a terminated identity | critical |
/// | orphaned: enabled account matching no identity | high |
/// | unmanaged grant held by a terminated identity | high |
/// | unmanaged grant where the kind's enforcement is authoritative | high |
/// | unmanaged grant on a policy-managed resource under `report` enforcement | medium |
/// | missing grant or account, or a disabled account that should be enabled | medium |
/// | unmanaged grant on a policy-managed resource under additive enforcement | low |
/// | stale account (no sign-in for longer than the threshold) | low |
/// | foreign-owned difference | info |
/// | pending | info |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// For the record; no action.
    Info,
    /// Worth a look in the next review.
    Low,
    /// Someone lacks access, or a manual change is reported.
    Medium,
    /// Access nobody approved.
    High,
    /// An enabled account of a person who left.
    Critical,
}

impl Severity {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: an account or a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "subject", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Subject {
    /// The identity's account in the finding's system.
    Account {
        /// The system's id of the account, when one was read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        /// The state read, `None` when no account was found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<AccountState>,
    },
    /// One grant.
    Grant {
        /// The entitlement.
        entitlement: Entitlement,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Account { external_id, state } => {
                f.write_str("account")?;
                if let Some(id) = external_id {
                    write!(f, " {id}")?;
                }
                if let Some(state) = state {
                    write!(f, " ({})", account_state_name(*state))?;
                }
                Ok(())
            }
            Subject::Grant { entitlement } => write!(f, "grant {entitlement}"),
        }
    }
}

/// The lower-case name of an account state, as reports write it.
pub(crate) fn account_state_name(state: AccountState) -> &'static str {
    match state {
        AccountState::Active => "active",
        AccountState::Staged => "staged",
        AccountState::Suspended => "suspended",
        AccountState::Deprovisioned => "deprovisioned",
    }
}

/// What was read, from where and when, and what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The system read.
    pub system: SystemName,
    /// When the system was read (the snapshot's `read_at`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    /// What the read showed, in words: `account 00u1 state=active, last login ...`,
    /// `no grant`.
    pub observed: String,
    /// What the policies and the HR source say instead.
    pub expected: String,
    /// The policies that give the entitlement, for missing grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// The external engine that owns the target, for foreign-owned findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The in-flight operation that explains a pending finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<OperationId>,
}

/// Where the holder of an account or grant stands with the HR source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Holder {
    /// A known identity that is not terminated (active or on leave).
    Current,
    /// A known identity whose termination is in effect.
    Terminated,
    /// No identity in the HR source: an account that matched nobody, or an identity
    /// the actual state knows and the desired state does not. Never fixed
    /// automatically (it may be a service or break-glass account).
    Unknown,
}

/// One difference between what should be and what is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of difference.
    pub class: DriftClass,
    /// How urgent.
    pub severity: Severity,
    /// The identity concerned; `None` for an account that matches no identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityId>,
    /// Where the holder stands with the HR source.
    pub holder: Holder,
    /// The account's login (the identity's login, or the orphan account's own).
    pub login: String,
    /// The system.
    pub system: SystemName,
    /// The account or grant concerned.
    #[serde(flatten)]
    pub subject: Subject,
    /// What was read, when, and what was expected.
    pub evidence: Evidence,
    /// The operations that would fix it, in the order they would run (sessions
    /// before suspension). Empty for foreign-owned and pending findings, and where
    /// the system cannot make the change. Whether they are applied depends on the
    /// system's `drift_remediation` (see [`super::DriftReport::remediation_plan`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remediation: Vec<Operation>,
}

impl Finding {
    /// Whether someone must act on it: it has a fix, or it is more severe than
    /// [`Severity::Info`].
    pub fn needs_action(&self) -> bool {
        !self.remediation.is_empty() || self.severity > Severity::Info
    }
}

impl fmt::Display for Finding {
    /// One line: severity, class, identity, system, what, and the fix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.identity {
            Some(id) => id.as_str(),
            None => "(no identity)",
        };
        write!(
            f,
            "[{}] {} {} <{}> {}: {}; observed {}, expected {}",
            self.severity,
            self.class,
            who,
            self.login,
            self.system,
            self.subject,
            self.evidence.observed,
            self.evidence.expected,
        )?;
        if let Some(owner) = &self.evidence.owner {
            write!(f, "; owned by {owner}")?;
        }
        if let Some(op) = &self.evidence.in_flight {
            write!(f, "; in flight: {op}")?;
        }
        if let Some(at) = self.evidence.read_at {
            write!(f, "; read {}", at.to_rfc3339())?;
        }
        if self.remediation.is_empty() {
            f.write_str(" -> fix: none")
        } else {
            f.write_str(" -> fix: ")?;
            for (i, op) in self.remediation.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", op.id)?;
            }
            Ok(())
        }
    }
}
