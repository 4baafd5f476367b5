//! `provision.plan/v2`: the plan document as it is written to a file or standard
//! output, compact and streamed.
//!
//! Everything a plan repeats is written once in a table, and each operation points
//! into the tables by index:
//!
//! - `people`: `{id, login, display_name?}`, in roster order (people with report-only
//!   changes last);
//! - `entitlements`: `{system, kind, resource, role?, scope?}`;
//! - `policies`: `{name, source?}`, one row per policy and `file:line`;
//! - `reasons`: `{kind, detail, refs: [{policy, matched?}], policies?, event?,
//!   valid_until?}`: why, for a reviewer (`refs`: rows of `policies` with the
//!   attribute values that matched) and for the executor (`policies`, `event`,
//!   `valid_until`: the operation's own reason);
//! - `profiles`: the account profiles of `create_account`.
//!
//! An operation is `{p, v, r, s?, e?, f?, a?, l?, leaver?, id?}`: `p` its person (row of
//! `people`), `v` its verb (`grant`, `create_account`, ...), `r` its reason (row of
//! `reasons`), `s` its system when it has no entitlement, `e` its entitlement (row of
//! `entitlements`), `f` the profile of a `create_account`, `a` the attributes of an
//! `update_account`, `l` the login when it is not the person's, `leaver` for leaver
//! priority, and `id` only when it is not the conventional one
//! ([`Operation::make_id`]). `dependencies` are `[before, after]` pairs of indices
//! into `operations`. `report_only` rows are operations of the same shape with their
//! `sign`; they are never applied.
//!
//! The document is written with one pass of serde over the plan's operations
//! (straight into a buffered writer, never through a `serde_json::Value`) and read
//! with one pass from a buffered reader.

use std::collections::HashMap;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use provision_core::model::{
    AccountProfile, Dependency, Entitlement, IdentityId, Operation, OperationId, OperationKind,
    Plan, Priority, Reason, ReasonKind, SystemName,
};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};

use super::{
    BlastVerdict, Change, ChangeReason, Inputs, PersonChanges, PlanDocument, PolicyRef, Summary,
    entitlement_path, sign_of,
};

/// The schema name and version of the compact document.
pub const SCHEMA: &str = "provision.plan/v2";

/// A row of the `people` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PersonRow {
    id: String,
    login: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

/// A row of the `policies` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct PolicyRow {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// A policy behind a reason, by row of `policies`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct RefRow {
    policy: usize,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    matched: std::collections::BTreeMap<String, String>,
}

/// A row of the `reasons` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct ReasonRow {
    kind: ReasonKind,
    detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refs: Vec<RefRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_until: Option<DateTime<Utc>>,
}

/// One operation (or report-only change), pointing into the tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpRow {
    p: usize,
    v: String,
    r: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    leaver: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Report-only rows only: `+`, `-` or `~`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sign: Option<String>,
    /// Report-only rows only: the entitlement as the reviewer reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
}

/// Interns rows: the index of a row, adding it the first time it is seen. Rows are
/// told apart by `K`: the row itself where it can be hashed, else its JSON.
struct Table<T, K = T> {
    rows: Vec<T>,
    index: HashMap<K, usize>,
}

impl<T, K: std::hash::Hash + Eq> Table<T, K> {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn intern_by(&mut self, key: K, row: T) -> usize {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        self.rows.push(row);
        self.index.insert(key, self.rows.len() - 1);
        self.rows.len() - 1
    }
}

impl<T: std::hash::Hash + Eq + Clone> Table<T> {
    fn intern(&mut self, row: T) -> Result<usize, serde_json::Error> {
        Ok(self.intern_by(row.clone(), row))
    }
}

/// Interns rows found by a hash of what they are made from, so that a row seen
/// before costs a hash and a comparison, not a copy.
struct Interner<T> {
    rows: Vec<T>,
    buckets: HashMap<u64, Vec<usize>>,
}

