//! AWS Signature Version 4, checked by a fake that verifies it as AWS does: from the
//! request it receives (method, path, the headers the signature names, the body) and
//! the secret key, it recomputes the signature and refuses a mismatch with
//! `InvalidSignatureException` (moto checks no signature at all). The verifier itself
//! is pinned by AWS's published example (a known-answer vector), so the two cannot agree
//! on a wrong algorithm.
#![allow(clippy::unwrap_used)]

use crate::support;
use hmac::{Hmac, Mac};
use provision_aws::{AwsAdapter, AwsConfig, StaticCredentials};
use provision_core::adapter::{Adapter, AdapterError};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{INSTANCE, PROD, SECRET, aws_ok};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One request as the signature covers it.
struct Canonical<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    /// (lower-case name, value) of each signed header, in signed-header order.
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

/// The SigV4 signature of `req`, signed at `amz_date` (`20150830T123600Z`) with
/// `secret` for `region` and `service`: the algorithm of the AWS documentation, written
/// here independently of the aws-sigv4 crate the adapter uses.
fn signature(
    req: &Canonical<'_>,
    amz_date: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> String {
    let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
    let canonical_headers: String = req
        .headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        req.query,
        canonical_headers,
        names.join(";"),
        sha256_hex(req.body)
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = hmac(format!("AWS4{secret}").as_bytes(), date);
    let key = hmac(&key, region);
    let key = hmac(&key, service);
    let key = hmac(&key, "aws4_request");
    hex::encode(hmac(&key, &string_to_sign))
}

#[test]
fn the_verifier_reproduces_the_aws_documentation_example() {
    // "Create a signed AWS API request" (IAM ListUsers), AWS General Reference: the
    // documented signature for this request, date and example key.
    let req = Canonical {
        method: "GET",
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
            ("host".into(), "iam.amazonaws.com".into()),
            ("x-amz-date".into(), "20150830T123600Z".into()),
        ],
        body: b"",
    };
    assert_eq!(
        signature(
            &req,
            "20150830T123600Z",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "iam"
        ),
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

/// Answers `ListUsers` only when the signature verifies with [`SECRET`].
struct VerifyingIdentityStore;

impl VerifyingIdentityStore {
    fn verify(req: &Request) -> Result<(), String> {
        let header = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let auth = header("authorization").ok_or("no Authorization header")?;
        let rest = auth
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("not AWS4-HMAC-SHA256")?;
        let part = |key: &str| {
            rest.split(", ")
                .find_map(|p| p.strip_prefix(key))
                .map(str::to_owned)
                .ok_or(format!("no {key} in the Authorization header"))
        };
        let credential = part("Credential=")?;
        let signed_headers = part("SignedHeaders=")?;
        let sent = part("Signature=")?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, "aws4_request"] = scope[..] else {
            return Err(format!("malformed credential scope {credential}"));
        };
        if key_id != "AKIDTEST" {
            return Err(format!("unknown key {key_id}"));
        }
        let amz_date = header("x-amz-date").ok_or("no x-amz-date")?;
        if !amz_date.starts_with(date) {
            return Err("x-amz-date and the credential scope disagree".into());
        }
        for required in ["host", "x-amz-date", "x-amz-target", "x-amz-security-token"] {
            if !signed_headers.split(';').any(|h| h == required) {
                return Err(format!("{required} is not signed"));
            }
        }
        let headers = signed_headers
            .split(';')
            .map(|n| {
                let value = if n == "host" {
                    header("host").unwrap_or_default()
                } else {
                    header(n).ok_or(format!("signed header {n} not sent"))?
                };
                Ok((n.to_owned(), value))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let expected = signature(
            &Canonical {
                method: req.method.as_str(),
                path: req.url.path(),
                query: req.url.query().unwrap_or(""),
                headers,
                body: &req.body,
            },
            &amz_date,
            SECRET,
            region,
            service,
        );
        if expected == sent {
            Ok(())
        } else {
            Err(
                "The request signature we calculated does not match the signature you provided."
                    .into(),
            )
        }
    }
}

impl Respond for VerifyingIdentityStore {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match Self::verify(req) {
            Ok(()) => aws_ok(json!({"Users": []})),
            Err(message) => ResponseTemplate::new(400)
                .insert_header("x-amzn-errortype", "InvalidSignatureException")
                .set_body_raw(
                    json!({"__type": "InvalidSignatureException", "message": message}).to_string(),
                    "application/x-amz-json-1.1",
                ),
        }
    }
}

fn adapter_with_secret(server: &MockServer, secret: &str) -> AwsAdapter {
    let config = AwsConfig::builder()
        .region("eu-west-1")
        .credentials(StaticCredentials::new(
            "AKIDTEST",
            secret,
            Some(provision_core::secret::SecretString::from(support::TOKEN)),
        ))
        .endpoint(server.uri().parse().unwrap())
        .instance(INSTANCE, support::STORE)
        .account("production", PROD)
        .build()
        .unwrap();
    AwsAdapter::new(config).unwrap()
}

#[tokio::test]
async fn the_adapters_requests_carry_a_signature_that_verifies() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(VerifyingIdentityStore)
        .mount(&server)
        .await;
    let aws = adapter_with_secret(&server, SECRET);
    let page = aws.read_accounts(None).await;
    assert!(page.is_ok(), "the signature did not verify: {page:?}");
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    let auth = requests[0].headers["authorization"].to_str().unwrap();
    assert!(
        auth.contains("/eu-west-1/identitystore/aws4_request"),
        "{auth}"
    );

    // The fake is not a yes-man: signed with another secret, the same request fails.
    let wrong = adapter_with_secret(&server, "another-secret");
    match wrong.read_accounts(None).await {
        Err(AdapterError::Unauthorized { error }) | Err(AdapterError::Permanent { error }) => {
            assert!(error.message.contains("signature"), "{error:?}");
        }
        other => panic!("a wrong signature must be refused, got {other:?}"),
    }
}
