//! What the adapter reads and writes.
//!
//! **Writes** are built with the `scim_v2` crate's RFC 7643 types
//! ([`scim_v2::models::user::User`] with its enterprise extension,
//! and the `PatchOp` bodies checked against its `PatchOp` type in tests), so their
//! shape is the standard's.
//!
//! **Reads** use the lenient types below instead of `scim_v2`'s: those require what
//! real applications leave out (`totalResults`, `itemsPerPage` and `startIndex` in a
//! `ListResponse`; `schemas` on every resource; every member of
//! `ServiceProviderConfig`), and one missing field there would make a whole page
//! unreadable. Here only the fields the adapter uses are read, each with a default,
//! and attribute names are matched the way RFC 7643 §2.1 says (case-insensitively)
//! where applications are known to differ.

use std::collections::BTreeMap;

use provision_core::model::{AccountProfile, AccountState};
use scim_v2::models::enterprise_user::{EnterpriseUser, Manager};
use scim_v2::models::user::{Email, Name, User};
use serde::Deserialize;
use serde_json::Value;

/// The User core schema.
pub const USER_SCHEMA: &str = scim_v2::schema_urns::USER;
/// The enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = scim_v2::schema_urns::ENTERPRISE_USER;
/// The Group core schema.
pub const GROUP_SCHEMA: &str = scim_v2::schema_urns::GROUP;

/// A SCIM attribute an HR attribute can be mapped onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProfileAttribute {
    /// `displayName` (core).
    DisplayName,
    /// `title` (core).
    Title,
    /// `employeeNumber` (enterprise).
    EmployeeNumber,
    /// `costCenter` (enterprise).
    CostCenter,
    /// `organization` (enterprise).
    Organization,
    /// `division` (enterprise).
    Division,
    /// `department` (enterprise).
    Department,
    /// `manager` (enterprise): the manager's SCIM id in `manager.value`. The HR value
    /// is the manager's HR id, written to the manager's `externalId` when the adapter
    /// created them; it is resolved to their SCIM id on write and back on read.
    Manager,
}

impl ProfileAttribute {
    /// The names the `profile.<hr attribute>` setting accepts.
    pub const NAMES: &'static [&'static str] = &[
        "displayName",
        "title",
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    ];

    /// From its SCIM name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "displayName" => Self::DisplayName,
            "title" => Self::Title,
            "employeeNumber" => Self::EmployeeNumber,
            "costCenter" => Self::CostCenter,
            "organization" => Self::Organization,
            "division" => Self::Division,
            "department" => Self::Department,
            "manager" => Self::Manager,
            _ => return None,
        })
    }

    /// Its SCIM name.
    pub fn name(self) -> &'static str {
        match self {
            Self::DisplayName => "displayName",
            Self::Title => "title",
            Self::EmployeeNumber => "employeeNumber",
            Self::CostCenter => "costCenter",
            Self::Organization => "organization",
            Self::Division => "division",
            Self::Department => "department",
            Self::Manager => "manager",
        }
    }

    /// True for the enterprise extension's attributes.
    pub fn is_enterprise(self) -> bool {
        !matches!(self, Self::DisplayName | Self::Title)
    }

    /// The attribute's PATCH path (enterprise ones fully qualified, RFC 7644 §3.10).
    pub fn patch_path(self) -> String {
        if self.is_enterprise() {
            let sub = if self == Self::Manager {
                "manager.value"
            } else {
                self.name()
            };
            format!("{ENTERPRISE_SCHEMA}:{sub}")
        } else {
            self.name().to_owned()
        }
    }
}

/// A user as read (only what the adapter uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// The application's id.
    pub id: String,
    /// The user name (the login).
    #[serde(default)]
    pub user_name: String,
    /// The HR id the adapter wrote at create.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Active; an application that leaves it out keeps users active.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub active: Option<bool>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<ReadEmail>,
    /// The enterprise extension, when present.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )]
    pub enterprise: Option<Value>,
    /// `meta.version` (the ETag).
    #[serde(default)]
    pub meta: Option<ReadMeta>,
}

/// `active` as `true`, or as the string `"True"` some applications send.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// An email as read.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadEmail {
    /// The address.
    #[serde(default)]
    pub value: String,
    /// Primary.
    #[serde(default)]
    pub primary: Option<bool>,
}

/// `meta` as read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReadMeta {
    /// The version (a weak ETag, `W/"3"`).
    #[serde(default)]
    pub version: Option<String>,
}

impl ScimUser {
    /// The SDK's state: an inactive user is suspended (deactivation keeps it).
    pub fn state(&self) -> AccountState {
        if self.active == Some(false) {
            AccountState::Suspended
        } else {
            AccountState::Active
        }
    }

    /// The primary email, else the first.
    pub fn email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
            .filter(|e| !e.is_empty())
    }

    /// An enterprise attribute's value (`manager` is `manager.value`).
    pub fn enterprise_value(&self, attribute: ProfileAttribute) -> Option<String> {
        let ext = self.enterprise.as_ref()?;
        let v = if attribute == ProfileAttribute::Manager {
            ext.get("manager")?.get("value")?
        } else {
            ext.get(attribute.name())?
        };
        v.as_str().map(str::to_owned)
    }

    /// The value of a mapped profile attribute, as read (the manager's SCIM id for
    /// [`ProfileAttribute::Manager`]).
    pub fn profile_value(&self, attribute: ProfileAttribute) -> Option<String> {
        match attribute {
            ProfileAttribute::DisplayName => self.display_name.clone(),
            ProfileAttribute::Title => self.title.clone(),
            other => self.enterprise_value(other),
        }
    }
}

