//! The executor against sandbox systems: partial failure, leavers first, pending
#![allow(clippy::unwrap_used)] // tests may unwrap
//! accounts, rate limits, timeouts after commit, external ids, plan checks.

use crate::exec_support;
use std::sync::Arc;
use std::time::Duration;

use exec_support::*;
use provision_core::adapter::{AdapterError, SystemError};
use provision_core::audit::AuditOutcome;
use provision_core::config::SystemConfig;
use provision_core::executor::{
    ChannelSubscriber, ExecutionEvent, ExecutorError, ExternalIds, OperationOutcome, PendingConfig,
};
use provision_core::model::{
    AccountState, Dependency, Entitlement, IdentityId, OperationId, SystemName,
};
use provision_sandbox::{RequestKind, SandboxConfig, SandboxRateLimit, SandboxSystem, presets};

/// Okta with one system-wide budget: these tests are about the system's limit as the
/// server announces it (named budgets, where the first request of each kind probes
/// alone, are covered by `executor_contract`).
fn okta(config: SandboxConfig) -> Arc<SandboxSystem> {
    let mut preset = presets::okta();
    preset.descriptor.rate_budgets.clear();
    Arc::new(preset.sandbox("okta", config))
}

fn slack(config: SandboxConfig) -> Arc<SandboxSystem> {
    Arc::new(presets::slack().sandbox("slack", config))
}

