//! Request conformance to botocore service models (AWS JSON protocols).
//!
//! An AWS JSON request is `POST /` with the operation in `X-Amz-Target:
//! <targetPrefix>.<Operation>` and the input as a JSON body. [`BotocoreSpec`] checks a
//! request against the models it holds:
//!
//! * the target prefix names a loaded service, and the operation exists in it;
//! * the SigV4 credential scope of `Authorization` names the service's `signingName`
//!   (`…/us-east-1/sso/aws4_request` for SSO Admin, not `sso-admin`);
//! * `Content-Type` is `application/x-amz-json-<jsonVersion>`;
//! * the body is a JSON object with every required input member, no member the input
//!   shape does not have (top level), and top-level values of the right JSON type.
//!
//! ```no_run
//! use provision_testkit::botocore::BotocoreSpec;
//! let spec = BotocoreSpec::load("../../shared/specs/aws-identity-center.botocore.trimmed.json").unwrap();
//! assert!(spec.has_operation("SWBExternalService", "CreateAccountAssignment"));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::{ApiSpec, MatchedOperation, SpecViolation};

/// One service model (`service-2.json`).
#[derive(Debug, Clone)]
struct ServiceModel {
    name: String,
    target_prefix: String,
    signing_name: String,
    json_version: String,
    operations: BTreeMap<String, Option<String>>,
    shapes: serde_json::Map<String, Value>,
}

impl ServiceModel {
    fn parse(name: &str, model: &Value) -> Result<Self, String> {
        let meta = model
            .get("metadata")
            .ok_or_else(|| format!("{name}: no metadata"))?;
        let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_owned);
        let target_prefix = s("targetPrefix")
            .ok_or_else(|| format!("{name}: no metadata.targetPrefix (not an AWS JSON service)"))?;
        let signing_name = s("signingName")
            .or_else(|| s("endpointPrefix"))
            .ok_or_else(|| format!("{name}: no metadata.signingName"))?;
        let json_version = s("jsonVersion").unwrap_or_else(|| "1.0".to_owned());
        let operations = model
            .get("operations")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{name}: no operations"))?
            .iter()
            .map(|(op, def)| {
                let input = def
                    .pointer("/input/shape")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (op.clone(), input)
            })
            .collect();
        let shapes = model
            .get("shapes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            name: name.to_owned(),
            target_prefix,
            signing_name,
            json_version,
            operations,
            shapes,
        })
    }

    fn check_body(&self, input_shape: &str, body: &Value, problems: &mut Vec<String>) {
        let Some(shape) = self.shapes.get(input_shape) else {
            problems.push(format!("input shape {input_shape} missing from the model"));
            return;
        };
        let Some(obj) = body.as_object() else {
            problems.push("body is not a JSON object".to_owned());
            return;
        };
        let members = shape
            .get("members")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for required in shape
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match obj.get(required) {
                None | Some(Value::Null) => problems.push(format!(
                    "required member {required} of {input_shape} is missing"
                )),
                Some(_) => {}
            }
        }
        for (key, value) in obj {
            let Some(member) = members.get(key) else {
                problems.push(format!("{input_shape} has no member {key}"));
                continue;
            };
            let Some(target) = member.get("shape").and_then(Value::as_str) else {
                continue;
            };
            let Some(kind) = self
                .shapes
                .get(target)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let ok = match kind {
                "string" | "timestamp" | "blob" => value.is_string() || value.is_null(),
                "integer" | "long" => value.is_i64() || value.is_u64() || value.is_null(),
                "float" | "double" => value.is_number() || value.is_null(),
                "boolean" => value.is_boolean() || value.is_null(),
                "structure" | "map" => value.is_object() || value.is_null(),
                "list" => value.is_array() || value.is_null(),
                // `document` (AttributeValue) takes any JSON value.
                _ => true,
            };
            if !ok {
                problems.push(format!(
                    "member {key} of {input_shape} should be a {kind}, got {value}"
                ));
            }
        }
    }
}

/// One or more botocore service models.
#[derive(Debug, Clone)]
pub struct BotocoreSpec {
    services: Vec<ServiceModel>,
}

impl BotocoreSpec {
    /// Reads a file: one `service-2.json`, or a bundle `{ "<service>": { "service-2": … } }`
    /// (as `shared/specs/aws-identity-center.botocore.trimmed.json`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a model or a bundle of models.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut services = Vec::new();
        if root.get("operations").is_some() {
            services.push(ServiceModel::parse("service", &root)?);
        } else if let Some(obj) = root.as_object() {
            for (name, v) in obj {
                if let Some(model) = v.get("service-2") {
                    services.push(ServiceModel::parse(name, model)?);
                }
            }
        }
        if services.is_empty() {
            return Err("no botocore service model found".to_owned());
        }
        Ok(Self { services })
    }

    /// True when the service with this target prefix has the operation.
    pub fn has_operation(&self, target_prefix: &str, operation: &str) -> bool {
        self.services
            .iter()
            .any(|s| s.target_prefix == target_prefix && s.operations.contains_key(operation))
    }

    /// The signing name of the service with this target prefix.
    pub fn signing_name(&self, target_prefix: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.target_prefix == target_prefix)
            .map(|s| s.signing_name.as_str())
    }
}

/// The project's `shared/` folder (specs, peers): `$PROVISION_SHARED_DIR` when set,
/// otherwise `../../shared` from `manifest_dir` (a crate of a checkout beside
/// `shared/`), otherwise the nearest ancestor of `manifest_dir` that has a
/// `shared/specs` folder (a git worktree nested deeper).
pub fn find_shared_dir(manifest_dir: &str) -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("PROVISION_SHARED_DIR") {
        return Some(dir.into());
    }
    let manifest = Path::new(manifest_dir);
    let conventional = manifest.join("../../shared");
    if conventional.join("specs").is_dir() {
        return Some(conventional);
    }
    manifest
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|d| d.join("specs").is_dir())
}

