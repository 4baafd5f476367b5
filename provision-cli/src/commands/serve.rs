//! `provision serve`: runs the lifecycle service (`provision-server`) with every
//! adapter this command knows, until Ctrl-C or SIGTERM; then shuts down gracefully
//! (the listener closes first, work in hand finishes or stays in the journal).

use provision_server::{EngineParts, ServerConfig, Service, shutdown_signal};

use crate::cli::ServeArgs;
use crate::context::factories;
use crate::exit::{CliError, CliResult, Outcome};

/// Runs the service.
pub async fn run(args: &ServeArgs) -> CliResult {
    let mut config = ServerConfig::load(&args.service_config).map_err(|e| match e {
        // A file that cannot be read is an error (1); a wrong one is invalid (3).
        provision_server::config::ConfigError::Read { .. } => CliError::Other(e.to_string()),
        e => CliError::Invalid(e.to_string()),
    })?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let listen = config.listen;
    let parts = EngineParts {
        factories: factories(),
        ..EngineParts::default()
    };
    let service = Service::start(config, parts)
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {listen}: {e}")))?;
    let running = service
        .spawn_on(listener)
        .map_err(|e| CliError::Other(e.to_string()))?;
    eprintln!(
        "provision serve: listening on http://{} (POST /webhooks/<source>, GET /healthz /readyz /metrics /findings); Ctrl-C stops",
        running.addr
    );
    shutdown_signal().await;
    eprintln!("provision serve: shutting down");
    running
        .shutdown()
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    Ok(Outcome::Success)
}
