//! Property tests of governance invariants over random people, policies, holdings,
//! SoD rules and exceptions:
//! * the SoD check names exactly the new uncovered conflicts a plan would create
//!   (checked against a brute-force oracle, not the checker's own code), and once the
//!   gate holds back the people it names, what is left creates none and keeps every
//!   other person's operations;
//! * a reviewer never sees an item outside the campaign's scope or outside their
//!   people (items go to the person's manager).

#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use planner_support::{config, descriptors, now};
use proptest::prelude::*;
use provision_core::config::Enforcement;
use provision_core::drift::Severity;
use provision_core::gate::{Refusal, hold_back};
use provision_core::model::*;
use provision_core::planner::{Planner, correlate};
use provision_governance::review::{ReviewInputs, generate};
use provision_governance::sod::new_conflicts;
use provision_governance::{
    EntitlementPattern, Exception, ExceptionScope, GovernanceConfig, ReviewScope, SodRule, SodRules,
};

fn universe() -> Vec<Entitlement> {
    vec![
        Entitlement::new("okta", "group", "a"),
        Entitlement::new("okta", "group", "b"),
        Entitlement::new("okta", "group", "c"),
        Entitlement::new("slack", "channel", "#x"),
        Entitlement::new("slack", "channel", "#y"),
        Entitlement::new("google", "group", "g1"),
        Entitlement::new("google", "group", "g2"),
    ]
}

const DEPARTMENTS: [&str; 3] = ["Eng", "Sales", "Ops"];

#[derive(Debug, Clone)]
struct Person {
    department: usize,
    manager: Option<usize>,
    terminated: bool,
    held: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
struct World {
    people: Vec<Person>,
    /// Per department: the entitlements its policy gives.
    policies: Vec<BTreeSet<usize>>,
    rules: Vec<(usize, usize)>,
    /// (person, rule) pairs with an exception, and when it applies relative to now.
    exceptions: BTreeMap<(usize, usize), Window>,
    authoritative: BTreeSet<String>,
}

/// An exception's window relative to now, both sides of each edge: only
/// `Active` and `StartsNow` cover a conflict now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Started yesterday, ends tomorrow.
    Active,
    /// Starts exactly now (`starts_at <= now`: applies).
    StartsNow,
    /// Ended a second ago.
    Expired,
    /// Ends exactly now (`now < expires_at` is false: does not apply).
    EndsNow,
    /// Starts in a second.
    NotYet,
}

impl Window {
    fn covers_now(self) -> bool {
        matches!(self, Window::Active | Window::StartsNow)
    }

    fn span(self) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let (day, second) = (Duration::days(1), Duration::seconds(1));
        match self {
            Window::Active => (now() - day, now() + day),
            Window::StartsNow => (now(), now() + day),
            Window::Expired => (now() - day, now() - second),
            Window::EndsNow => (now() - day, now()),
            Window::NotYet => (now() + second, now() + day),
        }
    }
}

fn window() -> impl Strategy<Value = Window> {
    prop::sample::select(vec![
        Window::Active,
        Window::StartsNow,
        Window::Expired,
        Window::EndsNow,
        Window::NotYet,
    ])
}

fn world() -> impl Strategy<Value = World> {
    let n = universe().len();
    let person = (
        0..3usize,
        prop::option::of(0..2usize),
        prop::bool::weighted(0.15),
        prop::collection::btree_set(0..n, 0..4),
    )
        .prop_map(|(department, manager, terminated, held)| Person {
            department,
            manager,
            terminated,
            held,
        });
    (
        prop::collection::vec(person, 1..7),
        prop::collection::vec(prop::collection::btree_set(0..n, 0..4), 3),
        prop::collection::vec((0..n, 0..n), 1..4),
        prop::collection::btree_map((0..7usize, 0..4usize), window(), 0..4),
        prop::collection::btree_set(prop::sample::select(vec!["okta", "slack", "google"]), 0..3),
    )
        .prop_map(
            |(people, policies, rules, exceptions, authoritative)| World {
                people,
                policies,
                rules: rules.into_iter().filter(|(a, b)| a != b).collect(),
                exceptions,
                authoritative: authoritative.into_iter().map(str::to_owned).collect(),
            },
        )
}

fn id(i: usize) -> IdentityId {
    IdentityId::new(format!("p{i}"))
}

