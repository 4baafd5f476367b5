//! Decisions: checked before they are stored, and what they add up to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use provision_core::model::Plan;

use super::super::error::{GovernanceError, RowRefusal};
use super::import::DecisionRow;
use super::{Campaign, Decision, Outcome, ReviewItem};

/// The item a decision is for, or why the decision is refused: an item not in the
/// campaign, an item already decided (closed), a reviewer who is not the item's, a
/// reviewer deciding about their own access (unless the campaign allows it), or a
/// keep without a reason or an expiry.
pub fn check_decision<'c>(
    campaign: &'c Campaign,
    decisions: &[Decision],
    item: &str,
    reviewer: &str,
    outcome: &Outcome,
) -> Result<&'c ReviewItem, GovernanceError> {
    let Some(found) = campaign.item(item) else {
        return Err(GovernanceError::ItemNotInCampaign {
            campaign: campaign.id.clone(),
            item: item.to_owned(),
        });
    };
    let prior = decisions.iter().find(|d| d.item == item);
    check_item(campaign, found, prior, reviewer, outcome)?;
    Ok(found)
}

/// The checks of one decision on an item found in the campaign.
fn check_item(
    campaign: &Campaign,
    found: &ReviewItem,
    prior: Option<&Decision>,
    reviewer: &str,
    outcome: &Outcome,
) -> Result<(), GovernanceError> {
    let item = found.id.as_str();
    if let Some(done) = prior {
        return Err(GovernanceError::ItemClosed {
            campaign: campaign.id.clone(),
            item: item.to_owned(),
            by: done.reviewer.clone(),
            at: done.decided_at,
        });
    }
    if found.reviewer != reviewer {
        return Err(GovernanceError::NotReviewer {
            item: item.to_owned(),
            given: reviewer.to_owned(),
            expected: found.reviewer.clone(),
        });
    }
    if !campaign.allow_self_review
        && found
            .identity
            .as_ref()
            .is_some_and(|id| id.as_str() == reviewer)
    {
        return Err(GovernanceError::SelfReview {
            item: item.to_owned(),
            reviewer: reviewer.to_owned(),
        });
    }
    match outcome {
        Outcome::Keep { reason, .. } if reason.trim().is_empty() => {
            Err(GovernanceError::IncompleteKeep {
                item: item.to_owned(),
                what: "a reason",
            })
        }
        Outcome::Keep {
            expires_at: None, ..
        } => Err(GovernanceError::IncompleteKeep {
            item: item.to_owned(),
            what: "an expiry",
        }),
        Outcome::Revoke { reason } if reason.trim().is_empty() => Err(GovernanceError::Missing {
            what: "revoke decision",
            field: "reason",
        }),
        _ => Ok(()),
    }
}

/// Checks a batch of `reviewer`'s decisions on `campaign` (a filled CSV, an HTTP
/// call) against the stored `decisions`, all before any is stored: the items with
/// their outcomes (a keep without its own expiry lasts until the campaign's
/// `keep_until`), or every refused row ([`GovernanceError::DecisionsRefused`]):
/// an item not in the campaign, one decided already (stored, or earlier in the
/// batch), one outside the reviewer's list, their own access, an incomplete keep.
/// A keep whose expiry is not after `now` is refused too (it would be an exception
/// that never starts). Costs one pass over the items and the decisions, whatever the
/// batch's size.
pub fn check_rows<'c>(
    campaign: &'c Campaign,
    decisions: &[Decision],
    reviewer: &str,
    rows: &[DecisionRow],
    now: DateTime<Utc>,
) -> Result<Vec<(&'c ReviewItem, Outcome)>, GovernanceError> {
    let items: HashMap<&str, &ReviewItem> =
        campaign.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let stored: HashMap<&str, &Decision> = decisions.iter().map(|d| (d.item.as_str(), d)).collect();
    let mut first_row: HashMap<&str, usize> = HashMap::new();
    let mut checked = Vec::with_capacity(rows.len());
    let mut refused = Vec::new();
    for row in rows {
        let mut outcome = row.outcome.clone();
        if let Outcome::Keep { expires_at, .. } = &mut outcome
            && expires_at.is_none()
        {
            *expires_at = campaign.keep_until;
        }
        let result = match items.get(row.item.as_str()) {
            None => Err(GovernanceError::ItemNotInCampaign {
                campaign: campaign.id.clone(),
                item: row.item.clone(),
            }),
            Some(found) => match first_row.get(row.item.as_str()) {
                Some(first) => Err(GovernanceError::DecidedTwice {
                    item: row.item.clone(),
                    first: *first,
                }),
                None => check_item(
                    campaign,
                    found,
                    stored.get(row.item.as_str()).copied(),
                    reviewer,
                    &outcome,
                )
                .and_then(|()| match &outcome {
                    Outcome::Keep {
                        expires_at: Some(until),
                        ..
                    } if *until <= now => Err(GovernanceError::ExpiryNotAfterStart {
                        starts_at: now,
                        expires_at: *until,
                    }),
                    _ => Ok(()),
                })
                .map(|()| *found),
            },
        };
        match result {
            Ok(found) => {
                first_row.insert(found.id.as_str(), row.row);
                checked.push((found, outcome));
            }
            Err(error) => refused.push(RowRefusal {
                row: row.row,
                item: row.item.clone(),
                error,
            }),
        }
    }
    if refused.is_empty() {
        Ok(checked)
    } else {
        Err(GovernanceError::DecisionsRefused {
            campaign: campaign.id.clone(),
            rows: refused,
        })
    }
}

