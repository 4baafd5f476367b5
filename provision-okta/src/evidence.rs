//! Evidence reads ([`EvidenceSource`]): MFA factor enrollment of every `ACTIVE`
//! user, the password and global session (sign-on) policies, and the last 30 days
//! of deprovisioning events from the System Log.
//!
//! | kind | request | one row per |
//! | --- | --- | --- |
//! | `okta.mfa_enrollment` | `GET /api/v1/users?filter=status eq "ACTIVE"` (`Link` paged), then `GET /api/v1/users/{id}/factors` per user | active user: enrolled or not, and each factor's id, type, provider, status and dates |
//! | `okta.password_policy` | `GET /api/v1/policies?type=PASSWORD` | policy: name, status, priority, conditions, settings |
//! | `okta.sign_on_policy` | `GET /api/v1/policies?type=OKTA_SIGN_ON` | policy |
//! | `okta.deprovisioning_event` | `GET /api/v1/logs?since=…&until=…&filter=eventType eq "user.lifecycle.deactivate" or …&sortOrder=ASCENDING&limit=1000` (`Link` paged) | System Log event (`user.lifecycle.deactivate`, `user.lifecycle.suspend`, `user.session.clear`) |
//!
//! The log query is **bounded** (`until` = the time of the read): a System Log
//! query without `until` is a polling query, whose `Link: rel="next"` never ends.
//!
//! Nothing secret is kept: a factor's reply can carry a TOTP enrolment's shared
//! secret (`_embedded.activation.sharedSecret`) and the phone number or e-mail it
//! sends codes to (`profile`); the rows keep only the factor's id, type, provider,
//! status and dates. Log events keep who, what, on whom, when and the outcome
//! (not the client's address and device).
//!
//! ## Read-only scopes
//!
//! With an OAuth service app, evidence reads use their own access token, requested
//! with the read-only scopes [`EVIDENCE_SCOPES`] only (`okta.users.read`,
//! `okta.policies.read`, `okta.logs.read`), whatever scopes the adapter's changes
//! use; grant those three to the app. An API token (`SSWS`) carries its admin's
//! privileges: for an evidence-only connection, mint it as a read-only administrator.
//!
//! ## Rate limits
//!
//! Evidence reads run outside the executor, so they honour Okta's headers
//! themselves ([`provision_http::read_retry`]): a 429 waits until the reset (as
//! measured on Okta's clock), a 5xx is retried with backoff, and a reply with
//! `X-Rate-Limit-Remaining: 0` makes the next request wait for the reset.

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use provision_core::adapter::{AdapterError, CollectedEvidence, EvidenceSource};
use provision_http::read_retry::{ReadRetry, pace, with_read_retries};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use crate::adapter::{OktaAdapter, USERS_PAGE_SIZE};
use crate::client::{OktaClient, SYSTEM};
use crate::config::OktaAuth;
use crate::model::User;

/// The scopes the evidence reads' access token is requested with (OAuth only).
pub const EVIDENCE_SCOPES: &[&str] = &["okta.users.read", "okta.policies.read", "okta.logs.read"];

/// `okta.mfa_enrollment`.
pub const KIND_MFA_ENROLLMENT: &str = "okta.mfa_enrollment";
/// `okta.password_policy`.
pub const KIND_PASSWORD_POLICY: &str = "okta.password_policy";
/// `okta.sign_on_policy`.
pub const KIND_SIGN_ON_POLICY: &str = "okta.sign_on_policy";
/// `okta.deprovisioning_event`.
pub const KIND_DEPROVISIONING_EVENT: &str = "okta.deprovisioning_event";

/// The System Log event types read as deprovisioning events.
pub const DEPROVISIONING_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.session.clear",
];

/// How far back the System Log is read, in days.
pub const DEPROVISIONING_WINDOW_DAYS: i64 = 30;

/// Events per System Log page: the largest `limit` `GET /api/v1/logs` allows.
pub const LOG_PAGE_SIZE: u32 = 1000;

/// A factor as listed (`GET /api/v1/users/{id}/factors`): only what is kept.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Factor {
    id: String,
    #[serde(default)]
    factor_type: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
}

