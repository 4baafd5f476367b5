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
//! Exit codes: 0 success or nothing to do; 1 error; 2 changes pending; 3 invalid;
//! 4 refused; 5 partial failure; 6 audit chain broken.

mod cli;
mod commands;
mod context;
mod exit;
mod plan_doc;
mod progress;
mod render;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code())
        }
    }
}
