//! An adapter's evidence reads go through the executor like every other read: a 429
//! is waited out as the server said, a transient error is retried with backoff, the
//! system's rate limit paces them, and every call is counted in the read stats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, CollectedEvidence, EvidenceSource, Page,
    RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::config::{RateLimitConfig, SystemConfig};
use provision_core::executor::{Executor, ExecutorReadError, RetryConfig};
use provision_core::model::{
    AccountRecord, AccountRef, GrantRecord, Operation, ResourceRecord, ResourceRef, SystemName,
};
use tokio::time::Instant;

/// A system with no accounts whose evidence reads answer from a script, then with
/// one MFA fact; it records when each evidence call came.
struct EvidenceSystem {
    descriptor: SystemDescriptor,
    script: Mutex<VecDeque<AdapterError>>,
    calls: Mutex<Vec<Instant>>,
    with_source: bool,
}

impl EvidenceSystem {
    fn new(script: Vec<AdapterError>) -> Self {
        Self {
            descriptor: SystemDescriptor::new("idp").with_accounts(),
            script: Mutex::new(script.into()),
            calls: Mutex::new(Vec::new()),
            with_source: true,
        }
    }

    fn calls(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl EvidenceSource for EvidenceSystem {
    fn evidence_kinds(&self) -> Vec<String> {
        vec!["idp.mfa_enrollment".into()]
    }

    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        self.calls.lock().unwrap().push(Instant::now());
        if let Some(error) = self.script.lock().unwrap().pop_front() {
            return Err(error);
        }
        Ok(vec![
            CollectedEvidence::new(
                "idp",
                "idp.mfa_enrollment",
                Utc::now(),
                serde_json::json!({"factors": ["webauthn"]}),
            )
            .about("ada@company.com"),
        ])
    }
}

#[async_trait]
impl Adapter for EvidenceSystem {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }
    async fn read_accounts(&self, _: Option<&str>) -> Result<Page<AccountRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }
    async fn read_grants(
        &self,
        _: &ResourceRef,
        _: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }
    async fn read_account_grants(
        &self,
        _: &AccountRef,
        _: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }
    async fn list_resources(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }
    async fn execute(&self, _: &Operation, _: &AccountRef) -> Result<Applied, AdapterError> {
        Err(AdapterError::Unsupported {
            what: "read-only".into(),
        })
    }
    async fn check(&self, _: &Operation, _: &AccountRef) -> Result<CheckStatus, AdapterError> {
        Err(AdapterError::Unsupported {
            what: "read-only".into(),
        })
    }
    fn evidence_source(&self) -> Option<&dyn EvidenceSource> {
        self.with_source.then_some(self as &dyn EvidenceSource)
    }
}

fn throttled(retry_after: Duration) -> AdapterError {
    AdapterError::RateLimited {
        info: RateLimitInfo {
            retry_after: Some(retry_after),
            remaining: Some(0),
            ..RateLimitInfo::default()
        },
        error: SystemError::new(
            Some(429),
            Some("E0000047".into()),
            "API call exceeded rate limit",
        ),
    }
}

fn transient() -> AdapterError {
    AdapterError::Transient {
        error: SystemError::new(Some(503), None, "service unavailable"),
        maybe_applied: false,
    }
}

fn quick_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        ..RetryConfig::default()
    }
}

fn executor(system: &Arc<EvidenceSystem>, rate_limit: Option<RateLimitConfig>) -> Executor {
    let mut config = SystemConfig::new("custom");
    config.rate_limit = rate_limit;
    Executor::builder()
        .retry(quick_retry())
        .system("idp", Arc::clone(system) as Arc<dyn Adapter>, config)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_429_then_a_503_on_an_evidence_read_is_waited_out_retried_and_counted() {
    let system = Arc::new(EvidenceSystem::new(vec![
        throttled(Duration::from_secs(3)),
        transient(),
    ]));
    let executor = executor(&system, None);
    let idp = SystemName::new("idp");
    let started = Instant::now();

    let facts = executor
        .read_evidence(&idp)
        .await
        .unwrap()
        .expect("the adapter has evidence reads");

    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].subject.as_deref(), Some("ada@company.com"));
    let calls = system.calls();
    assert_eq!(calls.len(), 3, "429, 503, then the answer");
    assert!(
        calls[1] - started >= Duration::from_secs(3),
        "the second call waited for the Retry-After: {:?}",
        calls[1] - started
    );
    let stats = executor.read_stats(&idp).unwrap();
    assert_eq!(
        (stats.calls, stats.pages, stats.throttled, stats.retries),
        (3, 1, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn evidence_reads_are_paced_by_the_systems_rate_limit() {
    let system = Arc::new(EvidenceSystem::new(Vec::new()));
    // One request a second, no burst.
    let executor = executor(
        &system,
        Some(RateLimitConfig {
            requests: 1,
            per_seconds: 1,
            burst: Some(1),
        }),
    );
    let idp = SystemName::new("idp");
    let started = Instant::now();
    for _ in 0..3 {
        executor.read_evidence(&idp).await.unwrap().unwrap();
    }
    // The accounts read shares the same limiter.
    executor.read_accounts(&idp).await.unwrap();
    let calls = system.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "four requests at 1/s take three seconds at least: {:?}",
        started.elapsed()
    );
    assert_eq!(executor.read_stats(&idp).unwrap().calls, 4);
}

#[tokio::test(start_paused = true)]
async fn an_error_no_wait_can_fix_fails_the_evidence_read_at_once_with_the_systems_words() {
    let system = Arc::new(EvidenceSystem::new(vec![AdapterError::Unauthorized {
        error: SystemError::message("403 E0000006 You do not have permission"),
    }]));
    let executor = executor(&system, None);
    let idp = SystemName::new("idp");
    let err = executor.read_evidence(&idp).await.unwrap_err();
    assert!(err.to_string().contains("E0000006"), "{err}");
    assert!(matches!(
        err.adapter_error(),
        Some(AdapterError::Unauthorized { .. })
    ));
    assert_eq!(system.calls().len(), 1, "not retried");
    let stats = executor.read_stats(&idp).unwrap();
    assert_eq!((stats.calls, stats.retries), (1, 0));
}

#[tokio::test]
async fn a_system_without_evidence_reads_reads_none_and_an_unknown_system_is_named() {
    let mut plain = EvidenceSystem::new(Vec::new());
    plain.with_source = false;
    let system = Arc::new(plain);
    let executor = executor(&system, None);
    assert!(
        executor
            .read_evidence(&SystemName::new("idp"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        executor.read_stats(&SystemName::new("idp")).unwrap().calls,
        0
    );
    let err = executor
        .read_evidence(&SystemName::new("nowhere"))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecutorReadError::UnknownSystem(_)), "{err}");
}
