//! Snapshots: each pull of an HR source, with the time it was taken, and the guard
//! that holds a snapshot that looks like a broken export instead of letting it
//! become a mass termination.
//!
//! The HR events between two snapshots are [`crate::diff_rosters`]'s. A snapshot is
//! *held* when, against the previous one, it would end the employment of more
//! people than [`SnapshotGuard::max_terminations`] (terminations, and people who
//! vanished), or when more than [`SnapshotGuard::max_missing_share`] of the
//! previous people are missing from it (gone, or only on an unreadable row). A held
//! snapshot is never applied: the caller keeps the previous one in force and raises
//! the [`HeldSnapshot`] as a finding until a person confirms it
//! ([`HeldSnapshot::confirm`]). [`SnapshotKeeper`] does this for one source across
//! pulls: a failed or held pull leaves the last good snapshot in force.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use provision_core::model::Identity;
//! use provision_roster::snapshot::{review, Snapshot, SnapshotGuard, SnapshotReview};
//! use provision_roster::{RosterEntry, RosterLoad, SourceRow};
//! let load = |ids: &[&str]| RosterLoad {
//!     entries: ids.iter().enumerate().map(|(n, id)| RosterEntry {
//!         identity: Identity::new(*id, format!("{id}@x.com"), *id),
//!         source: SourceRow::new("workday", n as u64 + 1),
//!     }).collect(),
//!     problems: vec![],
//! };
//! let at = Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0).unwrap();
//! let before = Snapshot::new("workday", at, load(&["e1", "e2", "e3", "e4"]));
//! let after = Snapshot::new("workday", at, load(&["e1"]));
//! let guard = SnapshotGuard { max_terminations: 2, max_missing_share: 0.5 };
//! let SnapshotReview::Held(held) = review(Some(&before), &after, &guard) else { panic!() };
//! assert!(held.to_string().contains("would end the employment of 3 people (limit 2)"));
//! ```

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::{HrEvent, HrEventKind, RosterLoad, diff_rosters};

/// One pull of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The source's name.
    pub source: String,
    /// When the pull finished (from the caller's clock).
    pub taken_at: DateTime<Utc>,
    /// The people and the row problems.
    pub load: RosterLoad,
}

impl Snapshot {
    /// A snapshot of `source` taken at `taken_at`.
    pub fn new(source: impl Into<String>, taken_at: DateTime<Utc>, load: RosterLoad) -> Self {
        Self {
            source: source.into(),
            taken_at,
            load,
        }
    }

    /// How many people it holds.
    pub fn people(&self) -> usize {
        self.load.entries.len()
    }
}

/// When a snapshot is held rather than applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotGuard {
    /// The most people one snapshot may terminate or drop (both revoke access).
    pub max_terminations: usize,
    /// The largest share (0.0–1.0) of the previous snapshot's people that may be
    /// missing from the next.
    pub max_missing_share: f64,
}

impl Default for SnapshotGuard {
    /// 25 terminations, 10 % missing: a bad export of a company of a few hundred is
    /// caught, an ordinary week of leavers is not.
    fn default() -> Self {
        Self {
            max_terminations: 25,
            max_missing_share: 0.10,
        }
    }
}

/// Why a snapshot was held.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HoldReason {
    /// It would end the employment of more people than the limit.
    MassTermination {
        /// Terminations plus people gone from the source.
        count: usize,
        /// [`SnapshotGuard::max_terminations`].
        limit: usize,
    },
    /// Too large a share of the previous people is missing.
    MissingPeople {
        /// People of the previous snapshot with no readable row in this one.
        missing: usize,
        /// People in the previous snapshot.
        of: usize,
        /// [`SnapshotGuard::max_missing_share`].
        limit: f64,
    },
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::MassTermination { count, limit } => write!(
                f,
                "it would end the employment of {count} people (limit {limit})"
            ),
            HoldReason::MissingPeople { missing, of, limit } => write!(
                f,
                "{missing} of {of} people ({:.1} %) are missing from it (limit {:.1} %)",
                share(*missing, *of) * 100.0,
                limit * 100.0
            ),
        }
    }
}

/// A snapshot that is not applied until a person confirms it: the finding.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldSnapshot {
    /// The source.
    pub source: String,
    /// When the held snapshot was taken.
    pub taken_at: DateTime<Utc>,
    /// Why it is held (at least one).
    pub reasons: Vec<HoldReason>,
    /// The events it would give, for the person who reviews it.
    pub events: Vec<HrEvent>,
}

impl HeldSnapshot {
    /// The events, once `confirmed_by` (a person, never the service itself) has
    /// looked at them; the caller records who confirmed in the audit log.
    pub fn confirm(self, confirmed_by: &str) -> Vec<HrEvent> {
        tracing::warn!(
            source = %self.source,
            taken_at = %self.taken_at,
            confirmed_by,
            events = self.events.len(),
            "held HR snapshot confirmed"
        );
        self.events
    }
}

