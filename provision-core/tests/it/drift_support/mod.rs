//! A small org in sync across okta, google, slack, aws and gitlab, and an in-memory
//! stand-in for the systems that applies a plan, so tests can make "manual"
//! changes behind the SDK's back, detect them, remediate and detect again.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use provision_core::adapter::{ResourceKindDescriptor as Kind, SystemDescriptor};
use provision_core::config::{
    DeploymentConfig, DriftRemediation, Enforcement, ExternalOwnership, SystemConfig,
};
use provision_core::drift::{DriftInputs, DriftReport, detect_drift};
use provision_core::model::{
    AccountRecord, AccountState, ActualAccount, ActualIdentity, ActualState, DesiredGrant,
    DesiredIdentity, DesiredState, EmploymentStatus, Entitlement, Identity, IdentityId,
    OperationKind, Plan, Provenance, ResourceRef, SystemName, SystemSnapshot, Validity,
};

/// The time every test runs at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).single().unwrap()
}

pub fn sys(name: &str) -> SystemName {
    SystemName::new(name)
}

pub fn id(s: &str) -> IdentityId {
    IdentityId::new(s)
}

pub fn eng_okta() -> Entitlement {
    Entitlement::new("okta", "group", "engineering-team")
}
pub fn eng_google() -> Entitlement {
    Entitlement::new("google", "group", "engineering@example.com").with_role("member")
}
pub fn eng_slack() -> Entitlement {
    Entitlement::new("slack", "channel", "eng-general")
}
pub fn sales_slack() -> Entitlement {
    Entitlement::new("slack", "channel", "sales-deals")
}
pub fn sales_okta() -> Entitlement {
    Entitlement::new("okta", "group", "sales-team")
}
pub fn aws_readonly() -> Entitlement {
    Entitlement::new("aws", "permission_set", "EngineeringReadOnly")
        .with_scope("account:production")
}

/// What each system can do.
pub fn descriptors() -> BTreeMap<SystemName, SystemDescriptor> {
    let mut okta = SystemDescriptor::new("sandbox");
    okta.kinds = vec![Kind::new("group", &["add_to_group"])];
    okta.has_accounts = true;
    okta.can_suspend = true;
    okta.can_revoke_sessions = true;
    let mut google = SystemDescriptor::new("sandbox");
    google.kinds = vec![
        Kind::new("group", &["add_to_group"]).with_roles(&["member", "manager"], Some("member")),
    ];
    google.has_accounts = true;
    google.can_suspend = true;
    let mut slack = SystemDescriptor::new("sandbox");
    slack.kinds = vec![Kind::new("channel", &["invite_to_channel"])];
    slack.has_accounts = true;
    slack.can_suspend = true;
    // AWS Identity Center: no suspension; a leaver's assignments are revoked one by one.
    let mut aws = SystemDescriptor::new("sandbox");
    aws.kinds = vec![Kind::new("permission_set", &["assign_permission_set"]).with_scope("account")];
    aws.has_accounts = true;
    aws.can_suspend = false;
    let mut gitlab = SystemDescriptor::new("sandbox");
    gitlab.kinds =
        vec![Kind::new("group", &["add_to_group"]).with_roles(&["developer"], Some("developer"))];
    gitlab.has_accounts = true;
    gitlab.can_suspend = true;
    gitlab.accounts_created_on_first_login = true;
    [
        ("okta", okta),
        ("google", google),
        ("slack", slack),
        ("aws", aws),
        ("gitlab", gitlab),
    ]
    .into_iter()
    .map(|(n, d)| (sys(n), d))
    .collect()
}

/// Every system additive and report-only; Okta groups `okta-rule-*` belong to Okta's group rules.
pub fn config() -> DeploymentConfig {
    let mut config = DeploymentConfig::default();
    for name in ["okta", "google", "slack", "aws", "gitlab"] {
        config
            .systems
            .insert(sys(name), SystemConfig::new("sandbox"));
    }
    system(&mut config, "okta")
        .external_owners
        .push(ExternalOwnership {
            engine: "okta-group-rules".into(),
            kind: Some("group".into()),
            resource_prefix: Some("okta-rule-".into()),
        });
    config
}

