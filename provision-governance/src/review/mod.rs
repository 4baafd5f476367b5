//! Access reviews: a campaign over a scope (systems, kinds, a department) gives each
//! reviewer only what needs a decision, ranked by risk, each item with its evidence
//! and its fix. What policy explains is certified by the policy and only counted.
//!
//! * [`generate`] builds a [`Campaign`] from the roster, desired and actual state;
//! * [`check_decision`] refuses a decision for an item not in the campaign, by
//!   someone who is not its reviewer, on an item already decided, or a keep without
//!   a reason and an expiry;
//! * [`campaign_state`] says where a campaign stands;
//! * [`export`] writes a reviewer's list as CSV, JSON and a self-contained HTML page;
//! * [`import`] reads a reviewer's filled CSV back as decisions, and
//!   [`check_rows`] checks them all before any is stored, naming each refused row.

mod decide;
pub mod export;
mod generate;
pub mod import;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use provision_core::drift::Severity;
use provision_core::model::{Entitlement, IdentityId, Operation, SystemName};

pub use decide::{
    CampaignState, ReviewerProgress, campaign_state, check_decision, check_rows, revocations,
};
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
    /// Until when a keep lasts: the exception a keep becomes expires then. A
    /// campaign without one (opened before campaigns carried it) needs an expiry with
    /// every keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<DateTime<Utc>>,
    /// What closing the campaign does with the items nobody decided.
    #[serde(default)]
    pub no_response: NoResponse,
    /// Lets a reviewer decide an item about their own access. Off by default: nobody
    /// certifies their own access.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self_review: bool,
    /// The campaign whose undecided items this one escalated to the reviewers'
    /// managers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<String>,
}

/// What closing a campaign does with the items nobody decided by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoResponse {
    /// Revoke them: their fixes run through the gate and the executor.
    Revoke,
    /// Keep them until the campaign's `keep_until` (each becomes an exception).
    Keep,
    /// Open a follow-up campaign giving them to each reviewer's manager.
    #[default]
    Escalate,
}

impl NoResponse {
    /// Its name (`revoke`, `keep`, `escalate`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoResponse::Revoke => "revoke",
            NoResponse::Keep => "keep",
            NoResponse::Escalate => "escalate",
        }
    }
}

impl std::fmt::Display for NoResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign closed: no decision is accepted after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignClosure {
    /// The campaign.
    pub campaign: String,
    /// When.
    pub closed_at: DateTime<Utc>,
    /// Who closed it.
    pub closed_by: String,
    /// The no-response rule applied to the undecided items.
    pub rule: NoResponse,
    /// The items nobody decided, to which the rule was applied.
    pub undecided: Vec<String>,
    /// The follow-up campaign, when the rule escalated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_to: Option<String>,
}

/// What a new campaign is: its name, scope, due time, and how keeps and silence
/// are treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// Its name ("Q4 2026 access review").
    pub name: String,
    /// What it covers.
    pub scope: ReviewScope,
    /// When decisions are due.
    pub due_at: DateTime<Utc>,
    /// Until when a keep lasts (the exception's expiry); `None`: every keep must
    /// give its own.
    pub keep_until: Option<DateTime<Utc>>,
    /// What closing does with undecided items.
    pub no_response: NoResponse,
    /// Lets reviewers decide items about their own access (off by default).
    pub allow_self_review: bool,
}

impl NewCampaign {
    /// A campaign named `name` over `scope`, due at `due_at`; keeps last 90 days
    /// after the due date; undecided items escalate; no self-review.
    pub fn new(name: impl Into<String>, scope: ReviewScope, due_at: DateTime<Utc>) -> Self {
        Self {
            name: name.into(),
            scope,
            due_at,
            keep_until: Some(due_at + chrono::Duration::days(DEFAULT_KEEP_DAYS)),
            no_response: NoResponse::default(),
            allow_self_review: false,
        }
    }
}

/// How long a keep lasts after the due date unless the campaign says otherwise: a
/// quarter, until the next review.
pub const DEFAULT_KEEP_DAYS: i64 = 90;

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
    /// How the decision came and how its reviewer was authenticated (an HTTP
    /// caller's method, a CSV file imported by whom, the no-response rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}