/// One reviewer's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerProgress {
    /// Items to decide.
    pub items: usize,
    /// Decided so far.
    pub decided: usize,
}

/// Where a campaign stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignState {
    /// The campaign.
    pub campaign: String,
    /// True while some item is undecided.
    pub open: bool,
    /// Items in all.
    pub items: usize,
    /// Decided so far.
    pub decided: usize,
    /// Keep decisions.
    pub kept: usize,
    /// Revoke decisions.
    pub revoked: usize,
    /// Grants policy certified.
    pub certified: usize,
    /// Each reviewer's progress.
    pub reviewers: BTreeMap<String, ReviewerProgress>,
    /// Reviewers with undecided items past the due time.
    pub overdue: Vec<String>,
}

/// The state of `campaign` given its `decisions`, at `now`.
pub fn campaign_state(
    campaign: &Campaign,
    decisions: &[Decision],
    now: DateTime<Utc>,
) -> CampaignState {
    let decided: BTreeSet<&str> = decisions.iter().map(|d| d.item.as_str()).collect();
    let mut reviewers: BTreeMap<String, ReviewerProgress> = BTreeMap::new();
    for item in &campaign.items {
        let p = reviewers
            .entry(item.reviewer.clone())
            .or_insert(ReviewerProgress {
                items: 0,
                decided: 0,
            });
        p.items += 1;
        if decided.contains(item.id.as_str()) {
            p.decided += 1;
        }
    }
    let overdue = if now > campaign.due_at {
        reviewers
            .iter()
            .filter(|(_, p)| p.decided < p.items)
            .map(|(r, _)| r.clone())
            .collect()
    } else {
        Vec::new()
    };
    let n_decided = campaign
        .items
        .iter()
        .filter(|i| decided.contains(i.id.as_str()))
        .count();
    CampaignState {
        campaign: campaign.id.clone(),
        open: n_decided < campaign.items.len(),
        items: campaign.items.len(),
        decided: n_decided,
        kept: decisions
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Keep { .. }))
            .count(),
        revoked: decisions
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Revoke { .. }))
            .count(),
        certified: campaign.certified,
        reviewers,
        overdue,
    }
}

/// The operations the revoke decisions of `campaign` run (not ordered yet), each
/// with a reason naming the campaign, the item, the reviewer and their reason.
pub fn revocations(campaign: &Campaign, decisions: &[Decision]) -> Plan {
    let mut plan = Plan::default();
    let mut seen = BTreeSet::new();
    for d in decisions {
        let Outcome::Revoke { reason } = &d.outcome else {
            continue;
        };
        let Some(item) = campaign.item(&d.item) else {
            continue;
        };
        for op in &item.fix_operations {
            if !seen.insert(op.id.clone()) {
                continue;
            }
            let mut op = op.clone();
            op.reason.detail = format!(
                "access review {} item {} ({}): revoke decided by {}: {reason}",
                campaign.id,
                item.id,
                item.kind.as_str(),
                d.reviewer
            );
            op.reason.event = Some(format!("access-review:{}", campaign.id));
            plan.operations.push(op);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone};
    use provision_core::drift::Severity;
    use provision_core::model::{IdentityId, SystemName};

    use super::super::{ItemKind, NoResponse, ReviewScope};
    use super::*;

    fn campaign(keep_until: DateTime<Utc>) -> Campaign {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        Campaign {
            id: "rc-1".into(),
            name: "Q4".into(),
            scope: ReviewScope::all(),
            opened_at: now,
            due_at: now + Duration::days(14),
            items: vec![ReviewItem {
                id: "i-0001".into(),
                kind: ItemKind::Stale,
                severity: Severity::Low,
                reviewer: "e1007".into(),
                identity: Some(IdentityId::new("e1002")),
                person: "Marcus".into(),
                login: "marcus@company.com".into(),
                department: None,
                system: SystemName::new("okta"),
                entitlement: None,
                rule: None,
                evidence: Vec::new(),
                fix: "revoke it".into(),
                fix_operations: Vec::new(),
            }],
            certified: 0,
            grants_in_scope: 1,
            keep_until: Some(keep_until),
            no_response: NoResponse::Escalate,
            allow_self_review: false,
            escalated_from: None,
        }
    }

    #[test]
    fn a_keep_lasts_until_the_campaigns_expiry_and_one_already_past_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 12, 10, 9, 0, 0).unwrap();
        let row = DecisionRow {
            row: 2,
            item: "i-0001".into(),
            outcome: Outcome::Keep {
                reason: "on call".into(),
                expires_at: None,
            },
        };
        let until = now + Duration::days(90);
        let c = campaign(until);
        let checked = check_rows(&c, &[], "e1007", std::slice::from_ref(&row), now).unwrap();
        assert_eq!(
            checked[0].1,
            Outcome::Keep {
                reason: "on call".into(),
                expires_at: Some(until)
            }
        );
        let c = campaign(now - Duration::days(1));
        let err = check_rows(&c, &[], "e1007", &[row], now).unwrap_err();
        assert!(
            err.to_string().contains("row 2 (item i-0001): expiry"),
            "{err}"
        );
    }
}
