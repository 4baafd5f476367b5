//! The comparison: desired against actual state, classified into findings.
//!
//! Pure and synchronous: the reads happened before (one paginated read per system
//! and kind); this walks both states once. Per identity, the desired grants and
//! the actual grants are both sorted by entitlement, so they are merged in one
//! pass without hashing; only the differences allocate.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::adapter::SystemDescriptor;
use crate::config::{Enforcement, SystemConfig};
use crate::model::{
    AccountRecord, ActualAccount, ActualIdentity, ActualState, DesiredIdentity, DesiredState,
    Entitlement, IdentityId, Operation, OperationId, OperationKind, Priority, Reason, ReasonKind,
    ResourceRef, SystemName,
};

mod accounts;
mod grants;
mod inputs;

pub use inputs::DriftInputs;

use super::DriftReport;
use super::finding::{
    DriftClass, Evidence, Finding, Holder, Severity, Subject, account_state_name,
};
use crate::planner::IdentityPlanner;
use crate::planner::leaver::{leaver_ops_in_system, suspension_covers_grants};
#[cfg(doc)]
use crate::planner::plan_with_report;

static NO_OPERATIONS: BTreeSet<OperationId> = BTreeSet::new();
static NO_READ_TIMES: BTreeMap<SystemName, DateTime<Utc>> = BTreeMap::new();

