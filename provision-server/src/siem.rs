//! SIEM streaming from the service configuration's `siem:` section: the sinks are
//! built at start, each pump delivers the store's audit log from its durable cursor
//! (kept in the store), and every audit append wakes the pumps so records go out as
//! they are written. See [`provision_siem`] for the delivery guarantees.

use std::sync::Arc;
use std::time::Duration;

use provision_core::audit::AuditLog;
use provision_core::config::resolve_credential;
use provision_siem::{
    AuditFeed, CursorStore, DeliveryConfig, JsonLinesSink, SiemExporter, SiemSink, SiemWaker,
    SyslogTcpSink, WakingAuditLog,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, SiemConfig, SiemSinkConfig};
use crate::error::ServerError;
use crate::store::ServiceStore;

fn invalid(i: usize, field: &str, message: String) -> ServerError {
    ServerError::Config(ConfigError::Invalid {
        path: "server configuration".to_owned(),
        field: format!("siem.sinks[{i}].{field}"),
        message,
    })
}

/// Builds one sink (opens its file, resolves its token).
fn sink(i: usize, config: &SiemSinkConfig) -> Result<Arc<dyn SiemSink>, ServerError> {
    Ok(match config {
        SiemSinkConfig::Jsonl {
            name,
            file: Some(file),
        } => Arc::new(
            JsonLinesSink::file(name.clone(), file)
                .map_err(|e| invalid(i, "jsonl.file", format!("{}: {e}", file.display())))?,
        ),
        SiemSinkConfig::Jsonl { name, file: None } => Arc::new(JsonLinesSink::stdout(name.clone())),
        SiemSinkConfig::Syslog { name, tcp } => Arc::new(SyslogTcpSink::new(name.clone(), tcp)),
        SiemSinkConfig::Http { name, url, token } => {
            let mut http = provision_siem::HttpSink::new(name.clone(), url)
                .map_err(|e| invalid(i, "http.url", e.to_string()))?;
            if let Some(token) = token {
                let secret = resolve_credential(token)
                    .map_err(|e| invalid(i, "http.token", e.to_string()))?;
                http = http.with_bearer_token(secret);
            }
            Arc::new(http)
        }
    })
}

/// The exporter of `config`'s sinks over `store` (its audit log as the feed, its
/// cursors), or `None` when no sink is configured.
pub fn exporter(
    config: &SiemConfig,
    store: &Arc<dyn ServiceStore>,
) -> Result<Option<Arc<SiemExporter>>, ServerError> {
    if config.sinks.is_empty() {
        return Ok(None);
    }
    let sinks = config
        .sinks
        .iter()
        .enumerate()
        .map(|(i, s)| sink(i, s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut delivery = DeliveryConfig::default().with_poll_interval(Duration::from_secs(1));
    if let Some(batch) = config.batch_size {
        delivery = delivery.with_batch_size(batch);
    }
    let exporter = SiemExporter::new(
        Arc::clone(store) as Arc<dyn AuditFeed>,
        Arc::clone(store) as Arc<dyn CursorStore>,
        sinks,
        delivery,
    )
    .map_err(|e| {
        ServerError::Config(ConfigError::Invalid {
            path: "server configuration".to_owned(),
            field: "siem.sinks".to_owned(),
            message: e.to_string(),
        })
    })?;
    Ok(Some(Arc::new(exporter)))
}

/// The audit log the engine (and governance) write to: the store, waking `waker`'s
/// pumps after each append when there is one.
pub fn audit_log(store: &Arc<dyn ServiceStore>, waker: Option<&SiemWaker>) -> Arc<dyn AuditLog> {
    let log = Arc::clone(store) as Arc<dyn AuditLog>;
    match waker {
        Some(waker) => Arc::new(WakingAuditLog::new(log, waker.clone())),
        None => log,
    }
}

/// Runs every pump until `stopped` turns true; a pump that stops with an error (a
/// rewritten audit log under its cursor) is logged.
pub(crate) fn spawn(exporter: Arc<SiemExporter>, stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let result = exporter
            .run(|| {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                }
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "SIEM delivery stopped");
        }
    })
}
