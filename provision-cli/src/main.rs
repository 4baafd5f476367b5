//! `provision`: identity policies reviewed like code, applied with a plan.
//!
//! ```text
//! provision validate                      # no credentials: config, policies, roster
//! provision plan --out plan.json          # read the systems, show the diff, save it
//! provision apply plan.json               # exactly the reviewed plan, or refuse if stale
//! provision simulate --base main --head HEAD   # who gains/loses what; reads no system
//! provision drift [--fix]
//! provision why sarah.chen@company.com okta/group/engineering-team
//! provision audit verify | export | history <person>
//! ```
//!
//! Exit codes: 0 success or nothing to do (and `--help`, `--version`); 1 error (a
//! mistyped command or flag too); 2 changes pending; 3 invalid; 4 refused; 5 partial
//! failure; 6 audit chain broken.

mod cli;
mod commands;
mod context;
mod exit;
mod phases;
mod plan_doc;
mod progress;
mod render;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, Global, LogFormat};
use crate::commands::Ctx;
use crate::exit::{CliResult, Outcome};

fn init_logging(global: &Global) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env("PROVISION_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    // Log lines go through the progress bars (hidden while a line is written).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter::default);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}

async fn dispatch(cli: &Cli, ctx: &Ctx) -> CliResult {
    match &cli.command {
        Command::Validate => commands::validate::run(ctx),
        Command::Plan(args) => commands::plan::run(ctx, args).await,
        Command::Apply(args) => commands::apply::run(ctx, args).await,
        Command::Simulate(args) => {
            commands::simulate::run(ctx, args, cli.global.policies.as_deref())
        }
        Command::Drift(args) => commands::drift::run(ctx, args).await,
        Command::Why(args) => commands::why::run(ctx, args),
        Command::Access(args) => commands::access::run(ctx, args).await,
        Command::Show(args) => commands::show::run(ctx, args),
        Command::Review(args) => commands::review::run(ctx, args).await,
        Command::Audit(args) => commands::audit::run(ctx, args).await,
        Command::Completions(args) => {
            let mut command = Cli::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "provision",
                &mut std::io::stdout(),
            );
            Ok(Outcome::Success)
        }
        Command::Serve(args) => commands::serve::run(args).await,
    }
}

/// Parses the command line. Help and version are printed and exit 0; a usage error
/// (a mistyped command or flag, a missing argument) is printed and exits 1, never 2,
/// which a CI gate reads as "changes pending". `serve` refuses the global flags that
/// name a deployment's files: its own configuration names them.
fn parse() -> Result<Cli, ExitCode> {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return Err(usage_exit(&e)),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| usage_exit(&e))?;
    if let Some(serve) = matches.subcommand_matches("serve") {
        let given: Vec<String> = ["config", "policies", "roster", "store", "pending_wait"]
            .into_iter()
            .filter(|id| serve.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !given.is_empty() {
            eprintln!(
                "error: `provision serve` does not take {}: the service configuration \
                 (--service-config or PROVISION_SERVER_CONFIG, default provision-server.yaml) \
                 names the deployment, the policies, the roster and the store",
                given.join(", ")
            );
            return Err(ExitCode::from(exit::ERROR));
        }
    }
    Ok(cli)
}

/// Prints clap's message and gives its exit code: 0 for help and version, 1 for a
/// usage error.
fn usage_exit(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(exit::ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_logging(&cli.global);
    let ctx = Ctx::new(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(dispatch(&cli, &ctx)) {
        Ok(outcome) => outcome.into(),
        // `provision audit export | head`: the reader left; nothing to report.
        Err(e) if exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code())
        }
    }
}
