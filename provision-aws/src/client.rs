//! The AWS JSON 1.1 client: SigV4 signing (`aws-sigv4`) over reqwest, and the error
//! dialect classified into [`AdapterError`].
//!
//! * Identity Store signs as `identitystore`, `X-Amz-Target: AWSIdentityStore.<Op>`.
//! * SSO Admin signs as **`sso`** (not `sso-admin`), `X-Amz-Target: SWBExternalService.<Op>`.
//! * Both: `POST /`, `Content-Type: application/x-amz-json-1.1`, the input as the body.
//! * Errors are classified by the error type (`X-Amzn-ErrorType` header, or `__type` in
//!   the body, with any `namespace#` prefix and `:…` suffix stripped), never by the
//!   HTTP status alone; a successful reply is parsed whatever its content type (moto
//!   answers `text/html`).
//!
//! Nothing here sleeps, and nothing retries but one case, as the AWS SDKs do: a
//! signature refused for its time (`InvalidSignatureException` "Signature expired",
//! with the service's `Date` more than 4 minutes off) is signed again once with the
//! service's time, and later requests keep that correction. Everything else is the
//! executor's.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use provision_core::adapter::{AdapterError, RateLimitInfo, SystemError};
use provision_http::classify::ErrorDialect;
use provision_http::client::{HttpClient, HttpResponse, RequestKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, debug_span};
use url::Url;

use crate::config::AwsConfig;
use crate::credentials::CredentialSource;

/// The content type of every request.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// One of the two services of IAM Identity Center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Users, groups, memberships.
    IdentityStore,
    /// Instances, permission sets, account assignments.
    SsoAdmin,
}

impl Service {
    /// The SigV4 signing name (credential scope): `identitystore` or `sso`.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::IdentityStore => "identitystore",
            Service::SsoAdmin => "sso",
        }
    }

    /// The `X-Amz-Target` prefix: `AWSIdentityStore` or `SWBExternalService`.
    pub fn target_prefix(self) -> &'static str {
        match self {
            Service::IdentityStore => "AWSIdentityStore",
            Service::SsoAdmin => "SWBExternalService",
        }
    }

    /// The IAM action prefix (`identitystore:`, `sso:`).
    pub fn iam_prefix(self) -> &'static str {
        self.signing_name()
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::IdentityStore => "identitystore",
            Service::SsoAdmin => "sso-admin",
        })
    }
}

/// What went wrong with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service answered with an error.
    Service,
    /// No (complete) answer: connection refused, timeout. `maybe_applied` is true when
    /// the request may have reached the service.
    Transport {
        /// The request may have taken effect.
        maybe_applied: bool,
    },
    /// A successful reply that could not be read.
    Decode,
    /// No credentials to sign with, or signing failed.
    Signing,
}

/// An error of one call, with the service's own type and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation}: {}", self.system_error())]
pub struct AwsError {
    /// The service called.
    pub service: Service,
    /// The operation called.
    pub operation: &'static str,
    /// What kind of failure.
    pub kind: AwsErrorKind,
    /// HTTP status, when there was a reply.
    pub status: Option<u16>,
    /// The error type (`ConflictException`), prefix and suffix stripped.
    pub code: Option<String>,
    /// The service's message, or ours.
    pub message: String,
    /// The `Reason` member (`UNIQUENESS_CONSTRAINT_VIOLATION`, `CONCURRENT_MODIFICATION`).
    pub reason: Option<String>,
    /// `RetryAfterSeconds` (Identity Store throttling) or a `Retry-After` header.
    pub retry_after: Option<Duration>,
    /// The `ResourceType` of an Identity Store `ResourceNotFoundException` (`USER`,
    /// `GROUP`, `GROUP_MEMBERSHIP`, `IDENTITY_STORE`, `RESOURCE_POLICY`).
    pub resource_type: Option<String>,
    /// AWS's id of the request (`x-amzn-RequestId`, or `RequestId` in the body): what
    /// AWS support asks for, kept in every error the reply gives.
    pub request_id: Option<String>,
}

