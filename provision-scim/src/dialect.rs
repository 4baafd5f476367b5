//! The PATCH shapes SCIM applications expect, and the request bodies built from them.
//!
//! RFC 7644 §3.5.2 allows several ways to say the same change, and applications
//! built against one identity provider often understand only that provider's way:
//!
//! | change | RFC / Okta | Azure (Entra ID) |
//! | --- | --- | --- |
//! | add a member | `{"op":"add","path":"members","value":[{"value":"<id>"}]}` | `{"op":"Add", …}` (same, op capitalised) |
//! | remove a member | `{"op":"remove","path":"members[value eq \"<id>\"]"}` (a filter in the path) | `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}` (a value array) |
//! | deactivate | RFC: `{"op":"replace","path":"active","value":false}`; Okta: `{"op":"replace","value":{"active":false}}` (no path) | `{"op":"Replace","path":"active","value":false}` |
//!
//! [`Dialect::rfc`], [`Dialect::okta`] and [`Dialect::azure`] are these columns;
//! each axis can be set on its own in the deployment.

use serde_json::{Value, json};

/// The PatchOp message schema (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = scim_v2::schema_urns::PATCH_OP;

/// How a member is removed from a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberRemove {
    /// `path: members[value eq "<id>"]`, no value (RFC 7644 §3.5.2.2; Okta).
    #[default]
    FilterInPath,
    /// `path: members`, `value: [{"value": "<id>"}]` (Azure / Entra ID).
    ValueArray,
}

/// How `active` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivePatch {
    /// `path: active`, `value: false`.
    #[default]
    Path,
    /// No path, `value: {"active": false}` (Okta).
    ValueObject,
}

/// How operation names are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpCase {
    /// `add`, `remove`, `replace` (RFC 7644).
    #[default]
    Lower,
    /// `Add`, `Remove`, `Replace` (Azure / Entra ID).
    Capitalized,
}

/// The PATCH dialect of one application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dialect {
    /// How members are removed.
    pub member_remove: MemberRemove,
    /// How `active` is set.
    pub active_patch: ActivePatch,
    /// How operation names are spelled.
    pub op_case: OpCase,
}

impl Dialect {
    /// RFC 7644 as written.
    pub fn rfc() -> Self {
        Self::default()
    }

    /// What Okta sends: filters in remove paths, `active` in a path-less value object.
    pub fn okta() -> Self {
        Self {
            member_remove: MemberRemove::FilterInPath,
            active_patch: ActivePatch::ValueObject,
            op_case: OpCase::Lower,
        }
    }

    /// What Azure / Entra ID sends: value arrays in removes, capitalised operations.
    pub fn azure() -> Self {
        Self {
            member_remove: MemberRemove::ValueArray,
            active_patch: ActivePatch::Path,
            op_case: OpCase::Capitalized,
        }
    }

    /// A preset by its setting's name (`rfc`, `okta`, `azure`).
    pub fn preset(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rfc" | "rfc7644" | "standard" => Some(Self::rfc()),
            "okta" => Some(Self::okta()),
            "azure" | "entra" | "entra_id" | "aad" => Some(Self::azure()),
            _ => None,
        }
    }

    fn op(&self, name: &str) -> String {
        match self.op_case {
            OpCase::Lower => name.to_owned(),
            OpCase::Capitalized => {
                let mut chars = name.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect::<String>()
                })
            }
        }
    }

    /// The PatchOp adding `user_id` to a group's members.
    pub fn add_member(&self, user_id: &str) -> Value {
        patch(vec![json!({
            "op": self.op("add"),
            "path": "members",
            "value": [{"value": user_id}],
        })])
    }

    /// The PatchOp removing `user_id` from a group's members.
    pub fn remove_member(&self, user_id: &str) -> Value {
        let op = match self.member_remove {
            MemberRemove::FilterInPath => json!({
                "op": self.op("remove"),
                "path": format!("members[value eq {}]", quote(user_id)),
            }),
            MemberRemove::ValueArray => json!({
                "op": self.op("remove"),
                "path": "members",
                "value": [{"value": user_id}],
            }),
        };
        patch(vec![op])
    }

    /// The PatchOp setting `active`.
    pub fn set_active(&self, active: bool) -> Value {
        let op = match self.active_patch {
            ActivePatch::Path => {
                json!({"op": self.op("replace"), "path": "active", "value": active})
            }
            ActivePatch::ValueObject => {
                json!({"op": self.op("replace"), "value": {"active": active}})
            }
        };
        patch(vec![op])
    }

    /// The PatchOp replacing attributes (`path` → value, one operation each; a `null`
    /// value removes the attribute).
    pub fn replace(&self, changes: Vec<(String, Value)>) -> Value {
        patch(
            changes
                .into_iter()
                .map(|(path, value)| {
                    if value.is_null() {
                        json!({"op": self.op("remove"), "path": path})
                    } else {
                        json!({"op": self.op("replace"), "path": path, "value": value})
                    }
                })
                .collect(),
        )
    }
}

