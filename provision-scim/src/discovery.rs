//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and `Schemas`
//! decide what the adapter does and what its descriptor declares — PATCH or PUT for
//! groups, filters or a scan to find a user, ETags, the page size
//! (`filter.maxResults`), and which profile attributes the application accepts.
//!
//! A discovery endpoint that is missing, refuses the request or answers something
//! unreadable does not stop the adapter: what it would have said comes from the
//! settings ([`crate::config::Fallback`]), and [`Capabilities::notes`] says which
//! answer came from where. An endpoint that *lies* (announces PATCH or filters, then
//! answers 501 to them) is caught when it is used: see the adapter.

use std::collections::BTreeSet;

use provision_core::adapter::AdapterError;
use serde_json::Value;

use crate::client::ScimClient;
use crate::config::Fallback;
use crate::model::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// Where a capability's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The application's discovery endpoint said so.
    Discovered,
    /// The settings (discovery off, or its answer missing or unreadable).
    Settings,
}

/// What the application can do, as discovery (or the settings) say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// PATCH is supported.
    pub patch: bool,
    /// Bulk is supported (announced; the adapter sends one change per request).
    pub bulk: bool,
    /// Filters are supported.
    pub filter: bool,
    /// ETags are supported: PUTs carry `If-Match`.
    pub etag: bool,
    /// The most results a list returns (`filter.maxResults`).
    pub max_results: Option<u32>,
    /// The enterprise extension is accepted on users.
    pub enterprise: bool,
    /// The application has groups (a `Group` resource type).
    pub groups: bool,
    /// The User core attributes the application declares (lower case); `None` when
    /// `Schemas` did not say.
    pub user_attributes: Option<BTreeSet<String>>,
    /// The enterprise extension's attributes it declares (lower case); `None` when
    /// `Schemas` did not say.
    pub enterprise_attributes: Option<BTreeSet<String>>,
    /// Where the PATCH/filter/etag answers came from.
    pub origin: Origin,
    /// What was not discovered and was taken from the settings instead, one line each.
    pub notes: Vec<String>,
}

impl Capabilities {
    /// Everything from the settings, with why.
    pub fn from_settings(fallback: &Fallback, why: impl Into<String>) -> Self {
        Self {
            patch: fallback.patch,
            bulk: false,
            filter: fallback.filter,
            etag: fallback.etag,
            max_results: fallback.max_results,
            enterprise: fallback.enterprise,
            groups: true,
            user_attributes: None,
            enterprise_attributes: None,
            origin: Origin::Settings,
            notes: vec![why.into()],
        }
    }

    /// Whether the application accepts the User attribute `name` (a core one, or an
    /// enterprise one when `enterprise`). Unknown when `Schemas` did not say: then yes.
    pub fn accepts(&self, name: &str, enterprise: bool) -> bool {
        let set = if enterprise {
            if !self.enterprise {
                return false;
            }
            &self.enterprise_attributes
        } else {
            &self.user_attributes
        };
        set.as_ref()
            .is_none_or(|s| s.contains(&name.to_ascii_lowercase()))
    }
}

/// Reads the three discovery endpoints. Never fails: what cannot be read comes from
/// `fallback`, with a note.
pub async fn discover(client: &ScimClient, fallback: &Fallback) -> Capabilities {
    let mut caps = Capabilities::from_settings(fallback, "");
    caps.notes.clear();
    match fetch(client, "ServiceProviderConfig").await {
        Ok(spc) => {
            caps.origin = Origin::Discovered;
            read_service_provider_config(&spc, fallback, &mut caps);
        }
        Err(why) => caps.notes.push(format!(
            "ServiceProviderConfig: {why}; patch={}, filter={}, etag={} taken from the settings",
            fallback.patch, fallback.filter, fallback.etag
        )),
    }
    match fetch(client, "ResourceTypes").await {
        Ok(types) => read_resource_types(&types, fallback, &mut caps),
        Err(why) => caps.notes.push(format!(
            "ResourceTypes: {why}; enterprise extension {} (settings)",
            if fallback.enterprise {
                "assumed"
            } else {
                "not assumed"
            }
        )),
    }
    match fetch(client, "Schemas").await {
        Ok(schemas) => read_schemas(&schemas, &mut caps),
        Err(why) => caps.notes.push(format!(
            "Schemas: {why}; every mapped profile attribute is sent"
        )),
    }
    for note in &caps.notes {
        tracing::warn!(system = client.system(), "SCIM discovery: {note}");
    }
    caps
}

async fn fetch(client: &ScimClient, endpoint: &str) -> Result<Value, String> {
    match client.get::<Value>(&[endpoint], &[]).await {
        Ok((v, _)) if v.is_object() || v.is_array() => Ok(v),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(e @ AdapterError::Unauthorized { .. }) => Err(format!("{e} (check the credentials)")),
        Err(e) => Err(e.to_string()),
    }
}

