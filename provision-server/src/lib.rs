//! # provision-server
//!
//! The lifecycle service: HR events in, leavers out in seconds, on one machine or
//! several.
//!
//! * **HR webhooks** (`POST /webhooks/{source}`, [`webhook`]): HMAC-SHA256 signature
//!   per source, a timestamp window, event-id de-duplication and a body limit; an
//!   accepted event is stored in the store's inbox before the 2xx is sent.
//! * **The worker** ([`Service::work_once`]) takes events leavers first and plans and
//!   applies them for those people alone; a termination effective now ends sessions
//!   and suspends accounts in every system at once. The run is written on the inbox
//!   row first, so a crash mid-run is resumed from the journal, not repeated.
//! * **The schedule** ([`jobs`]) lives in the store: a termination dated in the future,
//!   a hire's start date (day-one access prepared, not granted early), a validity
//!   window's end, pending operations' re-checks and the reconcile cadence fire at
//!   their time across restarts, each once under a lease.
//! * **Per-person turns**: runs that change the same person take turns,
//!   runs for different people go at once. A termination never waits behind a
//!   reconcile or another person's access request; the reconcile plans everyone
//!   without holding anyone and sends each person's part under that person's lock
//!   ([`Service::reconcile`]), leaving out whoever another run changed meanwhile.
//! * **Two listeners** (`public_listen`): the webhooks outside, everything else inside;
//!   per listener a connection cap and header/body timeouts (`http:`).
//! * **Operability**: `/healthz`, `/readyz` (the store and each system's credentials,
//!   read through the limiter and kept for 30 s),
//!   `/metrics` ([`metrics`]), JSON logs ([`init_tracing`]), graceful shutdown.
//! * **Evidence on a cadence** (`evidence: {every_minutes: N}`): a scheduled job
//!   collects and records evidence ([`Service::collect_evidence`]) and exports control
//!   coverage as `provision_evidence_degraded{control,system}`.
//! * **SIEM streaming** (`siem: {sinks: [...]}`, [`siem`]): the audit log streams to
//!   JSON lines, syslog TCP or HTTP sinks as records are written, each sink from its
//!   durable cursor in the store.
//! * **Access requests** ([`requests`]): `POST /requests`, approve or reject by the
//!   approver, `GET /requests`; an approved request is granted at once through the
//!   executor.
//! * **Access reviews** ([`campaigns`]): `GET /campaigns`,
//!   `GET /campaigns/{id}/items?reviewer=`, `POST /campaigns/{id}/decisions` (the
//!   caller's own items only); revokes run at once through the executor.
//! * **Several instances** on one PostgreSQL (feature `postgres`): inbox rows and
//!   scheduled jobs are taken with `FOR UPDATE SKIP LOCKED` under leases that the
//!   holder renews while it works (a run longer than a lease is never taken over
//!   while its instance lives, and one that lost its rows sends nothing), and the
//!   engine shares operation claims through the database.
//!
//! ```no_run
//! # async fn run() -> Result<(), provision_server::ServerError> {
//! use provision_server::{EngineParts, ServerConfig, Service};
//! let config = ServerConfig::load("provision-server.yaml".as_ref())?;
//! let parts = EngineParts {
//!     factories: provision_core::adapter::FactoryRegistry::new().with(provision_sandbox::factory()),
//!     ..Default::default()
//! };
//! let service = Service::start(config, parts).await?;
//! service.serve(provision_server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod campaigns;
pub mod config;
pub mod engine;
mod error;
pub mod event;
mod evidence_jobs;
mod health;
pub mod jobs;
mod leases;
mod listeners;
mod locks;
pub mod metrics;
mod reconcile;
pub mod requests;
mod service;
pub mod siem;
pub mod store;
pub mod webhook;
mod worker;

pub use config::{HttpLimits, ServerConfig, SourceConfig, StoreConfig};
pub use engine::{EngineParts, build_engine, join_shared_budget};
pub use error::ServerError;
pub use service::{RunningService, Service};
pub use store::{ServiceStore, open_store};

/// Installs a `tracing` subscriber: JSON lines when `json`, text otherwise; the
/// filter from `RUST_LOG` (default `info`). Does nothing when one is installed.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (what `docker stop` and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
