//! `provision audit verify | export | history <person>`.

use provision_core::untrusted;
use std::io::Write;
use std::path::Path;

use provision_core::audit::{AuditLog, AuditOutcome, AuditRecord};
use provision_core::model::IdentityId;
use provision_store::StoreError;

use crate::cli::{AuditArgs, AuditCommand, ExportFormat, TextOrJson};
use crate::commands::{Ctx, out};
use crate::context::{load_config, open_existing_store, read_roster};
use crate::exit::{CliError, CliResult, Outcome};

/// The chain checked, against `anchor` when one is given.
async fn verify(
    store: &provision_store::SqliteStore,
    anchor: Option<&provision_core::audit::Anchor>,
) -> Result<provision_core::audit::VerifiedChain, StoreError> {
    match anchor {
        Some(anchor) => store.verify_audit_with_anchor(anchor).await,
        None => store.verify_audit().await,
    }
}

/// Runs `audit ...`.
pub async fn run(ctx: &Ctx, args: &AuditArgs) -> CliResult {
    let store = open_existing_store(&ctx.paths.store).await?;
    match &args.command {
        AuditCommand::Verify { anchor } => match verify(&store, anchor.as_ref()).await {
            Ok(chain) => {
                let head = chain
                    .head
                    .as_ref()
                    .map(|a| {
                        format!(
                            "; last record seq {} hash {} (keep `{}:{}` outside the store and \
                             pass it as --anchor later)",
                            a.seq, a.hash, a.seq, a.hash
                        )
                    })
                    .unwrap_or_default();
                let anchored = anchor
                    .as_ref()
                    .map(|a| format!(", including anchor seq {}", a.seq))
                    .unwrap_or_default();
                out(&format!(
                    "audit chain verified: {} records{anchored}{head}\n",
                    chain.records
                ));
                Ok(Outcome::Success)
            }
            Err(StoreError::Chain(e)) => {
                eprintln!("audit chain BROKEN at record seq {}: {e}", e.seq());
                Ok(Outcome::AuditBroken)
            }
            Err(e @ StoreError::ColumnMismatch { .. }) => {
                eprintln!("audit chain BROKEN: {e}");
                Ok(Outcome::AuditBroken)
            }
            Err(e) => Err(e.into()),
        },
        AuditCommand::Export { format, out: path } => {
            let mut sink: Box<dyn Write> = match path {
                Some(p) => Box::new(std::io::BufWriter::new(
                    provision_core::private_file::create(p)
                        .map_err(|e| CliError::io(p.display(), e))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let name = path
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_else(|| "standard output".to_owned());
            match format {
                ExportFormat::Jsonl => {
                    store.export_audit_jsonl(&mut sink).await?;
                }
                ExportFormat::Csv => {
                    let records = store
                        .records()
                        .await
                        .map_err(|e| CliError::Other(e.to_string()))?;
                    write_csv(&records, &mut sink).map_err(|e| CliError::io(&name, e))?;
                }
            }
            sink.flush().map_err(|e| CliError::io(&name, e))?;
            Ok(Outcome::Success)
        }
        AuditCommand::History { person, format } => {
            let id = resolve_person(ctx, person);
            let records = store.identity_history(&id).await?;
            match format {
                TextOrJson::Json => out(&(serde_json::to_string_pretty(&records)
                    .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
                    + "\n")),
                TextOrJson::Text => {
                    let mut text = format!(
                        "{} to {id}'s access\n",
                        crate::commands::plural(records.len(), "change", "changes")
                    );
                    for r in &records {
                        // Vendor errors and HR text may carry terminal escapes.
                        let line = history_line(r);
                        text.push_str(&format!("  {}\n", untrusted::terminal(&line)));
                    }
                    out(&text);
                }
            }
            Ok(Outcome::Success)
        }
    }
}

/// A person's HR id: from the roster when it names them by login or email.
fn resolve_person(ctx: &Ctx, who: &str) -> IdentityId {
    let from_roster = load_config(&ctx.paths.config)
        .ok()
        .and_then(|config| read_roster(&ctx.paths, &config).ok())
        .and_then(|load| {
            load.people()
                .find(|p| {
                    p.id.as_str() == who
                        || p.login.eq_ignore_ascii_case(who)
                        || p.email.eq_ignore_ascii_case(who)
                })
                .map(|p| p.id.clone())
        });
    from_roster.unwrap_or_else(|| IdentityId::new(who))
}

fn outcome_text(outcome: &AuditOutcome) -> (String, String) {
    match outcome {
        AuditOutcome::Changed => ("changed".into(), String::new()),
        AuditOutcome::AlreadyInPlace => ("already_in_place".into(), String::new()),
        AuditOutcome::Pending => ("pending".into(), String::new()),
        AuditOutcome::Failed { class, error } => (format!("failed:{class}"), error.clone()),
        other => (format!("{other:?}"), String::new()),
    }
}

fn history_line(r: &AuditRecord) -> String {
    let e = &r.event;
    let what = e
        .entitlement
        .as_ref()
        .map(crate::plan_doc::entitlement_path)
        .unwrap_or_else(|| e.system.to_string());
    let (outcome, error) = outcome_text(&e.outcome);
    let error = if error.is_empty() {
        String::new()
    } else {
        format!(" ({error})")
    };
    format!(
        "#{} {} {} {} {what}: {outcome}{error}; by {} in run {}; because {}",
        r.seq,
        e.at.to_rfc3339(),
        e.system,
        e.action,
        e.actor,
        e.run,
        e.reason.detail
    )
}

fn write_csv(records: &[AuditRecord], sink: &mut dyn Write) -> std::io::Result<()> {
    let mut w = untrusted::CsvWriter::new(sink);
    w.write_row([
        "seq",
        "at",
        "run",
        "actor",
        "identity",
        "system",
        "operation",
        "action",
        "entitlement",
        "outcome",
        "error",
        "reason",
        "policies",
        "event",
        "detail",
        "prev_hash",
        "hash",
    ])?;
    for r in records {
        let e = &r.event;
        let (outcome, error) = outcome_text(&e.outcome);
        let reason = serde_json::to_value(e.reason.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        w.write_row([
            r.seq.to_string(),
            e.at.to_rfc3339(),
            e.run.to_string(),
            e.actor.clone(),
            e.identity.to_string(),
            e.system.to_string(),
            e.operation.0.clone(),
            e.action.clone(),
            e.entitlement
                .as_ref()
                .map(crate::plan_doc::entitlement_path)
                .unwrap_or_default(),
            outcome,
            error,
            reason,
            e.reason.policies.join("; "),
            e.reason.event.clone().unwrap_or_default(),
            e.reason.detail.clone(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ])?;
    }
    w.flush()
}