/// `members.supported` of one capability, leniently (a bool, or the strings
/// `"true"`/`"false"`).
fn supported(spc: &Value, key: &str) -> Option<bool> {
    let v = get_ci(spc, key)?;
    match get_ci(v, "supported")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A member by name, case-insensitively (RFC 7643 §2.1: attribute names are).
fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn read_service_provider_config(spc: &Value, fallback: &Fallback, caps: &mut Capabilities) {
    let mut missing = Vec::new();
    let take = |key: &str, default: bool, missing: &mut Vec<String>| match supported(spc, key) {
        Some(b) => b,
        None => {
            missing.push(format!("{key} ({default})"));
            default
        }
    };
    caps.patch = take("patch", fallback.patch, &mut missing);
    caps.filter = take("filter", fallback.filter, &mut missing);
    caps.etag = take("etag", fallback.etag, &mut missing);
    caps.bulk = supported(spc, "bulk").unwrap_or(false);
    let max = get_ci(spc, "filter")
        .and_then(|f| get_ci(f, "maxResults"))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0);
    caps.max_results = match (max, fallback.max_results) {
        (Some(d), Some(s)) => Some(d.min(s)),
        (d, s) => d.or(s),
    };
    if !missing.is_empty() {
        caps.notes.push(format!(
            "ServiceProviderConfig does not say {}: taken from the settings",
            missing.join(", ")
        ));
    }
}

/// The resources of a discovery list: a `ListResponse`'s `Resources`, or a bare
/// array (some applications answer that).
fn resources(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => get_ci(other, "Resources")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    }
}

fn read_resource_types(types: &Value, fallback: &Fallback, caps: &mut Capabilities) {
    let all = resources(types);
    let schema_of = |t: &&Value| {
        get_ci(t, "schema")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let user = all
        .iter()
        .find(|t| schema_of(t).as_deref() == Some(USER_SCHEMA));
    let Some(user) = user else {
        caps.notes.push(format!(
            "ResourceTypes lists no User type: enterprise extension {} (settings)",
            if fallback.enterprise {
                "assumed"
            } else {
                "not assumed"
            }
        ));
        return;
    };
    caps.enterprise = get_ci(user, "schemaExtensions")
        .and_then(Value::as_array)
        .is_some_and(|exts| {
            exts.iter()
                .any(|e| get_ci(e, "schema").and_then(Value::as_str) == Some(ENTERPRISE_SCHEMA))
        });
    caps.groups = all
        .iter()
        .any(|t| schema_of(t).as_deref() == Some(GROUP_SCHEMA));
}

fn read_schemas(schemas: &Value, caps: &mut Capabilities) {
    let names = |id: &str| -> Option<BTreeSet<String>> {
        let schema = resources(schemas)
            .into_iter()
            .find(|s| get_ci(s, "id").and_then(Value::as_str) == Some(id))?;
        let attrs = get_ci(schema, "attributes")?.as_array()?;
        Some(
            attrs
                .iter()
                .filter_map(|a| get_ci(a, "name").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect(),
        )
    };
    caps.user_attributes = names(USER_SCHEMA);
    if caps.user_attributes.is_none() {
        caps.notes.push(
            "Schemas does not describe the User schema: every mapped profile attribute is sent"
                .to_owned(),
        );
    }
    caps.enterprise_attributes = names(ENTERPRISE_SCHEMA);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_partial_service_provider_config_keeps_the_settings_for_the_rest() {
        let mut caps = Capabilities::from_settings(&Fallback::default(), "");
        caps.notes.clear();
        let fallback = Fallback {
            etag: true,
            max_results: Some(50),
            ..Fallback::default()
        };
        read_service_provider_config(
            &json!({"patch": {"supported": false}, "filter": {"supported": "true", "maxResults": 200}}),
            &fallback,
            &mut caps,
        );
        assert!(!caps.patch);
        assert!(caps.filter);
        assert!(caps.etag, "etag not said: the setting");
        assert_eq!(caps.max_results, Some(50), "the smaller of the two");
        assert!(caps.notes[0].contains("etag"), "{:?}", caps.notes);
    }

    #[test]
    fn resource_types_as_a_bare_array_are_read() {
        let mut caps = Capabilities::from_settings(&Fallback::default(), "");
        read_resource_types(
            &json!([{"id": "User", "schema": USER_SCHEMA, "endpoint": "/Users"}]),
            &Fallback::default(),
            &mut caps,
        );
        assert!(
            !caps.enterprise,
            "no schemaExtensions: no enterprise extension"
        );
        assert!(!caps.groups);
        assert!(!caps.accepts("department", true));
    }
}