impl Factor {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "factor_type": self.factor_type,
            "provider": self.provider,
            "status": self.status,
            "created": self.created,
            "last_updated": self.last_updated,
        })
    }
}

/// The fields of a policy kept as evidence.
const POLICY_FIELDS: &[&str] = &[
    "id",
    "name",
    "type",
    "status",
    "priority",
    "system",
    "description",
    "created",
    "lastUpdated",
    "conditions",
    "settings",
];

/// The fields of a System Log event kept as evidence.
const LOG_FIELDS: &[&str] = &[
    "uuid",
    "published",
    "eventType",
    "displayMessage",
    "severity",
    "actor",
    "target",
    "outcome",
];

fn pick(object: &Map<String, Value>, fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|f| object.get(*f).map(|v| ((*f).to_owned(), v.clone())))
            .collect(),
    )
}

/// The `filter` of the System Log query.
pub fn deprovisioning_filter() -> String {
    DEPROVISIONING_EVENT_TYPES
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

impl OktaAdapter {
    /// The client for evidence reads: for an OAuth service app, one whose tokens
    /// carry only [`EVIDENCE_SCOPES`]; for an API token, the adapter's own client.
    fn evidence_client(&self) -> Result<Option<OktaClient>, AdapterError> {
        let config = self.client().config();
        match &config.auth {
            OktaAuth::PrivateKeyJwt {
                client_id,
                private_key,
                key_id,
                ..
            } => {
                let mut read_only = config.clone();
                read_only.auth = OktaAuth::PrivateKeyJwt {
                    client_id: client_id.clone(),
                    private_key: private_key.clone(),
                    key_id: key_id.clone(),
                    scopes: EVIDENCE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                };
                OktaClient::new(read_only)
                    .map(Some)
                    .map_err(|e| AdapterError::Configuration {
                        error: provision_core::adapter::SystemError::message(e.to_string()),
                    })
            }
            _ => Ok(None),
        }
    }

    /// Every evidence kind, with an explicit wait-and-retry policy (the
    /// [`EvidenceSource`] implementation uses [`ReadRetry::default`]).
    pub async fn collect_evidence_with(
        &self,
        retry: &ReadRetry,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let own = self.evidence_client()?;
        let client = own.as_ref().unwrap_or_else(|| self.client());
        let now = Utc::now();
        let mut out = self.mfa_enrollment(client, retry).await?;
        out.extend(
            self.policies(client, retry, "PASSWORD", KIND_PASSWORD_POLICY)
                .await?,
        );
        out.extend(
            self.policies(client, retry, "OKTA_SIGN_ON", KIND_SIGN_ON_POLICY)
                .await?,
        );
        out.extend(self.deprovisioning_events(client, retry, now).await?);
        Ok(out)
    }

    /// One page, waiting and retrying as `retry` allows, pacing on a spent budget.
    async fn evidence_page<T: serde::de::DeserializeOwned>(
        client: &OktaClient,
        retry: &ReadRetry,
        url: Url,
    ) -> Result<(Vec<T>, Option<Url>), AdapterError> {
        let (items, next, rate_limit) =
            with_read_retries(retry, url.path(), || client.get_page::<T>(url.clone())).await?;
        pace(retry, rate_limit.as_ref()).await;
        Ok((items, next))
    }

    async fn mfa_enrollment(
        &self,
        client: &OktaClient,
        retry: &ReadRetry,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let mut url = client.api_url(&["api", "v1", "users"]);
        url.query_pairs_mut()
            .append_pair("filter", "status eq \"ACTIVE\"")
            .append_pair("limit", &USERS_PAGE_SIZE.to_string());
        let mut next = Some(url);
        let mut out = Vec::new();
        while let Some(page) = next.take() {
            let (users, after) = Self::evidence_page::<User>(client, retry, page).await?;
            for user in users.iter().filter(|u| u.status == "ACTIVE") {
                out.push(self.user_factors(client, retry, user).await?);
            }
            next = after;
        }
        Ok(out)
    }

    async fn user_factors(
        &self,
        client: &OktaClient,
        retry: &ReadRetry,
        user: &User,
    ) -> Result<CollectedEvidence, AdapterError> {
        let url = client.api_url(&["api", "v1", "users", &user.id, "factors"]);
        let reply = with_read_retries(retry, "factors", || {
            client.send(Method::GET, url.clone(), None)
        })
        .await?;
        pace(retry, reply.rate_limit.as_ref()).await;
        let factors: Vec<Factor> = reply.json(SYSTEM)?;
        let active = factors
            .iter()
            .filter(|f| f.status.as_deref() == Some("ACTIVE"))
            .count();
        Ok(CollectedEvidence::new(
            self.system.as_str(),
            KIND_MFA_ENROLLMENT,
            Utc::now(),
            json!({
                "user_id": user.id,
                "login": user.login(),
                "status": user.status,
                "mfa_enrolled": active > 0,
                "active_factors": active,
                "factors": factors.iter().map(Factor::to_json).collect::<Vec<_>>(),
            }),
        )
        .about(user.login()))
    }

    async fn policies(
        &self,
        client: &OktaClient,
        retry: &ReadRetry,
        policy_type: &str,
        kind: &str,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let mut url = client.api_url(&["api", "v1", "policies"]);
        url.query_pairs_mut().append_pair("type", policy_type);
        let mut next = Some(url);
        let mut out = Vec::new();
        let read_at = Utc::now();
        while let Some(page) = next.take() {
            let (policies, after) =
                Self::evidence_page::<Map<String, Value>>(client, retry, page).await?;
            for policy in &policies {
                let id = policy.get("id").and_then(Value::as_str).unwrap_or_default();
                out.push(
                    CollectedEvidence::new(
                        self.system.as_str(),
                        kind,
                        read_at,
                        pick(policy, POLICY_FIELDS),
                    )
                    .about(id),
                );
            }
            next = after;
        }
        Ok(out)
    }

    async fn deprovisioning_events(
        &self,
        client: &OktaClient,
        retry: &ReadRetry,
        now: DateTime<Utc>,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let since = now - ChronoDuration::days(DEPROVISIONING_WINDOW_DAYS);
        let mut url = client.api_url(&["api", "v1", "logs"]);
        url.query_pairs_mut()
            .append_pair(
                "since",
                &since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .append_pair(
                "until",
                &now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .append_pair("filter", &deprovisioning_filter())
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", &LOG_PAGE_SIZE.to_string());
        let mut next = Some(url);
        let mut out = Vec::new();
        while let Some(page) = next.take() {
            let (events, after) =
                Self::evidence_page::<Map<String, Value>>(client, retry, page).await?;
            let empty = events.is_empty();
            for event in &events {
                out.push(log_evidence(self.system.as_str(), event, now));
            }
            // A bounded query ends without a next link; an empty page ends it too,
            // should a server keep handing out links.
            next = if empty { None } else { after };
        }
        Ok(out)
    }
}

/// A System Log event as evidence: when it was published, about its target user.
fn log_evidence(
    system: &str,
    event: &Map<String, Value>,
    read_at: DateTime<Utc>,
) -> CollectedEvidence {
    let published = event
        .get("published")
        .and_then(Value::as_str)
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map_or(read_at, |p| p.with_timezone(&Utc));
    let subject = event
        .get("target")
        .and_then(Value::as_array)
        .and_then(|targets| {
            targets
                .iter()
                .find(|t| t.get("type").and_then(Value::as_str) == Some("User"))
        })
        .and_then(|t| t.get("alternateId").or_else(|| t.get("id")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let evidence = CollectedEvidence::new(
        system,
        KIND_DEPROVISIONING_EVENT,
        published,
        pick(event, LOG_FIELDS),
    );
    match subject {
        Some(s) => evidence.about(s),
        None => evidence,
    }
}

#[async_trait]
impl EvidenceSource for OktaAdapter {
    fn evidence_kinds(&self) -> Vec<String> {
        [
            KIND_MFA_ENROLLMENT,
            KIND_PASSWORD_POLICY,
            KIND_SIGN_ON_POLICY,
            KIND_DEPROVISIONING_EVENT,
        ]
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
    }

    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        self.collect_evidence_with(&ReadRetry::default()).await
    }
}
