//! Who is calling, tried as an attacker would: every route but the webhooks and the
//! health checks refuses an anonymous caller (401) and a caller without its role
//! (403); OpenID Connect tokens that are expired, not yet valid, for another
//! audience or issuer, signed by an unknown key, unsigned (`alg: none`) or signed
//! with HMAC over the public key are refused; a rotated key is picked up; a spoofed
//! `X-Provision-User` is ignored; and the service will not listen beyond loopback
//! without an `auth:` section.
//!
//! The provider's keys (tests/fixtures/idp-key-*.pem, test-only RSA keys made for
//! these tests) are served by wiremock as a JWKS document.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::{World, listener};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://login.example.test/";
const AUDIENCE: &str = "provision";

fn key_pem(n: u8) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/idp-key-{n}.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn jwk(n: u8) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/idp-key-{n}.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn serve_keys(server: &MockServer, keys: &[u8]) {
    server.reset().await;
    let set = json!({"keys": keys.iter().map(|k| jwk(*k)).collect::<Vec<_>>()});
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(set))
        .mount(server)
        .await;
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims for `person` with `roles`, valid now.
fn claims(person: &str, roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": format!("sub-{person}"),
        "employee_id": person,
        "groups": roles.iter().map(|r| format!("provision-{r}")).collect::<Vec<_>>(),
        "iat": now(),
        "exp": now() + 300,
    })
}

fn sign_with(key: u8, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&key_pem(key)).unwrap(),
    )
    .unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(1, "idp-key-1", claims)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn config_extra(jwks: &str) -> String {
    format!(
        "governance:\n  default_approver: {{owner: sec-lead}}\n\
         auth:\n  oidc:\n    issuer: \"{ISSUER}\"\n    audience: {AUDIENCE}\n    \
         jwks_url: \"{jwks}/jwks\"\n    person_claim: employee_id\n    roles_claim: groups\n    \
         role_prefix: provision-\n    leeway_seconds: 30\n    jwks_min_refresh_seconds: 0\n"
    )
}

/// A service trusting the provider `idp` (serving key 1), listening; with everyone
/// provisioned when `provisioned`.
async fn oidc_service(
    name: &str,
    provisioned: bool,
) -> (MockServer, World, provision_server::RunningService, String) {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[1]).await;
    let world = World::new(Duration::from_millis(1));
    let service = provision_server::Service::start(
        world.config(name, &config_extra(&idp.uri())),
        world.parts(),
    )
    .await
    .unwrap();
    if provisioned {
        world.provision_everyone(&service).await;
    }
    let running = service.spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    (idp, world, running, base)
}

