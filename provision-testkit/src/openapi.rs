//! Request conformance against an OpenAPI 3.x or Swagger 2.0 description.
//!
//! [`OpenApiSpec`] loads a description (YAML or JSON) and judges requests a mock
//! server received: the method and path must match an operation's path template
//! (under one of the description's server base paths), every required query,
//! header and body field must be present, and query parameters the operation does
//! not declare are reported.
//!
//! ```no_run
//! use provision_testkit::openapi::OpenApiSpec;
//! # async fn demo(server: &wiremock::MockServer) {
//! let spec = OpenApiSpec::from_path(provision_testkit::openapi::shared_spec_path(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "okta-management.trimmed.yaml",
//! ))
//! .unwrap();
//! let requests = server.received_requests().await.unwrap();
//! provision_testkit::assert_requests_conform(&spec, &requests);
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::{ApiSpec, MatchedOperation, SpecViolation};

/// Why a description could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The text is neither valid JSON nor valid YAML.
    Parse {
        /// Where the text came from.
        source: String,
        /// The parser's message.
        message: String,
    },
    /// The document is not an OpenAPI 3.x / Swagger 2.0 description.
    NotADescription {
        /// Where the text came from.
        source: String,
        /// What is missing.
        message: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, error } => {
                write!(f, "cannot read API description {}: {error}", path.display())
            }
            LoadError::Parse { source, message } => {
                write!(f, "cannot parse API description {source}: {message}")
            }
            LoadError::NotADescription { source, message } => {
                write!(
                    f,
                    "{source} is not an OpenAPI/Swagger description: {message}"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// The shared folder (`shared/`, holding `specs/`, `apis/` and `peers/`), seen from a
/// crate directory (`CARGO_MANIFEST_DIR`): `PROVISION_SHARED_DIR` when set, otherwise
/// the first `shared` folder found in the crate directory's ancestors (in the main
/// checkout that is `<crate>/../../shared`).
///
/// Panics (this is a test helper) with a clear message when none is found.
pub fn shared_dir(manifest_dir: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("PROVISION_SHARED_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "PROVISION_SHARED_DIR={} is not a directory",
            dir.display()
        );
        return dir;
    }
    Path::new(manifest_dir)
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|candidate| candidate.join("specs").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no `shared` folder (with `specs/`) above {manifest_dir}; it is expected at \
                 {manifest_dir}/../../shared, or set PROVISION_SHARED_DIR"
            )
        })
}

/// The path of a file in the shared `specs/` folder (see [`shared_dir`]).
///
/// Panics (this is a test helper) with a clear message when the file is absent.
pub fn shared_spec_path(manifest_dir: &str, file: &str) -> PathBuf {
    let path = shared_dir(manifest_dir).join("specs").join(file);
    assert!(
        path.is_file(),
        "the shared API description {} is missing; the request-conformance tests need it",
        path.display()
    );
    path
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Header,
    FormData,
    Other,
}

#[derive(Debug, Clone)]
struct Parameter {
    name: String,
    location: Location,
    required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A segment with a `{param}`: literal text before and after it.
    Param {
        prefix: String,
        suffix: String,
    },
}

#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    segments: Vec<Segment>,
    name: String,
    parameters: Vec<Parameter>,
    body_required: bool,
    /// The JSON body schema (with `$ref`s unresolved), when the operation takes one.
    body_schema: Option<Value>,
}

