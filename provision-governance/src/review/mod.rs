//! Access reviews: a campaign over a scope (systems, kinds, a department) gives each
//! reviewer only what needs a decision, ranked by risk, each item with its evidence
//! and its fix. What policy explains is certified by the policy and only counted.
//!
//! * [`generate`] builds a [`Campaign`] from the roster, desired and actual state;
//! * [`check_decision`] refuses a decision for an item not in the campaign, by
//!   someone who is not its reviewer, on an item already decided, or a keep without
//!   a reason and an expiry;
//! * [`campaign_state`] says where a campaign stands;
//! * [`export`] writes a reviewer's list as CSV, JSON and a self-contained HTML page.

mod decide;
pub mod export;
mod generate;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use provision_core::drift::Severity;
use provision_core::model::{Entitlement, IdentityId, Operation, SystemName};

pub use decide::{CampaignState, ReviewerProgress, campaign_state, check_decision, revocations};
pub use generate::{ReviewInputs, generate};

/// What a campaign covers. Empty sets mean "all".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReviewScope {
    /// Systems (canonical names).
    #[serde(default)]
    pub systems: BTreeSet<String>,
    /// Resource kinds.
    #[serde(default)]
    pub kinds: BTreeSet<String>,
    /// A department (the roster's `department` attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

impl ReviewScope {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only these systems.
    pub fn systems<I: IntoIterator<Item = S>, S: Into<String>>(mut self, systems: I) -> Self {
        self.systems = systems.into_iter().map(Into::into).collect();
        self
    }

    /// Only these kinds.
    pub fn kinds<I: IntoIterator<Item = S>, S: Into<String>>(mut self, kinds: I) -> Self {
        self.kinds = kinds.into_iter().map(Into::into).collect();
        self
    }

    /// Only this department.
    pub fn department(mut self, department: impl Into<String>) -> Self {
        self.department = Some(department.into());
        self
    }

    /// True when `system` is in scope.
    pub fn has_system(&self, system: &SystemName) -> bool {
        self.systems.is_empty() || self.systems.contains(system.as_str())
    }

    /// True when the grant `e` is in scope (system and kind).
    pub fn has_grant(&self, e: &Entitlement) -> bool {
        self.has_system(&e.system) && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
    }

    /// True when a person of `department` is in scope.
    pub fn has_department(&self, department: Option<&str>) -> bool {
        self.department
            .as_deref()
            .is_none_or(|d| department == Some(d))
    }
}

/// What kind of finding an item is, in risk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A terminated person's account is still active.
    TerminatedActive,
    /// A person holds a combination a separation-of-duties rule forbids.
    SodConflict,
    /// A grant no policy, exception or request explains (hand-made, or left by an
    /// expired exception).
    OutsidePolicy,
    /// A grant in an account the system reports unused for too long.
    Stale,
    /// An account no one in the roster owns.
    NoOwner,
}

impl ItemKind {
    /// The name used in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::TerminatedActive => "terminated_active",
            ItemKind::SodConflict => "sod_conflict",
            ItemKind::OutsidePolicy => "outside_policy",
            ItemKind::Stale => "stale",
            ItemKind::NoOwner => "no_owner",
        }
    }
}

/// One thing a reviewer must decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// Its id within the campaign (`i-0001`, in risk order).
    pub id: String,
    /// What it is.
    pub kind: ItemKind,
    /// How bad.
    pub severity: Severity,
    /// Who decides (a manager's id, or an owner).
    pub reviewer: String,
    /// The person, when the account is matched to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityId>,
    /// The person's name (or the account's login).
    pub person: String,
    /// The account's login.
    pub login: String,
    /// The person's department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The system.
    pub system: SystemName,
    /// The grant, for grant items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    /// The SoD rule, for conflicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What was read and why it needs a decision.
    pub evidence: Vec<String>,
    /// The fix, in a sentence.
    pub fix: String,
    /// The operations a revoke decision runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_operations: Vec<Operation>,
}

/// A review campaign: its scope, its items (fixed when it opens) and what policy
/// certified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Its id.
    pub id: String,
    /// Its name ("Q4 2026 access review").
    pub name: String,
    /// What it covers.
    pub scope: ReviewScope,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When decisions are due.
    pub due_at: DateTime<Utc>,
    /// What needs a decision, in risk order.
    pub items: Vec<ReviewItem>,
    /// Grants in scope that policy explains: certified by the policy, counted only.
    pub certified: usize,
    /// Grants in scope in all (certified plus those with an item).
    pub grants_in_scope: usize,
}

impl Campaign {
    /// The item `id`.
    pub fn item(&self, id: &str) -> Option<&ReviewItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The items of `reviewer`, in risk order.
    pub fn items_for<'a>(&'a self, reviewer: &'a str) -> impl Iterator<Item = &'a ReviewItem> {
        self.items.iter().filter(move |i| i.reviewer == reviewer)
    }

    /// Every reviewer with at least one item.
    pub fn reviewers(&self) -> BTreeSet<&str> {
        self.items.iter().map(|i| i.reviewer.as_str()).collect()
    }
}

/// A reviewer's decision on one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Outcome {
    /// Keep it, for this reason, until this time: it becomes an exception.
    Keep {
        /// Why.
        reason: String,
        /// Until when (required).
        expires_at: Option<DateTime<Utc>>,
    },
    /// Revoke it: its fix runs through the executor.
    Revoke {
        /// Why.
        reason: String,
    },
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The campaign.
    pub campaign: String,
    /// The item.
    pub item: String,
    /// Who decided.
    pub reviewer: String,
    /// What.
    pub outcome: Outcome,
    /// When.
    pub decided_at: DateTime<Utc>,
    /// The exception a keep became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}