impl fmt::Display for HeldSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HR source `{}`: the snapshot taken at {} is held, nothing applied until a person confirms: ",
            self.source,
            self.taken_at.to_rfc3339()
        )?;
        for (n, reason) in self.reasons.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

/// What to do with a new snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotReview {
    /// Apply these events (leavers first).
    Apply(Vec<HrEvent>),
    /// Keep the previous snapshot in force; raise this as a finding.
    Held(HeldSnapshot),
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The events from `previous` to `next`, or `next` held by `guard`. With no
/// previous snapshot everyone is a hire and nothing is held.
pub fn review(
    previous: Option<&Snapshot>,
    next: &Snapshot,
    guard: &SnapshotGuard,
) -> SnapshotReview {
    let empty = RosterLoad::default();
    let before = previous.map_or(&empty, |p| &p.load);
    let events = diff_rosters(before, &next.load);
    let mut reasons = Vec::new();
    let ending = events
        .iter()
        .filter(|e| match e {
            HrEvent::Termination {
                previous_effective, ..
            } => previous_effective.is_none(),
            other => other.kind() == HrEventKind::Removed,
        })
        .count();
    if ending > guard.max_terminations {
        reasons.push(HoldReason::MassTermination {
            count: ending,
            limit: guard.max_terminations,
        });
    }
    let present: HashSet<_> = next.load.entries.iter().map(|e| &e.identity.id).collect();
    let missing = before
        .entries
        .iter()
        .filter(|e| !present.contains(&e.identity.id))
        .count();
    let of = before.entries.len();
    if share(missing, of) > guard.max_missing_share {
        reasons.push(HoldReason::MissingPeople {
            missing,
            of,
            limit: guard.max_missing_share,
        });
    }
    if reasons.is_empty() {
        SnapshotReview::Apply(events)
    } else {
        let held = HeldSnapshot {
            source: next.source.clone(),
            taken_at: next.taken_at,
            reasons,
            events,
        };
        tracing::warn!(finding = %held, "HR snapshot held");
        SnapshotReview::Held(held)
    }
}

/// What one pull did to the snapshot in force.
#[derive(Debug)]
#[non_exhaustive]
pub enum PullOutcome {
    /// The pull is the new snapshot in force; these events follow from it.
    Applied(Vec<HrEvent>),
    /// The pull was held; the previous snapshot stays in force.
    Held(HeldSnapshot),
    /// The source failed; the previous snapshot stays in force.
    Failed(crate::sources::SourceError),
}

/// One source's snapshot in force, kept across pulls: a failed or held pull leaves
/// it as it was. What a service reports as `provision_hr_source_up{source}`
/// ([`SnapshotKeeper::is_up`]) and `provision_hr_snapshot_age_seconds{source}`
/// ([`SnapshotKeeper::age_seconds`]).
#[derive(Debug)]
pub struct SnapshotKeeper {
    source: Box<dyn crate::sources::HrSource>,
    guard: SnapshotGuard,
    current: Option<Snapshot>,
    up: bool,
}

impl SnapshotKeeper {
    /// A keeper of `source`'s snapshots, holding pulls by `guard`; `current` is the
    /// snapshot stored by an earlier run, if any.
    pub fn new(
        source: Box<dyn crate::sources::HrSource>,
        guard: SnapshotGuard,
        current: Option<Snapshot>,
    ) -> Self {
        Self {
            source,
            guard,
            current,
            up: true,
        }
    }

    /// Pulls the source once; the snapshot is stamped with `clock`'s time.
    pub async fn pull(&mut self, clock: &dyn provision_core::clock::Clock) -> PullOutcome {
        let load = match self.source.pull().await {
            Ok(load) => load,
            Err(error) => {
                self.up = false;
                tracing::warn!(source = self.source.name(), %error, "HR source pull failed; the last good snapshot stays in force");
                return PullOutcome::Failed(error);
            }
        };
        self.up = true;
        let next = Snapshot::new(self.source.name(), clock.now(), load);
        match review(self.current.as_ref(), &next, &self.guard) {
            SnapshotReview::Apply(events) => {
                self.current = Some(next);
                PullOutcome::Applied(events)
            }
            SnapshotReview::Held(held) => PullOutcome::Held(held),
        }
    }

    /// The snapshot in force.
    pub fn current(&self) -> Option<&Snapshot> {
        self.current.as_ref()
    }

    /// False after a failed pull, until one succeeds.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Seconds since the snapshot in force was taken, at `now`.
    pub fn age_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        self.current
            .as_ref()
            .map(|s| (now - s.taken_at).num_seconds().max(0))
    }
}
