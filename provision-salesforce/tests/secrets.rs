//! Secrets (the private key, the client secret, access tokens, the token reply's
//! signature) never reach Debug output, errors or logs. Its own test binary, so no
//! other test's log calls race the capture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/support/mod.rs"]
mod support;

use provision_core::adapter::{Adapter, read_all_accounts};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_salesforce::{SalesforceAdapter, SalesforceConfig};
use provision_testkit::conformance::operation;
use provision_testkit::secrets::{LogCapture, SecretCheck};

use support::{CLIENT_SECRET, CONSUMER_KEY, FakeSalesforce, Mode, Org, private_key};

#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_logs() {
    let logs = LogCapture::start();
    let fake = FakeSalesforce::new();
    let uid = fake.add_user("sarah@acme.com", "Sales User");
    fake.add_group("Sales_EMEA");
    let org = Org::start(fake).await;
    let adapter = org.adapter();
    read_all_accounts(&adapter).await.unwrap();
    org.fake.revoke_tokens();
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid),
    };
    let grant = OperationKind::Grant {
        entitlement: Entitlement::new("salesforce", "group", "Sales_EMEA"),
    };
    adapter
        .execute(
            &operation(&adapter, "sarah@acme.com", grant.clone()),
            &account,
        )
        .await
        .unwrap();
    org.fake.set_mode(Mode::DailyLimit);
    let limited = adapter
        .execute(&operation(&adapter, "sarah@acme.com", grant), &account)
        .await
        .unwrap_err();
    let cc = SalesforceConfig::builder(&org.login.uri())
        .client_credentials(CONSUMER_KEY, CLIENT_SECRET)
        .build()
        .unwrap();
    let cc_adapter = SalesforceAdapter::new(cc.clone()).unwrap();
    org.fake.set_mode(Mode::Normal);
    let refused = SalesforceAdapter::new(
        SalesforceConfig::builder(&org.login.uri())
            .client_credentials(CONSUMER_KEY, "wrong-secret")
            .build()
            .unwrap(),
    )
    .unwrap()
    .read_accounts(None)
    .await
    .unwrap_err();
    assert!(
        logs.text().contains("salesforce request"),
        "the logs were captured"
    );
    let key = private_key();
    let key_body: String = key.lines().nth(1).unwrap().to_owned();
    SecretCheck::new(&[
        CLIENT_SECRET,
        "wrong-secret",
        &key_body,
        "SECRET-ACCESS-TOKEN",
        "SECRET-SIGNATURE-VALUE",
    ])
    .logs(&logs)
    .debug("the adapter", &adapter)
    .debug("the client-credentials adapter", &cc_adapter)
    .debug("the JWT config", &org.config().build().unwrap())
    .debug("the client-credentials config", &cc)
    .value("a rate-limit error", &limited)
    .value("a refused token request", &refused)
    .text("an error as JSON", serde_json::to_string(&refused).unwrap())
    .assert_clean();
    let _ = adapter.descriptor();
}