#[tokio::test(start_paused = true)]
async fn permanent_failure_skips_exactly_its_dependents() {
    let okta = okta(SandboxConfig::default());
    let slack = slack(SandboxConfig::default());
    let alice_create = create("alice", "okta");
    okta.fail_permanently(
        &alice_create.id,
        SystemError::new(
            Some(403),
            Some("E0000006".into()),
            "You do not have permission to perform the requested action",
        ),
    );
    let p = plan(vec![
        alice_create.clone(),
        grant("alice", "okta", "group", "engineering"),
        grant("alice", "okta", "group", "vpn"),
        create("bob", "okta"),
        grant("bob", "okta", "group", "engineering"),
        create("alice", "slack"),
        grant("alice", "slack", "channel", "#engineering"),
    ]);
    let audit = Arc::new(MemAudit::default());
    let journal = Arc::new(MemJournal::default());
    let exec = builder(&[&okta, &slack])
        .audit_log(audit.clone())
        .journal(journal.clone())
        .build()
        .unwrap();
    let report = exec.apply(&run("r1"), &approved(&p)).await.unwrap();

    let outcome = |i: usize| {
        report
            .operation(&p.operations[i].id)
            .unwrap()
            .outcome
            .clone()
    };
    match outcome(0) {
        OperationOutcome::Failed {
            error: AdapterError::Permanent { error },
        } => {
            assert_eq!(error.status, Some(403));
            assert_eq!(error.code.as_deref(), Some("E0000006"));
        }
        other => panic!("expected the create to fail permanently, got {other:?}"),
    }
    for i in [1, 2] {
        assert_eq!(
            outcome(i),
            OperationOutcome::Skipped {
                because: alice_create.id.clone()
            }
        );
    }
    for i in [3, 4, 5, 6] {
        assert_eq!(
            outcome(i),
            OperationOutcome::Succeeded,
            "{}",
            p.operations[i].id
        );
    }
    assert_eq!(
        (
            report.totals.succeeded,
            report.totals.failed,
            report.totals.skipped
        ),
        (4, 1, 2)
    );
    assert!((report.success_rate() - 4.0 / 7.0).abs() < 1e-9);
    // Nothing of the skipped operations reached the system.
    assert!(
        okta.snapshot()
            .grants
            .iter()
            .all(|(login, _)| login != "alice@example.com")
    );
    assert!(
        okta.stats()
            .log
            .iter()
            .all(|e| e.operation.as_ref() != Some(&p.operations[1].id))
    );
    // The audit log has the failure with the system's own text, and no event for skipped work.
    let events = audit.events();
    assert_eq!(events.len(), 5);
    let failed = events
        .iter()
        .find(|e| e.operation == alice_create.id)
        .unwrap();
    assert_eq!(
        failed.outcome,
        AuditOutcome::Failed {
            class: "permanent".into(),
            error: "HTTP 403 E0000006: You do not have permission to perform the requested action"
                .into()
        }
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor == "test-suite" && e.run == run("r1"))
    );
    // The report reads well.
    let text = report.to_string();
    assert!(
        text.contains("skipped because alice/okta/create_account did not succeed"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn leaver_work_goes_before_queued_normal_work() {
    let okta = okta(SandboxConfig {
        latency: Duration::from_millis(100),
        ..SandboxConfig::default()
    });
    let mut ops = Vec::new();
    for i in 0..20 {
        let person = format!("p{i}");
        okta.with_account(&login(&person), AccountState::Active);
        ops.push(grant(&person, "okta", "group", "engineering"));
    }
    okta.with_account(&login("leaver"), AccountState::Active);
    ops.push(revoke_sessions("leaver", "okta"));
    ops.push(suspend("leaver", "okta"));
    let p = plan(ops);
    let mut config = SystemConfig::new("sandbox");
    config.concurrency = Some(2);
    let exec = provision_core::executor::Executor::builder()
        .system(
            "okta",
            okta.clone() as Arc<dyn provision_core::adapter::Adapter>,
            config,
        )
        .build()
        .unwrap();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    assert!(report.is_complete());
    let writes: Vec<_> = okta
        .stats()
        .log
        .into_iter()
        .filter(|e| e.kind == RequestKind::Write)
        .collect();
    let first_two: Vec<String> = writes[..2]
        .iter()
        .map(|e| e.operation.clone().unwrap().0)
        .collect();
    assert_eq!(
        first_two,
        vec![
            "leaver/okta/revoke_sessions".to_owned(),
            "leaver/okta/suspend_account".to_owned()
        ]
    );
    let snap = okta.snapshot();
    assert_eq!(snap.accounts["leaver@example.com"], AccountState::Suspended);
    assert!(!snap.sessions.contains("leaver@example.com"));
}

#[tokio::test(start_paused = true)]
async fn leaver_overtakes_a_rate_limited_backlog() {
    // 30 joiner grants queue behind a 5-per-second limit; the leaver's suspension,
    // last in the plan, goes in the first window.
    let okta = okta(SandboxConfig {
        rate_limit: Some(SandboxRateLimit {
            requests: 5,
            window: Duration::from_secs(1),
        }),
        ..SandboxConfig::default()
    });
    let mut ops = Vec::new();
    for i in 0..30 {
        let person = format!("p{i}");
        okta.with_account(&login(&person), AccountState::Active);
        ops.push(grant(&person, "okta", "group", "engineering"));
    }
    okta.with_account(&login("leaver"), AccountState::Active);
    ops.push(suspend("leaver", "okta"));
    let p = plan(ops);
    let exec = builder(&[&okta]).build().unwrap();
    let start = tokio::time::Instant::now();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    assert!(report.is_complete());
    let log = okta.stats().log;
    let suspend_at = log
        .iter()
        .find(|e| {
            e.operation
                .as_ref()
                .is_some_and(|o| o.0.contains("suspend"))
        })
        .unwrap()
        .at;
    assert!(
        suspend_at - start < Duration::from_millis(10),
        "leaver waited {:?}",
        suspend_at - start
    );
}

#[tokio::test(start_paused = true)]
async fn pending_until_sso_login_succeeds_when_the_login_comes_in_time() {
    let gitlab = Arc::new(presets::gitlab().sandbox(
        "gitlab",
        SandboxConfig {
            pending_recheck: Duration::from_secs(5),
            ..SandboxConfig::default()
        },
    ));
    let p = plan(vec![
        create("sarah", "gitlab"),
        grant("sarah", "gitlab", "group", "engineering"),
    ]);
    let exec = builder(&[&gitlab])
        .pending(PendingConfig {
            interval: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        })
        .build()
        .unwrap();
    let g = gitlab.clone();
    let login_task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(42)).await;
        g.sso_login("sarah@example.com");
    });
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    login_task.await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.operations[0].outcome, OperationOutcome::Succeeded);
    assert!(
        report.operations[0].checks >= 8,
        "re-checked every 5 s until the login: {}",
        report.operations[0].checks
    );
    let snap = gitlab.snapshot();
    assert!(snap.grants.contains(&(
        "sarah@example.com".into(),
        Entitlement::new("gitlab", "group", "engineering")
    )));
    assert_eq!(gitlab.stats().max_creates_per_login(), 1);
}

