//! BambooHR: the custom report (`POST /v1/reports/custom?format=JSON`) or the
//! employee directory (`GET /v1/employees/directory`), both answering
//! `{"fields": [...], "employees": [...]}`, read with the API key as the basic-auth
//! user and `x` as the password.
//!
//! Quirks handled here (from BambooHR's documentation and client libraries; the
//! shapes marked [U] are not checked against a real tenant):
//! * the custom report lists current employees only unless `onlyCurrent=false`; this
//!   source always asks for everyone, so a leaver shows as `Inactive` with a
//!   `terminationDate` rather than vanishing (the directory has no such switch: a
//!   leaver read from it is *missing*, which the snapshot guard counts);
//! * an empty date is `"0000-00-00"` [U], read as no date;
//! * throttling is a `503` with `Retry-After` (a `429` is handled the same way) [U];
//! * the error text is in the `X-BambooHR-Error-Message` header [U], kept as the
//!   vendor's message.

use async_trait::async_trait;
use base64::Engine;
use provision_core::adapter::SystemError;
use provision_core::config::CredentialRef;
use provision_core::config::resolve_credential;
use provision_core::secret::ExposeSecret;
use provision_http::auth::{Auth, sensitive};
use provision_http::classify::{ErrorDialect, json_system_error};
use provision_http::client::HttpResponse;
use provision_http::read_retry::ReadRetry;
use reqwest::header::{AUTHORIZATION, HeaderMap};

use super::report::{PageWalk, Paging, ReportFormat, client_for};
use super::{HrSource, SourceError};
use crate::{DisplayNameColumns, RosterLoad, RosterMapping, StatusValues};

/// Which BambooHR report a source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BambooHrReport {
    /// A custom report of these fields (`id` is always included), current and former
    /// employees alike.
    Custom {
        /// BambooHR field names (`workEmail`, `department`, `jobTitle`, ...).
        fields: Vec<String>,
    },
    /// The employee directory: current employees only, so leavers are missing rather
    /// than terminated.
    Directory,
}

impl Default for BambooHrReport {
    /// A custom report of the fields the default mapping reads.
    fn default() -> Self {
        BambooHrReport::Custom {
            fields: [
                "workEmail",
                "firstName",
                "lastName",
                "status",
                "terminationDate",
                "department",
                "jobTitle",
                "location",
                "division",
                "supervisorEId",
                "employmentHistoryStatus",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// A BambooHR company's people.
///
/// ```
/// use provision_core::config::CredentialRef;
/// use provision_roster::sources::BambooHr;
/// let bamboo = BambooHr::new("bamboohr", "acme", CredentialRef::Env { env: "BAMBOOHR_API_KEY".into() });
/// # let _ = bamboo;
/// ```
#[derive(Debug, Clone)]
pub struct BambooHr {
    name: String,
    base_url: String,
    api_key: CredentialRef,
    report: BambooHrReport,
    mapping: RosterMapping,
    retry: ReadRetry,
}

impl BambooHr {
    /// The company at `https://api.bamboohr.com/api/gateway.php/{company_domain}/v1/`
    /// (`company_domain`: the `acme` of `acme.bamboohr.com`), read with `api_key`, the
    /// default custom report and [`BambooHr::default_mapping`].
    pub fn new(name: impl Into<String>, company_domain: &str, api_key: CredentialRef) -> Self {
        Self {
            name: name.into(),
            base_url: format!(
                "https://api.bamboohr.com/api/gateway.php/{}/v1/",
                company_domain.trim()
            ),
            api_key,
            report: BambooHrReport::default(),
            mapping: Self::default_mapping(),
            retry: ReadRetry::default(),
        }
    }

    /// The mapping of BambooHR's field names: `id`, `workEmail`, `firstName` +
    /// `lastName`, `status` (`Active`; `Inactive` is terminated) with
    /// `terminationDate`; every other field an attribute.
    pub fn default_mapping() -> RosterMapping {
        RosterMapping {
            id: "id".into(),
            email: "workEmail".into(),
            login: None,
            display_name: DisplayNameColumns::Joined(vec!["firstName".into(), "lastName".into()]),
            status: Some("status".into()),
            effective: Some("terminationDate".into()),
            attributes: None,
            statuses: StatusValues {
                active: vec!["Active".into()],
                on_leave: Vec::new(),
                terminated: vec!["Inactive".into()],
            },
            ..RosterMapping::default()
        }
    }

    /// Another API root (a test server): the URL up to and including `/v1/`.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Reads `report`.
    pub fn with_report(mut self, report: BambooHrReport) -> Self {
        self.report = report;
        self
    }

    /// Maps fields with `mapping`.
    pub fn with_mapping(mut self, mapping: RosterMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Waits and retries as `retry` says on 429 and 503.
    pub fn with_retry(mut self, retry: ReadRetry) -> Self {
        self.retry = retry;
        self
    }
}

/// BambooHR's error dialect: the message in `X-BambooHR-Error-Message`.
#[derive(Debug)]
struct BambooErrors;

impl ErrorDialect for BambooErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        match reply
            .headers
            .get("x-bamboohr-error-message")
            .and_then(|v| v.to_str().ok())
            .filter(|m| !m.trim().is_empty())
        {
            Some(message) => SystemError::new(Some(reply.status), None, message.trim()),
            None => json_system_error(reply),
        }
    }
}

#[async_trait]
impl HrSource for BambooHr {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pull(&self) -> Result<RosterLoad, SourceError> {
        let config = |message: String| SourceError::Config {
            source_name: self.name.clone(),
            field: "base_url".into(),
            message,
        };
        let mut base = super::auth::endpoint_url(&self.base_url).map_err(config)?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let join = |path: &str| base.join(path).map_err(|e| config(e.to_string()));
        let (url, body) = match &self.report {
            BambooHrReport::Custom { fields } => (
                join("reports/custom?format=JSON&onlyCurrent=false")?,
                Some(serde_json::json!({ "fields": fields })),
            ),
            BambooHrReport::Directory => (join("employees/directory")?, None),
        };
        let walk = PageWalk {
            name: &self.name,
            http: client_for(&self.name, &url)?,
            auth: Auth::None,
            headers: api_key_header(&self.name, &self.api_key)?,
            dialect: &BambooErrors,
            retry: &self.retry,
            format: &ReportFormat::Json {
                list_key: "employees".into(),
            },
            paging: &Paging::None,
            mapping: &self.mapping,
            max_pages: 1,
            rewrite: Some(blank_dates),
        };
        walk.run(url, body.as_ref()).await
    }
}

/// `Authorization: Basic base64(api_key:x)`: the key is the user, `x` the ignored
/// password. Built here, marked sensitive, because [`StaticAuth::basic`]
/// (provision_http::auth::StaticAuth::basic) shows its user in `Debug`.
fn api_key_header(name: &str, api_key: &CredentialRef) -> Result<HeaderMap, SourceError> {
    let key = resolve_credential(api_key).map_err(|error| SourceError::Credential {
        source_name: name.to_owned(),
        field: "api_key".into(),
        error,
    })?;
    let pair = format!("{}:x", key.expose_secret());
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    let value = sensitive(&value).map_err(|error| SourceError::Http {
        source_name: name.to_owned(),
        error: Box::new(error),
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

/// BambooHR's empty date `"0000-00-00"` as `null` (same line breaks, so lines in
/// problems still point at the reply's rows).
fn blank_dates(text: &str) -> String {
    text.replace("\"0000-00-00\"", "null")
}