fn patch(operations: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// A SCIM filter string literal (RFC 7644 §3.4.2.2: a JSON string): `"` and `\` are
/// escaped, as are control characters, so a value can never end the literal early
/// and add a clause of its own (`x" or userName pr or "` stays one value).
pub fn quote(value: &str) -> String {
    // A JSON string literal is exactly a SCIM filter's compValue string.
    Value::String(value.to_owned()).to_string()
}

/// The filter finding one user by user name: `userName eq "<escaped>"`.
pub fn user_name_filter(user_name: &str) -> String {
    format!("userName eq {}", quote(user_name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_filters() {
        assert_eq!(
            user_name_filter("ada@example.com"),
            r#"userName eq "ada@example.com""#
        );
        let hostile = r#"x" or userName pr or "\"#;
        let filter = user_name_filter(hostile);
        assert_eq!(filter, r#"userName eq "x\" or userName pr or \"\\""#);
        // The literal parses back to exactly the value.
        let literal = filter.strip_prefix("userName eq ").unwrap();
        assert_eq!(serde_json::from_str::<String>(literal).unwrap(), hostile);
        // The filter parses, under scim_v2's RFC 7644 grammar, as one comparison.
        let parsed: scim_v2::filter::Filter = filter.parse().unwrap();
        assert!(
            format!("{parsed:?}").contains("Eq"),
            "one `eq` comparison: {parsed:?}"
        );
    }

    #[test]
    fn the_three_dialects_say_the_same_change_their_way() {
        let rfc = Dialect::rfc().remove_member("u1");
        assert_eq!(rfc["Operations"][0]["op"], "remove");
        assert_eq!(rfc["Operations"][0]["path"], r#"members[value eq "u1"]"#);
        assert!(rfc["Operations"][0].get("value").is_none());

        let azure = Dialect::azure().remove_member("u1");
        assert_eq!(azure["Operations"][0]["op"], "Remove");
        assert_eq!(azure["Operations"][0]["path"], "members");
        assert_eq!(azure["Operations"][0]["value"][0]["value"], "u1");
        assert_eq!(
            Dialect::azure().add_member("u1")["Operations"][0]["op"],
            "Add"
        );

        let okta = Dialect::okta().set_active(false);
        assert_eq!(okta["Operations"][0]["value"]["active"], false);
        assert!(okta["Operations"][0].get("path").is_none());
        let rfc = Dialect::rfc().set_active(false);
        assert_eq!(rfc["Operations"][0]["path"], "active");
        assert_eq!(rfc["Operations"][0]["value"], false);
        assert_eq!(rfc["schemas"][0], PATCH_OP);
    }

    #[test]
    fn every_body_is_a_patch_op_scim_v2_reads() {
        for body in [
            Dialect::rfc().add_member("u1"),
            Dialect::rfc().remove_member("u\"1"),
            Dialect::okta().set_active(true),
            Dialect::azure().remove_member("u1"),
            Dialect::rfc().replace(vec![("title".into(), json!("Engineer"))]),
        ] {
            serde_json::from_value::<scim_v2::models::others::PatchOp>(body.clone())
                .unwrap_or_else(|e| panic!("{body}: {e}"));
        }
    }
}
