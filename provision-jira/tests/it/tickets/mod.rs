//! `adapter: jira-tickets` against the fake issue tracker (`fake.rs`): pending until
//! done, a refusal with the resolver's comment, one issue per person per event, the
//! key surviving a restart, the deadline, a 429, secrets; every request checked
//! against the trimmed issue spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fake;
mod lifecycle;

use std::sync::Arc;

use chrono::TimeZone;
use provision_core::adapter::{
    Adapter, AdapterError, CheckStatus, Effect, read_all_accounts, read_all_grants,
};
use provision_core::clock::FixedClock;
use provision_core::model::{
    AccountProfile, AccountRef, AccountState, Entitlement, IdentityId, Operation, OperationKind,
    Priority, Reason, ReasonKind, SystemName,
};
use provision_jira::tickets::TicketAdapter;
use provision_jira::tickets::config::{TicketConfig, parse_kinds};
use wiremock::MockServer;

use crate::support::{self, EMAIL, TOKEN};
use fake::FakeTickets;

pub fn config(uri: &str) -> TicketConfig {
    TicketConfig::builder(uri, EMAIL, TOKEN, "PAY")
        .kinds(parse_kinds("payroll", "role").unwrap())
        .accounts(true)
        .system_name("payroll")
        .build()
        .unwrap()
}

async fn start() -> (MockServer, FakeTickets, TicketAdapter) {
    let server = MockServer::start().await;
    let fake = FakeTickets::default();
    fake.mount(&server).await;
    let adapter = TicketAdapter::new(config(&server.uri())).unwrap();
    (server, fake, adapter)
}

fn role(name: &str) -> Entitlement {
    Entitlement::new("payroll", "role", name)
}

