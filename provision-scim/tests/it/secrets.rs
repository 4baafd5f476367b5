//! Credentials (bearer, basic password, OAuth client secret and the access token it
//! buys) never reach logs (TRACE included), errors, `Debug` output or URLs.

use provision_core::adapter::{Adapter, read_all_accounts};
use provision_core::model::{AccountRef, OperationKind};
use provision_scim::ScimAdapter;
use provision_scim::config::ScimAuth;
use provision_testkit::conformance;
use provision_testkit::secrets::{LogCapture, SecretCheck};
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TOKEN, config, error, list, scim, user};

const PASSWORD: &str = "SECRET-basic-password";
const CLIENT_SECRET: &str = "SECRET-oauth-client-secret";
const ACCESS_TOKEN: &str = "SECRET-oauth-access-token";

#[tokio::test]
async fn credentials_never_appear_in_logs_errors_debug_or_urls() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    // OAuth: the token endpoint wants the client secret in the form body.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(CLIENT_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600,
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(scim(200, list(vec![user("1", "a@x.com", true)], Some(1))))
        .mount(&server)
        .await;
    // Basic: refused, so an error exists to look at.
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users/u1"))
        .respond_with(error(401, None, "bad credentials"))
        .mount(&server)
        .await;
    let oauth = ScimAdapter::new(config(&server, |b| {
        b.auth(ScimAuth::OAuthClientCredentials {
            token_url: Url::parse(&format!("{}/oauth/token", server.uri())).unwrap(),
            client_id: "provision".into(),
            client_secret: CLIENT_SECRET.into(),
            scopes: vec!["scim".into()],
        })
    }))
    .unwrap();
    assert_eq!(read_all_accounts(&oauth).await.unwrap().len(), 1);
    assert_eq!(
        read_all_accounts(&oauth).await.unwrap().len(),
        1,
        "the token is cached"
    );

    let basic = ScimAdapter::new(config(&server, |b| {
        b.auth(ScimAuth::Basic {
            user: "svc".into(),
            password: PASSWORD.into(),
        })
    }))
    .unwrap();
    let refused = conformance::run(
        &basic,
        &AccountRef {
            login: "a@x.com".into(),
            external_id: Some("u1".into()),
        },
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.class(), "unauthorized");
    let bearer = ScimAdapter::new(config(&server, |b| b)).unwrap();
    let refused_bearer = conformance::run(
        &bearer,
        &AccountRef {
            login: "a@x.com".into(),
            external_id: Some("u1".into()),
        },
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap_err();

    for r in server.received_requests().await.unwrap() {
        for secret in [TOKEN, PASSWORD, CLIENT_SECRET, ACCESS_TOKEN] {
            assert!(
                !r.url.as_str().contains(secret),
                "a credential in {}",
                r.url
            );
        }
    }
    assert!(
        logs.text().contains("scim request"),
        "the capture saw the adapter's logs"
    );
    SecretCheck::new(&[TOKEN, PASSWORD, CLIENT_SECRET, ACCESS_TOKEN, "SECRET"])
        .logs(&logs)
        .value("refused (basic)", &refused)
        .value("refused (bearer)", &refused_bearer)
        .debug("oauth adapter", &oauth)
        .debug("basic adapter", &basic)
        .debug("bearer adapter", &bearer)
        .debug("config", oauth.config())
        .debug("descriptor", oauth.descriptor())
        .assert_clean();
    server.verify().await;
}
