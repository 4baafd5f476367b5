//! The generic HTTPS report source, and the page walk every HTTP source shares.
//!
//! A Workday RaaS custom report is this source: a `GET` on the report's URL with
//! `format=json` (the people under `Report_Entry`) or `format=csv`, basic auth as
//! the integration system user.
//!
//! ```
//! use provision_core::config::CredentialRef;
//! use provision_roster::sources::HttpReport;
//! let workday = HttpReport::workday_raas(
//!     "workday",
//!     "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme/ISU_Provision/Workers_for_Provisioning?format=json",
//!     "ISU_Provision@acme",
//!     CredentialRef::Env { env: "WORKDAY_ISU_PASSWORD".into() },
//! );
//! # let _ = workday;
//! ```

use async_trait::async_trait;
use provision_core::adapter::{AdapterError, SystemError};
use provision_core::config::CredentialRef;
use provision_http::auth::Auth;
use provision_http::classify::ErrorDialect;
use provision_http::client::{HttpClient, RequestKind};
use provision_http::paginate::{CursorGuard, next_link};
use provision_http::read_retry::{ReadRetry, with_read_retries};
use reqwest::header::{ACCEPT, HeaderMap};
use url::Url;

use super::auth::endpoint_url;
use super::{HrSource, SourceAuth, SourceError, merge_pages};
use crate::{RosterFormat, RosterLoad, RosterMapping, RosterReader};

/// What a report's body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportFormat {
    /// JSON: a bare array of people, or an object with the array under `list_key`
    /// (`people`; Workday RaaS: `Report_Entry`; BambooHR: `employees`).
    Json {
        /// The key of the array of people in the top-level object.
        list_key: String,
    },
    /// CSV with a header row on every page.
    Csv,
}

/// How the next page is found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Paging {
    /// One reply holds everything (Workday RaaS, BambooHR reports).
    #[default]
    None,
    /// `Link: <…>; rel="next"`, followed as given (on the same origin only).
    Link,
    /// A token in the JSON body (`field`, a dotted path such as `paging.next`) sent
    /// back as the query parameter `param`; an absent or empty token ends the walk.
    Token {
        /// The query parameter the token goes in.
        param: String,
        /// Where the body holds the next token.
        field: String,
    },
}

/// A report at an HTTPS URL returning JSON or CSV.
#[derive(Debug, Clone)]
pub struct HttpReport {
    name: String,
    url: String,
    format: ReportFormat,
    auth: SourceAuth,
    paging: Paging,
    mapping: RosterMapping,
    retry: ReadRetry,
    max_pages: u32,
}

