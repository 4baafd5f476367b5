//! Request conformance for Google API **discovery documents**
//! (`../shared/specs/google-admin-directory-v1.trimmed.json`).
//!
//! A discovery document is not OpenAPI: methods sit under (nested) `resources`, each
//! with an `httpMethod`, a `path` template relative to the document's `servicePath`
//! (`{param}` matches one path segment, `{+param}` any text including `/`), its
//! `parameters` (`location` `path` or `query`, `required`, `enum`, `minimum`/`maximum`)
//! and, for methods that take a body, `request.$ref` naming a schema. Schema fields
//! required by one method carry `annotations.required: ["<method id>"]`.
//!
//! [`DiscoverySpec::check_request`] matches a request to the method whose template
//! fits its path (the most literal template wins) and reports: a wrong HTTP method,
//! missing required path/query parameters, unknown query parameters, enum and
//! range violations, a body sent to a method that takes none, a missing body, unknown
//! or read-only top-level body fields, body fields of the wrong JSON type, and fields
//! the method requires (through nested `$ref`s) that are absent.
//!
//! ```no_run
//! use provision_testkit::discovery::DiscoverySpec;
//! let spec = DiscoverySpec::load_shared("google-admin-directory-v1.trimmed.json").unwrap();
//! // after a wiremock test:
//! // provision_testkit::assert_requests_conform(&spec, &server.received_requests().await.unwrap());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::{ApiSpec, MatchedOperation, SpecViolation};

/// Why a discovery document could not be loaded.
#[derive(Debug)]
pub enum DiscoveryError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The text is not JSON, or not a discovery document.
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// No `shared/specs/<file>` was found above the crate directory.
    NotFound {
        /// The file looked for.
        file: String,
    },
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            DiscoveryError::Invalid { reason } => write!(f, "not a discovery document: {reason}"),
            DiscoveryError::NotFound { file } => write!(
                f,
                "shared/specs/{file} not found above the current crate (set PROVISION_SHARED_DIR)"
            ),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// One piece of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text that must appear as is.
    Literal(String),
    /// `{name}`: one or more characters other than `/`.
    Segment(String),
    /// `{+name}`: one or more characters, `/` included.
    Reserved(String),
}

/// A method parameter as the document declares it.
#[derive(Debug, Clone)]
struct Parameter {
    location: String,
    required: bool,
    kind: Option<String>,
    enumeration: Vec<String>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

impl Parameter {
    fn from_json(value: &Value) -> Self {
        let str_field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        let int_field = |k: &str| {
            value.get(k).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
        };
        Parameter {
            location: str_field("location").unwrap_or_default(),
            required: value
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            kind: str_field("type"),
            enumeration: value
                .get("enum")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            minimum: int_field("minimum"),
            maximum: int_field("maximum"),
        }
    }

    /// Problems with one value of this parameter.
    fn check_value(&self, name: &str, value: &str, problems: &mut Vec<String>) {
        if !self.enumeration.is_empty() && !self.enumeration.iter().any(|e| e == value) {
            problems.push(format!(
                "parameter `{name}`={value:?} is not one of {:?}",
                self.enumeration
            ));
        }
        match self.kind.as_deref() {
            Some("integer") => match value.parse::<i64>() {
                Ok(n) => {
                    if self.minimum.is_some_and(|min| n < min) {
                        problems.push(format!("parameter `{name}`={n} is below its minimum"));
                    }
                    if self.maximum.is_some_and(|max| n > max) {
                        problems.push(format!(
                            "parameter `{name}`={n} is above its maximum {}",
                            self.maximum.unwrap_or_default()
                        ));
                    }
                }
                Err(_) => problems.push(format!("parameter `{name}`={value:?} is not an integer")),
            },
            Some("boolean") if value != "true" && value != "false" => {
                problems.push(format!("parameter `{name}`={value:?} is not a boolean"));
            }
            _ => {}
        }
    }
}

/// One method of the document.
#[derive(Debug, Clone)]
struct Method {
    id: String,
    http_method: String,
    template: Vec<Piece>,
    parameters: BTreeMap<String, Parameter>,
    request_schema: Option<String>,
}

impl Method {
    fn literal_len(&self) -> usize {
        self.template
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => s.len(),
                _ => 0,
            })
            .sum()
    }
}

/// A Google discovery document, ready to judge requests.
#[derive(Debug, Clone)]
pub struct DiscoverySpec {
    service_path: String,
    methods: Vec<Method>,
    global_parameters: BTreeMap<String, Parameter>,
    schemas: Map<String, Value>,
}

