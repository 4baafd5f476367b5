//! One classifier from a reply (status + headers + body) to [`AdapterError`], keeping
//! the system's own status, code and message in [`SystemError`].
//!
//! A system's quirks live in its [`ErrorDialect`]: where its code and message sit in
//! the body, whether a 2xx body can carry an error (Slack's `ok:false`, GraphQL's
//! `errors`), and which replies the status table gets wrong (Google's 403
//! `userRateLimitExceeded`). Everything else is [`default_class`]:
//!
//! | status | class |
//! | --- | --- |
//! | 429 | `RateLimited` with the parsed headers |
//! | 403 with `Retry-After` or `remaining: 0` | `RateLimited` (GitHub's primary and secondary limits) |
//! | 401, other 403 | `Unauthorized` |
//! | 404, 410 | `NotFound` |
//! | 409, 412 | `Conflict` (the executor confirms with `check`) |
//! | 400, 405, 406, 411, 413, 414, 415, 422 | `Invalid` |
//! | 503 with `Retry-After` | `RateLimited` (the server says when to come back: Jira's resource exhaustion) |
//! | 408, other 503 | `Transient`, not applied (the server refused before doing anything) |
//! | other 5xx | `Transient`, maybe applied when the request was a write |
//! | anything else (and a 2xx body error) | `Permanent` |
//!
//! A transport failure is `Transient`: maybe applied when a write's request left
//! (timeout, reset connection), never when the connection did not open.

use provision_core::adapter::{AdapterError, SystemError};
use reqwest::header;
use serde_json::Value;

use crate::client::{HttpResponse, RequestKind};

/// How much of a non-JSON error body is kept as the message.
const TEXT_BODY_LIMIT: usize = 300;

/// One system's error dialect. Every method has a default that fits plain JSON APIs
/// ([`JsonErrors`]); a dialect overrides only what its system does differently.
pub trait ErrorDialect: Send + Sync {
    /// The system's own code and message in an error reply (default:
    /// [`json_system_error`]).
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        json_system_error(reply)
    }

    /// An error reported inside a 2xx reply (Slack's `ok:false`, GraphQL's `errors`):
    /// `None` for a real success (the default).
    fn body_error(&self, reply: &HttpResponse) -> Option<SystemError> {
        let _ = reply;
        None
    }

    /// The class of an error reply; override for the system's quirks and call
    /// [`default_class`] for the rest.
    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        default_class(reply, error)
    }
}

/// The default dialect: codes and messages found by [`json_system_error`], classes by
/// [`default_class`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrors;

impl ErrorDialect for JsonErrors {}

/// `None` for a success; otherwise the reply's error, classified by `dialect`.
pub fn classify(dialect: &dyn ErrorDialect, reply: &HttpResponse) -> Option<AdapterError> {
    if reply.is_success() {
        let error = dialect.body_error(reply)?;
        return Some(dialect.classify(reply, error));
    }
    let error = dialect.system_error(reply);
    Some(dialect.classify(reply, error))
}

/// The status table in the module docs.
pub fn default_class(reply: &HttpResponse, error: SystemError) -> AdapterError {
    let info = reply.rate_limit.clone().unwrap_or_default();
    let maybe_applied = reply.kind.is_write();
    match reply.status {
        429 => AdapterError::RateLimited { info, error },
        403 if reply.headers.contains_key(header::RETRY_AFTER) || info.remaining == Some(0) => {
            AdapterError::RateLimited { info, error }
        }
        503 if reply.headers.contains_key(header::RETRY_AFTER) => {
            AdapterError::RateLimited { info, error }
        }
        401 | 403 => AdapterError::Unauthorized { error },
        404 | 410 => AdapterError::NotFound { error },
        409 | 412 => AdapterError::Conflict { error },
        400 | 405 | 406 | 411 | 413 | 414 | 415 | 422 => AdapterError::Invalid { error },
        408 | 503 => AdapterError::transient(error),
        500..=599 => AdapterError::Transient {
            error,
            maybe_applied,
        },
        _ => AdapterError::Permanent { error },
    }
}

