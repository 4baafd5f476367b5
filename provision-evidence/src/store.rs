//! Where evidence is kept: the [`EvidenceStore`] trait, and [`MemoryEvidenceStore`].
//!
//! Rows are keyed by fingerprint and stored once; every collection (one system in
//! one evidence run) records which rows it saw, so a period's evidence is every
//! row seen by a collection in it, and staleness is measured from the latest
//! collection. There is no update or delete: a row attached to an assessment is
//! fixed for good (the SQL stores in `provision-store` refuse changes to it by
//! trigger too).
//!
//! What "seen" means: a collection is the whole picture of its *stream* (its system
//! and the set of kinds of its rows, so a drift run does not replace an access
//! listing). A row is seen by every collection of a stream from the one where it
//! appears until the one before the first that lacks it; if it comes back it is
//! seen again from then. The SQL stores keep exactly that as presence intervals, so
//! an unchanged collection writes nothing but itself; this store keeps each
//! collection's set, with the same answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::controls::ControlId;
use crate::fingerprint::Fingerprint;
use crate::row::EvidenceRow;
use provision_core::audit::{AuditLog, AuditRecord, ChainError, VerifiedChain};
use provision_core::model::SystemName;

/// A time window, `from <= t < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
}

impl Period {
    /// `from <= t < to`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self { from, to }
    }

    /// True when `t` is in the window.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::SecondsFormat::Secs;
        write!(
            f,
            "{} to {}",
            self.from.to_rfc3339_opts(Secs, true),
            self.to.to_rfc3339_opts(Secs, true)
        )
    }
}

/// One system's evidence in one run, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// The evidence run.
    pub run: String,
    /// The system.
    pub system: SystemName,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
    /// The controls its rows support.
    pub controls: Vec<ControlId>,
    /// How many rows it saw.
    pub rows: u64,
    /// How many of them were not stored before.
    pub new_rows: u64,
}

/// What recording a collection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Recorded {
    /// Rows seen.
    pub rows: u64,
    /// Rows stored for the first time (the others were already there, same fingerprint).
    pub new_rows: u64,
}

impl Recorded {
    /// Adds another collection's counts.
    pub fn add(&mut self, other: Recorded) {
        self.rows += other.rows;
        self.new_rows += other.new_rows;
    }

    /// The share of rows already stored (1.0 when every row was a duplicate).
    pub fn dedup_ratio(&self) -> f64 {
        if self.rows == 0 {
            return 1.0;
        }
        (self.rows - self.new_rows) as f64 / self.rows as f64
    }
}

/// An assessment (an audit, a quarter's review) that evidence is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Its id (`soc2-2026`).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The period it covers.
    pub period: Period,
}

