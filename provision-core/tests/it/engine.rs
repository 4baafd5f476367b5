//! The `Engine` facade over sandbox systems built by `provision_sandbox::factory()`:
//! what a program embedding the SDK checks — a plan applied converges, a wrong
//! `adapter:` or a missing credential is named, "why" points at the policy's file and
//! line, and validation needs no credential.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};
use provision_core::adapter::{
    AdapterError, Applied, CheckStatus, FactoryRegistry, Page, ResourceKindDescriptor,
};
use provision_core::config::Enforcement;
use provision_core::engine::{Engine, EngineError};
use provision_core::executor::OperationOutcome;
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, GrantRecord, Operation, ResourceRef,
};
use provision_core::model::{Entitlement, Identity};
use provision_sandbox::SandboxFactory;
use provision_sandbox::SandboxSystem;

const DEPLOYMENT: &str = "\
systems:
  okta:
    adapter: sandbox
    settings: {preset: okta, org_url: https://example.okta.invalid}
  google:
    adapter: sandbox
    settings: {preset: google}
dependencies:
  - {system: google, depends_on: okta, on: account}
blast_radius: {max_identities: 10}
";

const POLICIES: &str = "\
policies:
  - name: Engineering
    triggers:
      - department: Engineering
    provisions:
      - {system: okta, action: add_to_group, target: engineering-team}
      - {system: google, action: add_to_group, target: eng@company.com, role: manager}
      - {system: google, action: place_in_org_unit, target: /Engineering}
";

/// A directory with `provision.yaml` (text `deployment`) and `policies/eng.yaml`.
fn example(name: &str, deployment: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("provision-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("provision.yaml"), deployment).unwrap();
    std::fs::write(dir.join("policies/eng.yaml"), POLICIES).unwrap();
    dir
}

fn roster() -> Vec<Identity> {
    vec![
        Identity::new("e1", "ada@company.com", "Ada").with_attribute("department", "Engineering"),
        Identity::new("e2", "bob@company.com", "Bob").with_attribute("department", "Engineering"),
        Identity::new("e3", "cy@company.com", "Cy").with_attribute("department", "Sales"),
    ]
}

async fn engine(dir: &Path) -> Result<Engine, EngineError> {
    Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_sandbox::factory()])
        .actor("engine-test")
        .build()
        .await
}

#[tokio::test]
async fn a_plan_applied_converges_and_the_next_plan_is_empty() {
    let dir = example("converges", DEPLOYMENT);
    let sandboxes = Arc::new(SandboxFactory::new());
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factory(Arc::clone(&sandboxes) as Arc<dyn AdapterFactory>)
        .build()
        .await
        .unwrap();

    let plan = engine
        .plan(&roster(), "hr:sync")
        .await
        .unwrap()
        .approve()
        .unwrap();
    // Two engineers: an account and a group in Okta, an account, a group and an org
    // unit in Google, each.
    assert_eq!(plan.operations.len(), 10, "{:#?}", plan.operations);
    assert!(
        plan.operations
            .iter()
            .all(|op| op.reason.event.as_deref() == Some("hr:sync"))
    );

    let report = engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.succeeded, 10, "{report}");
    assert!(
        report
            .operations
            .iter()
            .all(|o| matches!(o.outcome, OperationOutcome::Succeeded))
    );
    let google = sandboxes.system("google").unwrap().snapshot();
    assert!(google.grants.contains(&(
        "ada@company.com".to_owned(),
        Entitlement::new("google", "group", "eng@company.com").with_role("manager")
    )));
    assert!(google.grants.contains(&(
        "bob@company.com".to_owned(),
        Entitlement::new("google", "org_unit", "/Engineering")
    )));

    let again = engine.plan(&roster(), "hr:sync").await.unwrap();
    assert!(
        again.preview().is_empty(),
        "{:#?}",
        again.preview().operations
    );
    let drift = engine.drift(&roster()).await.unwrap();
    assert!(!drift.has_drift(), "{drift}");
}