impl DiscoverySpec {
    /// Parses a discovery document.
    pub fn from_json(text: &str) -> Result<Self, DiscoveryError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| DiscoveryError::Invalid {
            reason: e.to_string(),
        })?;
        let service_path = doc
            .get("servicePath")
            .and_then(Value::as_str)
            .ok_or_else(|| DiscoveryError::Invalid {
                reason: "no `servicePath`".into(),
            })?
            .to_owned();
        let resources = doc
            .get("resources")
            .and_then(Value::as_object)
            .ok_or_else(|| DiscoveryError::Invalid {
                reason: "no `resources`".into(),
            })?;
        let mut methods = Vec::new();
        collect_methods(resources, &service_path, &mut methods)?;
        let global_parameters = doc
            .get("parameters")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Parameter::from_json(v)))
                    .collect()
            })
            .unwrap_or_default();
        let schemas = doc
            .get("schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(DiscoverySpec {
            service_path,
            methods,
            global_parameters,
            schemas,
        })
    }

    /// Reads a discovery document from a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, DiscoveryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| DiscoveryError::Io {
            path: path.to_owned(),
            error,
        })?;
        Self::from_json(&text)
    }

    /// Loads `shared/specs/<file>`: from `$PROVISION_SHARED_DIR/specs/` when set, else
    /// from the first `shared/specs/` found walking up from this crate's directory
    /// (the repository has `shared/` beside it; worktrees sit one level deeper).
    pub fn load_shared(file: &str) -> Result<Self, DiscoveryError> {
        Self::from_file(find_shared_spec(file)?)
    }

    /// The document's `servicePath` (`admin/directory/v1/`).
    pub fn service_path(&self) -> &str {
        &self.service_path
    }

    /// The ids of every method (`directory.users.insert`, ...).
    pub fn method_ids(&self) -> impl Iterator<Item = &str> {
        self.methods.iter().map(|m| m.id.as_str())
    }

    fn check_body(&self, method: &Method, request: &wiremock::Request, problems: &mut Vec<String>) {
        let has_body = !request.body.is_empty();
        let Some(schema_name) = &method.request_schema else {
            if has_body {
                problems.push(format!(
                    "{} takes no request body, but one was sent",
                    method.id
                ));
            }
            return;
        };
        if !has_body {
            problems.push(format!(
                "{} needs a `{schema_name}` body, none was sent",
                method.id
            ));
            return;
        }
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("body is not JSON: {e}"));
                return;
            }
        };
        self.check_object(&method.id, schema_name, &body, "", true, problems);
    }

    /// Checks `value` against schema `schema_name`. Unknown and read-only fields are
    /// reported only at the top level (`top`); required fields and JSON types at every level.
    fn check_object(
        &self,
        method_id: &str,
        schema_name: &str,
        value: &Value,
        prefix: &str,
        top: bool,
        problems: &mut Vec<String>,
    ) {
        let Some(schema) = self.schemas.get(schema_name) else {
            problems.push(format!("schema `{schema_name}` is not in the document"));
            return;
        };
        let Some(object) = value.as_object() else {
            problems.push(format!(
                "`{}` must be an object ({schema_name})",
                display(prefix)
            ));
            return;
        };
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, field_value) in object {
            let path = join(prefix, name);
            let Some(property) = properties.get(name) else {
                if top {
                    problems.push(format!(
                        "unknown body field `{path}` (not in schema `{schema_name}`)"
                    ));
                }
                continue;
            };
            if top && property.get("readOnly").and_then(Value::as_bool) == Some(true) {
                problems.push(format!("body field `{path}` is read-only"));
            }
            if field_value.is_null() {
                continue; // null clears a field in Google's patch semantics
            }
            if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
                self.check_object(method_id, reference, field_value, &path, false, problems);
            } else if let Some(kind) = property.get("type").and_then(Value::as_str)
                && !json_type_matches(kind, field_value)
            {
                problems.push(format!("body field `{path}` should be of type {kind}"));
            }
        }
        for (name, property) in &properties {
            let required_here = property
                .get("annotations")
                .and_then(|a| a.get("required"))
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(method_id)));
            if required_here && object.get(name).is_none_or(Value::is_null) {
                problems.push(format!(
                    "body field `{}` is required by {method_id}",
                    join(prefix, name)
                ));
            }
        }
    }
}

fn display(prefix: &str) -> &str {
    if prefix.is_empty() { "<body>" } else { prefix }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn json_type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
        }
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true, // "any"
    }
}

