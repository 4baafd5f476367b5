//! The quickstart's example deployment (`examples/provision.yaml`, `examples/policies`,
//! `examples/roster.yaml`) over sandboxes, seeded with what policies give everyone,
//! and a governance handle over it with an in-memory store and audit log.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use provision_core::audit::MemoryAuditLog;
use provision_core::engine::Engine;
use provision_core::model::{AccountState, EmploymentStatus, Entitlement, Identity};
use provision_governance::{
    ApproverRule, ApproverSource, Governance, GovernanceConfig, GovernanceHook,
    MemoryGovernanceStore, OwnerRule, SodRules, Target,
};
use provision_roster::load_roster;
use provision_sandbox::SandboxFactory;

pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

pub struct World {
    pub engine: Engine,
    pub sandboxes: Arc<SandboxFactory>,
    pub roster: Vec<Identity>,
    pub store: Arc<MemoryGovernanceStore>,
    pub audit: Arc<MemoryAuditLog>,
}

pub const MARCUS: &str = "e1002";
pub const PRIYA: &str = "e1003";
pub const TOM: &str = "e1004";
pub const ENG_MANAGER: &str = "e1007";

pub fn payments_admin() -> Entitlement {
    Entitlement::new("aws", "permission_set", "PaymentsAdmin").with_scope("account:production")
}

pub fn approve_refunds() -> Entitlement {
    Entitlement::new("salesforce", "permission_set", "ApproveRefunds")
}

/// Approvers: AWS by the cloud lead, Slack channels automatically, the rest by the
/// manager. Owners: Okta accounts belong to IT.
pub fn settings() -> GovernanceConfig {
    GovernanceConfig {
        approvers: vec![
            ApproverRule {
                target: Target {
                    system: "aws".into(),
                    kind: None,
                    resource: None,
                },
                approver: ApproverSource::Owner("cloud-lead".into()),
                allow_self_approval: false,
                max_days: None,
            },
            ApproverRule {
                target: Target {
                    system: "slack".into(),
                    kind: Some("channel".into()),
                    resource: None,
                },
                approver: ApproverSource::Auto,
                allow_self_approval: false,
                max_days: None,
            },
        ],
        owners: vec![OwnerRule {
            target: Target {
                system: "okta".into(),
                kind: None,
                resource: None,
            },
            owner: "it-ops".into(),
        }],
        ..GovernanceConfig::default()
    }
}

impl World {
    /// The example deployment, everyone provisioned as policy says.
    pub async fn new() -> World {
        let dir = examples();
        let sandboxes = Arc::new(SandboxFactory::new());
        let audit = Arc::new(MemoryAuditLog::new());
        let store = Arc::new(MemoryGovernanceStore::new());
        let engine = Engine::builder()
            .deployment(dir.join("provision.yaml"))
            .policies(dir.join("policies"))
            .factory(Arc::clone(&sandboxes) as _)
            .audit_log(Arc::clone(&audit) as _)
            .actor("governance-test")
            .hook_with(GovernanceHook::with_policy_rules(Arc::clone(&store) as _))
            .build()
            .await
            .expect("the example deployment builds");
        let roster = load_roster(&dir.join("roster.yaml")).unwrap();
        let desired = engine.desired(&roster);
        for want in desired.identities.values() {
            let login = &want.identity.login;
            for system in &want.accounts {
                sandboxes
                    .system(system.as_str())
                    .unwrap()
                    .with_account(login, AccountState::Active);
            }
            for e in want.grants.keys() {
                sandboxes
                    .system(e.system.as_str())
                    .unwrap()
                    .with_grant(login, e.clone());
            }
        }
        World {
            engine,
            sandboxes,
            roster,
            store,
            audit,
        }
    }

    /// The separation-of-duties rules of the example policies, as the engine's
    /// governance hook enforces them.
    pub fn rules(&self) -> SodRules {
        GovernanceHook::of(&self.engine)
            .expect("the engine has the governance hook")
            .rules()
            .clone()
    }

    /// Governance records over the engine and the world's store, with the example
    /// rules and [`settings`].
    pub fn gov(&self) -> Governance<'_> {
        Governance::new(&self.engine, Arc::clone(&self.store) as _)
            .sod_rules(self.rules())
            .config(settings())
    }

    pub fn person(&self, id: &str) -> Identity {
        self.roster
            .iter()
            .find(|p| p.id.as_str() == id)
            .unwrap()
            .clone()
    }

    /// A grant made by hand in a sandbox (creating the account if it has none).
    pub fn by_hand(&self, id: &str, e: &Entitlement) {
        let login = self.person(id).login;
        let sb = self.sandboxes.system(e.system.as_str()).unwrap();
        if !sb.snapshot().accounts.contains_key(&login) {
            sb.with_account(&login, AccountState::Active);
        }
        sb.with_grant(&login, e.clone());
    }

    pub fn holds(&self, id: &str, e: &Entitlement) -> bool {
        let login = self.person(id).login;
        self.sandboxes
            .system(e.system.as_str())
            .unwrap()
            .snapshot()
            .grants
            .iter()
            .any(|g| g.0 == login && &g.1 == e)
    }

    /// Marks `id` terminated an hour ago in the roster (their accounts stay active).
    pub fn terminate(&mut self, id: &str) {
        let p = self
            .roster
            .iter_mut()
            .find(|p| p.id.as_str() == id)
            .unwrap();
        p.status = EmploymentStatus::Terminated {
            effective: Utc::now() - Duration::hours(1),
        };
    }
}
