//! Controls and the mapping of evidence kinds onto them.
//!
//! The catalogue holds the SOC 2 common criteria for logical access and monitoring
//! and the SOX IT general controls over access. Every evidence kind maps to the
//! controls it supports; [`ControlMapping::defaults`] gives the mapping the SDK ships
//! with, and the deployment's `evidence.controls` section replaces it kind by kind
//! (an unknown control id there is a configuration error naming the field).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A control an auditor tests, e.g. `SOC2-CC6.1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ControlId(pub String);

impl ControlId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One control of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// Its id, as written in configuration and bundles.
    pub id: &'static str,
    /// What it requires, in one line.
    pub title: &'static str,
}

/// Every control the SDK knows. The first five are the defaults evidence maps to.
pub const CATALOGUE: &[Control] = &[
    Control {
        id: "SOC2-CC6.1",
        title: "Logical access security: access is restricted to authorised users (MFA, policies, access listings)",
    },
    Control {
        id: "SOC2-CC6.2",
        title: "User registration and deregistration: access is granted on authorisation and removed when no longer needed",
    },
    Control {
        id: "SOC2-CC6.3",
        title: "Role-based access: access is granted, changed and removed by role, least privilege",
    },
    Control {
        id: "SOC2-CC7.2",
        title: "Monitoring: anomalies (drift, failed changes) are detected and evaluated",
    },
    Control {
        id: "SOX-ITGC-ACCESS",
        title: "SOX IT general controls over access to programs and data: provisioning, termination, periodic review",
    },
    Control {
        id: "SOC2-CC6.6",
        title: "Logical access from outside the system boundary is restricted",
    },
    Control {
        id: "SOC2-CC6.7",
        title: "Transmission and movement of data is restricted to authorised users",
    },
    Control {
        id: "SOC2-CC6.8",
        title: "Unauthorised or malicious software is prevented or detected",
    },
    Control {
        id: "SOC2-CC7.1",
        title: "Configuration changes and vulnerabilities are detected",
    },
    Control {
        id: "SOC2-CC7.3",
        title: "Security events are evaluated to decide whether they are incidents",
    },
    Control {
        id: "SOX-ITGC-CHANGE",
        title: "SOX IT general controls over program change",
    },
];

/// The catalogue entry of `id`, if it is a known control.
pub fn control(id: &str) -> Option<&'static Control> {
    CATALOGUE.iter().find(|c| c.id == id)
}

/// The evidence kinds the SDK produces itself.
pub mod kinds {
    /// Who holds what in one system, per person, as read.
    pub const ACCESS_LISTING: &str = "access.listing";
    /// One system's listing in numbers: accounts, grants, when read.
    pub const ACCESS_SUMMARY: &str = "access.summary";
    /// A joiner's changes in one run, with their reasons.
    pub const JOINER: &str = "lifecycle.joiner";
    /// A mover's changes in one run, with their reasons.
    pub const MOVER: &str = "lifecycle.mover";
    /// A leaver's changes in one run, with their reasons.
    pub const LEAVER: &str = "lifecycle.leaver";
    /// A leaver's timeliness: termination to last revocation, per system, against the target.
    pub const LEAVER_TIMELINESS: &str = "leaver.timeliness";
    /// A drift run, clean or not.
    pub const DRIFT_RUN: &str = "drift.run";
    /// An operation that failed.
    pub const OPERATION_FAILED: &str = "operation.failed";
    /// An operation that is still pending.
    pub const OPERATION_PENDING: &str = "operation.pending";
    /// An access review decision (governance).
    pub const REVIEW_DECISION: &str = "governance.review_decision";
    /// An exception granted against policy (governance).
    pub const EXCEPTION: &str = "governance.exception";
    /// An access request and its decision (governance); its cycle time is a KPI.
    pub const REQUEST: &str = "governance.request";
}

const CC61: &str = "SOC2-CC6.1";
const CC62: &str = "SOC2-CC6.2";
const CC63: &str = "SOC2-CC6.3";
const CC72: &str = "SOC2-CC7.2";
const SOX: &str = "SOX-ITGC-ACCESS";

