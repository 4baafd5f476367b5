//! Authentication: the JWT bearer flow's claims, client credentials, API calls only
//! to the instance the token reply names, a revoked token replaced once, and
//! refusals that keep Salesforce's OAuth code.

use provision_core::adapter::{Adapter, read_all_accounts};
use provision_salesforce::{SalesforceAdapter, SalesforceConfig};

use crate::support::{CLIENT_SECRET, CONSUMER_KEY, FakeSalesforce, Org, RUN_AS, private_key};

#[tokio::test]
async fn api_calls_go_to_the_instance_the_token_names() {
    let fake = FakeSalesforce::new();
    fake.add_user("sarah@acme.com", "Sales User");
    let org = Org::start(fake).await;
    let adapter = org.adapter();
    read_all_accounts(&adapter).await.unwrap();
    let login = org.login.received_requests().await.unwrap();
    assert_eq!(login.len(), 1, "one token for the whole read");
    assert_eq!(login[0].url.path(), "/services/oauth2/token");
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&login[0].body)
            .into_owned()
            .collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&form["assertion"])
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], CONSUMER_KEY);
    assert_eq!(claims["sub"], RUN_AS);
    assert_eq!(claims["aud"], "https://login.salesforce.com");
    let api = org.api_requests().await;
    assert!(!api.is_empty());
    assert!(
        api.iter()
            .all(|(_, p, _)| p.starts_with("/services/data/v62.0/"))
    );
    assert_eq!(
        adapter
            .client()
            .instance_url()
            .unwrap()
            .as_str()
            .trim_end_matches('/'),
        org.instance.uri()
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_call_goes_through() {
    let fake = FakeSalesforce::new();
    fake.add_user("sarah@acme.com", "Sales User");
    let org = Org::start(fake).await;
    let adapter = org.adapter();
    read_all_accounts(&adapter).await.unwrap();
    org.fake.revoke_tokens();
    read_all_accounts(&adapter).await.unwrap();
    assert_eq!(org.fake.tokens_issued(), 2);
}

#[tokio::test]
async fn client_credentials_work_and_a_refusal_keeps_the_oauth_code() {
    let fake = FakeSalesforce::new();
    fake.add_user("sarah@acme.com", "Sales User");
    let org = Org::start(fake).await;
    let adapter = SalesforceAdapter::new(
        SalesforceConfig::builder(&org.login.uri())
            .client_credentials(CONSUMER_KEY, CLIENT_SECRET)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(read_all_accounts(&adapter).await.unwrap().len(), 1);

    // The app is not pre-authorised for this user.
    let wrong = SalesforceAdapter::new(
        SalesforceConfig::builder(&org.login.uri())
            .jwt_bearer(CONSUMER_KEY, "someone@acme.com", private_key())
            .audience("https://login.salesforce.com")
            .build()
            .unwrap(),
    )
    .unwrap();
    let e = wrong.read_accounts(None).await.unwrap_err();
    assert_eq!(e.class(), "unauthorized", "{e}");
    let error = e.system_error().unwrap();
    assert_eq!(error.code.as_deref(), Some("invalid_grant"));
    assert!(error.message.contains("approved"), "{e}");
}