async fn send(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    if method == reqwest::Method::POST {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_route_proves_its_caller_and_names_its_role() {
    let (_idp, _world, running, base) = oidc_service("auth", false).await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // (method, route, a role that may call it)
    let routes = [
        (get.clone(), "/requests", "requester"),
        (post.clone(), "/requests", "requester"),
        (post.clone(), "/requests/req-x/approve", "approver"),
        (post.clone(), "/requests/req-x/reject", "approver"),
        (post.clone(), "/requests/req-x/withdraw", "requester"),
        (post.clone(), "/requests/req-x/revoke", "admin"),
        (get.clone(), "/findings", "auditor"),
        (get.clone(), "/metrics", "metrics"),
    ];
    let nobody = sign(&claims("e3", &[]));
    for (m, route, role) in &routes {
        let url = format!("{base}{route}");
        let (status, body) = send(m.clone(), &url, None, &[]).await;
        assert_eq!(status, 401, "anonymous {m} {route}: {body}");
        let (status, body) = send(m.clone(), &url, Some(&nobody), &[]).await;
        assert_eq!(status, 403, "no role, {m} {route}: {body}");
        let allowed = sign(&claims("e3", &[role]));
        let (status, body) = send(m.clone(), &url, Some(&allowed), &[]).await;
        assert!(
            status != 401 && status != 403,
            "role {role}, {m} {route}: {status} {body}"
        );
    }
    // The webhooks (signed per source) and the health checks need no token.
    for route in ["/healthz", "/readyz"] {
        let (status, _) = send(get.clone(), &format!("{base}{route}"), None, &[]).await;
        assert!(status == 200 || status == 503, "{route}: {status}");
    }
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn forged_stale_and_foreign_tokens_are_refused_and_a_rotated_key_is_picked_up() {
    let (idp, _world, running, base) = oidc_service("tokens", false).await;
    let url = format!("{base}/findings");
    let get = reqwest::Method::GET;
    let auditor = claims("e3", &["auditor"]);
    let with = |changes: Value| {
        let mut c = auditor.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };

    let good = sign(&auditor);
    assert_eq!(send(get.clone(), &url, Some(&good), &[]).await.0, 200);

    // Both sides of every time window, around the 30 s leeway.
    let cases = [
        (
            "expired past the leeway",
            with(json!({"exp": now() - 60})),
            401,
        ),
        (
            "expired within the leeway",
            with(json!({"exp": now() - 5})),
            200,
        ),
        (
            "not valid for a while",
            with(json!({"nbf": now() + 60})),
            401,
        ),
        ("valid in a moment", with(json!({"nbf": now() + 5})), 200),
        ("another audience", with(json!({"aud": "grafana"})), 401),
        (
            "an audience list with ours",
            with(json!({"aud": ["grafana", AUDIENCE]})),
            200,
        ),
        (
            "another issuer",
            with(json!({"iss": "https://evil.example/"})),
            401,
        ),
    ];
    for (what, claims, want) in &cases {
        let (status, body) = send(get.clone(), &url, Some(&sign(claims)), &[]).await;
        assert_eq!(status, *want, "{what}: {body}");
    }
    let mut no_exp = auditor.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        send(get.clone(), &url, Some(&sign(&no_exp)), &[]).await.0,
        401
    );

    // Unsigned: `alg: none`.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(auditor.to_string().as_bytes())
    );
    assert_eq!(send(get.clone(), &url, Some(&none), &[]).await.0, 401);
    // HMAC with the public key as the secret (the algorithm-confusion attack).
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("idp-key-1".into());
    let public = jwk(1)["n"].as_str().unwrap().to_owned();
    let confused =
        jsonwebtoken::encode(&hs, &auditor, &EncodingKey::from_secret(public.as_bytes())).unwrap();
    assert_eq!(send(get.clone(), &url, Some(&confused), &[]).await.0, 401);
    // A tampered payload under a good signature.
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(with(json!({"groups": ["provision-admin"]}))
            .to_string()
            .as_bytes()),
        parts[2]
    );
    assert_eq!(send(get.clone(), &url, Some(&tampered), &[]).await.0, 401);

    // A key the provider does not publish: refused.
    let rotated = sign_with(2, "idp-key-2", &auditor);
    assert_eq!(send(get.clone(), &url, Some(&rotated), &[]).await.0, 401);
    // The provider rotates to key 2: picked up by the next token that names it.
    serve_keys(&idp, &[1, 2]).await;
    assert_eq!(send(get.clone(), &url, Some(&rotated), &[]).await.0, 200);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_spoofed_user_header_or_body_is_never_identity() {
    let (_idp, _world, running, base) = oidc_service("spoof", true).await;
    let client = reqwest::Client::new();
    let ends = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    // Ben (a requester) asks for Ana; he claims to be the approver in a header.
    let ben = sign(&claims("ben", &["requester"]));
    let opened: Value = client
        .post(format!("{base}/requests"))
        .bearer_auth(&ben)
        .header("X-Provision-User", "sec-lead")
        .json(&json!({"beneficiary": "e1",
            "entitlement": {"system": "okta", "kind": "group", "resource": "prod-admins"},
            "ends_at": ends, "justification": "on call"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(opened["request"]["requester"], "ben", "{opened}");
    let id = opened["request"]["id"].as_str().unwrap();
    // The header alone is nobody.
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{base}/requests/{id}/approve"),
        None,
        &[("X-Provision-User", "sec-lead")],
    )
    .await;
    assert_eq!(status, 401);
    // An approver token for someone else, with the header naming the approver: the
    // token counts, the header does not.
    let eve = sign(&claims("eve", &["approver"]));
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{base}/requests/{id}/approve"),
        Some(&eve),
        &[("X-Provision-User", "sec-lead")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains("sec-lead"), "{body}");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_service_will_not_serve_the_network_without_authentication() {
    let world = World::new(Duration::from_millis(1));
    let text = world
        .config_text("open", "")
        .replace("listen: 127.0.0.1:0", "listen: 0.0.0.0:0");
    let err = provision_server::ServerConfig::parse("open.yaml", &text).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("listen") && message.contains("auth"),
        "{message}"
    );
    // With a mode configured, the same address still needs the webhooks on their own
    // listener (or `one_port: true`, said knowingly).
    let with_auth = format!(
        "{text}{}",
        support::auth_section(&[("prometheus", &["metrics"])])
    );
    let err = provision_server::ServerConfig::parse("open.yaml", &with_auth)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("public_listen") && err.contains("one_port"),
        "{err}"
    );
    let split = format!("{with_auth}public_listen: 0.0.0.0:8443\n");
    let config = provision_server::ServerConfig::parse("open.yaml", &split).unwrap();
    assert_eq!(config.public_listen, Some("0.0.0.0:8443".parse().unwrap()));
    provision_server::ServerConfig::parse("open.yaml", &format!("{with_auth}one_port: true\n"))
        .unwrap();
}

#[tokio::test]
async fn a_proxys_user_headers_count_only_with_its_secret() {
    let world = World::new(Duration::from_millis(1));
    std::fs::write(world.path("proxy-secret.txt"), "proxy-shared-secret\n").unwrap();
    let extra = "auth:\n  proxy:\n    secret: {file: proxy-secret.txt}\n";
    let service = provision_server::Service::start(world.config("proxy", extra), world.parts())
        .await
        .unwrap();
    let running = service.clone().spawn_on(listener().await).unwrap();
    let url = format!("http://{}/findings", running.addr);
    let get = reqwest::Method::GET;
    let user = [
        ("X-Forwarded-User", "e3"),
        ("X-Forwarded-Groups", "auditor"),
    ];
    // A client sending the proxy's headers itself: nobody.
    assert_eq!(send(get.clone(), &url, None, &user).await.0, 401);
    let wrong = [user[0], user[1], ("X-Proxy-Secret", "guess")];
    assert_eq!(send(get.clone(), &url, None, &wrong).await.0, 401);
    // The proxy (with its secret): believed, roles included.
    let proxied = [user[0], user[1], ("X-Proxy-Secret", "proxy-shared-secret")];
    assert_eq!(send(get.clone(), &url, None, &proxied).await.0, 200);
    let no_role = [user[0], ("X-Proxy-Secret", "proxy-shared-secret")];
    assert_eq!(send(get.clone(), &url, None, &no_role).await.0, 403);
    running.shutdown().await.unwrap();
}
