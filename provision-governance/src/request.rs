//! Access requests: a person (or a system acting for them) asks for an entitlement
//! outside policy, for a time window; the configured approver says yes or no; an
//! approved request is a time-bound grant the executor applies, and its audit
//! record's reason names the requester, the approver and the request id.
//!
//! A request is recorded once and never changed: what happens to it (approved,
//! rejected, provisioned, expired) is a list of [`RequestEvent`]s appended to it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use provision_core::model::{Entitlement, Identity, IdentityId, Validity};

use super::config::{ApproverSource, GovernanceConfig};
use super::error::GovernanceError;

/// Who must approve a request, resolved when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "approver", content = "who", rename_all = "snake_case")]
pub enum Approver {
    /// This person (the manager's identity id, or a named owner).
    Person(String),
    /// Approved automatically on submission.
    Auto,
}

impl std::fmt::Display for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Approver::Person(p) => f.write_str(p),
            Approver::Auto => f.write_str("auto-approval"),
        }
    }
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    /// Who asks (a person's id or login, or a system acting for them).
    pub requester: String,
    /// Who gets the entitlement.
    pub beneficiary: IdentityId,
    /// What.
    pub entitlement: Entitlement,
    /// From when (default: as soon as approved).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (required: a request is for a time window).
    pub ends_at: Option<DateTime<Utc>>,
    /// Why.
    pub justification: String,
}

/// A recorded request with everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Its id (`req-…`).
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// Who gets it.
    pub beneficiary: IdentityId,
    /// What.
    pub entitlement: Entitlement,
    /// From when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when.
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub justification: String,
    /// Who must approve it.
    pub approver: Approver,
    /// The requester or the beneficiary may approve it (the target's rule waives four
    /// eyes). False unless the rule said so when the request was opened.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub self_approval_allowed: bool,
    /// When it was made.
    pub requested_at: DateTime<Utc>,
    /// What happened since, in order.
    #[serde(default)]
    pub events: Vec<RequestEvent>,
}

/// Something that happened to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    #[serde(flatten)]
    pub kind: RequestEventKind,
}

/// What happened to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RequestEventKind {
    /// Approved by this person (or `auto`).
    Approved {
        /// Who approved.
        by: String,
    },
    /// Rejected.
    Rejected {
        /// Who rejected.
        by: String,
        /// Why.
        reason: String,
    },
    /// The grant took effect in the system.
    Provisioned {
        /// The run that applied it.
        run: String,
        /// The operation.
        operation: String,
    },
    /// The window ended (the grant, if any, is revoked on the next run).
    Expired,
    /// Withdrawn by its requester (or an admin) before its window ended: not granted,
    /// or revoked on the next run if it was.
    Withdrawn {
        /// Who withdrew it.
        by: String,
    },
    /// Revoked early by an admin: the grant is revoked on the next run.
    Revoked {
        /// The admin.
        by: String,
        /// Why.
        reason: String,
    },
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for its approver.
    Pending,
    /// Approved, not yet in the system.
    Approved,
    /// In the system.
    Provisioned,
    /// Rejected (kept).
    Rejected,
    /// Its window ended (kept).
    Expired,
    /// Withdrawn before its window ended (kept).
    Withdrawn,
    /// Revoked early by an admin (kept).
    Revoked,
}

impl RequestState {
    /// True while the request may still grant: pending, approved or provisioned.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::Pending | RequestState::Approved | RequestState::Provisioned
        )
    }

    /// True once nothing can change it any more (rejected, expired, withdrawn,
    /// revoked).
    fn is_final(self) -> bool {
        !self.is_open()
    }
}

