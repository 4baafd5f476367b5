//! Drift against sandbox systems: people are onboarded through the planner,
//! orderer and executor; then "manual" changes are made directly on the systems,
//! behind the SDK's back; the systems are read back through the adapter reads
//! (paginated) and `planner::correlate`; `detect_drift` classifies the changes;
//! and each remediation mode's plan goes through the orderer and the executor
//! with an audit log.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use provision_core::adapter::{Adapter, read_all_accounts, read_all_grants};
use provision_core::audit::{AuditLog, AuditOutcome, MemoryAuditLog, verify};
use provision_core::config::{
    DeploymentConfig, DriftRemediation, Enforcement, ExternalOwnership, SystemConfig,
};
use provision_core::drift::{
    DriftClass, DriftInputs, DriftReport, Holder, Severity, Subject, detect_drift,
};
use provision_core::executor::{ExecutionReport, Executor};
use provision_core::journal::RunId;
use provision_core::model::{
    AccountState, ActualState, DesiredState, EmploymentStatus, Entitlement, Identity, IdentityId,
    OperationId, OperationKind, Plan, Policy, PolicyGrant, PolicySet, ReasonKind, ResourceRef,
    Selector, SystemName, SystemSnapshot, Validity,
};
use provision_core::orderer;
use provision_core::planner::{Descriptors, Planner, correlate};
use provision_sandbox::{SandboxConfig, SandboxSnapshot, SandboxSystem, presets};

const SARAH: &str = "sarah@example.com";
const LEE: &str = "lee@example.com";
const TOM: &str = "tom@example.com";
const CONTRACTOR: &str = "contractor@example.com";

fn eng_okta() -> Entitlement {
    Entitlement::new("okta", "group", "engineering-team")
}
fn sales_okta() -> Entitlement {
    Entitlement::new("okta", "group", "sales-team")
}
fn eng_slack() -> Entitlement {
    Entitlement::new("slack", "channel", "eng-general")
}
fn sales_slack() -> Entitlement {
    Entitlement::new("slack", "channel", "sales-deals")
}
/// An Okta group no policy mentions.
fn admins_okta() -> Entitlement {
    Entitlement::new("okta", "group", "admins")
}
/// An Okta group Okta's own group rules own.
fn rule_okta() -> Entitlement {
    Entitlement::new("okta", "group", "okta-rule-admins")
}

