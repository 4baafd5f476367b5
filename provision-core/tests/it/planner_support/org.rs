//! A small company on sandbox systems, driven end to end: read through the
//! adapters (`planner::read::read_system`, which reads every account's grants
//! where kinds are enumerable), correlate, plan, order (`order_with`, with the
//! descriptors), execute through the executor, read again.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use provision_core::adapter::{Adapter, SystemDescriptor};
use provision_core::config::{DeploymentConfig, SystemConfig};
use provision_core::executor::{ExecutionReport, Executor};
use provision_core::journal::RunId;
use provision_core::model::{
    ActualState, DesiredState, Entitlement, Identity, Plan, Policy, PolicyGrant, PolicySet,
    Selector, SystemName, Validity,
};
use provision_core::planner::{Descriptors, Planner};
use provision_core::planner::{SystemRead, correlate_reads, read_system};
use provision_sandbox::{SandboxConfig, SandboxSystem};

/// A policy giving `grants` to everyone in `department`.
pub fn policy(name: &str, department: &str, grants: &[Entitlement]) -> Policy {
    Policy {
        name: name.into(),
        selector: Selector::equals("department", department),
        grants: grants
            .iter()
            .map(|e| PolicyGrant {
                entitlement: e.clone(),
                validity: Validity::ALWAYS,
                source: None,
            })
            .collect(),
        source: None,
    }
}

pub struct Org {
    pub systems: Vec<(SystemName, Arc<SandboxSystem>)>,
    pub config: DeploymentConfig,
    pub descriptors: Descriptors,
    pub policies: PolicySet,
    pub now: DateTime<Utc>,
    runs: std::sync::atomic::AtomicUsize,
}

impl Org {
    /// Sandbox systems (pages of two, so every read paginates) with these
    /// descriptors and deployment settings.
    pub fn new(systems: Vec<(&str, SystemDescriptor, SystemConfig)>, policies: PolicySet) -> Self {
        let sandbox = SandboxConfig {
            page_size: 2,
            ..SandboxConfig::default()
        };
        let mut config = DeploymentConfig::default();
        let mut descriptors = BTreeMap::new();
        let mut out = Vec::new();
        for (name, descriptor, system_config) in systems {
            let name = SystemName::new(name);
            out.push((
                name.clone(),
                Arc::new(SandboxSystem::new(
                    name.as_str(),
                    descriptor.clone(),
                    sandbox.clone(),
                )),
            ));
            config.systems.insert(name.clone(), system_config);
            descriptors.insert(name, descriptor);
        }
        Self {
            systems: out,
            config,
            descriptors,
            policies,
            now: Utc::now(),
            runs: Default::default(),
        }
    }

    pub fn sys(&self, name: &str) -> &SandboxSystem {
        &self
            .systems
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .unwrap()
            .1
    }

    pub fn desired(&self, people: &[Identity]) -> DesiredState {
        Planner::new(&self.config, &self.descriptors).desired(people, &self.policies, self.now)
    }

    /// Every system read through its adapter and correlated.
    pub async fn actual(&self, people: &[Identity]) -> ActualState {
        let desired = self.desired(people);
        let mut reads: BTreeMap<SystemName, SystemRead> = BTreeMap::new();
        for (name, system) in &self.systems {
            let read = read_system(system.as_ref(), name, &desired.managed_resources)
                .await
                .unwrap();
            reads.insert(name.clone(), read);
        }
        correlate_reads(people, &reads, &self.config)
    }

    /// The ordered plan for `people` now (blast radius confirmed).
    pub async fn plan(&self, people: &[Identity]) -> Plan {
        let desired = self.desired(people);
        let actual = self.actual(people).await;
        Planner::new(&self.config, &self.descriptors)
            .plan(&desired, &actual, self.now)
            .unwrap()
            .confirm_blast_radius(usize::MAX)
            .unwrap()
            .into_plan()
    }

    /// Applies `plan` through the executor; every operation succeeds.
    pub async fn execute(&self, plan: &Plan) -> ExecutionReport {
        let mut builder = Executor::builder();
        for (name, system) in &self.systems {
            let config = self.config.systems[name].clone();
            builder = builder.system(name.as_str(), system.clone() as Arc<dyn Adapter>, config);
        }
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let report = builder
            .build()
            .unwrap()
            .apply(&RunId(format!("run-{n}")), &approved(plan))
            .await
            .unwrap();
        assert!(report.is_complete(), "{report:?}");
        report
    }

    /// Plans, executes, and checks that the next plan is empty; returns the plan
    /// that was executed.
    pub async fn converge(&self, people: &[Identity]) -> Plan {
        let plan = self.plan(people).await;
        self.execute(&plan).await;
        let again = self.plan(people).await;
        assert!(
            again.is_empty(),
            "not converged; second plan: {:#?}",
            again.operations
        );
        plan
    }

    /// The grants `login` holds in `system` now.
    pub fn grants_of(&self, system: &str, login: &str) -> Vec<Entitlement> {
        self.sys(system)
            .snapshot()
            .grants
            .into_iter()
            .filter(|(l, _)| l == login)
            .map(|(_, e)| e)
            .collect()
    }
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
pub fn approved(plan: &Plan) -> provision_core::planner::ApprovedPlan {
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