impl AccessRequest {
    /// Its state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> RequestState {
        let mut state = RequestState::Pending;
        for e in &self.events {
            state = match (&e.kind, state) {
                (_, s) if s.is_final() && s != RequestState::Expired => s,
                (RequestEventKind::Rejected { .. }, _) => RequestState::Rejected,
                (RequestEventKind::Withdrawn { .. }, _) => RequestState::Withdrawn,
                (RequestEventKind::Revoked { .. }, _) => RequestState::Revoked,
                (RequestEventKind::Expired, _) => RequestState::Expired,
                (RequestEventKind::Approved { .. }, RequestState::Pending) => {
                    RequestState::Approved
                }
                (RequestEventKind::Provisioned { .. }, RequestState::Approved) => {
                    RequestState::Provisioned
                }
                (_, s) => s,
            };
        }
        if self.ends_at <= now && state.is_open() {
            RequestState::Expired
        } else {
            state
        }
    }

    /// Who approved it, once approved.
    pub fn approved_by(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match &e.kind {
            RequestEventKind::Approved { by } => Some(by.as_str()),
            _ => None,
        })
    }

    /// When it was approved.
    pub fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.events
            .iter()
            .find(|e| matches!(e.kind, RequestEventKind::Approved { .. }))
            .map(|e| e.at)
    }

    /// When its grant took effect.
    pub fn provisioned_at(&self) -> Option<DateTime<Utc>> {
        self.events
            .iter()
            .find(|e| matches!(e.kind, RequestEventKind::Provisioned { .. }))
            .map(|e| e.at)
    }

    /// Request-to-provisioned time, once provisioned.
    pub fn cycle_time(&self) -> Option<Duration> {
        self.provisioned_at().map(|p| p - self.requested_at)
    }

    /// The grant's window.
    pub fn validity(&self) -> Validity {
        Validity {
            start: self.starts_at,
            end: Some(self.ends_at),
        }
    }

    /// True when approved (or provisioned) and its window contains `now`: its grant
    /// is part of the desired state.
    pub fn grants_at(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.state(now),
            RequestState::Approved | RequestState::Provisioned
        ) && self.validity().contains(now)
    }

    /// True when it was approved and its window has ended, or it was withdrawn or
    /// revoked since: its grant is revoked.
    pub fn lapsed_at(&self, now: DateTime<Utc>) -> bool {
        self.approved_by().is_some()
            && (self.ends_at <= now
                || matches!(
                    self.state(now),
                    RequestState::Withdrawn | RequestState::Revoked
                ))
    }

    /// "request req-1 by e1001 for e1001, approved by e1005 (auditing refunds)".
    pub fn describe(&self) -> String {
        format!(
            "access request {} by {} for {}, approved by {} ({})",
            self.id,
            self.requester,
            self.beneficiary,
            self.approved_by().unwrap_or("(not approved)"),
            self.justification
        )
    }
}

/// Checks `new` and resolves its approver from `config` and the roster: refused
/// without a window end, with an end not after its start, without a justification,
/// for a person not in the roster, or when the approver is the manager and the person
/// has none.
pub fn open_request(
    new: NewRequest,
    id: String,
    config: &GovernanceConfig,
    roster: &[Identity],
    now: DateTime<Utc>,
) -> Result<AccessRequest, GovernanceError> {
    let Some(ends_at) = new.ends_at else {
        return Err(GovernanceError::Missing {
            what: "access request",
            field: "ends_at (a request is for a time window)",
        });
    };
    let start = new.starts_at.unwrap_or(now);
    if ends_at <= start {
        return Err(GovernanceError::ExpiryNotAfterStart {
            starts_at: start,
            expires_at: ends_at,
        });
    }
    if new.justification.trim().is_empty() {
        return Err(GovernanceError::Missing {
            what: "access request",
            field: "justification",
        });
    }
    if new.requester.trim().is_empty() {
        return Err(GovernanceError::Missing {
            what: "access request",
            field: "requester",
        });
    }
    let max = config.max_days_for(&new.entitlement);
    let span = ends_at - start;
    if span > Duration::days(max) {
        let days = (span.num_seconds() + 86_399) / 86_400;
        return Err(GovernanceError::WindowTooLong {
            entitlement: new.entitlement.to_string(),
            days,
            max,
        });
    }
    let person = roster
        .iter()
        .find(|p| p.id == new.beneficiary)
        .ok_or_else(|| GovernanceError::UnknownPerson(new.beneficiary.clone()))?;
    let approver = match config.approver_for(&new.entitlement) {
        ApproverSource::Auto => Approver::Auto,
        ApproverSource::Owner(owner) => Approver::Person(owner.clone()),
        ApproverSource::Manager => match person.attribute(&config.manager_attribute) {
            Some(m) if !m.is_empty() => Approver::Person(m.to_owned()),
            _ => {
                return Err(GovernanceError::NoApprover {
                    request: id,
                    detail: format!(
                        "{} has no `{}` in the roster",
                        person.id, config.manager_attribute
                    ),
                });
            }
        },
    };
    let self_approval_allowed = config.self_approval_allowed(&new.entitlement);
    if let Approver::Person(p) = &approver
        && !self_approval_allowed
        && (*p == new.requester || p == new.beneficiary.as_str())
    {
        return Err(GovernanceError::NoApprover {
            request: id,
            detail: "four eyes: the approver of this entitlement would be the requester or \
                     the beneficiary; someone else must request it, or the approver rule must \
                     allow self-approval"
                .to_owned(),
        });
    }
    let mut events = Vec::new();
    if approver == Approver::Auto {
        events.push(RequestEvent {
            at: now,
            kind: RequestEventKind::Approved { by: "auto".into() },
        });
    }
    Ok(AccessRequest {
        id,
        requester: new.requester,
        beneficiary: new.beneficiary,
        entitlement: new.entitlement,
        starts_at: new.starts_at,
        ends_at,
        justification: new.justification,
        approver,
        self_approval_allowed,
        requested_at: now,
        events,
    })
}