/// What can go wrong keeping evidence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceStoreError {
    /// The storage failed (keeps the database's message).
    #[error("evidence storage: {0}")]
    Storage(String),
    /// A stored row could not be read back.
    #[error("corrupt evidence row {key}: {message}")]
    Corrupt {
        /// The row's key (fingerprint, collection id).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The audit log does not verify: names the first bad record.
    #[error("audit log record seq {seq} does not verify: {detail}")]
    AuditTampered {
        /// The first bad record's seq.
        seq: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// No assessment has this id.
    #[error("no assessment `{0}`")]
    UnknownAssessment(String),
    /// An assessment with this id exists already.
    #[error("assessment `{0}` exists already")]
    AssessmentExists(String),
    /// A fingerprint to attach names no stored row.
    #[error("no evidence row with fingerprint {0}")]
    UnknownFingerprint(Fingerprint),
    /// Refused: the row is attached to an assessment and cannot change.
    #[error("evidence row {0} is attached to an assessment and cannot be changed")]
    Immutable(Fingerprint),
}

impl From<ChainError> for EvidenceStoreError {
    fn from(e: ChainError) -> Self {
        EvidenceStoreError::AuditTampered {
            seq: e.seq(),
            detail: e.to_string(),
        }
    }
}

/// A home for evidence, next to the audit log it is drawn from.
#[async_trait]
pub trait EvidenceStore: Send + Sync {
    /// Records one collection and its rows in one transaction; a row whose fingerprint
    /// is stored already is not stored again (nor changed), only that this
    /// collection saw it. An attached row may be seen again; its content stays.
    async fn record_collection(
        &self,
        run: &str,
        system: &SystemName,
        collected_at: DateTime<Utc>,
        rows: &[EvidenceRow],
    ) -> Result<Recorded, EvidenceStoreError>;

    /// Every collection, oldest first.
    async fn collections(&self) -> Result<Vec<Collection>, EvidenceStoreError>;

    /// Every row seen by a collection in `period`, each once, ordered by kind, system,
    /// subject and fingerprint.
    async fn rows_in(&self, period: &Period) -> Result<Vec<EvidenceRow>, EvidenceStoreError>;

    /// Creates an assessment.
    async fn create_assessment(&self, assessment: &Assessment) -> Result<(), EvidenceStoreError>;

    /// Attaches rows to an assessment for good; returns how many were newly attached.
    async fn attach(
        &self,
        assessment: &str,
        fingerprints: &[Fingerprint],
    ) -> Result<u64, EvidenceStoreError>;

    /// The rows attached to an assessment.
    async fn attached(&self, assessment: &str) -> Result<Vec<EvidenceRow>, EvidenceStoreError>;

    /// The audit records with `period.from <= at < period.to`, in order.
    async fn audit_between(&self, period: &Period) -> Result<Vec<AuditRecord>, EvidenceStoreError>;

    /// Verifies the whole audit log where it is stored; a tampered log is
    /// [`EvidenceStoreError::AuditTampered`] naming the first bad record.
    async fn verify_audit_chain(&self) -> Result<VerifiedChain, EvidenceStoreError>;
}

#[derive(Debug, Default)]
struct MemoryState {
    rows: BTreeMap<Fingerprint, EvidenceRow>,
    collections: Vec<(Collection, BTreeSet<Fingerprint>)>,
    assessments: BTreeMap<String, (Assessment, BTreeSet<Fingerprint>)>,
}

/// Evidence in memory, over an audit log (for tests and short-lived programs).
pub struct MemoryEvidenceStore {
    audit: Arc<dyn AuditLog>,
    state: Mutex<MemoryState>,
}

impl std::fmt::Debug for MemoryEvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEvidenceStore")
            .finish_non_exhaustive()
    }
}

