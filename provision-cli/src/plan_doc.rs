//! The plan as a document: what `plan --format json` prints and `plan --out` saves,
//! and what `apply` and `show` read back.
//!
//! In memory, [`PlanDocument`] is the reviewer's view (`people`, grouped by person,
//! each change with its sign, reason, policy file:line and matching attributes) and
//! the exact operations and edges `apply` executes (`plan`). On disk it is written as
//! `provision.plan/v2` ([`v2`]): provenance, people and entitlements in tables,
//! operations pointing into them, edges by index, streamed. `provision.plan/v1`
//! documents (every change with its full provenance) are still read, so a plan saved
//! by the previous version can be shown and applied (its stale-plan check is the
//! same); they are no longer written.

pub mod v2;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use provision_core::model::{
    DesiredState, Entitlement, Identity, Operation, OperationKind, Plan, PolicySet, ReasonKind,
    SourceLocation,
};
use provision_core::planner::GuardedPlan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::CliError;

/// The schema name and version of the plan documents written now.
pub const PLAN_SCHEMA: &str = v2::SCHEMA;

/// The previous schema, still read.
pub const PLAN_SCHEMA_V1: &str = "provision.plan/v1";

/// A plan, for people and for `apply`. Deserializes from a `provision.plan/v1`
/// document; [`PlanDocument::read`] reads either version.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanDocument {
    /// When the plan was made.
    pub created_at: DateTime<Utc>,
    /// The trigger recorded in every operation's reason.
    pub event: String,
    /// The files the plan was made from, with their digests (a changed file makes a
    /// saved plan stale).
    pub inputs: Inputs,
    /// Counts.
    pub summary: Summary,
    /// The blast-radius verdict.
    pub blast_radius: BlastVerdict,
    /// The changes, grouped by person, in roster order.
    pub people: Vec<PersonChanges>,
    /// What would change in systems (or kinds) whose enforcement is `report`: never
    /// applied.
    pub report_only: Vec<Change>,
    /// The exact operations and dependency edges `apply` executes.
    pub plan: Plan,
}

/// The input files of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The deployment file.
    pub config: InputFile,
    /// The policy file or directory.
    pub policies: InputFile,
    /// The roster.
    pub roster: InputFile,
}

/// One input: its path and the SHA-256 of its content (of every policy file, for a
/// directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// As given.
    pub path: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// Counts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// People with at least one change.
    pub people: usize,
    /// Operations.
    pub operations: usize,
    /// `+`: accounts created or reactivated, entitlements granted.
    pub additions: usize,
    /// `-`: entitlements revoked, sessions revoked, accounts suspended or deleted.
    pub removals: usize,
    /// `~`: profiles updated, roles replaced in place.
    pub changes: usize,
}

/// The blast-radius verdict of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlastVerdict {
    /// `within_limits`, or `exceeded` (apply refuses it without
    /// `--confirm-blast-radius`).
    pub verdict: String,
    /// People who would lose some access.
    pub identities: usize,
    /// The roster's size.
    pub population: usize,
    /// Removal operations.
    pub removal_operations: usize,
    /// The limit exceeded, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The flag that confirms it, when one is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_with: Option<String>,
}

impl BlastVerdict {
    /// True when the plan is over a limit.
    pub fn exceeded(&self) -> bool {
        self.verdict == "exceeded"
    }
}

/// One person's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonChanges {
    /// HR id.
    pub id: String,
    /// Login.
    pub login: String,
    /// Name, when the roster has the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The changes, in plan order.
    pub changes: Vec<Change>,
}

/// One change, as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `+` addition, `-` removal, `~` change.
    pub sign: String,
    /// The operation's id.
    pub operation: String,
    /// Whose (HR id).
    pub person: String,
    /// The system.
    pub system: String,
    /// The verb (`grant`, `revoke`, `create_account`, ...).
    pub action: String,
    /// The entitlement, for grants and revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<String>,
    /// Why.
    pub reason: ChangeReason,
}

