//! Evidence reads ([`EvidenceSource`]): 2-step verification enrolment of every
//! user who can sign in, from the Directory API's `users.list`.
//!
//! | kind | request | one row per |
//! | --- | --- | --- |
//! | `google.two_step_verification` | `GET /admin/directory/v1/users?customer=…&maxResults=500&fields=nextPageToken,users(…)` (`pageToken` paged) | user neither suspended nor archived: `isEnrolledIn2Sv`, `isEnforcedIn2Sv`, org unit |
//!
//! `fields` asks for the few fields used, so a page of 500 users stays small.
//!
//! ## Read-only scope
//!
//! The reads have their own access token with the one read-only scope
//! [`SCOPE_USER_READONLY`] (`admin.directory.user.readonly`), never the adapter's
//! read-write `admin.directory.user`. Authorise it for the service account's client
//! id in the domain-wide delegation (Admin console → Security → API controls)
//! next to the adapter's scopes; without it the first evidence read fails with the
//! token endpoint's `unauthorized_client`, and every other operation keeps working.
//!
//! ## Rate limits
//!
//! Evidence reads run outside the executor, so they wait themselves
//! ([`provision_http::read_retry`]): a 429 (or a 403 `userRateLimitExceeded`) waits
//! as `Retry-After` says, or backs off when it says nothing; a 5xx or
//! `backendError` backs off.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use provision_core::adapter::{AdapterError, CollectedEvidence, EvidenceSource};
use provision_http::auth::{Auth, TokenCache};
use provision_http::client::{HttpClient, RequestKind};
use provision_http::read_retry::{ReadRetry, pace, with_read_retries};
use serde::Deserialize;
use serde_json::json;

use crate::client::{CallKind, GoogleErrors, SYSTEM, USERS_PAGE_SIZE};
use crate::config::{ConfigError, GoogleConfig, KEY_CREDENTIAL, MY_CUSTOMER};

/// The read-only scope of the evidence reads' token.
pub const SCOPE_USER_READONLY: &str =
    "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// Every scope the evidence reads ask for.
pub const EVIDENCE_SCOPES: [&str; 1] = [SCOPE_USER_READONLY];

/// `google.two_step_verification`.
pub const KIND_TWO_STEP_VERIFICATION: &str = "google.two_step_verification";

/// The partial response asked of `users.list`.
pub const USER_FIELDS: &str = "nextPageToken,users(id,primaryEmail,suspended,archived,orgUnitPath,isEnrolledIn2Sv,isEnforcedIn2Sv)";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TwoStepUser {
    id: String,
    primary_email: String,
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    org_unit_path: Option<String>,
    #[serde(default)]
    is_enrolled_in2_sv: bool,
    #[serde(default)]
    is_enforced_in2_sv: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TwoStepPage {
    #[serde(default)]
    users: Vec<TwoStepUser>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// The Google adapter's evidence reads, with their own read-only token.
pub struct GoogleEvidence {
    http: HttpClient,
    auth: Auth,
    scope: (&'static str, String),
    system: String,
}

impl std::fmt::Debug for GoogleEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleEvidence")
            .field("system", &self.system)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl GoogleEvidence {
    /// The evidence reads of the tenant `config` names (no request is made yet).
    pub fn new(config: &GoogleConfig) -> Result<Self, ConfigError> {
        let http = HttpClient::builder(SYSTEM, config.base_url.as_str())
            .user_agent(concat!("provision-google/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .build()
            .map_err(|e| {
                ConfigError::invalid_setting(config.system_name.clone(), "base_url", e.to_string())
            })?;
        let source = config
            .key
            .token_source(&config.subject, &EVIDENCE_SCOPES, config.token_url.clone())
            .map_err(|reason| {
                ConfigError::missing_credential(config.system_name.clone(), KEY_CREDENTIAL, reason)
            })?;
        let auth = Auth::OAuth(Arc::new(TokenCache::new(
            source,
            http.clone(),
            config.token_refresh_margin,
        )));
        let scope = match (&config.domain, &config.customer) {
            (Some(domain), _) => ("domain", domain.clone()),
            (None, Some(customer)) => ("customer", customer.clone()),
            (None, None) => ("customer", MY_CUSTOMER.to_owned()),
        };
        Ok(Self {
            http,
            auth,
            scope,
            system: config.system_name.clone(),
        })
    }

    async fn page(
        &self,
        retry: &ReadRetry,
        page_token: Option<&str>,
    ) -> Result<TwoStepPage, AdapterError> {
        let max = USERS_PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = vec![
            (self.scope.0, self.scope.1.as_str()),
            ("maxResults", &max),
            ("fields", USER_FIELDS),
        ];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        let url = self.http.url(&["admin", "directory", "v1", "users"]);
        let request = self.http.reqwest().get(url).query(&query);
        let reply = self
            .http
            .send_authorized(&self.auth, request, RequestKind::Read)
            .await?
            .into_result(&GoogleErrors {
                kind: CallKind::ScopedList,
            })?;
        let rate_limit = reply.rate_limit.clone();
        let page: TwoStepPage = if reply.body.iter().all(u8::is_ascii_whitespace) {
            TwoStepPage::default()
        } else {
            reply.json(SYSTEM)?
        };
        pace(retry, rate_limit.as_ref()).await;
        Ok(page)
    }

    /// 2-step verification of every user who can sign in, waiting and retrying as
    /// `retry` allows.
    pub async fn collect_with(
        &self,
        retry: &ReadRetry,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page =
                with_read_retries(retry, "users.list", || self.page(retry, token.as_deref()))
                    .await
                    .map_err(explain_missing_scope)?;
            let read_at = Utc::now();
            for user in page.users.iter().filter(|u| !u.suspended && !u.archived) {
                out.push(
                    CollectedEvidence::new(
                        self.system.as_str(),
                        KIND_TWO_STEP_VERIFICATION,
                        read_at,
                        json!({
                            "user_id": user.id,
                            "primary_email": user.primary_email,
                            "org_unit_path": user.org_unit_path,
                            "is_enrolled_in_2sv": user.is_enrolled_in2_sv,
                            "is_enforced_in_2sv": user.is_enforced_in2_sv,
                        }),
                    )
                    .about(user.primary_email.as_str()),
                );
            }
            match page.next_page_token {
                Some(next) if Some(&next) == token.as_ref() => {
                    return Err(provision_http::paginate::repeated_cursor(SYSTEM, &next));
                }
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(out),
            }
        }
    }
}

/// A token refused because the domain-wide delegation lacks the read-only scope:
/// a configuration gap, named.
fn explain_missing_scope(error: AdapterError) -> AdapterError {
    match error {
        AdapterError::Unauthorized { error }
            if matches!(
                error.code.as_deref(),
                Some("unauthorized_client" | "access_denied" | "invalid_scope")
            ) =>
        {
            AdapterError::Configuration {
                error: provision_core::adapter::SystemError::new(
                    error.status,
                    error.code.clone(),
                    format!(
                        "evidence reads: the service account's domain-wide delegation does not \
                         grant the read-only scope {SCOPE_USER_READONLY} (token endpoint: {})",
                        error.message
                    ),
                ),
            }
        }
        other => other,
    }
}

#[async_trait]
impl EvidenceSource for GoogleEvidence {
    fn evidence_kinds(&self) -> Vec<String> {
        vec![KIND_TWO_STEP_VERIFICATION.to_owned()]
    }

    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        self.collect_with(&ReadRetry::default()).await
    }
}
