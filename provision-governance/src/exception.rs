//! Exceptions: a documented, approved, time-bound "yes" to something policy does
//! not give (a person with an entitlement) or forbids (a person with an SoD rule).
//!
//! Every exception has an expiry: there is no open-ended exception. An exception
//! for an entitlement makes that grant part of the desired state until it expires;
//! after that the grant is revoked on the next run unless a renewal covers it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use provision_core::model::{Entitlement, IdentityId};

use super::error::GovernanceError;

/// What an exception allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum ExceptionScope {
    /// The person keeps (or gets) this entitlement though no policy gives it.
    Entitlement {
        /// The entitlement.
        entitlement: Entitlement,
    },
    /// The person may hold the combination this separation-of-duties rule forbids.
    SodRule {
        /// The rule's name.
        rule: String,
    },
}

impl std::fmt::Display for ExceptionScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExceptionScope::Entitlement { entitlement } => write!(f, "entitlement {entitlement}"),
            ExceptionScope::SodRule { rule } => write!(f, "separation-of-duties rule '{rule}'"),
        }
    }
}

/// A recorded exception. Records are never changed: a renewal is a new exception
/// naming the one it renews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// Its id (`exc-…`).
    pub id: String,
    /// The person.
    pub identity: IdentityId,
    /// What it allows.
    pub scope: ExceptionScope,
    /// Why (the business reason).
    pub rationale: String,
    /// Who approved it.
    pub approver: String,
    /// From when it applies.
    pub starts_at: DateTime<Utc>,
    /// When it ends (required).
    pub expires_at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The exception this one renews, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews: Option<String>,
    /// Where it came from (`access review rc-…`, a ticket), if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Exception {
    /// True when it applies at `now` (`starts_at <= now < expires_at`).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.expires_at
    }

    /// True when it ended at or before `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// True when it covers the SoD rule `rule`.
    pub fn covers_rule(&self, rule: &str) -> bool {
        matches!(&self.scope, ExceptionScope::SodRule { rule: r } if r == rule)
    }

    /// The entitlement it allows, for an entitlement exception.
    pub fn entitlement(&self) -> Option<&Entitlement> {
        match &self.scope {
            ExceptionScope::Entitlement { entitlement } => Some(entitlement),
            ExceptionScope::SodRule { .. } => None,
        }
    }

    /// "exception exc-1 (approved by dana: audit season, until 2027-01-31T00:00:00Z)".
    pub fn describe(&self) -> String {
        format!(
            "exception {} (approved by {}: {}; valid until {})",
            self.id,
            self.approver,
            self.rationale,
            self.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// What a caller asks to record; [`NewException::validate`] turns it into an
/// [`Exception`] or refuses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewException {
    /// The person.
    pub identity: IdentityId,
    /// What it allows.
    pub scope: ExceptionScope,
    /// Why.
    pub rationale: String,
    /// Who approves it.
    pub approver: String,
    /// From when (default: when recorded).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when: required, an exception without an expiry is refused.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The exception this renews.
    #[serde(default)]
    pub renews: Option<String>,
    /// Where it came from.
    #[serde(default)]
    pub origin: Option<String>,
}

impl NewException {
    /// An exception for `identity` with `scope`, to be completed with its rationale,
    /// approver and expiry.
    pub fn new(identity: impl Into<String>, scope: ExceptionScope) -> Self {
        Self {
            identity: IdentityId::new(identity),
            scope,
            rationale: String::new(),
            approver: String::new(),
            starts_at: None,
            expires_at: None,
            renews: None,
            origin: None,
        }
    }

    /// Sets the rationale.
    pub fn rationale(mut self, rationale: impl Into<String>) -> Self {
        self.rationale = rationale.into();
        self
    }

    /// Sets the approver.
    pub fn approver(mut self, approver: impl Into<String>) -> Self {
        self.approver = approver.into();
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the start.
    pub fn starts_at(mut self, at: DateTime<Utc>) -> Self {
        self.starts_at = Some(at);
        self
    }

    /// Marks it as the renewal of `previous`.
    pub fn renews(mut self, previous: impl Into<String>) -> Self {
        self.renews = Some(previous.into());
        self
    }

    /// Checks it and gives it `id`: refused without an expiry, with an expiry not
    /// after its start, without a rationale or without an approver.
    pub fn validate(self, id: String, now: DateTime<Utc>) -> Result<Exception, GovernanceError> {
        let Some(expires_at) = self.expires_at else {
            return Err(GovernanceError::ExceptionWithoutExpiry {
                identity: self.identity,
                scope: self.scope.to_string(),
            });
        };
        let starts_at = self.starts_at.unwrap_or(now);
        if expires_at <= starts_at {
            return Err(GovernanceError::ExpiryNotAfterStart {
                starts_at,
                expires_at,
            });
        }
        if self.rationale.trim().is_empty() {
            return Err(GovernanceError::Missing {
                what: "exception",
                field: "rationale",
            });
        }
        if self.approver.trim().is_empty() {
            return Err(GovernanceError::Missing {
                what: "exception",
                field: "approver",
            });
        }
        Ok(Exception {
            id,
            identity: self.identity,
            scope: self.scope,
            rationale: self.rationale,
            approver: self.approver,
            starts_at,
            expires_at,
            recorded_at: now,
            renews: self.renews,
            origin: self.origin,
        })
    }
}

/// Where an exception stands at a time, for the quarterly review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    /// Not started yet.
    Scheduled,
    /// In force.
    Active,
    /// Ended, and a later exception for the same person and scope is in force.
    Renewed,
    /// Ended with nothing renewing it: a finding; its grant is revoked on the next run.
    Expired,
}

/// The status of `e` among all `exceptions` at `now`.
pub fn status_of(e: &Exception, exceptions: &[Exception], now: DateTime<Utc>) -> ExceptionStatus {
    if now < e.starts_at {
        ExceptionStatus::Scheduled
    } else if e.is_active(now) {
        ExceptionStatus::Active
    } else if exceptions
        .iter()
        .any(|o| o.identity == e.identity && o.scope == e.scope && o.is_active(now))
    {
        ExceptionStatus::Renewed
    } else {
        ExceptionStatus::Expired
    }
}

/// One line of the quarterly exception review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionReviewLine {
    /// The exception.
    pub exception: Exception,
    /// Its status at the review.
    pub status: ExceptionStatus,
    /// Days until it expires (negative once expired).
    pub days_left: i64,
}

/// Every exception with its status at `now`, soonest expiry first: the list for the
/// quarterly boundary review.
pub fn review_list(exceptions: &[Exception], now: DateTime<Utc>) -> Vec<ExceptionReviewLine> {
    let mut lines: Vec<ExceptionReviewLine> = exceptions
        .iter()
        .map(|e| ExceptionReviewLine {
            exception: e.clone(),
            status: status_of(e, exceptions, now),
            days_left: (e.expires_at - now).num_days(),
        })
        .collect();
    lines.sort_by(|a, b| {
        (a.exception.expires_at, &a.exception.id).cmp(&(b.exception.expires_at, &b.exception.id))
    });
    lines
}