/// An OpenAPI 3.x or Swagger 2.0 description that judges requests.
#[derive(Debug, Clone)]
pub struct OpenApiSpec {
    doc: Value,
    base_paths: Vec<String>,
    operations: Vec<Operation>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl OpenApiSpec {
    /// Loads a description from a file (`.json`, or YAML otherwise).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| LoadError::Io {
            path: path.to_owned(),
            error,
        })?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// Parses a description from text, JSON or YAML; `source` names it in errors.
    pub fn from_text(text: &str, source: &str) -> Result<Self, LoadError> {
        let doc: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| LoadError::Parse {
                source: source.to_owned(),
                message: e.to_string(),
            })?
        } else {
            serde_saphyr::from_str(text).map_err(|e| LoadError::Parse {
                source: source.to_owned(),
                message: e.to_string(),
            })?
        };
        Self::from_value(doc, source)
    }

    /// Builds the checker from an already parsed document.
    pub fn from_value(doc: Value, source: &str) -> Result<Self, LoadError> {
        let not = |message: &str| LoadError::NotADescription {
            source: source.to_owned(),
            message: message.to_owned(),
        };
        let is_swagger = doc.get("swagger").is_some();
        if !is_swagger && doc.get("openapi").is_none() {
            return Err(not("neither an `openapi` nor a `swagger` field"));
        }
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| not("no `paths` object"))?;
        let base_paths = if is_swagger {
            vec![normalise_base(
                doc.get("basePath").and_then(Value::as_str).unwrap_or(""),
            )]
        } else {
            server_base_paths(&doc)
        };
        let mut operations = Vec::new();
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let item_resolved = resolve_obj(&doc, item);
            let common = item_resolved
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for method in METHODS {
                let Some(op) = item_resolved.get(method).and_then(Value::as_object) else {
                    continue;
                };
                operations.push(build_operation(&doc, path, method, op, &common, is_swagger));
            }
        }
        Ok(Self {
            doc,
            base_paths,
            operations,
        })
    }

    /// The number of operations the description holds.
    pub fn operation_count(&self) -> usize {
        self.operations.len()
    }

    /// Judges a request given as its parts (method, path, query pairs, header names,
    /// body). [`ApiSpec::check_request`] calls this for a `wiremock::Request`.
    pub fn check_parts(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        header_names: &BTreeSet<String>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<MatchedOperation, SpecViolation> {
        let method = method.to_ascii_lowercase();
        let describe = || {
            let mut s = format!("{} {path}", method.to_ascii_uppercase());
            if !query.is_empty() {
                let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push('?');
                s.push_str(&q.join("&"));
            }
            s
        };
        let segments = self.request_segments(path);
        // The best path match: the most literal segments wins (`/users/me` over `/users/{id}`).
        let mut candidates: Vec<&Operation> = Vec::new();
        let mut best_literals = 0usize;
        let mut path_known = false;
        for segs in &segments {
            for op in &self.operations {
                if !template_matches(&op.segments, segs) {
                    continue;
                }
                path_known = true;
                if op.method != method {
                    continue;
                }
                let literals = op
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                if candidates.is_empty() || literals > best_literals {
                    candidates = vec![op];
                    best_literals = literals;
                } else if literals == best_literals {
                    candidates.push(op);
                }
            }
        }
        let Some(op) = candidates.first() else {
            let problem = if path_known {
                format!(
                    "the path exists but has no {} operation",
                    method.to_ascii_uppercase()
                )
            } else {
                format!(
                    "no operation matches this path (base paths: {:?})",
                    self.base_paths
                )
            };
            return Err(SpecViolation {
                request: describe(),
                problems: vec![problem],
            });
        };
        let problems = self.check_operation(op, query, header_names, content_type, body);
        if problems.is_empty() {
            Ok(MatchedOperation {
                name: op.name.clone(),
            })
        } else {
            Err(SpecViolation {
                request: describe(),
                problems: problems
                    .into_iter()
                    .map(|p| format!("{} {}: {p}", op.method.to_ascii_uppercase(), op.path))
                    .collect(),
            })
        }
    }

    /// The request path split into decoded segments, once per base path it starts with.
    fn request_segments(&self, path: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for base in &self.base_paths {
            let rest = if base.is_empty() {
                Some(path)
            } else {
                path.strip_prefix(base.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/'))
            };
            if let Some(rest) = rest {
                out.push(split_path(rest));
            }
        }
        out
    }

    fn check_operation(
        &self,
        op: &Operation,
        query: &[(String, String)],
        header_names: &BTreeSet<String>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let form: Vec<(String, String)> =
            if content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
                url::form_urlencoded::parse(body).into_owned().collect()
            } else {
                Vec::new()
            };
        for p in &op.parameters {
            let present = match p.location {
                Location::Query => query.iter().any(|(k, _)| k == &p.name),
                Location::Header => header_names.contains(&p.name.to_ascii_lowercase()),
                Location::FormData => form.iter().any(|(k, _)| k == &p.name),
                Location::Path | Location::Other => true,
            };
            if p.required && !present {
                let place = match p.location {
                    Location::Query => "query parameter",
                    Location::Header => "header",
                    Location::FormData => "form field",
                    _ => "parameter",
                };
                problems.push(format!("required {place} `{}` is missing", p.name));
            }
        }
        let declared: BTreeSet<&str> = op
            .parameters
            .iter()
            .filter(|p| p.location == Location::Query)
            .map(|p| p.name.as_str())
            .collect();
        let mut unknown: Vec<&str> = query
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !declared.contains(k))
            .collect();
        unknown.dedup();
        for k in unknown {
            problems.push(format!("query parameter `{k}` is not declared"));
        }
        if op.body_required && body.is_empty() {
            problems.push("a request body is required but none was sent".to_owned());
        }
        if let Some(schema) = &op.body_schema
            && !body.is_empty()
            && form.is_empty()
        {
            match serde_json::from_slice::<Value>(body) {
                Ok(value) => self.check_required(schema, &value, "body", 0, &mut problems),
                Err(e) => problems.push(format!("the body is not JSON: {e}")),
            }
        }
        problems
    }

    /// Checks the `required` lists of `schema` (following `$ref` and `allOf`) against
    /// `value`, and recursively for nested objects present in the value.
    fn check_required(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        depth: usize,
        problems: &mut Vec<String>,
    ) {
        if depth > 8 {
            return;
        }
        let (required, properties) = self.flatten_object_schema(schema, 0);
        let Some(obj) = value.as_object() else {
            if !required.is_empty() {
                problems.push(format!("{at} must be an object with {required:?}"));
            }
            return;
        };
        for r in &required {
            if !obj.contains_key(r) {
                problems.push(format!("required property `{at}.{r}` is missing"));
            }
        }
        for (name, sub_schema) in &properties {
            if let Some(sub_value) = obj.get(name)
                && sub_value.is_object()
            {
                self.check_required(
                    sub_schema,
                    sub_value,
                    &format!("{at}.{name}"),
                    depth + 1,
                    problems,
                );
            }
        }
    }

    /// The `required` names and `properties` of an object schema, merging `allOf`.
    fn flatten_object_schema(
        &self,
        schema: &Value,
        depth: usize,
    ) -> (Vec<String>, Map<String, Value>) {
        let mut required = Vec::new();
        let mut properties = Map::new();
        if depth > 16 {
            return (required, properties);
        }
        let schema = resolve(&self.doc, schema);
        if let Some(list) = schema.get("required").and_then(Value::as_array) {
            required.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                properties.insert(k.clone(), v.clone());
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                let (r, p) = self.flatten_object_schema(part, depth + 1);
                required.extend(r);
                properties.extend(p);
            }
        }
        required.sort();
        required.dedup();
        (required, properties)
    }
}