fn policy(name: &str, department: &str, grants: &[Entitlement]) -> Policy {
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

fn policies() -> PolicySet {
    PolicySet {
        policies: vec![
            policy(
                "Engineering Base",
                "Engineering",
                &[eng_okta(), eng_slack()],
            ),
            policy("Sales Base", "Sales", &[sales_okta(), sales_slack()]),
        ],
    }
}

fn sarah() -> Identity {
    Identity::new("e1001", SARAH, "Sarah Chen").with_attribute("department", "Engineering")
}
fn lee() -> Identity {
    Identity::new("e1002", LEE, "Lee Park").with_attribute("department", "Sales")
}
fn tom() -> Identity {
    Identity::new("e1003", TOM, "Tom Ortiz").with_attribute("department", "Engineering")
}

/// Two sandbox systems shaped like Okta and Slack (pages of two, so every read
/// paginates), with the deployment around them.
struct Org {
    okta: Arc<SandboxSystem>,
    slack: Arc<SandboxSystem>,
    config: DeploymentConfig,
    descriptors: Descriptors,
    audit: Arc<MemoryAuditLog>,
    now: DateTime<Utc>,
}

impl Org {
    fn new() -> Self {
        let sandbox = SandboxConfig {
            page_size: 2,
            ..SandboxConfig::default()
        };
        let okta = Arc::new(presets::okta().sandbox("okta", sandbox.clone()));
        let slack = Arc::new(presets::slack().sandbox("slack", sandbox));
        let mut config = DeploymentConfig::default();
        let mut okta_config = SystemConfig::new("sandbox");
        okta_config.external_owners.push(ExternalOwnership {
            engine: "okta-group-rules".into(),
            kind: Some("group".into()),
            resource_prefix: Some("okta-rule-".into()),
        });
        config.systems.insert(SystemName::new("okta"), okta_config);
        config
            .systems
            .insert(SystemName::new("slack"), SystemConfig::new("sandbox"));
        let descriptors = BTreeMap::from([
            (SystemName::new("okta"), okta.descriptor().clone()),
            (SystemName::new("slack"), slack.descriptor().clone()),
        ]);
        Self {
            okta,
            slack,
            config,
            descriptors,
            audit: Arc::new(MemoryAuditLog::new()),
            now: Utc::now(),
        }
    }

    fn systems(&self) -> [(&str, &Arc<SandboxSystem>); 2] {
        [("okta", &self.okta), ("slack", &self.slack)]
    }

    fn system_config(&mut self, name: &str) -> &mut SystemConfig {
        self.config.systems.get_mut(&SystemName::new(name)).unwrap()
    }

    /// Sets every system's remediation mode.
    fn mode(&mut self, mode: DriftRemediation) {
        for s in self.config.systems.values_mut() {
            s.drift_remediation = mode;
        }
    }

    fn desired(&self, identities: &[Identity]) -> DesiredState {
        Planner::new(&self.config, &self.descriptors).desired(identities, &policies(), self.now)
    }

    /// One paginated read of accounts per system and of grants per resource the
    /// SDK manages plus `listed` (the resources a listing of the kind would show),
    /// correlated to the identities.
    async fn read(
        &self,
        identities: &[Identity],
        listed: &[ResourceRef],
    ) -> (ActualState, BTreeMap<SystemName, DateTime<Utc>>) {
        let desired = self.desired(identities);
        let resources: BTreeSet<&ResourceRef> =
            desired.managed_resources.iter().chain(listed).collect();
        let mut snapshots = BTreeMap::new();
        for (name, system) in self.systems() {
            let name = SystemName::new(name);
            let accounts = read_all_accounts(system.as_ref()).await.unwrap();
            let mut grants = Vec::new();
            for resource in resources.iter().filter(|r| r.system == name) {
                grants.extend(read_all_grants(system.as_ref(), resource).await.unwrap());
            }
            let snapshot = SystemSnapshot {
                system: Some(name.clone()),
                accounts,
                grants,
                read_at: Some(Utc::now()),
            };
            snapshots.insert(name, snapshot);
        }
        let read_at =
            provision_core::drift::read_times(&snapshots.values().cloned().collect::<Vec<_>>());
        (correlate(identities, &snapshots), read_at)
    }

    fn executor(&self) -> Executor {
        let mut builder = Executor::builder();
        for (name, system) in self.systems() {
            let config = self.config.systems[&SystemName::new(name)].clone();
            builder = builder.system(name, system.clone() as Arc<dyn Adapter>, config);
        }
        builder
            .audit_log(self.audit.clone() as Arc<dyn AuditLog>)
            .actor("drift-test")
            .build()
            .unwrap()
    }

    /// Orders `plan` and applies it through the executor with the audit log.
    async fn execute(&self, run: &str, plan: Plan) -> ExecutionReport {
        let ordered = orderer::order(plan, &self.config).unwrap();
        let report = self
            .executor()
            .apply(&RunId(run.into()), &approved(&ordered))
            .await
            .unwrap();
        assert!(report.is_complete(), "{report:?}");
        report
    }

    /// Onboards Sarah, Lee and Tom through planner, orderer and executor; the next
    /// plan is empty.
    async fn onboard(&self) {
        let people = [sarah(), lee(), tom()];
        let planner = Planner::new(&self.config, &self.descriptors).with_event("hr:hire");
        let desired = self.desired(&people);
        let (actual, _) = self.read(&people, &[]).await;
        let plan = planner
            .plan(&desired, &actual, self.now)
            .unwrap()
            .approve()
            .unwrap();
        assert_eq!(
            plan.operations.len(),
            12,
            "3 people x 2 accounts + 6 grants"
        );
        self.execute("onboard", plan.into_plan()).await;
        let (actual, _) = self.read(&people, &[]).await;
        let again = planner
            .plan(&desired, &actual, self.now)
            .unwrap()
            .confirm_blast_radius(usize::MAX)
            .unwrap();
        assert!(again.is_empty(), "in sync after onboarding: {again:?}");
        assert!(
            self.slack
                .snapshot()
                .grants
                .contains(&(LEE.to_owned(), sales_slack()))
        );
    }

    /// Changes made by hand in the systems' consoles, and Tom's termination in HR.
    fn tamper(&self) {
        // Someone removed Sarah from an Okta group policies give her: missing.
        assert!(self.okta.revoke_by_hand(SARAH, &eng_okta()));
        // Lee was invited to a channel policies manage: unmanaged.
        self.slack.with_grant(LEE, eng_slack());
        // Sarah was added to a group no policy mentions: a manual grant.
        self.okta.with_grant(SARAH, admins_okta());
        // ... and to a group Okta's group rules own: foreign-owned.
        self.okta.with_grant(SARAH, rule_okta());
        // A contractor's account nobody in HR knows: orphaned.
        self.slack.with_account(CONTRACTOR, AccountState::Active);
    }

    /// The roster after the manual changes: Tom was terminated yesterday.
    fn roster(&self) -> Vec<Identity> {
        let mut tom = tom();
        tom.status = EmploymentStatus::Terminated {
            effective: self.now - Duration::days(1),
        };
        vec![sarah(), lee(), tom]
    }

    /// The resources a listing of Okta's groups shows besides the managed ones.
    fn listed() -> Vec<ResourceRef> {
        vec![admins_okta().resource_ref(), rule_okta().resource_ref()]
    }

    /// Reads the systems back and detects drift, with `in_flight` operations.
    async fn detect(&self, in_flight: &BTreeSet<OperationId>) -> DriftReport {
        let roster = self.roster();
        let desired = self.desired(&roster);
        let (actual, read_at) = self.read(&roster, &Self::listed()).await;
        let inputs = DriftInputs::new(&self.config, &self.descriptors, self.now)
            .read_at(&read_at)
            .in_flight(in_flight);
        detect_drift(&desired, &actual, &inputs)
    }

    fn snapshots(&self) -> Vec<SandboxSnapshot> {
        vec![self.okta.snapshot(), self.slack.snapshot()]
    }

    fn writes(&self) -> u64 {
        self.okta.stats().writes + self.slack.stats().writes
    }
}

/// `(class, severity, login, system, subject)` of every finding, sorted.
fn summary(report: &DriftReport) -> Vec<(DriftClass, Severity, String, String, String)> {
    let mut out: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.class,
                f.severity,
                f.login.clone(),
                f.system.to_string(),
                match &f.subject {
                    // Account ids are the sandbox's own.
                    Subject::Account { .. } => "account".to_owned(),
                    Subject::Grant { entitlement } => grant(entitlement),
                    other => format!("{other:?}"),
                },
            )
        })
        .collect();
    out.sort();
    out
}