/// The event approving `request` by `by`, or why it is refused: someone other than
/// its approver, or a request that is not pending.
pub fn approval(
    request: &AccessRequest,
    by: &str,
    now: DateTime<Utc>,
) -> Result<RequestEvent, GovernanceError> {
    decide(request, by, now)?;
    if !request.self_approval_allowed
        && (request.requester == by || request.beneficiary.as_str() == by)
    {
        return Err(GovernanceError::SelfApproval {
            request: request.id.clone(),
            given: by.to_owned(),
        });
    }
    Ok(RequestEvent {
        at: now,
        kind: RequestEventKind::Approved { by: by.to_owned() },
    })
}

/// The event rejecting `request`, or why it is refused (as [`approval`]).
pub fn rejection(
    request: &AccessRequest,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RequestEvent, GovernanceError> {
    decide(request, by, now)?;
    Ok(RequestEvent {
        at: now,
        kind: RequestEventKind::Rejected {
            by: by.to_owned(),
            reason: reason.to_owned(),
        },
    })
}

/// The event withdrawing `request`, by its requester (or, with `admin`, anyone with
/// the admin role), or why it is refused: someone else, or a request already closed.
pub fn withdrawal(
    request: &AccessRequest,
    by: &str,
    admin: bool,
    now: DateTime<Utc>,
) -> Result<RequestEvent, GovernanceError> {
    if !admin && request.requester != by {
        return Err(GovernanceError::NotRequester {
            request: request.id.clone(),
            given: by.to_owned(),
        });
    }
    still_open(request, now)?;
    Ok(RequestEvent {
        at: now,
        kind: RequestEventKind::Withdrawn { by: by.to_owned() },
    })
}

/// The event revoking an approved `request` early, by an admin (the caller checks the
/// role), or why it is refused: a request that is not approved or provisioned.
pub fn revocation(
    request: &AccessRequest,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RequestEvent, GovernanceError> {
    let state = request.state(now);
    if !matches!(state, RequestState::Approved | RequestState::Provisioned) {
        return Err(GovernanceError::RequestNotPending {
            request: request.id.clone(),
            state,
        });
    }
    Ok(RequestEvent {
        at: now,
        kind: RequestEventKind::Revoked {
            by: by.to_owned(),
            reason: reason.to_owned(),
        },
    })
}

fn still_open(request: &AccessRequest, now: DateTime<Utc>) -> Result<(), GovernanceError> {
    let state = request.state(now);
    if state.is_open() {
        Ok(())
    } else {
        Err(GovernanceError::RequestNotPending {
            request: request.id.clone(),
            state,
        })
    }
}

fn decide(request: &AccessRequest, by: &str, now: DateTime<Utc>) -> Result<(), GovernanceError> {
    let state = request.state(now);
    if state != RequestState::Pending {
        return Err(GovernanceError::RequestNotPending {
            request: request.id.clone(),
            state,
        });
    }
    match &request.approver {
        Approver::Person(p) if p == by => Ok(()),
        expected => Err(GovernanceError::NotApprover {
            request: request.id.clone(),
            given: by.to_owned(),
            expected: expected.to_string(),
        }),
    }
}

/// Request-to-provisioned times over a set of requests: each provisioned request's
/// time, and how many auto-approved ones were provisioned within `target` (the seed's
/// target: 4 hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleTimes {
    /// (request id, auto-approved?, request-to-provisioned time) per provisioned request.
    pub provisioned: Vec<(String, bool, Duration)>,
    /// Auto-approved requests provisioned within the target.
    pub auto_within_target: usize,
    /// Auto-approved requests provisioned.
    pub auto_provisioned: usize,
}

/// The [`CycleTimes`] of `requests` against `target`.
pub fn cycle_times(requests: &[AccessRequest], target: Duration) -> CycleTimes {
    let provisioned: Vec<(String, bool, Duration)> = requests
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.approver == Approver::Auto, r.cycle_time()?)))
        .collect();
    let auto: Vec<&Duration> = provisioned
        .iter()
        .filter(|(_, auto, _)| *auto)
        .map(|(_, _, t)| t)
        .collect();
    CycleTimes {
        auto_within_target: auto.iter().filter(|t| ***t <= target).count(),
        auto_provisioned: auto.len(),
        provisioned,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{ApproverRule, Target};

    fn config() -> GovernanceConfig {
        GovernanceConfig {
            approvers: vec![
                ApproverRule {
                    target: Target {
                        system: "aws".into(),
                        kind: None,
                        resource: None,
                    },
                    approver: ApproverSource::Owner("cloud-lead".into()),
                    allow_self_approval: false,
                    max_days: None,
                },
                ApproverRule {
                    target: Target {
                        system: "aws".into(),
                        kind: Some("permission_set".into()),
                        resource: Some("ReadOnly".into()),
                    },
                    approver: ApproverSource::Auto,
                    allow_self_approval: false,
                    max_days: None,
                },
            ],
            ..GovernanceConfig::default()
        }
    }

    fn new(e: Entitlement, ends_in: Option<i64>) -> NewRequest {
        NewRequest {
            requester: "e1".into(),
            beneficiary: IdentityId::new("e1"),
            entitlement: e,
            starts_at: None,
            ends_at: ends_in.map(|h| Utc::now() + Duration::hours(h)),
            justification: "incident".into(),
        }
    }

    #[test]
    fn the_most_specific_approver_rule_wins_and_the_manager_is_the_default() {
        let roster = [Identity::new("e1", "a@co", "A").with_attribute("manager", "e9")];
        let now = Utc::now();
        let read_only = Entitlement::new("aws", "permission_set", "ReadOnly");
        let admin = Entitlement::new("aws", "permission_set", "Admin");
        let group = Entitlement::new("okta", "group", "x");
        let r = open_request(
            new(read_only, Some(2)),
            "r1".into(),
            &config(),
            &roster,
            now,
        )
        .unwrap();
        assert_eq!(
            (r.approver.clone(), r.state(now)),
            (Approver::Auto, RequestState::Approved)
        );
        let r = open_request(new(admin, Some(2)), "r2".into(), &config(), &roster, now).unwrap();
        assert_eq!(r.approver, Approver::Person("cloud-lead".into()));
        let r = open_request(new(group, Some(2)), "r3".into(), &config(), &roster, now).unwrap();
        assert_eq!(r.approver, Approver::Person("e9".into()));
        // Decisions: only the approver, only once.
        assert!(matches!(
            approval(&r, "e2", now),
            Err(GovernanceError::NotApprover { .. })
        ));
        let mut r = r;
        r.events
            .push(rejection(&r, "e9", "not needed", now).unwrap());
        assert_eq!(r.state(now), RequestState::Rejected);
        assert!(matches!(
            approval(&r, "e9", now),
            Err(GovernanceError::RequestNotPending { .. })
        ));
        // Kept after its window: still rejected; an approved one expires.
        assert_eq!(r.state(now + Duration::hours(3)), RequestState::Rejected);
    }

    #[test]
    fn a_requester_withdraws_and_an_admin_revokes_and_either_ends_the_grant() {
        let roster = [Identity::new("e1", "a@co", "A").with_attribute("manager", "e9")];
        let now = Utc::now();
        let group = Entitlement::new("okta", "group", "x");
        let pending = open_request(
            new(group.clone(), Some(5)),
            "r1".into(),
            &config(),
            &roster,
            now,
        )
        .unwrap();
        // Only the requester, or an admin.
        assert!(matches!(
            withdrawal(&pending, "e9", false, now),
            Err(GovernanceError::NotRequester { .. })
        ));
        // Nothing approved to revoke yet.
        assert!(matches!(
            revocation(&pending, "admin", "audit finding", now),
            Err(GovernanceError::RequestNotPending { .. })
        ));
        let mut withdrawn = pending.clone();
        withdrawn
            .events
            .push(withdrawal(&withdrawn, "e1", false, now).unwrap());
        assert_eq!(withdrawn.state(now), RequestState::Withdrawn);
        assert!(!withdrawn.grants_at(now) && !withdrawn.lapsed_at(now));
        // Closed: no approval, no second withdrawal.
        assert!(approval(&withdrawn, "e9", now).is_err());
        assert!(withdrawal(&withdrawn, "e1", false, now).is_err());

        let mut approved = pending;
        approved
            .events
            .push(approval(&approved, "e9", now).unwrap());
        assert!(approved.grants_at(now) && !approved.lapsed_at(now));
        let mut by_admin = approved.clone();
        by_admin
            .events
            .push(withdrawal(&by_admin, "it-admin", true, now).unwrap());
        assert_eq!(by_admin.state(now), RequestState::Withdrawn);
        assert!(
            !by_admin.grants_at(now) && by_admin.lapsed_at(now),
            "revoked next run"
        );
        approved
            .events
            .push(revocation(&approved, "it-admin", "audit finding", now).unwrap());
        assert_eq!(approved.state(now), RequestState::Revoked);
        assert!(!approved.grants_at(now) && approved.lapsed_at(now));
        // Still revoked after its window (not "expired").
        assert_eq!(
            approved.state(now + Duration::hours(6)),
            RequestState::Revoked
        );
    }

    #[test]
    fn a_request_without_a_window_end_or_for_someone_unknown_is_refused() {
        let roster = [Identity::new("e1", "a@co", "A")];
        let group = Entitlement::new("okta", "group", "x");
        let now = Utc::now();
        assert!(matches!(
            open_request(
                new(group.clone(), None),
                "r".into(),
                &config(),
                &roster,
                now
            ),
            Err(GovernanceError::Missing { .. })
        ));
        assert!(matches!(
            open_request(
                new(group.clone(), Some(-1)),
                "r".into(),
                &config(),
                &roster,
                now
            ),
            Err(GovernanceError::ExpiryNotAfterStart { .. })
        ));
        // No manager in the roster: no approver.
        assert!(matches!(
            open_request(new(group, Some(2)), "r".into(), &config(), &roster, now),
            Err(GovernanceError::NoApprover { .. })
        ));
        let mut other = new(Entitlement::new("okta", "group", "x"), Some(2));
        other.beneficiary = IdentityId::new("e404");
        assert!(matches!(
            open_request(other, "r".into(), &config(), &roster, now),
            Err(GovernanceError::UnknownPerson(_))
        ));
    }

    #[test]
    fn nobody_approves_their_own_request_unless_the_target_allows_it() {
        let roster = [
            Identity::new("e1", "a@co", "A").with_attribute("manager", "e9"),
            Identity::new("e2", "b@co", "B").with_attribute("manager", "e1"),
        ];
        let now = Utc::now();
        let group = Entitlement::new("okta", "group", "x");
        // The manager e1 asks for their report e2: e1 would approve their own request.
        let mut by_manager = new(group.clone(), Some(2));
        by_manager.beneficiary = IdentityId::new("e2");
        let err =
            open_request(by_manager.clone(), "r1".into(), &config(), &roster, now).unwrap_err();
        assert!(err.to_string().contains("four eyes"), "{err}");
        // Someone else asks: e1 approves, as neither requester nor beneficiary.
        let mut by_other = by_manager.clone();
        by_other.requester = "e7".into();
        let r = open_request(by_other, "r2".into(), &config(), &roster, now).unwrap();
        approval(&r, "e1", now).unwrap();
        // A stored request whose approver is its requester (opened before four eyes,
        // or edited in the store): the approval is refused, naming nobody else.
        let mut own = r.clone();
        own.requester = "e1".into();
        let err = approval(&own, "e1", now).unwrap_err();
        assert!(matches!(err, GovernanceError::SelfApproval { .. }), "{err}");
        // A target whose rule waives four eyes.
        let mut waived = config();
        waived.approvers.push(ApproverRule {
            target: Target {
                system: "okta".into(),
                kind: None,
                resource: None,
            },
            approver: ApproverSource::Manager,
            allow_self_approval: true,
            max_days: None,
        });
        let r = open_request(by_manager, "r3".into(), &waived, &roster, now).unwrap();
        assert!(r.self_approval_allowed);
        approval(&r, "e1", now).unwrap();
    }

    #[test]
    fn a_refusal_never_names_who_may_decide() {
        let roster = [Identity::new("e1", "a@co", "A").with_attribute("manager", "e9")];
        let now = Utc::now();
        let mut asked = new(Entitlement::new("okta", "group", "x"), Some(2));
        asked.requester = "e7".into();
        let r = open_request(asked, "r1".into(), &config(), &roster, now).unwrap();
        let err = approval(&r, "mallory", now).unwrap_err();
        assert!(
            err.to_string().contains("mallory") && !err.to_string().contains("e9"),
            "{err}"
        );
    }
}
