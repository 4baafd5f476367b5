//! What a person can be given in a system.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The canonical name of a configured system (`okta`, `google`, `aws`, ...).
/// Aliases from configuration (`aws-sso`) are resolved to this name at load.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SystemName(pub String);

impl SystemName {
    /// Wraps a system name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SystemName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SystemName {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A resource in a system, without the role held on it: `okta/group/engineering-team`,
/// `aws/permission_set/EngineeringSeniorReadOnly` scope `account:production`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The system that holds the resource.
    pub system: SystemName,
    /// The kind of resource, as the system's descriptor names it (`group`, `app`, `permission_set`).
    pub kind: String,
    /// The resource's name as policies write it (a group name, an email address, a channel).
    pub resource: String,
    /// Where the resource applies, when the kind needs one (`account:production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.system, self.kind, self.resource)?;
        if let Some(scope) = &self.scope {
            write!(f, " scope={scope}")?;
        }
        Ok(())
    }
}

/// One grant a person can hold: a resource plus an optional role on it.
///
/// Two entitlements on the same [`ResourceRef`] with different roles conflict:
/// a person holds at most one role on a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entitlement {
    /// The system that holds the resource.
    pub system: SystemName,
    /// The kind of resource (`group`, `app`, `permission_set`, `channel`, `project_role`, ...).
    pub kind: String,
    /// The resource's name.
    pub resource: String,
    /// The role held on it, when the kind has roles (`developer`, `manager`, `Reporter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where it applies, when the kind needs one (`account:production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Entitlement {
    /// An entitlement without role or scope.
    pub fn new(
        system: impl Into<String>,
        kind: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            system: SystemName(system.into()),
            kind: kind.into(),
            resource: resource.into(),
            role: None,
            scope: None,
        }
    }

    /// Builder-style: sets the role.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Builder-style: sets the scope.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The resource this entitlement is on, without the role.
    pub fn resource_ref(&self) -> ResourceRef {
        ResourceRef {
            system: self.system.clone(),
            kind: self.kind.clone(),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
        }
    }
}

impl fmt::Display for Entitlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.system, self.kind, self.resource)?;
        if let Some(role) = &self.role {
            write!(f, " role={role}")?;
        }
        if let Some(scope) = &self.scope {
            write!(f, " scope={scope}")?;
        }
        Ok(())
    }
}

/// When a grant is valid: contractors and temporary elevation carry an end,
/// future starters a start. Both bounds are optional; `start <= t < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Validity {
    /// The grant applies from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// The grant no longer applies from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

impl Validity {
    /// Always valid.
    pub const ALWAYS: Validity = Validity {
        start: None,
        end: None,
    };

    /// True when the grant applies at `now`.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= now) && self.end.is_none_or(|e| now < e)
    }
}