/// Compares desired with actual state and classifies every difference.
///
/// The rules are the planner's: drift asks the planner ([`plan_with_report`]'s
/// per-identity step, run only for identities whose grants or accounts differ)
/// what it would do, and for an identity the HR source knows and has not terminated, a
/// missing grant or account is a finding exactly when the planner grants, creates
/// or reactivates it, and a grant held is unmanaged exactly when the planner
/// revokes it (so an ancestor's grant covering a subgroup, a one-per-account move,
/// an ordered role changed in place, several roles on one resource and an
/// ambiguous correlation read the same in both). A terminated identity's fixes
/// are the planner's leaver operations. What the planner never plans is drift's
/// own: foreign-owned differences, pending work, stale accounts, accounts and
/// grants of holders the HR source does not know, ambiguous accounts.
///
/// * missing: a policy gives a grant (valid now) or an account the system lacks,
///   or the account is suspended/deprovisioned;
/// * unmanaged: a grant no policy gives that the planner would revoke — on a
///   resource the SDK manages ([`DesiredState::managed_resources`]), an expired
///   grant, the old role where policies give another role on the same resource
///   (unless the kind changes roles in place: then the missing grant replaces it),
///   or any grant of a kind under authoritative enforcement — or any grant a
///   terminated or unknown identity holds, except (as the planner) in a system
///   that can suspend the account it is held by: the account's suspension blocks
///   it and it stays for a rehire. A manual grant elsewhere under
///   additive enforcement is left, as the planner leaves it;
/// * orphaned: an enabled account of a terminated identity (critical), or one that
///   matches no identity (high);
/// * foreign-owned: any difference on a resource an external engine owns;
/// * pending: a difference an in-flight operation resolves, or an account (and its
///   grants) the system creates on first SSO login;
/// * stale: an active account whose last sign-in is older than the threshold.
///
/// Findings are sorted by severity, most urgent first; within one severity by
/// identity, then system.
pub fn detect_drift(
    desired: &DesiredState,
    actual: &ActualState,
    inputs: &DriftInputs<'_>,
) -> DriftReport {
    let span = tracing::info_span!(
        "detect_drift",
        identities = desired.identities.len(),
        findings = tracing::field::Empty
    );
    let _guard = span.enter();
    let widened = widened_managed(desired, inputs);
    let managed = widened.as_ref().unwrap_or(&desired.managed_resources);
    let mut detector = Detector {
        inputs,
        planner: IdentityPlanner::new(
            inputs.config,
            inputs.descriptors,
            &actual.resources,
            managed,
        ),
        planned: HashMap::new(),
        leaver: BTreeMap::new(),
        findings: Vec::new(),
    };
    let empty = ActualIdentity::default();
    // Both maps are sorted by identity: one merge, no lookups.
    let mut wanted = desired.identities.iter().peekable();
    let mut read = actual.identities.iter().peekable();
    loop {
        let step = match (wanted.peek(), read.peek()) {
            (None, None) => break,
            (Some((w, _)), Some((r, _))) => w.cmp(r),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        match step {
            Ordering::Equal => {
                if let (Some((id, w)), Some((_, has))) = (wanted.next(), read.next()) {
                    detector.identity(id, Some(w), has);
                }
            }
            Ordering::Less => {
                if let Some((id, w)) = wanted.next() {
                    detector.identity(id, Some(w), &empty);
                }
            }
            Ordering::Greater => {
                if let Some((id, has)) = read.next() {
                    detector.identity(id, None, has);
                }
            }
        }
    }
    for (system, records) in &actual.unmatched_accounts {
        for record in records {
            let ambiguity = actual
                .ambiguous
                .iter()
                .find(|a| &a.system == system && a.accounts.contains(&record.external_id));
            detector.unmatched_account(system, record, ambiguity);
        }
    }
    let mut findings = detector.findings;
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    span.record("findings", findings.len());
    DriftReport {
        generated_at: inputs.now,
        findings,
        actual: Default::default(),
    }
}

/// The resources the planner counts as managed: the desired state's
/// [`DesiredState::managed_resources`] plus, when given, every resource
/// [`DriftInputs::policies`] mention (`None`: the desired state's alone).
fn widened_managed(
    desired: &DesiredState,
    inputs: &DriftInputs<'_>,
) -> Option<BTreeSet<ResourceRef>> {
    let extra: BTreeSet<ResourceRef> = inputs
        .policies
        .iter()
        .flat_map(|p| &p.policies)
        .flat_map(|p| &p.grants)
        .map(|g| g.entitlement.resource_ref())
        .filter(|r| !desired.managed_resources.contains(r))
        .collect();
    if extra.is_empty() {
        return None;
    }
    let mut managed = desired.managed_resources.clone();
    managed.extend(extra);
    Some(managed)
}

/// A hand-built desired identity as `planner::desired` would have built it: a
/// terminated identity desires nothing; grants outside their window are not given
/// (ended ones are expired). `None` when it already is.
fn as_planner_builds(want: &DesiredIdentity, now: DateTime<Utc>) -> Option<DesiredIdentity> {
    let terminated = want.identity.is_terminated_at(now);
    let needs = (terminated && !(want.grants.is_empty() && want.accounts.is_empty()))
        || want.grants.values().any(|g| !g.validity.contains(now));
    if !needs {
        return None;
    }
    let mut w = want.clone();
    if terminated {
        w.grants.clear();
        w.expired.clear();
        w.accounts.clear();
        return Some(w);
    }
    let outside: Vec<Entitlement> = w
        .grants
        .iter()
        .filter(|(_, g)| !g.validity.contains(now))
        .map(|(e, _)| e.clone())
        .collect();
    for e in outside {
        if let Some(g) = w.grants.remove(&e)
            && g.validity.end.is_some_and(|end| end <= now)
        {
            w.expired.insert(e, g);
        }
    }
    Some(w)
}

/// Whether the planner could have anything to do for a current identity that
/// drift reports: its grants differ from what it holds, or an account it needs
/// is missing or disabled.
fn differs(want: &DesiredIdentity, has: &ActualIdentity) -> bool {
    want.grants.len() != has.grants.len()
        || !want.grants.keys().eq(has.grants.iter())
        || want
            .accounts
            .iter()
            .any(|s| !has.accounts.get(s).is_some_and(|a| a.state.is_enabled()))
}

struct Detector<'a> {
    inputs: &'a DriftInputs<'a>,
    /// The planner, one identity at a time.
    planner: IdentityPlanner<'a>,
    /// The planner's operations (executed and report-only alike) for the identity
    /// being compared, by id: drift classifies the differences the planner acts on
    /// with the planner's own rules instead of repeating them.
    planned: HashMap<OperationId, Operation>,
    /// For the terminated identity being compared: the planner's leaver
    /// operations per system, as drift fixes (see [`Detector::leaver_fixes`]).
    leaver: BTreeMap<SystemName, Vec<Operation>>,
    findings: Vec<Finding>,
}

