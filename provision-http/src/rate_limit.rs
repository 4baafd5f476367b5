//! Rate-limit headers, parsed once and right into [`RateLimitInfo`].
//!
//! One parser reads every dialect the adapters meet:
//!
//! | header | systems | read as |
//! | --- | --- | --- |
//! | `Retry-After` | all | seconds, or an HTTP date (measured against the reply's `Date`) |
//! | `X-RateLimit-Limit/-Remaining/-Reset` | GitHub, Jira | |
//! | `X-Rate-Limit-Limit/-Remaining/-Reset` | Okta | |
//! | `RateLimit-Limit/-Remaining/-Reset` (IETF draft, older form) | GitLab, others | |
//! | `RateLimit: "p";r=..;t=..` with `RateLimit-Policy: "p";q=..` (IETF draft, structured form) | newer servers | the policy with the fewest requests left binds: its `r`, `t` and `q` together; used when the headers above are absent |
//!
//! **Resets** come in four forms, told apart like this:
//!
//! * a number of `1_000_000_000_000` or more: epoch milliseconds;
//! * a number of `1_000_000_000` or more: epoch seconds (10⁹ s is September 2001,
//!   and no rate-limit window lasts 31 years, so a delta is never that large);
//! * a smaller number: seconds from the moment of the reply (IETF `RateLimit-Reset`);
//! * otherwise an ISO 8601 / RFC 3339 timestamp (Jira: `2024-09-05T14:37Z`) or an HTTP
//!   date.
//!
//! **A header given more than once** (or a comma-separated list, as the IETF draft
//! allows for several policies) counts by its **minimum**: the tightest budget binds.
//!
//! **Clock skew.** An absolute reset is a time on the server's clock. With
//! [`SkewCorrection::ServerDate`] (the default) it is moved onto the local clock by the
//! reply's `Date` header: `reset − Date + now`. A difference below
//! [`SKEW_TOLERANCE`] is no skew (the `Date` header has one-second resolution and the
//! reply took time to arrive) and is left alone. A reset given as a delta is already
//! relative, and so is `Retry-After` in seconds; a `Retry-After` date is measured
//! against `Date` too.
//!
//! **Buckets.** The budget a reply belongs to goes in [`RateLimitInfo::bucket`]: from a
//! header that names it ([`RateLimitParser::bucket_header`]: GitLab `RateLimit-Name`,
//! GitHub `X-RateLimit-Resource`, Jira `RateLimit-Reason`), or set by the adapter per
//! call (an endpoint family, a Slack method tier) with
//! [`crate::client::HttpResponse::in_bucket`].

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use provision_core::adapter::RateLimitInfo;
use reqwest::header::{self, HeaderMap};

/// A difference between the server's `Date` and the local clock smaller than this is
/// not corrected: `Date` has one-second resolution and the reply took time to arrive.
pub const SKEW_TOLERANCE: Duration = Duration::from_secs(2);

const LIMIT: [&str; 3] = ["x-ratelimit-limit", "x-rate-limit-limit", "ratelimit-limit"];
const REMAINING: [&str; 3] = [
    "x-ratelimit-remaining",
    "x-rate-limit-remaining",
    "ratelimit-remaining",
];
const RESET: [&str; 3] = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"];

/// Epoch seconds from here on (September 2001); see the module docs.
const EPOCH_SECONDS_FROM: f64 = 1e9;
/// Epoch milliseconds from here on.
const EPOCH_MILLIS_FROM: f64 = 1e12;

/// How an absolute reset time is put on the local clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkewCorrection {
    /// `reset − Date + now`, when the reply has a `Date` header (the default).
    #[default]
    ServerDate,
    /// Keep the reset as the server stated it (on the server's clock). A throttled
    /// reply's wait ([`RateLimitParser::throttled`]) is still measured on the
    /// server's clock, `reset − Date`.
    Off,
}

/// Reads rate-limit headers into [`RateLimitInfo`]. Cheap to build; keep one per client.
#[derive(Debug, Clone, Default)]
pub struct RateLimitParser {
    bucket_header: Option<String>,
    skew: SkewCorrection,
}

impl RateLimitParser {
    /// A parser for every dialect in the module docs, correcting skew by `Date`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The header that names the budget a reply counts against (GitLab
    /// `RateLimit-Name`, GitHub `X-RateLimit-Resource`, Jira `RateLimit-Reason`).
    pub fn bucket_header(mut self, name: impl Into<String>) -> Self {
        self.bucket_header = Some(name.into().to_ascii_lowercase());
        self
    }

    /// How absolute resets are put on the local clock.
    pub fn skew_correction(mut self, skew: SkewCorrection) -> Self {
        self.skew = skew;
        self
    }