/// Finds `shared/specs/<file>` (see [`DiscoverySpec::load_shared`]).
pub fn find_shared_spec(file: &str) -> Result<PathBuf, DiscoveryError> {
    if let Some(dir) = std::env::var_os("PROVISION_SHARED_DIR") {
        let candidate = PathBuf::from(dir).join("specs").join(file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let candidate = dir.join("shared").join("specs").join(file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(DiscoveryError::NotFound {
        file: file.to_owned(),
    })
}

fn collect_methods(
    resources: &Map<String, Value>,
    service_path: &str,
    out: &mut Vec<Method>,
) -> Result<(), DiscoveryError> {
    for resource in resources.values() {
        if let Some(methods) = resource.get("methods").and_then(Value::as_object) {
            for (name, method) in methods {
                let field = |k: &str| method.get(k).and_then(Value::as_str);
                let (Some(http_method), Some(path)) = (field("httpMethod"), field("path")) else {
                    return Err(DiscoveryError::Invalid {
                        reason: format!("method `{name}` lacks httpMethod or path"),
                    });
                };
                let full = if path.starts_with('/') {
                    path.trim_start_matches('/').to_owned()
                } else {
                    format!("{service_path}{path}")
                };
                out.push(Method {
                    id: field("id").unwrap_or(name).to_owned(),
                    http_method: http_method.to_owned(),
                    template: parse_template(&full)?,
                    parameters: method
                        .get("parameters")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), Parameter::from_json(v)))
                                .collect()
                        })
                        .unwrap_or_default(),
                    request_schema: method
                        .get("request")
                        .and_then(|r| r.get("$ref"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
        if let Some(nested) = resource.get("resources").and_then(Value::as_object) {
            collect_methods(nested, service_path, out)?;
        }
    }
    Ok(())
}

fn parse_template(template: &str) -> Result<Vec<Piece>, DiscoveryError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let end = rest.find('}').ok_or_else(|| DiscoveryError::Invalid {
                    reason: format!("unclosed `{{` in path `{template}`"),
                })?;
                let name = &rest[1..end];
                pieces.push(match name.strip_prefix('+') {
                    Some(reserved) => Piece::Reserved(reserved.to_owned()),
                    None => Piece::Segment(name.to_owned()),
                });
                rest = &rest[end + 1..];
            }
            Some(start) => {
                pieces.push(Piece::Literal(rest[..start].to_owned()));
                rest = &rest[start..];
            }
            None => {
                pieces.push(Piece::Literal(rest.to_owned()));
                rest = "";
            }
        }
    }
    Ok(pieces)
}

/// Matches `path` against `pieces`, binding variables; backtracks over variable lengths.
fn match_pieces(pieces: &[Piece], path: &str, bound: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return path.is_empty();
    };
    match first {
        Piece::Literal(text) => path
            .strip_prefix(text.as_str())
            .is_some_and(|remaining| match_pieces(rest, remaining, bound)),
        Piece::Segment(name) | Piece::Reserved(name) => {
            let reserved = matches!(first, Piece::Reserved(_));
            let limit = if reserved {
                path.len()
            } else {
                path.find('/').unwrap_or(path.len())
            };
            // longest first, so `{+name}` at the end takes everything
            for end in (1..=limit).rev() {
                if !path.is_char_boundary(end) {
                    continue;
                }
                bound.push((name.clone(), path[..end].to_owned()));
                if match_pieces(rest, &path[end..], bound) {
                    return true;
                }
                bound.pop();
            }
            false
        }
    }
}

/// Percent-decodes a query component (`+` is a space).
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

