//! The governance records as evidence facts: every exception
//! (`governance.exception`: scope, rationale, approver, window), every access
//! request with its decisions (`governance.request`: `submitted_at`, and
//! `completed_at` once provisioned, which the request cycle-time KPI reads), and
//! every access-review decision (`governance.review_decision`). The evidence crate
//! records them (`provision_evidence::Collector::record`), fingerprinted, so they
//! can be given on every collection and are stored once.

use std::collections::BTreeSet;

use super::{GovernanceStore, GovernanceStoreError, RequestEventKind};

/// The evidence kind of an exception.
pub const EXCEPTION_KIND: &str = "governance.exception";
/// The evidence kind of an access request and its decision.
pub const REQUEST_KIND: &str = "governance.request";
/// The evidence kind of an access-review decision.
pub const REVIEW_DECISION_KIND: &str = "governance.review_decision";

/// One evidence fact: `(kind, subject, data)`.
pub type EvidenceFact = (String, Option<String>, serde_json::Value);

/// Every governance record of `store` as evidence facts (see the module docs).
pub async fn evidence_facts(
    store: &dyn GovernanceStore,
) -> Result<Vec<EvidenceFact>, GovernanceStoreError> {
    let mut facts: Vec<EvidenceFact> = Vec::new();
    for exception in store.exceptions().await? {
        let data = serde_json::to_value(&exception).unwrap_or(serde_json::Value::Null);
        facts.push((EXCEPTION_KIND.to_owned(), Some(exception.id), data));
    }
    for request in store.requests().await? {
        let completed = request.events.iter().find_map(|e| match e.kind {
            RequestEventKind::Provisioned { .. } => Some(e.at),
            _ => None,
        });
        let mut data = serde_json::to_value(&request).unwrap_or(serde_json::Value::Null);
        if let Some(map) = data.as_object_mut() {
            map.insert(
                "submitted_at".to_owned(),
                serde_json::Value::String(request.requested_at.to_rfc3339()),
            );
            if let Some(done) = completed {
                map.insert(
                    "completed_at".to_owned(),
                    serde_json::Value::String(done.to_rfc3339()),
                );
            }
        }
        facts.push((REQUEST_KIND.to_owned(), Some(request.id), data));
    }
    let campaigns: BTreeSet<String> = store
        .events()
        .await?
        .into_iter()
        .filter(|e| e.kind == "campaign_opened")
        .filter_map(|e| e.subject)
        .collect();
    for campaign in campaigns {
        for decision in store.decisions(&campaign).await? {
            let subject = format!("{}/{}", decision.campaign, decision.item);
            let data = serde_json::to_value(&decision).unwrap_or(serde_json::Value::Null);
            facts.push((REVIEW_DECISION_KIND.to_owned(), Some(subject), data));
        }
    }
    Ok(facts)
}
