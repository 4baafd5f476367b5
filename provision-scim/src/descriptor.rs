//! What a SCIM system declares, from its capabilities (discovered, or from the
//! settings alone when the factory is asked without credentials).

use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};

use crate::config::{GroupWrites, ScimConfig};
use crate::discovery::Capabilities;
use crate::model::ProfileAttribute;

/// The group kind, as entitlements name it.
pub const KIND_GROUP: &str = "group";
/// The policy action granting a group.
pub const ADD_TO_GROUP: &str = "add_to_group";
/// The adapter type (`adapter: scim`).
pub const ADAPTER_TYPE: &str = "scim";

/// How this configuration writes groups, given what the application can do.
pub fn group_writes(config: &ScimConfig, caps: &Capabilities) -> GroupWrites {
    match config.group_writes {
        GroupWrites::Auto if caps.patch => GroupWrites::Patch,
        GroupWrites::Auto => GroupWrites::Put,
        fixed => fixed,
    }
}

/// The profile mapping the application accepts: HR attribute → SCIM attribute,
/// without the attributes discovery says it does not have.
pub fn accepted_profile(
    config: &ScimConfig,
    caps: &Capabilities,
) -> Vec<(String, ProfileAttribute)> {
    config
        .profile
        .iter()
        .filter_map(|(hr, scim)| {
            let attr = ProfileAttribute::parse(scim)?;
            caps.accepts(attr.name(), attr.is_enterprise())
                .then(|| (hr.clone(), attr))
        })
        .collect()
}

/// The descriptor:
///
/// * accounts that can be suspended (`active: false`; group memberships are kept) and,
///   with `delete_leavers`, deleted; no sessions (SCIM has none);
/// * `group` (`add_to_group`), enumerable, when the application has groups;
///   [whole-list](ResourceKindDescriptor::whole_list_membership) when groups are
///   written by PUT, so the executor never runs two writes to one group at once and
///   batches a group's changes into one read and one write;
/// * as profile fields, the HR attributes mapped onto SCIM attributes the application
///   accepts;
/// * correlation keys `email`, `username`, `user_id`, `employee_id`.
pub fn scim_descriptor(config: &ScimConfig, caps: &Capabilities) -> SystemDescriptor {
    let mut d = SystemDescriptor::new(ADAPTER_TYPE)
        .with_accounts()
        .can_suspend(true)
        .with_correlation_keys(&["email", "username", "user_id", "employee_id"]);
    if config.delete_leavers {
        d = d.can_delete();
    }
    if caps.groups {
        let mut kind = ResourceKindDescriptor::new(KIND_GROUP, &[ADD_TO_GROUP]).enumerable();
        if group_writes(config, caps) == GroupWrites::Put {
            kind = kind.whole_list_membership();
        }
        d = d.with_kind(kind);
    }
    let fields: Vec<String> = accepted_profile(config, caps)
        .into_iter()
        .map(|(hr, _)| hr)
        .collect();
    if !fields.is_empty() {
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        d = d.with_profile_fields(&refs);
    }
    d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Fallback;

    fn config() -> ScimConfig {
        ScimConfig::builder()
            .base_url("https://app.example.com/scim/v2")
            .bearer("t")
            .build()
            .unwrap()
    }

    #[test]
    fn put_only_groups_are_whole_list() {
        let no_patch = Capabilities::from_settings(
            &Fallback {
                patch: false,
                ..Fallback::default()
            },
            "test",
        );
        let d = scim_descriptor(&config(), &no_patch);
        assert!(d.kind(KIND_GROUP).unwrap().whole_list_membership);
        let patch = Capabilities::from_settings(&Fallback::default(), "test");
        let d = scim_descriptor(&config(), &patch);
        assert!(!d.kind(KIND_GROUP).unwrap().whole_list_membership);
        assert!(d.can_suspend && !d.can_revoke_sessions && !d.can_delete);
    }

    #[test]
    fn profile_fields_are_what_the_application_accepts() {
        let mut caps = Capabilities::from_settings(&Fallback::default(), "test");
        let d = scim_descriptor(&config(), &caps);
        assert_eq!(
            d.profile_fields,
            [
                "department",
                "display_name",
                "employee_id",
                "manager",
                "title"
            ]
        );
        caps.enterprise = false;
        caps.user_attributes = Some(["username".to_owned(), "title".to_owned()].into());
        let d = scim_descriptor(&config(), &caps);
        assert_eq!(d.profile_fields, ["title"]);
    }
}