impl<T> Interner<T> {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            buckets: HashMap::new(),
        }
    }

    /// The row whose parts hash to `hash` and that is `same`, else the one `make`s.
    fn get_or_insert(
        &mut self,
        hash: u64,
        same: impl Fn(&T) -> bool,
        make: impl FnOnce() -> T,
    ) -> usize {
        let bucket = self.buckets.entry(hash).or_default();
        if let Some(i) = bucket.iter().copied().find(|i| same(&self.rows[*i])) {
            return i;
        }
        self.rows.push(make());
        bucket.push(self.rows.len() - 1);
        self.rows.len() - 1
    }
}

impl<T: Serialize> Table<T, String> {
    /// For rows that cannot be hashed (maps of attributes inside).
    fn intern_json(&mut self, row: T) -> Result<usize, serde_json::Error> {
        Ok(self.intern_by(serde_json::to_string(&row)?, row))
    }
}

/// The tables and rows of a document, built in one pass over its operations.
struct Compact {
    people: Vec<PersonRow>,
    entitlements: Table<Entitlement>,
    policies: Table<PolicyRow>,
    reasons: Interner<ReasonRow>,
    profiles: Table<AccountProfile, String>,
    operations: Vec<OpRow>,
    dependencies: Vec<[usize; 2]>,
    report_only: Vec<OpRow>,
    hasher: std::hash::RandomState,
}

/// The document as written (borrowing what it can).
#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    created_at: DateTime<Utc>,
    event: &'a str,
    inputs: &'a Inputs,
    summary: &'a Summary,
    blast_radius: &'a BlastVerdict,
    people: &'a [PersonRow],
    entitlements: &'a [Entitlement],
    policies: &'a [PolicyRow],
    reasons: &'a [ReasonRow],
    profiles: &'a [AccountProfile],
    #[serde(serialize_with = "rows")]
    operations: &'a [OpRow],
    #[serde(serialize_with = "rows")]
    dependencies: &'a [[usize; 2]],
    #[serde(serialize_with = "rows")]
    report_only: &'a [OpRow],
}

/// A sequence, element by element (serde streams it; nothing is collected).
fn rows<S: Serializer, T: Serialize>(items: &&[T], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(items.len()))?;
    for item in items.iter() {
        seq.serialize_element(item)?;
    }
    seq.end()
}

/// The document as read.
#[derive(Deserialize)]
struct Owned {
    created_at: DateTime<Utc>,
    event: String,
    inputs: Inputs,
    summary: Summary,
    blast_radius: BlastVerdict,
    people: Vec<PersonRow>,
    entitlements: Vec<Entitlement>,
    policies: Vec<PolicyRow>,
    reasons: Vec<ReasonRow>,
    #[serde(default)]
    profiles: Vec<AccountProfile>,
    operations: Vec<OpRow>,
    #[serde(default)]
    dependencies: Vec<[usize; 2]>,
    #[serde(default)]
    report_only: Vec<OpRow>,
}

fn bad(what: impl std::fmt::Display) -> String {
    format!("not a {SCHEMA} document: {what}")
}