#[tokio::test(start_paused = true)]
async fn pending_past_the_deadline_is_reported_pending_not_failed() {
    let gitlab = Arc::new(presets::gitlab().sandbox("gitlab", SandboxConfig::default()));
    let create_op = create("sarah", "gitlab");
    let p = plan(vec![
        create_op.clone(),
        grant("sarah", "gitlab", "group", "engineering"),
    ]);
    let audit = Arc::new(MemAudit::default());
    let (sub, mut events) = ChannelSubscriber::new();
    let exec = builder(&[&gitlab])
        .pending(PendingConfig {
            interval: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        })
        .audit_log(audit.clone())
        .subscriber(Arc::new(sub))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(60) && took < Duration::from_secs(70),
        "{took:?}"
    );
    assert_eq!(report.operations[0].outcome, OperationOutcome::Pending);
    assert_eq!(
        report.operations[1].outcome,
        OperationOutcome::Skipped {
            because: create_op.id.clone()
        }
    );
    assert_eq!((report.totals.pending, report.totals.failed), (1, 0));
    assert_eq!(audit.events()[0].outcome, AuditOutcome::Pending);
    let mut saw_final_pending = false;
    while let Ok(e) = events.try_recv() {
        if let ExecutionEvent::Pending {
            final_: true,
            operation,
        } = e
        {
            saw_final_pending = operation == create_op.id;
        }
    }
    assert!(saw_final_pending);
}

