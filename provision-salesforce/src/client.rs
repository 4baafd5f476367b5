//! HTTP to one Salesforce org, on [`provision_http`]: the token from the login host,
//! every call to the `instance_url` the token reply names, SOQL paging by
//! `nextRecordsUrl`, `Sforce-Limit-Info` and Salesforce's error dialect.
//!
//! The client never sleeps and never retries: every reply's daily-allocation headroom
//! becomes a [`RateLimitInfo`], every failure an [`AdapterError`] the executor
//! classifies.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::auth::{Auth, JwtSigner, TokenCache};
use provision_http::classify::{ErrorDialect, default_class};
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use provision_http::paginate::CursorGuard;
use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap};
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::{InstanceUrl, SalesforceTokenSource};
use crate::config::{ConfigError, SalesforceAuth, SalesforceConfig};
use crate::descriptor::{BUDGET_DAILY, BUDGET_LONG_RUNNING};
use crate::model::{ErrorItem, QueryReply};

/// The system's name in messages.
pub const SYSTEM: &str = "Salesforce";

/// The response header with the org's daily API usage.
pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// How long to wait after `REQUEST_LIMIT_EXCEEDED` for the daily allocation: it is a
/// rolling 24 hours, so capacity comes back as the oldest requests age out, and the
/// reply says nothing about when.
pub const DAILY_LIMIT_RETRY: Duration = Duration::from_secs(10 * 60);

/// How long to wait after `REQUEST_LIMIT_EXCEEDED` for the concurrent long-running
/// requests: a slot frees when one of the org's long requests ends.
pub const LONG_RUNNING_RETRY: Duration = Duration::from_secs(5);

/// Salesforce's error dialect: a JSON **array** of `{message, errorCode, fields}`.
///
/// * `REQUEST_LIMIT_EXCEEDED` (HTTP 403) is rate limiting, never "unauthorized": the
///   concurrent long-running cap (`ConcurrentPerOrgLongTxn`) in the
///   [`BUDGET_LONG_RUNNING`] budget with a short wait, the daily allocation
///   (`TotalRequests`) in [`BUDGET_DAILY`] with [`DAILY_LIMIT_RETRY`];
/// * `UNABLE_TO_LOCK_ROW` (another transaction holds the record) is transient;
/// * `NOT_FOUND` and `ENTITY_IS_DELETED` mean the record is absent; a 404 without
///   Salesforce's own error body (a wrong instance, API version or path) is a
///   [`AdapterError::Configuration`], never "already absent".
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceErrors;

impl ErrorDialect for SalesforceErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        let items: Vec<ErrorItem> = match serde_json::from_slice::<serde_json::Value>(&reply.body) {
            Ok(v @ serde_json::Value::Array(_)) => serde_json::from_value(v).unwrap_or_default(),
            Ok(v @ serde_json::Value::Object(_)) => {
                serde_json::from_value::<ErrorItem>(v).map_or_else(|_| Vec::new(), |i| vec![i])
            }
            _ => Vec::new(),
        };
        let Some(first) = items
            .iter()
            .find(|i| i.code().is_some() || i.message.is_some())
        else {
            return provision_http::classify::json_system_error(reply);
        };
        let mut message = items
            .iter()
            .filter_map(|i| i.message.as_deref())
            .collect::<Vec<_>>()
            .join("; ");
        if message.is_empty() {
            message = first.code().unwrap_or_default().to_owned();
        }
        let fields: Vec<&str> = items
            .iter()
            .flat_map(|i| i.fields.iter().map(String::as_str))
            .collect();
        if !fields.is_empty() {
            message.push_str(&format!(" (fields: {})", fields.join(", ")));
        }
        SystemError::new(Some(reply.status), first.code().map(str::to_owned), message)
    }

    fn classify(&self, reply: &HttpResponse, error: SystemError) -> AdapterError {
        match error.code.as_deref() {
            Some("REQUEST_LIMIT_EXCEEDED") => {
                let mut info = reply.rate_limit.clone().unwrap_or_default();
                if error.message.contains("ConcurrentPerOrgLongTxn")
                    || error.message.to_ascii_lowercase().contains("concurrent")
                {
                    info.bucket = Some(BUDGET_LONG_RUNNING.to_owned());
                    info.retry_after = info.retry_after.or(Some(LONG_RUNNING_RETRY));
                } else {
                    info.bucket = Some(BUDGET_DAILY.to_owned());
                    info.retry_after = info.retry_after.or(Some(DAILY_LIMIT_RETRY));
                }
                AdapterError::RateLimited { info, error }
            }
            Some("UNABLE_TO_LOCK_ROW") => AdapterError::Transient {
                error,
                maybe_applied: false,
            },
            Some("NOT_FOUND" | "ENTITY_IS_DELETED") => AdapterError::NotFound { error },
            Some("INVALID_SESSION_ID") => AdapterError::Unauthorized { error },
            _ if reply.status == 404 => {
                let message = format!(
                    "{} — not a Salesforce org's answer: check the instance the token names, \
                     settings.login_url and settings.api_version",
                    error.message
                );
                AdapterError::Configuration {
                    error: SystemError::new(error.status, error.code, message),
                }
            }
            _ => default_class(reply, error),
        }
    }
}