impl Compact {
    fn build(doc: &PlanDocument) -> Result<Self, String> {
        let mut c = Compact {
            people: Vec::with_capacity(doc.people.len()),
            entitlements: Table::new(),
            policies: Table::new(),
            reasons: Interner::new(),
            profiles: Table::new(),
            operations: Vec::with_capacity(doc.plan.operations.len()),
            dependencies: Vec::with_capacity(doc.plan.dependencies.len()),
            report_only: Vec::with_capacity(doc.report_only.len()),
            hasher: std::hash::RandomState::new(),
        };
        let mut person_index: HashMap<&str, usize> = HashMap::new();
        let mut changes: HashMap<&str, &Change> = HashMap::new();
        for person in &doc.people {
            person_index.insert(&person.id, c.people.len());
            c.people.push(PersonRow {
                id: person.id.clone(),
                login: person.login.clone(),
                display_name: person.display_name.clone(),
            });
            for change in &person.changes {
                changes.insert(&change.operation, change);
            }
        }
        let mut op_index: HashMap<&str, usize> = HashMap::new();
        for (i, op) in doc.plan.operations.iter().enumerate() {
            op_index.insert(&op.id.0, i);
            let person = match person_index.get(op.identity.as_str()) {
                Some(p) => *p,
                None => {
                    person_index.insert(op.identity.as_str(), c.people.len());
                    c.people.push(PersonRow {
                        id: op.identity.as_str().to_owned(),
                        login: op.login.clone(),
                        display_name: None,
                    });
                    c.people.len() - 1
                }
            };
            let refs = changes
                .get(op.id.0.as_str())
                .map(|ch| ch.reason.policies.as_slice())
                .unwrap_or_default();
            let row = c.op_row(op, person, refs).map_err(|e| e.to_string())?;
            c.operations.push(row);
        }
        for d in &doc.plan.dependencies {
            let at = |id: &OperationId| {
                op_index.get(id.0.as_str()).copied().ok_or_else(|| {
                    format!("the dependency on {id} names an operation not in the plan")
                })
            };
            c.dependencies.push([at(&d.before)?, at(&d.after)?]);
        }
        for change in &doc.report_only {
            let person = match person_index.get(change.person.as_str()) {
                Some(p) => *p,
                None => {
                    person_index.insert(&change.person, c.people.len());
                    c.people.push(PersonRow {
                        id: change.person.clone(),
                        login: String::new(),
                        display_name: None,
                    });
                    c.people.len() - 1
                }
            };
            let row = c.report_row(change, person).map_err(|e| e.to_string())?;
            c.report_only.push(row);
        }
        Ok(c)
    }

