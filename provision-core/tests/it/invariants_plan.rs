//! Property tests of the planner and orderer invariants (DESIGN.md 1, 2, 3, 5, 6)
//! over random identities, policies, actual states and configurations, with the
//! adapter contract's capabilities: several roles on one resource, ordered roles
//! on nested resources, one per account with the grant required at create, a
//! suspension that does not keep grants, profile sync, and ambiguous correlation.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use petgraph::graph::DiGraph;
use proptest::prelude::*;
use provision_core::adapter::{ResourceKindDescriptor, RoleModel, SystemDescriptor};
use provision_core::config::{
    CrossSystemDependency, DependencyTarget, DeploymentConfig, Enforcement, ExternalOwnership,
    SystemConfig,
};
use provision_core::model::*;
use provision_core::orderer;
use provision_core::planner::{Descriptors, Planned, apply_with, desired, plan_with_report};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// Six systems with different capabilities:
/// * `idp`: accounts, suspend, sessions, delete; kind `group`; keeps `title`;
/// * `chat`: accounts, sessions, no suspend; kind `channel`;
/// * `lists`: no accounts; kind `group`, which needs a `seat` (`lists-a`) first;
/// * `code`: accounts on first login, suspend; kind `group` with ordered roles on
///   nested resources (`code-a` > `code-a/b` > `code-a/b/c`);
/// * `roles`: accounts; kind `project_role` where a person holds several roles;
/// * `dir`: accounts, a suspension that does not keep grants; kind `org_unit`, one
///   per account and required at create.
fn descriptors() -> Descriptors {
    let mut idp = SystemDescriptor::new("idp").with_profile_fields(&["title"]);
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
    lists.kinds = vec![
        ResourceKindDescriptor::new("group", &["add_to_group"]).with_prerequisites(&["seat"]),
        ResourceKindDescriptor::new("seat", &["assign_seat"]),
    ];
    let mut code = SystemDescriptor::new("code");
    code.kinds = vec![
        ResourceKindDescriptor::new("group", &["add_to_group"])
            .with_roles(&["reporter", "developer"], Some("developer"))
            .with_role_model(RoleModel::Ordered)
            .nested()
            .enumerable(),
    ];
    code.has_accounts = true;
    code.accounts_created_on_first_login = true;
    code.can_suspend = true;
    let roles = SystemDescriptor::new("roles").with_accounts().with_kind(
        ResourceKindDescriptor::new("project_role", &["assign_project_role"])
            .with_roles(&["x", "y"], None)
            .with_role_model(RoleModel::Multiple)
            .enumerable(),
    );
    let dir = SystemDescriptor::new("dir")
        .with_accounts()
        .can_suspend(false)
        .with_kind(
            ResourceKindDescriptor::new("org_unit", &["move_to_org_unit"])
                .one_per_account()
                .required_at_create()
                .enumerable(),
        );
    BTreeMap::from([
        ("idp".into(), idp),
        ("chat".into(), chat),
        ("lists".into(), lists),
        ("code".into(), code),
        ("roles".into(), roles),
        ("dir".into(), dir),
    ])
}

const N: usize = 6;
const SYSTEMS: [(&str, &str); N] = [
    ("idp", "group"),
    ("chat", "channel"),
    ("lists", "group"),
    ("code", "group"),
    ("roles", "project_role"),
    ("dir", "org_unit"),
];
const DIR: usize = 5;

/// Resources per system: three that policies may mention, one no policy mentions
/// (manual grants land there) and one owned by an external engine when the
/// case's configuration says so.
fn resources(system: &str) -> Vec<String> {
    if system == "code" {
        // Nested: each is the one before's subgroup.
        return vec![
            "code-a".into(),
            "code-a/b".into(),
            "code-a/b/c".into(),
            "code-manual".into(),
            "ext-code".into(),
        ];
    }
    vec![
        format!("{system}-a"),
        format!("{system}-b"),
        format!("{system}-c"),
        format!("{system}-manual"),
        format!("ext-{system}"),
    ]
}

