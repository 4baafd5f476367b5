//! Limits: `Sforce-Limit-Info` is the daily budget's headroom on every reply;
//! `REQUEST_LIMIT_EXCEEDED` (403) is rate limiting, in the daily budget or, for the
//! concurrent long-running cap, in its own named budget with a short wait.

use provision_core::adapter::{Adapter, AdapterError};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_salesforce::client::{DAILY_LIMIT_RETRY, LONG_RUNNING_RETRY};
use provision_salesforce::descriptor::{BUDGET_DAILY, BUDGET_LONG_RUNNING};
use provision_testkit::conformance::operation;

use crate::support::{FakeSalesforce, Mode, Org};

async fn org() -> (Org, String) {
    let fake = FakeSalesforce::new();
    let uid = fake.add_user("sarah@acme.com", "Sales User");
    fake.add_group("Sales_EMEA");
    (Org::start(fake).await, uid)
}

fn grant() -> OperationKind {
    OperationKind::Grant {
        entitlement: Entitlement::new("salesforce", "group", "Sales_EMEA"),
    }
}

#[tokio::test]
async fn every_reply_reports_the_daily_allocation_left() {
    let (org, uid) = org().await;
    org.fake.set_usage(99_990, 100_000);
    let adapter = org.adapter();
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid),
    };
    let applied = adapter
        .execute(&operation(&adapter, "sarah@acme.com", grant()), &account)
        .await
        .unwrap();
    let info = applied.rate_limit.unwrap();
    assert_eq!(info.bucket.as_deref(), Some(BUDGET_DAILY));
    assert_eq!(info.limit, Some(100_000));
    // The fake counts the id lookup and the write: 99,992 used after the write.
    assert_eq!(info.remaining, Some(8));
    let page = adapter.read_accounts(None).await.unwrap();
    assert!(page.rate_limit.unwrap().remaining.unwrap() < 8);
}

#[tokio::test]
async fn the_daily_limit_and_the_concurrent_cap_are_rate_limits_in_their_budgets() {
    let (org, uid) = org().await;
    let adapter = org.adapter();
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid),
    };
    for (mode, budget, wait) in [
        (Mode::DailyLimit, BUDGET_DAILY, DAILY_LIMIT_RETRY),
        (Mode::LongRunning, BUDGET_LONG_RUNNING, LONG_RUNNING_RETRY),
    ] {
        org.fake.set_mode(mode);
        let e = adapter
            .execute(&operation(&adapter, "sarah@acme.com", grant()), &account)
            .await
            .unwrap_err();
        let AdapterError::RateLimited { info, error } = &e else {
            panic!("{mode:?}: {e:?}")
        };
        assert!(e.is_retryable());
        assert_eq!(info.bucket.as_deref(), Some(budget), "{mode:?}");
        assert_eq!(info.retry_after, Some(wait), "{mode:?}");
        assert_eq!(error.status, Some(403));
        assert_eq!(error.code.as_deref(), Some("REQUEST_LIMIT_EXCEEDED"));
    }
    let names: Vec<&str> = adapter
        .descriptor()
        .rate_budgets
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, [BUDGET_DAILY, BUDGET_LONG_RUNNING]);
}