impl HttpReport {
    /// A report named `name` at `url`: JSON under `people`, no credential, one page,
    /// the conventional mapping.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            format: ReportFormat::Json {
                list_key: "people".into(),
            },
            auth: SourceAuth::None,
            paging: Paging::None,
            mapping: RosterMapping::default(),
            retry: ReadRetry::default(),
            max_pages: 10_000,
        }
    }

    /// A Workday RaaS custom report in JSON (`?format=json`: the people under
    /// `Report_Entry`), read as the integration system user `user` with basic auth.
    pub fn workday_raas(
        name: impl Into<String>,
        url: impl Into<String>,
        user: impl Into<String>,
        password: CredentialRef,
    ) -> Self {
        Self::new(name, url)
            .with_format(ReportFormat::Json {
                list_key: "Report_Entry".into(),
            })
            .with_auth(SourceAuth::Basic {
                user: user.into(),
                password,
            })
    }

    /// Reads the body as `format`.
    pub fn with_format(mut self, format: ReportFormat) -> Self {
        self.format = format;
        self
    }

    /// Authenticates with `auth`.
    pub fn with_auth(mut self, auth: SourceAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Walks pages with `paging`.
    pub fn with_paging(mut self, paging: Paging) -> Self {
        self.paging = paging;
        self
    }

    /// Maps columns (CSV) or keys (JSON) with `mapping`.
    pub fn with_mapping(mut self, mapping: RosterMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Waits and retries as `retry` says on 429 and 5xx.
    pub fn with_retry(mut self, retry: ReadRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Gives up (an error, not a partial roster) after this many pages.
    pub fn with_max_pages(mut self, max_pages: u32) -> Self {
        self.max_pages = max_pages.max(1);
        self
    }
}

#[async_trait]
impl HrSource for HttpReport {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pull(&self) -> Result<RosterLoad, SourceError> {
        let url = endpoint_url(&self.url).map_err(|message| SourceError::Config {
            source_name: self.name.clone(),
            field: "url".into(),
            message,
        })?;
        let walk = PageWalk {
            name: &self.name,
            http: client_for(&self.name, &url)?,
            auth: self.auth.resolve(&self.name)?,
            headers: HeaderMap::new(),
            dialect: &provision_http::classify::JsonErrors,
            retry: &self.retry,
            format: &self.format,
            paging: &self.paging,
            mapping: &self.mapping,
            max_pages: self.max_pages,
            rewrite: None,
        };
        walk.run(url, None).await
    }
}

/// An HTTP client for the origin of `url` (requests and next pages stay there).
pub(crate) fn client_for(name: &str, url: &Url) -> Result<HttpClient, SourceError> {
    HttpClient::builder(name, url.origin().ascii_serialization())
        .user_agent(concat!("provision-roster/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SourceError::Config {
            source_name: name.to_owned(),
            field: "url".into(),
            message: e.to_string(),
        })
}

/// One pull over HTTP: every page, each read as a roster.
pub(crate) struct PageWalk<'a> {
    pub(crate) name: &'a str,
    pub(crate) http: HttpClient,
    pub(crate) auth: Auth,
    pub(crate) dialect: &'a dyn ErrorDialect,
    pub(crate) retry: &'a ReadRetry,
    pub(crate) format: &'a ReportFormat,
    pub(crate) paging: &'a Paging,
    pub(crate) mapping: &'a RosterMapping,
    pub(crate) max_pages: u32,
    /// Headers sent on every request (a credential built by the source, sensitive).
    pub(crate) headers: HeaderMap,
    /// A vendor quirk fixed in the body before it is read (same line breaks).
    pub(crate) rewrite: Option<fn(&str) -> String>,
}

impl PageWalk<'_> {
    /// Reads from `first` (a `POST` with `body` when one is given, else a `GET`) to the
    /// last page.
    pub(crate) async fn run(
        &self,
        first: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<RosterLoad, SourceError> {
        let http_error = |error: AdapterError| SourceError::Http {
            source_name: self.name.to_owned(),
            error: Box::new(error),
        };
        let accept = match self.format {
            ReportFormat::Json { .. } => "application/json",
            ReportFormat::Csv => "text/csv",
        };
        let mut guard = CursorGuard::new(self.name);
        let mut pages = Vec::new();
        let mut url = first;
        let mut page: u32 = 1;
        loop {
            let reply = with_read_retries(self.retry, self.name, || {
                let request = match body {
                    Some(body) => self.http.reqwest().post(url.clone()).json(body),
                    None => self.http.reqwest().get(url.clone()),
                }
                .header(ACCEPT, accept)
                .headers(self.headers.clone());
                async {
                    self.http
                        .send_authorized(&self.auth, request, RequestKind::Read)
                        .await?
                        .into_result(self.dialect)
                }
            })
            .await
            .map_err(http_error)?;
            let text = String::from_utf8_lossy(&reply.body);
            let text = match self.rewrite {
                Some(rewrite) => std::borrow::Cow::Owned(rewrite(&text)),
                None => text,
            };
            let file = match self.paging {
                Paging::None => self.name.to_owned(),
                _ => format!("{}/page-{page}", self.name),
            };
            let load = match self.format {
                ReportFormat::Json { list_key } => {
                    crate::json::read_json_list(&file, &text, self.mapping, list_key)
                }
                ReportFormat::Csv => RosterReader::new()
                    .with_mapping(self.mapping.clone())
                    .read_str(&file, &text, Some(RosterFormat::Csv)),
            }
            .map_err(|error| SourceError::Roster {
                source_name: self.name.to_owned(),
                error,
            })?;
            tracing::debug!(
                source = self.name,
                page,
                people = load.entries.len(),
                problems = load.problems.len(),
                "HR source page read"
            );
            pages.push(load);
            let next = match self.paging {
                Paging::None => None,
                Paging::Link => match next_link(&reply.headers) {
                    Some(next) => {
                        self.http.ensure_same_origin(&next).map_err(http_error)?;
                        Some(next)
                    }
                    None => None,
                },
                Paging::Token { param, field } => {
                    token_at(&reply.body, field).map(|token| with_query(&url, param, &token))
                }
            };
            let Some(next) = next else { break };
            guard.visit(next.as_str()).map_err(http_error)?;
            if page >= self.max_pages {
                return Err(http_error(AdapterError::Invalid {
                    error: SystemError::message(format!(
                        "more than {} pages: stopped rather than load part of the roster",
                        self.max_pages
                    )),
                }));
            }
            url = next;
            page += 1;
        }
        Ok(merge_pages(pages, self.mapping))
    }
}

/// The non-empty string at a dotted path of a JSON body.
fn token_at(body: &[u8], path: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let found = path.split('.').try_fold(&value, |v, key| v.get(key))?;
    match found {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `url` with the query parameter `param` set to `value` (replacing an earlier one).
fn with_query(url: &Url, param: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != param)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(param, value);
    next
}
