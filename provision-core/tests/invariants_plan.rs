//! Property tests of the planner and orderer invariants (DESIGN.md 1, 2, 3, 5, 6)
//! over random identities, policies, actual states and configurations.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use petgraph::graph::DiGraph;
use proptest::prelude::*;
use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
use provision_core::config::{
    CrossSystemDependency, DependencyTarget, DeploymentConfig, Enforcement, ExternalOwnership,
    SystemConfig,
};
use provision_core::model::*;
use provision_core::orderer;
use provision_core::planner::{Descriptors, Planned, apply, desired, plan_with_report};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// Four systems with different capabilities:
/// * `idp`: accounts, suspend, sessions, delete; kind `group`;
/// * `chat`: accounts, sessions, no suspend; kind `channel`;
/// * `lists`: no accounts; kind `group`;
/// * `code`: accounts on first login, suspend; kind `group` with roles.
fn descriptors() -> Descriptors {
    let mut idp = SystemDescriptor::new("idp");
    idp.kinds = vec![ResourceKindDescriptor::new("group", &["add_to_group"])];
    idp.has_accounts = true;
    idp.can_suspend = true;
    idp.can_revoke_sessions = true;
    idp.can_delete = true;
    let mut chat = SystemDescriptor::new("chat");
    chat.kinds = vec![ResourceKindDescriptor::new("channel", &["invite"])];
    chat.has_accounts = true;
    chat.can_revoke_sessions = true;
    let mut lists = SystemDescriptor::new("lists");
    lists.kinds = vec![ResourceKindDescriptor::new("group", &["add_to_group"])];
    let mut code = SystemDescriptor::new("code");
    code.kinds = vec![
        ResourceKindDescriptor::new("group", &["add_to_group"])
            .with_roles(&["reporter", "developer"], Some("developer")),
    ];
    code.has_accounts = true;
    code.accounts_created_on_first_login = true;
    code.can_suspend = true;
    BTreeMap::from([
        ("idp".into(), idp),
        ("chat".into(), chat),
        ("lists".into(), lists),
        ("code".into(), code),
    ])
}

const SYSTEMS: [(&str, &str); 4] = [
    ("idp", "group"),
    ("chat", "channel"),
    ("lists", "group"),
    ("code", "group"),
];

/// Resources per system: three that policies may mention, one no policy mentions
/// (manual grants land there) and one owned by an external engine when the
/// case's configuration says so.
fn resources(system: &str) -> Vec<String> {
    vec![
        format!("{system}-a"),
        format!("{system}-b"),
        format!("{system}-c"),
        format!("{system}-manual"),
        format!("ext-{system}"),
    ]
}

fn entitlement(system: &str, resource: &str, role: Option<&str>) -> Entitlement {
    let kind = SYSTEMS
        .iter()
        .find(|(s, _)| *s == system)
        .map_or("group", |(_, k)| *k);
    let e = Entitlement::new(system, kind, resource);
    match (system, role) {
        ("code", Some(r)) => e.with_role(r),
        ("code", None) => e.with_role("developer"),
        _ => e,
    }
}

#[derive(Debug, Clone)]
struct SystemCase {
    enforcement: Enforcement,
    kind_override: Option<Enforcement>,
    external_owner: bool,
    delete_leavers: bool,
}

fn enforcement() -> impl Strategy<Value = Enforcement> {
    prop_oneof![
        Just(Enforcement::Additive),
        Just(Enforcement::Authoritative),
        Just(Enforcement::Report)
    ]
}

