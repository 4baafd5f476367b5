//! The command line: every subcommand and option, as clap parses them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit-code table, shown at the end of `provision --help` (and in the README).
pub const EXIT_CODES: &str = "\
EXIT CODES:
  0  success, or nothing to do (also --help and --version)
  1  error: a mistyped command or flag, an unreadable file, a system that could not be read, no store
  2  changes pending: plan has operations, simulate has gains or losses, drift has findings
     that need action (a fix, or a severity above info), why found no policy giving it,
     review has items needing a decision
  3  invalid deployment, policies or roster
  4  refused: over the blast radius, a separation-of-duties conflict, a stale plan,
     confirmation declined or impossible (no terminal, no --yes)
  5  partial failure: some operations failed (and those depending on them were skipped)
  6  the audit chain is broken";

/// Identity policies reviewed like code, applied with a plan.
#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version,
    about = "Identity policies reviewed like code: validate, plan, show, apply, simulate, drift, \
             why, access, review, audit, serve, completions",
    long_about = None,
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The deployment file (default: ./provision.yaml).
    #[arg(long, global = true, env = "PROVISION_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The policy file or directory (default: `policies/` beside the deployment file).
    /// For `simulate`: the proposed policies, a directory or a git ref.
    #[arg(long, global = true, value_name = "PATH")]
    pub policies: Option<PathBuf>,
    /// The HR roster (default: the deployment's `roster.path`, else `roster.yaml`
    /// beside the deployment file).
    #[arg(long, global = true, env = "PROVISION_ROSTER", value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// The SQLite journal and audit log (default: `.provision/store.db` beside the
    /// deployment file).
    #[arg(long, global = true, env = "PROVISION_STORE", value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// How long `apply` and `drift --fix` keep re-checking operations a system
    /// completes later (an account created at first sign-in) before reporting them as
    /// pending, in seconds.
    #[arg(
        long,
        global = true,
        env = "PROVISION_PENDING_WAIT",
        default_value_t = 30,
        value_name = "SECS"
    )]
    pub pending_wait: u64,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: auto (only on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal only.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: a diff grouped by person.
    Text,
    /// A stable JSON document for machines.
    Json,
    /// A pull-request comment (collapses past 50 people).
    Markdown,
}

/// A report that has a text and a JSON form only (`--format markdown` is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    /// For people.
    Text,
    /// A JSON document for machines.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the deployment, the policies and the roster without any credential.
    #[command(
        after_help = "EXAMPLES:\n  provision validate\n  provision validate --config deploy/provision.yaml"
    )]
    Validate,
    /// Read the systems and show what would change, grouped by person.
    #[command(
        after_help = "EXAMPLES:\n  provision plan\n  provision plan --out plan.json\n  provision plan --format markdown > plan.md"
    )]
    Plan(PlanArgs),
    /// Apply a saved plan (refused when reality moved since), or plan and apply.
    #[command(
        after_help = "EXAMPLES:\n  provision apply plan.json\n  provision apply --yes\n  provision apply --yes --confirm-blast-radius 4"
    )]
    Apply(ApplyArgs),
    /// Who gains and who loses what under proposed policies, and who they would put
    /// into a separation-of-duties conflict (exit 4); reads no system.
    #[command(
        after_help = "EXAMPLES:\n  provision simulate --policies proposed/\n  provision simulate --base origin/main --head HEAD --format markdown"
    )]
    Simulate(SimulateArgs),
    /// What no longer matches the policies, by severity; `--fix` applies the allowed fixes.
    #[command(
        after_help = "EXAMPLES:\n  provision drift\n  provision drift --format json\n  provision drift --fix --yes"
    )]
    Drift(DriftArgs),
    /// Which policies give a person an entitlement, or why none does; reads no system.
    #[command(
        after_help = "EXAMPLES:\n  provision why sarah.chen@company.com okta/group/engineering-team\n  provision why e1003 gitlab/group/engineering#developer"
    )]
    Why(WhyArgs),
    /// What a person holds now in every system (read from them), and the policy that
    /// gives each grant, or "no policy gives it".
    #[command(
        after_help = "EXAMPLES:\n  provision access sarah.chen@company.com\n  provision access e1003 --format json"
    )]
    Access(AccessArgs),
    /// Show a plan saved by `provision plan --out` again (reads no system).
    #[command(
        after_help = "EXAMPLES:\n  provision show plan.json\n  provision show plan.json --format markdown > comment.md"
    )]
    Show(ShowArgs),
    /// Access reviews on stored campaigns: open, list, status, export a reviewer's
    /// list, decide from a filled CSV, close.
    #[command(
        after_help = "EXAMPLES:\n  provision review open --name \"Q1 2027\" --department Engineering\n  provision review export rc-0193 --reviewer e1007 --format csv -o e1007.csv\n  provision review decide rc-0193 --reviewer e1007 --from e1007.csv\n  provision review close rc-0193 --no-response escalate"
    )]
    Review(ReviewArgs),
    /// The audit log: verify the chain, export it, one person's history.
    #[command(
        after_help = "EXAMPLES:\n  provision audit verify\n  provision audit export --format csv --out audit.csv\n  provision audit history sarah.chen@company.com"
    )]
    Audit(AuditArgs),
    /// Print shell completions.
    #[command(
        after_help = "EXAMPLES:\n  provision completions bash > /etc/bash_completion.d/provision"
    )]
    Completions(CompletionsArgs),
    /// Run the lifecycle service: HR webhooks, the schedule, the reconcile cadence,
    /// health and metrics (configuration: `provision-server.yaml`).
    #[command(
        after_help = "EXAMPLES:\n  provision serve --service-config provision-server/provision-server.yaml\n  PROVISION_SERVER_CONFIG=/etc/provision/server.yaml provision serve --listen 0.0.0.0:8080"
    )]
    Serve(ServeArgs),
}