fn grant(e: &Entitlement) -> String {
    format!("grant {e}")
}

fn held(system: &SandboxSystem, login: &str, e: &Entitlement) -> bool {
    system
        .snapshot()
        .grants
        .contains(&(login.to_owned(), e.clone()))
}

#[tokio::test]
async fn each_drift_class_is_found_after_manual_changes_behind_the_sdks_back() {
    let org = Org::new();
    org.onboard().await;
    org.tamper();
    let report = org.detect(&BTreeSet::new()).await;

    let s = |x: &str| x.to_owned();
    let classes = summary(&report);
    assert_eq!(
        classes,
        vec![
            (
                DriftClass::Missing,
                Severity::Medium,
                s(SARAH),
                s("okta"),
                grant(&eng_okta())
            ),
            (
                DriftClass::Unmanaged,
                Severity::Low,
                s(LEE),
                s("slack"),
                grant(&eng_slack())
            ),
            (
                DriftClass::Orphaned,
                Severity::High,
                s(CONTRACTOR),
                s("slack"),
                s("account")
            ),
            (
                DriftClass::Orphaned,
                Severity::Critical,
                s(TOM),
                s("okta"),
                s("account")
            ),
            (
                DriftClass::Orphaned,
                Severity::Critical,
                s(TOM),
                s("slack"),
                s("account")
            ),
            (
                DriftClass::ForeignOwned,
                Severity::Info,
                s(SARAH),
                s("okta"),
                grant(&rule_okta())
            ),
        ],
        "{report}"
    );
    // The manual grant on a group no policy mentions stays under additive
    // enforcement (the planner leaves it): no finding.
    assert!(!report.to_string().contains("admins "), "{report}");

    // Most severe first; evidence says what was read, from where and when.
    assert_eq!(report.findings[0].severity, Severity::Critical);
    for f in &report.findings {
        assert_eq!(f.evidence.system, f.system);
        let read_at = f.evidence.read_at.expect("read time in the evidence");
        assert!(read_at >= org.now, "{f}");
    }
    let missing = report.of_class(DriftClass::Missing).next().unwrap();
    assert_eq!(missing.evidence.observed, "no grant");
    assert_eq!(
        missing.evidence.policies,
        vec!["Engineering Base".to_owned()]
    );
    assert_eq!(missing.identity, Some(IdentityId::new("e1001")));
    let contractor = report
        .findings
        .iter()
        .find(|f| f.login == CONTRACTOR)
        .unwrap();
    assert_eq!(contractor.holder, Holder::Unknown);
    assert_eq!(contractor.identity, None);
    let foreign = report.of_class(DriftClass::ForeignOwned).next().unwrap();
    assert_eq!(foreign.evidence.owner.as_deref(), Some("okta-group-rules"));
    assert!(foreign.remediation.is_empty(), "never touched");

    // Pending: the same read while the fix of Sarah's group is in flight (the
    // journal knows the operation) is not drift.
    let fix = missing.remediation[0].id.clone();
    let pending = org.detect(&BTreeSet::from([fix.clone()])).await;
    let f = pending
        .findings
        .iter()
        .find(|f| f.subject.to_string() == grant(&eng_okta()))
        .unwrap();
    assert_eq!(f.class, DriftClass::Pending);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence.in_flight, Some(fix));
    assert!(f.remediation.is_empty());
    assert_eq!(pending.findings.len(), report.findings.len());
}

