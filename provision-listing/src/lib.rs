//! # provision-listing
//!
//! `adapter: listing`: a read-only adapter over a CSV or JSON export of an
//! application's users and their roles or groups — what an admin downloads from a
//! system with no API (a payroll tool, an on-prem application).
//!
//! * **Reads**: one account per row (its id is its login), enabled unless the status
//!   column says disabled; one grant per role listed. Drift and reviews see them like
//!   any system's: a leaver still listed with an enabled account is drift's
//!   `orphaned` finding of severity **critical**.
//! * **Writes**: none. The system's `enforcement` must be `report`; a `jira-tickets`
//!   system asks a person to make the changes, and the next export confirms them.
//! * **Staleness**: the file's modification time is the export's time; its age
//!   against `cadence_days` is evidence (`listing.freshness`, with `stale`), and a
//!   stale export is logged when read.
//! * **Reads cost what the data costs**: the file is parsed once per version (its
//!   modification time), however many resources a plan reads.
//!
//! ```yaml
//! systems:
//!   payroll-export:
//!     adapter: listing
//!     enforcement: report
//!     settings:
//!       path: exports/payroll-users.csv   # or .json: an array of objects
//!       login_column: email
//!       grants_column: roles              # "approver;viewer", or a JSON list
//!       status_column: status             # optional: disabled/inactive/... = suspended
//!       last_login_column: last_login     # optional
//!       kind: role
//!       cadence_days: 7
//! ```
//!
//! CSV through the `csv` crate (quoted cells, row positions for errors), as the
//! roster reads its exports.

// `AdapterError` is the shared contract's error type (it carries the system's reply).
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod config;
pub mod read;

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

pub use adapter::{ListingAdapter, listing_descriptor};
pub use config::ListingConfig;

/// Builds listing adapters from deployment entries ([`ListingConfig::from_spec`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListingFactory;

#[async_trait]
impl AdapterFactory for ListingFactory {
    fn adapter_type(&self) -> &str {
        adapter::ADAPTER_TYPE
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        Ok(listing_descriptor(spec.setting("kind").unwrap_or("role")))
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = ListingConfig::from_spec(spec)?;
        Ok(Arc::new(ListingAdapter::new(config)))
    }
}

/// The factory for `adapter: listing` systems.
pub fn factory() -> Arc<dyn AdapterFactory> {
    Arc::new(ListingFactory)
}
