//! The workload both child-process tests run: a plan of account creations and grants
//! over persistent sandbox systems, and the write logs those systems keep.

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_core::model::{
    AccountProfile, Dependency, Entitlement, IdentityId, Operation, OperationKind, Plan, Priority,
    Reason, ReasonKind, SystemName,
};
use provision_sandbox::{SandboxConfig, SandboxSystem, WriteRecord, presets, read_write_log};

pub const IDENTITIES: usize = 8;
pub const SYSTEMS: [&str; 3] = ["okta", "slack", "aws"];
/// Per system: the account, then these grants (different resources, so none replaces
/// another; they need the account's id).
pub const GRANTS: [&str; 2] = ["all-staff", "engineering"];

pub fn login(i: usize) -> String {
    format!("user{i:02}@example.com")
}

pub fn entitlement(system: &str, resource: &str) -> Entitlement {
    // Slack has channels, not groups.
    let kind = if system == "slack" {
        "channel"
    } else {
        "group"
    };
    Entitlement::new(system, kind, resource)
}

/// Every identity gets an account in every system, then its grants there.
pub fn plan() -> Plan {
    let mut plan = Plan::default();
    for i in 0..IDENTITIES {
        let identity = IdentityId(format!("e{i:02}"));
        for system in SYSTEMS {
            let system_name = SystemName::new(system);
            let op = |kind: OperationKind| Operation {
                id: Operation::make_id(&identity, &system_name, &kind),
                identity: identity.clone(),
                login: login(i),
                system: system_name.clone(),
                kind,
                reason: Reason {
                    kind: ReasonKind::PolicyGrant,
                    policies: vec!["Everyone".into()],
                    event: Some("hire".into()),
                    detail: format!("policy 'Everyone' gives e{i:02} access to {system}"),
                    valid_until: None,
                },
                priority: Priority::Normal,
            };
            let create = op(OperationKind::CreateAccount {
                profile: AccountProfile {
                    login: login(i),
                    email: login(i),
                    display_name: format!("User {i}"),
                    attributes: BTreeMap::new(),
                    ..Default::default()
                },
            });
            let create_id = create.id.clone();
            plan.operations.push(create);
            for resource in GRANTS {
                let grant = op(OperationKind::Grant {
                    entitlement: entitlement(system, resource),
                });
                plan.dependencies.push(Dependency {
                    before: create_id.clone(),
                    after: grant.id.clone(),
                });
                plan.operations.push(grant);
            }
        }
    }
    plan
}

/// A sandbox system named like the real one, answering after `latency`.
pub fn sandbox(name: &str, latency: Duration) -> SandboxSystem {
    let preset = match name {
        "okta" => presets::okta(),
        "slack" => presets::slack(),
        _ => presets::aws(),
    };
    preset.sandbox(
        name,
        SandboxConfig {
            latency,
            // Grants need the id the account creation returned, as real APIs do: a
            // process that did not create the account (a resume, another instance) gets
            // it from the journal or from a check.
            require_external_id: true,
            ..SandboxConfig::default()
        },
    )
}

pub fn state_file(dir: &Path, system: &str) -> PathBuf {
    dir.join(format!("{system}.json"))
}

/// Every write the systems kept in `dir` logged, across processes.
pub fn write_log(dir: &Path) -> Vec<WriteRecord> {
    SYSTEMS
        .iter()
        .flat_map(|s| {
            let mut path = state_file(dir, s).into_os_string();
            path.push(".writes.jsonl");
            read_write_log(Path::new(&path)).unwrap()
        })
        .collect()
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
pub fn approved(plan: &provision_core::model::Plan) -> provision_core::planner::ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    provision_core::planner::ApprovedPlan::confirmed(
        plan.clone(),
        identities.len(),
        identities.len(),
    )
    .expect("a plan confirmed for all it removes is approved")
}
