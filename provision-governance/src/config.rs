//! Who approves and who reviews: per system, kind or resource. Built in code or
//! deserialized (serde) from a document of this shape:
//!
//! ```yaml
//! manager_attribute: manager        # the roster attribute holding a manager's id
//! stale_after_days: 90
//! max_request_days: 30              # the longest request window, unless a rule says
//! max_open_requests: 20             # open requests per requester
//! max_requests_per_hour: 30         # requests one requester may open in an hour
//! approvers:                        # most specific first wins: resource, then kind, then system
//!   - {system: slack, kind: channel, approver: auto}
//!   - {system: aws, approver: {owner: "cloud-team-lead"}, max_days: 7}
//!   - {system: salesforce, resource: "Sales Engineer", approver: manager}
//!   - {system: jira, kind: project_role, approver: manager, allow_self_approval: true}
//! owners:                           # reviewers of accounts and grants with no manager
//!   - {system: aws, owner: "cloud-team-lead"}
//! ```

use serde::{Deserialize, Serialize};

use provision_core::model::{Entitlement, SystemName};

/// Where an approval comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApproverSource {
    /// The person's manager, from the roster.
    Manager,
    /// A named owner.
    Owner(String),
    /// Approved on submission (low-risk kinds).
    Auto,
}

/// Which entitlements a setting applies to: a system, optionally a kind, optionally
/// one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Canonical system name.
    pub system: String,
    /// Resource kind (any when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Resource (any when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Target {
    /// How specifically this target names `e`: `None` when it does not; 1 system,
    /// 2 kind, 3 resource.
    pub fn specificity(&self, e: &Entitlement) -> Option<u8> {
        if e.system.as_str() != self.system {
            return None;
        }
        if self.kind.as_ref().is_some_and(|k| *k != e.kind) {
            return None;
        }
        if self.resource.as_ref().is_some_and(|r| *r != e.resource) {
            return None;
        }
        Some(1 + u8::from(self.kind.is_some()) + u8::from(self.resource.is_some()))
    }

    /// True when this target covers a whole system's accounts.
    pub fn is_system(&self, system: &SystemName) -> bool {
        self.system == system.as_str() && self.kind.is_none() && self.resource.is_none()
    }
}

/// Who approves requests for a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRule {
    /// What it applies to.
    #[serde(flatten)]
    pub target: Target,
    /// Who approves.
    pub approver: ApproverSource,
    /// Lets the requester or the beneficiary approve (four eyes waived for this
    /// target). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_self_approval: bool,
    /// The longest window a request for this target may ask for, in days (default:
    /// the settings' `max_request_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<i64>,
}

/// Who owns a target: reviews what has no manager to review it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRule {
    /// What it applies to.
    #[serde(flatten)]
    pub target: Target,
    /// The owner (a person's id or a team's name).
    pub owner: String,
}

/// Governance settings of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceConfig {
    /// The roster attribute holding a person's manager's id.
    #[serde(default = "default_manager_attribute")]
    pub manager_attribute: String,
    /// Approvers per system, kind or resource; the most specific wins.
    #[serde(default)]
    pub approvers: Vec<ApproverRule>,
    /// Who approves when no rule names the entitlement.
    #[serde(default = "default_approver")]
    pub default_approver: ApproverSource,
    /// Owners per system, kind or resource.
    #[serde(default)]
    pub owners: Vec<OwnerRule>,
    /// An account unused for this many days makes its grants stale.
    #[serde(default = "default_stale_days")]
    pub stale_after_days: i64,
    /// The longest window an access request may ask for, in days, where its approver
    /// rule names none (default 30).
    #[serde(default = "default_max_request_days")]
    pub max_request_days: i64,
    /// How many requests one requester may have open (pending, approved or
    /// provisioned) at once (default 20): a flood of requests is refused, not queued.
    #[serde(default = "default_max_open_requests")]
    pub max_open_requests: usize,
    /// How many requests one requester may open in an hour (default 30), counted
    /// from the store, so several instances share the count.
    #[serde(default = "default_max_requests_per_hour")]
    pub max_requests_per_hour: usize,
}

fn default_manager_attribute() -> String {
    "manager".into()
}
fn default_approver() -> ApproverSource {
    ApproverSource::Manager
}
fn default_stale_days() -> i64 {
    90
}
fn default_max_request_days() -> i64 {
    30
}
fn default_max_open_requests() -> usize {
    20
}
fn default_max_requests_per_hour() -> usize {
    30
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        Self {
            manager_attribute: default_manager_attribute(),
            approvers: Vec::new(),
            default_approver: default_approver(),
            owners: Vec::new(),
            stale_after_days: default_stale_days(),
            max_request_days: default_max_request_days(),
            max_open_requests: default_max_open_requests(),
            max_requests_per_hour: default_max_requests_per_hour(),
        }
    }
}

impl GovernanceConfig {
    /// Who approves requests for `e`.
    pub fn approver_for(&self, e: &Entitlement) -> &ApproverSource {
        self.approver_rule(e)
            .map_or(&self.default_approver, |r| &r.approver)
    }

    /// The longest window, in days, a request for `e` may ask for.
    pub fn max_days_for(&self, e: &Entitlement) -> i64 {
        self.approver_rule(e)
            .and_then(|r| r.max_days)
            .unwrap_or(self.max_request_days)
    }

    /// True when the rule for `e` waives four eyes (`allow_self_approval`).
    pub fn self_approval_allowed(&self, e: &Entitlement) -> bool {
        self.approver_rule(e).is_some_and(|r| r.allow_self_approval)
    }

    /// The most specific approver rule covering `e`.
    fn approver_rule(&self, e: &Entitlement) -> Option<&ApproverRule> {
        self.approvers
            .iter()
            .filter_map(|r| r.target.specificity(e).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r)
    }

    /// The owner of `e`, if one is named.
    pub fn owner_of(&self, e: &Entitlement) -> Option<&str> {
        self.owners
            .iter()
            .filter_map(|r| r.target.specificity(e).map(|s| (s, r.owner.as_str())))
            .max_by_key(|(s, _)| *s)
            .map(|(_, o)| o)
    }

    /// The owner of `system` as a whole, if one is named.
    pub fn system_owner(&self, system: &SystemName) -> Option<&str> {
        self.owners
            .iter()
            .find(|r| r.target.is_system(system))
            .map(|r| r.owner.as_str())
    }
}
