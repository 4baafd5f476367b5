//! The model: identities, entitlements, accounts, policies, states, operations and plans.
//!
//! Every type that crosses a public boundary is `serde` (de)serialisable, so a
//! plan, a report or a state snapshot can be written as JSON.

mod account;
mod entitlement;
mod identity;
mod ids;
mod operation;
mod plan;
mod policy;
mod refusal;
mod run;
mod state;

pub use account::{
    AccountRecord, AccountRef, AccountState, GrantRecord, ResourceRecord, SystemSnapshot,
};
pub use entitlement::{Entitlement, ResourceRef, SystemName, Validity};
pub use identity::{EmploymentStatus, Identity, IdentityId};
pub use ids::ExternalIds;
pub use operation::{
    AccountProfile, Operation, OperationId, OperationKind, Priority, Reason, ReasonKind,
};
pub use plan::{Dependency, Plan};
pub use policy::{Policy, PolicyGrant, PolicySet, Selector, SourceLocation};
pub use refusal::Refusal;
pub use run::RunId;
pub use state::{
    ActualAccount, ActualIdentity, ActualState, Ambiguity, DesiredGrant, DesiredIdentity,
    DesiredState, MatchedAttributes, Provenance,
};
