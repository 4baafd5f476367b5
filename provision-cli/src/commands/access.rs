//! `provision access <person>`: what a person holds now in every system (read from
//! the systems), and why: the policy that gives each grant, or "no policy gives it";
//! then what the policies give that the systems do not show yet.

use serde::Serialize;

use crate::cli::{AccessArgs, TextOrJson};
use crate::commands::{Ctx, find_person, out, plural};
use crate::context::{build_engine, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::plan_doc::{PolicyRef, entitlement_path, provenance_refs};

/// One person's access, as read.
#[derive(Debug, Serialize)]
struct Access {
    person: String,
    /// Each system's account, as read.
    accounts: Vec<AccountHeld>,
    /// Each grant held, with the policies that give it (empty: none does).
    held: Vec<GrantHeld>,
    /// What the policies give that no system shows (yet).
    missing: Vec<GrantHeld>,
}

#[derive(Debug, Serialize)]
struct AccountHeld {
    system: String,
    external_id: String,
    state: String,
}

#[derive(Debug, Serialize)]
struct GrantHeld {
    entitlement: String,
    because: Vec<PolicyRef>,
}

/// Runs `access`.
pub async fn run(ctx: &Ctx, args: &AccessArgs) -> CliResult {
    let engine = build_engine(&ctx.paths, None).await?;
    let roster = load_roster(&ctx.paths, engine.config())?;
    let person = find_person(&roster, &args.person)?.clone();
    // Every system is read once; only this person's grants are looked at.
    let observed = engine.observe(std::slice::from_ref(&person)).await?;
    let desired = observed.desired.identities.get(&person.id);
    let because = |e: &provision_core::model::Entitlement| -> Vec<PolicyRef> {
        desired
            .and_then(|d| d.grants.get(e))
            .map(|grant| provenance_refs(engine.policies(), &grant.provenance, Some(e)))
            .unwrap_or_default()
    };
    let actual = observed.actual.identities.get(&person.id);
    let accounts = actual
        .map(|a| {
            a.accounts
                .iter()
                .map(|(system, account)| AccountHeld {
                    system: system.to_string(),
                    external_id: account.external_id.clone(),
                    state: format!("{:?}", account.state).to_lowercase(),
                })
                .collect()
        })
        .unwrap_or_default();
    let held_set = actual.map(|a| a.grants.clone()).unwrap_or_default();
    let held: Vec<GrantHeld> = held_set
        .iter()
        .map(|e| GrantHeld {
            entitlement: entitlement_path(e),
            because: because(e),
        })
        .collect();
    let missing: Vec<GrantHeld> = desired
        .map(|d| {
            d.grants
                .keys()
                .filter(|e| !held_set.contains(*e))
                .map(|e| GrantHeld {
                    entitlement: entitlement_path(e),
                    because: because(e),
                })
                .collect()
        })
        .unwrap_or_default();
    let access = Access {
        person: person.id.as_str().to_owned(),
        accounts,
        held,
        missing,
    };
    match args.format {
        TextOrJson::Json => out(&(serde_json::to_string_pretty(&access)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
            + "\n")),
        TextOrJson::Text => out(&text(&access, &person.display_name)),
    }
    Ok(Outcome::Success)
}

fn text(access: &Access, name: &str) -> String {
    let mut s = format!(
        "{name} ({}) holds, as read now from every system ({}, {}):\n",
        access.person,
        plural(access.accounts.len(), "account", "accounts"),
        plural(access.held.len(), "grant", "grants")
    );
    for a in &access.accounts {
        s.push_str(&format!(
            "  {} account {} ({})\n",
            a.system, a.external_id, a.state
        ));
    }
    for g in &access.held {
        if g.because.is_empty() {
            s.push_str(&format!("  {}: no policy gives it\n", g.entitlement));
        } else {
            let refs: Vec<String> = g.because.iter().map(ToString::to_string).collect();
            s.push_str(&format!(
                "  {}: given by {}\n",
                g.entitlement,
                refs.join("; ")
            ));
        }
    }
    if !access.missing.is_empty() {
        s.push_str("Given by policy but not held (yet):\n");
        for g in &access.missing {
            let refs: Vec<String> = g.because.iter().map(ToString::to_string).collect();
            s.push_str(&format!(
                "  {}: given by {}\n",
                g.entitlement,
                refs.join("; ")
            ));
        }
    }
    s
}
