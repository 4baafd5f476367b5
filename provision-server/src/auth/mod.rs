//! Who is calling: every route except `/webhooks/*` (signed per source), `/healthz`
//! and `/readyz` proves its caller, and each route names the [`Role`] it needs.
//!
//! Three modes, any of them at once (the `auth:` section, [`AuthConfig`]):
//!
//! * **OpenID Connect bearer tokens** ([`oidc`]): signature against the provider's
//!   keys (by `kid`, rotated keys picked up), `iss`, `aud`, `exp`, `nbf` with a small
//!   leeway, asymmetric algorithms only. The caller's HR id is a configured claim;
//!   roles come from a claim (a list, or space-separated scopes).
//! * **Static API tokens** for machines: `Authorization: Bearer <token>`, matched
//!   against the SHA-256 stored in the configuration (the token itself is never
//!   stored).
//! * **A trusted proxy**: the proxy proves itself with a shared secret header; only
//!   then are its user and role headers believed. Without the secret, those headers
//!   are ignored, whoever sent them.
//!
//! Nothing else is identity: not `X-Provision-User`, not a `by` or `requester` in a
//! body. Without an `auth:` section the service serves only on a loopback address,
//! and its governance routes (requests, findings) answer 401: there is nobody they
//! could trust.

pub mod config;
pub mod oidc;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provision_core::clock::Clock;
use provision_core::secret::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use config::{AuthConfig, OidcConfig, ProxyConfig, StaticToken};
pub use oidc::{OidcVerifier, TokenError};

use crate::service::Service;

/// What a caller may do. Each route names the role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Opens access requests for themself or others, and sees their own.
    Requester,
    /// Decides access requests they are the approver of; sees every request.
    Approver,
    /// Decides review items.
    Reviewer,
    /// Confirms a blast radius, resumes runs, withdraws and revokes requests.
    Admin,
    /// Reads findings, evidence and every request.
    Auditor,
    /// Scrapes `/metrics`.
    Metrics,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 6] = [
        Role::Requester,
        Role::Approver,
        Role::Reviewer,
        Role::Admin,
        Role::Auditor,
        Role::Metrics,
    ];

    /// Its name in configuration and claims (`approver`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Metrics => "metrics",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a caller proved who they are: recorded with their decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// An OpenID Connect token from `issuer` for `subject`.
    Oidc {
        /// The token's issuer.
        issuer: String,
        /// The token's `sub`.
        subject: String,
    },
    /// A static API token.
    Token {
        /// The token's configured name.
        name: String,
    },
    /// The trusted proxy.
    Proxy,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The HR id they act as, when they are a person.
    pub person: Option<String>,
    /// What they may do.
    pub roles: BTreeSet<Role>,
    /// How they proved it.
    pub via: AuthMethod,
}

impl Caller {
    /// Refused with 403 unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Refusal> {
        if roles.iter().any(|r| self.roles.contains(r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(Refusal::forbidden(format!(
                "this route needs the role {}",
                names.join(" or ")
            )))
        }
    }

    /// The caller's HR id, or 403 when the caller is not a person (a machine token).
    pub fn person(&self) -> Result<&str, Refusal> {
        self.person
            .as_deref()
            .ok_or_else(|| Refusal::forbidden("this route needs a person, not a machine token"))
    }

    /// True when the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A call refused before its handler: 401 (who are you?) or 403 (not allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// Why, said to the caller (never who else could do it).
    pub reason: String,
}

impl Refusal {
    fn unauthenticated(reason: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.into(),
        }
    }

    /// 403 with `reason`.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"error": self.reason}))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The configured modes, ready to check callers.
pub struct Authenticator {
    oidc: Option<OidcVerifier>,
    tokens: Vec<StaticToken>,
    proxy: Option<(ProxyConfig, SecretString)>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("oidc", &self.oidc)
            .field("tokens", &self.tokens)
            .field("proxy", &self.proxy.as_ref().map(|(c, _)| &c.secret_header))
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The modes of `config` (the proxy's secret resolved now), checking times with
    /// `clock`.
    pub fn new(
        config: &AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, provision_core::config::CredentialError> {
        let proxy = match &config.proxy {
            Some(p) => Some((
                p.clone(),
                provision_core::config::resolve_credential(&p.secret)?,
            )),
            None => None,
        };
        Ok(Self {
            oidc: config.oidc.clone().map(OidcVerifier::new),
            tokens: config.tokens.clone(),
            proxy,
            clock,
        })
    }

    /// True when at least one mode is configured.
    pub fn configured(&self) -> bool {
        self.oidc.is_some() || !self.tokens.is_empty() || self.proxy.is_some()
    }

    /// Who sent `headers`, or why nobody can be trusted.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        if !self.configured() {
            return Err(Refusal::unauthenticated(
                "this service has no `auth:` section: nobody can be authenticated",
            ));
        }
        if let Some((proxy, secret)) = &self.proxy
            && let Some(sent) = headers.get(proxy.secret_header.as_str())
        {
            return proxy_caller(proxy, secret, sent.as_bytes(), headers);
        }
        let Some(token) = bearer(headers) else {
            return Err(Refusal::unauthenticated("no credentials"));
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(t) = self.tokens.iter().find(|t| same(&t.sha256, &digest)) {
            return Ok(Caller {
                person: t.person.clone(),
                roles: t.roles.iter().copied().collect(),
                via: AuthMethod::Token {
                    name: t.name.clone(),
                },
            });
        }
        let Some(oidc) = &self.oidc else {
            return Err(Refusal::unauthenticated("unknown token"));
        };
        let claims = oidc.verify(token, self.clock.now()).await.map_err(|e| {
            tracing::info!(error = %e, "bearer token refused");
            Refusal::unauthenticated(format!("token refused: {e}"))
        })?;
        Ok(oidc_caller(oidc.config(), &claims))
    }
}

/// `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Constant-time equality of two byte strings of the same length.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn proxy_caller(
    proxy: &ProxyConfig,
    secret: &SecretString,
    sent: &[u8],
    headers: &HeaderMap,
) -> Result<Caller, Refusal> {
    let want: [u8; 32] = Sha256::digest(secret.expose_secret().as_bytes()).into();
    let got: [u8; 32] = Sha256::digest(sent).into();
    if !same(&want, &got) {
        return Err(Refusal::unauthenticated(
            "the proxy's secret does not match",
        ));
    }
    let person = headers
        .get(proxy.user_header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Refusal::unauthenticated(format!("the proxy sent no {}", proxy.user_header))
        })?;
    let roles = headers
        .get_all(proxy.roles_header.as_str())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|r| Role::parse(r.trim()))
        .collect();
    Ok(Caller {
        person: Some(person.to_owned()),
        roles,
        via: AuthMethod::Proxy,
    })
}

fn oidc_caller(config: &OidcConfig, claims: &oidc::Claims) -> Caller {
    let text = |name: &str| match claims.get(name) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let values: Vec<String> = match claims.get(&config.roles_claim) {
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let roles = values
        .iter()
        .filter_map(|v| v.strip_prefix(config.role_prefix.as_str()))
        .filter_map(Role::parse)
        .collect();
    Caller {
        person: text(&config.person_claim),
        roles,
        via: AuthMethod::Oidc {
            issuer: config.issuer.clone(),
            subject: text("sub").unwrap_or_default(),
        },
    }
}

impl FromRequestParts<Service> for Caller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Refusal> {
        service.inner.auth.authenticate(&parts.headers).await
    }
}
