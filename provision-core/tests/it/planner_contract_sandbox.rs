//! The adapter contract's capabilities, driven through reads, planner, orderer and
//! executor against sandbox systems: reads that see everything a person holds,
//! several roles on one resource, ordered roles and nested groups, one per
//! account, prerequisites inside a system, grants required at create, and
//! profile sync.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::org;
use chrono::Duration;
use provision_core::adapter::{ResourceKindDescriptor, RoleModel, SystemDescriptor};
use provision_core::config::{Enforcement, ExternalOwnership, SystemConfig};
use provision_core::drift::{DriftClass, DriftInputs, detect_drift};
use provision_core::model::{
    AccountState, EmploymentStatus, Entitlement, Identity, OperationKind, Plan, PolicySet,
    ReasonKind, ResourceRecord,
};
use provision_sandbox::RequestKind;

use org::{Org, policy};

const SARAH: &str = "sarah@example.com";

fn sarah(department: &str) -> Identity {
    Identity::new("e1", SARAH, "Sarah Chen").with_attribute("department", department)
}

fn terminated(mut identity: Identity, org: &Org) -> Identity {
    identity.status = EmploymentStatus::Terminated {
        effective: org.now - Duration::hours(1),
    };
    identity
}

fn verbs(plan: &Plan) -> Vec<String> {
    plan.operations.iter().map(|o| o.id.to_string()).collect()
}

fn group(system: &str, name: &str) -> Entitlement {
    Entitlement::new(system, "group", name)
}

/// A system with accounts and one enumerable `group` kind.
fn enumerable_groups(adapter: &str) -> SystemDescriptor {
    SystemDescriptor::new(adapter)
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable())
}

// 1. Reads that see everything a person holds.

#[tokio::test]
async fn a_leaver_where_accounts_cannot_be_suspended_ends_with_no_grants_at_all() {
    // `wiki` cannot suspend; `idp` can, but its suspension does not keep grants
    // harmless (suspension_keeps_grants false): both must lose every grant.
    let wiki = enumerable_groups("wiki");
    let idp = enumerable_groups("idp").can_suspend(false);
    let org = Org::new(
        vec![
            ("wiki", wiki, SystemConfig::new("sandbox")),
            ("idp", idp, SystemConfig::new("sandbox")),
        ],
        PolicySet {
            policies: vec![policy(
                "Engineering",
                "Engineering",
                &[group("wiki", "eng"), group("idp", "eng")],
            )],
        },
    );
    let people = [sarah("Engineering")];
    org.converge(&people).await;
    // Someone added her by hand to groups no policy names.
    org.sys("wiki")
        .with_grant(SARAH, group("wiki", "secret-project"));
    org.sys("idp").with_grant(SARAH, group("idp", "admins"));

    let leaver = [terminated(sarah("Engineering"), &org)];
    let plan = org.converge(&leaver).await;
    assert!(
        verbs(&plan).contains(&"e1/wiki/revoke/group/secret-project".to_owned()),
        "{:?}",
        verbs(&plan)
    );
    assert!(
        org.grants_of("wiki", SARAH).is_empty(),
        "wiki: {:?}",
        org.grants_of("wiki", SARAH)
    );
    assert!(
        org.grants_of("idp", SARAH).is_empty(),
        "idp: {:?}",
        org.grants_of("idp", SARAH)
    );
    assert_eq!(
        org.sys("idp").snapshot().accounts[SARAH],
        AccountState::Suspended
    );
}