impl ApiSpec for OpenApiSpec {
    fn check_request(
        &self,
        request: &wiremock::Request,
    ) -> Result<MatchedOperation, SpecViolation> {
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let headers: BTreeSet<String> = request
            .headers
            .keys()
            .map(|k| k.as_str().to_ascii_lowercase())
            .collect();
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        self.check_parts(
            request.method.as_str(),
            request.url.path(),
            &query,
            &headers,
            content_type,
            &request.body,
        )
    }
}

fn build_operation(
    doc: &Value,
    path: &str,
    method: &str,
    op: &Map<String, Value>,
    common: &[Value],
    is_swagger: bool,
) -> Operation {
    let mut parameters: Vec<Parameter> = Vec::new();
    let mut body_required = false;
    let mut body_schema = None;
    // Path-level parameters first; operation-level ones override by (name, in).
    let own = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for raw in common.iter().chain(own.iter()) {
        let p = resolve(doc, raw);
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let location = match p.get("in").and_then(Value::as_str).unwrap_or_default() {
            "path" => Location::Path,
            "query" => Location::Query,
            "header" => Location::Header,
            "formData" => Location::FormData,
            "body" => {
                body_required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                body_schema = p.get("schema").cloned();
                continue;
            }
            _ => Location::Other,
        };
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        parameters.retain(|q| !(q.name == name && q.location == location));
        parameters.push(Parameter {
            name: name.to_owned(),
            location,
            required,
        });
    }
    if !is_swagger && let Some(rb) = op.get("requestBody") {
        let rb = resolve(doc, rb);
        body_required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
        if let Some(content) = rb.get("content").and_then(Value::as_object) {
            let json = content
                .iter()
                .find(|(k, _)| k.contains("json"))
                .map(|(_, v)| v);
            body_schema = json.and_then(|m| m.get("schema")).cloned();
            // Form bodies: required properties become required form fields.
            if let Some(form) = content.get("application/x-www-form-urlencoded")
                && let Some(schema) = form.get("schema")
            {
                let schema = resolve(doc, schema);
                for r in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    parameters.push(Parameter {
                        name: r.to_owned(),
                        location: Location::FormData,
                        required: true,
                    });
                }
            }
        }
    }
    let name = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} {path}", method.to_ascii_uppercase()));
    Operation {
        method: method.to_owned(),
        path: path.to_owned(),
        segments: parse_template(path),
        name,
        parameters,
        body_required,
        body_schema,
    }
}

