//! Evidence through the `Collector` over an `Engine`, over sandbox systems and a small fake adapter
//! with evidence reads: what a compliance engineer checks — each fact mapped to its
//! controls, the same evidence stored once, a leaver's timeliness, stale evidence
//! degrading coverage, the KPIs, the bundle, and bad input refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration as ChronoDuration, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, CollectedEvidence, EvidenceSource, Page,
    RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::audit::{AuditLog, MemoryAuditLog};
use provision_core::engine::Engine;
use provision_core::model::{
    AccountRecord, AccountRef, EmploymentStatus, Entitlement, GrantRecord, Identity, Operation,
    ResourceRecord, ResourceRef, SystemName,
};
use provision_evidence::staleness::StaleEvidence;
use provision_evidence::{
    Collector, CoverageStatus, EvidenceError, EvidenceOptions, EvidenceStore, MemoryEvidenceStore,
    Period,
};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};
use serde_json::json;

const DEPLOYMENT: &str = "\
systems:
  okta:
    adapter: sandbox
    settings: {preset: okta, org_url: https://example.okta.invalid}
  google:
    adapter: sandbox
    settings: {preset: google}
blast_radius: {max_identities: 10, max_share: 1.0}
evidence:
  controls:
    okta.mfa_enrollment: [SOC2-CC6.1, SOX-ITGC-ACCESS]
  systems:
    okta: {stale_after: 2h}
";

const POLICIES: &str = "\
policies:
  - name: Engineering
    triggers:
      - department: Engineering
    provisions:
      - {system: okta, action: add_to_group, target: engineering-team}
      - {system: google, action: add_to_group, target: eng@company.com}
";

fn example(name: &str, deployment: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("provision-evidence-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("provision.yaml"), deployment).unwrap();
    std::fs::write(dir.join("policies/eng.yaml"), POLICIES).unwrap();
    dir
}

/// Okta as the sandbox has it, plus evidence reads answering MFA enrolment for
/// each account it holds (read every time, as the real one would).
struct OktaWithEvidence {
    inner: SandboxSystem,
    reads: Mutex<u32>,
    fail: Mutex<bool>,
    /// Reads still to answer "rate limited, come back in 200 ms".
    throttle: Mutex<u32>,
}

#[async_trait]
impl EvidenceSource for OktaWithEvidence {
    fn evidence_kinds(&self) -> Vec<String> {
        vec!["okta.mfa_enrollment".into(), "okta.password_policy".into()]
    }

    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        *self.reads.lock().unwrap() += 1;
        {
            let mut throttle = self.throttle.lock().unwrap();
            if *throttle > 0 {
                *throttle -= 1;
                return Err(AdapterError::RateLimited {
                    info: RateLimitInfo {
                        retry_after: Some(std::time::Duration::from_millis(200)),
                        ..RateLimitInfo::default()
                    },
                    error: SystemError::new(Some(429), None, "API call exceeded rate limit"),
                });
            }
        }
        if *self.fail.lock().unwrap() {
            return Err(AdapterError::Unauthorized {
                error: SystemError::message("403 E0000006 You do not have permission"),
            });
        }
        let now = Utc::now();
        let mut out = vec![
            CollectedEvidence::new(
                "okta",
                "okta.password_policy",
                now,
                json!({"minLength": 14, "maxAgeDays": 0}),
            )
            .about("00p1"),
        ];
        let mut cursor = None;
        loop {
            let page = self.inner.read_accounts(cursor.as_deref()).await?;
            for a in page.items {
                out.push(
                    CollectedEvidence::new(
                        "okta",
                        "okta.mfa_enrollment",
                        now,
                        json!({"factors": ["webauthn"]}),
                    )
                    .about(a.login),
                );
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Adapter for OktaWithEvidence {
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
        self.inner.read_grants(resource, cursor).await
    }
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.inner.read_account_grants(account, cursor).await
    }
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        self.inner.list_resources(kind, cursor).await
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
    fn evidence_source(&self) -> Option<&dyn EvidenceSource> {
        Some(self)
    }
}

struct World {
    engine: Engine,
    store: MemoryEvidenceStore,
    okta: Arc<OktaWithEvidence>,
    dir: PathBuf,
}

async fn world(name: &str) -> World {
    let dir = example(name, DEPLOYMENT);
    let audit = Arc::new(MemoryAuditLog::new());
    let okta = Arc::new(OktaWithEvidence {
        inner: presets::okta().sandbox("okta", SandboxConfig::default()),
        reads: Mutex::new(0),
        fail: Mutex::new(false),
        throttle: Mutex::new(0),
    });
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_sandbox::factory()])
        .adapter("okta", Arc::clone(&okta) as Arc<dyn Adapter>)
        .audit_log(Arc::clone(&audit) as Arc<dyn AuditLog>)
        .actor("evidence-test")
        .build()
        .await
        .unwrap();
    let store = MemoryEvidenceStore::new(audit);
    World {
        engine,
        store,
        okta,
        dir,
    }
}

impl World {
    fn collector(&self) -> Collector<'_> {
        Collector::new(&self.engine).unwrap()
    }
}

