//! Reading the `auth:` section ([`crate::auth::AuthConfig`]).

use provision_core::yaml::{Node, Reader};

use super::read::{credential, given};
use crate::auth::{AuthConfig, OidcConfig, ProxyConfig, Role, StaticToken};

const AUTH: &[&str] = &["oidc", "tokens", "proxy"];
const OIDC: &[&str] = &[
    "issuer",
    "audience",
    "jwks_url",
    "person_claim",
    "roles_claim",
    "role_prefix",
    "leeway_seconds",
    "jwks_min_refresh_seconds",
];
const TOKEN: &[&str] = &["name", "sha256", "roles", "person"];
const PROXY: &[&str] = &["secret_header", "secret", "user_header", "roles_header"];

/// `auth:`; problems are recorded in `r`, and a mode with one is left out.
pub(super) fn auth(r: &mut Reader, node: &Node) -> AuthConfig {
    let Some(mut f) = r.fields(node, "auth") else {
        return AuthConfig::default();
    };
    let oidc = given(&mut f, "oidc").and_then(|n| oidc(r, n));
    let tokens = given(&mut f, "tokens")
        .map(|n| tokens(r, n))
        .unwrap_or_default();
    let proxy = given(&mut f, "proxy").and_then(|n| proxy(r, n));
    f.finish(r, AUTH);
    AuthConfig {
        oidc,
        tokens,
        proxy,
    }
}

/// An `https://` URL, or `http://` to a loopback host (a test's provider).
fn url(r: &mut Reader, node: &Node, field: &str) -> Option<String> {
    let text = r.nonempty_text(node, field)?;
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| text.starts_with(p));
    if !text.starts_with("https://") && !loopback {
        r.error(
            node,
            field,
            "must be an https:// URL (plain http only to a loopback address)",
        );
        return None;
    }
    Some(text)
}

fn oidc(r: &mut Reader, node: &Node) -> Option<OidcConfig> {
    let mut f = r.fields(node, "auth.oidc")?;
    let issuer = f
        .required(
            r,
            "issuer",
            "the provider's issuer URL, as in its tokens' `iss`",
        )
        .and_then(|n| r.nonempty_text(n, "auth.oidc.issuer"));
    let audience = f
        .required(r, "audience", "the `aud` this service's tokens carry")
        .and_then(|n| r.nonempty_text(n, "auth.oidc.audience"));
    let jwks_url = f
        .required(r, "jwks_url", "the provider's JWKS URL")
        .and_then(|n| url(r, n, "auth.oidc.jwks_url"));
    let mut text = |key: &str, default: &str| match given(&mut f, key) {
        Some(n) => r.nonempty_text(n, &format!("auth.oidc.{key}")),
        None => Some(default.to_owned()),
    };
    let person_claim = text("person_claim", "sub");
    let roles_claim = text("roles_claim", "roles");
    let role_prefix = match given(&mut f, "role_prefix") {
        Some(n) => r.text(n, "auth.oidc.role_prefix"),
        None => Some(String::new()),
    };
    let leeway_seconds = match given(&mut f, "leeway_seconds") {
        Some(n) => {
            let leeway = r.unsigned(n, "auth.oidc.leeway_seconds")?;
            if leeway > 300 {
                r.error(
                    n,
                    "auth.oidc.leeway_seconds",
                    "at most 300 (a small clock skew)",
                );
                return None;
            }
            leeway
        }
        None => 30,
    };
    let jwks_min_refresh_seconds = match given(&mut f, "jwks_min_refresh_seconds") {
        Some(n) => r.unsigned(n, "auth.oidc.jwks_min_refresh_seconds")?,
        None => 30,
    };
    f.finish(r, OIDC);
    Some(OidcConfig {
        issuer: issuer?,
        audience: audience?,
        jwks_url: jwks_url?,
        person_claim: person_claim?,
        roles_claim: roles_claim?,
        role_prefix: role_prefix?,
        leeway_seconds,
        jwks_min_refresh_seconds,
    })
}

fn roles(r: &mut Reader, node: &Node, field: &str) -> Option<Vec<Role>> {
    let mut out = Vec::new();
    for (i, item) in r.items(node, field)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name = r.text(item, &at)?;
        match Role::parse(&name) {
            Some(role) => out.push(role),
            None => {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                r.error(
                    item,
                    &at,
                    format!("`{name}` is not a role (one of {})", known.join(", ")),
                );
                return None;
            }
        }
    }
    Some(out)
}

fn tokens(r: &mut Reader, node: &Node) -> Vec<StaticToken> {
    let mut out: Vec<StaticToken> = Vec::new();
    for (i, item) in r
        .items(node, "auth.tokens")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("auth.tokens[{i}]");
        let Some(mut f) = r.fields(item, &at) else {
            continue;
        };
        let name = f
            .required(r, "name", "the token's name, for the logs")
            .and_then(|n| r.nonempty_text(n, &format!("{at}.name")));
        let sha256 = f
            .required(
                r,
                "sha256",
                "the hex SHA-256 of the token (`printf %s TOKEN | sha256sum`)",
            )
            .and_then(|n| {
                let field = format!("{at}.sha256");
                // Never echoed: a token pasted here by mistake must not reach a log.
                let text = r.nonempty_text(n, &field)?;
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                if bytes.is_none() {
                    r.error(
                        n,
                        &field,
                        "expected 64 hex digits: the SHA-256 of the token, never the token itself",
                    );
                }
                bytes
            });
        let roles = f
            .required(r, "roles", "a list of roles")
            .and_then(|n| roles(r, n, &format!("{at}.roles")));
        let person =
            given(&mut f, "person").and_then(|n| r.nonempty_text(n, &format!("{at}.person")));
        f.finish(r, TOKEN);
        if let (Some(name), Some(sha256), Some(roles)) = (name, sha256, roles) {
            if out.iter().any(|t| t.name == name) {
                r.error(item, &format!("{at}.name"), "named twice");
                continue;
            }
            out.push(StaticToken {
                name,
                sha256,
                roles,
                person,
            });
        }
    }
    out
}

fn proxy(r: &mut Reader, node: &Node) -> Option<ProxyConfig> {
    let mut f = r.fields(node, "auth.proxy")?;
    let secret = f
        .required(
            r,
            "secret",
            "`{env: VARIABLE}` or `{file: PATH}`: the secret the proxy proves itself with",
        )
        .and_then(|n| credential(r, n, "auth.proxy.secret"));
    let mut header = |key: &str, default: &str| match given(&mut f, key) {
        Some(n) => r.nonempty_text(n, &format!("auth.proxy.{key}")),
        None => Some(default.to_owned()),
    };
    let secret_header = header("secret_header", "X-Proxy-Secret");
    let user_header = header("user_header", "X-Forwarded-User");
    let roles_header = header("roles_header", "X-Forwarded-Groups");
    f.finish(r, PROXY);
    Some(ProxyConfig {
        secret_header: secret_header?,
        secret: secret?,
        user_header: user_header?,
        roles_header: roles_header?,
    })
}