/// The mapping the SDK ships with.
const DEFAULTS: &[(&str, &[&str])] = &[
    (kinds::ACCESS_LISTING, &[CC61, CC63, SOX]),
    (kinds::ACCESS_SUMMARY, &[CC61]),
    (kinds::JOINER, &[CC62, SOX]),
    (kinds::MOVER, &[CC62, CC63, SOX]),
    (kinds::LEAVER, &[CC62, CC63, SOX]),
    (kinds::LEAVER_TIMELINESS, &[CC62, SOX]),
    (kinds::DRIFT_RUN, &[CC61, CC72]),
    (kinds::OPERATION_FAILED, &[CC72]),
    (kinds::OPERATION_PENDING, &[CC72]),
    (kinds::REVIEW_DECISION, &[CC62, CC63, SOX]),
    (kinds::EXCEPTION, &[CC63, SOX]),
    (kinds::REQUEST, &[CC62, SOX]),
    ("okta.mfa_enrollment", &[CC61]),
    ("okta.password_policy", &[CC61]),
    ("okta.sign_on_policy", &[CC61]),
    ("okta.deprovisioning_event", &[CC62, SOX]),
    ("google.two_step_verification", &[CC61]),
    ("aws.account_assignment", &[CC63, SOX]),
];

/// Evidence kind -> the controls it supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlMapping {
    by_kind: BTreeMap<String, Vec<ControlId>>,
}

impl Default for ControlMapping {
    fn default() -> Self {
        Self::defaults()
    }
}

impl ControlMapping {
    /// The mapping the SDK ships with: SOC 2 CC6.1, CC6.2, CC6.3, CC7.2 and SOX ITGC
    /// access, each evidence kind to the ones it supports.
    pub fn defaults() -> Self {
        let by_kind = DEFAULTS
            .iter()
            .map(|(kind, ids)| {
                (
                    (*kind).to_owned(),
                    ids.iter().map(|id| ControlId((*id).to_owned())).collect(),
                )
            })
            .collect();
        Self { by_kind }
    }

    /// Replaces the controls of `kind` (ids must be known: see [`ControlMapping::set_checked`]).
    fn set(&mut self, kind: impl Into<String>, controls: Vec<ControlId>) {
        self.by_kind.insert(kind.into(), controls);
    }

    /// Replaces the controls of `kind`; refuses an id not in the [`CATALOGUE`] and names it.
    pub fn set_checked(
        &mut self,
        kind: impl Into<String>,
        controls: &[&str],
    ) -> Result<(), UnknownControl> {
        let mut ids = Vec::with_capacity(controls.len());
        for id in controls {
            if control(id).is_none() {
                return Err(UnknownControl((*id).to_owned()));
            }
            ids.push(ControlId((*id).to_owned()));
        }
        self.set(kind, ids);
        Ok(())
    }

    /// The controls `kind` supports (empty for a kind mapped to none).
    pub fn controls_for(&self, kind: &str) -> &[ControlId] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Every control some kind maps to, sorted.
    pub fn mapped_controls(&self) -> Vec<ControlId> {
        let mut all: Vec<ControlId> = self.by_kind.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        all
    }
}

/// A control id that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown control id `{0}`; known: {known}", known = known_ids())]
pub struct UnknownControl(pub String);

/// The catalogue's ids, comma separated.
pub fn known_ids() -> String {
    CATALOGUE
        .iter()
        .map(|c| c.id)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_control_is_in_the_catalogue() {
        for id in ControlMapping::defaults().mapped_controls() {
            assert!(control(id.as_str()).is_some(), "{id}");
        }
    }

    #[test]
    fn an_unknown_control_is_refused_by_name() {
        let mut m = ControlMapping::defaults();
        let err = m.set_checked("okta.mfa_enrollment", &["SOC2-CC9.9"]);
        assert_eq!(err, Err(UnknownControl("SOC2-CC9.9".to_owned())));
        assert_eq!(
            m.controls_for("okta.mfa_enrollment")[0].as_str(),
            "SOC2-CC6.1"
        );
    }
}