impl AwsError {
    fn local(
        service: Service,
        operation: &'static str,
        kind: AwsErrorKind,
        message: String,
    ) -> Self {
        AwsError {
            service,
            operation,
            kind,
            status: None,
            code: None,
            message,
            reason: None,
            retry_after: None,
            resource_type: None,
            request_id: None,
        }
    }

    /// True when the service's error type is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// True when the reply says *this* user, group, membership, permission set or
    /// assignment does not exist — and only then. A missing identity store or
    /// instance (a wrong `identity_store_id`, `instance_arn` or `region`) is a
    /// [configuration error](Self::is_configuration), never "already absent".
    pub fn is_not_found(&self) -> bool {
        self.is("ResourceNotFoundException") && !self.is_configuration()
    }

    /// True when the reply says the configured identity store or Identity Center
    /// instance does not exist where the adapter looked: the Identity Store's
    /// `ResourceNotFoundException` with `ResourceType` `IDENTITY_STORE` (or
    /// `RESOURCE_POLICY`), or SSO Admin's `ResourceNotFoundException` about the
    /// instance.
    pub fn is_configuration(&self) -> bool {
        if !self.is("ResourceNotFoundException") {
            return false;
        }
        let message = self.message.to_ascii_lowercase();
        match self.service {
            Service::IdentityStore => match self.resource_type.as_deref() {
                Some("IDENTITY_STORE" | "RESOURCE_POLICY") => true,
                Some(_) => false,
                None => message.contains("identity store") || message.contains("identitystore"),
            },
            Service::SsoAdmin => message.contains("instance"),
        }
    }

    /// The setting a configuration error points at.
    fn configuration_setting(&self) -> &'static str {
        match self.service {
            Service::IdentityStore => "identity_store_id",
            Service::SsoAdmin => "instance_arn",
        }
    }

    /// The service's reply as the core keeps it.
    pub fn system_error(&self) -> SystemError {
        let mut message = self.message.clone();
        if let Some(reason) = &self.reason {
            message = format!("{message} (reason {reason})");
        }
        if let Some(id) = &self.request_id {
            message = format!("{message} (request id {id})");
        }
        SystemError::new(self.status, self.code.clone(), message)
    }

    /// The IAM action an `AccessDeniedException` says is missing: from the message
    /// ("… is not authorized to perform: sso:CreateAccountAssignment on resource …"),
    /// otherwise the action of the operation called.
    pub fn missing_action(&self) -> String {
        for marker in ["perform: ", "perform "] {
            if let Some(pos) = self.message.find(marker) {
                let rest = &self.message[pos + marker.len()..];
                let action: String = rest
                    .chars()
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || *c == ':' || *c == '-' || *c == '*'
                    })
                    .collect();
                if action.contains(':') {
                    return action;
                }
            }
        }
        format!("{}:{}", self.service.iam_prefix(), self.operation)
    }
}

