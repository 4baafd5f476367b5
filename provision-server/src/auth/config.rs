//! The `auth:` section of the service's configuration: how callers prove who they are.
//!
//! ```yaml
//! auth:
//!   oidc:                                  # bearer tokens from an OpenID Connect provider
//!     issuer: https://login.example.com/
//!     audience: provision
//!     jwks_url: https://login.example.com/.well-known/jwks.json
//!     person_claim: employee_id            # the claim holding the caller's HR id
//!     roles_claim: groups                  # a list, or a space-separated string (scope)
//!     role_prefix: "provision-"            # "provision-approver" is the approver role
//!     leeway_seconds: 30
//!     jwks_min_refresh_seconds: 30
//!   tokens:                                # static API tokens for machines
//!     - name: prometheus
//!       sha256: 3f7a…                      # hex SHA-256 of the token, never the token
//!       roles: [metrics]
//!   proxy:                                 # an authenticating proxy (oauth2-proxy)
//!     secret_header: X-Proxy-Secret
//!     secret: {file: proxy-secret.txt}
//!     user_header: X-Forwarded-User
//!     roles_header: X-Forwarded-Groups
//! ```

use provision_core::config::CredentialRef;

use super::Role;

/// How callers authenticate; any number of the modes at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// OpenID Connect bearer tokens.
    pub oidc: Option<OidcConfig>,
    /// Static API tokens (stored hashed).
    pub tokens: Vec<StaticToken>,
    /// A trusted, authenticating proxy.
    pub proxy: Option<ProxyConfig>,
}

impl AuthConfig {
    /// True when at least one mode is configured.
    pub fn any(&self) -> bool {
        self.oidc.is_some() || !self.tokens.is_empty() || self.proxy.is_some()
    }
}

/// OpenID Connect bearer tokens, checked against the provider's signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// Where the provider publishes its signing keys (JWKS).
    pub jwks_url: String,
    /// The claim holding the caller's HR id (default `sub`).
    pub person_claim: String,
    /// The claim holding the caller's roles (default `roles`): a list of strings, or
    /// one space-separated string such as `scope`.
    pub roles_claim: String,
    /// The prefix a claim value carries before the role's name (default none).
    pub role_prefix: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 30).
    pub leeway_seconds: u64,
    /// The shortest time between two fetches of the keys, in seconds (default 30): a
    /// token naming an unknown `kid` fetches them again (a rotated key is picked
    /// up), at most this often (a flood of made-up `kid`s does not flood the
    /// provider).
    pub jwks_min_refresh_seconds: u64,
}

/// One static API token, for a machine (a metrics scraper, a CI job).
#[derive(Clone, PartialEq, Eq)]
pub struct StaticToken {
    /// Its name, in the audit log and logs.
    pub name: String,
    /// The SHA-256 of the token (32 bytes): the token itself is never stored.
    pub sha256: [u8; 32],
    /// What it may do.
    pub roles: Vec<Role>,
    /// The HR id it acts for, when it requests or decides for a person.
    pub person: Option<String>,
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticToken")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("person", &self.person)
            .finish_non_exhaustive()
    }
}

/// An authenticating proxy in front of the service, which proves itself with a
/// shared secret header; the user and role headers count only on requests that
/// carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The header carrying the shared secret.
    pub secret_header: String,
    /// Where the shared secret is.
    pub secret: CredentialRef,
    /// The header naming the caller's HR id.
    pub user_header: String,
    /// The header listing the caller's roles (comma-separated).
    pub roles_header: String,
}