/// The daily allocation from `Sforce-Limit-Info: api-usage=<used>/<limit>` (other
/// items, as `per-app-api-usage` or `api-bursts`, are ignored). The allocation is a
/// rolling 24 hours, so no reset time is given.
pub fn limit_info(headers: &HeaderMap) -> Option<RateLimitInfo> {
    let text = headers.get(LIMIT_INFO_HEADER)?.to_str().ok()?;
    let usage = text
        .split([';', ','])
        .map(str::trim)
        .find_map(|item| item.strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    let used: u64 = used.trim().parse().ok()?;
    let limit: u64 = limit.trim().parse().ok()?;
    Some(RateLimitInfo {
        bucket: Some(BUDGET_DAILY.to_owned()),
        limit: Some(limit),
        remaining: Some(limit.saturating_sub(used)),
        reset_at: None,
        retry_after: None,
    })
}

/// The HTTP client of one org.
pub struct SalesforceClient {
    login: HttpClient,
    tokens: Arc<TokenCache>,
    auth: Auth,
    instance: InstanceUrl,
    api: Mutex<Option<(Url, HttpClient)>>,
    config: SalesforceConfig,
}

impl std::fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceClient")
            .field("login_url", &self.config.login_url.as_str())
            .field("instance_url", &self.instance.get().map(|u| u.to_string()))
            .finish_non_exhaustive()
    }
}

impl SalesforceClient {
    /// A client for the configured org. Parses the private key now, so a bad key is a
    /// configuration error, not a failure at the first request.
    pub fn new(config: SalesforceConfig) -> Result<Self, ConfigError> {
        let login = Self::http(&config, config.login_url.as_str())?;
        let instance = InstanceUrl::default();
        let token_url = config.token_url()?;
        let source = match &config.auth {
            SalesforceAuth::JwtBearer {
                consumer_key,
                username,
                private_key,
            } => {
                let signer = JwtSigner::rs256_pem(private_key, None).map_err(|e| {
                    ConfigError::missing_credential(
                        &config.system_name,
                        "private_key",
                        e.to_string(),
                    )
                })?;
                SalesforceTokenSource::jwt_bearer(
                    token_url,
                    consumer_key,
                    username,
                    config.audience.clone(),
                    signer,
                    instance.clone(),
                )
            }
            SalesforceAuth::ClientCredentials {
                client_id,
                client_secret,
            } => SalesforceTokenSource::client_credentials(
                token_url,
                client_id,
                client_secret.clone(),
                instance.clone(),
            ),
        };
        let tokens = Arc::new(TokenCache::new(
            source,
            login.clone(),
            config.token_refresh_margin,
        ));
        Ok(Self {
            login,
            auth: Auth::OAuth(Arc::clone(&tokens)),
            tokens,
            instance,
            api: Mutex::new(None),
            config,
        })
    }

