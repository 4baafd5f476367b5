//! # provision-http
//!
//! What every HTTP adapter shares, written once: an adapter crate keeps only its
//! system's model, its error dialect and its mapping of entitlements.
//!
//! | module | one job |
//! | --- | --- |
//! | [`client`] | a reqwest client built from a base URL (overridable for tests and self-hosted tenants), user agent and timeouts; sends requests, reads replies, refuses next-page URLs on another origin |
//! | [`auth`] | static schemes (`SSWS`, `PRIVATE-TOKEN`, `Bearer`, Basic `email:token`), a cached OAuth access token renewed before expiry and dropped on a 401, the one RS256 JWT signer, OAuth token sources (client credentials with `private_key_jwt`, JWT-bearer grant), credential files |
//! | [`rate_limit`] | response headers → [`provision_core::adapter::RateLimitInfo`], once, for every dialect |
//! | [`paginate`] | `Link rel="next"`, page tokens, SCIM `startIndex`/`count`, Jira `startAt`/`isLast`, GitLab `X-Next-Page`, and the guard against a cursor that repeats |
//! | [`classify`] | HTTP status (+ headers + body) → [`provision_core::adapter::AdapterError`], keeping the system's own status, code and message; a hook for errors inside 2xx bodies |
//! | [`read_retry`] | long read-only sweeps outside the executor (evidence reads): wait as a 429 says, back off on 5xx, pace on a spent budget |
//! | [`names`] | a name → id cache with a TTL; given and family name from a display name, by one rule |
//!
//! The crate never sleeps and never retries: it turns what the server said into values
//! ([`provision_core::adapter::RateLimitInfo`], classified
//! [`provision_core::adapter::AdapterError`]s) and the executor decides. The one
//! exception is authentication: a 401 on a cached OAuth token drops the token and
//! sends the request once more with a fresh one (see [`client::HttpClient::send_authorized`]),
//! because a token revoked or rotated early is not a failure of the operation.
//! Read-only sweeps that run outside the executor (evidence reads) wait and retry
//! through [`read_retry`], since nothing else would.
//!
//! ## A new adapter, in outline
//!
//! ```no_run
//! use provision_http::auth::{Auth, StaticAuth};
//! use provision_http::classify::JsonErrors;
//! use provision_http::client::{HttpClient, RequestKind};
//! # async fn demo() -> Result<(), provision_core::adapter::AdapterError> {
//! let http = HttpClient::builder("GitLab", "https://gitlab.example.com/api/v4/")
//!     .user_agent(concat!("provision-gitlab/", env!("CARGO_PKG_VERSION")))
//!     .build()
//!     .expect("a valid base URL");
//! let auth = Auth::Static(StaticAuth::private_token("glpat-..."));
//! let url = http.url(&["groups", "engineering", "members"]);
//! let reply = http
//!     .send_authorized(&auth, http.reqwest().get(url), RequestKind::Read)
//!     .await?
//!     .into_result(&JsonErrors)?;
//! let next = provision_http::paginate::next_link(&reply.headers);
//! # let _ = next; Ok(()) }
//! ```
//!
//! ## Dependencies, where the choice is not obvious
//!
//! * `reqwest` (rustls, no default features): the workspace's one HTTP stack; no
//!   OpenSSL to link, the same TLS everywhere.
//! * `jsonwebtoken` (`rust_crypto`, `use_pem`): signs the RS256 assertions of Okta's
//!   `private_key_jwt`, Google's domain-wide delegation and GitHub App tokens. The
//!   `oauth2` crate has no `private_key_jwt` and pins an older reqwest; one crypto
//!   backend keeps the build small.
//! * `httpdate`: `Retry-After` and `Date` in HTTP-date form (RFC 9110 IMF-fixdate and
//!   the two obsolete forms) without pulling a full HTTP-types crate; ISO 8601 resets
//!   are read with `chrono`, already in the workspace.
//! * `secrecy`: every credential is a `SecretString`, so it cannot reach a log, an
//!   error or `Debug`; header values built from one are marked sensitive.
//! * `base64`: the Basic `user:secret` header is built here (marked sensitive) rather
//!   than by `RequestBuilder::basic_auth`, so every scheme goes through one path;
//!   already in the tree through `jsonwebtoken`.
//! * `rand`: the unique `jti` of each client assertion (Okta rejects a replayed one).
//! * `async-trait`: [`auth::TokenSource`] is used as a trait object (`Arc<dyn …>`), which
//!   native async traits do not allow yet.

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the adapters it serves.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod classify;
pub mod client;
pub mod names;
pub mod paginate;
pub mod rate_limit;
pub mod read_retry;