    /// What the headers of any reply say; `None` when they say nothing.
    pub fn parse(&self, headers: &HeaderMap) -> Option<RateLimitInfo> {
        self.parse_at(headers, Utc::now())
    }

    /// [`RateLimitParser::parse`] with the local clock reading `now`.
    pub fn parse_at(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
        let info = self.read(headers, now).info;
        (!info.is_empty()).then_some(info)
    }

    /// What a throttled reply (429, or a 403 the system uses for throttling) says.
    /// Without a `Retry-After`, the wait until the reset is measured on the server's
    /// clock (`reset − Date`, as Okta's SDKs do) and given as `retry_after`.
    pub fn throttled(&self, headers: &HeaderMap) -> RateLimitInfo {
        self.throttled_at(headers, Utc::now())
    }

    /// [`RateLimitParser::throttled`] with the local clock reading `now`.
    pub fn throttled_at(&self, headers: &HeaderMap, now: DateTime<Utc>) -> RateLimitInfo {
        let read = self.read(headers, now);
        let mut info = read.info;
        if info.retry_after.is_none()
            && let Some(reset) = read.server_reset
        {
            info.retry_after = Some((reset - read.server_now).to_std().unwrap_or(Duration::ZERO));
        }
        info
    }

    fn read(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Read {
        let server_date = server_date(headers);
        // "now" as the server saw it when it answered: the moment deltas count from.
        let server_now = server_date.unwrap_or(now);
        let skew = match (self.skew, server_date) {
            (SkewCorrection::ServerDate, Some(date)) => {
                let skew = now - date;
                let tolerance = chrono::Duration::from_std(SKEW_TOLERANCE).unwrap_or_default();
                if skew.abs() < tolerance {
                    chrono::Duration::zero()
                } else {
                    skew
                }
            }
            _ => chrono::Duration::zero(),
        };
        // The structured form (`RateLimit: "burst";r=5;t=30`), when a server sends it.
        let structured = structured_fields(headers);
        let server_reset = min_of(headers, &RESET, |v| parse_reset(v, server_now)).or_else(|| {
            let secs = i64::try_from(structured.reset_secs?).ok()?;
            Some(server_now + chrono::Duration::try_seconds(secs)?)
        });
        let retry_after = headers
            .get_all(header::RETRY_AFTER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| parse_retry_after(v, server_now))
            .min();
        let bucket = self.bucket_header.as_deref().and_then(|name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        });
        Read {
            info: RateLimitInfo {
                bucket,
                limit: min_of(headers, &LIMIT, parse_count).or(structured.quota),
                remaining: min_of(headers, &REMAINING, parse_count).or(structured.remaining),
                reset_at: server_reset.map(|r| r + skew),
                retry_after,
            },
            server_reset,
            server_now,
        }
    }
}

struct Read {
    info: RateLimitInfo,
    /// The reset on the server's clock.
    server_reset: Option<DateTime<Utc>>,
    server_now: DateTime<Utc>,
}

/// The server's clock, from the `Date` header.
pub fn server_date(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = headers.get(header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(text.trim())
        .ok()
        .map(DateTime::<Utc>::from)
}

/// The smallest value of any of `names`, over every occurrence and every item of a
/// comma-separated list.
fn min_of<T: Ord>(
    headers: &HeaderMap,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    names
        .iter()
        .flat_map(|name| headers.get_all(*name).iter())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|text| {
            // A whole value first: an HTTP date has a comma of its own.
            match parse(text.trim()) {
                Some(v) => vec![v],
                None => text.split(',').filter_map(&parse).collect(),
            }
        })
        .min()
}

/// The binding policy of the structured-field headers of the current IETF draft
/// (draft-ietf-httpapi-ratelimit-headers): `RateLimit: "burst";r=50;t=30` (`r`
/// remaining, `t` seconds to its reset) and `RateLimit-Policy: "burst";q=100;w=60`
/// (`q` the quota). The binding policy is the one with the fewest requests left
/// (the longest reset among equals); its `q` is the limit. Values are kept together,
/// never mixed across policies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Structured {
    quota: Option<u64>,
    remaining: Option<u64>,
    reset_secs: Option<u64>,
}

/// `"name";a=1;b=2` items of a header, as (name, params).
fn structured_items(headers: &HeaderMap, name: &str) -> Vec<(String, Vec<(String, u64)>)> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|text| text.split(','))
        .map(|item| {
            let mut parts = item.split(';');
            let policy = parts
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches('"')
                .to_owned();
            let params = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim().to_owned(), v.trim().parse().ok()?))
                })
                .collect();
            (policy, params)
        })
        .collect()
}

