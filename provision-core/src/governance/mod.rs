//! Governance: separation of duties, exceptions, access requests with approvals,
//! and access reviews.
//!
//! * [`sod`] — named toxic combinations of entitlements across systems, written in
//!   the policy files ([`sod_load`]); the planner refuses a plan that would create a
//!   conflict no active exception covers ([`sod::check_plan`]), drift reports the
//!   conflicts people hold ([`findings`]).
//! * [`exception`] — a person with an entitlement (or with an SoD rule), a rationale,
//!   an approver, a start and a required expiry; an expired one is a finding and its
//!   grant is revoked on the next run unless renewed.
//! * [`request`] — access outside policy for a time window, approved by the
//!   manager, a named owner or automatically ([`config`]); an approved request is a
//!   time-bound grant ([`outside_policy`]) whose audit record names the requester,
//!   the approver and the request id.
//! * [`review`] — campaigns that give each reviewer only what needs a decision,
//!   ranked by risk, exported as CSV, JSON and HTML.
//! * [`store`] — the records, append-only ([`MemoryGovernanceStore`] here; SQLite and
//!   PostgreSQL in `provision_store`).
//!
//! The [`Engine`](crate::engine::Engine) strings them together:
//! [`Engine::governance`](crate::engine::Engine::governance).

pub mod config;
pub mod error;
pub mod exception;
pub mod findings;
pub mod outside_policy;
pub mod request;
pub mod review;
pub mod sod;
pub mod sod_load;
pub mod store;

pub use config::{ApproverRule, ApproverSource, GovernanceConfig, OwnerRule, Target};
pub use error::GovernanceError;
pub use exception::{
    Exception, ExceptionReviewLine, ExceptionScope, ExceptionStatus, NewException, review_list,
};
pub use request::{
    AccessRequest, Approver, CycleTimes, NewRequest, RequestEvent, RequestEventKind, RequestState,
    cycle_times,
};
pub use review::{Campaign, CampaignState, Decision, ItemKind, Outcome, ReviewItem, ReviewScope};
pub use sod::{EntitlementPattern, SodConflict, SodRefusal, SodRule, SodRules};
pub use sod_load::{load_sod_rules, load_sod_sources};
pub use store::{GovernanceEvent, GovernanceStore, GovernanceStoreError, MemoryGovernanceStore};