/// Why a change is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReason {
    /// `policy_grant`, `policy_removed`, `termination`, ...
    pub kind: ReasonKind,
    /// A sentence for people.
    pub detail: String,
    /// The policies involved, where each is written, and the attributes that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyRef>,
}

/// A policy behind a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The policy's name.
    pub name: String,
    /// Where it (or the line granting this entitlement) is written: `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The person's attribute values that made it match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matched: BTreeMap<String, String>,
}

impl std::fmt::Display for PolicyRef {
    /// `policy "Sales" (policies/sales.yaml:8): department=Sales`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy \"{}\"", self.name)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        if !self.matched.is_empty() {
            let m: Vec<String> = self
                .matched
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, ": {}", m.join(", "))?;
        }
        Ok(())
    }
}

/// The sign a reviewer sees for an operation.
pub fn sign_of(op: &Operation) -> &'static str {
    match &op.kind {
        OperationKind::UpdateAccount { .. } => "~",
        OperationKind::Grant { .. } if op.reason.kind == ReasonKind::Replacement => "~",
        kind if kind.is_removal() => "-",
        _ => "+",
    }
}

/// `system/kind/resource[#role][@scope]`: how entitlements are written on the
/// command line and in plans.
pub fn entitlement_path(e: &Entitlement) -> String {
    let mut s = format!("{}/{}/{}", e.system, e.kind, e.resource);
    if let Some(role) = &e.role {
        s.push('#');
        s.push_str(role);
    }
    if let Some(scope) = &e.scope {
        s.push('@');
        s.push_str(scope);
    }
    s
}

/// `file:line` of a policy, or of its line granting `entitlement`.
pub fn policy_source(
    policies: &PolicySet,
    name: &str,
    entitlement: Option<&Entitlement>,
) -> Option<SourceLocation> {
    let policy = policies.policies.iter().find(|p| p.name == name)?;
    entitlement
        .and_then(|e| {
            policy
                .grants
                .iter()
                .find(|g| &g.entitlement == e)
                .and_then(|g| g.source.clone())
        })
        .or_else(|| policy.source.clone())
}

/// The policies behind a desired grant (its provenance), each with where it is written
/// and the attribute values that matched: what `plan`, `why` and `access` show.
pub fn provenance_refs(
    policies: &PolicySet,
    provenance: &[provision_core::model::Provenance],
    entitlement: Option<&Entitlement>,
) -> Vec<PolicyRef> {
    provenance
        .iter()
        .map(|p| PolicyRef {
            name: p.name().into_owned(),
            source: policy_source(policies, &p.name(), entitlement).map(|l| file_line(&l)),
            matched: p.matched().clone(),
        })
        .collect()
}

fn file_line(location: &SourceLocation) -> String {
    format!("{}:{}", location.file, location.line)
}

/// What a plan document is built from.
pub struct PlanInputs<'a> {
    /// The roster (names, and the population of the blast radius).
    pub roster: &'a [Identity],
    /// The policies (file:line).
    pub policies: &'a PolicySet,
    /// What the policies give the roster (matched attributes).
    pub desired: &'a DesiredState,
    /// The input files.
    pub inputs: Inputs,
    /// The trigger.
    pub event: &'a str,
}