impl From<AwsError> for AdapterError {
    /// The default classification. The adapter decides itself where an operation gives
    /// an error type a more precise meaning (a `ConflictException` on create user).
    fn from(e: AwsError) -> Self {
        let error = e.system_error();
        match e.kind {
            AwsErrorKind::Transport { maybe_applied } => {
                return AdapterError::Transient {
                    error,
                    maybe_applied,
                };
            }
            AwsErrorKind::Decode => return AdapterError::Permanent { error },
            AwsErrorKind::Signing => return AdapterError::Unauthorized { error },
            AwsErrorKind::Service => {}
        }
        match e.code.as_deref() {
            Some(
                "ThrottlingException"
                | "TooManyRequestsException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "Throttling",
            ) => AdapterError::RateLimited {
                info: RateLimitInfo {
                    retry_after: e.retry_after,
                    ..RateLimitInfo::default()
                },
                error,
            },
            Some("ConflictException") => match e.service {
                // Identity Store: only the documented uniqueness violation means "it is
                // already so", and a concurrent modification is worth another try. The
                // model sets `Reason` only for KMS errors, so a conflict without one
                // may be either: the executor confirms it with the check.
                Service::IdentityStore => match e.reason.as_deref() {
                    Some("UNIQUENESS_CONSTRAINT_VIOLATION") => AdapterError::AlreadyDone { error },
                    Some("CONCURRENT_MODIFICATION") => AdapterError::transient(error),
                    _ => AdapterError::Conflict { error },
                },
                // SSO Admin: "a previous write did not have time to propagate": retry.
                Service::SsoAdmin => AdapterError::transient(error),
            },
            Some("AccessDeniedException" | "AccessDenied") => {
                let action = e.missing_action();
                AdapterError::Unauthorized {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!("missing permission {action}: {}", error.message),
                    ),
                }
            }
            Some(
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignature"
                | "InvalidClientTokenId"
                | "ExpiredTokenException"
                | "MissingAuthenticationTokenException",
            ) => AdapterError::Unauthorized { error },
            Some("ResourceNotFoundException") if e.is_configuration() => {
                AdapterError::Configuration {
                    error: SystemError::new(
                        error.status,
                        error.code,
                        format!(
                            "{} (check the settings `{}` and `region`: the {} is not in this account and region)",
                            error.message,
                            e.configuration_setting(),
                            match e.service {
                                Service::IdentityStore => "identity store",
                                Service::SsoAdmin => "Identity Center instance",
                            }
                        ),
                    ),
                }
            }
            Some("ResourceNotFoundException") => AdapterError::NotFound { error },
            Some(
                "ValidationException" | "SerializationException" | "InvalidParameterException",
            ) => AdapterError::Invalid { error },
            Some(
                "InternalServerException"
                | "InternalFailure"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException",
            ) => AdapterError::transient(error),
            Some("ServiceQuotaExceededException") => AdapterError::Permanent { error },
            _ => match e.status {
                Some(s) if s >= 500 => AdapterError::transient(error),
                Some(429) => AdapterError::RateLimited {
                    info: RateLimitInfo {
                        retry_after: e.retry_after,
                        ..RateLimitInfo::default()
                    },
                    error,
                },
                _ => AdapterError::Permanent { error },
            },
        }
    }
}

/// Strips `namespace#` and `:…` from an AWS error type.
pub fn normalize_error_type(raw: &str) -> String {
    let after_hash = raw.rsplit_once('#').map_or(raw, |(_, t)| t);
    let before_colon = after_hash.split_once(':').map_or(after_hash, |(t, _)| t);
    before_colon.trim().to_owned()
}

/// The AWS JSON 1.1 error dialect for one call: the error type from the
/// `X-Amzn-ErrorType` header, or `__type` (`code`, `Code`) in the body, with any
/// `namespace#` prefix and `:…` suffix stripped; `message` (`Message`,
/// `errorMessage`); `Reason`, `ResourceType` and `RetryAfterSeconds`. Classes come
/// from [`AwsError`]'s conversion (by error type, never by status alone).
#[derive(Debug, Clone, Copy)]
pub struct AwsErrors {
    /// The service called (the same error type means different things in each).
    pub service: Service,
    /// The operation called.
    pub operation: &'static str,
}