fn system_case() -> impl Strategy<Value = SystemCase> {
    (
        enforcement(),
        prop::option::weighted(0.3, enforcement()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(enforcement, kind_override, external_owner, delete_leavers)| SystemCase {
                enforcement,
                kind_override,
                external_owner,
                delete_leavers,
            },
        )
}

fn config_from(cases: &[SystemCase]) -> DeploymentConfig {
    let mut c = DeploymentConfig::default();
    for ((name, kind), case) in SYSTEMS.iter().zip(cases) {
        let mut s = SystemConfig::new(*name);
        s.enforcement = case.enforcement;
        if let Some(e) = case.kind_override {
            s.kind_enforcement.insert((*kind).to_owned(), e);
        }
        if case.external_owner {
            s.external_owners.push(ExternalOwnership {
                engine: "iga".into(),
                kind: Some((*kind).to_owned()),
                resource_prefix: Some("ext-".into()),
            });
        }
        s.delete_leavers = case.delete_leavers;
        c.systems.insert((*name).into(), s);
    }
    for s in ["chat", "code"] {
        c.dependencies.push(CrossSystemDependency {
            system: s.into(),
            kind: None,
            depends_on: "idp".into(),
            on: DependencyTarget::Account,
        });
    }
    c.dependencies.push(CrossSystemDependency {
        system: "lists".into(),
        kind: Some("group".into()),
        depends_on: "idp".into(),
        on: DependencyTarget::Grants,
    });
    c
}

const DEPARTMENTS: [&str; 3] = ["Sales", "Engineering", "Support"];

fn selector() -> impl Strategy<Value = Selector> {
    let leaf = prop_oneof![
        Just(Selector::Everyone),
        (0..3usize).prop_map(|d| Selector::equals("department", DEPARTMENTS[d])),
        (0..3usize)
            .prop_map(|d| Selector::Not(Box::new(Selector::equals("department", DEPARTMENTS[d])))),
        any::<bool>().prop_map(|present| Selector::Present {
            attribute: "manager".into(),
            present
        }),
    ];
    prop_oneof![
        3 => leaf.clone(),
        1 => prop::collection::vec(leaf, 1..3).prop_map(Selector::All),
    ]
}

/// A policy grant: (system index, resource index 0..3, validity kind 0 always / 1 expired / 2 future).
type GrantCase = (usize, usize, u8);

fn policy_grant() -> impl Strategy<Value = GrantCase> {
    (
        0..4usize,
        0..3usize,
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
    )
}

#[derive(Debug, Clone)]
struct IdentityCase {
    department: usize,
    has_manager: bool,
    /// 0 active, 1 terminated (in effect), 2 termination dated in the future, 3 on leave.
    status: u8,
    /// Per system with accounts: 0 none, 1 active, 2 suspended, 3 deprovisioned, 4 staged.
    accounts: [u8; 4],
    /// Held grants: (system, resource index 0..5, reporter role?).
    grants: Vec<(usize, usize, bool)>,
}

fn identity_case() -> impl Strategy<Value = IdentityCase> {
    (
        0..3usize,
        any::<bool>(),
        prop_oneof![5 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        [0..5u8, 0..5u8, 0..5u8, 0..5u8],
        prop::collection::vec((0..4usize, 0..5usize, any::<bool>()), 0..8),
    )
        .prop_map(
            |(department, has_manager, status, accounts, grants)| IdentityCase {
                department,
                has_manager,
                status,
                accounts,
                grants,
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    systems: Vec<SystemCase>,
    /// One role per `code` resource, so that policies never conflict on roles.
    code_roles: [bool; 3],
    policies: Vec<(Selector, Vec<GrantCase>)>,
    identities: Vec<IdentityCase>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(system_case(), 4),
        [any::<bool>(), any::<bool>(), any::<bool>()],
        prop::collection::vec(
            (selector(), prop::collection::vec(policy_grant(), 1..5)),
            0..5,
        ),
        prop::collection::vec(identity_case(), 1..7),
    )
        .prop_map(|(systems, code_roles, policies, identities)| Case {
            systems,
            code_roles,
            policies,
            identities,
        })
}

struct World {
    config: DeploymentConfig,
    descriptors: Descriptors,
    policies: PolicySet,
    identities: Vec<Identity>,
    actual: ActualState,
}

fn role(flag: bool) -> &'static str {
    if flag { "reporter" } else { "developer" }
}

fn build(case: &Case) -> World {
    let config = config_from(&case.systems);
    let descriptors = descriptors();
    let policies = PolicySet {
        policies: case
            .policies
            .iter()
            .enumerate()
            .map(|(i, (selector, grants))| Policy {
                name: format!("policy-{i}"),
                selector: selector.clone(),
                grants: grants
                    .iter()
                    .map(|&(s, r, v)| {
                        let system = SYSTEMS[s].0;
                        let resource = &resources(system)[r];
                        let validity = match v {
                            1 => Validity {
                                start: None,
                                end: Some(now() - chrono::Duration::days(3)),
                            },
                            2 => Validity {
                                start: Some(now() + chrono::Duration::days(3)),
                                end: None,
                            },
                            _ => Validity::ALWAYS,
                        };
                        PolicyGrant {
                            entitlement: entitlement(
                                system,
                                resource,
                                Some(role(case.code_roles[r])),
                            ),
                            validity,
                            source: None,
                        }
                    })
                    .collect(),
                source: None,
            })
            .collect(),
    };
    let mut identities = Vec::new();
    let mut actual = ActualState::default();
    for (n, ic) in case.identities.iter().enumerate() {
        let mut identity = Identity::new(
            format!("e{n}"),
            format!("user{n}@company.com"),
            format!("User {n}"),
        )
        .with_attribute("department", DEPARTMENTS[ic.department]);
        if ic.has_manager {
            identity = identity.with_attribute("manager", "e0");
        }
        identity.status = match ic.status {
            1 => EmploymentStatus::Terminated {
                effective: now() - chrono::Duration::hours(1),
            },
            2 => EmploymentStatus::Terminated {
                effective: now() + chrono::Duration::days(10),
            },
            3 => EmploymentStatus::OnLeave,
            _ => EmploymentStatus::Active,
        };
        let mut have = ActualIdentity::default();
        for (s, state) in ic.accounts.iter().enumerate() {
            let system = SYSTEMS[s].0;
            if !descriptors[&SystemName::new(system)].has_accounts {
                continue;
            }
            let state = match state {
                1 => AccountState::Active,
                2 => AccountState::Suspended,
                3 => AccountState::Deprovisioned,
                4 => AccountState::Staged,
                _ => continue,
            };
            let record = AccountRecord {
                external_id: format!("{system}-{n}"),
                login: identity.login.clone(),
                state,
                last_login: None,
                attributes: BTreeMap::new(),
                correlation: Default::default(),
            };
            have.accounts.insert(
                system.into(),
                ActualAccount {
                    external_id: record.external_id.clone(),
                    state,
                    record,
                },
            );
        }
        for &(s, r, reporter) in &ic.grants {
            let system = SYSTEMS[s].0;
            let e = entitlement(system, &resources(system)[r], Some(role(reporter)));
            // At most one role per resource, as systems report it.
            if !have
                .grants
                .iter()
                .any(|g| g.resource_ref() == e.resource_ref())
            {
                have.grants.insert(e);
            }
        }
        actual.identities.insert(identity.id.clone(), have);
        identities.push(identity);
    }
    World {
        config,
        descriptors,
        policies,
        identities,
        actual,
    }
}

fn owned(config: &DeploymentConfig, e: &Entitlement) -> bool {
    config.systems[&e.system]
        .owner_of(&e.kind, &e.resource)
        .is_some()
}

fn grant_enforcement(config: &DeploymentConfig, e: &Entitlement) -> Enforcement {
    config.systems[&e.system].enforcement_for(&e.kind)
}

fn account_enforcement(config: &DeploymentConfig, system: &SystemName) -> Enforcement {
    config.systems[system].enforcement
}

fn run(w: &World) -> (DesiredState, Planned) {
    let d = desired(&w.identities, &w.policies, &w.config, &w.descriptors, now());
    let planned = plan_with_report(&d, &w.actual, &w.config, &w.descriptors, now());
    (d, planned)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Invariant 1: applying the plan gives the desired state on every owned,
    /// enforced target; leavers end with no usable access.
    #[test]
    fn convergence(case in case()) {
        let w = build(&case);
        let (d, planned) = run(&w);
        let after = apply(&planned.plan, &w.actual);
        for (id, want) in &d.identities {
            let have = &after.identities[id];
            let before = &w.actual.identities[id];
            if want.identity.is_terminated_at(now()) {
                for (system, account) in &have.accounts {
                    if account_enforcement(&w.config, system) == Enforcement::Report {
                        continue;
                    }
                    let desc = &w.descriptors[system];
                    if w.config.systems[system].delete_leavers && desc.can_delete {
                        prop_assert!(false, "{id}: {system} account should be deleted");
                    }
                    if desc.can_suspend {
                        prop_assert!(!account.state.is_enabled(), "{id}: {system} account still enabled");
                    }
                }
                for e in &have.grants {
                    let desc = &w.descriptors[&e.system];
                    let kept_by_suspension = desc.can_suspend && before.accounts.contains_key(&e.system);
                    prop_assert!(
                        kept_by_suspension || owned(&w.config, e)
                            || grant_enforcement(&w.config, e) == Enforcement::Report,
                        "{id}: leaver keeps {e}"
                    );
                }
                continue;
            }
            for e in want.grants.keys() {
                if !owned(&w.config, e) && grant_enforcement(&w.config, e) != Enforcement::Report {
                    prop_assert!(have.grants.contains(e), "{id}: missing {e}");
                }
            }
            for e in &have.grants {
                if want.grants.contains_key(e) || owned(&w.config, e)
                    || grant_enforcement(&w.config, e) == Enforcement::Report {
                    continue;
                }
                // Only a manual grant, on a resource no policy mentions, under additive.
                prop_assert!(!d.managed_resources.contains(&e.resource_ref()), "{id}: keeps {e} no policy gives");
                prop_assert!(!want.expired.contains_key(e), "{id}: keeps expired {e}");
                prop_assert_eq!(grant_enforcement(&w.config, e), Enforcement::Additive);
            }
            for system in &want.accounts {
                if account_enforcement(&w.config, system) != Enforcement::Report {
                    let account = have.accounts.get(system);
                    prop_assert!(account.is_some_and(|a| a.state.is_enabled()), "{id}: no usable {system} account");
                }
            }
        }
    }

    /// Invariant 2: planning again over the applied state gives an empty plan.
    #[test]
    fn idempotence(case in case()) {
        let w = build(&case);
        let (d, planned) = run(&w);
        let after = apply(&planned.plan, &w.actual);
        let again = plan_with_report(&d, &after, &w.config, &w.descriptors, now());
        prop_assert!(again.plan.is_empty(), "second plan: {:?}", again.plan.operations);
    }

    /// Invariants 3 and 5: the order respects every edge (cross-checked with
    /// petgraph), is deterministic, and puts leaver work before anything else.
    #[test]
    fn order(case in case()) {
        let w = build(&case);
        let (_, planned) = run(&w);
        let expected_edges = orderer::dependencies(&planned.plan, &w.config);
        let ordered = orderer::order(planned.plan.clone(), &w.config).unwrap();
        prop_assert_eq!(&ordered.dependencies, &expected_edges);
        prop_assert_eq!(ordered.operations.len(), planned.plan.operations.len());

        let pos: BTreeMap<&OperationId, usize> =
            ordered.operations.iter().enumerate().map(|(i, o)| (&o.id, i)).collect();
        prop_assert_eq!(pos.len(), ordered.operations.len(), "duplicate operation ids");
        for dep in &ordered.dependencies {
            prop_assert!(pos[&dep.before] < pos[&dep.after], "{} after {}", dep.before, dep.after);
        }
        // petgraph agrees that the edges form a DAG.
        let mut g = DiGraph::<&OperationId, ()>::new();
        let nodes: BTreeMap<&OperationId, _> =
            ordered.operations.iter().map(|o| (&o.id, g.add_node(&o.id))).collect();
        for dep in &ordered.dependencies {
            g.add_edge(nodes[&dep.before], nodes[&dep.after], ());
        }
        prop_assert!(petgraph::algo::toposort(&g, None).is_ok());
        // Every grant waits for its own account's create/reactivate.
        for op in &ordered.operations {
            if let OperationKind::Grant { .. } = op.kind {
                for up in ["create_account", "reactivate_account"] {
                    let id = OperationId(format!("{}/{}/{up}", op.identity, op.system));
                    if pos.contains_key(&id) {
                        prop_assert!(pos[&id] < pos[&op.id]);
                        prop_assert!(petgraph::algo::has_path_connecting(&g, nodes[&id], nodes[&op.id], None));
                    }
                }
            }
        }
        // Leaver work first; within it, sessions then suspensions.
        let first_normal = ordered.operations.iter().position(|o| o.priority == Priority::Normal)
            .unwrap_or(ordered.operations.len());
        prop_assert!(ordered.operations[first_normal..].iter().all(|o| o.priority == Priority::Normal));
        let classes: Vec<u8> = ordered.operations[..first_normal].iter().map(|o| match o.kind {
            OperationKind::RevokeSessions => 0,
            OperationKind::SuspendAccount => 1,
            _ => 2,
        }).collect();
        prop_assert!(classes.windows(2).all(|w| w[0] <= w[1]), "leaver classes out of order: {classes:?}");
        // Deterministic whatever the input order.
        let mut shuffled = planned.plan.clone();
        shuffled.operations.reverse();
        prop_assert_eq!(orderer::order(shuffled, &w.config).unwrap(), ordered);
    }

    /// Invariant 6: nothing owned by an external engine is touched; nothing manual
    /// is revoked from an active identity under additive; nothing at all changes
    /// under report.
    #[test]
    fn ownership_and_enforcement(case in case()) {
        let w = build(&case);
        let (d, planned) = run(&w);
        for op in planned.plan.operations.iter().chain(&planned.report_only) {
            if let Some(e) = op.kind.entitlement() {
                prop_assert!(!owned(&w.config, e), "touches externally owned {e}");
            }
        }
        for op in &planned.plan.operations {
            let enforcement = match op.kind.entitlement() {
                Some(e) => grant_enforcement(&w.config, e),
                None => account_enforcement(&w.config, &op.system),
            };
            prop_assert_ne!(enforcement, Enforcement::Report, "{} planned under report", op.id);
            let identity = &d.identities[&op.identity].identity;
            prop_assert_eq!(op.priority == Priority::Leaver, identity.is_terminated_at(now()));
            prop_assert_eq!(&op.id, &Operation::make_id(&op.identity, &op.system, &op.kind));
            prop_assert!(!op.reason.detail.is_empty());
            if let OperationKind::Revoke { entitlement: e } = &op.kind {
                let manual = !d.managed_resources.contains(&e.resource_ref())
                    && !d.identities[&op.identity].expired.contains_key(e);
                if manual && enforcement == Enforcement::Additive && !identity.is_terminated_at(now()) {
                    prop_assert!(false, "manual {e} revoked under additive from an active identity");
                }
            }
        }
        for op in &planned.report_only {
            let enforcement = match op.kind.entitlement() {
                Some(e) => grant_enforcement(&w.config, e),
                None => account_enforcement(&w.config, &op.system),
            };
            prop_assert_eq!(enforcement, Enforcement::Report);
        }
        // All in report: the plan is empty.
        let mut all_report = w.config.clone();
        for s in all_report.systems.values_mut() {
            s.enforcement = Enforcement::Report;
            s.kind_enforcement.clear();
        }
        let quiet = plan_with_report(&d, &w.actual, &all_report, &w.descriptors, now());
        prop_assert!(quiet.plan.is_empty());
    }
}
