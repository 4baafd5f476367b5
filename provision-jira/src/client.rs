//! HTTP to the two hosts, on [`provision_http`]: the site API (Basic `email:token`)
//! and, when configured, the org user-management API (Bearer org API key), each with
//! its own rate budget, and Jira's error dialect.
//!
//! The client never sleeps and never retries: every reply's `X-RateLimit-*` headers
//! (the reset is an ISO 8601 timestamp) become a [`RateLimitInfo`] in the host's
//! budget, every failure an [`AdapterError`] the executor classifies.

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, StaticAuth};
use provision_http::classify::{ErrorDialect, default_class, json_system_error};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::rate_limit::RateLimitParser;
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::ConfigError;
use crate::config::JiraConfig;
use crate::descriptor::{BUDGET_ORG, BUDGET_SITE};
use crate::model::ErrorBody;

/// The site API's name in messages.
pub const SYSTEM: &str = "Jira";
/// The org API's name in messages.
pub const ORG_SYSTEM: &str = "Atlassian org API";

/// The header naming which of Jira's independent limits a 429 hit.
pub const RATE_LIMIT_REASON: &str = "ratelimit-reason";

/// Jira's error dialect: the message is `errorMessages` and the field `errors`
/// together; a throttled reply's code is its `RateLimit-Reason`. A 404 without Jira's
/// error body (an HTML "site not found", another service) is a wrong site URL
/// ([`AdapterError::Configuration`]), never "already absent".
#[derive(Debug, Clone, Copy, Default)]
pub struct JiraErrors;

impl ErrorDialect for JiraErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let mut error = match jira_error_text(reply) {
            Some(message) => SystemError::new(Some(reply.status), None, message),
            None => json_system_error(reply),
        };
        if let Some(reason) = rate_limit_reason(reply) {
            error.code = Some(reason.clone());
            error.message = format!("{} (limit hit: {reason})", error.message);
        }
        error
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        match default_class(reply, error) {
            AdapterError::NotFound { error } if jira_error_text(reply).is_none() => {
                AdapterError::Configuration {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!(
                            "{} — not a Jira site's answer: check the site URL (settings.site_url)",
                            error.message
                        ),
                    ),
                }
            }
            other => other,
        }
    }
}

/// The org API's dialect: plain JSON errors, and a throttled reply's reason as code.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrgErrors;

impl ErrorDialect for OrgErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let mut error = match jira_error_text(reply) {
            Some(message) => SystemError::new(Some(reply.status), None, message),
            None => json_system_error(reply),
        };
        if let Some(reason) = rate_limit_reason(reply) {
            error.code = Some(reason);
        }
        error
    }
}

fn rate_limit_reason(reply: &HttpResponse) -> Option<String> {
    if !matches!(reply.status, 429 | 503) {
        return None;
    }
    reply
        .headers
        .get(RATE_LIMIT_REASON)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `errorMessages` and `errors` joined, when the body is Jira's error body with
/// something in it.
pub fn jira_error_text(reply: &HttpResponse) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(&reply.body).ok()?;
    let mut parts: Vec<String> = body.error_messages.clone();
    parts.extend(body.errors.iter().map(|(field, m)| format!("{field}: {m}")));
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// One host: its HTTP client, credential, dialect and budget.
struct Host {
    http: HttpClient,
    auth: Auth,
    budget: &'static str,
    dialect: &'static dyn ErrorDialect,
}

impl Host {
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        tracing::debug!(method = %method, host = self.budget, path = url.path(), "jira request");
        let kind = RequestKind::of(&method);
        let mut request = self
            .http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self
            .http
            .send_authorized(&self.auth, request, kind)
            .await
            .map_err(|e| in_budget(e, self.budget))?;
        reply
            .in_bucket(self.budget)
            .into_result(self.dialect)
            .map_err(|e| in_budget(e, self.budget))
    }
}