    /// A hash of a reason's parts (one hasher for the whole document).
    fn reason_hash(
        &self,
        kind: ReasonKind,
        detail: &str,
        refs: &[PolicyRef],
        policies: &[String],
        event: &Option<String>,
        valid_until: &Option<DateTime<Utc>>,
    ) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        (kind, detail, policies, event, valid_until).hash(&mut h);
        for r in refs {
            (&r.name, &r.source, &r.matched).hash(&mut h);
        }
        h.finish()
    }

    fn refs(&mut self, refs: &[PolicyRef]) -> Result<Vec<RefRow>, serde_json::Error> {
        refs.iter()
            .map(|r| {
                Ok(RefRow {
                    policy: self.policies.intern(PolicyRow {
                        name: r.name.clone(),
                        source: r.source.clone(),
                    })?,
                    matched: r.matched.clone(),
                })
            })
            .collect()
    }

    fn op_row(
        &mut self,
        op: &Operation,
        person: usize,
        refs: &[PolicyRef],
    ) -> Result<OpRow, serde_json::Error> {
        let reason = &op.reason;
        let hash = self.reason_hash(
            reason.kind,
            &reason.detail,
            refs,
            &reason.policies,
            &reason.event,
            &reason.valid_until,
        );
        let policies = &self.policies.rows;
        let found = self.reasons.buckets.get(&hash).and_then(|bucket| {
            bucket.iter().copied().find(|i| {
                let row = &self.reasons.rows[*i];
                row.kind == reason.kind
                    && row.detail == reason.detail
                    && row.policies == reason.policies
                    && row.event == reason.event
                    && row.valid_until == reason.valid_until
                    && same_refs(&row.refs, refs, policies)
            })
        });
        let r = match found {
            Some(r) => r,
            None => {
                let refs = self.refs(refs)?;
                self.reasons.get_or_insert(
                    hash,
                    |_| false,
                    || ReasonRow {
                        kind: reason.kind,
                        detail: reason.detail.clone(),
                        refs,
                        policies: reason.policies.clone(),
                        event: reason.event.clone(),
                        valid_until: reason.valid_until,
                    },
                )
            }
        };
        let mut row = OpRow {
            p: person,
            v: op.kind.verb().to_owned(),
            r,
            s: None,
            e: None,
            f: None,
            a: None,
            l: (self.people[person].login != op.login).then(|| op.login.clone()),
            leaver: op.priority == Priority::Leaver,
            id: (Operation::make_id(&op.identity, &op.system, &op.kind) != op.id)
                .then(|| op.id.0.clone()),
            sign: None,
            path: None,
        };
        match &op.kind {
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                row.e = Some(self.entitlements.intern(entitlement.clone())?);
                if entitlement.system != op.system {
                    row.s = Some(op.system.as_str().to_owned());
                }
            }
            OperationKind::CreateAccount { profile } => {
                row.s = Some(op.system.as_str().to_owned());
                row.f = Some(self.profiles.intern_json(profile.clone())?);
            }
            OperationKind::UpdateAccount { attributes } => {
                row.s = Some(op.system.as_str().to_owned());
                row.a = Some(attributes.clone());
            }
            OperationKind::ReactivateAccount
            | OperationKind::RevokeSessions
            | OperationKind::SuspendAccount
            | OperationKind::DeleteAccount => row.s = Some(op.system.as_str().to_owned()),
            other => {
                return Err(serde::ser::Error::custom(format!(
                    "operation {} of kind `{}` has no {SCHEMA} form",
                    op.id,
                    other.verb()
                )));
            }
        }
        Ok(row)
    }

    fn report_row(&mut self, change: &Change, person: usize) -> Result<OpRow, serde_json::Error> {
        let reason = &change.reason;
        let hash = self.reason_hash(
            reason.kind,
            &reason.detail,
            &reason.policies,
            &[],
            &None,
            &None,
        );
        let refs = self.refs(&reason.policies)?;
        let r = self.reasons.get_or_insert(
            hash,
            |row| {
                row.kind == reason.kind
                    && row.detail == reason.detail
                    && row.refs == refs
                    && row.policies.is_empty()
                    && row.event.is_none()
                    && row.valid_until.is_none()
            },
            || ReasonRow {
                kind: reason.kind,
                detail: reason.detail.clone(),
                refs: refs.clone(),
                policies: Vec::new(),
                event: None,
                valid_until: None,
            },
        );
        Ok(OpRow {
            p: person,
            v: change.action.clone(),
            r,
            s: Some(change.system.clone()),
            e: None,
            f: None,
            a: None,
            l: None,
            leaver: false,
            id: Some(change.operation.clone()),
            sign: Some(change.sign.clone()),
            path: change.entitlement.clone(),
        })
    }
}

/// True when `rows` (pointing into `policies`) are the reviewer's `refs`.
fn same_refs(rows: &[RefRow], refs: &[PolicyRef], policies: &[PolicyRow]) -> bool {
    rows.len() == refs.len()
        && rows.iter().zip(refs).all(|(row, r)| {
            row.matched == r.matched
                && policies
                    .get(row.policy)
                    .is_some_and(|p| p.name == r.name && p.source == r.source)
        })
}

