//! People (and service accounts) as the HR source describes them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The stable identifier of an identity in the HR source (employee id, worker id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityId(pub String);

impl IdentityId {
    /// Wraps an HR identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for IdentityId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Where a person stands with the company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EmploymentStatus {
    /// Working; policies apply.
    #[default]
    Active,
    /// On leave: policies still select the person; deployments may choose to suspend.
    OnLeave,
    /// Leaving or left. Before `effective` the person is still active; from
    /// `effective` on, everything is revoked (sessions first).
    Terminated {
        /// When the termination takes effect.
        effective: DateTime<Utc>,
    },
}

/// A person or service account from the HR source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable HR identifier.
    pub id: IdentityId,
    /// Login used to correlate accounts in every system (usually the work email).
    pub login: String,
    /// Work email address.
    pub email: String,
    /// Name as shown to people.
    pub display_name: String,
    /// HR attributes: department, title, seniority, location, manager, employment type, ...
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Employment status.
    #[serde(default, flatten)]
    pub status: EmploymentStatus,
}

impl Identity {
    /// A new active identity whose login and email are both `email`.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        let email = email.into();
        Self {
            id: IdentityId(id.into()),
            login: email.clone(),
            email,
            display_name: display_name.into(),
            attributes: BTreeMap::new(),
            status: EmploymentStatus::Active,
        }
    }

    /// Builder-style: sets one attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// The value of one attribute, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// True when the identity is terminated and the termination is in effect at `now`.
    pub fn is_terminated_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status, EmploymentStatus::Terminated { effective } if effective <= now)
    }
}