/// The identity a finding concerns, with what the operations need.
struct Who<'a> {
    id: &'a IdentityId,
    login: &'a str,
    holder: Holder,
    /// `id` is the `unmatched:` placeholder of an account that matches no identity.
    placeholder: bool,
}

impl Who<'_> {
    fn priority(&self) -> Priority {
        match self.holder {
            Holder::Terminated => Priority::Leaver,
            Holder::Current | Holder::Unknown => Priority::Normal,
        }
    }
}

impl<'a> Detector<'a> {
    fn config(&self, system: &SystemName) -> Option<&'a SystemConfig> {
        self.inputs.config.systems.get(system)
    }

    fn descriptor(&self, system: &SystemName) -> Option<&'a SystemDescriptor> {
        self.inputs.descriptors.get(system)
    }

    fn owner(&self, e: &Entitlement) -> Option<String> {
        self.config(&e.system)
            .and_then(|c| c.owner_of(&e.kind, &e.resource))
            .map(str::to_owned)
    }

    fn enforcement(&self, e: &Entitlement) -> Enforcement {
        self.config(&e.system)
            .map_or(Enforcement::Additive, |c| c.enforcement_for(&e.kind))
    }

    fn evidence(&self, system: &SystemName, observed: String, expected: String) -> Evidence {
        Evidence {
            system: system.clone(),
            read_at: self.inputs.read_at.get(system).copied(),
            observed,
            expected,
            policies: Vec::new(),
            owner: None,
            in_flight: None,
        }
    }

    /// Operations that fix the finding, unless one of them is in flight: then
    /// the finding is pending on that operation.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        class: DriftClass,
        severity: Severity,
        who: &Who<'_>,
        system: &SystemName,
        subject: Subject,
        mut evidence: Evidence,
        remediation: Vec<Operation>,
    ) {
        let in_flight = remediation
            .iter()
            .find(|op| self.inputs.in_flight.contains(&op.id))
            .map(|op| op.id.clone());
        let (class, severity, remediation) = match in_flight {
            Some(id) => {
                evidence.in_flight = Some(id);
                (DriftClass::Pending, Severity::Info, Vec::new())
            }
            None => (class, severity, remediation),
        };
        self.findings.push(Finding {
            class,
            severity,
            identity: (!who.placeholder).then(|| who.id.clone()),
            holder: who.holder,
            login: who.login.to_owned(),
            system: system.clone(),
            subject,
            evidence,
            remediation,
        });
    }

    fn identity(
        &mut self,
        id: &IdentityId,
        wanted: Option<&'a DesiredIdentity>,
        has: &ActualIdentity,
    ) {
        let now = self.inputs.now;
        let holder = match wanted {
            None => Holder::Unknown,
            Some(w) if w.identity.is_terminated_at(now) => Holder::Terminated,
            Some(_) => Holder::Current,
        };
        let login = match wanted {
            Some(w) => w.identity.login.as_str(),
            None => has
                .accounts
                .values()
                .next()
                .map_or(id.as_str(), |a| a.record.login.as_str()),
        };
        let who = Who {
            id,
            login,
            holder,
            placeholder: false,
        };
        self.planned.clear();
        if let Some(w) = wanted {
            let normalized = as_planner_builds(w, now);
            if holder == Holder::Terminated || normalized.is_some() || differs(w, has) {
                let planned = self
                    .planner
                    .plan(normalized.as_ref().unwrap_or(w), has, now);
                self.planned = planned
                    .plan
                    .operations
                    .into_iter()
                    .chain(planned.report_only)
                    .map(|op| (op.id.clone(), op))
                    .collect();
            }
        }
        self.leaver.clear();
        if let (Some(w), Holder::Terminated) = (wanted, holder) {
            self.leaver_fixes(w, has);
        }

        for (system, account) in &has.accounts {
            self.account(&who, system, account);
        }
        if let (Some(w), Holder::Current) = (wanted, holder) {
            // Both sorted by system: merge instead of looking each one up.
            let mut read = has.accounts.iter().peekable();
            for system in &w.accounts {
                while read.next_if(|(s, _)| *s < system).is_some() {}
                let account = read.next_if(|(s, _)| *s == system).map(|(_, a)| a);
                self.wanted_account(&who, w, system, account);
            }
        }
        self.grants(&who, wanted, has);
    }

    /// Fills [`Detector::leaver`] with what the planner plans for this terminated
    /// identity, system by system ([`leaver_ops_in_system`], the planner's own
    /// leaver rules: revoke grants where the account cannot be suspended, revoke
    /// sessions, suspend, delete where `delete_leavers`), each turned into a drift
    /// fix by [`drift_fix`]. Systems missing from the config or without a
    /// descriptor get nothing, as in the planner.
    fn leaver_fixes(&mut self, wanted: &DesiredIdentity, has: &ActualIdentity) {
        let mut systems: BTreeSet<&SystemName> = has.grants.iter().map(|e| &e.system).collect();
        systems.extend(has.accounts.keys());
        for system in systems {
            let (Some(config), Some(descriptor)) = (self.config(system), self.descriptor(system))
            else {
                continue;
            };
            // Every grant held: a terminated identity desires nothing (as
            // `planner::desired` builds it), so the planner takes all of them away.
            let grants = has.grants.iter().filter(|e| &e.system == system);
            let ops = leaver_ops_in_system(
                &wanted.identity,
                system,
                config,
                descriptor,
                grants,
                has.accounts.get(system),
            );
            // Only what the planner's plan for the same states holds (it leaves
            // a system alone where correlation was ambiguous, for one).
            self.leaver.insert(
                system.clone(),
                ops.into_iter()
                    .filter(|(_, op)| self.planned.contains_key(&op.id))
                    .map(|(_, op)| drift_fix(op))
                    .collect(),
            );
        }
    }

    /// The leaver fix that revokes `entitlement`, if the planner revokes it.
    fn leaver_revoke(&self, entitlement: &Entitlement) -> Option<Operation> {
        self.leaver.get(&entitlement.system)?.iter().find_map(|op| {
            matches!(&op.kind, OperationKind::Revoke { entitlement: e } if e == entitlement)
                .then(|| op.clone())
        })
    }
}