impl AwsErrors {
    /// The service's error in a non-2xx reply, with its own type and message.
    pub fn aws_error(&self, reply: &HttpResponse) -> AwsError {
        let body: serde_json::Value =
            serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null);
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| body.get(*n).and_then(|v| v.as_str()).map(str::to_owned))
        };
        let code = reply
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(normalize_error_type)
            .filter(|c| !c.is_empty())
            .or_else(|| field(&["__type", "code", "Code"]).map(|t| normalize_error_type(&t)));
        let message = field(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
            if body.is_null() {
                // Not JSON (an HTML error page): say so without echoing the page.
                format!("HTTP {} without an AWS error body", reply.status)
            } else {
                String::new()
            }
        });
        // Identity Store's throttling says when in the body; otherwise `Retry-After`
        // as the toolkit's rate-limit parser read it.
        let retry_after = body
            .get("RetryAfterSeconds")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .map(Duration::from_secs)
            .or_else(|| reply.rate_limit.as_ref().and_then(|r| r.retry_after));
        AwsError {
            service: self.service,
            operation: self.operation,
            kind: AwsErrorKind::Service,
            status: Some(reply.status),
            code,
            message,
            reason: field(&["Reason"]),
            retry_after,
            resource_type: field(&["ResourceType"]),
            request_id: ["x-amzn-requestid", "x-amz-request-id"]
                .iter()
                .find_map(|h| reply.headers.get(*h).and_then(|v| v.to_str().ok()))
                .map(str::to_owned)
                .or_else(|| field(&["RequestId"])),
        }
    }
}

impl ErrorDialect for AwsErrors {
    fn system_error(&self, reply: &HttpResponse) -> SystemError {
        self.aws_error(reply).system_error()
    }

    fn classify(&self, reply: &HttpResponse, _error: SystemError) -> AdapterError {
        self.aws_error(reply).into()
    }
}

/// Whether an operation only reads (`List…`, `Describe…`, `Get…`): a read that failed
/// in transit never "may have applied".
fn request_kind(operation: &str) -> RequestKind {
    if ["List", "Describe", "Get"]
        .iter()
        .any(|p| operation.starts_with(p))
    {
        RequestKind::Read
    } else {
        RequestKind::Write
    }
}

/// Signs and sends AWS JSON 1.1 requests to the two services.
#[derive(Clone)]
pub struct AwsClient {
    identity_store: HttpClient,
    sso_admin: HttpClient,
    region: String,
    credentials: CredentialSource,
    identity_store_endpoint: Url,
    sso_admin_endpoint: Url,
    clock: SigningClock,
}

/// Error types that say the signature's time is off (AWS SDKs' clock-skew errors).
const SKEW_ERRORS: [&str; 4] = [
    "InvalidSignatureException",
    "RequestTimeTooSkewed",
    "RequestExpired",
    "SignatureDoesNotMatch",
];

/// A difference between the signing time and the service's `Date` below this is no
/// skew (AWS accepts signatures up to 5 minutes off).
const SKEW_THRESHOLD: Duration = Duration::from_secs(240);

/// The time requests are signed with: this machine's clock, corrected by the offset a
/// service's `Date` showed after it refused a signature for its time.
#[derive(Debug, Clone, Default)]
struct SigningClock {
    /// Service time minus local time, in milliseconds.
    offset_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl SigningClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset_ms.load(std::sync::atomic::Ordering::Relaxed);
        let magnitude = Duration::from_millis(offset.unsigned_abs());
        if offset >= 0 {
            SystemTime::now() + magnitude
        } else {
            SystemTime::now() - magnitude
        }
    }

    /// When `error` refused a signature made at `signed_at` for its time and the
    /// reply's `Date` is more than [`SKEW_THRESHOLD`] away from it: takes the
    /// service's time as the clock and says to sign again.
    fn correct(&self, error: &AwsError, reply: &HttpResponse, signed_at: SystemTime) -> bool {
        if !error
            .code
            .as_deref()
            .is_some_and(|c| SKEW_ERRORS.contains(&c))
        {
            return false;
        }
        let Some(server) = reply
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
        else {
            return false;
        };
        let skew_ms = |a: SystemTime, b: SystemTime| match a.duration_since(b) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        let off = skew_ms(server, signed_at);
        if off.unsigned_abs() < SKEW_THRESHOLD.as_millis() as u64 {
            return false;
        }
        self.offset_ms.store(
            skew_ms(server, SystemTime::now()),
            std::sync::atomic::Ordering::Relaxed,
        );
        true
    }
}

