//! Where governance records live: exceptions, access requests and their events,
//! review campaigns, their decisions and closures, and the governance event log (SoD refusals,
//! exceptions granted, decisions). Every record is append-only: nothing is updated
//! or deleted, a change is a new record.
//!
//! [`MemoryGovernanceStore`] is the in-memory implementation (tests, one-shot
//! programs); `provision_store` keeps the same records in SQLite and PostgreSQL.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::exception::Exception;
use super::request::{AccessRequest, RequestEvent};
use super::review::{Campaign, CampaignClosure, Decision};

/// The store failed, or refused a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GovernanceStoreError {
    /// The storage failed.
    #[error("governance storage: {0}")]
    Storage(String),
    /// A record with this key exists already (records are never replaced).
    #[error("governance record exists already: {0}")]
    Duplicate(String),
    /// A record could not be read back.
    #[error("corrupt governance record: {0}")]
    Corrupt(String),
}

/// One entry of the governance event log: what happened, to whom, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// `sod_refusal`, `exception_recorded`, `request_opened`, `request_approved`,
    /// `request_rejected`, `request_provisioned`, `campaign_opened`, `review_decision`.
    pub kind: String,
    /// Who acted.
    pub actor: String,
    /// The person concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The record concerned (exception, request, campaign id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What happened, in a sentence.
    pub detail: String,
}

/// Durable governance records. Implementations refuse a second record with the same
/// key ([`GovernanceStoreError::Duplicate`]) and offer no update or delete.
#[async_trait]
pub trait GovernanceStore: Send + Sync {
    /// Records an exception.
    async fn add_exception(&self, exception: &Exception) -> Result<(), GovernanceStoreError>;
    /// Every exception, in the order recorded.
    async fn exceptions(&self) -> Result<Vec<Exception>, GovernanceStoreError>;
    /// Records a request (with the events it was opened with).
    async fn add_request(&self, request: &AccessRequest) -> Result<(), GovernanceStoreError>;
    /// Appends an event to request `id`.
    async fn add_request_event(
        &self,
        id: &str,
        event: &RequestEvent,
    ) -> Result<(), GovernanceStoreError>;
    /// Every request with its events, in the order opened.
    async fn requests(&self) -> Result<Vec<AccessRequest>, GovernanceStoreError>;
    /// Records a campaign (its items are fixed when it opens).
    async fn add_campaign(&self, campaign: &Campaign) -> Result<(), GovernanceStoreError>;
    /// The campaign `id`.
    async fn campaign(&self, id: &str) -> Result<Option<Campaign>, GovernanceStoreError>;
    /// Every campaign, in the order opened.
    async fn campaigns(&self) -> Result<Vec<Campaign>, GovernanceStoreError>;
    /// Records that a campaign closed; a second closure of one campaign is a
    /// duplicate.
    async fn add_closure(&self, closure: &CampaignClosure) -> Result<(), GovernanceStoreError>;
    /// Every campaign closure, in the order closed.
    async fn closures(&self) -> Result<Vec<CampaignClosure>, GovernanceStoreError>;
    /// Records a decision; a second decision on the same item is a duplicate.
    async fn add_decision(&self, decision: &Decision) -> Result<(), GovernanceStoreError>;
    /// The decisions of campaign `id`, in the order made.
    async fn decisions(&self, campaign: &str) -> Result<Vec<Decision>, GovernanceStoreError>;
    /// Appends to the governance event log.
    async fn add_event(&self, event: &GovernanceEvent) -> Result<(), GovernanceStoreError>;
    /// The governance event log, in order.
    async fn events(&self) -> Result<Vec<GovernanceEvent>, GovernanceStoreError>;
}

/// Governance records in memory.
#[derive(Debug, Default)]
pub struct MemoryGovernanceStore {
    inner: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    exceptions: Vec<Exception>,
    requests: Vec<AccessRequest>,
    campaigns: Vec<Campaign>,
    closures: Vec<CampaignClosure>,
    decisions: Vec<Decision>,
    events: Vec<GovernanceEvent>,
}

impl MemoryGovernanceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl GovernanceStore for MemoryGovernanceStore {
    async fn add_exception(&self, exception: &Exception) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        if r.exceptions.iter().any(|e| e.id == exception.id) {
            return Err(GovernanceStoreError::Duplicate(exception.id.clone()));
        }
        r.exceptions.push(exception.clone());
        Ok(())
    }

    async fn exceptions(&self) -> Result<Vec<Exception>, GovernanceStoreError> {
        Ok(self.lock().exceptions.clone())
    }

    async fn add_request(&self, request: &AccessRequest) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        if r.requests.iter().any(|e| e.id == request.id) {
            return Err(GovernanceStoreError::Duplicate(request.id.clone()));
        }
        r.requests.push(request.clone());
        Ok(())
    }

    async fn add_request_event(
        &self,
        id: &str,
        event: &RequestEvent,
    ) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        let request = r
            .requests
            .iter_mut()
            .find(|q| q.id == id)
            .ok_or_else(|| GovernanceStoreError::Storage(format!("no request {id}")))?;
        request.events.push(event.clone());
        Ok(())
    }

    async fn requests(&self) -> Result<Vec<AccessRequest>, GovernanceStoreError> {
        Ok(self.lock().requests.clone())
    }

    async fn add_campaign(&self, campaign: &Campaign) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        if r.campaigns.iter().any(|c| c.id == campaign.id) {
            return Err(GovernanceStoreError::Duplicate(campaign.id.clone()));
        }
        r.campaigns.push(campaign.clone());
        Ok(())
    }

    async fn campaign(&self, id: &str) -> Result<Option<Campaign>, GovernanceStoreError> {
        Ok(self.lock().campaigns.iter().find(|c| c.id == id).cloned())
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, GovernanceStoreError> {
        Ok(self.lock().campaigns.clone())
    }

    async fn add_closure(&self, closure: &CampaignClosure) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        if r.closures.iter().any(|c| c.campaign == closure.campaign) {
            return Err(GovernanceStoreError::Duplicate(closure.campaign.clone()));
        }
        r.closures.push(closure.clone());
        Ok(())
    }

    async fn closures(&self) -> Result<Vec<CampaignClosure>, GovernanceStoreError> {
        Ok(self.lock().closures.clone())
    }

    async fn add_decision(&self, decision: &Decision) -> Result<(), GovernanceStoreError> {
        let mut r = self.lock();
        if r.decisions
            .iter()
            .any(|d| d.campaign == decision.campaign && d.item == decision.item)
        {
            return Err(GovernanceStoreError::Duplicate(format!(
                "{}/{}",
                decision.campaign, decision.item
            )));
        }
        r.decisions.push(decision.clone());
        Ok(())
    }

    async fn decisions(&self, campaign: &str) -> Result<Vec<Decision>, GovernanceStoreError> {
        Ok(self
            .lock()
            .decisions
            .iter()
            .filter(|d| d.campaign == campaign)
            .cloned()
            .collect())
    }

    async fn add_event(&self, event: &GovernanceEvent) -> Result<(), GovernanceStoreError> {
        self.lock().events.push(event.clone());
        Ok(())
    }

    async fn events(&self) -> Result<Vec<GovernanceEvent>, GovernanceStoreError> {
        Ok(self.lock().events.clone())
    }
}