impl ApiSpec for DiscoverySpec {
    fn check_request(
        &self,
        request: &wiremock::Request,
    ) -> Result<MatchedOperation, SpecViolation> {
        let describe = match request.url.query() {
            Some(q) => format!("{} {}?{q}", request.method, request.url.path()),
            None => format!("{} {}", request.method, request.url.path()),
        };
        let violation = |problems: Vec<String>| SpecViolation {
            request: describe.clone(),
            problems,
        };
        let path = request.url.path().trim_start_matches('/');

        let mut candidates: Vec<(&Method, Vec<(String, String)>)> = self
            .methods
            .iter()
            .filter_map(|m| {
                let mut bound = Vec::new();
                match_pieces(&m.template, path, &mut bound).then_some((m, bound))
            })
            .collect();
        if candidates.is_empty() {
            return Err(violation(vec![format!(
                "no method's path template (under `{}`) matches",
                self.service_path
            )]));
        }
        candidates.sort_by_key(|(m, _)| std::cmp::Reverse(m.literal_len()));
        let best_len = candidates[0].0.literal_len();
        let same_path: Vec<_> = candidates
            .into_iter()
            .filter(|(m, _)| m.literal_len() == best_len)
            .collect();
        let method_name = request.method.as_str();
        let Some((method, bound)) = same_path
            .iter()
            .find(|(m, _)| m.http_method.eq_ignore_ascii_case(method_name))
        else {
            let allowed: Vec<String> = same_path
                .iter()
                .map(|(m, _)| format!("{} ({})", m.http_method, m.id))
                .collect();
            return Err(violation(vec![format!(
                "HTTP method {method_name} not allowed on this path; allowed: {}",
                allowed.join(", ")
            )]));
        };

        let mut problems = Vec::new();
        // path parameters
        for (name, value) in bound {
            match method.parameters.get(name) {
                Some(p) if p.location == "path" => {
                    p.check_value(name, &decode_component(value), &mut problems)
                }
                _ => problems.push(format!(
                    "path variable `{name}` is not a declared path parameter"
                )),
            }
        }
        // query parameters
        let query: Vec<(String, String)> = request
            .url
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode_component(k), decode_component(v))
            })
            .collect();
        for (name, value) in &query {
            let declared = method
                .parameters
                .get(name)
                .filter(|p| p.location == "query")
                .or_else(|| self.global_parameters.get(name));
            match declared {
                Some(p) => p.check_value(name, value, &mut problems),
                None => problems.push(format!(
                    "unknown query parameter `{name}` for {}",
                    method.id
                )),
            }
        }
        for (name, p) in &method.parameters {
            if p.required && p.location == "query" && !query.iter().any(|(k, _)| k == name) {
                problems.push(format!("required query parameter `{name}` is missing"));
            }
        }
        self.check_body(method, request, &mut problems);

        if problems.is_empty() {
            Ok(MatchedOperation {
                name: method.id.clone(),
            })
        } else {
            Err(violation(problems))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, body: &str) -> wiremock::Request {
        let mut headers = wiremock::http::HeaderMap::new();
        headers.insert(
            "host",
            wiremock::http::HeaderValue::from_static("127.0.0.1"),
        );
        wiremock::Request {
            url: url.parse().unwrap(),
            method: method.parse().unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn google() -> DiscoverySpec {
        DiscoverySpec::load_shared("google-admin-directory-v1.trimmed.json").unwrap()
    }

    fn problems(spec: &DiscoverySpec, method: &str, url: &str, body: &str) -> Vec<String> {
        match spec.check_request(&request(method, url, body)) {
            Ok(_) => Vec::new(),
            Err(v) => v.problems,
        }
    }

    #[test]
    fn matches_methods_by_path_and_http_method() {
        let spec = google();
        let op = |m: &str, u: &str, b: &str| spec.check_request(&request(m, u, b)).unwrap().name;
        assert_eq!(
            op(
                "GET",
                "http://h/admin/directory/v1/users?customer=my_customer&maxResults=500",
                ""
            ),
            "directory.users.list"
        );
        assert_eq!(
            op(
                "POST",
                "http://h/admin/directory/v1/users/a%40b.com/signOut",
                ""
            ),
            "directory.users.signOut"
        );
        assert_eq!(
            op(
                "DELETE",
                "http://h/admin/directory/v1/groups/eng%40b.com/members/a%40b.com",
                ""
            ),
            "directory.members.delete"
        );
        assert_eq!(
            op(
                "GET",
                "http://h/admin/directory/v1/groups/eng%40b.com/hasMember/a%40b.com",
                ""
            ),
            "directory.members.hasMember"
        );
        assert_eq!(
            op(
                "PATCH",
                "http://h/admin/directory/v1/groups/g/members/m",
                r#"{"role":"OWNER"}"#
            ),
            "directory.members.patch"
        );
    }

    #[test]
    fn reports_unknown_paths_and_wrong_methods() {
        let spec = google();
        let p = problems(&spec, "GET", "http://h/admin/directory/v1/nosuch", "");
        assert!(p[0].contains("no method"), "{p:?}");
        let p = problems(&spec, "GET", "http://h/directory/v1/users", "");
        assert!(
            p[0].contains("no method"),
            "path outside the servicePath: {p:?}"
        );
        let p = problems(
            &spec,
            "DELETE",
            "http://h/admin/directory/v1/users/a/signOut",
            "",
        );
        assert!(
            p[0].contains("not allowed") && p[0].contains("POST"),
            "{p:?}"
        );
    }

    #[test]
    fn reports_query_problems() {
        let spec = google();
        let p = problems(
            &spec,
            "GET",
            "http://h/admin/directory/v1/users?customer=c&maxResults=501",
            "",
        );
        assert!(
            p.iter()
                .any(|x| x.contains("maxResults") && x.contains("maximum")),
            "{p:?}"
        );
        let p = problems(
            &spec,
            "GET",
            "http://h/admin/directory/v1/users?customer=c&pageSize=5",
            "",
        );
        assert!(
            p.iter()
                .any(|x| x.contains("unknown query parameter `pageSize`")),
            "{p:?}"
        );
        let p = problems(
            &spec,
            "GET",
            "http://h/admin/directory/v1/users/a?projection=everything",
            "",
        );
        assert!(p.iter().any(|x| x.contains("projection")), "{p:?}");
        // global parameters are accepted everywhere
        assert!(
            problems(
                &spec,
                "GET",
                "http://h/admin/directory/v1/users/a?fields=id&prettyPrint=false",
                ""
            )
            .is_empty()
        );
    }

    #[test]
    fn reports_body_problems() {
        let spec = google();
        let url = "http://h/admin/directory/v1/users";
        // insert requires primaryEmail, name.givenName, name.familyName and password
        let p = problems(
            &spec,
            "POST",
            url,
            r#"{"primaryEmail":"a@b.com","name":{"givenName":"A"}}"#,
        );
        assert!(
            p.iter().any(|x| x.contains("`password` is required")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|x| x.contains("`name.familyName` is required")),
            "{p:?}"
        );
        let p = problems(&spec, "POST", url, "");
        assert!(p.iter().any(|x| x.contains("needs a `User` body")), "{p:?}");
        let ok = r#"{"primaryEmail":"a@b.com","name":{"givenName":"A","familyName":"B"},"password":"x","orgUnitPath":"/"}"#;
        assert!(problems(&spec, "POST", url, ok).is_empty());
        // unknown and read-only fields, wrong types
        let p = problems(
            &spec,
            "PUT",
            "http://h/admin/directory/v1/users/a",
            r#"{"suspend":true,"lastLoginTime":"x","suspended":"yes"}"#,
        );
        assert!(
            p.iter().any(|x| x.contains("unknown body field `suspend`")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("`lastLoginTime` is read-only")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|x| x.contains("`suspended` should be of type boolean")),
            "{p:?}"
        );
        // patch does not require the insert-only fields
        assert!(
            problems(
                &spec,
                "PUT",
                "http://h/admin/directory/v1/users/a",
                r#"{"suspended":true}"#
            )
            .is_empty()
        );
        // signOut takes no body
        let p = problems(
            &spec,
            "POST",
            "http://h/admin/directory/v1/users/a/signOut",
            "{}",
        );
        assert!(
            p.iter().any(|x| x.contains("takes no request body")),
            "{p:?}"
        );
    }

    #[test]
    fn reserved_expansion_matches_slashes() {
        let doc = r#"{"servicePath":"v1/","resources":{"things":{"methods":{
            "get":{"id":"x.things.get","httpMethod":"GET","path":"{+name}",
                   "parameters":{"name":{"location":"path","required":true,"type":"string"}}},
            "cancel":{"id":"x.things.cancel","httpMethod":"POST","path":"{+name}:cancel",
                   "parameters":{"name":{"location":"path","required":true,"type":"string"}}}}}}}"#;
        let spec = DiscoverySpec::from_json(doc).unwrap();
        let op = |m: &str, u: &str| spec.check_request(&request(m, u, "")).map(|o| o.name);
        assert_eq!(
            op("GET", "http://h/v1/projects/p/things/t").unwrap(),
            "x.things.get"
        );
        assert_eq!(
            op("POST", "http://h/v1/projects/p/things/t:cancel").unwrap(),
            "x.things.cancel"
        );
        assert!(op("GET", "http://h/v2/projects/p").is_err());
    }

    #[test]
    fn one_segment_variables_do_not_match_slashes() {
        let mut bound = Vec::new();
        let t = parse_template("a/{x}/b").unwrap();
        assert!(match_pieces(&t, "a/1/b", &mut bound));
        assert!(!match_pieces(&t, "a/1/2/b", &mut Vec::new()));
        assert_eq!(bound, vec![("x".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn decodes_query_components() {
        assert_eq!(decode_component("a%40b.com"), "a@b.com");
        assert_eq!(
            decode_component("orgUnitPath%3D%27%2FEng%27+x"),
            "orgUnitPath='/Eng' x"
        );
        assert_eq!(decode_component("100%"), "100%");
    }
}