    fn http(config: &SalesforceConfig, base: &str) -> Result<HttpClient, ConfigError> {
        HttpClient::builder(SYSTEM, base)
            .user_agent(concat!("provision-salesforce/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::Other {
                system: config.system_name.clone(),
                message: format!("the HTTP client cannot be built: {e}"),
            })
    }

    /// The configuration.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    /// The instance URL the latest token named (`None` before the first request).
    pub fn instance_url(&self) -> Option<Url> {
        self.instance.get()
    }

    /// The REST client for the token's instance (`{instance_url}/services/data/vXX.X/`),
    /// fetching a token first when there is none.
    async fn api(&self) -> Result<HttpClient, AdapterError> {
        self.tokens.token().await?;
        let instance = self
            .instance
            .get()
            .ok_or_else(|| AdapterError::Unauthorized {
                error: SystemError::message("no instance_url is known: the token request failed"),
            })?;
        let mut api = self.api.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((url, http)) = api.as_ref()
            && url == &instance
        {
            return Ok(http.clone());
        }
        let base = instance
            .join(&format!("services/data/v{}/", self.config.api_version))
            .map_err(|e| AdapterError::Configuration {
                error: SystemError::message(format!("the instance URL cannot be used: {e}")),
            })?;
        let http =
            Self::http(&self.config, base.as_str()).map_err(|e| AdapterError::Configuration {
                error: SystemError::message(e.to_string()),
            })?;
        *api = Some((instance, http.clone()));
        Ok(http)
    }