fn structured_fields(headers: &HeaderMap) -> Structured {
    let param = |params: &[(String, u64)], key: &str| {
        params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    };
    let policies = structured_items(headers, "ratelimit-policy");
    structured_items(headers, "ratelimit")
        .into_iter()
        .filter_map(|(policy, params)| {
            let remaining = param(&params, "r")?;
            let quota = policies
                .iter()
                .find(|(p, _)| *p == policy)
                .and_then(|(_, params)| param(params, "q"));
            Some(Structured {
                quota,
                remaining: Some(remaining),
                reset_secs: param(&params, "t"),
            })
        })
        .min_by_key(|s| (s.remaining, std::cmp::Reverse(s.reset_secs)))
        .unwrap_or_default()
}

/// `100`, or an IETF list item `100;w=60` → 100.
fn parse_count(item: &str) -> Option<u64> {
    item.split(';').next()?.trim().parse().ok()
}

/// A reset in any of the forms in the module docs, as a time on the server's clock.
pub fn parse_reset(item: &str, server_now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let item = item.split(';').next()?.trim();
    if let Ok(n) = item.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        return if n >= EPOCH_MILLIS_FROM {
            Utc.timestamp_millis_opt(n as i64).single()
        } else if n >= EPOCH_SECONDS_FROM {
            Utc.timestamp_millis_opt((n * 1000.0) as i64).single()
        } else {
            Some(server_now + chrono::Duration::milliseconds((n * 1000.0) as i64))
        };
    }
    parse_timestamp(item)
}

/// ISO 8601 (`2024-09-05T14:37Z`, `2024-09-05T14:37:00.000+02:00`) or an HTTP date.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Some(naive) = text.strip_suffix('Z') {
        for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
                return Some(t.and_utc());
            }
        }
    }
    httpdate::parse_http_date(text)
        .ok()
        .map(DateTime::<Utc>::from)
}

