//! The HTTP SIEM sink: batches of events POSTed as JSON lines.
//!
//! Each batch is one `POST` with `Content-Type: application/x-ndjson`, one
//! [`SiemEvent`] per line, in order. Audit batches carry their seq range in
//! `X-Provision-First-Seq` / `X-Provision-Last-Seq` and an `Idempotency-Key`
//! (`<sink>:<first>-<last>`): the pump re-sends a batch only when it has no
//! acknowledgement, and the one case where the receiver may see a batch twice (the
//! exporter stopped between the receiver's 2xx and the cursor write) is a repeat of
//! the same key, which a receiver can drop.
//!
//! Replies: a 2xx acknowledges the batch; 408, 425, 429 and 5xx, timeouts and
//! refused connections are [`SinkError::Unavailable`] (with `Retry-After` honoured
//! as [`SinkError::Throttled`]); any other status is [`SinkError::Rejected`] and
//! stops delivery. The bearer token, if any, is a secret and appears in no error
//! or `Debug` output.

use std::time::Duration;

use crate::{SiemEvent, SiemSink, SinkError};
use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use provision_http::classify::error_chain;
use provision_http::client::ClientConfigError;
use provision_http::rate_limit::RateLimitParser;

/// Longest part of a receiver's reply body kept in an error.
const BODY_EXCERPT: usize = 300;

/// POSTs batches of SIEM events to one URL. See the [module docs](self).
pub struct HttpSink {
    name: String,
    url: Url,
    client: reqwest::Client,
    token: Option<SecretString>,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl HttpSink {
    /// A sink named `name` POSTing to `url` (http or https), 5 s to connect and 30 s
    /// per request.
    pub fn new(name: impl Into<String>, url: &str) -> Result<Self, ClientConfigError> {
        Self::with_timeouts(name, url, Duration::from_secs(5), Duration::from_secs(30))
    }

    /// [`new`](Self::new) with explicit timeouts.
    pub fn with_timeouts(
        name: impl Into<String>,
        url: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, ClientConfigError> {
        let url = Url::parse(url).map_err(|e| ClientConfigError::BaseUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientConfigError::BaseUrl {
                url: url.to_string(),
                reason: "the SIEM endpoint must be an http or https URL".to_owned(),
            });
        }
        provision_http::client::check_tls_off_loopback(&url).map_err(|reason| {
            ClientConfigError::BaseUrl {
                url: url.to_string(),
                reason,
            }
        })?;
        // No redirects: a redirect would carry the audit stream (and the bearer token)
        // somewhere the configuration never named.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("provision-siem/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| ClientConfigError::Build(error_chain(&e)))?;
        Ok(Self {
            name: name.into(),
            url,
            client,
            token: None,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every batch.
    pub fn with_bearer_token(mut self, token: impl Into<SecretString>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

fn body(events: &[SiemEvent]) -> Result<Vec<u8>, SinkError> {
    let mut out = Vec::with_capacity(events.len() * 512);
    for event in events {
        serde_json::to_writer(&mut out, event)
            .map_err(|e| SinkError::Rejected(format!("event cannot be serialised: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(BODY_EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_owned()
}

#[async_trait]
impl SiemSink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, events: &[SiemEvent]) -> Result<(), SinkError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body(events)?);
        let seqs = events.iter().filter_map(SiemEvent::seq);
        if let (Some(first), Some(last)) = (seqs.clone().min(), seqs.max()) {
            request = request
                .header("X-Provision-First-Seq", first.to_string())
                .header("X-Provision-Last-Seq", last.to_string())
                .header("Idempotency-Key", format!("{}:{first}-{last}", self.name));
        }
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    SinkError::Rejected("the bearer token is not a valid header value".to_owned())
                })?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let reply = request.send().await.map_err(|e| {
            SinkError::Unavailable(format!("POST {}: {}", self.url, error_chain(&e)))
        })?;
        let status = reply.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = reply.headers().clone();
        let text = reply.text().await.unwrap_or_default();
        let message = format!("POST {}: HTTP {status}: {}", self.url, excerpt(&text));
        let transient = matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY | StatusCode::TOO_MANY_REQUESTS
        ) || status.is_server_error();
        if !transient {
            return Err(SinkError::Rejected(message));
        }
        match RateLimitParser::new()
            .parse(&headers)
            .and_then(|i| i.retry_after)
        {
            Some(retry_after) => Err(SinkError::Throttled {
                message,
                retry_after,
            }),
            None => Err(SinkError::Unavailable(message)),
        }
    }
}