/// The service name of a SigV4 `Authorization` header's credential scope.
pub fn credential_scope_service(authorization: &str) -> Option<&str> {
    let cred = authorization.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    // AKID/date/region/service/aws4_request
    let parts: Vec<&str> = scope.split('/').collect();
    (parts.len() == 5 && parts[4] == "aws4_request").then(|| parts[3])
}

impl ApiSpec for BotocoreSpec {
    fn check_request(
        &self,
        request: &wiremock::Request,
    ) -> Result<MatchedOperation, SpecViolation> {
        let header = |n: &str| {
            request
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let target = header("x-amz-target").unwrap_or_default();
        let describe = format!("{} {} [{}]", request.method, request.url.path(), target);
        let violation = |problems: Vec<String>| SpecViolation {
            request: describe.clone(),
            problems,
        };
        let Some((prefix, operation)) = target.split_once('.') else {
            return Err(violation(vec![
                "no X-Amz-Target header of the form <prefix>.<Operation>".into(),
            ]));
        };
        let Some(service) = self.services.iter().find(|s| s.target_prefix == prefix) else {
            return Err(violation(vec![format!(
                "no service with target prefix {prefix}"
            )]));
        };
        let Some(input) = service.operations.get(operation) else {
            return Err(violation(vec![format!(
                "{} has no operation {operation}",
                service.name
            )]));
        };
        let mut problems = Vec::new();
        if request.method.as_str() != "POST" || request.url.path() != "/" {
            problems.push(format!(
                "AWS JSON requests are POST /, not {} {}",
                request.method,
                request.url.path()
            ));
        }
        match header("authorization") {
            None => problems.push("no Authorization header (unsigned)".into()),
            Some(auth) => match credential_scope_service(&auth) {
                Some(s) if s == service.signing_name => {}
                Some(s) => problems.push(format!(
                    "signed for service {s}, but {} signs as {}",
                    service.name, service.signing_name
                )),
                None => problems.push("Authorization is not SigV4 with a credential scope".into()),
            },
        }
        let content_type = format!("application/x-amz-json-{}", service.json_version);
        if header("content-type").as_deref() != Some(content_type.as_str()) {
            problems.push(format!(
                "Content-Type should be {content_type}, got {}",
                header("content-type").unwrap_or_else(|| "none".into())
            ));
        }
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => {
                if let Some(shape) = input {
                    service.check_body(shape, &body, &mut problems);
                }
            }
            Err(e) => problems.push(format!("body is not JSON: {e}")),
        }
        if problems.is_empty() {
            Ok(MatchedOperation {
                name: operation.to_owned(),
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

    const MODEL: &str = r#"{
      "svc": {"service-2": {
        "metadata": {"targetPrefix": "Svc", "signingName": "svcsign", "jsonVersion": "1.1"},
        "operations": {"DoIt": {"input": {"shape": "DoItRequest"}}},
        "shapes": {
          "DoItRequest": {"type": "structure", "required": ["Id"],
            "members": {"Id": {"shape": "Str"}, "Max": {"shape": "Int"}}},
          "Str": {"type": "string"}, "Int": {"type": "integer"}
        }}}
    }"#;

    fn request(target: &str, scope: &str, body: &str) -> wiremock::Request {
        use wiremock::http::{HeaderMap, HeaderName, HeaderValue, Method};
        let mut headers = HeaderMap::new();
        let mut put = |k: &'static str, v: String| {
            headers.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(&v).unwrap(),
            );
        };
        put("x-amz-target", target.to_owned());
        put("content-type", "application/x-amz-json-1.1".to_owned());
        put(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{scope}/aws4_request, SignedHeaders=host, Signature=00"
            ),
        );
        wiremock::Request {
            url: "http://127.0.0.1/".parse().unwrap(),
            method: Method::POST,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn accepts_a_conforming_request_and_names_each_problem() {
        let spec = BotocoreSpec::from_json(MODEL).unwrap();
        let ok = spec
            .check_request(&request("Svc.DoIt", "svcsign", r#"{"Id":"x","Max":3}"#))
            .unwrap();
        assert_eq!(ok.name, "DoIt");

        let bad = spec
            .check_request(&request(
                "Svc.DoIt",
                "wrongname",
                r#"{"Max":"3","Extra":1}"#,
            ))
            .unwrap_err();
        let text = bad.to_string();
        assert!(text.contains("signed for service wrongname"), "{text}");
        assert!(text.contains("required member Id"), "{text}");
        assert!(text.contains("no member Extra"), "{text}");
        assert!(
            text.contains("Max of DoItRequest should be a integer"),
            "{text}"
        );

        assert!(
            spec.check_request(&request("Svc.Nope", "svcsign", "{}"))
                .is_err()
        );
        assert!(
            spec.check_request(&request("Other.DoIt", "svcsign", "{}"))
                .is_err()
        );
    }

    #[test]
    fn shared_aws_model_loads() {
        let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR"))
            .expect("no shared/ folder: the repository expects ../shared beside it (or set PROVISION_SHARED_DIR)");
        let path = shared.join("specs/aws-identity-center.botocore.trimmed.json");
        let spec = BotocoreSpec::load(&path).unwrap();
        assert_eq!(spec.signing_name("SWBExternalService"), Some("sso"));
        assert_eq!(spec.signing_name("AWSIdentityStore"), Some("identitystore"));
        assert!(spec.has_operation("AWSIdentityStore", "GetGroupMembershipId"));
        assert!(spec.has_operation(
            "SWBExternalService",
            "DescribeAccountAssignmentCreationStatus"
        ));
    }
}