/// Where plain JSON APIs put their error code (first found wins).
const CODE_FIELDS: [&str; 7] = [
    "errorCode",    // Okta
    "code",         // many
    "error",        // OAuth, Slack (when a string)
    "__type",       // AWS JSON
    "scimType",     // SCIM
    "error.status", // Google
    "status",       // SCIM's string status is not a code: only used when nothing else is
];

/// Where plain JSON APIs put their message (first found wins).
const MESSAGE_FIELDS: [&str; 8] = [
    "errorSummary",      // Okta
    "message",           // GitLab, GitHub, AWS
    "error_description", // OAuth
    "detail",            // SCIM, RFC 9457 problem details
    "error.message",     // Google
    "errorMessages",     // Jira (a list)
    "errors",            // GraphQL (a list of {message}), Jira field errors
    "title",             // RFC 9457
];

/// The system's code and message from a JSON body by the common field names
/// (`errorCode`/`code`/`error`/`__type`/`scimType`; `errorSummary`/`message`/
/// `error_description`/`detail`/`error.message`/`errorMessages`/`errors`). A body that
/// is not JSON gives its first 300 characters, or the status's reason when it is
/// empty or an HTML page (never echoed).
pub fn json_system_error(reply: &HttpResponse) -> SystemError {
    let status = Some(reply.status);
    let reason = || status_reason(reply.status);
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        let text = String::from_utf8_lossy(&reply.body);
        let text = text.trim();
        let message = if text.is_empty() || text.starts_with('<') {
            reason()
        } else {
            text.chars().take(TEXT_BODY_LIMIT).collect()
        };
        return SystemError::new(status, None, message);
    };
    let code = CODE_FIELDS
        .iter()
        .find_map(|f| field(&body, f).and_then(as_code));
    let message = MESSAGE_FIELDS
        .iter()
        .find_map(|f| field(&body, f).and_then(as_message))
        .or_else(|| code.clone())
        .unwrap_or_else(reason);
    SystemError::new(status, code, message)
}

/// Slack's convention: a 2xx body `{"ok": false, "error": "already_in_channel"}` is
/// an error whose code is `error` (for [`ErrorDialect::body_error`]).
pub fn ok_false_error(reply: &HttpResponse) -> Option<SystemError> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    if body.get("ok")?.as_bool()? {
        return None;
    }
    let code = body.get("error").and_then(as_code);
    let message = body
        .get("detail")
        .or_else(|| body.pointer("/response_metadata/messages"))
        .and_then(as_message)
        .or_else(|| code.clone())
        .unwrap_or_else(|| "ok: false".to_owned());
    Some(SystemError::new(Some(reply.status), code, message))
}

/// GraphQL's convention: a 2xx body with a non-empty `errors` list is an error; the
/// code is the first error's `extensions.code` or `type` (for
/// [`ErrorDialect::body_error`]).
pub fn graphql_errors(reply: &HttpResponse) -> Option<SystemError> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    let errors = body.get("errors")?.as_array().filter(|e| !e.is_empty())?;
    let code = errors.iter().find_map(|e| {
        e.pointer("/extensions/code")
            .or_else(|| e.get("type"))
            .and_then(as_code)
    });
    let message = as_message(&Value::Array(errors.clone())).unwrap_or_default();
    Some(SystemError::new(Some(reply.status), code, message))
}

/// True when an error reply's body is a SCIM error message (RFC 7644 §3.12): the
/// `urn:ietf:params:scim:api:messages:2.0:Error` schema, a `status` given as a string
/// (only SCIM does that), or Slack's SCIM v1 `Errors` object. A 404 with such a body
/// is "no such resource"; any other 404 from a SCIM base URL means the URL is wrong.
pub fn is_scim_error(reply: &HttpResponse) -> bool {
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return false;
    };
    let schema = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|s| s.ends_with(":Error"))
        });
    schema || body.get("status").is_some_and(Value::is_string) || body.get("Errors").is_some()
}

/// A failure to get a reply: `Transient`, maybe applied when a write's request may
/// have left (a connection that never opened sent nothing).
pub fn transport_error(system: &str, e: &reqwest::Error, kind: RequestKind) -> AdapterError {
    let connect = e.is_connect();
    let what = if e.is_timeout() {
        "timed out"
    } else if connect {
        "connection failed"
    } else {
        "request failed"
    };
    AdapterError::Transient {
        error: SystemError::message(format!("{system} {what}: {}", error_chain(e))),
        maybe_applied: kind.is_write() && !connect,
    }
}