impl fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClient")
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field(
                "identity_store_endpoint",
                &self.identity_store_endpoint.as_str(),
            )
            .field("sso_admin_endpoint", &self.sso_admin_endpoint.as_str())
            .finish()
    }
}

impl AwsClient {
    /// A client for the configured region, credentials and endpoints.
    pub fn new(config: &AwsConfig) -> Result<Self, AdapterError> {
        let http = |service: Service, endpoint: &Url| {
            HttpClient::builder(service.to_string(), endpoint.as_str())
                .user_agent(concat!("provision-aws/", env!("CARGO_PKG_VERSION")))
                .timeout(config.timeout)
                .build()
                .map_err(|e| AdapterError::Configuration {
                    error: SystemError::message(e.to_string()),
                })
        };
        Ok(Self {
            identity_store: http(Service::IdentityStore, &config.identity_store_endpoint)?,
            sso_admin: http(Service::SsoAdmin, &config.sso_admin_endpoint)?,
            region: config.region.clone(),
            credentials: config.credentials.clone(),
            identity_store_endpoint: config.identity_store_endpoint.clone(),
            sso_admin_endpoint: config.sso_admin_endpoint.clone(),
            clock: SigningClock::default(),
        })
    }

    fn endpoint(&self, service: Service) -> (&HttpClient, &Url) {
        match service {
            Service::IdentityStore => (&self.identity_store, &self.identity_store_endpoint),
            Service::SsoAdmin => (&self.sso_admin, &self.sso_admin_endpoint),
        }
    }