#[tokio::test]
async fn report_only_changes_nothing() {
    let org = Org::new();
    org.onboard().await;
    org.tamper();
    let before = org.snapshots();
    let writes = org.writes();
    let audited = org.audit.records().await.unwrap().len();

    let report = org.detect(&BTreeSet::new()).await;
    assert!(report.has_drift());
    // report_only is the default mode.
    let plan = report.remediation_plan(&org.config);
    assert!(plan.is_empty(), "{plan:?}");
    org.execute("drift-report-only", plan).await;

    assert_eq!(org.snapshots(), before, "no system changed");
    assert_eq!(org.writes(), writes, "no write reached a system");
    assert_eq!(org.audit.records().await.unwrap().len(), audited);
    assert_eq!(
        summary(&org.detect(&BTreeSet::new()).await),
        summary(&report),
        "the same drift is still there"
    );
}

#[tokio::test]
async fn fix_missing_grants_only() {
    let mut org = Org::new();
    org.onboard().await;
    org.tamper();
    org.mode(DriftRemediation::FixMissing);
    let report = org.detect(&BTreeSet::new()).await;
    let plan = report.remediation_plan(&org.config);
    let ops: Vec<String> = plan.operations.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(ops, vec!["e1001/okta/grant/group/engineering-team"]);
    org.execute("drift-fix-missing", plan).await;

    assert!(
        held(&org.okta, SARAH, &eng_okta()),
        "the missing grant is back"
    );
    assert!(
        held(&org.slack, LEE, &eng_slack()),
        "the manual grant stays"
    );
    assert_eq!(
        org.okta.snapshot().accounts[TOM],
        AccountState::Active,
        "the leaver is only reported"
    );
    let after = org.detect(&BTreeSet::new()).await;
    assert_eq!(after.of_class(DriftClass::Missing).count(), 0, "{after}");
    assert_eq!(after.of_class(DriftClass::Unmanaged).count(), 1, "{after}");
    assert_eq!(after.of_class(DriftClass::Orphaned).count(), 3, "{after}");

    let events = org.audit.records().await.unwrap();
    let last = &events.last().unwrap().event;
    assert_eq!(last.reason.kind, ReasonKind::DriftRemediation);
    assert_eq!(last.entitlement, Some(eng_okta()));
    assert_eq!(last.outcome, AuditOutcome::Changed);
}