    /// Sends one request to `segments` under the REST base (each segment
    /// percent-encoded here) with `query` pairs; 2xx is `Ok`, anything else a
    /// classified [`AdapterError`].
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        let http = self.api().await?;
        let mut url = http.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.send_to(&http, method, url, body).await
    }

    async fn send_to(
        &self,
        http: &HttpClient,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, AdapterError> {
        tracing::debug!(method = %method, path = url.path(), "salesforce request");
        let kind = RequestKind::of(&method);
        let mut request = http
            .reqwest()
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut reply = http
            .send_authorized(&self.auth, request, kind)
            .await
            .map_err(tag_error)?;
        if let Some(info) = limit_info(&reply.headers) {
            reply.rate_limit = Some(match reply.rate_limit.take() {
                Some(mut parsed) => {
                    parsed.limit = info.limit;
                    parsed.remaining = info.remaining;
                    parsed
                }
                None => info,
            });
        }
        reply
            .in_bucket(BUDGET_DAILY)
            .into_result(&SalesforceErrors)
            .map_err(tag_error)
    }

    /// `POST /sobjects/{object}`: creates one record.
    pub async fn create(
        &self,
        object: &str,
        body: &serde_json::Value,
    ) -> Result<HttpResponse, AdapterError> {
        self.send(Method::POST, &["sobjects", object], &[], Some(body))
            .await
    }

    /// `PATCH /sobjects/{object}/{id}`: updates the given fields of one record.
    pub async fn patch(
        &self,
        object: &str,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<HttpResponse, AdapterError> {
        self.send(Method::PATCH, &["sobjects", object, id], &[], Some(body))
            .await
    }

    /// One batch of a SOQL query (`GET /query?q=`).
    pub async fn query<T: DeserializeOwned>(
        &self,
        soql: &str,
    ) -> Result<(QueryReply<T>, Option<RateLimitInfo>), AdapterError> {
        let reply = self
            .send(Method::GET, &["query"], &[("q", soql)], None)
            .await?;
        Ok((reply.json(SYSTEM)?, reply.rate_limit))
    }

    /// The batch at a `nextRecordsUrl` (a path on the instance). A path outside the
    /// REST API, or a URL on another host, is refused: the token goes nowhere else.
    pub async fn query_more<T: DeserializeOwned>(
        &self,
        next: &str,
    ) -> Result<(QueryReply<T>, Option<RateLimitInfo>), AdapterError> {
        let http = self.api().await?;
        if !next.starts_with("/services/data/") {
            return Err(AdapterError::Permanent {
                error: SystemError::message(format!(
                    "{SYSTEM} gave a next-batch URL outside its REST API: {}",
                    next.chars().take(120).collect::<String>()
                )),
            });
        }
        let url = http
            .base_url()
            .join(next)
            .map_err(|e| AdapterError::Permanent {
                error: SystemError::message(format!(
                    "{SYSTEM} gave a next-batch URL that is not one: {e}"
                )),
            })?;
        http.ensure_same_origin(&url)?;
        let reply = self.send_to(&http, Method::GET, url, None).await?;
        Ok((reply.json(SYSTEM)?, reply.rate_limit))
    }

    /// Every row of a SOQL query, batch after batch (for id lookups and the small
    /// reads inside one operation; listings page through the trait's cursor instead).
    pub async fn query_all<T: DeserializeOwned>(&self, soql: &str) -> Result<Vec<T>, AdapterError> {
        let (mut reply, _) = self.query::<T>(soql).await?;
        let mut rows = std::mem::take(&mut reply.records);
        let mut guard = CursorGuard::new(SYSTEM);
        while let (false, Some(next)) = (reply.done, reply.next_records_url.clone()) {
            guard.visit(&next)?;
            reply = self.query_more::<T>(&next).await?.0;
            rows.append(&mut reply.records);
        }
        Ok(rows)
    }

    /// The login host's client (the token endpoint's).
    pub fn login_http(&self) -> &HttpClient {
        &self.login
    }
}

/// Puts a throttled error without a budget in the daily one.
fn tag_error(error: AdapterError) -> AdapterError {
    match error {
        AdapterError::RateLimited { mut info, error } => {
            if info.bucket.is_none() {
                info.bucket = Some(BUDGET_DAILY.to_owned());
            }
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
    use reqwest::header::HeaderValue;

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
    fn the_daily_usage_header_becomes_headroom() {
        let mut h = HeaderMap::new();
        h.insert(
            LIMIT_INFO_HEADER,
            HeaderValue::from_static("api-usage=10018/100000; per-app-api-usage=17/250(appName=x)"),
        );
        let info = limit_info(&h).unwrap();
        assert_eq!(info.limit, Some(100_000));
        assert_eq!(info.remaining, Some(89_982));
        assert_eq!(info.bucket.as_deref(), Some(BUDGET_DAILY));
        h.insert(
            LIMIT_INFO_HEADER,
            HeaderValue::from_static("api-usage=lots"),
        );
        assert!(limit_info(&h).is_none());
    }

    #[test]
    fn request_limit_exceeded_is_rate_limiting_in_its_budget() {
        let e = classify(
            &SalesforceErrors,
            &reply(
                403,
                r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
            ),
        )
        .unwrap();
        let AdapterError::RateLimited { info, error } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(info.bucket.as_deref(), Some(BUDGET_DAILY));
        assert_eq!(info.retry_after, Some(DAILY_LIMIT_RETRY));
        assert_eq!(error.code.as_deref(), Some("REQUEST_LIMIT_EXCEEDED"));
        assert!(error.message.contains("TotalRequests"));

        let e = classify(
            &SalesforceErrors,
            &reply(
                403,
                r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
            ),
        )
        .unwrap();
        let AdapterError::RateLimited { info, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(info.bucket.as_deref(), Some(BUDGET_LONG_RUNNING));
        assert_eq!(info.retry_after, Some(LONG_RUNNING_RETRY));
    }

    #[test]
    fn errors_keep_code_message_and_fields() {
        let e = classify(
            &SalesforceErrors,
            &reply(
                400,
                r#"[{"message":"Required fields are missing: [Alias]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Alias"]}]"#,
            ),
        )
        .unwrap();
        let AdapterError::Invalid { error } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(error.code.as_deref(), Some("REQUIRED_FIELD_MISSING"));
        assert!(error.message.contains("Alias"), "{}", error.message);
    }

    #[test]
    fn a_404_without_salesforce_s_body_is_configuration() {
        let e = classify(&SalesforceErrors, &reply(404, "<html>nope</html>")).unwrap();
        assert_eq!(e.class(), "configuration", "{e}");
        let e = classify(
            &SalesforceErrors,
            &reply(
                404,
                r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#,
            ),
        )
        .unwrap();
        assert_eq!(e.class(), "not_found", "{e}");
    }
}