/// A group as read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroup {
    /// The application's id.
    pub id: String,
    /// The group's name.
    #[serde(default)]
    pub display_name: String,
    /// Its members (users and groups), when returned.
    #[serde(default)]
    pub members: Option<Vec<ReadMember>>,
    /// `meta.version` (the ETag).
    #[serde(default)]
    pub meta: Option<ReadMeta>,
}

/// A group member as read.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadMember {
    /// The member's id.
    #[serde(default)]
    pub value: String,
    /// `User` or `Group`, when the application says.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl ReadMember {
    /// True unless the application says the member is a group.
    pub fn is_user(&self) -> bool {
        !self
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("group"))
    }
}

/// A `ListResponse`, leniently: `totalResults` may be missing, and the list key is
/// `Resources` (some applications spell it `resources`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// Everything that matched, when the application says.
    #[serde(default)]
    pub total_results: Option<u64>,
    /// This page.
    #[serde(default = "Vec::new", rename = "Resources", alias = "resources")]
    pub resources: Vec<T>,
}

/// The create body: the `scim_v2` User (core and, when accepted, the enterprise
/// extension) for `profile`, the person's HR id as `externalId`, and the mapped
/// profile attributes (`values`, by SCIM attribute; `manager` already resolved to
/// the manager's SCIM id).
pub fn create_body(
    profile: &AccountProfile,
    user_name: &str,
    external_id: &str,
    values: &BTreeMap<ProfileAttribute, String>,
    enterprise: bool,
) -> Result<Value, serde_json::Error> {
    let person = provision_http::names::PersonName::from_profile(profile);
    let get = |a: ProfileAttribute| values.get(&a).cloned();
    let has_enterprise = enterprise && values.keys().any(|a| a.is_enterprise());
    let mut schemas = vec![USER_SCHEMA.to_owned()];
    if has_enterprise {
        schemas.push(ENTERPRISE_SCHEMA.to_owned());
    }
    let user: User = User {
        schemas,
        external_id: Some(external_id.to_owned()).filter(|e| !e.is_empty()),
        user_name: user_name.to_owned(),
        name: Some(Name {
            formatted: Some(profile.display_name.clone()).filter(|d| !d.is_empty()),
            given_name: Some(person.given).filter(|g| !g.is_empty()),
            family_name: Some(person.family).filter(|f| !f.is_empty()),
            ..Name::default()
        }),
        display_name: get(ProfileAttribute::DisplayName)
            .or_else(|| Some(profile.display_name.clone()).filter(|d| !d.is_empty())),
        title: get(ProfileAttribute::Title),
        active: Some(true),
        emails: Some(vec![Email {
            value: Some(profile.email.clone()),
            r#type: Some("work".to_owned()),
            primary: Some(true),
            display: None,
        }])
        .filter(|_| !profile.email.is_empty()),
        enterprise_user: has_enterprise.then(|| EnterpriseUser {
            employee_number: get(ProfileAttribute::EmployeeNumber),
            cost_center: get(ProfileAttribute::CostCenter),
            organization: get(ProfileAttribute::Organization),
            division: get(ProfileAttribute::Division),
            department: get(ProfileAttribute::Department),
            manager: get(ProfileAttribute::Manager).map(|id| Manager {
                value: Some(id),
                r#ref: None,
                display_name: None,
            }),
        }),
        ..User::default()
    };
    let mut body = serde_json::to_value(&user)?;
    // `scim_v2`'s `Name` writes `formatted: null` when unset; an application may read
    // null as "clear it".
    strip_nulls(&mut body);
    Ok(body)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_list_without_total_results_and_lower_case_resources_reads() {
        let l: ListResponse<ScimUser> =
            serde_json::from_str(r#"{"resources":[{"id":"1","userName":"a"}]}"#).unwrap();
        assert_eq!(l.total_results, None);
        assert_eq!(l.resources.len(), 1);
        let l: ListResponse<ScimUser> = serde_json::from_str(
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}"#,
        )
        .unwrap();
        assert!(l.resources.is_empty());
    }

    #[test]
    fn active_as_a_string_is_read() {
        let u: ScimUser =
            serde_json::from_str(r#"{"id":"1","userName":"a","active":"False"}"#).unwrap();
        assert_eq!(u.state(), AccountState::Suspended);
        let u: ScimUser = serde_json::from_str(r#"{"id":"1","userName":"a"}"#).unwrap();
        assert_eq!(u.state(), AccountState::Active);
    }

    #[test]
    fn the_create_body_carries_the_enterprise_extension_only_when_accepted() {
        let profile = AccountProfile::new("ada@example.com", "ada@example.com", "Ada Lovelace");
        let values: BTreeMap<_, _> = [
            (ProfileAttribute::Department, "Engineering".to_owned()),
            (ProfileAttribute::Manager, "m-1".to_owned()),
            (ProfileAttribute::Title, "Engineer".to_owned()),
        ]
        .into();
        let body = create_body(&profile, "ada@example.com", "e1", &values, true).unwrap();
        assert_eq!(body["schemas"][1], ENTERPRISE_SCHEMA);
        assert_eq!(body[ENTERPRISE_SCHEMA]["department"], "Engineering");
        assert_eq!(body[ENTERPRISE_SCHEMA]["manager"]["value"], "m-1");
        assert_eq!(body["title"], "Engineer");
        assert_eq!(body["externalId"], "e1");
        assert_eq!(body["name"]["givenName"], "Ada");
        assert_eq!(body["emails"][0]["value"], "ada@example.com");
        let plain = create_body(&profile, "ada@example.com", "e1", &values, false).unwrap();
        assert!(plain.get(ENTERPRISE_SCHEMA).is_none(), "{plain}");
        assert_eq!(plain["schemas"].as_array().unwrap().len(), 1);
        assert!(!plain.to_string().contains("null"), "{plain}");
    }
}