fn entitlement(system: &str, resource: &str, role: Option<&str>) -> Entitlement {
    let kind = if resource == "lists-a" {
        "seat"
    } else {
        SYSTEMS
            .iter()
            .find(|(s, _)| *s == system)
            .map_or("group", |(_, k)| *k)
    };
    let e = Entitlement::new(system, kind, resource);
    match (system, role) {
        ("code", Some(r)) => e.with_role(r),
        ("code", None) => e.with_role("developer"),
        ("roles", Some("reporter")) => e.with_role("x"),
        ("roles", _) => e.with_role("y"),
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

/// A policy grant: (system index, resource index 0..3, validity kind 0 always / 1
/// expired / 2 future, role flag for `roles`).
type GrantCase = (usize, usize, u8, bool);

fn policy_grant() -> impl Strategy<Value = GrantCase> {
    (
        0..N,
        0..3usize,
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        any::<bool>(),
    )
}

#[derive(Debug, Clone)]
struct IdentityCase {
    department: usize,
    has_manager: bool,
    /// 0 active, 1 terminated (in effect), 2 termination dated in the future, 3 on leave.
    status: u8,
    /// Per system with accounts: 0 none, 1 active, 2 suspended, 3 deprovisioned, 4 staged.
    accounts: [u8; N],
    /// Held grants: (system, resource index 0..5, reporter role?).
    grants: Vec<(usize, usize, bool)>,
    /// HR title and the title the idp account holds (0: none).
    title: (u8, u8),
    /// A system where correlation was ambiguous for this identity.
    ambiguous: Option<usize>,
}

fn identity_case() -> impl Strategy<Value = IdentityCase> {
    (
        0..3usize,
        any::<bool>(),
        prop_oneof![5 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        [0..5u8, 0..5u8, 0..5u8, 0..5u8, 0..5u8, 0..5u8],
        prop::collection::vec((0..N, 0..5usize, any::<bool>()), 0..10),
        (0..3u8, 0..3u8),
        prop::option::weighted(0.1, 0..N),
    )
        .prop_map(
            |(department, has_manager, status, accounts, grants, title, ambiguous)| IdentityCase {
                department,
                has_manager,
                status,
                accounts,
                grants,
                title,
                ambiguous,
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
        prop::collection::vec(system_case(), N),
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
    let mut policies = PolicySet {
        policies: case
            .policies
            .iter()
            .enumerate()
            .map(|(i, (selector, grants))| Policy {
                name: format!("policy-{i}"),
                selector: selector.clone(),
                grants: grants
                    .iter()
                    // One org unit per department (below): a person's policies
                    // never give two.
                    .filter(|&&(s, _, _, _)| s != DIR)
                    .map(|&(s, r, v, flag)| {
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
                        let role_flag = if system == "roles" {
                            flag
                        } else {
                            case.code_roles[r]
                        };
                        PolicyGrant {
                            entitlement: entitlement(system, resource, Some(role(role_flag))),
                            validity,
                            source: None,
                        }
                    })
                    .collect(),
                source: None,
            })
            .collect(),
    };
    for (d, department) in DEPARTMENTS.iter().enumerate() {
        policies.policies.push(Policy {
            name: format!("org-unit-{department}"),
            selector: Selector::equals("department", *department),
            grants: vec![PolicyGrant {
                entitlement: entitlement("dir", &resources("dir")[d], None),
                validity: Validity::ALWAYS,
                source: None,
            }],
            source: None,
        });
    }
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
        if ic.title.0 > 0 {
            identity = identity.with_attribute("title", format!("title-{}", ic.title.0));
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
            let mut record =
                AccountRecord::new(format!("{system}-{n}"), identity.login.clone(), state);
            if system == "idp" && ic.title.1 > 0 {
                record
                    .attributes
                    .insert("title".into(), format!("title-{}", ic.title.1));
            }
            record.attributes.insert("nickname".into(), "kept".into());
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
            // At most one role per resource (several where the kind allows), at most
            // one org unit, as systems report them.
            let clash = have.grants.iter().any(|g| {
                (system != "roles" && g.resource_ref() == e.resource_ref())
                    || (system == "dir" && g.system == e.system)
            });
            if !clash {
                have.grants.insert(e);
            }
        }
        if let Some(s) = ic.ambiguous {
            // As correlation leaves it: nothing attached in that system.
            let system = SystemName::new(SYSTEMS[s].0);
            have.accounts.remove(&system);
            have.grants.retain(|e| e.system != system);
            have.ambiguous.insert(system);
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

fn ambiguous(w: &World, id: &IdentityId, system: &SystemName) -> bool {
    w.actual.identities[id].ambiguous.contains(system)
}

/// Whether a grant `have` holds on an ancestor of `e`'s resource gives at least
/// `e`'s role (nested kinds).
fn covered(w: &World, have: &ActualIdentity, e: &Entitlement) -> bool {
    let Some(kind) = w.descriptors[&e.system].kind(&e.kind).filter(|k| k.nested) else {
        return false;
    };
    let rank = |g: &Entitlement| g.role.as_deref().and_then(|r| kind.role_rank(r));
    let mut at = e.resource.as_str();
    while let Some((parent, _)) = at.rsplit_once('/') {
        if have.grants.iter().any(|g| {
            g.system == e.system && g.kind == e.kind && g.resource == parent && rank(g) >= rank(e)
        }) {
            return true;
        }
        at = parent;
    }
    false
}

fn apply(plan: &Plan, w: &World) -> ActualState {
    apply_with(plan, &w.actual, &w.descriptors)
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
        let after = apply(&planned.plan, &w);
        for (id, want) in &d.identities {
            let have = &after.identities[id];
            let before = &w.actual.identities[id];
            prop_assert_eq!(&have.ambiguous, &before.ambiguous);
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
                    let kept_by_suspension = desc.can_suspend
                        && desc.suspension_keeps_grants
                        && before.accounts.contains_key(&e.system);
                    prop_assert!(
                        kept_by_suspension || owned(&w.config, e)
                            || grant_enforcement(&w.config, e) == Enforcement::Report,
                        "{id}: leaver keeps {e}"
                    );
                }
                continue;
            }
            for e in want.grants.keys() {
                if !owned(&w.config, e) && grant_enforcement(&w.config, e) != Enforcement::Report
                    && !ambiguous(&w, id, &e.system) {
                    prop_assert!(
                        have.grants.contains(e) || covered(&w, have, e),
                        "{id}: missing {e}"
                    );
                }
            }
            // One per account: never two org units.
            prop_assert!(have.grants.iter().filter(|e| e.system.as_str() == "dir").count() <= 1);
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
                if account_enforcement(&w.config, system) != Enforcement::Report
                    && !ambiguous(&w, id, system) {
                    let account = have.accounts.get(system);
                    prop_assert!(account.is_some_and(|a| a.state.is_enabled()), "{id}: no usable {system} account");
                    // Profile sync: HR's title, and a field the SDK does not manage kept.
                    let account = &account.unwrap().record;
                    if let (Some(title), true) = (want.identity.attributes.get("title"), system.as_str() == "idp") {
                        prop_assert_eq!(account.attributes.get("title"), Some(title));
                    }
                    if before.accounts.contains_key(system) {
                        prop_assert_eq!(account.attributes.get("nickname").map(String::as_str), Some("kept"));
                    }
                }
            }
        }
    }

    /// Invariant 2: planning again over the applied state gives an empty plan.
    #[test]
    fn idempotence(case in case()) {
        let w = build(&case);
        let (d, planned) = run(&w);
        let after = apply(&planned.plan, &w);
        let again = plan_with_report(&d, &after, &w.config, &w.descriptors, now());
        prop_assert!(again.plan.is_empty(), "second plan: {:?}", again.plan.operations);
    }

    /// Invariants 3 and 5: the order respects every edge (cross-checked with
    /// petgraph), is deterministic, and puts leaver work before anything else.
    #[test]
    fn order(case in case()) {
        let w = build(&case);
        let (_, planned) = run(&w);
        let expected_edges = orderer::dependencies_with(&planned.plan, &w.config, &w.descriptors);
        let ordered = orderer::order_with(planned.plan.clone(), &w.config, &w.descriptors).unwrap();
        prop_assert_eq!(&ordered.dependencies, &expected_edges);
        // The edges are exactly those the ordering rules (DESIGN.md, stated again below
        // as a predicate on pairs, not by the orderer's code) call for.
        let ruled: BTreeSet<(OperationId, OperationId)> = ordered.operations.iter()
            .flat_map(|a| ordered.operations.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.id != b.id && must_precede(a, b, &w.config, &w.descriptors))
            .map(|(a, b)| (a.id.clone(), b.id.clone()))
            .collect();
        let edges: BTreeSet<(OperationId, OperationId)> = ordered.dependencies.iter()
            .map(|d| (d.before.clone(), d.after.clone())).collect();
        let missing: Vec<_> = ruled.difference(&edges).collect();
        let extra: Vec<_> = edges.difference(&ruled).collect();
        prop_assert!(missing.is_empty(), "edges the rules call for and the orderer lacks: {missing:?}");
        prop_assert!(extra.is_empty(), "edges the orderer added that no rule calls for: {extra:?}");
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
        // Prerequisites inside a system: a person's seat before their groups.
        for seat in ordered.operations.iter().filter(|o| matches!(&o.kind, OperationKind::Grant { entitlement } if entitlement.kind == "seat")) {
            for group in ordered.operations.iter().filter(|o| o.identity == seat.identity && matches!(&o.kind, OperationKind::Grant { entitlement } if entitlement.system.as_str() == "lists" && entitlement.kind == "group")) {
                prop_assert!(pos[&seat.id] < pos[&group.id], "{} before {}", seat.id, group.id);
                prop_assert!(ordered.dependencies.iter().any(|d| d.before == seat.id && d.after == group.id));
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
        prop_assert_eq!(orderer::order_with(shuffled, &w.config, &w.descriptors).unwrap(), ordered);
    }

    /// The capabilities' shapes: several roles are independent grants (no role
    /// change between them); an ordered role change and a one-per-account change are
    /// ONE grant (reason `Replacement`) and never a revoke of what they replace; a
    /// nested grant is never planned where an ancestor grant the person keeps gives
    /// as much; the grant required at create travels in the create, never twice.
    #[test]
    fn capability_shapes(case in case()) {
        let w = build(&case);
        let (d, planned) = run(&w);
        let ops: Vec<&Operation> = planned.plan.operations.iter().chain(&planned.report_only).collect();
        for op in &ops {
            let have = &w.actual.identities[&op.identity];
            match &op.kind {
                OperationKind::Revoke { entitlement: e } if e.system.as_str() == "roles" => {
                    prop_assert!(!op.reason.detail.contains("changes from"), "{}: {}", op.id, op.reason.detail);
                }
                OperationKind::Revoke { entitlement: e } if e.system.as_str() == "code" || e.system.as_str() == "dir" => {
                    // Never alongside a grant on the same resource (code) or kind (dir).
                    let replaced_by = ops.iter().find(|o| o.identity == op.identity && matches!(
                        &o.kind,
                        OperationKind::Grant { entitlement: g } if g.system == e.system
                            && (e.system.as_str() == "dir" || g.resource == e.resource)
                    ));
                    prop_assert!(replaced_by.is_none(), "{} and {}", op.id, replaced_by.unwrap().id);
                }
                OperationKind::Grant { entitlement: e } => {
                    let replaces = if e.system.as_str() == "code" {
                        have.grants.iter().any(|g| g.system == e.system && g.resource == e.resource)
                    } else if e.system.as_str() == "dir" {
                        have.grants.iter().any(|g| g.system == e.system)
                    } else {
                        false
                    };
                    let owned_old = have.grants.iter().any(|g| g.system == e.system && owned(&w.config, g)
                        && (e.system.as_str() == "dir" || g.resource == e.resource));
                    if replaces && !owned_old {
                        prop_assert_eq!(op.reason.kind, ReasonKind::Replacement, "{}", op.id);
                    }
                    if e.system.as_str() == "dir" {
                        prop_assert!(
                            have.accounts.contains_key(&e.system)
                                || account_enforcement(&w.config, &e.system) == Enforcement::Report
                                || grant_enforcement(&w.config, e) == Enforcement::Report
                                || owned(&w.config, e),
                            "{} granted apart from the create", op.id
                        );
                    }
                    if e.system.as_str() == "code" && !w.actual.identities[&op.identity].ambiguous.contains(&e.system) {
                        let want = &d.identities[&op.identity];
                        let mut keeps = have.clone();
                        keeps.grants = want.grants.keys().cloned().collect();
                        prop_assert!(!covered(&w, &keeps, e), "{} covered by an ancestor", op.id);
                    }
                }
                OperationKind::CreateAccount { profile } => {
                    for g in &profile.required_grants {
                        prop_assert_eq!(g.system.as_str(), "dir");
                        let twice = Operation::make_id(&op.identity, &op.system, &OperationKind::Grant { entitlement: g.clone() });
                        prop_assert!(ops.iter().all(|o| o.id != twice), "{} granted twice", twice);
                    }
                }
                _ => {}
            }
        }
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
            prop_assert!(!ambiguous(&w, &op.identity, &op.system), "{} where correlation was ambiguous", op.id);
            if let OperationKind::UpdateAccount { attributes } = &op.kind {
                prop_assert_eq!(op.reason.kind, ReasonKind::ProfileSync);
                // Only the changed fields the system keeps.
                let held = &w.actual.identities[&op.identity].accounts[&op.system].record.attributes;
                for (k, v) in attributes {
                    prop_assert_eq!(k.as_str(), "title");
                    prop_assert_ne!(held.get(k), Some(v));
                }
            }
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

/// The ordering rules, as a predicate on a pair of operations: must `a` run before `b`?
/// Written from DESIGN.md and the orderer's documentation, independently of its code.
fn must_precede(
    a: &Operation,
    b: &Operation,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
) -> bool {
    use OperationKind as K;
    let account_up = |k: &K| matches!(k, K::CreateAccount { .. } | K::ReactivateAccount);
    if a.identity != b.identity {
        return false;
    }
    if a.system == b.system {
        return match (&a.kind, &b.kind) {
            // The account exists before anything is granted or updated on it.
            (k, K::Grant { .. } | K::UpdateAccount { .. }) if account_up(k) => true,
            // The old role leaves a resource before the new one arrives.
            (K::Revoke { entitlement: old }, K::Grant { entitlement: new }) => {
                (&old.kind, &old.resource, &old.scope) == (&new.kind, &new.resource, &new.scope)
            }
            // Sessions end before anything is taken away from the account.
            (K::RevokeSessions, K::SuspendAccount | K::DeleteAccount | K::Revoke { .. }) => true,
            // Suspension and revocations before the account is deleted.
            (K::SuspendAccount | K::Revoke { .. }, K::DeleteAccount) => true,
            // A kind's prerequisite grants first (a licence before a permission set).
            (K::Grant { entitlement: first }, K::Grant { entitlement: then }) => descriptors
                .get(&a.system)
                .and_then(|d| d.kind(&then.kind))
                .is_some_and(|k| k.prerequisites.contains(&first.kind)),
            _ => false,
        };
    }
    // Across systems: what `b`'s system declares it depends on in `a`'s system. Only
    // build-up work waits; removals never wait on another system.
    config.dependencies.iter().any(|dep| {
        dep.system == b.system
            && dep.depends_on == a.system
            && match &dep.kind {
                None => matches!(
                    b.kind,
                    K::CreateAccount { .. }
                        | K::ReactivateAccount
                        | K::UpdateAccount { .. }
                        | K::Grant { .. }
                ),
                Some(kind) => {
                    matches!(&b.kind, K::Grant { entitlement } if &entitlement.kind == kind)
                }
            }
            && match dep.on {
                DependencyTarget::Account => account_up(&a.kind),
                DependencyTarget::Grants => matches!(a.kind, K::Grant { .. }),
            }
    })
}