#[tokio::test]
async fn an_unknown_adapter_names_the_known_ones() {
    let dir = example(
        "unknown",
        &DEPLOYMENT.replacen("adapter: sandbox", "adapter: oktaa", 1),
    );
    let err = engine(&dir).await.unwrap_err();
    match &err {
        EngineError::System(ConfigError::UnknownAdapter {
            system,
            adapter,
            known,
        }) => {
            assert_eq!(system, "okta");
            assert_eq!(adapter, "oktaa");
            assert_eq!(known, &vec!["sandbox".to_owned()]);
        }
        other => panic!("expected an unknown adapter, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("system okta: unknown adapter `oktaa` (known: sandbox)"),
        "{err}"
    );
}

/// An internal wiki whose adapter needs an API token: the shape of a custom factory.
struct WikiFactory;

#[async_trait]
impl AdapterFactory for WikiFactory {
    fn adapter_type(&self) -> &str {
        "wiki"
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        spec.required_setting("base_url", "the wiki's URL")?;
        Ok(provision_sandbox::presets::okta().descriptor)
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let _token = spec.required_credential("api_token")?;
        Ok(Arc::new(
            provision_sandbox::presets::okta().sandbox(spec.name.as_str(), Default::default()),
        ))
    }
}

const WIKI_VARIABLE: &str = "PROVISION_ENGINE_TEST_WIKI_TOKEN_NEVER_SET";

fn wiki_deployment() -> String {
    DEPLOYMENT.replacen(
        "    adapter: sandbox\n    settings: {preset: okta, org_url: https://example.okta.invalid}",
        &format!(
            "    adapter: wiki\n    settings: {{base_url: https://wiki.invalid}}\n    credentials:\n      api_token: {{env: {WIKI_VARIABLE}}}"
        ),
        1,
    )
}

#[tokio::test]
async fn a_missing_credential_names_the_variable() {
    let dir = example("credential", &wiki_deployment());
    let err = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_sandbox::factory(), Arc::new(WikiFactory) as _])
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::System(ConfigError::MissingCredential { system, credential, .. })
            if system == "okta" && credential == "api_token"),
        "{err:?}"
    );
    assert!(err.to_string().contains(WIKI_VARIABLE), "{err}");
}

#[test]
fn validation_needs_no_credential() {
    let dir = example("validate", &wiki_deployment());
    let registry = FactoryRegistry::new()
        .with(provision_sandbox::factory())
        .with(Arc::new(WikiFactory));
    let validated =
        Engine::validate(dir.join("provision.yaml"), dir.join("policies"), &registry).unwrap();
    assert_eq!(validated.policies.policies.len(), 1);
    assert_eq!(validated.descriptors.len(), 2);

    // ... and still finds what is wrong: a policy action Google does not have, at its
    // file and line.
    std::fs::write(
        dir.join("policies/eng.yaml"),
        POLICIES.replace("place_in_org_unit", "move_to_org_unit"),
    )
    .unwrap();
    let err =
        Engine::validate(dir.join("provision.yaml"), dir.join("policies"), &registry).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EngineError::Policy(_)), "{err:?}");
    assert!(text.contains("eng.yaml:8"), "{text}");
    assert!(text.contains("move_to_org_unit"), "{text}");
}

#[tokio::test]
async fn why_answers_with_the_policy_and_its_file_and_line() {
    let dir = example("why", DEPLOYMENT);
    let engine = engine(&dir).await.unwrap();
    let ada = &roster()[0];
    let because = engine.why(ada, &Entitlement::new("okta", "group", "engineering-team"));
    assert_eq!(because.len(), 1);
    assert_eq!(because[0].policy, "Engineering");
    let source = because[0].source.as_ref().unwrap();
    assert!(source.file.ends_with("policies/eng.yaml"), "{source:?}");
    assert_eq!(source.line, 2);
    assert_eq!(
        because[0].matched.get("department").map(String::as_str),
        Some("Engineering")
    );
    let shown = because[0].to_string();
    assert!(
        shown.contains("eng.yaml:2") && shown.contains("department = Engineering"),
        "{shown}"
    );

    let cy = &roster()[2];
    assert!(
        engine
            .why(cy, &Entitlement::new("okta", "group", "engineering-team"))
            .is_empty()
    );
}

