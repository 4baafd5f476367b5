//! Drift detection: desired against actual state, classified, with the fix for each
//! difference and a per-system choice of which fixes to apply.
//!
//! A drift run is the pipeline without the executor: read every system once (one
//! paginated read per system and kind), correlate into an
//! [`ActualState`], then [`detect_drift`] compares it
//! with the [`DesiredState`](crate::model::DesiredState) — a pure, synchronous
//! walk. The [`DriftReport`] lists the [`Finding`]s, most urgent first, each with
//! its [`Severity`], its [`Evidence`] (what was read, from which system, when) and
//! the [`Operation`](crate::model::Operation)s that would fix it.
//! [`DriftReport::remediation_plan`] picks the fixes each system's
//! [`DriftRemediation`] mode allows, as a [`Plan`](crate::model::Plan) for the
//! orderer and executor; every one of its operations has the reason kind
//! [`ReasonKind::DriftRemediation`](crate::model::ReasonKind::DriftRemediation).
//!
//! Classes ([`DriftClass`]): missing, unmanaged, orphaned, foreign-owned, pending
//! and stale. The severity table is on [`Severity`].

mod detect;
mod finding;
mod remediation;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::config::DriftRemediation;
pub use detect::{DriftInputs, UNMATCHED, detect_drift};
pub use finding::{DriftClass, Evidence, Finding, Holder, Severity, Subject};

use std::sync::Arc;

use crate::model::{ActualState, SystemName, SystemSnapshot};

/// The findings of one drift run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DriftReport {
    /// The time the comparison was made for.
    pub generated_at: DateTime<Utc>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// What the systems held when the run read them (empty unless the
    /// [`Engine`](crate::engine::Engine) made the report): a remediation plan is
    /// checked against it and carries its account ids.
    #[serde(skip)]
    pub actual: Arc<ActualState>,
}

impl DriftReport {
    /// The findings someone must act on: those with a fix, or more severe than
    /// [`Severity::Info`]. A pending first sign-in or a
    /// foreign-owned difference is for the record only, so an alert on this count
    /// clears once the real work is done.
    pub fn needing_action(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.needs_action())
    }

    /// The findings of one class.
    pub fn of_class(&self, class: DriftClass) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.class == class)
    }

    /// How many findings each class has (classes without findings are absent).
    pub fn counts(&self) -> BTreeMap<DriftClass, usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.class).or_insert(0) += 1;
        }
        counts
    }

    /// True when some finding is drift (anything but pending).
    pub fn has_drift(&self) -> bool {
        self.findings.iter().any(|f| f.class != DriftClass::Pending)
    }
}

impl fmt::Display for DriftReport {
    /// A summary line, then one line per finding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drift at {}: {} finding(s)",
            self.generated_at.to_rfc3339(),
            self.findings.len()
        )?;
        let counts = self.counts();
        if !counts.is_empty() {
            let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        for finding in &self.findings {
            write!(f, "\n{finding}")?;
        }
        Ok(())
    }
}

/// When each snapshot was read, keyed by system, for [`DriftInputs::read_at`].
/// Snapshots without a system or a `read_at` are left out.
pub fn read_times(snapshots: &[SystemSnapshot]) -> BTreeMap<SystemName, DateTime<Utc>> {
    snapshots
        .iter()
        .filter_map(|s| Some((s.system.clone()?, s.read_at?)))
        .collect()
}
