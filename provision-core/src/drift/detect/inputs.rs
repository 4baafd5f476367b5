//! What a drift run compares against besides the two states.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::adapter::SystemDescriptor;
use crate::config::DeploymentConfig;
use crate::model::{OperationId, PolicySet, SystemName};

use super::*;

/// Everything a drift run compares against besides the two states.
///
/// ```
/// # use std::collections::{BTreeMap, BTreeSet};
/// # use provision_core::config::DeploymentConfig;
/// # use provision_core::drift::{DriftInputs, detect_drift};
/// # use provision_core::model::{ActualState, DesiredState};
/// let config = DeploymentConfig::default();
/// let descriptors = BTreeMap::new();
/// let in_flight = BTreeSet::new();
/// let now = chrono::Utc::now();
/// let inputs = DriftInputs::new(&config, &descriptors, now)
///     .in_flight(&in_flight)
///     .stale_after(chrono::Duration::days(90));
/// let report = detect_drift(&DesiredState::default(), &ActualState::default(), &inputs);
/// assert!(!report.has_drift());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DriftInputs<'a> {
    /// The deployment: enforcement, ownership and remediation mode per system.
    pub config: &'a DeploymentConfig,
    /// What each system can do (suspend, revoke sessions, accounts on first login).
    pub descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
    /// Operations known to be in flight (journal entries not yet final): a
    /// difference one of them resolves is pending, not drift.
    pub in_flight: &'a BTreeSet<OperationId>,
    /// When each system was read (its snapshot's `read_at`), for the evidence.
    pub read_at: &'a BTreeMap<SystemName, DateTime<Utc>>,
    /// Extra policies whose resources count as managed, besides the desired
    /// state's [`DesiredState::managed_resources`] (which `planner::desired`
    /// already fills from the policies; this is for hand-built desired states).
    pub policies: Option<&'a PolicySet>,
    /// The time the comparison is for (terminations and validity windows).
    pub now: DateTime<Utc>,
    /// Report active accounts whose last sign-in is older than this; `None`: no
    /// stale findings.
    pub stale_after: Option<Duration>,
}

impl<'a> DriftInputs<'a> {
    /// Inputs with nothing in flight, no read times, no policies and no stale threshold.
    pub fn new(
        config: &'a DeploymentConfig,
        descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            config,
            descriptors,
            in_flight: &NO_OPERATIONS,
            read_at: &NO_READ_TIMES,
            policies: None,
            now,
            stale_after: None,
        }
    }

    /// Builder-style: the operations in flight.
    pub fn in_flight(mut self, in_flight: &'a BTreeSet<OperationId>) -> Self {
        self.in_flight = in_flight;
        self
    }

    /// Builder-style: when each system was read.
    pub fn read_at(mut self, read_at: &'a BTreeMap<SystemName, DateTime<Utc>>) -> Self {
        self.read_at = read_at;
        self
    }

    /// Builder-style: the policies (to know every resource they mention).
    pub fn policies(mut self, policies: &'a PolicySet) -> Self {
        self.policies = Some(policies);
        self
    }

    /// Builder-style: the stale-account threshold.
    pub fn stale_after(mut self, threshold: Duration) -> Self {
        self.stale_after = Some(threshold);
        self
    }
}