#[tokio::test]
async fn an_authoritative_kind_loses_a_hand_made_grant_on_any_resource_and_drift_names_it() {
    let mut authoritative = SystemConfig::new("sandbox");
    authoritative.enforcement = Enforcement::Authoritative;
    authoritative.external_owners.push(ExternalOwnership {
        engine: "iga".into(),
        kind: Some("group".into()),
        resource_prefix: Some("iga-".into()),
    });
    let org = Org::new(
        vec![("idp", enumerable_groups("idp"), authoritative)],
        PolicySet {
            policies: vec![policy("Engineering", "Engineering", &[group("idp", "eng")])],
        },
    );
    let people = [sarah("Engineering")];
    org.converge(&people).await;
    org.sys("idp").with_grant(SARAH, group("idp", "admins"));
    org.sys("idp")
        .with_grant(SARAH, group("idp", "iga-auditors"));

    // Drift sees both: unmanaged where the SDK is authoritative, foreign-owned
    // where the IGA owns the group.
    let desired = org.desired(&people);
    let actual = org.actual(&people).await;
    let report = detect_drift(
        &desired,
        &actual,
        &DriftInputs::new(&org.config, &org.descriptors, org.now),
    );
    let unmanaged: Vec<_> = report.of_class(DriftClass::Unmanaged).collect();
    assert_eq!(unmanaged.len(), 1, "{report}");
    assert_eq!(unmanaged[0].remediation.len(), 1);
    let foreign: Vec<_> = report.of_class(DriftClass::ForeignOwned).collect();
    assert_eq!(foreign.len(), 1, "{report}");
    assert_eq!(foreign[0].evidence.owner.as_deref(), Some("iga"));

    let plan = org.converge(&people).await;
    assert_eq!(verbs(&plan), vec!["e1/idp/revoke/group/admins"]);
    assert_eq!(plan.operations[0].reason.kind, ReasonKind::UnmanagedGrant);
    let mut held = org.grants_of("idp", SARAH);
    held.sort();
    assert_eq!(
        held,
        vec![group("idp", "eng"), group("idp", "iga-auditors")]
    );
}

// 2. Several roles on one resource.

fn jira() -> SystemDescriptor {
    SystemDescriptor::new("jira").with_accounts().with_kind(
        ResourceKindDescriptor::new("project_role", &["assign_project_role"])
            .with_roles(&["Administrators", "Developers", "Users"], Some("Users"))
            .with_role_model(RoleModel::Multiple)
            .enumerable(),
    )
}

fn sales_role(role: &str) -> Entitlement {
    Entitlement::new("jira", "project_role", "SALES").with_role(role)
}