fn roster() -> Vec<Identity> {
    vec![
        Identity::new("e1", "ada@company.com", "Ada").with_attribute("department", "Engineering"),
        Identity::new("e2", "bob@company.com", "Bob").with_attribute("department", "Engineering"),
        Identity::new("e3", "cy@company.com", "Cy").with_attribute("department", "Sales"),
    ]
}

/// Ada and Bob join; then Bob leaves, his termination effective 5 minutes ago.
async fn joiners_then_a_leaver(w: &World) -> Vec<Identity> {
    let mut people = roster();
    let plan = w
        .engine
        .plan(&people, "hr:hire")
        .await
        .unwrap()
        .approve()
        .unwrap();
    w.engine.apply(&plan).await.unwrap();
    people[1].status = EmploymentStatus::Terminated {
        effective: Utc::now() - ChronoDuration::minutes(5),
    };
    let plan = w
        .engine
        .plan(&people, "hr:termination:e2")
        .await
        .unwrap()
        .approve()
        .unwrap();
    w.engine.apply(&plan).await.unwrap();
    people
}

fn everything() -> Period {
    Period::new(
        Utc::now() - ChronoDuration::days(1),
        Utc::now() + ChronoDuration::days(1),
    )
}

#[tokio::test]
async fn a_run_maps_every_fact_to_its_controls_and_a_second_identical_run_stores_nothing_new() {
    let w = world("collect").await;
    let people = joiners_then_a_leaver(&w).await;

    let first = w
        .collector()
        .collect(&w.store, &people, &EvidenceOptions::default())
        .await
        .unwrap();
    assert_eq!(
        *w.okta.reads.lock().unwrap(),
        1,
        "the adapter's evidence read was asked"
    );
    assert!(first.recorded.rows > 0);
    assert_eq!(first.recorded.new_rows, first.recorded.rows);

    let rows = w.store.rows_in(&everything()).await.unwrap();
    let find = |kind: &str, subject: &str| {
        rows.iter()
            .find(|r| {
                r.kind == kind
                    && r.subject.as_deref() == Some(subject)
                    && (kind != "access.listing" || r.system.as_str() == "okta")
            })
            .unwrap_or_else(|| panic!("no {kind} row about {subject}"))
    };
    // The adapter's fact, mapped by the deployment's override.
    let mfa = find("okta.mfa_enrollment", "ada@company.com");
    let ids: Vec<&str> = mfa.controls.iter().map(|c| c.as_str()).collect();
    assert_eq!(ids, ["SOC2-CC6.1", "SOX-ITGC-ACCESS"]);
    assert_eq!(mfa.system, SystemName::new("okta"));
    assert_eq!(mfa.run, first.run);
    assert!(mfa.fingerprint_holds());
    // Default mapping for the rest.
    let policy = find("okta.password_policy", "00p1");
    assert_eq!(policy.controls[0].as_str(), "SOC2-CC6.1");
    let listing = find("access.listing", "e1");
    let grants = listing.data["grants"].as_array().unwrap();
    assert!(
        grants.iter().any(|g| g["entitlement"]
            .as_str()
            .unwrap()
            .contains("engineering-team")
            && g["traced_to"][0] == "policy:Engineering"),
        "{listing:?}"
    );
    let joiner = find("lifecycle.joiner", "e1");
    assert!(joiner.controls.iter().any(|c| c.as_str() == "SOC2-CC6.2"));
    assert!(
        joiner.data["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reason"]["policies"][0] == "Engineering")
    );
    let leaver = find("lifecycle.leaver", "e2");
    assert_eq!(leaver.data["changes"][0]["reason"]["kind"], "termination");
    let timeliness = find("leaver.timeliness", "e2");
    let seconds = timeliness.data["seconds"].as_f64().unwrap();
    assert!((300.0..400.0).contains(&seconds), "{seconds}");
    assert_eq!(timeliness.data["met"], true);
    assert_eq!(timeliness.data["target_seconds"], 900);
    assert!(
        timeliness.data["systems"]["okta"]["complete"]
            .as_bool()
            .unwrap()
    );

    // The same facts again: every row is a duplicate, stored once.
    let second = w
        .collector()
        .collect(&w.store, &people, &EvidenceOptions::default())
        .await
        .unwrap();
    assert_eq!(second.recorded.rows, first.recorded.rows);
    assert_eq!(second.recorded.new_rows, 0);
    assert_eq!(second.recorded.dedup_ratio(), 1.0);
    assert_eq!(
        w.store.rows_in(&everything()).await.unwrap().len(),
        rows.len()
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test]
async fn evidence_older_than_its_threshold_degrades_the_control_and_fires_an_event() {
    let w = world("stale").await;
    let people = roster();
    w.collector()
        .collect(&w.store, &people, &EvidenceOptions::default())
        .await
        .unwrap();
    let now = Utc::now();
    let fresh = w.collector().coverage(&w.store, now, None).await.unwrap();
    assert_eq!(
        fresh.control("SOC2-CC6.1").unwrap().status,
        CoverageStatus::Covered
    );

    // Three hours later: okta's threshold is 2 h, google's the default 6 h.
    let events: Arc<Mutex<Vec<StaleEvidence>>> = Arc::default();
    let sink = Arc::clone(&events);
    let listener = move |e: &StaleEvidence| sink.lock().unwrap().push(e.clone());
    let later = w
        .collector()
        .coverage(&w.store, now + ChronoDuration::hours(3), Some(&listener))
        .await
        .unwrap();
    let cc61 = later.control("SOC2-CC6.1").unwrap();
    assert_eq!(cc61.status, CoverageStatus::Degraded);
    let okta = cc61
        .systems
        .iter()
        .find(|s| s.system.as_str() == "okta")
        .unwrap();
    assert!(okta.stale);
    assert_eq!(okta.threshold_seconds, 7200);
    let google = cc61
        .systems
        .iter()
        .find(|s| s.system.as_str() == "google")
        .unwrap();
    assert!(!google.stale);
    let events = events.lock().unwrap().clone();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.system.as_str() == "okta"));
    assert!(events.iter().any(|e| e.control.as_str() == "SOC2-CC6.1"));

    // Seven hours later everything is stale.
    let stale = w
        .collector()
        .coverage(&w.store, now + ChronoDuration::hours(7), None)
        .await
        .unwrap();
    let cc61 = stale.control("SOC2-CC6.1").unwrap();
    assert!(cc61.systems.iter().all(|s| s.stale));
    // A control nothing supports is missing, not covered.
    assert_eq!(
        stale.control("SOC2-CC7.2").unwrap().status,
        CoverageStatus::Missing
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test]
async fn a_failing_evidence_read_is_named_and_the_systems_listing_is_still_collected() {
    let w = world("readfail").await;
    *w.okta.fail.lock().unwrap() = true;
    let run = w
        .collector()
        .collect(&w.store, &roster(), &EvidenceOptions::default())
        .await
        .unwrap();
    let message = &run.read_failures[&SystemName::new("okta")];
    assert!(message.contains("E0000006"), "{message}");
    // The access listing of okta was still collected.
    assert!(run.systems[&SystemName::new("okta")].rows > 0);
}

