//! Test support for adapter crates (a dev-dependency of each; published so adapters
//! written outside this repository can run the same suite).
//!
//! * Request conformance: every request an adapter sends in its tests must match
//!   an operation of the vendor's own API description in `../shared/specs/`
//!   (method, path template, required query and body fields). One checker per
//!   description format: `openapi` (Okta, GitLab, Jira, Slack, GitHub),
//!   `botocore` (AWS service models), `discovery` (Google discovery documents).
//! * [`conformance`]: the shared adapter suite every adapter runs against its mock
//!   ([`conformance::Suite`], one entry point).
//! * [`secrets`]: capture the logs of a test and fail it when a secret shows up in
//!   them or in an error's `Display` / `Debug` output.
//! * `scim_peer` (feature `http-mocks`): scim2-server on loopback, found in the environment or started
//!   for the test and stopped after it.
//! * `peers` (feature `http-mocks`): Prism and scim2-server from `shared/peers/`, started by a test and
//!   stopped when dropped.
//! * `token_endpoint`: an OAuth token endpoint for wiremock that verifies signed-JWT
//!   assertions (Google's JWT-bearer grant, Okta's `private_key_jwt`).
//!
//! # Features
//!
//! The default build has [`conformance`] and [`secrets`] only: a custom adapter that
//! runs the suite against an in-process fake does not compile wiremock, hyper or a
//! JWT crypto stack. The feature **`http-mocks`** adds the request conformance
//! checkers (`openapi`, `botocore`, `discovery`, `ApiSpec`,
//! `assert_requests_conform`) and `token_endpoint`; an adapter crate tested
//! against a wiremock fake enables it:
//!
//! ```toml
//! [dev-dependencies]
//! provision-testkit = { workspace = true, features = ["http-mocks"] }
//! ```
//!
//! A minimal custom adapter's cold `cargo test --no-run` compiles 95 crates instead of
//! 200 without the feature (114 s of CPU instead of 158 s).

#[cfg(feature = "http-mocks")]
pub mod botocore;
pub mod conformance;
#[cfg(feature = "http-mocks")]
pub mod discovery;
#[cfg(feature = "http-mocks")]
pub mod openapi;
#[cfg(feature = "http-mocks")]
pub mod peers;
#[cfg(feature = "http-mocks")]
pub mod scim_peer;
pub mod secrets;
#[cfg(feature = "http-mocks")]
pub mod token_endpoint;

#[cfg(feature = "http-mocks")]
use std::fmt;

/// The operation of an API description a request matched.
#[cfg(feature = "http-mocks")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedOperation {
    /// The description's name for it (`operationId`, botocore operation name, discovery method id).
    pub name: String,
}

/// Why a request does not conform.
#[cfg(feature = "http-mocks")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecViolation {
    /// The request, as `METHOD /path?query`.
    pub request: String,
    /// What is wrong (no such operation, a required field missing, ...).
    pub problems: Vec<String>,
}

#[cfg(feature = "http-mocks")]
impl fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not conform: {}",
            self.request,
            self.problems.join("; ")
        )
    }
}

/// An API description that can judge a request.
#[cfg(feature = "http-mocks")]
pub trait ApiSpec {
    /// Which operation `request` is, or why it is none.
    fn check_request(&self, request: &wiremock::Request)
    -> Result<MatchedOperation, SpecViolation>;
}

#[cfg(feature = "http-mocks")]
/// Checks every request a mock server received; panics (it is a test helper) listing
/// every request that does not conform. Returns the operations seen, in order.
pub fn assert_requests_conform(
    spec: &dyn ApiSpec,
    requests: &[wiremock::Request],
) -> Vec<MatchedOperation> {
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    for request in requests {
        match spec.check_request(request) {
            Ok(op) => seen.push(op),
            Err(v) => bad.push(v.to_string()),
        }
    }
    assert!(
        bad.is_empty(),
        "requests that do not conform to the spec:\n{}",
        bad.join("\n")
    );
    seen
}