#[tokio::test]
async fn two_roles_on_one_jira_project_are_two_independent_grants() {
    let mut org = Org::new(
        vec![("jira", jira(), SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![
                policy("Sales Devs", "Sales", &[sales_role("Developers")]),
                policy("Sales Admins", "Sales", &[sales_role("Administrators")]),
            ],
        },
    );
    let people = [sarah("Sales")];
    let plan = org.converge(&people).await;
    assert_eq!(
        verbs(&plan),
        vec![
            "e1/jira/create_account",
            "e1/jira/grant/project_role/SALES#Administrators",
            "e1/jira/grant/project_role/SALES#Developers",
        ]
    );
    let mut held = org.grants_of("jira", SARAH);
    held.sort();
    assert_eq!(
        held,
        vec![sales_role("Administrators"), sales_role("Developers")]
    );

    // The admin policy goes: exactly that role is revoked, no role change.
    org.policies.policies.retain(|p| p.name != "Sales Admins");
    let plan = org.converge(&people).await;
    assert_eq!(
        verbs(&plan),
        vec!["e1/jira/revoke/project_role/SALES#Administrators"]
    );
    assert_eq!(plan.operations[0].reason.kind, ReasonKind::PolicyRemoved);
    assert!(!plan.operations[0].reason.detail.contains("changes from"));
    assert_eq!(org.grants_of("jira", SARAH), vec![sales_role("Developers")]);
}

// 3. Ordered roles, nested groups.

fn gitlab() -> SystemDescriptor {
    SystemDescriptor::new("gitlab").with_accounts().with_kind(
        ResourceKindDescriptor::new("group", &["add_to_group"])
            .with_roles(
                &["guest", "reporter", "developer", "maintainer", "owner"],
                Some("developer"),
            )
            .with_role_model(RoleModel::Ordered)
            .nested()
            .enumerable(),
    )
}

fn gl(resource: &str, role: &str) -> Entitlement {
    Entitlement::new("gitlab", "group", resource).with_role(role)
}

#[tokio::test]
async fn an_ordered_role_change_is_one_in_place_operation() {
    let mut org = Org::new(
        vec![("gitlab", gitlab(), SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![policy("Eng", "Engineering", &[gl("eng", "developer")])],
        },
    );
    let people = [sarah("Engineering")];
    org.converge(&people).await;
    let writes_before = org.sys("gitlab").stats().writes;

    org.policies.policies = vec![policy(
        "Eng Leads",
        "Engineering",
        &[gl("eng", "maintainer")],
    )];
    let plan = org.converge(&people).await;
    assert_eq!(verbs(&plan), vec!["e1/gitlab/grant/group/eng#maintainer"]);
    let op = &plan.operations[0];
    assert_eq!(op.reason.kind, ReasonKind::Replacement);
    assert!(
        op.reason.detail.contains("replaces developer"),
        "{}",
        op.reason.detail
    );
    assert_eq!(org.sys("gitlab").stats().writes - writes_before, 1);
    assert_eq!(
        org.grants_of("gitlab", SARAH),
        vec![gl("eng", "maintainer")]
    );
}

#[tokio::test]
async fn nothing_is_granted_at_a_subgroup_that_an_ancestor_already_gives() {
    let org = Org::new(
        vec![("gitlab", gitlab(), SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![
                policy("Eng", "Engineering", &[gl("eng", "maintainer")]),
                // By path (eng/backend) and by the listed parent (platform's is eng).
                policy(
                    "Backend",
                    "Engineering",
                    &[
                        gl("eng/backend", "developer"),
                        gl("platform", "maintainer"),
                        gl("eng/web", "owner"),
                    ],
                ),
            ],
        },
    );
    org.sys("gitlab")
        .with_resource(ResourceRecord::new("group", "eng"));
    org.sys("gitlab")
        .with_resource(ResourceRecord::new("group", "platform").with_parent("eng"));
    let people = [sarah("Engineering")];
    let plan = org.converge(&people).await;
    // In sync: drift finds nothing missing at the covered subgroups either.
    let report = detect_drift(
        &org.desired(&people),
        &org.actual(&people).await,
        &DriftInputs::new(&org.config, &org.descriptors, org.now),
    );
    assert!(!report.has_drift(), "{report}");
    assert_eq!(
        verbs(&plan),
        vec![
            "e1/gitlab/create_account",
            "e1/gitlab/grant/group/eng#maintainer",
            // A higher role than the ancestor gives is still granted.
            "e1/gitlab/grant/group/eng/web#owner",
        ]
    );
}

// 4. Exactly one per account.

fn google() -> SystemDescriptor {
    SystemDescriptor::new("google").with_accounts().with_kind(
        ResourceKindDescriptor::new("org_unit", &["move_to_org_unit"])
            .one_per_account()
            .enumerable(),
    )
}

fn ou(path: &str) -> Entitlement {
    Entitlement::new("google", "org_unit", path)
}

#[tokio::test]
async fn a_one_per_account_change_is_one_replace_never_two_holders() {
    let mut org = Org::new(
        vec![("google", google(), SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![policy("Sales", "Sales", &[ou("/Sales")])],
        },
    );
    org.converge(&[sarah("Sales")]).await;
    assert_eq!(org.grants_of("google", SARAH), vec![ou("/Sales")]);

    org.policies
        .policies
        .push(policy("Engineering", "Engineering", &[ou("/Engineering")]));
    let mover = [sarah("Engineering")];
    // Drift says what the planner does: the new org unit is missing, and the old
    // one is no unmanaged grant to revoke (the move replaces it).
    let report = detect_drift(
        &org.desired(&mover),
        &org.actual(&mover).await,
        &DriftInputs::new(&org.config, &org.descriptors, org.now),
    );
    assert_eq!(report.findings.len(), 1, "{report}");
    assert_eq!(report.findings[0].class, DriftClass::Missing);
    assert_eq!(
        report.findings[0].remediation[0].id.to_string(),
        "e1/google/grant/org_unit//Engineering"
    );
    let plan = org.converge(&mover).await;
    assert_eq!(verbs(&plan), vec!["e1/google/grant/org_unit//Engineering"]);
    assert_eq!(plan.operations[0].reason.kind, ReasonKind::Replacement);
    assert!(plan.operations[0].reason.detail.contains("/Sales"));
    assert_eq!(org.grants_of("google", SARAH), vec![ou("/Engineering")]);
}

// 5 and 6. Salesforce: a licence before a permission set; the profile at create.

fn salesforce() -> SystemDescriptor {
    SystemDescriptor::new("salesforce")
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new("licence", &["assign_licence"]).enumerable())
        .with_kind(
            ResourceKindDescriptor::new("permission_set", &["assign_permission_set"])
                .with_prerequisites(&["licence"])
                .enumerable(),
        )
        .with_kind(
            ResourceKindDescriptor::new("profile", &["assign_profile"])
                .one_per_account()
                .required_at_create()
                .enumerable(),
        )
}

fn sf(kind: &str, name: &str) -> Entitlement {
    Entitlement::new("salesforce", kind, name)
}

#[tokio::test]
async fn the_licence_is_granted_before_the_permission_set_and_the_profile_comes_with_the_create() {
    let org = Org::new(
        vec![("salesforce", salesforce(), SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![policy(
                "Sales",
                "Sales",
                &[
                    sf("profile", "Standard User"),
                    sf("licence", "Sales Cloud"),
                    // Sorts before the licence: only the edge puts it after.
                    sf("permission_set", "Deals"),
                ],
            )],
        },
    );
    let people = [sarah("Sales")];
    let plan = org.plan(&people).await;
    let create = plan
        .operations
        .iter()
        .find_map(|o| match &o.kind {
            OperationKind::CreateAccount { profile } => Some(profile),
            _ => None,
        })
        .unwrap();
    assert_eq!(create.required_grants, vec![sf("profile", "Standard User")]);
    assert!(
        !verbs(&plan).iter().any(|v| v.contains("grant/profile")),
        "the profile is not granted twice: {:?}",
        verbs(&plan)
    );
    let licence = "e1/salesforce/grant/licence/Sales Cloud";
    let permset = "e1/salesforce/grant/permission_set/Deals";
    assert!(
        plan.dependencies
            .iter()
            .any(|d| d.before.0 == licence && d.after.0 == permset),
        "{:?}",
        plan.dependencies
    );
    org.execute(&plan).await;
    // The writes reached the system in that order.
    let writes: Vec<String> = org
        .sys("salesforce")
        .stats()
        .log
        .iter()
        .filter(|e| e.kind == RequestKind::Write)
        .filter_map(|e| e.operation.as_ref().map(ToString::to_string))
        .collect();
    let at = |id: &str| writes.iter().position(|w| w == id).unwrap();
    assert!(at(licence) < at(permset), "{writes:?}");
    let mut held = org.grants_of("salesforce", SARAH);
    held.sort();
    assert_eq!(
        held,
        vec![
            sf("licence", "Sales Cloud"),
            sf("permission_set", "Deals"),
            sf("profile", "Standard User"),
        ]
    );
    assert!(org.plan(&people).await.is_empty());
}

// 8. Mover profile sync.

#[tokio::test]
async fn a_mover_gets_one_update_with_only_the_changed_fields() {
    let okta = enumerable_groups("okta").with_profile_fields(&[
        "display_name",
        "title",
        "department",
        "manager",
        "cost_center",
    ]);
    let org = Org::new(
        vec![("okta", okta, SystemConfig::new("sandbox"))],
        PolicySet {
            policies: vec![
                policy("Sales", "Sales", &[group("okta", "everyone")]),
                policy("Engineering", "Engineering", &[group("okta", "everyone")]),
            ],
        },
    );
    let before = sarah("Sales")
        .with_attribute("title", "Account Executive")
        .with_attribute("manager", "e7");
    org.converge(std::slice::from_ref(&before)).await;
    // A field the SDK does not manage, set in the console.
    org.sys("okta")
        .with_account_attributes(SARAH, &[("nickname", "Sal")]);

    let mover = sarah("Engineering")
        .with_attribute("title", "Solutions Engineer")
        .with_attribute("manager", "e7");
    let plan = org.converge(std::slice::from_ref(&mover)).await;
    assert_eq!(verbs(&plan), vec!["e1/okta/update_account"]);
    let op = &plan.operations[0];
    assert_eq!(op.reason.kind, ReasonKind::ProfileSync);
    let OperationKind::UpdateAccount { attributes } = &op.kind else {
        panic!("{op:?}")
    };
    assert_eq!(
        attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("department", "Engineering"),
            ("title", "Solutions Engineer")
        ]
    );
    let now = org.sys("okta").account_attributes(SARAH).unwrap();
    assert_eq!(now["title"], "Solutions Engineer");
    assert_eq!(
        now["nickname"], "Sal",
        "a field the SDK does not manage stays"
    );
}