#[tokio::test]
async fn a_throttled_evidence_read_goes_through_the_executor_and_is_waited_out() {
    let w = world("throttled").await;
    *w.okta.throttle.lock().unwrap() = 1;
    let okta = SystemName::new("okta");
    let before = w.engine.executor().read_stats(&okta).unwrap();
    let run = w
        .collector()
        .collect(&w.store, &roster(), &EvidenceOptions::default())
        .await
        .unwrap();
    assert!(run.read_failures.is_empty(), "{:?}", run.read_failures);
    assert_eq!(
        *w.okta.reads.lock().unwrap(),
        2,
        "asked again after the 429"
    );
    let after = w.engine.executor().read_stats(&okta).unwrap();
    assert_eq!(after.throttled - before.throttled, 1, "{after:?}");
    let rows = w.store.rows_in(&everything()).await.unwrap();
    assert!(rows.iter().any(|r| r.kind == "okta.password_policy"));
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test]
async fn kpis_and_the_bundle_come_from_the_store() {
    let w = world("bundle").await;
    let people = joiners_then_a_leaver(&w).await;
    // Someone gives Cy (Sales) the engineering group by hand: a grant no policy explains.
    let cy = Entitlement::new("okta", "group", "engineering-team");
    w.okta.inner.with_account(
        "cy@company.com",
        provision_core::model::AccountState::Active,
    );
    w.okta.inner.with_grant("cy@company.com", cy);
    w.collector()
        .collect(&w.store, &people, &EvidenceOptions::default())
        .await
        .unwrap();
    let report = w.engine.drift(&people).await.unwrap();
    w.collector()
        .record_drift(&w.store, &report, "drift-1")
        .await
        .unwrap();

    let kpis = w.collector().kpis(&w.store, everything()).await.unwrap();
    assert_eq!(kpis.provisioning.failed, 0);
    assert_eq!(kpis.provisioning.rate, Some(1.0));
    let untraceable = &kpis.audit_completeness.untraceable;
    assert_eq!(untraceable.len(), 1, "{untraceable:?}");
    assert_eq!(untraceable[0].identity, "e3");
    assert!(untraceable[0].entitlement.contains("engineering-team"));
    assert!(kpis.audit_completeness.share.unwrap() < 1.0);
    let all = &kpis.deprovisioning[0];
    assert_eq!(all.system, "all");
    assert_eq!(all.leavers, 1);
    assert_eq!(all.over_target, 0);
    assert_eq!(kpis.boundary.share, Some(1.0));
    assert!(kpis.request_cycle.is_none());

    let out = w.dir.join("bundle");
    let (bundle, files) = w
        .collector()
        .export(&w.store, everything(), &out)
        .await
        .unwrap();
    let head = bundle.audit_head.clone().unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(
        html.contains(&head.hash),
        "the report carries the chain head"
    );
    assert!(html.contains("SOC2-CC6.1") && html.contains("<svg"));
    assert!(html.contains("grant.untraceable"));
    assert!(!html.contains("src=\"http"), "self-contained");
    let jsonl = std::fs::read_to_string(&files.jsonl).unwrap();
    assert_eq!(jsonl.lines().count(), bundle.rows.len());
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    assert_eq!(csv.lines().count(), bundle.rows.len() + 1);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.manifest).unwrap()).unwrap();
    assert_eq!(manifest["audit_head"]["hash"], head.hash.as_str());
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(jsonl.as_bytes()));
    assert_eq!(manifest["files"]["evidence.jsonl"], sha.as_str());
    assert!(bundle.rows.iter().any(|r| r.kind == "drift.run"));
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test]
async fn an_export_of_an_empty_period_says_so_and_an_altered_row_is_refused() {
    let w = world("empty").await;
    w.collector()
        .collect(&w.store, &roster(), &EvidenceOptions::default())
        .await
        .unwrap();
    let long_ago = Period::new(
        Utc::now() - ChronoDuration::days(400),
        Utc::now() - ChronoDuration::days(365),
    );
    let err = w
        .collector()
        .export(&w.store, long_ago, &w.dir.join("b"))
        .await
        .unwrap_err();
    assert!(matches!(err, EvidenceError::EmptyPeriod { .. }));
    assert!(err.to_string().contains("nothing to export"), "{err}");
    assert!(!w.dir.join("b").exists());

    // A stored row edited behind the API no longer matches its fingerprint.
    let mut row = w.store.rows_in(&everything()).await.unwrap().remove(0);
    row.data = json!({"edited": true});
    let fingerprint = row.fingerprint.clone();
    w.store.overwrite(row).unwrap();
    let err = w
        .collector()
        .export(&w.store, everything(), &w.dir.join("c"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(fingerprint.as_str()), "{err}");
    assert!(!w.dir.join("c").exists());
    let _ = std::fs::remove_dir_all(&w.dir);
}