pub fn op(identity: &str, kind: OperationKind, event: &str, reason: ReasonKind) -> Operation {
    let identity = IdentityId::new(identity);
    let system = SystemName::new("payroll");
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        login: format!("{identity}@example.com"),
        identity,
        system,
        kind,
        reason: Reason {
            kind: reason,
            policies: vec!["Finance payroll".into()],
            event: Some(event.to_owned()),
            detail: "policy 'Finance payroll' matched department=Finance".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

fn create(identity: &str, event: &str) -> Operation {
    op(
        identity,
        OperationKind::CreateAccount {
            profile: AccountProfile::new(
                format!("{identity}@example.com"),
                format!("{identity}@example.com"),
                "Ada Lovelace",
            ),
        },
        event,
        ReasonKind::PolicyGrant,
    )
}

fn grant(identity: &str, r: &str, event: &str) -> Operation {
    op(
        identity,
        OperationKind::Grant {
            entitlement: role(r),
        },
        event,
        ReasonKind::PolicyGrant,
    )
}

fn account(identity: &str) -> AccountRef {
    AccountRef::by_login(format!("{identity}@example.com"))
}

/// The key a pending answer names.
fn pending_key(result: Result<provision_core::adapter::Applied, AdapterError>) -> String {
    match result {
        Err(AdapterError::Pending { error, .. }) => error.code.expect("the key as the code"),
        other => panic!("expected pending, got {other:?}"),
    }
}

async fn posts(server: &MockServer) -> usize {
    support::writes(server)
        .await
        .iter()
        .filter(|w| w.starts_with("POST "))
        .count()
}

#[tokio::test]
async fn a_joiners_operations_open_one_issue_and_stay_pending_until_done() {
    let (server, fake, adapter) = start().await;
    let ada = account("ada");
    let key = pending_key(adapter.execute(&create("ada", "hire e1"), &ada).await);
    let again = pending_key(
        adapter
            .execute(&grant("ada", "approver", "hire e1"), &ada)
            .await,
    );
    assert_eq!(key, again, "one issue per person per event");
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(posts(&server).await, 1, "one create, then one edit");
    let issue = fake.issue(&key);
    let text = fake::description(&issue);
    for needle in [
        "Create an account in payroll for Ada Lovelace",
        "role `approver`",
        "Finance payroll",
        "department=Finance",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    assert!(
        issue.summary.contains("payroll") && issue.summary.contains("hire e1"),
        "{}",
        issue.summary
    );

    // Nothing done yet: pending, then still pending while in progress.
    let g = grant("ada", "approver", "hire e1");
    assert!(matches!(
        adapter.check(&g, &ada).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    fake.start(&key);
    assert!(matches!(
        adapter.check(&g, &ada).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    assert!(
        read_all_accounts(&adapter).await.unwrap().is_empty(),
        "nothing made yet"
    );

    fake.resolve(&key);
    assert_eq!(
        adapter.check(&g, &ada).await.unwrap(),
        CheckStatus::Done {
            external_id: Some("ada@example.com".into())
        }
    );
    assert_eq!(
        adapter.operation_note(&g.id).as_deref(),
        Some(format!("Jira issue {key}").as_str())
    );
    let accounts = read_all_accounts(&adapter).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].state, AccountState::Active);
    let holders = read_all_grants(&adapter, &role("approver").resource_ref())
        .await
        .unwrap();
    assert_eq!(holders.len(), 1, "{holders:?}");

    // Asked again (a later run): already in place, no second issue.
    let applied = adapter.execute(&g, &ada).await.unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(posts(&server).await, 1);
    fake::assert_conform(&server).await;
}

#[tokio::test]
async fn a_refused_ticket_fails_the_operation_with_the_resolvers_comment() {
    let (server, fake, adapter) = start().await;
    let ada = account("ada");
    let g = grant("ada", "approver", "hire e1");
    let key = pending_key(adapter.execute(&g, &ada).await);
    fake.reject(
        &key,
        "Won't Do",
        "Grace Hopper",
        "Contractors are paid by the agency, not by us.",
    );
    let Err(AdapterError::Permanent { error }) = adapter.check(&g, &ada).await else {
        panic!("a refusal is a failed operation")
    };
    assert_eq!(error.code.as_deref(), Some("Won't Do"));
    for needle in [
        key.as_str(),
        "Grace Hopper",
        "Contractors are paid by the agency",
    ] {
        assert!(
            error.message.contains(needle),
            "{needle:?} not in {}",
            error.message
        );
    }
    // Asked again: the refusal stands, no second issue.
    let Err(AdapterError::Permanent { error: again }) = adapter.execute(&g, &ada).await else {
        panic!("the refusal stands")
    };
    assert_eq!(again.message, error.message);
    assert_eq!(posts(&server).await, 1);
    assert!(
        read_all_grants(&adapter, &role("approver").resource_ref())
            .await
            .unwrap()
            .is_empty()
    );
    fake::assert_conform(&server).await;
}

#[tokio::test]
async fn a_leaver_gets_one_issue_not_one_per_grant() {
    let (server, fake, adapter) = start().await;
    let ada = account("ada");
    let joiner = pending_key(adapter.execute(&create("ada", "hire e1"), &ada).await);
    for r in ["approver", "viewer", "exporter"] {
        pending_key(adapter.execute(&grant("ada", r, "hire e1"), &ada).await);
    }
    fake.resolve(&joiner);
    let leave = "termination e1";
    let mut ops = vec![op(
        "ada",
        OperationKind::SuspendAccount,
        leave,
        ReasonKind::Termination,
    )];
    for r in ["approver", "viewer", "exporter"] {
        ops.push(op(
            "ada",
            OperationKind::Revoke {
                entitlement: role(r),
            },
            leave,
            ReasonKind::Termination,
        ));
    }
    // Concurrently, as the executor sends them.
    let results = futures::future::join_all(ops.iter().map(|o| adapter.execute(o, &ada))).await;
    let keys: std::collections::BTreeSet<String> = results.into_iter().map(pending_key).collect();
    assert_eq!(keys.len(), 1, "one issue for the leaver: {keys:?}");
    assert_eq!(fake.issues().len(), 2, "the joiner's and the leaver's");
    assert_eq!(posts(&server).await, 2);
    let leaver = keys.into_iter().next().unwrap();
    let text = fake::description(&fake.issue(&leaver));
    assert!(
        text.contains("Disable ada@example.com's account in payroll"),
        "{text}"
    );
    assert_eq!(text.matches("Remove role").count(), 3, "{text}");

    fake.resolve(&leaver);
    let accounts = read_all_accounts(&adapter).await.unwrap();
    assert_eq!(accounts[0].state, AccountState::Suspended);
    let held = provision_core::adapter::read_all_account_grants(
        &adapter,
        &SystemName::new("payroll"),
        &ada,
    )
    .await
    .unwrap();
    assert!(held.is_empty(), "{held:?}");
    fake::assert_conform(&server).await;
}

#[tokio::test]
async fn the_key_survives_a_restart_and_no_second_issue_is_opened() {
    let (server, fake, first) = start().await;
    let ada = account("ada");
    // Other events' issues for the same person: the search pages (two a page).
    for (n, event) in ["hire e1", "transfer e1", "review e1"].iter().enumerate() {
        pending_key(
            first
                .execute(&grant("ada", &format!("r{n}"), event), &ada)
                .await,
        );
    }
    let g = grant("ada", "approver", "nightly reconcile");
    let key = pending_key(first.execute(&g, &ada).await);
    let token = first
        .pending_resume_token(&g.id)
        .expect("the key for the journal");
    assert_eq!(token, key);

    // A restarted process handed the token checks that issue directly.
    let second = TicketAdapter::new(config(&server.uri())).unwrap();
    second.resume_pending(&g.id, &token);
    let before = support::log(&server).await.len();
    fake.resolve(&key);
    assert!(matches!(
        second.check(&g, &ada).await.unwrap(),
        CheckStatus::Done { .. }
    ));
    let log = support::log(&server).await;
    assert!(
        log[before..]
            .iter()
            .all(|l| l.contains(&format!("/issue/{key}"))),
        "{:?}",
        &log[before..]
    );

    // A process without the token finds the issue by its label, across pages.
    let third = TicketAdapter::new(config(&server.uri())).unwrap();
    let review = grant("ada", "r2", "review e1"); // on the second page
    let again = pending_key(third.execute(&review, &ada).await);
    assert_eq!(fake.issues().len(), 4, "no second issue for one operation");
    assert!(fake.issues().iter().any(|i| i.key == again));
    let searches = support::log(&server)
        .await
        .iter()
        .filter(|l| l.contains("/search/jql"))
        .count();
    assert!(searches >= 2, "the person's issues came in pages");
    fake::assert_conform(&server).await;
}

#[tokio::test]
async fn an_issue_open_past_its_deadline_fails_as_overdue() {
    let server = MockServer::start().await;
    let fake = FakeTickets::default();
    fake.mount(&server).await;
    let thursday = chrono::Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
    fake.set_now(thursday);
    let clock = Arc::new(FixedClock::new(thursday));
    let adapter = TicketAdapter::new(config(&server.uri()))
        .unwrap()
        .with_clock(clock.clone());
    let ada = account("ada");
    let g = grant("ada", "approver", "hire e1");
    let key = pending_key(adapter.execute(&g, &ada).await);
    // Saturday: still within two business days.
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap());
    assert!(matches!(
        adapter.check(&g, &ada).await.unwrap(),
        CheckStatus::Pending { .. }
    ));
    // Monday after ten: past them.
    clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 7, 10, 30, 0)
            .unwrap(),
    );
    let Err(AdapterError::Permanent { error }) = adapter.check(&g, &ada).await else {
        panic!("overdue is a finding")
    };
    assert_eq!(error.code.as_deref(), Some("ticket_overdue"));
    assert!(
        error.message.contains(&key) && error.message.contains("2 business days"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_429_says_when_to_come_back() {
    let (_server, fake, adapter) = start().await;
    fake.state.lock().unwrap().throttle = 1;
    let Err(AdapterError::RateLimited { info, error }) = adapter
        .execute(&grant("ada", "approver", "hire e1"), &account("ada"))
        .await
    else {
        panic!("a 429 is rate limited")
    };
    assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(7)));
    assert_eq!(error.code.as_deref(), Some("jira-burst-based"));
    assert!(fake.issues().is_empty());
}

#[tokio::test]
async fn the_api_token_never_shows() {
    let (server, _fake, adapter) = start().await;
    let debug = format!("{adapter:?} {:?}", config(&server.uri()));
    assert!(!debug.contains(TOKEN), "{debug}");
    // A wrong site answers 401: the error names no credential.
    let wrong = TicketAdapter::new(
        TicketConfig::builder(&server.uri(), "other@example.com", "WRONG-SECRET", "PAY")
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = wrong
        .execute(&grant("ada", "approver", "hire e1"), &account("ada"))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{text}");
    assert!(
        !text.contains("WRONG-SECRET") && !text.contains(TOKEN),
        "{text}"
    );
}

#[tokio::test]
async fn the_factory_needs_project_and_names_the_field() {
    let yaml = "systems:\n  payroll:\n    adapter: jira-tickets\n    settings:\n      site_url: https://acme.atlassian.net\n      email: ops@example.com\n      kinds: role, module=add_module\n";
    let config = provision_core::config::parse_config("provision.yaml", yaml).unwrap();
    let name = SystemName::new("payroll");
    let system = config.systems.get(&name).unwrap();
    let spec = provision_core::adapter::SystemSpec {
        name: &name,
        config: system,
    };
    let descriptor = provision_jira::tickets_factory().descriptor(spec).unwrap();
    assert_eq!(descriptor.adapter_type, "jira-tickets");
    assert!(
        descriptor
            .kinds
            .iter()
            .any(|k| k.kind == "module" && k.actions == ["add_module"])
    );
    let err = provision_jira::tickets_factory()
        .build(spec)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("api_token") || err.contains("project"),
        "{err}"
    );
}

/// The shared conformance suite, each pending write fulfilled by a person resolving
/// every open issue (`conformance::Fulfilled`); a throttled tracker answers the 429
/// scenario. No misconfiguration scenario: a ticket system has no tenant to get wrong
/// beyond its site, which `adapter: jira` covers.
#[tokio::test]
async fn the_conformance_suite_passes_with_a_person_doing_the_work() {
    use provision_testkit::conformance::{self, Fulfilled, Suite};
    let (server, fake, adapter) = start().await;
    let person = fake.clone();
    let fulfilled = Fulfilled::new(
        &adapter,
        Box::new(move |_op| {
            let person = person.clone();
            Box::pin(async move {
                for issue in person.issues() {
                    if issue.category != "done" {
                        person.resolve(&issue.key);
                    }
                }
            })
        }),
    );
    let (_throttled_server, throttled_fake, throttled) = start().await;
    throttled_fake.state.lock().unwrap().throttle = u32::MAX;
    let report = Suite::new(&fulfilled, vec![role("approver"), role("viewer")])
        .create(conformance::profile("ada@example.com", "Ada Lovelace"))
        .throttled(
            &throttled,
            OperationKind::Grant {
                entitlement: role("approver"),
            },
        )
        .run()
        .await;
    println!("{report:?}");
    for scenario in [
        "create_then_found",
        "create_again_adopts",
        "grant_then_revoke",
        "suspend_then_state",
        "not_found_means_absent",
        "rate_limit_honoured",
    ] {
        assert!(report.passed.contains(&scenario), "{scenario}: {report:?}");
    }
    fake::assert_conform(&server).await;
}