#[tokio::test]
async fn fix_all_also_revokes_the_manual_grant_and_the_audit_log_says_why() {
    let mut org = Org::new();
    org.onboard().await;
    org.tamper();
    org.mode(DriftRemediation::FixAll);
    // Okta groups are authoritative: a grant no policy gives is not allowed.
    org.system_config("okta")
        .kind_enforcement
        .insert("group".into(), Enforcement::Authoritative);
    let audited = org.audit.records().await.unwrap().len();

    let report = org.detect(&BTreeSet::new()).await;
    let manual = report
        .findings
        .iter()
        .find(|f| f.subject.to_string() == grant(&admins_okta()))
        .expect("the manual grant is a finding under authoritative enforcement");
    assert_eq!(
        (manual.class, manual.severity),
        (DriftClass::Unmanaged, Severity::High)
    );
    let plan = report.remediation_plan(&org.config);

    // The fixes are exactly what the planner plans for the same read.
    let roster = org.roster();
    let (actual, _) = org.read(&roster, &Org::listed()).await;
    let planned = Planner::new(&org.config, &org.descriptors)
        .plan(&org.desired(&roster), &actual, org.now)
        .unwrap()
        .confirm_blast_radius(usize::MAX)
        .unwrap();
    let ids =
        |p: &Plan| -> BTreeSet<String> { p.operations.iter().map(|o| o.id.to_string()).collect() };
    assert_eq!(ids(&plan), ids(&planned), "drift fixes = planner's plan");
    assert_eq!(
        ids(&plan),
        BTreeSet::from(
            [
                "e1001/okta/grant/group/engineering-team",
                "e1001/okta/revoke/group/admins",
                "e1002/slack/revoke/channel/eng-general",
                "e1003/okta/revoke_sessions",
                "e1003/okta/suspend_account",
                "e1003/slack/revoke_sessions",
                "e1003/slack/suspend_account",
            ]
            .map(str::to_owned)
        )
    );

    org.execute("drift-fix-all", plan).await;
    assert!(
        !held(&org.okta, SARAH, &admins_okta()),
        "manual grant revoked"
    );
    assert!(
        !held(&org.slack, LEE, &eng_slack()),
        "unmanaged grant revoked"
    );
    assert!(held(&org.okta, SARAH, &eng_okta()), "missing grant back");
    assert!(
        held(&org.okta, SARAH, &rule_okta()),
        "foreign-owned untouched"
    );
    assert_eq!(org.okta.snapshot().accounts[TOM], AccountState::Suspended);
    assert_eq!(org.slack.snapshot().accounts[TOM], AccountState::Suspended);
    assert_eq!(
        org.slack.snapshot().accounts[CONTRACTOR],
        AccountState::Active,
        "an account nobody in HR knows is for a person to decide"
    );

    // The audit log records each change with the reason DriftRemediation.
    let records = org.audit.records().await.unwrap();
    verify(&records).unwrap();
    let events: Vec<_> = records[audited..].iter().map(|r| &r.event).collect();
    assert_eq!(events.len(), 7);
    for e in &events {
        assert_eq!(e.reason.kind, ReasonKind::DriftRemediation, "{e:?}");
        assert_eq!(e.outcome, AuditOutcome::Changed, "{e:?}");
        assert_eq!(e.actor, "drift-test");
        assert!(e.reason.detail.starts_with("drift remediation:"), "{e:?}");
    }
    let revoke = events
        .iter()
        .find(|e| e.entitlement == Some(admins_okta()))
        .unwrap();
    assert_eq!(
        revoke.action,
        OperationKind::Revoke {
            entitlement: admins_okta()
        }
        .verb()
    );
    assert_eq!(revoke.identity, IdentityId::new("e1001"));
    assert!(
        revoke.reason.detail.contains("no policy gives it"),
        "{:?}",
        revoke.reason
    );

    // Converged: what is left is for a person (the unknown account) or another
    // engine (the rule-owned group); nothing more to apply.
    let after = org.detect(&BTreeSet::new()).await;
    let left: Vec<_> = after
        .findings
        .iter()
        .map(|f| (f.class, f.login.as_str()))
        .collect();
    assert_eq!(
        left,
        vec![
            (DriftClass::Orphaned, CONTRACTOR),
            (DriftClass::ForeignOwned, SARAH)
        ],
        "{after}"
    );
    assert!(after.remediation_plan(&org.config).is_empty());
}

#[tokio::test]
async fn an_account_suspended_by_hand_is_missing_and_fix_missing_reactivates_it() {
    let mut org = Org::new();
    org.onboard().await;
    assert!(
        org.slack
            .set_account_state_by_hand(SARAH, AccountState::Suspended)
    );
    assert!(
        !org.slack
            .set_account_state_by_hand("nobody@example.com", AccountState::Active)
    );
    org.mode(DriftRemediation::FixMissing);
    let report = org.detect(&BTreeSet::new()).await;
    let f = report
        .findings
        .iter()
        .find(|f| f.login == SARAH && f.system.as_str() == "slack")
        .expect("a finding for Sarah's Slack account");
    assert_eq!(
        (f.class, f.severity),
        (DriftClass::Missing, Severity::Medium)
    );
    assert!(f.evidence.observed.contains("state=suspended"), "{f}");
    let plan = report.remediation_plan(&org.config);
    assert!(
        plan.operations
            .iter()
            .any(|o| o.id.to_string() == "e1001/slack/reactivate_account"),
        "{plan:?}"
    );
    org.execute("drift-reactivate", plan).await;
    assert_eq!(org.slack.snapshot().accounts[SARAH], AccountState::Active);
}

/// A hand-built plan, confirmed (as a person reviewing it would) for every identity it
/// takes access from.
fn approved(plan: &Plan) -> provision_core::planner::ApprovedPlan {
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