pub fn system<'a>(config: &'a mut DeploymentConfig, name: &str) -> &'a mut SystemConfig {
    config.systems.get_mut(&sys(name)).unwrap()
}

/// Sets one system's remediation mode and enforcement.
pub fn set(
    config: &mut DeploymentConfig,
    name: &str,
    mode: DriftRemediation,
    enforcement: Enforcement,
) {
    let s = system(config, name);
    s.drift_remediation = mode;
    s.enforcement = enforcement;
}

/// Every system in the same mode and enforcement.
pub fn set_all(config: &mut DeploymentConfig, mode: DriftRemediation, enforcement: Enforcement) {
    for s in config.systems.values_mut() {
        s.drift_remediation = mode;
        s.enforcement = enforcement;
    }
}

fn grant(e: Entitlement, policy: &str, attr: (&str, &str)) -> (Entitlement, DesiredGrant) {
    (
        e,
        DesiredGrant {
            provenance: vec![Provenance::policy(
                policy,
                BTreeMap::from([(attr.0.to_owned(), attr.1.to_owned())]).into(),
            )],
            validity: Validity::ALWAYS,
        },
    )
}

pub fn sarah() -> Identity {
    Identity::new("e1001", "sarah@example.com", "Sarah Chen")
        .with_attribute("department", "Engineering")
}
pub fn lee() -> Identity {
    Identity::new("e1002", "lee@example.com", "Lee Park").with_attribute("department", "Sales")
}
pub fn tom() -> Identity {
    let mut tom = Identity::new("e1003", "tom@example.com", "Tom Ortiz")
        .with_attribute("department", "Engineering");
    tom.status = EmploymentStatus::Terminated {
        effective: now() - Duration::days(3),
    };
    tom
}

/// Every resource the fixtures' policies mention (as `planner::desired` lists
/// them): the resources whose membership the SDK manages.
pub fn managed_resources() -> BTreeSet<ResourceRef> {
    [
        eng_okta(),
        eng_google(),
        eng_slack(),
        aws_readonly(),
        Entitlement::new("gitlab", "group", "engineering").with_role("developer"),
        sales_okta(),
        sales_slack(),
    ]
    .iter()
    .map(Entitlement::resource_ref)
    .collect()
}

/// Sarah (engineering, okta+google+slack+aws+gitlab), Lee (sales, okta+slack), and Tom
/// (terminated three days ago: nothing).
pub fn desired() -> DesiredState {
    let eng = ("department", "Engineering");
    let sales = ("department", "Sales");
    let sarah = DesiredIdentity {
        identity: sarah(),
        accounts: ["okta", "google", "slack", "aws", "gitlab"]
            .into_iter()
            .map(sys)
            .collect(),
        grants: BTreeMap::from([
            grant(eng_okta(), "Engineering Base", eng),
            grant(eng_google(), "Engineering Base", eng),
            grant(eng_slack(), "Engineering Base", eng),
            grant(aws_readonly(), "Engineering AWS", eng),
            grant(
                Entitlement::new("gitlab", "group", "engineering").with_role("developer"),
                "Engineering Base",
                eng,
            ),
        ]),
        expired: BTreeMap::new(),
    };
    let lee = DesiredIdentity {
        identity: lee(),
        accounts: ["okta", "slack"].into_iter().map(sys).collect(),
        grants: BTreeMap::from([
            grant(sales_okta(), "Sales Base", sales),
            grant(sales_slack(), "Sales Base", sales),
        ]),
        expired: BTreeMap::new(),
    };
    let tom = DesiredIdentity {
        identity: tom(),
        accounts: BTreeSet::new(),
        grants: BTreeMap::new(),
        expired: BTreeMap::new(),
    };
    DesiredState {
        identities: [sarah, lee, tom]
            .into_iter()
            .map(|d| (d.identity.id.clone(), d))
            .collect(),
        managed_resources: managed_resources(),
    }
}