/// One change line of an operation.
pub fn change_of(op: &Operation, inputs: &PlanInputs<'_>) -> Change {
    let entitlement = op.kind.entitlement();
    let provenance = entitlement.and_then(|e| inputs.desired.why(&op.identity, e));
    let policies: Vec<PolicyRef> = match provenance {
        Some(provenance) if !provenance.is_empty() => {
            provenance_refs(inputs.policies, provenance, entitlement)
        }
        // A revocation no policy explains any more: the policies that give this
        // entitlement to others, so a reviewer sees which rule no longer matches.
        _ if op.reason.policies.is_empty() && op.kind.is_removal() => entitlement
            .map(|e| {
                inputs
                    .policies
                    .policies
                    .iter()
                    .filter(|p| p.grants.iter().any(|g| &g.entitlement == e))
                    .map(|p| PolicyRef {
                        name: p.name.clone(),
                        source: policy_source(inputs.policies, &p.name, Some(e))
                            .map(|l| file_line(&l)),
                        matched: BTreeMap::new(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => op
            .reason
            .policies
            .iter()
            .map(|name| PolicyRef {
                name: name.clone(),
                source: policy_source(inputs.policies, name, entitlement).map(|l| file_line(&l)),
                matched: BTreeMap::new(),
            })
            .collect(),
    };
    Change {
        sign: sign_of(op).to_owned(),
        operation: op.id.0.clone(),
        person: op.identity.as_str().to_owned(),
        system: op.system.as_str().to_owned(),
        action: op.kind.verb().to_owned(),
        entitlement: entitlement.map(entitlement_path),
        reason: ChangeReason {
            kind: op.reason.kind,
            detail: op.reason.detail.clone(),
            policies,
        },
    }
}

/// The verdict for `plan` against `limits` over `population` people.
pub fn verdict(guarded: &GuardedPlan, population: usize) -> BlastVerdict {
    let removals: Vec<&Operation> = guarded
        .preview()
        .operations
        .iter()
        .filter(|o| o.kind.is_removal())
        .collect();
    let identities = removals
        .iter()
        .map(|o| &o.identity)
        .collect::<BTreeSet<_>>()
        .len();
    match guarded.exceeded() {
        Some(e) => BlastVerdict {
            verdict: "exceeded".to_owned(),
            identities: e.identities,
            population: e.population,
            removal_operations: e.operations,
            limit: Some(e.limit.to_string()),
            confirm_with: Some(format!("--confirm-blast-radius {}", e.identities)),
        },
        None => BlastVerdict {
            verdict: "within_limits".to_owned(),
            identities,
            population,
            removal_operations: removals.len(),
            limit: None,
            confirm_with: None,
        },
    }
}

impl PlanDocument {
    /// The document of a guarded plan.
    pub fn new(guarded: &GuardedPlan, inputs: PlanInputs<'_>) -> Self {
        let plan = guarded.preview().clone();
        let names: BTreeMap<&str, &Identity> =
            inputs.roster.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut order: Vec<String> = Vec::new();
        let mut by_person: BTreeMap<String, PersonChanges> = BTreeMap::new();
        let mut summary = Summary {
            operations: plan.operations.len(),
            ..Summary::default()
        };
        for op in &plan.operations {
            let change = change_of(op, &inputs);
            match change.sign.as_str() {
                "+" => summary.additions += 1,
                "-" => summary.removals += 1,
                _ => summary.changes += 1,
            }
            let id = op.identity.as_str().to_owned();
            let person = by_person.entry(id.clone()).or_insert_with(|| {
                order.push(id.clone());
                PersonChanges {
                    id: id.clone(),
                    login: op.login.clone(),
                    display_name: names.get(id.as_str()).map(|p| p.display_name.clone()),
                    changes: Vec::new(),
                }
            });
            person.changes.push(change);
        }
        // Roster order, then anyone not in the roster in plan order.
        let position: BTreeMap<&str, usize> = inputs
            .roster
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        order.sort_by_key(|id| position.get(id.as_str()).copied().unwrap_or(usize::MAX));
        let people: Vec<PersonChanges> =
            order.iter().filter_map(|id| by_person.remove(id)).collect();
        summary.people = people.len();
        let report_only = guarded
            .report_only()
            .iter()
            .map(|op| change_of(op, &inputs))
            .collect();
        Self {
            created_at: Utc::now(),
            event: inputs.event.to_owned(),
            blast_radius: verdict(guarded, inputs.roster.len()),
            inputs: inputs.inputs,
            summary,
            people,
            report_only,
            plan,
        }
    }

    /// Reads a saved plan (`provision.plan/v2`, or `v1` from the previous version),
    /// checking its schema.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        /// Only the schema: the rest of the document is skipped, not kept.
        #[derive(Deserialize)]
        struct Header {
            #[serde(default)]
            schema: String,
        }
        let open = || std::fs::File::open(path).map_err(|e| CliError::io(path.display(), e));
        let not_a_plan = |e: &dyn std::fmt::Display| {
            CliError::Other(format!("{}: not a plan file: {e}", path.display()))
        };
        let header: Header = serde_json::from_reader(std::io::BufReader::new(open()?))
            .map_err(|e| not_a_plan(&e))?;
        match header.schema.as_str() {
            PLAN_SCHEMA => v2::read(open()?).map_err(|e| not_a_plan(&e)),
            PLAN_SCHEMA_V1 => serde_json::from_reader(std::io::BufReader::new(open()?))
                .map_err(|e| not_a_plan(&e)),
            schema => Err(CliError::Other(format!(
                "{}: plan schema `{schema}` is neither `{PLAN_SCHEMA}` nor `{PLAN_SCHEMA_V1}`; \
                 plan again with this version",
                path.display()
            ))),
        }
    }

    /// Writes the document (`provision.plan/v2`) to a file.
    pub fn write(&self, path: &Path) -> Result<(), CliError> {
        std::fs::File::create(path)
            .and_then(|file| self.write_to(file))
            .map_err(|e| CliError::io(path.display(), e))
    }

    /// Writes the document (`provision.plan/v2`) to `out`.
    pub fn write_to(&self, out: impl std::io::Write) -> std::io::Result<()> {
        v2::write(self, out)
    }
}

/// The SHA-256 of a file, or of every policy file under a directory (by relative
/// path, sorted).
pub fn digest(path: &Path) -> Result<InputFile, CliError> {
    let mut hasher = Sha256::new();
    if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, path, &mut files)?;
        files.sort();
        for rel in files {
            let bytes =
                std::fs::read(path.join(&rel)).map_err(|e| CliError::io(path.display(), e))?;
            hasher.update(rel.as_bytes());
            hasher.update([0]);
            hasher.update(&bytes);
            hasher.update([0]);
        }
    } else {
        let bytes = std::fs::read(path).map_err(|e| CliError::io(path.display(), e))?;
        hasher.update(&bytes);
    }
    Ok(InputFile {
        path: path.display().to_string(),
        sha256: hex::encode(hasher.finalize()),
    })
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io(dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io(dir.display(), e))?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.display().to_string());
        }
    }
    Ok(())
}