#[tokio::test(start_paused = true)]
async fn after_a_429_the_system_never_sees_more_than_its_limit_and_others_keep_working() {
    let limit = 5;
    let okta = okta(SandboxConfig {
        latency: Duration::from_millis(10),
        rate_limit: Some(SandboxRateLimit {
            requests: limit,
            window: Duration::from_secs(1),
        }),
        ..SandboxConfig::default()
    });
    let slack = slack(SandboxConfig {
        latency: Duration::from_millis(50),
        ..SandboxConfig::default()
    });
    let mut ops = Vec::new();
    for i in 0..40 {
        let person = format!("p{i}");
        okta.with_account(&login(&person), AccountState::Active);
        ops.push(grant(&person, "okta", "group", "engineering"));
    }
    for i in 0..20 {
        let person = format!("s{i}");
        slack.with_account(&login(&person), AccountState::Active);
        ops.push(grant(&person, "slack", "channel", "#general"));
    }
    let p = plan(ops);
    // The executor is not told Okta's limit and may send 8 at once: the first burst is throttled.
    let (sub, mut events) = ChannelSubscriber::new();
    let mut okta_config = SystemConfig::new("sandbox");
    okta_config.concurrency = Some(8);
    let mut slack_config = SystemConfig::new("sandbox");
    slack_config.concurrency = Some(1);
    let exec = provision_core::executor::Executor::builder()
        .system(
            "okta",
            okta.clone() as Arc<dyn provision_core::adapter::Adapter>,
            okta_config,
        )
        .system(
            "slack",
            slack.clone() as Arc<dyn provision_core::adapter::Adapter>,
            slack_config,
        )
        .retry(fast_retry())
        .subscriber(Arc::new(sub))
        .build()
        .unwrap();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    assert!(report.is_complete(), "{report}");

    let stats = okta.stats();
    let first_429 = stats
        .first_rate_limited()
        .expect("the first burst is throttled");
    let windows = okta.requests_per_window();
    let first_429_window = windows.iter().find(|w| w.rejected > 0).unwrap().index;
    for w in windows.iter().filter(|w| w.index > first_429_window) {
        assert!(
            w.requests <= limit,
            "window {} saw {} requests (limit {limit})",
            w.index,
            w.requests
        );
        assert_eq!(w.rejected, 0);
    }
    assert_eq!(
        stats.rate_limited,
        windows.iter().map(|w| u64::from(w.rejected)).sum::<u64>()
    );
    assert_eq!(okta.snapshot().grants.len(), 40);
    // Slack kept going while Okta was paused.
    let okta_resumed = stats
        .log
        .iter()
        .find(|e| e.at > first_429 + Duration::from_millis(20))
        .unwrap()
        .at;
    let slack_during_pause = slack
        .stats()
        .log
        .iter()
        .filter(|e| e.at > first_429 && e.at < okta_resumed)
        .count();
    assert!(
        slack_during_pause >= 10,
        "slack requests during okta's pause: {slack_during_pause}"
    );
    let mut throttled = false;
    while let Ok(e) = events.try_recv() {
        throttled |= matches!(e, ExecutionEvent::SystemThrottled { ref system, .. } if system.as_str() == "okta");
    }
    assert!(throttled, "a SystemThrottled event for okta");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_after_commit_is_confirmed_not_repeated() {
    let okta = okta(SandboxConfig {
        timeout_after_commit_rate: 1.0,
        max_consecutive_failures: Some(1),
        require_external_id: true,
        ..SandboxConfig::default()
    });
    let p = plan(vec![
        create("alice", "okta"),
        grant("alice", "okta", "group", "engineering"),
    ]);
    let journal = Arc::new(MemJournal::default());
    let exec = builder(&[&okta]).journal(journal.clone()).build().unwrap();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(okta.stats().max_creates_per_login(), 1);
    // The create was sent once, then checked; its id reached the grant (which needs it).
    assert_eq!(report.operations[0].attempts, 1);
    assert_eq!(report.operations[0].checks, 1);
    assert_eq!(report.operations[0].outcome, OperationOutcome::Succeeded);
    assert_eq!(journal.attempts(&run("r"))["alice/okta/create_account"], 1);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_within_the_budget_then_fail() {
    let okta = okta(SandboxConfig {
        transient_failure_rate: 1.0,
        ..SandboxConfig::default()
    });
    okta.with_account(&login("alice"), AccountState::Active);
    let p = plan(vec![grant("alice", "okta", "group", "engineering")]);
    let exec = builder(&[&okta]).build().unwrap();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    let op = &report.operations[0];
    assert_eq!(op.attempts, fast_retry().max_attempts);
    match &op.outcome {
        OperationOutcome::Failed {
            error: AdapterError::Transient { error, .. },
        } => assert_eq!(error.status, Some(503)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn revoking_what_is_already_gone_is_a_success() {
    let okta = okta(SandboxConfig::default());
    okta.with_account(&login("alice"), AccountState::Active);
    let p = plan(vec![revoke("alice", "okta", "group", "never-had-it")]);
    let exec = builder(&[&okta]).build().unwrap();
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    assert_eq!(
        report.operations[0].outcome,
        OperationOutcome::AlreadyInPlace
    );
}

#[tokio::test(start_paused = true)]
async fn known_external_ids_are_passed_to_adapters() {
    let okta = okta(SandboxConfig {
        require_external_id: true,
        ..SandboxConfig::default()
    });
    let id = okta.with_account(&login("alice"), AccountState::Active);
    let p = plan(vec![grant("alice", "okta", "group", "engineering")]);
    let exec = builder(&[&okta]).build().unwrap();
    // Without the id the sandbox (like Okta) refuses.
    let report = exec.apply(&run("r1"), &approved(&p)).await.unwrap();
    assert!(matches!(
        report.operations[0].outcome,
        OperationOutcome::Failed {
            error: AdapterError::Invalid { .. }
        }
    ));
    let mut ids = ExternalIds::new();
    ids.insert(IdentityId::new("alice"), SystemName::new("okta"), id);
    let report = exec
        .apply_with_ids(&run("r2"), &approved(&p), ids)
        .await
        .unwrap();
    assert_eq!(report.operations[0].outcome, OperationOutcome::Succeeded);
}

#[tokio::test]
async fn bad_plans_are_refused_with_a_clear_error() {
    let okta = okta(SandboxConfig::default());
    let exec = builder(&[&okta]).build().unwrap();
    let p = plan(vec![grant("alice", "jira", "group", "x")]);
    let err = exec.apply(&run("r"), &approved(&p)).await.unwrap_err();
    assert!(matches!(err, ExecutorError::UnknownSystem { .. }));
    assert!(
        err.to_string()
            .contains("system `jira`, which is not registered"),
        "{err}"
    );

    let a = grant("alice", "okta", "group", "a");
    let b = grant("alice", "okta", "group", "b");
    let mut p = plan(vec![a.clone(), b.clone()]);
    p.dependencies = vec![
        Dependency {
            before: a.id.clone(),
            after: b.id.clone(),
        },
        Dependency {
            before: b.id.clone(),
            after: a.id.clone(),
        },
    ];
    let err = exec.apply(&run("r"), &approved(&p)).await.unwrap_err();
    assert!(matches!(err, ExecutorError::Cycle(_)), "{err}");

    p.dependencies = vec![Dependency {
        before: OperationId("ghost".into()),
        after: a.id.clone(),
    }];
    let err = exec.apply(&run("r"), &approved(&p)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("operation ghost is not in the plan"),
        "{err}"
    );

    let mut config = SystemConfig::new("sandbox");
    config.rate_limit = Some(provision_core::config::RateLimitConfig {
        requests: 0,
        per_seconds: 60,
        burst: None,
    });
    let err = provision_core::executor::Executor::builder()
        .system(
            "okta",
            okta.clone() as Arc<dyn provision_core::adapter::Adapter>,
            config,
        )
        .build()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("system `okta`: rate_limit:"),
        "{err}"
    );
}

/// A pending account (gitlab: it appears on first SSO login) whose re-checks meet 503s
/// long after the retry window of its first attempt: it stays pending and succeeds when
/// the person logs in. (It was failed as "transient", its grant skipped for good, though
/// the system had accepted it.)
#[tokio::test(start_paused = true)]
async fn a_pending_operation_whose_checks_meet_503s_stays_pending_not_failed() {
    let gitlab = Arc::new(presets::gitlab().sandbox(
        "gitlab",
        SandboxConfig {
            pending_recheck: Duration::from_secs(5),
            // Every request fails twice with a 503, then goes through.
            transient_failure_rate: 1.0,
            max_consecutive_failures: Some(2),
            ..SandboxConfig::default()
        },
    ));
    let p = plan(vec![
        create("sarah", "gitlab"),
        grant("sarah", "gitlab", "group", "engineering"),
    ]);
    let exec = builder(&[&gitlab])
        .retry(provision_core::executor::RetryConfig {
            max_total_time: Duration::from_secs(5),
            ..fast_retry()
        })
        .pending(PendingConfig {
            interval: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        })
        .build()
        .unwrap();
    let g = gitlab.clone();
    let login_task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(42)).await;
        g.sso_login("sarah@example.com");
    });
    let report = exec.apply(&run("r"), &approved(&p)).await.unwrap();
    login_task.await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert!(gitlab.snapshot().grants.contains(&(
        "sarah@example.com".into(),
        Entitlement::new("gitlab", "group", "engineering")
    )));
}
