//! The quickstart uses the real Salesforce adapter when a connected app is in the
//! environment (`SALESFORCE_CLIENT_ID` with a JWT key and username, or a client
//! secret), and the sandbox otherwise.

#![allow(clippy::unwrap_used)]

use crate::wire;

#[test]
fn salesforce_is_real_when_its_variables_are_set() {
    assert_eq!(
        wire(&[("SALESFORCE_CLIENT_ID", "3MVG9-key")]).unwrap(),
        Vec::<String>::new(),
        "a consumer key alone is no credential: the sandbox stays"
    );
    let real = wire(&[
        ("SALESFORCE_CLIENT_ID", "3MVG9-key"),
        ("SALESFORCE_CLIENT_SECRET", "sf-quickstart-secret"),
        ("SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["salesforce Salesforce via https://acme.my.salesforce.com".to_owned()]
    );
    // Client credentials at the shared login host: refused, naming the setting, never
    // echoing the secret.
    let e = wire(&[
        ("SALESFORCE_CLIENT_ID", "3MVG9-key"),
        ("SALESFORCE_CLIENT_SECRET", "sf-quickstart-secret"),
    ])
    .unwrap_err();
    assert!(
        e.contains("login_url") && !e.contains("sf-quickstart-secret"),
        "{e}"
    );
}
