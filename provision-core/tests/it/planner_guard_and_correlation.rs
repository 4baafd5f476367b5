//! The blast-radius guard over a roster, and correlation of what systems return.
#![allow(clippy::unwrap_used)]

use crate::planner_support;
use std::collections::BTreeMap;

use planner_support::*;
use provision_core::config::BlastRadius;
use provision_core::model::*;
use provision_core::planner::{BlastLimit, Planner, apply, check_blast_radius, correlate};

/// 100 Sales people who all joined; `terminated` of them are now leavers.
fn roster(terminated: usize) -> (Vec<Identity>, ActualState) {
    let config = config();
    let descriptors = descriptors();
    let people: Vec<Identity> = (0..100)
        .map(|i| {
            Identity::new(
                format!("e{i:03}"),
                format!("p{i:03}@company.com"),
                format!("P {i}"),
            )
            .with_attribute("department", "Sales")
        })
        .collect();
    let planner = Planner::new(&config, &descriptors);
    let d = planner.desired(&people, &policies(), now());
    let joined = planner
        .plan(&d, &correlate(&people, &BTreeMap::new()), now())
        .unwrap()
        .confirm_blast_radius(usize::MAX)
        .unwrap();
    let actual = apply(&joined, &correlate(&people, &BTreeMap::new()));
    let people = people
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            if i < terminated {
                p.status = EmploymentStatus::Terminated {
                    effective: now() - days(1),
                };
            }
            p
        })
        .collect();
    (people, actual)
}

#[test]
fn a_roster_with_60_percent_terminated_is_refused_until_confirmed() {
    let config = config(); // default guard: 10 % of the population
    let descriptors = descriptors();
    let (people, actual) = roster(60);
    let planner = Planner::new(&config, &descriptors).with_event("hr-export-2026-03-02");
    let d = planner.desired(&people, &policies(), now());

    let guarded = planner.plan(&d, &actual, now()).unwrap();
    let err = guarded.exceeded().cloned().unwrap();
    assert_eq!(err.identities, 60);
    assert_eq!(err.population, 100);
    assert_eq!(err.limit, BlastLimit::Share(0.10));
    let text = err.to_string();
    assert!(text.contains("60 of 100 identities (60.0%)"), "{text}");
    assert!(text.contains("max_share = 10.0%"), "{text}");
    assert!(text.contains("confirm it explicitly"), "{text}");
    assert_eq!(guarded.clone().approve().err(), Some(err.clone()));

    // A person looked at it and confirmed: the plan comes out, leavers first.
    let plan = guarded.confirm_blast_radius(usize::MAX).unwrap();
    assert_eq!(plan.operations.len(), err.operations);
    // Per leaver (okta, google, slack, jira accounts): 3 session revocations,
    // 3 suspensions, 1 Jira revoke (Jira cannot suspend).
    assert_eq!(plan.operations.len(), 60 * 7);
    assert!(
        plan.operations
            .iter()
            .all(|o| o.priority == Priority::Leaver)
    );
}

#[test]
fn a_normal_day_passes_the_guard() {
    let config = config();
    let descriptors = descriptors();
    let (people, actual) = roster(5);
    let planner = Planner::new(&config, &descriptors);
    let d = planner.desired(&people, &policies(), now());
    let plan = planner.plan(&d, &actual, now()).unwrap().approve().unwrap();
    assert_eq!(plan.operations.len(), 5 * 7);
}

#[test]
fn count_limits_name_the_limit() {
    let (people, actual) = roster(3);
    let config = config();
    let descriptors = descriptors();
    let d = Planner::new(&config, &descriptors).desired(&people, &policies(), now());
    let plan = provision_core::planner::plan(&d, &actual, &config, &descriptors, now());
    let limits = BlastRadius {
        max_identities: Some(2),
        max_share: None,
        max_operations: None,
    };
    let err = check_blast_radius(&plan, 100, &limits).unwrap_err();
    assert_eq!(err.limit, BlastLimit::Identities(2));
    assert!(err.to_string().contains("max_identities = 2"));
    let limits = BlastRadius {
        max_identities: None,
        max_share: None,
        max_operations: Some(20),
    };
    let err = check_blast_radius(&plan, 100, &limits).unwrap_err();
    assert_eq!(
        (err.operations, err.limit),
        (21, BlastLimit::Operations(20))
    );
    assert!(check_blast_radius(&plan, 100, &BlastRadius::default()).is_ok());
}

fn account(id: &str, login: &str, state: AccountState) -> AccountRecord {
    AccountRecord {
        external_id: id.into(),
        login: login.into(),
        state,
        last_login: None,
        attributes: BTreeMap::new(),
        correlation: Default::default(),
    }
}

#[test]
fn correlation_matches_logins_case_insensitively_and_keeps_orphans() {
    let mut bob = Identity::new("e2", "bob@company.com", "Bob");
    bob.login = "bsmith".into();
    let people = [sarah(), bob];
    let okta_read = SystemSnapshot {
        system: Some("okta".into()),
        accounts: vec![
            account("00u1", "Sarah.Chen@Company.com", AccountState::Active),
            account("00u2", "BOB@company.com", AccountState::Suspended), // by email
            account("00u3", "mallory@company.com", AccountState::Active), // nobody
            account("00u4", "sarah.chen@company.com", AccountState::Active), // duplicate
        ],
        grants: vec![
            GrantRecord {
                entitlement: okta("sales-team"),
                account_external_id: "00u1".into(),
                login: None,
            },
            GrantRecord {
                entitlement: okta("sales-team"),
                account_external_id: "00u3".into(),
                login: None,
            },
        ],
        read_at: None,
    };
    let google_read = SystemSnapshot {
        system: Some("google".into()),
        accounts: vec![],
        // Google group members come back by email.
        grants: vec![GrantRecord {
            entitlement: google("sales@company.com"),
            account_external_id: "SARAH.CHEN@company.com".into(),
            login: None,
        }],
        read_at: None,
    };
    let snapshots = BTreeMap::from([("okta".into(), okta_read), ("google".into(), google_read)]);
    let actual = correlate(&people, &snapshots);

    // Sarah has two Okta accounts: which one is hers is a guess the SDK never
    // makes. Neither is attached, both are reported, and Okta is left alone for her.
    let s = &actual.identities[&IdentityId::new("e1001")];
    assert!(!s.accounts.contains_key(&SystemName::new("okta")));
    assert!(s.ambiguous.contains(&SystemName::new("okta")));
    assert_eq!(
        s.grants.iter().cloned().collect::<Vec<_>>(),
        vec![google("sales@company.com")]
    );
    assert_eq!(actual.ambiguous.len(), 1);
    assert_eq!(actual.ambiguous[0].accounts, vec!["00u1", "00u4"]);
    assert_eq!(
        actual.ambiguous[0].identities,
        vec![IdentityId::new("e1001")]
    );
    let b = &actual.identities[&IdentityId::new("e2")];
    assert_eq!(
        b.accounts[&SystemName::new("okta")].state,
        AccountState::Suspended
    );
    assert!(b.grants.is_empty());
    let mut orphans: Vec<&str> = actual.unmatched_accounts[&SystemName::new("okta")]
        .iter()
        .map(|a| a.external_id.as_str())
        .collect();
    orphans.sort_unstable();
    assert_eq!(orphans, vec!["00u1", "00u3", "00u4"]);
}
