//! Coverage per control, from the freshest evidence: a control is covered by the
//! systems whose collections supported it; when a system's latest such collection
//! is older than its threshold (default 6 hours), the control is **degraded** and a
//! [`StaleEvidence`] event goes to every [`StalenessListener`] (the service exports it
//! as a metric).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::EvidenceConfig;
use crate::controls::{ControlId, ControlMapping};
use crate::store::Collection;
use provision_core::model::SystemName;

/// How well a control is evidenced now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageStatus {
    /// Every system's evidence for it is within its threshold.
    Covered,
    /// Some system's freshest evidence for it is older than its threshold.
    Degraded,
    /// No evidence supports it at all.
    Missing,
}

/// One system's contribution to a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemFreshness {
    /// The system.
    pub system: SystemName,
    /// Its freshest collection supporting the control.
    pub last_collected: DateTime<Utc>,
    /// How old that is, in seconds.
    pub age_seconds: u64,
    /// The system's threshold, in seconds.
    pub threshold_seconds: u64,
    /// Older than the threshold.
    pub stale: bool,
}

/// One control's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlCoverage {
    /// The control.
    pub control: ControlId,
    /// Covered, degraded or missing.
    pub status: CoverageStatus,
    /// Each system supplying evidence for it.
    pub systems: Vec<SystemFreshness>,
}

/// Coverage of every mapped control at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// When it was computed for.
    pub at: DateTime<Utc>,
    /// Each control, in id order.
    pub controls: Vec<ControlCoverage>,
}

/// Fired for each (control, system) whose evidence is too old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEvidence {
    /// The degraded control.
    pub control: ControlId,
    /// The system whose evidence is stale.
    pub system: SystemName,
    /// How old its freshest evidence is, in seconds.
    pub age_seconds: u64,
    /// Its threshold, in seconds.
    pub threshold_seconds: u64,
}

/// Receives stale-evidence events (a metrics exporter, an alerting hook).
pub trait StalenessListener: Send + Sync {
    /// One (control, system) is stale.
    fn stale(&self, event: &StaleEvidence);
}

impl<F: Fn(&StaleEvidence) + Send + Sync> StalenessListener for F {
    fn stale(&self, event: &StaleEvidence) {
        self(event)
    }
}

impl CoverageReport {
    /// The coverage of `control`.
    pub fn control(&self, id: &str) -> Option<&ControlCoverage> {
        self.controls.iter().find(|c| c.control.as_str() == id)
    }

    /// Every stale (control, system), in control order.
    pub fn stale_events(&self) -> Vec<StaleEvidence> {
        self.controls
            .iter()
            .flat_map(|c| {
                c.systems.iter().filter(|s| s.stale).map(|s| StaleEvidence {
                    control: c.control.clone(),
                    system: s.system.clone(),
                    age_seconds: s.age_seconds,
                    threshold_seconds: s.threshold_seconds,
                })
            })
            .collect()
    }

    /// Sends every stale event to `listener`; returns how many.
    pub fn notify(&self, listener: &dyn StalenessListener) -> usize {
        let events = self.stale_events();
        for e in &events {
            tracing::warn!(
                control = %e.control, system = %e.system, age_seconds = e.age_seconds,
                threshold_seconds = e.threshold_seconds, "evidence is stale; control coverage degraded"
            );
            listener.stale(e);
        }
        events.len()
    }
}

/// Coverage at `now` of every control `mapping` maps to, from the collections.
pub fn coverage(
    collections: &[Collection],
    config: &EvidenceConfig,
    now: DateTime<Utc>,
) -> CoverageReport {
    coverage_with(collections, &config.mapping, |s| config.stale_after(s), now)
}

fn coverage_with(
    collections: &[Collection],
    mapping: &ControlMapping,
    threshold: impl Fn(&SystemName) -> Duration,
    now: DateTime<Utc>,
) -> CoverageReport {
    let mut freshest: BTreeMap<&ControlId, BTreeMap<&SystemName, DateTime<Utc>>> = BTreeMap::new();
    for c in collections.iter().filter(|c| c.rows > 0) {
        for control in &c.controls {
            let t = freshest
                .entry(control)
                .or_default()
                .entry(&c.system)
                .or_insert(c.collected_at);
            *t = (*t).max(c.collected_at);
        }
    }
    let mut ids = mapping.mapped_controls();
    ids.extend(freshest.keys().map(|c| (*c).clone()));
    ids.sort();
    ids.dedup();
    let controls = ids
        .into_iter()
        .map(|control| {
            let systems: Vec<SystemFreshness> = freshest
                .get(&control)
                .map(|by_system| {
                    by_system
                        .iter()
                        .map(|(system, last)| {
                            let age = (now - *last).num_seconds().max(0) as u64;
                            let limit = threshold(system).as_secs();
                            SystemFreshness {
                                system: (*system).clone(),
                                last_collected: *last,
                                age_seconds: age,
                                threshold_seconds: limit,
                                stale: age > limit,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let status = if systems.is_empty() {
                CoverageStatus::Missing
            } else if systems.iter().any(|s| s.stale) {
                CoverageStatus::Degraded
            } else {
                CoverageStatus::Covered
            };
            ControlCoverage {
                control,
                status,
                systems,
            }
        })
        .collect();
    CoverageReport { at: now, controls }
}
