//! Governance: separation of duties, exceptions, access requests with approvals,
//! and access reviews.
//!
//! * [`sod`] — named toxic combinations of entitlements across systems, written in
//!   the policy files ([`sod_load`]); the [`GovernanceHook`] refuses, person by
//!   person, a plan that would create a conflict no active exception covers, and
//!   drift reports the conflicts people hold ([`findings`]).
//! * [`exception`] — a person with an entitlement (or with an SoD rule), a rationale,
//!   an approver, a start and a required expiry; an expired one is a finding and its
//!   grant is revoked on the next run unless renewed.
//! * [`request`] — access outside policy for a time window, approved by the
//!   manager, a named owner or automatically ([`config`]); an approved request is a
//!   time-bound grant ([`outside_policy`]) whose audit record names the requester,
//!   the approver and the request id.
//! * [`review`] — campaigns that give each reviewer only what needs a decision,
//!   ranked by risk, exported as CSV, JSON and HTML; stored once, decided an item or
//!   a filled CSV at a time, closed with a no-response rule (revoke, keep,
//!   escalate); revoke decisions run through the gate and the executor.
//! * [`store`] — the records, append-only ([`MemoryGovernanceStore`] here; SQLite and
//!   PostgreSQL in `provision_store`).
//!
//! [`GovernanceHook`] plugs them into every plan the
//! [`Engine`](provision_core::engine::Engine) makes; [`Governance`] records exceptions,
//! requests and review decisions.

mod campaigns;
pub mod config;
pub mod error;
mod evidence;
pub mod exception;
pub mod findings;
mod handle;
mod hook;
pub mod outside_policy;
pub mod request;
pub mod review;
mod section;
pub mod sod;
pub mod sod_load;
pub mod store;

pub use campaigns::{CampaignOverview, ClosedCampaign, RevocationRun};
pub use config::{ApproverRule, ApproverSource, GovernanceConfig, OwnerRule, Target};
pub use error::GovernanceError;
pub use error::RowRefusal;
pub use evidence::{
    EXCEPTION_KIND, EvidenceFact, REQUEST_KIND, REVIEW_DECISION_KIND, evidence_facts,
};
pub use exception::{
    Exception, ExceptionReviewLine, ExceptionScope, ExceptionStatus, NewException, review_list,
};
pub use handle::{Governance, reviewer_list};
pub use hook::{GovernanceHook, SOD};
pub use request::{
    AccessRequest, Approver, CycleTimes, NewRequest, RequestEvent, RequestEventKind, RequestState,
    cycle_times,
};
pub use review::import::DecisionRow;
pub use review::{
    Campaign, CampaignClosure, CampaignState, Decision, ItemKind, NewCampaign, NoResponse, Outcome,
    ReviewItem, ReviewScope,
};
pub use sod::{EntitlementPattern, SodConflict, SodRule, SodRules};
pub use sod_load::{load_sod_rules, load_sod_sources};
pub use store::{GovernanceEvent, GovernanceStore, GovernanceStoreError, MemoryGovernanceStore};
