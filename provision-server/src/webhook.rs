//! `POST /webhooks/{source}`: the HR webhook receiver.
//!
//! The sender signs `"{timestamp}.{body}"` with HMAC-SHA256 and the source's secret,
//! and sends `sha256=<hex>` in the source's signature header and the Unix time in its
//! timestamp header. Answers:
//!
//! | case | answer |
//! | --- | --- |
//! | unknown source | 404 |
//! | no signature, or a wrong one | 401, with the reason |
//! | timestamp outside the window | 401 `stale` |
//! | body over the limit | 413 |
//! | not a valid event | 400, naming the field |
//! | stored | 202 `{"status":"accepted","seq":n}` — after the row is durable |
//! | event id seen before | 200 `{"status":"duplicate","seq":n}` — not processed again |
//! | store unavailable | 503 (the sender retries) |
//! | shutting down | 503 |

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hmac::{Hmac, Mac};
use provision_core::secret::ExposeSecret;
use provision_store::{Accepted, NewInboxEvent};
use serde_json::json;
use sha2::Sha256;

use crate::event::parse_event;
use crate::service::{Service, Source};

type HmacSha256 = Hmac<Sha256>;

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn unauthorized(error: &str, reason: String) -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": error, "reason": reason}),
    )
}

/// Why a request was refused: the label (`unsigned`, `bad_signature`, `stale`) and
/// the reason sent back.
struct Refusal {
    label: &'static str,
    reason: String,
}

/// Checks the signature and the timestamp window. `Err` is the answer to send.
fn verify(
    source: &Source,
    headers: &HeaderMap,
    body: &[u8],
    tolerance_seconds: u64,
) -> Result<(), Refusal> {
    let sig_header = &source.config.signature_header;
    let ts_header = &source.config.timestamp_header;
    let Some(signature) = headers.get(sig_header.as_str()) else {
        return Err(Refusal {
            label: "unsigned",
            reason: format!("no {sig_header} header"),
        });
    };
    let signature = signature.to_str().unwrap_or_default().trim();
    let Some(hex_mac) = signature.strip_prefix("sha256=") else {
        return Err(Refusal {
            label: "bad_signature",
            reason: format!("{sig_header} must be sha256=<hex HMAC-SHA256>"),
        });
    };
    let Ok(mac_bytes) = hex::decode(hex_mac) else {
        return Err(Refusal {
            label: "bad_signature",
            reason: format!("{sig_header} is not hex"),
        });
    };
    let Some(timestamp) = headers.get(ts_header.as_str()) else {
        return Err(Refusal {
            label: "unsigned",
            reason: format!("no {ts_header} header"),
        });
    };
    let timestamp = timestamp.to_str().unwrap_or_default().trim();
    let Ok(signed_at) = timestamp.parse::<i64>() else {
        return Err(Refusal {
            label: "bad_signature",
            reason: format!("{ts_header} must be Unix seconds, not {timestamp:?}"),
        });
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(source.secret.expose_secret().as_bytes()) else {
        return Err(Refusal {
            label: "bad_signature",
            reason: "the source's secret is unusable".to_owned(),
        });
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // Constant-time comparison.
    if mac.verify_slice(&mac_bytes).is_err() {
        return Err(Refusal {
            label: "bad_signature",
            reason: format!("{sig_header} does not match the body and timestamp"),
        });
    }
    let skew = Utc::now().timestamp().saturating_sub(signed_at);
    if skew.unsigned_abs() > tolerance_seconds {
        return Err(Refusal {
            label: "stale",
            reason: format!(
                "signed {skew} s from now; the window is {tolerance_seconds} s either way"
            ),
        });
    }
    Ok(())
}

/// The handler.
pub(crate) async fn receive(
    State(service): State<Service>,
    Path(source_name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let inner = &service.inner;
    let metrics = &inner.metrics;
    let Some(source) = inner.sources.get(&source_name) else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "unknown_source", "reason": format!("no source named {source_name:?}")}),
        );
    };
    if !inner.accepting.load(std::sync::atomic::Ordering::SeqCst) {
        metrics.webhook(&source_name, "shutting_down");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "shutting_down"}),
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let label = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "unreadable"
            };
            metrics.webhook(&source_name, label);
            return answer(
                status,
                json!({"error": label, "reason": rejection.body_text(),
                       "limit_bytes": inner.config.webhook.max_body_bytes}),
            );
        }
    };
    if let Err(Refusal { label, reason }) = verify(
        source,
        &headers,
        &body,
        inner.config.webhook.timestamp_tolerance_seconds,
    ) {
        tracing::warn!(source = %source_name, answer = label, "webhook refused");
        metrics.webhook(&source_name, label);
        return unauthorized(label, reason);
    }
    let event = match parse_event(&source_name, &body) {
        Ok(event) => event,
        Err(malformed) => {
            metrics.webhook(&source_name, "malformed");
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "malformed", "field": malformed.field, "reason": malformed.message}),
            );
        }
    };
    let payload_json = match serde_json::to_string(&event) {
        Ok(json) => json,
        Err(e) => {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal", "reason": e.to_string()}),
            );
        }
    };
    let row = NewInboxEvent {
        source: source_name.clone(),
        event_id: event.event_id.clone(),
        kind: event.kind_name().to_owned(),
        identity: event.identity().to_string(),
        priority: event.priority(),
        payload_json,
        received_at: event.received_at,
    };
    match inner.store.inbox_accept(&row).await {
        Ok(Accepted::Stored { seq }) => {
            tracing::info!(source = %source_name, event_id = %event.event_id, kind = event.kind_name(),
                identity = %event.identity(), seq, "event stored");
            metrics.webhook(&source_name, "accepted");
            inner.wake.notify_one();
            answer(
                StatusCode::ACCEPTED,
                json!({"status": "accepted", "seq": seq}),
            )
        }
        Ok(Accepted::Duplicate { seq }) => {
            metrics.webhook(&source_name, "duplicate");
            answer(StatusCode::OK, json!({"status": "duplicate", "seq": seq}))
        }
        Err(e) => {
            tracing::error!(error = %e, "event not stored");
            metrics.webhook(&source_name, "store_unavailable");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "store_unavailable", "reason": "the event was not stored; retry"}),
            )
        }
    }
}

/// The signature header value for `body` signed at `timestamp` with `secret`
/// (`sha256=<hex>`): what a sender computes, for tests and tools.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
