//! HR sources: where a roster is pulled from on a cadence, each giving the same
//! [`RosterLoad`] (people, plus row problems with file:line) as a roster file.
//!
//! | source | what it reads |
//! | --- | --- |
//! | [`HttpReport`] | any HTTPS report returning JSON or CSV (Workday RaaS custom reports, an internal export), with basic, bearer or OAuth client-credentials auth and paging by `Link rel="next"` or by a page token |
//! | [`BambooHr`] | BambooHR's custom report (`POST /v1/reports/custom`) or employee directory, the API key as the basic-auth user |
//! | [`FileDrop`] | a file path or a glob (`/srv/sftp/hr/workers-*.csv`), for SFTP drops something else copies in |
//!
//! HTTP goes through `provision-http` (this crate depends on it for that): one client,
//! the same-origin rule for credentials and next-page links, `Retry-After` and
//! rate-limit headers read once, vendor error codes kept. A 429, or a 503 with
//! `Retry-After`, waits as the server says; another 5xx or a timeout backs off
//! exponentially ([`ReadRetry`]); a 401 is returned at once with the vendor's message.
//! Credentials are [`CredentialRef`](provision_core::config::CredentialRef)s (an
//! environment variable or a file) resolved into
//! [`SecretString`](provision_core::secret::SecretString)s when the source is built:
//! never in a log, an error, `Debug` output or a snapshot.
//!
//! A source that fails returns a [`SourceError`]; the caller keeps the last good
//! snapshot in force (see [`crate::snapshot`]).
//!
//! ```no_run
//! use provision_core::config::CredentialRef;
//! use provision_roster::snapshot::{review, Snapshot, SnapshotGuard, SnapshotReview};
//! use provision_roster::sources::{BambooHr, HrSource, HttpReport};
//! async fn pull(previous: Option<Snapshot>) -> Result<(), Box<dyn std::error::Error>> {
//!     let workday = HttpReport::workday_raas(
//!         "workday",
//!         "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme/ISU_Provision/Workers?format=json",
//!         "ISU_Provision@acme",
//!         CredentialRef::Env { env: "WORKDAY_ISU_PASSWORD".into() },
//!     );
//!     let bamboo = BambooHr::new("bamboohr", "acme", CredentialRef::Env { env: "BAMBOOHR_API_KEY".into() });
//!     let snapshot = Snapshot::new("workday", chrono::Utc::now(), workday.pull().await?);
//!     match review(previous.as_ref(), &snapshot, &SnapshotGuard::default()) {
//!         SnapshotReview::Apply(events) => { let _ = events; /* hand the events to the inbox */ }
//!         SnapshotReview::Held(finding) => eprintln!("{finding}"), // the previous snapshot stays in force
//!     }
//!     let _bamboo_people = bamboo.pull().await?;
//!     Ok(())
//! }
//! ```

mod auth;
mod bamboohr;
mod files;
mod report;

use async_trait::async_trait;
use provision_core::adapter::AdapterError;
use provision_core::config::CredentialError;

use crate::{Collector, RosterError, RosterLoad, RosterMapping};

pub use auth::SourceAuth;
pub use bamboohr::{BambooHr, BambooHrReport};
pub use files::FileDrop;
pub use provision_http::read_retry::ReadRetry;
pub use report::{HttpReport, Paging, ReportFormat};

/// One HR source, pulled whole each time.
#[async_trait]
pub trait HrSource: Send + Sync + std::fmt::Debug {
    /// The source's name (`workday`, `bamboohr`, `sftp-drop`): in metrics, findings and
    /// the file part of every row problem.
    fn name(&self) -> &str;

    /// Reads every person the source holds now.
    async fn pull(&self) -> Result<RosterLoad, SourceError>;
}

/// Why a pull failed. Names the source and keeps the vendor's own status, code and
/// message; never holds a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The HR system refused or failed the request (after the retries allowed).
    #[error("HR source `{source_name}`: {error}")]
    Http {
        /// The source.
        source_name: String,
        /// The classified reply, with the vendor's status, code and message (boxed:
        /// it carries the whole reply).
        #[source]
        error: Box<AdapterError>,
    },
    /// The reply (or file) cannot be read as a roster at all.
    #[error("HR source `{source_name}`: {error}")]
    Roster {
        /// The source.
        source_name: String,
        /// What is wrong, with file:line:column.
        #[source]
        error: RosterError,
    },
    /// A credential could not be read.
    #[error("HR source `{source_name}`: {field}: {error}")]
    Credential {
        /// The source.
        source_name: String,
        /// The setting that names the credential (`auth.password`).
        field: String,
        /// Which variable or file, never the value.
        #[source]
        error: CredentialError,
    },
    /// The source is configured wrongly.
    #[error("HR source `{source_name}`: {field}: {message}")]
    Config {
        /// The source.
        source_name: String,
        /// The setting at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No file matches the path or glob.
    #[error("HR source `{source_name}`: no file matches `{pattern}`")]
    NoFile {
        /// The source.
        source_name: String,
        /// The path or glob.
        pattern: String,
    },
}

impl SourceError {
    /// The source that failed.
    pub fn source_name(&self) -> &str {
        match self {
            SourceError::Http { source_name, .. }
            | SourceError::Roster { source_name, .. }
            | SourceError::Credential { source_name, .. }
            | SourceError::Config { source_name, .. }
            | SourceError::NoFile { source_name, .. } => source_name,
        }
    }
}

/// Joins the pages of one pull into one load: a person read on an earlier page is
/// a duplicate on a later one (a row problem naming both places), as within a file.
pub(crate) fn merge_pages(pages: Vec<RosterLoad>, mapping: &RosterMapping) -> RosterLoad {
    if pages.len() == 1 {
        return pages.into_iter().next().unwrap_or_default();
    }
    let total = pages.iter().map(|p| p.entries.len()).sum();
    let mut collector = Collector::with_capacity(total);
    let login_field = mapping.login.as_deref().unwrap_or(&mapping.email);
    for page in pages {
        for problem in page.problems {
            collector.problem(problem);
        }
        for entry in page.entries {
            collector.person(entry.identity, entry.source, None, &mapping.id, login_field);
        }
    }
    collector.finish()
}