/// `Retry-After: 120` or `Retry-After: Tue, 01 Jan 2030 00:00:30 GMT` (measured from
/// the server's now). A date in the past is no wait.
pub fn parse_retry_after(text: &str, server_now: DateTime<Utc>) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = DateTime::<Utc>::from(httpdate::parse_http_date(text).ok()?);
    Some((at - server_now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn okta_headers_with_epoch_reset() {
        let now = at("2030-01-01T00:00:00Z");
        let h = headers(&[
            ("X-Rate-Limit-Limit", "600"),
            ("X-Rate-Limit-Remaining", "598"),
            ("X-Rate-Limit-Reset", "1893456060"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.limit, Some(600));
        assert_eq!(info.remaining, Some(598));
        assert_eq!(info.reset_at, Some(at("2030-01-01T00:01:00Z")));
        assert_eq!(info.retry_after, None);
        assert_eq!(info.bucket, None);
    }

    #[test]
    fn nothing_said_is_none() {
        let h = headers(&[("content-type", "application/json")]);
        assert!(RateLimitParser::new().parse(&h).is_none());
    }

    #[test]
    fn retry_after_as_seconds_or_http_date_on_the_server_clock() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[("Retry-After", "120")]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.retry_after, Some(Duration::from_secs(120)));
        // The server's clock is a year ahead: the date is 30 s after its Date.
        let h = headers(&[
            ("Date", "Tue, 01 Jan 2030 00:00:00 GMT"),
            ("Retry-After", "Tue, 01 Jan 2030 00:00:30 GMT"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.retry_after, Some(Duration::from_secs(30)));
        // A date already past is no wait.
        let h = headers(&[
            ("Date", "Tue, 01 Jan 2030 00:00:30 GMT"),
            ("Retry-After", "Tue, 01 Jan 2030 00:00:00 GMT"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.retry_after, Some(Duration::ZERO));
    }

    #[test]
    fn ietf_delta_reset_counts_from_the_reply() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[
            ("RateLimit-Limit", "100, 100;w=60"),
            ("RateLimit-Remaining", "7"),
            ("RateLimit-Reset", "45"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.remaining, Some(7));
        assert_eq!(info.reset_at, Some(at("2026-06-01T12:00:45Z")));
    }

    #[test]
    fn ietf_structured_fields() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[
            (
                "RateLimit-Policy",
                "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400",
            ),
            ("RateLimit", "\"burst\";r=12;t=30, \"daily\";r=900;t=3600"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.remaining, Some(12));
        assert_eq!(info.reset_at, Some(at("2026-06-01T12:00:30Z")));
        // The daily budget is spent: it binds, with its own reset, not the burst's.
        let h = headers(&[
            (
                "RateLimit-Policy",
                "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400",
            ),
            ("RateLimit", "\"burst\";r=12;t=30, \"daily\";r=0;t=3600"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(
            (info.limit, info.remaining, info.reset_at),
            (Some(1000), Some(0), Some(at("2026-06-01T13:00:00Z")))
        );
    }

    #[test]
    fn gitlab_epoch_reset_and_named_bucket() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[
            ("RateLimit-Name", "throttle_authenticated_api"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "1780315260"), // 2026-06-01T12:01:00Z
        ]);
        let info = RateLimitParser::new()
            .bucket_header("RateLimit-Name")
            .parse_at(&h, now)
            .unwrap();
        assert_eq!(info.bucket.as_deref(), Some("throttle_authenticated_api"));
        assert_eq!(info.reset_at, Some(at("2026-06-01T12:01:00Z")));
    }

    #[test]
    fn jira_iso_8601_reset() {
        let now = at("2024-09-05T14:36:00Z");
        let h = headers(&[
            ("X-RateLimit-Limit", "350"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "2024-09-05T14:37Z"),
            ("RateLimit-Reason", "jira-burst-based"),
        ]);
        let info = RateLimitParser::new()
            .bucket_header("RateLimit-Reason")
            .parse_at(&h, now)
            .unwrap();
        assert_eq!(info.reset_at, Some(at("2024-09-05T14:37:00Z")));
        assert_eq!(info.bucket.as_deref(), Some("jira-burst-based"));
        assert_eq!(
            parse_timestamp("2024-09-05T16:37:10.500+02:00"),
            Some(at("2024-09-05T14:37:10.500Z"))
        );
    }

    #[test]
    fn epoch_milliseconds_are_told_from_seconds() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[("X-RateLimit-Reset", "1780315260000")]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.reset_at, Some(at("2026-06-01T12:01:00Z")));
    }

    #[test]
    fn a_repeated_header_gives_its_minimum() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[
            ("X-RateLimit-Remaining", "50"),
            ("X-RateLimit-Remaining", "3"),
            ("X-RateLimit-Limit", "1000, 100"),
            ("Retry-After", "10"),
            ("Retry-After", "4"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.remaining, Some(3));
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.retry_after, Some(Duration::from_secs(4)));
    }

    #[test]
    fn absolute_resets_are_corrected_for_clock_skew() {
        // The server's clock is 2030; ours is 2026. Its reset is 30 s after its Date.
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[
            ("Date", "Tue, 01 Jan 2030 00:00:00 GMT"),
            ("X-Rate-Limit-Remaining", "0"),
            ("X-Rate-Limit-Reset", "1893456030"),
        ]);
        let corrected = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(corrected.reset_at, Some(at("2026-06-01T12:00:30Z")));
        let raw = RateLimitParser::new()
            .skew_correction(SkewCorrection::Off)
            .parse_at(&h, now)
            .unwrap();
        assert_eq!(raw.reset_at, Some(at("2030-01-01T00:00:30Z")));
        // A throttled reply's wait is 30 s either way.
        for parser in [
            RateLimitParser::new(),
            RateLimitParser::new().skew_correction(SkewCorrection::Off),
        ] {
            let info = parser.throttled_at(&h, now);
            assert_eq!(info.retry_after, Some(Duration::from_secs(30)));
        }
    }

    #[test]
    fn a_skew_below_the_date_resolution_is_not_corrected() {
        let now = at("2030-01-01T00:00:01.400Z");
        let h = headers(&[
            ("Date", "Tue, 01 Jan 2030 00:00:00 GMT"),
            ("X-Rate-Limit-Reset", "1893456030"),
        ]);
        let info = RateLimitParser::new().parse_at(&h, now).unwrap();
        assert_eq!(info.reset_at, Some(at("2030-01-01T00:00:30Z")));
    }

    #[test]
    fn throttled_prefers_retry_after_and_has_none_without_anything() {
        let now = at("2026-06-01T12:00:00Z");
        let h = headers(&[("Retry-After", "7"), ("X-RateLimit-Reset", "1780315260")]);
        let info = RateLimitParser::new().throttled_at(&h, now);
        assert_eq!(info.retry_after, Some(Duration::from_secs(7)));
        let info = RateLimitParser::new().throttled_at(&HeaderMap::new(), now);
        assert_eq!(info, RateLimitInfo::default());
    }

    #[test]
    fn garbage_is_ignored_not_fatal() {
        let h = headers(&[
            ("X-RateLimit-Remaining", "lots"),
            ("X-RateLimit-Reset", "-5"),
            ("Retry-After", "soon"),
        ]);
        assert!(RateLimitParser::new().parse(&h).is_none());
    }
}