#[tokio::test]
async fn a_dependency_kind_the_system_lacks_is_refused_at_build_with_its_line() {
    let dir = example(
        "dependency-kind",
        &DEPLOYMENT.replace(
            "{system: google, depends_on: okta, on: account}",
            "{system: google, depends_on: okta, on: account, kind: org_units}",
        ),
    );
    let err = engine(&dir).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EngineError::Deployment(_)), "{err:?}");
    assert!(text.contains("provision.yaml:9"), "{text}");
    assert!(
        text.contains(
            "system `google` has no resource kind `org_units`; expected one of: group, org_unit"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_preset_names_the_presets() {
    let dir = example(
        "preset",
        &DEPLOYMENT.replace("preset: google", "preset: gogle"),
    );
    let err = engine(&dir).await.unwrap_err().to_string();
    assert!(err.contains("system google: setting `preset`: unknown preset `gogle`; expected one of: okta, google, aws, gitlab, slack, jira, salesforce, scim"), "{err}");
}

/// Okta whose groups are enumerable: a person's groups are read per account, so a
/// group no policy names is seen too.
struct EnumerableOkta {
    inner: Arc<SandboxSystem>,
    descriptor: SystemDescriptor,
}

impl EnumerableOkta {
    fn new() -> Self {
        let mut descriptor = provision_sandbox::presets::okta().descriptor;
        descriptor.kinds = descriptor
            .kinds
            .into_iter()
            .map(|k: ResourceKindDescriptor| if k.kind == "group" { k.enumerable() } else { k })
            .collect();
        let inner = Arc::new(SandboxSystem::new(
            "okta",
            descriptor.clone(),
            Default::default(),
        ));
        Self { inner, descriptor }
    }
}

#[async_trait]
impl Adapter for EnumerableOkta {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.inner.read_grants(resource, cursor).await
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let external_id = account.external_id.clone().unwrap_or_default();
        let items = self
            .inner
            .snapshot()
            .grants
            .into_iter()
            .filter(|(login, _)| login == &account.login)
            .map(|(login, entitlement)| GrantRecord {
                entitlement,
                account_external_id: external_id.clone(),
                login: Some(login),
            })
            .collect();
        Ok(Page::new(items, None))
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        self.inner.execute(op, account).await
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.inner.check(op, account).await
    }
}

#[tokio::test]
async fn where_a_kind_is_enumerable_a_grant_no_policy_names_is_read_and_revoked() {
    let dir = example("enumerable", DEPLOYMENT);
    let okta = Arc::new(EnumerableOkta::new());
    okta.inner
        .with_account("ada@company.com", AccountState::Active);
    okta.inner.with_grant(
        "ada@company.com",
        Entitlement::new("okta", "group", "engineering-team"),
    );
    // Made by hand, on a group no policy mentions.
    okta.inner.with_grant(
        "ada@company.com",
        Entitlement::new("okta", "group", "finance-admins"),
    );

    let mut config = provision_core::config::load_config(&dir.join("provision.yaml")).unwrap();
    config.systems.get_mut(&"okta".into()).unwrap().enforcement = Enforcement::Authoritative;
    let engine = Engine::builder()
        .deployment(config)
        .policies(dir.join("policies"))
        .factory(provision_sandbox::factory())
        .adapter("okta", Arc::clone(&okta) as Arc<dyn Adapter>)
        .build()
        .await
        .unwrap();

    let plan = engine
        .plan(&roster()[..1], "nightly")
        .await
        .unwrap()
        .confirm_blast_radius(usize::MAX)
        .unwrap();
    let okta_ops: Vec<String> = plan
        .operations
        .iter()
        .filter(|op| op.system.as_str() == "okta")
        .map(|op| op.id.0.clone())
        .collect();
    assert_eq!(
        okta_ops,
        ["e1/okta/revoke/group/finance-admins"],
        "{plan:#?}"
    );
    engine.apply(&plan).await.unwrap();
    assert!(
        !okta
            .inner
            .snapshot()
            .grants
            .iter()
            .any(|(_, e)| e.resource == "finance-admins")
    );
}

#[tokio::test]
async fn a_plan_over_the_blast_radius_is_refused_until_confirmed() {
    let dir = example(
        "blast",
        &DEPLOYMENT.replace("max_identities: 10", "max_identities: 1"),
    );
    let engine = engine(&dir).await.unwrap();
    let plan = engine
        .plan(&roster(), "hr:sync")
        .await
        .unwrap()
        .approve()
        .unwrap();
    engine.apply(&plan).await.unwrap();

    // A broken export: both engineers leave at once.
    let mut everyone_leaves = roster();
    for person in &mut everyone_leaves {
        person.status = provision_core::model::EmploymentStatus::Terminated {
            effective: chrono::Utc::now(),
        };
    }
    let guarded = engine.plan(&everyone_leaves, "hr:export").await.unwrap();
    let refused = guarded.exceeded().cloned().expect("refused");
    assert_eq!(refused.identities, 2);
    let err = guarded.approve().unwrap_err();
    assert_eq!(err, refused);
}

/// Everyone in `roster()` terminated now.
fn everyone_terminated() -> Vec<Identity> {
    let mut people = roster();
    for person in &mut people {
        person.status = provision_core::model::EmploymentStatus::Terminated {
            effective: chrono::Utc::now(),
        };
    }
    people
}

#[tokio::test]
async fn drift_fix_all_over_the_blast_radius_is_refused_until_confirmed_for_its_count() {
    let deployment = DEPLOYMENT
        .replace("max_identities: 10", "max_identities: 1")
        .replace(
            "settings: {preset: okta, org_url: https://example.okta.invalid}",
            "settings: {preset: okta, org_url: https://example.okta.invalid}\n    drift_remediation: fix_all",
        )
        .replace(
            "settings: {preset: google}",
            "settings: {preset: google}\n    drift_remediation: fix_all",
        );
    let dir = example("drift-blast", &deployment);
    let engine = engine(&dir).await.unwrap();
    let joined = engine
        .plan(&roster(), "hr:sync")
        .await
        .unwrap()
        .approve()
        .unwrap();
    engine.apply(&joined).await.unwrap();

    // Both engineers are terminated in HR, and nobody ran the leaver plan: drift finds
    // their live accounts, and `fix_all` would take access from both.
    let leavers = everyone_terminated();
    let drift = engine.drift(&leavers).await.unwrap();
    assert!(drift.has_drift(), "{drift}");
    let guarded = engine
        .remediation(&drift, &leavers, "drift:fix")
        .await
        .unwrap();
    assert!(!guarded.preview().is_empty());
    let refused = guarded
        .exceeded()
        .cloned()
        .expect("over max_identities = 1");
    assert_eq!(refused.identities, 2);
    assert_eq!(guarded.clone().approve().unwrap_err(), refused);

    // A person who expected one identity is still refused: two is a larger surprise.
    let one = guarded.clone().confirm_blast_radius(1).unwrap_err();
    assert_eq!(one.limit, provision_core::planner::BlastLimit::Confirmed(1));
    assert_eq!(one.identities, 2);

    // Confirmed for two, it runs, and the next drift run finds nothing to fix.
    let confirmed = guarded.confirm_blast_radius(2).unwrap();
    let report = engine.apply(&confirmed).await.unwrap();
    assert!(report.is_complete(), "{report}");
    let again = engine.drift(&leavers).await.unwrap();
    let fixes = engine
        .remediation(&again, &leavers, "drift:fix")
        .await
        .unwrap();
    assert!(
        fixes.preview().is_empty(),
        "{:?}",
        fixes.preview().operations
    );
}

#[tokio::test]
async fn the_engine_refuses_a_plan_approved_against_looser_limits_than_its_own() {
    let dir = example(
        "loose",
        &DEPLOYMENT.replace("max_identities: 10", "max_identities: 1"),
    );
    let engine = engine(&dir).await.unwrap();
    let joined = engine
        .plan(&roster(), "hr:sync")
        .await
        .unwrap()
        .approve()
        .unwrap();
    engine.apply(&joined).await.unwrap();

    // A caller guards the leaver plan with limits of its own making (none at all).
    let leavers = everyone_terminated();
    let plan = engine
        .plan(&leavers, "hr:export")
        .await
        .unwrap()
        .preview()
        .clone();
    let removals = plan.operations.len();
    let loose = provision_core::config::BlastRadius {
        max_identities: None,
        max_share: None,
        max_operations: None,
    };
    let approved =
        provision_core::planner::ApprovedPlan::within_limits(plan, leavers.len(), &loose).unwrap();
    let err = engine.apply(&approved).await.unwrap_err();
    let EngineError::Executor(provision_core::executor::ExecutorError::BlastRadius(e)) = &err
    else {
        panic!("expected the executor's blast-radius refusal, got {err}");
    };
    assert_eq!(e.identities, 2);
    assert!(err.to_string().contains("max_identities = 1"), "{err}");

    // Nothing reached a system: the same leaver plan is still to do.
    let still = engine.plan(&leavers, "hr:export").await.unwrap();
    assert_eq!(still.preview().operations.len(), removals);
}

/// A custom adapter that writes its own type, not the system's name in
/// `provision.yaml`, into every grant it reads (the bug of issue 29: renaming a system
/// made every later plan re-grant everything).
struct WritesItsType {
    inner: Arc<SandboxSystem>,
}

#[async_trait]
impl Adapter for WritesItsType {
    fn descriptor(&self) -> &SystemDescriptor {
        self.inner.descriptor()
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let mut page = self.inner.read_grants(resource, cursor).await?;
        for grant in &mut page.items {
            grant.entitlement.system = "acme-idp".into();
        }
        Ok(page)
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        self.inner.execute(op, account).await
    }
}

#[tokio::test]
async fn the_engine_names_the_system_on_what_an_adapter_reads() {
    let dir = example("its-type", DEPLOYMENT);
    let okta = Arc::new(WritesItsType {
        inner: Arc::new(provision_sandbox::presets::okta().sandbox("okta", Default::default())),
    });
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_sandbox::factory()])
        .adapter("okta", Arc::clone(&okta) as Arc<dyn Adapter>)
        .build()
        .await
        .unwrap();
    let plan = engine
        .plan(&roster(), "hr:sync")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let report = engine.apply(&plan).await.unwrap();
    assert_eq!(report.totals.failed, 0, "{report}");
    let again = engine.plan(&roster(), "hr:sync").await.unwrap();
    assert!(
        again.preview().is_empty(),
        "grants read as acme-idp/... were taken for missing okta/... ones: {:#?}",
        again.preview().operations
    );
    let observed = engine.observe(&roster()).await.unwrap();
    let ada = &observed.actual.identities[&"e1".into()];
    assert!(
        ada.grants
            .contains(&Entitlement::new("okta", "group", "engineering-team")),
        "{:?}",
        ada.grants
    );
}