/// `provision access`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// The person: HR id, login or email.
    pub person: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// `provision show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved by `provision plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// In text, every person's changes (by default the first 50 people are expanded
    /// and the rest summarised by system).
    #[arg(long)]
    pub all: bool,
}

/// `provision review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// What to do with access reviews.
    #[command(subcommand)]
    pub command: ReviewCommand,
}

/// `provision review ...`: one stored campaign from open to close.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Open and store one campaign over a scope; prints its id and who reviews what.
    #[command(
        after_help = "EXAMPLES:\n  provision review open --name \"Q1 2027\" --department Engineering --due-days 14\n  provision review open --name \"AWS admins\" --system aws --no-response revoke"
    )]
    Open(ReviewOpenArgs),
    /// Every stored campaign with its progress.
    #[command(
        after_help = "EXAMPLES:\n  provision review list\n  provision review list --format json"
    )]
    List {
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
        format: TextOrJson,
    },
    /// Where a campaign stands: decided, kept, revoked, each reviewer's progress,
    /// who is overdue; exit 2 while items wait for a decision.
    #[command(
        after_help = "EXAMPLES:\n  provision review status rc-0193\n  provision review status rc-0193 --format json"
    )]
    Status {
        /// The campaign's id (or a unique beginning of it).
        campaign: String,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
        format: TextOrJson,
    },
    /// Write one reviewer's list of undecided items from the stored campaign (HTML,
    /// CSV to fill in, JSON); opens nothing.
    #[command(
        after_help = "EXAMPLES:\n  provision review export rc-0193 --reviewer e1007 --format csv -o e1007.csv\n  provision review export rc-0193 --reviewer dana.ortiz@company.com -o dana.html"
    )]
    Export(ReviewExportArgs),
    /// Record a reviewer's filled CSV: keep becomes an exception until the campaign's
    /// expiry, revoke runs through the gate and the executor; a file with any refused
    /// row is refused whole (exit 4), naming every row.
    #[command(
        after_help = "EXAMPLES:\n  provision review decide rc-0193 --reviewer e1007 --from e1007.csv"
    )]
    Decide(ReviewDecideArgs),
    /// Close a campaign: apply the no-response rule to what nobody decided (revoke,
    /// keep until the campaign's expiry, or escalate to each reviewer's manager).
    #[command(
        after_help = "EXAMPLES:\n  provision review close rc-0193\n  provision review close rc-0193 --no-response revoke"
    )]
    Close(ReviewCloseArgs),
}

/// `provision review open`.
#[derive(Debug, Args)]
pub struct ReviewOpenArgs {
    /// The campaign's name.
    #[arg(long, default_value = "access review")]
    pub name: String,
    /// Only these systems (repeatable; default: all).
    #[arg(long = "system", value_name = "SYSTEM")]
    pub systems: Vec<String>,
    /// Only these resource kinds (repeatable; default: all).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only people of this department (the roster's `department`).
    #[arg(long)]
    pub department: Option<String>,
    /// Days until decisions are due.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub due_days: u32,
    /// A keep lasts this many days after the due date (the exception's expiry).
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub keep_days: u32,
    /// What `close` does with items nobody decided.
    #[arg(long, value_enum, default_value_t = NoResponseArg::Escalate)]
    pub no_response: NoResponseArg,
}