/// The Jira HTTP client: the site, and the org API when configured.
pub struct JiraClient {
    site: Host,
    org: Option<Host>,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("site", &self.site.http.base_url().as_str())
            .field(
                "org",
                &self.org.as_ref().map(|o| o.http.base_url().as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl JiraClient {
    /// Clients for the configured hosts.
    pub fn new(config: &JiraConfig) -> Result<Self, ConfigError> {
        let build = |name: &str, base: &str| {
            HttpClient::builder(name, base)
                .user_agent(concat!("provision-jira/", env!("CARGO_PKG_VERSION")))
                .timeout(config.timeout)
                .rate_limit(RateLimitParser::new())
                .build()
                .map_err(|e| ConfigError::Other {
                    system: config.system_name.clone(),
                    message: format!("the HTTP client cannot be built: {e}"),
                })
        };
        let site = Host {
            http: build(SYSTEM, config.api_base()?.as_str())?,
            auth: Auth::Static(StaticAuth::basic(
                config.email.clone(),
                config.api_token.clone(),
            )),
            budget: BUDGET_SITE,
            dialect: &JiraErrors,
        };
        let org = match &config.org {
            None => None,
            Some(org) => Some(Host {
                http: build(ORG_SYSTEM, org.api_url.as_str())?,
                auth: Auth::Static(StaticAuth::bearer(org.api_key.clone())),
                budget: BUDGET_ORG,
                dialect: &OrgErrors,
            }),
        };
        Ok(Self { site, org })
    }

    /// A site API URL (`user`, `group/member`), segments percent-encoded here.
    pub fn site_url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.site.http.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request to the site; 2xx is `Ok`.
    pub async fn site(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        self.site.send(method, url, body).await
    }

    /// `GET` on the site, the body as `T`.
    pub async fn site_get<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<(T, Option<RateLimitInfo>), AdapterError> {
        let reply = self.site(Method::GET, url, None).await?;
        Ok((reply.json(SYSTEM)?, reply.rate_limit))
    }

    /// Whether the org API is configured.
    pub fn has_org(&self) -> bool {
        self.org.is_some()
    }

    /// Sends one request to the org API (`users/{id}/manage/...`); `Unsupported`
    /// when no org API key is configured.
    pub async fn org(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        let org = self.org.as_ref().ok_or_else(|| AdapterError::Unsupported {
            what: "account lifecycle and profile without the Atlassian org API key \
                   (credentials.org_api_key)"
                .to_owned(),
        })?;
        let url = org.http.url(segments);
        org.send(method, url, body).await
    }
}

/// Puts a throttled error's headroom in the host's budget, so a 429 from one host
/// never pauses the other.
fn in_budget(error: AdapterError, budget: &str) -> AdapterError {
    match error {
        AdapterError::RateLimited { mut info, error } => {
            info.bucket.get_or_insert_with(|| budget.to_owned());
            AdapterError::RateLimited { info, error }
        }
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_http::classify::classify;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            rate_limit: None,
            kind: RequestKind::Write,
        }
    }

    #[test]
    fn errors_keep_error_messages_and_field_errors() {
        let r = reply(
            400,
            r#"{"errorMessages":["Licence limit exceeded"],"errors":{"products":"jira-software is full"}}"#,
        );
        let AdapterError::Invalid { error } = classify(&JiraErrors, &r).unwrap() else {
            panic!()
        };
        assert_eq!(
            error.message,
            "Licence limit exceeded; products: jira-software is full"
        );
        assert_eq!(error.status, Some(400));
    }

    #[test]
    fn a_404_that_is_not_jiras_is_a_wrong_site() {
        let r = reply(404, "<html>Site not found</html>");
        assert!(matches!(
            classify(&JiraErrors, &r).unwrap(),
            AdapterError::Configuration { .. }
        ));
        let r = reply(
            404,
            r#"{"errorMessages":["User does not exist"],"errors":{}}"#,
        );
        assert!(matches!(
            classify(&JiraErrors, &r).unwrap(),
            AdapterError::NotFound { .. }
        ));
    }
}
