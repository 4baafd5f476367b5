//! Desired and actual state, keyed by identity.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::account::{AccountRecord, AccountState, ResourceRecord};
use super::entitlement::{Entitlement, ResourceRef, SystemName, Validity};
use super::identity::{Identity, IdentityId};

/// The identity's attribute values that made a policy match (`department` ->
/// `Sales`). Shared: every grant of one policy match, and every identity whose
/// matching values are the same, point at one map.
pub type MatchedAttributes = Arc<BTreeMap<String, String>>;

/// Why an identity should hold an entitlement: the answer to "why does Sarah have
/// this?". A policy matched the person's attributes, or something outside policy
/// allows it: an exception, an approved access request.
///
/// Written as JSON as `{"policy": .., "matched": {..}}`, `{"exception": .., "detail":
/// ..}` or `{"request": .., "detail": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Provenance {
    /// A policy gives it.
    Policy {
        /// The policy's name.
        policy: String,
        /// The identity's attribute values that made the policy match (serialized as a
        /// plain map).
        #[serde(with = "crate::serde_util::shared")]
        matched: MatchedAttributes,
    },
    /// An exception allows it outside policy.
    Exception {
        /// The exception's id.
        exception: String,
        /// The sentence for plans and the audit log (who approved it, until when).
        detail: String,
    },
    /// An approved access request grants it.
    Request {
        /// The request's id.
        request: String,
        /// The sentence for plans and the audit log (requester, approver, window).
        detail: String,
    },
}

impl Provenance {
    /// Policy `name` matched these attribute values.
    pub fn policy(name: impl Into<String>, matched: MatchedAttributes) -> Self {
        Provenance::Policy {
            policy: name.into(),
            matched,
        }
    }

    /// The name reasons and evidence use: the policy's, `exception <id>` or
    /// `request <id>`.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Provenance::Policy { policy, .. } => std::borrow::Cow::Borrowed(policy),
            Provenance::Exception { exception, .. } => format!("exception {exception}").into(),
            Provenance::Request { request, .. } => format!("request {request}").into(),
        }
    }

    /// The policy's name, when a policy gives it.
    pub fn policy_name(&self) -> Option<&str> {
        match self {
            Provenance::Policy { policy, .. } => Some(policy),
            _ => None,
        }
    }

    /// The attribute values that matched (empty outside policy).
    pub fn matched(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        match self {
            Provenance::Policy { matched, .. } => matched,
            _ => &EMPTY,
        }
    }

    /// The attribute values that matched, as the shared map (a policy only): every
    /// grant of one policy match points at the same map.
    pub fn shared_matched(&self) -> Option<&MatchedAttributes> {
        match self {
            Provenance::Policy { matched, .. } => Some(matched),
            _ => None,
        }
    }

    /// True when something outside policy allows it.
    pub fn is_outside_policy(&self) -> bool {
        !matches!(self, Provenance::Policy { .. })
    }
}

/// An entitlement an identity should hold, with every policy that gives it.
///
/// The entitlement itself is the key under which the grant is stored
/// ([`DesiredIdentity::grants`]); serialized, each grant is written as one object
/// with its `entitlement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredGrant {
    /// Every policy that gives it, with the matching attribute values.
    pub provenance: Vec<Provenance>,
    /// The union of the policies' validity windows that apply (when several
    /// policies give it, the widest window).
    pub validity: Validity,
}

/// What one identity should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredIdentity {
    /// The identity as the HR source gave it.
    pub identity: Identity,
    /// Systems in which the identity needs an account (those with accounts of their
    /// own in which some grant applies).
    pub accounts: BTreeSet<SystemName>,
    /// Grants keyed by entitlement (serialized as a list of
    /// `{entitlement, provenance, validity}` objects).
    #[serde(with = "grant_list")]
    pub grants: BTreeMap<Entitlement, DesiredGrant>,
    /// Grants a matching policy gave whose validity window has ended: not desired,
    /// kept so the planner can revoke them with reason `Expired` and name the policy.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "grant_list"
    )]
    pub expired: BTreeMap<Entitlement, DesiredGrant>,
}