/// The reply's body could not be read: the request was sent, so a write may have
/// applied.
pub fn body_read_error(system: &str, e: &reqwest::Error, kind: RequestKind) -> AdapterError {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "reply unreadable"
    };
    AdapterError::Transient {
        error: SystemError::message(format!("{system} {what}: {}", error_chain(e))),
        maybe_applied: kind.is_write(),
    }
}

/// A reqwest error and its causes, without the URL (short, stable messages; query
/// strings can hold search terms).
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
        text = text.replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn status_reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or_else(|| format!("HTTP {status}"), str::to_owned)
}

/// `a.b` → `body["a"]["b"]`.
fn field<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, key| v.get(key))
}

fn as_code(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string, a list of strings or `{message}` objects (joined with `; `), or an
/// object of field errors (`field: message`).
fn as_message(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::adapter::RateLimitInfo;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            rate_limit: None,
            kind: RequestKind::Write,
        }
    }

    fn class(status: u16, body: &str) -> AdapterError {
        classify(&JsonErrors, &reply(status, body)).unwrap()
    }

    #[test]
    fn success_is_none() {
        assert!(classify(&JsonErrors, &reply(200, r#"{"ok":false}"#)).is_none());
        assert!(classify(&JsonErrors, &reply(204, "")).is_none());
    }

    #[test]
    fn the_status_table() {
        let cases: &[(u16, &str)] = &[
            (400, "invalid"),
            (401, "unauthorized"),
            (403, "unauthorized"),
            (404, "not_found"),
            (409, "conflict"),
            (410, "not_found"),
            (412, "conflict"),
            (422, "invalid"),
            (429, "rate_limited"),
            (500, "transient"),
            (503, "transient"),
            (418, "permanent"),
            (302, "permanent"),
        ];
        for (status, expected) in cases {
            assert_eq!(class(*status, "").class(), *expected, "HTTP {status}");
        }
    }

    #[test]
    fn a_write_that_met_a_500_may_have_applied_but_not_a_503() {
        assert!(matches!(
            class(500, ""),
            AdapterError::Transient {
                maybe_applied: true,
                ..
            }
        ));
        assert!(matches!(
            class(503, ""),
            AdapterError::Transient {
                maybe_applied: false,
                ..
            }
        ));
        let mut read = reply(502, "");
        read.kind = RequestKind::Read;
        assert!(matches!(
            classify(&JsonErrors, &read).unwrap(),
            AdapterError::Transient {
                maybe_applied: false,
                ..
            }
        ));
    }

    #[test]
    fn a_429_carries_the_parsed_rate_limit() {
        let mut r = reply(429, "Retry later");
        r.rate_limit = Some(RateLimitInfo {
            retry_after: Some(std::time::Duration::from_secs(9)),
            ..RateLimitInfo::default()
        });
        let AdapterError::RateLimited { info, error } = classify(&JsonErrors, &r).unwrap() else {
            panic!()
        };
        assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(9)));
        assert_eq!(error.message, "Retry later");
        assert_eq!(error.status, Some(429));
    }

    #[test]
    fn a_403_is_rate_limited_only_with_rate_limit_signs() {
        let mut r = reply(403, r#"{"message":"API rate limit exceeded"}"#);
        r.rate_limit = Some(RateLimitInfo {
            remaining: Some(0),
            ..RateLimitInfo::default()
        });
        assert_eq!(classify(&JsonErrors, &r).unwrap().class(), "rate_limited");
        let mut r = reply(403, r#"{"message":"secondary rate limit"}"#);
        r.headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        assert_eq!(classify(&JsonErrors, &r).unwrap().class(), "rate_limited");
        let mut r = reply(403, r#"{"message":"Must have admin rights"}"#);
        r.rate_limit = Some(RateLimitInfo {
            remaining: Some(4999),
            ..RateLimitInfo::default()
        });
        assert_eq!(classify(&JsonErrors, &r).unwrap().class(), "unauthorized");
    }

    #[test]
    fn a_503_with_retry_after_says_when_to_come_back() {
        let mut r = reply(503, "");
        r.headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(classify(&JsonErrors, &r).unwrap().class(), "rate_limited");
    }

    #[test]
    fn codes_and_messages_of_each_dialect_are_kept() {
        let okta = class(
            400,
            r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login"}"#,
        );
        let e = okta.system_error().unwrap();
        assert_eq!(e.code.as_deref(), Some("E0000001"));
        assert_eq!(e.message, "Api validation failed: login");
        assert_eq!(e.status, Some(400));

        let gitlab = class(409, r#"{"message":"Member already exists"}"#);
        assert_eq!(
            gitlab.system_error().unwrap().message,
            "Member already exists"
        );

        let gitlab_fields = class(400, r#"{"message":{"access_level":["is not included"]}}"#);
        assert_eq!(
            gitlab_fields.system_error().unwrap().message,
            r#"access_level: ["is not included"]"#
        );

        let jira = class(
            400,
            r#"{"errorMessages":["Group does not exist.","Try again"],"errors":{}}"#,
        );
        assert_eq!(
            jira.system_error().unwrap().message,
            "Group does not exist.; Try again"
        );

        let scim = class(
            409,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}"#,
        );
        let e = scim.system_error().unwrap();
        assert_eq!(e.code.as_deref(), Some("uniqueness"));
        assert_eq!(e.message, "userName taken");

        let google = class(
            403,
            r#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","status":"PERMISSION_DENIED"}}"#,
        );
        let e = google.system_error().unwrap();
        assert_eq!(e.code.as_deref(), Some("PERMISSION_DENIED"));
        assert_eq!(e.message, "Not Authorized to access this resource/api");

        let oauth = class(
            401,
            r#"{"error":"invalid_client","error_description":"bad assertion"}"#,
        );
        let e = oauth.system_error().unwrap();
        assert_eq!(e.code.as_deref(), Some("invalid_client"));
        assert_eq!(e.message, "bad assertion");
    }

    #[test]
    fn html_and_empty_bodies_give_the_status_reason() {
        let e = class(502, "<html><body>Bad gateway from proxy</body></html>");
        assert_eq!(e.system_error().unwrap().message, "Bad Gateway");
        let e = class(404, "");
        assert_eq!(e.system_error().unwrap().message, "Not Found");
        let long = "x".repeat(1000);
        let e = class(500, &long);
        assert_eq!(e.system_error().unwrap().message.len(), 300);
    }

    /// Slack: errors in HTTP 200, and "already in channel" is a success by protocol.
    struct Slack;
    impl ErrorDialect for Slack {
        fn body_error(&self, reply: &HttpResponse) -> Option<SystemError> {
            ok_false_error(reply)
        }
        fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
            match error.code.as_deref() {
                Some("already_in_channel") => AdapterError::AlreadyDone { error },
                Some("channel_not_found" | "user_not_found") => AdapterError::NotFound { error },
                _ => default_class(reply, error),
            }
        }
    }

    #[test]
    fn a_dialect_hook_reads_errors_in_a_200() {
        let ok = reply(200, r#"{"ok":true,"channel":{}}"#);
        assert!(classify(&Slack, &ok).is_none());
        let dup = reply(200, r#"{"ok":false,"error":"already_in_channel"}"#);
        let e = classify(&Slack, &dup).unwrap();
        assert_eq!(e.class(), "already_done");
        let e = e.system_error().unwrap().clone();
        assert_eq!(
            (e.status, e.code.as_deref(), e.message.as_str()),
            (Some(200), Some("already_in_channel"), "already_in_channel")
        );
        let other = reply(200, r#"{"ok":false,"error":"is_archived"}"#);
        assert_eq!(classify(&Slack, &other).unwrap().class(), "permanent");
        // A 429 still goes by the status.
        assert_eq!(
            classify(&Slack, &reply(429, "")).unwrap().class(),
            "rate_limited"
        );
    }

    #[test]
    fn graphql_errors_in_a_200() {
        let r = reply(
            200,
            r#"{"data":null,"errors":[{"type":"NOT_FOUND","message":"Could not resolve to a User"}]}"#,
        );
        let e = graphql_errors(&r).unwrap();
        assert_eq!(e.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(e.message, "Could not resolve to a User");
        assert!(graphql_errors(&reply(200, r#"{"data":{},"errors":[]}"#)).is_none());
    }
}