fn roster(w: &World) -> Vec<Identity> {
    w.people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut who =
                Identity::new(format!("p{i}"), format!("p{i}@co.example"), format!("P{i}"))
                    .with_attribute("department", DEPARTMENTS[p.department]);
            if let Some(m) = p.manager {
                who = who.with_attribute("manager", format!("m{m}"));
            }
            if p.terminated {
                who.status = EmploymentStatus::Terminated {
                    effective: now() - Duration::days(1),
                };
            }
            who
        })
        .collect()
}

fn policies(w: &World) -> PolicySet {
    let u = universe();
    PolicySet {
        policies: w
            .policies
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(d, grants)| Policy {
                name: format!("{} access", DEPARTMENTS[d]),
                selector: Selector::equals("department", DEPARTMENTS[d]),
                grants: grants
                    .iter()
                    .map(|g| PolicyGrant {
                        entitlement: u[*g].clone(),
                        validity: Validity::ALWAYS,
                        source: None,
                    })
                    .collect(),
                source: None,
            })
            .collect(),
    }
}

fn actual(w: &World, roster: &[Identity]) -> ActualState {
    let u = universe();
    let mut state = correlate(roster, &BTreeMap::new());
    for (i, p) in w.people.iter().enumerate() {
        let who = state.identities.entry(id(i)).or_default();
        for s in ["okta", "slack", "google"] {
            let login = format!("p{i}@co.example");
            let mut record = AccountRecord::new(format!("{s}-{i}"), &login, AccountState::Active);
            record.login = login;
            who.accounts.insert(
                SystemName::new(s),
                ActualAccount {
                    external_id: format!("{s}-{i}"),
                    state: AccountState::Active,
                    record,
                },
            );
        }
        who.grants = p.held.iter().map(|g| u[*g].clone()).collect();
    }
    state
}

fn rules(w: &World) -> SodRules {
    let u = universe();
    let pattern =
        |e: &Entitlement| EntitlementPattern::new(e.system.as_str(), &e.kind, &e.resource);
    SodRules {
        rules: w
            .rules
            .iter()
            .enumerate()
            .map(|(r, (a, b))| SodRule {
                name: format!("rule{r}"),
                severity: Severity::High,
                description: None,
                conflicting: vec![pattern(&u[*a]), pattern(&u[*b])],
                source: None,
            })
            .collect(),
    }
}

fn exceptions(w: &World) -> Vec<Exception> {
    w.exceptions
        .iter()
        .map(|(&(p, r), window)| Exception {
            id: format!("exc-{p}-{r}"),
            identity: id(p),
            scope: ExceptionScope::SodRule {
                rule: format!("rule{r}"),
            },
            rationale: "test".into(),
            approver: "cfo".into(),
            starts_at: window.span().0,
            expires_at: window.span().1,
            recorded_at: now() - Duration::days(1),
            renews: None,
            origin: None,
        })
        .collect()
}

/// The oracle: which rules `grants` fire, by brute force over the index pairs.
fn fired(w: &World, grants: &BTreeSet<Entitlement>) -> BTreeSet<usize> {
    let u = universe();
    w.rules
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| grants.contains(&u[*a]) && grants.contains(&u[*b]))
        .map(|(r, _)| r)
        .collect()
}