/// [`suspension_covers_grants`] where the system's descriptor is known.
fn suspension_covers_grants_of(
    descriptor: Option<&SystemDescriptor>,
    account: Option<&ActualAccount>,
) -> bool {
    descriptor.is_some_and(|d| suspension_covers_grants(d, account))
}

/// The prefix of the placeholder identity id in the operations proposed for an
/// account that matches no identity (`unmatched:<external id>`).
pub const UNMATCHED: &str = "unmatched:";

fn quoted(policies: &[String]) -> String {
    match policies {
        [] => "policy".to_owned(),
        [one] => format!("policy '{one}'"),
        many => {
            let names: Vec<String> = many.iter().map(|p| format!("'{p}'")).collect();
            format!("policies {}", names.join(", "))
        }
    }
}

fn describe_account(record: &AccountRecord) -> String {
    let mut text = format!(
        "account {} state={}",
        record.external_id,
        account_state_name(record.state)
    );
    match record.last_login {
        Some(at) => text.push_str(&format!(", last login {}", at.to_rfc3339())),
        None => text.push_str(", never signed in"),
    }
    text
}

/// A planner operation as a drift fix: the same id, kind, identity and priority;
/// the reason kind becomes `DriftRemediation` (how the audit log tells drift fixes
/// apart) and the planner's sentence is kept after "drift remediation: ".
fn drift_fix(op: Operation) -> Operation {
    let Reason {
        policies,
        event,
        detail,
        valid_until,
        ..
    } = op.reason;
    Operation {
        reason: Reason {
            kind: ReasonKind::DriftRemediation,
            policies,
            event,
            detail: format!("drift remediation: {detail}"),
            valid_until,
        },
        ..op
    }
}

fn operation(
    who: &Who<'_>,
    system: &SystemName,
    kind: OperationKind,
    detail: &str,
    policies: Vec<String>,
) -> Operation {
    Operation {
        id: Operation::make_id(who.id, system, &kind),
        identity: who.id.clone(),
        login: who.login.to_owned(),
        system: system.clone(),
        kind,
        reason: Reason {
            kind: ReasonKind::DriftRemediation,
            policies,
            event: None,
            detail: detail.to_owned(),
            valid_until: None,
        },
        priority: who.priority(),
    }
}