/// The path part of each OpenAPI 3 server URL (variables replaced by their defaults).
fn server_base_paths(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for server in doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(url) = server.get("url").and_then(Value::as_str) else {
            continue;
        };
        let mut url = url.to_owned();
        if let Some(vars) = server.get("variables").and_then(Value::as_object) {
            for (name, var) in vars {
                let default = var.get("default").and_then(Value::as_str).unwrap_or("");
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
        let path = match url.find("://") {
            Some(i) => {
                let after = &url[i + 3..];
                after.find('/').map(|j| &after[j..]).unwrap_or("")
            }
            None => url.as_str(),
        };
        let base = normalise_base(path);
        if !out.contains(&base) {
            out.push(base);
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

fn normalise_base(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

fn parse_template(path: &str) -> Vec<Segment> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match (s.find('{'), s.rfind('}')) {
            (Some(open), Some(close)) if open < close => Segment::Param {
                prefix: s[..open].to_owned(),
                suffix: s[close + 1..].to_owned(),
            },
            _ => Segment::Literal(s.to_owned()),
        })
        .collect()
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

/// Decodes `%XX` escapes in a path segment (invalid escapes are kept as written).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && s.is_char_boundary(i + 3)
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn template_matches(template: &[Segment], segments: &[String]) -> bool {
    template.len() == segments.len()
        && template.iter().zip(segments).all(|(t, s)| match t {
            Segment::Literal(l) => l == s,
            Segment::Param { prefix, suffix } => {
                s.len() > prefix.len() + suffix.len()
                    && s.starts_with(prefix.as_str())
                    && s.ends_with(suffix.as_str())
            }
        })
}

/// Follows local `$ref`s (`#/components/...`) until a non-reference value.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(target) => value = target,
            None => return value,
        }
    }
    value
}

fn resolve_obj(doc: &Value, item: &Map<String, Value>) -> Map<String, Value> {
    match item.get("$ref") {
        Some(_) => resolve(doc, &Value::Object(item.clone()))
            .as_object()
            .cloned()
            .unwrap_or_default(),
        None => item.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tiny() -> OpenApiSpec {
        let path = shared_dir(env!("CARGO_MANIFEST_DIR")).join("peers/examples/tiny.openapi.yaml");
        assert!(path.is_file(), "missing {}", path.display());
        OpenApiSpec::from_path(path).unwrap()
    }

    fn check(
        spec: &OpenApiSpec,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> Result<MatchedOperation, SpecViolation> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        spec.check_parts(
            method,
            path,
            &query,
            &BTreeSet::new(),
            Some("application/json"),
            body.as_bytes(),
        )
    }

    #[test]
    fn tiny_matches_operations_by_method_and_template() {
        let spec = tiny();
        assert_eq!(spec.operation_count(), 2);
        let op = check(
            &spec,
            "POST",
            "/users",
            &[],
            r#"{"login":"a","email":"a@x"}"#,
        )
        .unwrap();
        assert_eq!(op.name, "createUser");
        let op = check(&spec, "GET", "/users/00u1", &[], "").unwrap();
        assert_eq!(op.name, "GET /users/{id}");
    }

    #[test]
    fn tiny_reports_missing_required_body_property() {
        let spec = tiny();
        let err = check(&spec, "POST", "/users", &[], r#"{"login":"a"}"#).unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.contains("`body.email`")),
            "{err}"
        );
        let err = check(&spec, "POST", "/users", &[], "").unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.contains("body is required")),
            "{err}"
        );
    }

    #[test]
    fn tiny_reports_unknown_path_method_and_query() {
        let spec = tiny();
        let err = check(&spec, "GET", "/groups", &[], "").unwrap_err();
        assert!(err.problems[0].contains("no operation matches"), "{err}");
        let err = check(&spec, "DELETE", "/users/1", &[], "").unwrap_err();
        assert!(err.problems[0].contains("no DELETE operation"), "{err}");
        let err = check(&spec, "GET", "/users/1", &[("limit", "5")], "").unwrap_err();
        assert!(err.problems[0].contains("`limit` is not declared"), "{err}");
        // Too many segments is not a match.
        assert!(check(&spec, "GET", "/users/1/extra", &[], "").is_err());
    }

    const SWAGGER: &str = r##"{
      "swagger": "2.0",
      "basePath": "/api/v4",
      "paths": {
        "/groups/{id}/members": {
          "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
          "get": {"operationId": "listMembers",
                  "parameters": [{"$ref": "#/parameters/page"}]},
          "post": {"operationId": "addMember",
                   "parameters": [{"name": "body", "in": "body", "required": true,
                                   "schema": {"$ref": "#/definitions/Add"}}]}
        },
        "/groups/{id}/members/all": {
          "get": {"operationId": "listAllMembers"}
        },
        "/chat.post": {
          "post": {"operationId": "chat.post",
                   "parameters": [{"name": "channel", "in": "formData", "required": true, "type": "string"},
                                  {"name": "token", "in": "header", "required": true, "type": "string"}]}
        }
      },
      "parameters": {"page": {"name": "page", "in": "query", "required": true, "type": "integer"}},
      "definitions": {"Add": {"allOf": [{"required": ["user_id"]},
                                        {"required": ["access_level"], "properties": {"access_level": {"type": "integer"}}}]}}
    }"##;

    #[test]
    fn swagger_respects_base_path_refs_and_all_of() {
        let spec = OpenApiSpec::from_text(SWAGGER, "inline").unwrap();
        let op = check(
            &spec,
            "GET",
            "/api/v4/groups/7/members",
            &[("page", "1")],
            "",
        )
        .unwrap();
        assert_eq!(op.name, "listMembers");
        // The literal `all` segment wins over nothing else; it is its own operation.
        let op = check(&spec, "GET", "/api/v4/groups/7/members/all", &[], "").unwrap();
        assert_eq!(op.name, "listAllMembers");
        // Without the base path it is no operation.
        assert!(check(&spec, "GET", "/groups/7/members", &[("page", "1")], "").is_err());
        let err = check(&spec, "GET", "/api/v4/groups/7/members", &[], "").unwrap_err();
        assert!(
            err.problems[0].contains("required query parameter `page`"),
            "{err}"
        );
        let err = check(
            &spec,
            "POST",
            "/api/v4/groups/7/members",
            &[],
            r#"{"user_id":1}"#,
        )
        .unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.contains("body.access_level")),
            "{err}"
        );
        check(
            &spec,
            "POST",
            "/api/v4/groups/7/members",
            &[],
            r#"{"user_id":1,"access_level":30}"#,
        )
        .unwrap();
    }

    #[test]
    fn swagger_form_fields_and_headers() {
        let spec = OpenApiSpec::from_text(SWAGGER, "inline").unwrap();
        let mut headers = BTreeSet::new();
        headers.insert("token".to_owned());
        let ok = spec.check_parts(
            "POST",
            "/api/v4/chat.post",
            &[],
            &headers,
            Some("application/x-www-form-urlencoded"),
            b"channel=C1&text=hi",
        );
        assert_eq!(ok.unwrap().name, "chat.post");
        let err = spec
            .check_parts(
                "POST",
                "/api/v4/chat.post",
                &[],
                &BTreeSet::new(),
                Some("application/x-www-form-urlencoded"),
                b"text=hi",
            )
            .unwrap_err();
        let all = err.problems.join("; ");
        assert!(all.contains("form field `channel`"), "{all}");
        assert!(all.contains("header `token`"), "{all}");
    }

    #[test]
    fn openapi3_server_base_path_and_nested_required() {
        let doc = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers:
  - url: https://{host}/v2
    variables: {host: {default: example.com}}
paths:
  /users/{id}:
    post:
      operationId: updateUser
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: strict, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Update'}
components:
  schemas:
    Update:
      type: object
      required: [profile]
      properties:
        profile: {$ref: '#/components/schemas/Profile'}
    Profile:
      type: object
      required: [login]
      properties: {login: {type: string}}
"#;
        let spec = OpenApiSpec::from_text(doc, "inline").unwrap();
        let op = check(
            &spec,
            "POST",
            "/v2/users/a%2Fb",
            &[("strict", "true")],
            r#"{"profile":{"login":"x"}}"#,
        )
        .unwrap();
        assert_eq!(op.name, "updateUser");
        let err = check(&spec, "POST", "/v2/users/1", &[], r#"{"profile":{}}"#).unwrap_err();
        assert!(err.problems[0].contains("`body.profile.login`"), "{err}");
        assert!(
            check(
                &spec,
                "POST",
                "/users/1",
                &[],
                r#"{"profile":{"login":"x"}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_documents_that_are_not_descriptions() {
        let err = OpenApiSpec::from_text("a: 1", "x.yaml").unwrap_err();
        assert!(err.to_string().contains("x.yaml"), "{err}");
        let err = OpenApiSpec::from_path("/nonexistent/spec.yaml").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/spec.yaml"), "{err}");
    }

    #[test]
    fn loads_the_trimmed_okta_spec() {
        let path = shared_spec_path(env!("CARGO_MANIFEST_DIR"), "okta-management.trimmed.yaml");
        let spec = OpenApiSpec::from_path(path).unwrap();
        assert_eq!(spec.operation_count(), 27);
        let op = check(&spec, "PUT", "/api/v1/groups/00g1/users/00u1", &[], "").unwrap();
        assert_eq!(op.name, "assignUserToGroup");
        let err = check(
            &spec,
            "POST",
            "/api/v1/users",
            &[("activate", "true")],
            r#"{"credentials":{}}"#,
        )
        .unwrap_err();
        assert!(err.problems[0].contains("`body.profile`"), "{err}");
        let err = check(
            &spec,
            "POST",
            "/api/v1/apps/0oa1/users",
            &[],
            r#"{"scope":"USER"}"#,
        )
        .unwrap_err();
        assert!(err.problems[0].contains("`body.id`"), "{err}");
    }
}