fn deployment(w: &World) -> provision_core::config::DeploymentConfig {
    let mut c = config();
    for s in &w.authoritative {
        if let Some(sys) = c.systems.get_mut(&SystemName::new(s.as_str())) {
            sys.enforcement = Enforcement::Authoritative;
        }
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_plan_passing_the_check_creates_an_uncovered_conflict(w in world()) {
        let roster = roster(&w);
        let config = deployment(&w);
        let descriptors = descriptors();
        let planner = Planner::new(&config, &descriptors);
        let desired = planner.desired(&roster, &policies(&w), now());
        let actual = actual(&w, &roster);
        let plan = planner.plan(&desired, &actual, now()).unwrap();
        let plan = plan.preview();
        let conflicts = new_conflicts(&rules(&w), plan, &actual, &descriptors, &exceptions(&w), now());

        // Oracle: grants after the plan, applied naively, per person.
        let mut expected = BTreeSet::new();
        for (i, _) in w.people.iter().enumerate() {
            let before = actual.identities[&id(i)].grants.clone();
            let mut after = before.clone();
            for op in plan.operations.iter().filter(|o| o.identity == id(i)) {
                match &op.kind {
                    OperationKind::Grant { entitlement } => { after.insert(entitlement.clone()); }
                    OperationKind::Revoke { entitlement } => { after.remove(entitlement); }
                    OperationKind::DeleteAccount => after.retain(|g| g.system != op.system),
                    _ => {}
                }
            }
            let old = fired(&w, &before);
            for r in fired(&w, &after) {
                let covered = w.exceptions.get(&(i, r)).is_some_and(|w| w.covers_now());
                if !old.contains(&r) && !covered {
                    expected.insert((id(i), format!("rule{r}")));
                }
            }
        }
        let named: BTreeSet<(IdentityId, String)> = conflicts
            .iter()
            .map(|c| (c.identity.clone(), c.rule.clone()))
            .collect();
        prop_assert_eq!(&named, &expected);

        // The gate: the people named are held back; what is left creates no uncovered
        // conflict, and everyone else's operations are all still there.
        let mut refusals: Vec<Refusal> = conflicts
            .into_iter()
            .map(|c| Refusal::new(c.identity.clone(), "sod", c))
            .collect();
        let mut left = plan.clone();
        hold_back(&mut left, &mut refusals);
        let refused: BTreeSet<&IdentityId> = named.iter().map(|(id, _)| id).collect();
        let again = new_conflicts(&rules(&w), &left, &actual, &descriptors, &exceptions(&w), now());
        prop_assert!(again.is_empty(), "left creates {again:?}");
        let others = |p: &Plan| -> Vec<OperationId> {
            p.operations.iter().filter(|o| !refused.contains(&o.identity)).map(|o| o.id.clone()).collect()
        };
        prop_assert_eq!(others(&left), others(plan));
        prop_assert!(left.operations.iter().all(|o| !refused.contains(&o.identity)));
    }

    #[test]
    fn a_reviewer_never_sees_an_item_outside_the_scope_or_their_people(
        w in world(),
        systems in prop::collection::btree_set(prop::sample::select(vec!["okta", "slack", "google"]), 0..3),
        kinds in prop::collection::btree_set(prop::sample::select(vec!["group", "channel"]), 0..2),
        department in prop::option::of(0..3usize),
    ) {
        let roster = roster(&w);
        let config = deployment(&w);
        let descriptors = descriptors();
        let desired = Planner::new(&config, &descriptors).desired(&roster, &policies(&w), now());
        let actual = actual(&w, &roster);
        let mut scope = ReviewScope::all().systems(systems.clone()).kinds(kinds.clone());
        if let Some(d) = department {
            scope = scope.department(DEPARTMENTS[d]);
        }
        let settings = GovernanceConfig::default();
        let exceptions = exceptions(&w);
        let rules = rules(&w);
        let inputs = ReviewInputs {
            roster: &roster,
            desired: &desired,
            actual: &actual,
            rules: &rules,
            exceptions: &exceptions,
            config: &settings,
            now: now(),
        };
        let campaign = generate("rc-1", "review", &scope, now() + Duration::days(7), &inputs);
        let people: BTreeMap<IdentityId, &Identity> = roster.iter().map(|p| (p.id.clone(), p)).collect();
        let mut ids = BTreeSet::new();
        for reviewer in campaign.reviewers() {
            for item in campaign.items_for(reviewer) {
                prop_assert!(ids.insert(item.id.clone()), "one item, one reviewer");
                prop_assert_eq!(&item.reviewer, reviewer);
                prop_assert!(systems.is_empty() || systems.contains(item.system.as_str()), "{item:?}");
                if let Some(e) = &item.entitlement {
                    prop_assert!(scope.has_grant(e), "{item:?}");
                }
                let person = item.identity.as_ref().and_then(|i| people.get(i));
                if let Some(d) = department {
                    prop_assert_eq!(person.and_then(|p| p.attribute("department")), Some(DEPARTMENTS[d]));
                }
                if let Some(p) = person {
                    let manager = p.attribute("manager").unwrap_or("unassigned");
                    prop_assert_eq!(item.reviewer.as_str(), manager, "items go to the person's manager");
                }
            }
        }
        prop_assert_eq!(ids.len(), campaign.items.len());
    }
}
