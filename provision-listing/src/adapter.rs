//! The [`Adapter`] over an export: accounts and grants read from the file (parsed
//! once per version of the file), every write refused, and the export's age as
//! evidence.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CollectedEvidence, EvidenceSource, Page,
    ResourceKindDescriptor, SystemDescriptor, SystemError,
};
use provision_core::clock::{Clock, SystemClock};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, ResourceRecord, ResourceRef,
};
use serde_json::json;

use crate::config::ListingConfig;
use crate::read::{ListingRow, parse};

/// The adapter type in `provision.yaml`.
pub const ADAPTER_TYPE: &str = "listing";

/// The evidence kind of the export's age.
pub const FRESHNESS: &str = "listing.freshness";

/// How old the export is, as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// When the file was last written (the export's time).
    pub exported_at: DateTime<Utc>,
    /// Its age at the adapter's clock.
    pub age: chrono::Duration,
    /// Older than the configured cadence.
    pub stale: bool,
}

/// What one version of the file held.
#[derive(Debug)]
struct Snapshot {
    modified: SystemTime,
    rows: Arc<Vec<ListingRow>>,
}

/// The read-only listing adapter.
pub struct ListingAdapter {
    config: ListingConfig,
    descriptor: SystemDescriptor,
    clock: Arc<dyn Clock>,
    snapshot: Mutex<Option<Snapshot>>,
    parses: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for ListingAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingAdapter")
            .field("system", &self.config.system)
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

/// The descriptor: accounts (one per row) and one enumerable kind, nothing writable.
pub fn listing_descriptor(kind: &str) -> SystemDescriptor {
    SystemDescriptor::new(ADAPTER_TYPE)
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new(kind, &[&format!("grant_{kind}")]).enumerable())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ListingAdapter {
    /// An adapter over `config`'s export, on the system clock.
    pub fn new(config: ListingConfig) -> Self {
        Self {
            descriptor: listing_descriptor(&config.kind),
            config,
            clock: Arc::new(SystemClock),
            snapshot: Mutex::new(None),
            parses: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Builder-style: the clock the export's age is judged by.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many times the file was parsed (once per version of it).
    pub fn parses(&self) -> usize {
        self.parses.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn unreadable(&self, message: String) -> AdapterError {
        AdapterError::Configuration {
            error: SystemError::message(format!(
                "{}: the listing {} cannot be read (settings.path): {message}",
                self.config.system,
                self.config.path.display()
            )),
        }
    }

    fn modified(&self) -> Result<SystemTime, AdapterError> {
        std::fs::metadata(&self.config.path)
            .and_then(|m| m.modified())
            .map_err(|e| self.unreadable(e.to_string()))
    }

    /// The rows of the file as it is now (parsed again only when it changed).
    pub fn rows(&self) -> Result<Arc<Vec<ListingRow>>, AdapterError> {
        let modified = self.modified()?;
        if let Some(s) = lock(&self.snapshot).as_ref()
            && s.modified == modified
        {
            return Ok(s.rows.clone());
        }
        let text = std::fs::read_to_string(&self.config.path)
            .map_err(|e| self.unreadable(e.to_string()))?;
        let rows = Arc::new(
            parse(&self.config, &text).map_err(|e| AdapterError::Invalid {
                error: SystemError::message(e.to_string()),
            })?,
        );
        self.parses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fresh = self.freshness_at(modified);
        if fresh.stale {
            tracing::warn!(system = %self.config.system, age_hours = fresh.age.num_hours(), "the listing is older than its cadence");
        }
        *lock(&self.snapshot) = Some(Snapshot {
            modified,
            rows: rows.clone(),
        });
        Ok(rows)
    }

    fn freshness_at(&self, modified: SystemTime) -> Freshness {
        let exported_at: DateTime<Utc> = modified.into();
        let age = self.clock.now() - exported_at;
        Freshness {
            exported_at,
            age,
            stale: age > self.config.cadence,
        }
    }

    /// The export's age now.
    pub fn freshness(&self) -> Result<Freshness, AdapterError> {
        Ok(self.freshness_at(self.modified()?))
    }

    fn grant(&self, row: &ListingRow, resource: &str, system: &ResourceRef) -> GrantRecord {
        let mut e = Entitlement::new(system.system.as_str(), &self.config.kind, resource);
        e.scope = None;
        GrantRecord {
            entitlement: e,
            account_external_id: row.login.clone(),
            login: Some(row.login.clone()),
        }
    }
}

#[async_trait]
impl Adapter for ListingAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every row, as an account whose id is its login.
    async fn read_accounts(
        &self,
        _cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let rows = self.rows()?;
        Ok(Page::last(
            rows.iter()
                .map(|r| {
                    let mut a = AccountRecord::new(r.login.clone(), r.login.clone(), r.state);
                    a.last_login = r.last_login;
                    a
                })
                .collect(),
        ))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        if resource.kind != self.config.kind {
            return Ok(Page::last(Vec::new()));
        }
        let rows = self.rows()?;
        Ok(Page::last(
            rows.iter()
                .filter(|r| r.grants.contains(&resource.resource))
                .map(|r| self.grant(r, &resource.resource, resource))
                .collect(),
        ))
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let rows = self.rows()?;
        let login = account.external_id.as_deref().unwrap_or(&account.login);
        let here = ResourceRef {
            system: provision_core::model::SystemName::new(ADAPTER_TYPE),
            kind: self.config.kind.clone(),
            resource: String::new(),
            scope: None,
        };
        Ok(Page::last(
            rows.iter()
                .filter(|r| r.login.eq_ignore_ascii_case(login))
                .flat_map(|r| r.grants.iter().map(move |g| (r, g)))
                .map(|(r, g)| self.grant(r, g, &here))
                .collect(),
        ))
    }

    async fn list_resources(
        &self,
        kind: &str,
        _cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        if kind != self.config.kind {
            return Ok(Page::last(Vec::new()));
        }
        let rows = self.rows()?;
        let names: std::collections::BTreeSet<&String> =
            rows.iter().flat_map(|r| r.grants.iter()).collect();
        Ok(Page::last(
            names
                .into_iter()
                .map(|n| ResourceRecord::new(kind, n.clone()))
                .collect(),
        ))
    }

    /// A listing changes nothing: every write is unsupported.
    async fn execute(
        &self,
        op: &Operation,
        _account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        Err(AdapterError::Unsupported {
            what: format!(
                "{} in {}: a listing is read-only (make the change by hand, or through a jira-tickets system)",
                op.kind.verb(),
                self.config.system
            ),
        })
    }

    fn evidence_source(&self) -> Option<&dyn EvidenceSource> {
        Some(self)
    }
}

#[async_trait]
impl EvidenceSource for ListingAdapter {
    fn evidence_kinds(&self) -> Vec<String> {
        vec![FRESHNESS.to_owned()]
    }

    /// The export's age against its cadence, and how many users it lists.
    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let fresh = self.freshness()?;
        let rows = self.rows()?;
        Ok(vec![
            CollectedEvidence::new(
                self.config.system.as_str(),
                FRESHNESS,
                self.clock.now(),
                json!({
                    "file": self.config.path.display().to_string(),
                    "exported_at": fresh.exported_at.to_rfc3339(),
                    "age_hours": fresh.age.num_hours(),
                    "cadence_days": self.config.cadence.num_days(),
                    "stale": fresh.stale,
                    "users": rows.len(),
                }),
            )
            .about(self.config.path.display().to_string()),
        ])
    }
}