/// What differs between the operations of a saved plan and of a plan made now:
/// one sentence per difference, empty when they are the same.
pub fn plan_drift(saved: &Plan, now: &Plan) -> Vec<String> {
    let kinds = |plan: &Plan| -> BTreeMap<String, (String, String)> {
        plan.operations
            .iter()
            .map(|op| {
                let kind = serde_json::to_string(&op.kind).unwrap_or_default();
                (op.id.0.clone(), (kind, op.system.to_string()))
            })
            .collect()
    };
    let saved_ops = kinds(saved);
    let now_ops = kinds(now);
    let mut out = Vec::new();
    for (id, (kind, _)) in &saved_ops {
        match now_ops.get(id) {
            None => out.push(format!(
                "{id}: no longer needed (the system already holds it, or it changed since the plan)"
            )),
            Some((now_kind, _)) if now_kind != kind => {
                out.push(format!("{id}: now planned differently"));
            }
            Some(_) => {}
        }
    }
    for id in now_ops.keys().filter(|id| !saved_ops.contains_key(*id)) {
        out.push(format!("{id}: newly needed (not in the saved plan)"));
    }
    out
}

/// Which inputs changed since the plan was made.
pub fn changed_inputs(saved: &Inputs, now: &Inputs) -> Vec<String> {
    let mut out = Vec::new();
    for (what, a, b) in [
        ("deployment", &saved.config, &now.config),
        ("policies", &saved.policies, &now.policies),
        ("roster", &saved.roster, &now.roster),
    ] {
        if a.sha256 != b.sha256 {
            out.push(format!("{what} {} changed since the plan was made", b.path));
        }
    }
    out
}