pub fn account(
    system: &str,
    external_id: &str,
    login: &str,
    state: AccountState,
) -> (SystemName, ActualAccount) {
    (
        sys(system),
        ActualAccount {
            external_id: external_id.into(),
            state,
            record: AccountRecord {
                external_id: external_id.into(),
                login: login.into(),
                state,
                last_login: Some(now() - Duration::days(1)),
                attributes: BTreeMap::new(),
                correlation: Default::default(),
            },
        },
    )
}

/// The systems in sync with `desired()`: Tom's okta and google accounts suspended
/// (google kept his group), his AWS assignment already revoked.
pub fn actual() -> ActualState {
    use AccountState::{Active, Suspended};
    let s = "sarah@example.com";
    let sarah = ActualIdentity {
        accounts: BTreeMap::from([
            account("okta", "00u-sarah", s, Active),
            account("google", "g-sarah", s, Active),
            account("slack", "U-SARAH", s, Active),
            account("aws", "aws-sarah", s, Active),
            account("gitlab", "41", s, Active),
        ]),
        grants: desired().identities[&id("e1001")]
            .grants
            .keys()
            .cloned()
            .collect(),
        ..Default::default()
    };
    let l = "lee@example.com";
    let lee = ActualIdentity {
        accounts: BTreeMap::from([
            account("okta", "00u-lee", l, Active),
            account("slack", "U-LEE", l, Active),
        ]),
        grants: BTreeSet::from([sales_okta(), sales_slack()]),
        ..Default::default()
    };
    let t = "tom@example.com";
    let tom = ActualIdentity {
        accounts: BTreeMap::from([
            account("okta", "00u-tom", t, Suspended),
            account("google", "g-tom", t, Suspended),
        ]),
        grants: BTreeSet::from([eng_google()]),
        ..Default::default()
    };
    ActualState {
        identities: BTreeMap::from([(id("e1001"), sarah), (id("e1002"), lee), (id("e1003"), tom)]),
        unmatched_accounts: BTreeMap::new(),
        ..Default::default()
    }
}

/// When each system was read: one snapshot per system, a minute before `now()`.
pub fn snapshots() -> Vec<SystemSnapshot> {
    ["okta", "google", "slack", "aws", "gitlab"]
        .into_iter()
        .enumerate()
        .map(|(i, n)| SystemSnapshot {
            system: Some(sys(n)),
            accounts: Vec::new(),
            grants: Vec::new(),
            read_at: Some(now() - Duration::seconds(60 - i as i64)),
        })
        .collect()
}

/// Detects with the fixtures' descriptors, nothing in flight.
pub fn detect(
    desired: &DesiredState,
    actual: &ActualState,
    config: &DeploymentConfig,
) -> DriftReport {
    let descriptors = descriptors();
    let read_at = provision_core::drift::read_times(&snapshots());
    detect_drift(
        desired,
        actual,
        &DriftInputs::new(config, &descriptors, now()).read_at(&read_at),
    )
}

/// Applies a plan to the actual state as the systems would: the stand-in for
/// executing it against the sandbox systems. Returns how many writes reached a system.
pub fn apply(actual: &mut ActualState, plan: &Plan) -> usize {
    let mut writes = 0;
    for op in &plan.operations {
        let who = actual.identities.entry(op.identity.clone()).or_default();
        writes += 1;
        match &op.kind {
            OperationKind::Grant { entitlement } => {
                who.grants.insert(entitlement.clone());
            }
            OperationKind::Revoke { entitlement } => {
                who.grants.remove(entitlement);
            }
            OperationKind::CreateAccount { profile } => {
                let (s, mut a) = account(
                    op.system.as_str(),
                    &format!("new-{}", op.identity),
                    &profile.login,
                    AccountState::Active,
                );
                a.record.last_login = None;
                who.accounts.insert(s, a);
            }
            OperationKind::ReactivateAccount | OperationKind::SuspendAccount => {
                let state = if matches!(op.kind, OperationKind::SuspendAccount) {
                    AccountState::Suspended
                } else {
                    AccountState::Active
                };
                if let Some(a) = who.accounts.get_mut(&op.system) {
                    a.state = state;
                    a.record.state = state;
                }
            }
            OperationKind::DeleteAccount => {
                who.accounts.remove(&op.system);
            }
            _ => {}
        }
    }
    writes
}