impl MemoryEvidenceStore {
    /// An empty store drawing on `audit`.
    pub fn new(audit: Arc<dyn AuditLog>) -> Self {
        Self {
            audit,
            state: Mutex::new(MemoryState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces a stored row's content (as a careless tool might); refused for
    /// a row attached to an assessment. For tests of tamper detection.
    pub fn overwrite(&self, row: EvidenceRow) -> Result<(), EvidenceStoreError> {
        let mut state = self.state();
        if state
            .assessments
            .values()
            .any(|(_, attached)| attached.contains(&row.fingerprint))
        {
            return Err(EvidenceStoreError::Immutable(row.fingerprint));
        }
        state.rows.insert(row.fingerprint.clone(), row);
        Ok(())
    }
}

fn storage(e: impl std::fmt::Display) -> EvidenceStoreError {
    EvidenceStoreError::Storage(e.to_string())
}

/// The distinct controls of `rows`, sorted.
pub fn controls_of(rows: &[EvidenceRow]) -> Vec<ControlId> {
    let set: BTreeSet<&ControlId> = rows.iter().flat_map(|r| &r.controls).collect();
    set.into_iter().cloned().collect()
}

/// Sorts rows the way [`EvidenceStore::rows_in`] returns them.
pub fn sort_rows(rows: &mut [EvidenceRow]) {
    rows.sort_by(|a, b| {
        (&a.kind, &a.system, &a.subject, &a.fingerprint).cmp(&(
            &b.kind,
            &b.system,
            &b.subject,
            &b.fingerprint,
        ))
    });
}

#[async_trait]
impl EvidenceStore for MemoryEvidenceStore {
    async fn record_collection(
        &self,
        run: &str,
        system: &SystemName,
        collected_at: DateTime<Utc>,
        rows: &[EvidenceRow],
    ) -> Result<Recorded, EvidenceStoreError> {
        let mut state = self.state();
        let mut seen = BTreeSet::new();
        let mut new_rows = 0;
        for row in rows {
            if !state.rows.contains_key(&row.fingerprint) {
                state.rows.insert(row.fingerprint.clone(), row.clone());
                new_rows += 1;
            }
            seen.insert(row.fingerprint.clone());
        }
        let collection = Collection {
            run: run.to_owned(),
            system: system.clone(),
            collected_at,
            controls: controls_of(rows),
            rows: rows.len() as u64,
            new_rows,
        };
        state.collections.push((collection, seen));
        Ok(Recorded {
            rows: rows.len() as u64,
            new_rows,
        })
    }

    async fn collections(&self) -> Result<Vec<Collection>, EvidenceStoreError> {
        let mut all: Vec<Collection> = self
            .state()
            .collections
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        all.sort_by_key(|c| c.collected_at);
        Ok(all)
    }

    async fn rows_in(&self, period: &Period) -> Result<Vec<EvidenceRow>, EvidenceStoreError> {
        let state = self.state();
        let seen: BTreeSet<&Fingerprint> = state
            .collections
            .iter()
            .filter(|(c, _)| period.contains(c.collected_at))
            .flat_map(|(_, f)| f)
            .collect();
        let mut rows: Vec<EvidenceRow> = seen
            .into_iter()
            .filter_map(|f| state.rows.get(f).cloned())
            .collect();
        sort_rows(&mut rows);
        Ok(rows)
    }

    async fn create_assessment(&self, assessment: &Assessment) -> Result<(), EvidenceStoreError> {
        let mut state = self.state();
        if state.assessments.contains_key(&assessment.id) {
            return Err(EvidenceStoreError::AssessmentExists(assessment.id.clone()));
        }
        state
            .assessments
            .insert(assessment.id.clone(), (assessment.clone(), BTreeSet::new()));
        Ok(())
    }

    async fn attach(
        &self,
        assessment: &str,
        fingerprints: &[Fingerprint],
    ) -> Result<u64, EvidenceStoreError> {
        let mut state = self.state();
        if let Some(missing) = fingerprints.iter().find(|f| !state.rows.contains_key(*f)) {
            return Err(EvidenceStoreError::UnknownFingerprint(missing.clone()));
        }
        let (_, attached) = state
            .assessments
            .get_mut(assessment)
            .ok_or_else(|| EvidenceStoreError::UnknownAssessment(assessment.to_owned()))?;
        Ok(fingerprints
            .iter()
            .filter(|f| attached.insert((*f).clone()))
            .count() as u64)
    }

    async fn attached(&self, assessment: &str) -> Result<Vec<EvidenceRow>, EvidenceStoreError> {
        let state = self.state();
        let (_, attached) = state
            .assessments
            .get(assessment)
            .ok_or_else(|| EvidenceStoreError::UnknownAssessment(assessment.to_owned()))?;
        let mut rows: Vec<EvidenceRow> = attached
            .iter()
            .filter_map(|f| state.rows.get(f).cloned())
            .collect();
        sort_rows(&mut rows);
        Ok(rows)
    }

    async fn audit_between(&self, period: &Period) -> Result<Vec<AuditRecord>, EvidenceStoreError> {
        let records = self.audit.records().await.map_err(storage)?;
        Ok(records
            .into_iter()
            .filter(|r| period.contains(r.event.at))
            .collect())
    }

    async fn verify_audit_chain(&self) -> Result<VerifiedChain, EvidenceStoreError> {
        let records = self.audit.records().await.map_err(storage)?;
        Ok(provision_core::audit::verify(&records)?)
    }
}