    /// Calls one operation with `input` and reads its output.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        service: Service,
        operation: &'static str,
        input: &I,
    ) -> Result<O, AwsError> {
        let span = debug_span!("aws_call", service = %service, operation);
        self.call_inner(service, operation, input)
            .instrument(span)
            .await
    }

    async fn call_inner<I: Serialize, O: DeserializeOwned>(
        &self,
        service: Service,
        operation: &'static str,
        input: &I,
    ) -> Result<O, AwsError> {
        let body = serde_json::to_vec(input).map_err(|e| {
            AwsError::local(
                service,
                operation,
                AwsErrorKind::Decode,
                format!("cannot encode the request: {e}"),
            )
        })?;
        let (http, url) = self.endpoint(service);
        let target = format!("{}.{operation}", service.target_prefix());
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("x-amz-target", target.as_str()),
        ];

        let mut resigned = false;
        let reply = loop {
            let signed_at = self.clock.now();
            let signed = self
                .sign(service, operation, url, &headers, &body, signed_at)
                .await?;
            let mut request = http.reqwest().post(url.clone());
            for (name, value) in headers
                .iter()
                .copied()
                .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            {
                request = request.header(name, value);
            }
            let reply = http
                .send(request.body(body.clone()), request_kind(operation))
                .await
                .map_err(|e| transport_error(service, operation, e))?;
            if reply.is_success() {
                break reply;
            }
            let error = AwsErrors { service, operation }.aws_error(&reply);
            // A signature refused for the time it carries: sign once more with the
            // service's time (its `Date`), as the AWS SDKs do. Refused, so not applied.
            if !resigned && self.clock.correct(&error, &reply, signed_at) {
                resigned = true;
                tracing::warn!(%service, operation, "signature refused for clock skew; signing again with the service's time");
                continue;
            }
            return Err(error);
        };
        // Parsed whatever the content type (moto answers `text/html`); an empty body
        // is an empty output.
        let text: &[u8] = if reply.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &reply.body
        };
        serde_json::from_slice(text).map_err(|e| AwsError {
            status: Some(reply.status),
            ..AwsError::local(
                service,
                operation,
                AwsErrorKind::Decode,
                format!("cannot read the reply: {e}"),
            )
        })
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`).
    async fn sign(
        &self,
        service: Service,
        operation: &'static str,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let fail = |m: String| AwsError::local(service, operation, AwsErrorKind::Signing, m);
        let credentials = self.credentials.resolve().await.map_err(fail)?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service.signing_name())
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(format!("signing parameters: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| fail(format!("cannot sign the request: {e}")))?;
        // aws-sigv4 logs the canonical request at TRACE level, and that holds the
        // session token (x-amz-security-token): sign with logging switched off.
        let signed = tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            sign(signable, &params)
        });
        let (instructions, _signature) = signed
            .map_err(|e| fail(format!("cannot sign the request: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect())
    }
}

/// The toolkit's transport failure as an [`AwsError`] (no reply: no type, no status).
fn transport_error(service: Service, operation: &'static str, e: AdapterError) -> AwsError {
    let (kind, message) = match e {
        AdapterError::Transient {
            error,
            maybe_applied,
        } => (AwsErrorKind::Transport { maybe_applied }, error.message),
        // The request could not be built: nothing was sent.
        other => (
            AwsErrorKind::Transport {
                maybe_applied: false,
            },
            other.to_string(),
        ),
    };
    AwsError::local(service, operation, kind, message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_types_lose_namespace_and_suffix() {
        assert_eq!(
            normalize_error_type("com.amazonaws.identitystore#ConflictException"),
            "ConflictException"
        );
        assert_eq!(
            normalize_error_type(
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
            ),
            "ThrottlingException"
        );
        assert_eq!(
            normalize_error_type("ResourceNotFoundException"),
            "ResourceNotFoundException"
        );
    }

    fn err(service: Service, code: &str, message: &str) -> AwsError {
        AwsError {
            service,
            operation: "CreateAccountAssignment",
            kind: AwsErrorKind::Service,
            status: Some(400),
            code: Some(code.into()),
            message: message.into(),
            reason: None,
            retry_after: None,
            resource_type: None,
            request_id: None,
        }
    }

    #[test]
    fn a_missing_identity_store_or_instance_is_configuration_not_absence() {
        let mut store = err(
            Service::IdentityStore,
            "ResourceNotFoundException",
            "Identity store not found",
        );
        store.resource_type = Some("IDENTITY_STORE".into());
        assert!(!store.is_not_found());
        let a = AdapterError::from(store);
        assert_eq!(a.class(), "configuration");
        assert!(a.to_string().contains("identity_store_id"), "{a}");

        let mut user = err(
            Service::IdentityStore,
            "ResourceNotFoundException",
            "USER not found.",
        );
        user.resource_type = Some("USER".into());
        assert!(user.is_not_found());
        assert_eq!(AdapterError::from(user).class(), "not_found");

        let instance = err(
            Service::SsoAdmin,
            "ResourceNotFoundException",
            "Instance arn:aws:sso:::instance/ssoins-0000000000000000 does not exist",
        );
        assert!(!instance.is_not_found());
        let a = AdapterError::from(instance);
        assert_eq!(a.class(), "configuration");
        assert!(a.to_string().contains("instance_arn"), "{a}");

        let assignment = err(
            Service::SsoAdmin,
            "ResourceNotFoundException",
            "Could not find the assignment",
        );
        assert!(assignment.is_not_found());
    }

    #[test]
    fn access_denied_names_the_missing_action() {
        let e = err(
            Service::SsoAdmin,
            "AccessDeniedException",
            "User: arn:aws:iam::111122223333:user/bot is not authorized to perform: sso:CreateAccountAssignment on resource: arn:aws:sso:::instance/ssoins-1",
        );
        assert_eq!(e.missing_action(), "sso:CreateAccountAssignment");
        let a: AdapterError = e.into();
        assert_eq!(a.class(), "unauthorized");
        assert!(
            a.to_string()
                .contains("missing permission sso:CreateAccountAssignment"),
            "{a}"
        );

        let e = err(Service::SsoAdmin, "AccessDeniedException", "Access denied");
        assert_eq!(e.missing_action(), "sso:CreateAccountAssignment");
    }

    #[test]
    fn conflict_depends_on_service_and_reason() {
        let a: AdapterError = err(Service::SsoAdmin, "ConflictException", "propagating").into();
        assert_eq!(a.class(), "transient");
        // no reason (the model sets one only for KMS errors): confirm with the check
        let a: AdapterError = err(Service::IdentityStore, "ConflictException", "dup").into();
        assert_eq!(a.class(), "conflict");
        let mut e = err(Service::IdentityStore, "ConflictException", "dup");
        e.reason = Some("UNIQUENESS_CONSTRAINT_VIOLATION".into());
        assert_eq!(AdapterError::from(e).class(), "already_done");
        let mut e = err(Service::IdentityStore, "ConflictException", "busy");
        e.reason = Some("CONCURRENT_MODIFICATION".into());
        assert_eq!(AdapterError::from(e).class(), "transient");
    }

    fn reply(status: u16, header_type: Option<&str>, body: &str) -> HttpResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = header_type {
            headers.insert("x-amzn-errortype", t.parse().unwrap());
        }
        HttpResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
            rate_limit: None,
            kind: RequestKind::Write,
        }
    }

    #[test]
    fn the_dialect_reads_the_type_from_the_header_or_the_body_not_the_status() {
        let dialect = AwsErrors {
            service: Service::IdentityStore,
            operation: "CreateGroupMembership",
        };
        // The header wins, namespace and suffix stripped; a 400 is not "invalid" here.
        let e = reply(
            400,
            Some("ConflictException:http://internal.amazon.com/coral/"),
            r#"{"__type":"com.amazonaws.identitystore#Other","Message":"dup","Reason":"UNIQUENESS_CONSTRAINT_VIOLATION"}"#,
        )
        .into_result(&dialect)
        .unwrap_err();
        assert_eq!(e.class(), "already_done");
        let error = e.system_error().unwrap();
        assert_eq!(error.code.as_deref(), Some("ConflictException"));
        assert_eq!(
            error.message,
            "dup (reason UNIQUENESS_CONSTRAINT_VIOLATION)"
        );

        // `__type` alone; a wrong identity store is a configuration error.
        let e = reply(
            400,
            None,
            r#"{"__type":"com.amazonaws.identitystore#ResourceNotFoundException","Message":"Identity store not found","ResourceType":"IDENTITY_STORE"}"#,
        )
        .into_result(&dialect)
        .unwrap_err();
        assert_eq!(e.class(), "configuration");

        // A success is read whatever its content type; an HTML error page is not echoed.
        assert!(reply(200, None, "{}").into_result(&dialect).is_ok());
        let e = dialect.aws_error(&reply(500, None, "<html>secret page</html>"));
        assert_eq!(e.message, "HTTP 500 without an AWS error body");
        assert_eq!(AdapterError::from(e).class(), "transient");
    }

    #[test]
    fn only_list_describe_and_get_are_reads() {
        assert_eq!(request_kind("ListUsers"), RequestKind::Read);
        assert_eq!(
            request_kind("DescribeAccountAssignmentCreationStatus"),
            RequestKind::Read
        );
        assert_eq!(request_kind("GetGroupMembershipId"), RequestKind::Read);
        assert_eq!(request_kind("CreateAccountAssignment"), RequestKind::Write);
        assert_eq!(request_kind("DeleteUser"), RequestKind::Write);
    }

    #[test]
    fn unknown_types_fall_back_on_status() {
        let mut e = err(Service::SsoAdmin, "SomethingNew", "x");
        e.status = Some(503);
        assert_eq!(AdapterError::from(e.clone()).class(), "transient");
        e.status = Some(400);
        assert_eq!(AdapterError::from(e).class(), "permanent");
    }
}