/// Writes `doc` as a `provision.plan/v2` document to `out`, in one pass.
pub fn write<W: Write>(doc: &PlanDocument, out: W) -> std::io::Result<()> {
    let c = Compact::build(doc).map_err(std::io::Error::other)?;
    let document = Document {
        schema: SCHEMA,
        created_at: doc.created_at,
        event: &doc.event,
        inputs: &doc.inputs,
        summary: &doc.summary,
        blast_radius: &doc.blast_radius,
        people: &c.people,
        entitlements: &c.entitlements.rows,
        policies: &c.policies.rows,
        reasons: &c.reasons.rows,
        profiles: &c.profiles.rows,
        operations: &c.operations,
        dependencies: &c.dependencies,
        report_only: &c.report_only,
    };
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer(&mut out, &document)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Reads a `provision.plan/v2` document from `input` (whose `schema` the caller
/// checked), in one pass.
pub fn read<R: Read>(input: R) -> Result<PlanDocument, String> {
    let owned: Owned =
        serde_json::from_reader(std::io::BufReader::new(input)).map_err(|e| bad(format!("{e}")))?;
    let row = |table: &str, len: usize, i: usize| {
        if i < len {
            Ok(i)
        } else {
            Err(bad(format!("{table} row {i} does not exist ({len} rows)")))
        }
    };
    let mut operations = Vec::with_capacity(owned.operations.len());
    let mut changes: Vec<Vec<Change>> = vec![Vec::new(); owned.people.len()];
    for op in &owned.operations {
        let person = &owned.people[row("people", owned.people.len(), op.p)?];
        let reason = &owned.reasons[row("reasons", owned.reasons.len(), op.r)?];
        let entitlement = match op.e {
            Some(e) => Some(&owned.entitlements[row("entitlements", owned.entitlements.len(), e)?]),
            None => None,
        };
        let kind = match (op.v.as_str(), entitlement) {
            ("grant", Some(e)) => OperationKind::Grant {
                entitlement: e.clone(),
            },
            ("revoke", Some(e)) => OperationKind::Revoke {
                entitlement: e.clone(),
            },
            ("create_account", _) => OperationKind::CreateAccount {
                profile: match op.f {
                    Some(f) => owned.profiles[row("profiles", owned.profiles.len(), f)?].clone(),
                    None => return Err(bad("a create_account without its profile (`f`)")),
                },
            },
            ("update_account", _) => OperationKind::UpdateAccount {
                attributes: op.a.clone().unwrap_or_default(),
            },
            ("reactivate_account", _) => OperationKind::ReactivateAccount,
            ("revoke_sessions", _) => OperationKind::RevokeSessions,
            ("suspend_account", _) => OperationKind::SuspendAccount,
            ("delete_account", _) => OperationKind::DeleteAccount,
            (verb, _) => {
                return Err(bad(format!(
                    "operation verb `{verb}` (or a grant or revoke without its entitlement `e`)"
                )));
            }
        };
        let system = match (&op.s, entitlement) {
            (Some(s), _) => SystemName(s.clone()),
            (None, Some(e)) => e.system.clone(),
            (None, None) => return Err(bad(format!("operation `{}` without a system", op.v))),
        };
        let identity = IdentityId(person.id.clone());
        let id = match &op.id {
            Some(id) => OperationId(id.clone()),
            None => Operation::make_id(&identity, &system, &kind),
        };
        let operation = Operation {
            id,
            identity,
            login: op.l.clone().unwrap_or_else(|| person.login.clone()),
            system,
            kind,
            reason: Reason {
                kind: reason.kind,
                policies: reason.policies.clone(),
                event: reason.event.clone(),
                detail: reason.detail.clone(),
                valid_until: reason.valid_until,
            },
            priority: if op.leaver {
                Priority::Leaver
            } else {
                Priority::Normal
            },
        };
        changes[op.p].push(Change {
            sign: sign_of(&operation).to_owned(),
            operation: operation.id.0.clone(),
            person: person.id.clone(),
            system: operation.system.as_str().to_owned(),
            action: op.v.clone(),
            entitlement: operation.kind.entitlement().map(entitlement_path),
            reason: change_reason(reason, &owned.policies)?,
        });
        operations.push(operation);
    }
    let mut dependencies = Vec::with_capacity(owned.dependencies.len());
    for [before, after] in &owned.dependencies {
        let at =
            |i: usize| row("operations", operations.len(), i).map(|i| operations[i].id.clone());
        dependencies.push(Dependency {
            before: at(*before)?,
            after: at(*after)?,
        });
    }
    let mut report_only = Vec::with_capacity(owned.report_only.len());
    for r in &owned.report_only {
        let person = &owned.people[row("people", owned.people.len(), r.p)?];
        let reason = &owned.reasons[row("reasons", owned.reasons.len(), r.r)?];
        report_only.push(Change {
            sign: r.sign.clone().unwrap_or_default(),
            operation: r.id.clone().unwrap_or_default(),
            person: person.id.clone(),
            system: r.s.clone().unwrap_or_default(),
            action: r.v.clone(),
            entitlement: r.path.clone(),
            reason: change_reason(reason, &owned.policies)?,
        });
    }
    let people = owned
        .people
        .into_iter()
        .zip(changes)
        .filter(|(_, changes)| !changes.is_empty())
        .map(|(p, changes)| PersonChanges {
            id: p.id,
            login: p.login,
            display_name: p.display_name,
            changes,
        })
        .collect();
    Ok(PlanDocument {
        created_at: owned.created_at,
        event: owned.event,
        inputs: owned.inputs,
        summary: owned.summary,
        blast_radius: owned.blast_radius,
        people,
        report_only,
        plan: Plan {
            operations,
            dependencies,
        },
    })
}

fn change_reason(reason: &ReasonRow, policies: &[PolicyRow]) -> Result<ChangeReason, String> {
    let refs = reason
        .refs
        .iter()
        .map(|r| {
            let p = policies.get(r.policy).ok_or_else(|| {
                bad(format!(
                    "policies row {} does not exist ({} rows)",
                    r.policy,
                    policies.len()
                ))
            })?;
            Ok(PolicyRef {
                name: p.name.clone(),
                source: p.source.clone(),
                matched: r.matched.clone(),
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(ChangeReason {
        kind: reason.kind,
        detail: reason.detail.clone(),
        policies: refs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::plan_doc::InputFile;

    fn op(who: &str, system: &str, kind: OperationKind, reason: ReasonKind) -> Operation {
        let identity = IdentityId(who.to_owned());
        let system = SystemName(system.to_owned());
        Operation {
            id: Operation::make_id(&identity, &system, &kind),
            identity,
            login: format!("{who}@company.com"),
            system,
            kind,
            reason: Reason {
                kind: reason,
                policies: vec!["Sales".to_owned()],
                event: Some("cli".to_owned()),
                detail: "policy 'Sales' matched department=Sales".to_owned(),
                valid_until: None,
            },
            priority: Priority::Normal,
        }
    }

    fn change(op: &Operation, matched: &str) -> Change {
        Change {
            sign: sign_of(op).to_owned(),
            operation: op.id.0.clone(),
            person: op.identity.as_str().to_owned(),
            system: op.system.as_str().to_owned(),
            action: op.kind.verb().to_owned(),
            entitlement: op.kind.entitlement().map(entitlement_path),
            reason: ChangeReason {
                kind: op.reason.kind,
                detail: op.reason.detail.clone(),
                policies: vec![PolicyRef {
                    name: "Sales".to_owned(),
                    source: Some("policies/sales.yaml:9".to_owned()),
                    matched: [("department".to_owned(), matched.to_owned())].into(),
                }],
            },
        }
    }

    /// Every kind of operation, a leaver, an unconventional id, a login that is not the
    /// person's, edges and a report-only change.
    fn document() -> PlanDocument {
        let sales = Entitlement::new("okta", "group", "sales-team");
        let mut profile = AccountProfile::new("a@company.com", "a@company.com", "A");
        profile.attributes = [("title".to_owned(), "AE".to_owned())].into();
        let mut ops = vec![
            op(
                "a",
                "okta",
                OperationKind::CreateAccount { profile },
                ReasonKind::PolicyGrant,
            ),
            op(
                "a",
                "okta",
                OperationKind::Grant {
                    entitlement: sales.clone(),
                },
                ReasonKind::PolicyGrant,
            ),
            op(
                "a",
                "okta",
                OperationKind::UpdateAccount {
                    attributes: [("title".to_owned(), "AE".to_owned())].into(),
                },
                ReasonKind::ProfileSync,
            ),
            op(
                "b",
                "okta",
                OperationKind::RevokeSessions,
                ReasonKind::Termination,
            ),
            op(
                "b",
                "okta",
                OperationKind::SuspendAccount,
                ReasonKind::Termination,
            ),
            op(
                "b",
                "okta",
                OperationKind::Revoke {
                    entitlement: sales.clone(),
                },
                ReasonKind::Termination,
            ),
            op(
                "c",
                "okta",
                OperationKind::ReactivateAccount,
                ReasonKind::Reactivation,
            ),
            op(
                "c",
                "okta",
                OperationKind::DeleteAccount,
                ReasonKind::PolicyRemoved,
            ),
        ];
        ops[3].priority = Priority::Leaver;
        ops[4].priority = Priority::Leaver;
        ops[6].id = OperationId("custom-id".to_owned());
        ops[7].login = "c.old@company.com".to_owned();
        ops[1].reason.valid_until = Some("2027-01-01T00:00:00Z".parse().unwrap());
        let dependencies = vec![
            Dependency {
                before: ops[0].id.clone(),
                after: ops[1].id.clone(),
            },
            Dependency {
                before: ops[3].id.clone(),
                after: ops[4].id.clone(),
            },
        ];
        let mut people: Vec<PersonChanges> = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            let c = change(o, if i % 2 == 0 { "Sales" } else { "Ops" });
            match people.last_mut() {
                Some(p) if p.id == o.identity.as_str() => p.changes.push(c),
                _ => people.push(PersonChanges {
                    id: o.identity.as_str().to_owned(),
                    login: format!("{}@company.com", o.identity.as_str()),
                    display_name: (o.identity.as_str() != "c").then(|| "Someone".to_owned()),
                    changes: vec![c],
                }),
            }
        }
        let report = op(
            "d",
            "jira",
            OperationKind::Grant {
                entitlement: Entitlement::new("jira", "project_role", "SALES"),
            },
            ReasonKind::PolicyGrant,
        );
        let file = |path: &str| InputFile {
            path: path.to_owned(),
            sha256: "00".repeat(32),
        };
        PlanDocument {
            created_at: "2026-12-07T00:00:00Z".parse().unwrap(),
            event: "cli".to_owned(),
            inputs: Inputs {
                config: file("provision.yaml"),
                policies: file("policies"),
                roster: file("roster.yaml"),
            },
            summary: Summary {
                people: 3,
                operations: ops.len(),
                additions: 3,
                removals: 4,
                changes: 1,
            },
            blast_radius: BlastVerdict {
                verdict: "within_limits".to_owned(),
                identities: 2,
                population: 4,
                removal_operations: 4,
                limit: None,
                confirm_with: None,
            },
            people,
            report_only: vec![change(&report, "Sales")],
            plan: Plan {
                operations: ops,
                dependencies,
            },
        }
    }

    #[test]
    fn a_document_reads_back_as_written() {
        let doc = document();
        let mut bytes = Vec::new();
        write(&doc, &mut bytes).unwrap();
        let back = read(bytes.as_slice()).unwrap();
        assert_eq!(back.plan, doc.plan, "the operations apply runs");
        assert_eq!(back.people, doc.people, "the reviewer's view");
        assert_eq!(back, doc);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with(r#"{"schema":"provision.plan/v2""#),
            "{text}"
        );
        assert!(text.contains(r#""id":"custom-id""#), "{text}");
        assert_eq!(
            text.matches(r#""name":"Sales""#).count(),
            1,
            "a policy is written once: {text}"
        );
    }

    #[test]
    fn a_dangling_index_is_an_error_naming_the_table_not_a_panic() {
        let mut bytes = Vec::new();
        write(&document(), &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for (from, to, table) in [
            (r#"{"p":0,"#, r#"{"p":99,"#, "people row 99"),
            (
                r#""dependencies":[[0,1]"#,
                r#""dependencies":[[0,42]"#,
                "operations row 42",
            ),
            (r#""policy":0"#, r#""policy":7"#, "policies row 7"),
        ] {
            assert!(text.contains(from), "{from} in {text}");
            let broken = text.replacen(from, to, 1);
            let e = read(broken.as_bytes()).unwrap_err();
            assert!(e.contains(table), "{e}");
        }
        let e = read(&br#"{"schema":"provision.plan/v2"}"#[..]).unwrap_err();
        assert!(e.contains("missing field"), "{e}");
    }
}