/// What every identity should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DesiredState {
    /// Per identity.
    pub identities: BTreeMap<IdentityId, DesiredIdentity>,
    /// Every resource some policy mentions (whether or not anyone matches it now):
    /// the resources whose membership the SDK manages. A grant on one of them that
    /// no policy gives is revoked even under `additive` enforcement (the policy no
    /// longer gives it); a grant elsewhere is manual and revoked only under
    /// `authoritative`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub managed_resources: BTreeSet<ResourceRef>,
}

/// Grants keyed by entitlement written as a list of objects that carry their
/// entitlement: a map with structured keys cannot be JSON, and the entitlement is
/// held once in memory (as the key) but shown with its grant.
mod grant_list {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{DesiredGrant, Entitlement};
    use crate::model::{Provenance, Validity};

    #[derive(Serialize)]
    struct GrantRef<'a> {
        entitlement: &'a Entitlement,
        provenance: &'a [Provenance],
        validity: &'a Validity,
    }

    #[derive(Deserialize)]
    struct GrantOwned {
        entitlement: Entitlement,
        provenance: Vec<Provenance>,
        #[serde(default)]
        validity: Validity,
    }

    pub(super) fn serialize<S: Serializer>(
        grants: &BTreeMap<Entitlement, DesiredGrant>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(grants.len()))?;
        for (entitlement, grant) in grants {
            seq.serialize_element(&GrantRef {
                entitlement,
                provenance: &grant.provenance,
                validity: &grant.validity,
            })?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Entitlement, DesiredGrant>, D::Error> {
        let list = Vec::<GrantOwned>::deserialize(d)?;
        let mut grants = BTreeMap::new();
        for g in list {
            let grant = DesiredGrant {
                provenance: g.provenance,
                validity: g.validity,
            };
            if grants.insert(g.entitlement.clone(), grant).is_some() {
                return Err(D::Error::custom(format!(
                    "grant {} is listed twice",
                    g.entitlement
                )));
            }
        }
        Ok(grants)
    }
}

impl DesiredState {
    /// "Why does this identity have this entitlement?": the policies and attribute values, if any.
    pub fn why(&self, identity: &IdentityId, entitlement: &Entitlement) -> Option<&[Provenance]> {
        self.identities
            .get(identity)?
            .grants
            .get(entitlement)
            .map(|g| g.provenance.as_slice())
    }
}

/// An identity's account in one system, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualAccount {
    /// The system's id.
    pub external_id: String,
    /// Lifecycle state.
    pub state: AccountState,
    /// The full record as read.
    pub record: AccountRecord,
}

/// What one identity has, as read from the systems.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActualIdentity {
    /// Accounts per system.
    pub accounts: BTreeMap<SystemName, ActualAccount>,
    /// Grants held (across systems).
    pub grants: BTreeSet<Entitlement>,
    /// Systems in which correlation could not tell which account is this identity's
    /// (see [`ActualState::ambiguous`]): the planner changes nothing for it there
    /// until a person decides.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub ambiguous: BTreeSet<SystemName>,
}

/// A correlation that would have been a guess: one account matching several
/// people, or one person matching several accounts of one system. None of the
/// accounts involved is attached to anyone; they stay in
/// [`ActualState::unmatched_accounts`] and drift reports them for a person to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ambiguity {
    /// The system.
    pub system: SystemName,
    /// The accounts involved (external ids), sorted.
    pub accounts: Vec<String>,
    /// The identities involved, sorted.
    pub identities: Vec<IdentityId>,
    /// How they matched (`employee_id`, `login`) and why it is ambiguous.
    pub detail: String,
}

/// What the systems say, correlated to identities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActualState {
    /// Per known identity.
    pub identities: BTreeMap<IdentityId, ActualIdentity>,
    /// Accounts that match no identity (orphans), per system.
    pub unmatched_accounts: BTreeMap<SystemName, Vec<AccountRecord>>,
    /// Resources of enumerable kinds as listed
    /// ([`crate::adapter::Adapter::list_resources`]), per system: where nested kinds
    /// name their parents.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<SystemName, Vec<ResourceRecord>>,
    /// Correlations that would have been guesses (see [`Ambiguity`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambiguous: Vec<Ambiguity>,
}