/// `provision review export`.
#[derive(Debug, Args)]
pub struct ReviewExportArgs {
    /// The campaign's id (or a unique beginning of it).
    pub campaign: String,
    /// The reviewer: HR id, login or email (or an owner the campaign names).
    #[arg(long, value_name = "PERSON")]
    pub reviewer: String,
    /// The list's format.
    #[arg(long, value_enum, default_value_t = ReviewFormat::Html)]
    pub format: ReviewFormat,
    /// Write the list to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `provision review decide`.
#[derive(Debug, Args)]
pub struct ReviewDecideArgs {
    /// The campaign's id (or a unique beginning of it).
    pub campaign: String,
    /// Whose decisions these are: HR id, login or email (or an owner the campaign
    /// names). Never read from the file.
    #[arg(long, value_name = "PERSON")]
    pub reviewer: String,
    /// The filled CSV (`provision review export --format csv`, with `decision` set to
    /// keep or revoke and a `reason`).
    #[arg(long = "from", value_name = "FILE")]
    pub from: PathBuf,
    /// Confirm revocations over the blast radius touching at most this many people.
    #[arg(long, value_name = "N")]
    pub confirm_blast_radius: Option<usize>,
}

/// `provision review close`.
#[derive(Debug, Args)]
pub struct ReviewCloseArgs {
    /// The campaign's id (or a unique beginning of it).
    pub campaign: String,
    /// What to do with items nobody decided (default: the rule the campaign was
    /// opened with).
    #[arg(long, value_enum)]
    pub no_response: Option<NoResponseArg>,
    /// With escalate: days until the managers' decisions are due.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub due_days: u32,
    /// Confirm revocations over the blast radius touching at most this many people.
    #[arg(long, value_name = "N")]
    pub confirm_blast_radius: Option<usize>,
}

/// What closing a campaign does with undecided items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoResponseArg {
    /// Revoke them (through the gate and the executor).
    Revoke,
    /// Keep them until the campaign's expiry (each becomes an exception).
    Keep,
    /// Give them to each reviewer's manager in a follow-up campaign.
    Escalate,
}

/// A reviewer's list format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewFormat {
    /// A self-contained page a manager opens in a browser.
    Html,
    /// One row per item.
    Csv,
    /// A JSON document.
    Json,
}

/// `provision serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service's configuration (`provision-server.yaml`, which names the
    /// deployment, the store and the HR sources). The global `--config` and
    /// `PROVISION_CONFIG` name a deployment and are not read by `serve`.
    #[arg(
        long = "service-config",
        env = "PROVISION_SERVER_CONFIG",
        value_name = "FILE",
        default_value = "provision-server.yaml"
    )]
    pub service_config: PathBuf,
    /// Listen here instead of the configuration's `listen` (`127.0.0.1:8080`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

/// `provision plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Save the plan document (JSON) for `provision apply`. With `--format json` the
    /// document goes to this file only; `--out -` writes it to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The trigger recorded in every operation's reason.
    #[arg(long, default_value = "cli")]
    pub event: String,
    /// In text, every person's changes (by default the first 50 people are expanded
    /// and the rest summarised by system).
    #[arg(long)]
    pub all: bool,
}

/// `provision apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `provision plan --out`; without it, plan now and ask.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Confirm a plan over the blast radius that removes access from at most this
    /// many people.
    #[arg(long, value_name = "N")]
    pub confirm_blast_radius: Option<usize>,
    /// The trigger recorded in every operation's reason (without a plan file).
    #[arg(long, default_value = "cli")]
    pub event: String,
    /// Progress display: auto (bars on a terminal, else one line per operation).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, lines otherwise.
    Auto,
    /// Progress bars per system.
    Bars,
    /// One line per operation.
    Lines,
    /// Nothing.
    None,
}

/// `provision simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The current policies' directory (default: `policies/` beside the deployment
    /// file); `--base` and `--head` name git refs of it.
    #[arg(long, value_name = "DIR")]
    pub current: Option<PathBuf>,
    /// The git ref of the current policies (default: the working tree).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The git ref of the proposed policies (instead of `--policies`).
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `provision drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Apply the fixes each system's `drift_remediation` allows.
    #[arg(long)]
    pub fix: bool,
    /// Confirm fixes over the blast radius touching at most this many people.
    #[arg(long, value_name = "N")]
    pub confirm_blast_radius: Option<usize>,
    /// With `--fix`: do not ask before applying the fixes (without a terminal and
    /// without `--yes`, `--fix` is refused).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// `provision why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The person: HR id, login or email.
    pub person: String,
    /// The entitlement: `system/kind/resource`, optionally `#role` and `@scope`
    /// (`gitlab/group/engineering#developer`).
    pub entitlement: String,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// `provision audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do with the audit log.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// `provision audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain; exit 6 naming the first bad record when it is broken.
    Verify {
        /// A head kept outside the store (`SEQ:HASH`, as this command, the SIEM
        /// stream or an evidence bundle recorded it): records cut from the end, or a
        /// tail rewritten with fresh hashes, are then caught too.
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Option<provision_core::audit::Anchor>,
    },
    /// Export every record.
    Export {
        /// JSON lines or CSV.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// One person's history, oldest first.
    History {
        /// The person: HR id, login or email.
        person: String,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
        format: TextOrJson,
    },
}

/// Audit export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON record per line (with seq and hashes).
    Jsonl,
    /// One row per record.
    Csv,
}

/// `provision completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}
