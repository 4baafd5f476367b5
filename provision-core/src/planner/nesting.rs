//! Nested resources (GitLab groups and subgroups): a grant on an ancestor covers
//! its descendants at the same or a lower role.

use std::collections::{BTreeSet, HashMap};

use crate::adapter::ResourceKindDescriptor;
use crate::model::{Entitlement, ResourceRecord};

/// How deep the planner follows parents (a guard against a parent loop in what a
/// system returned).
const MAX_DEPTH: usize = 64;

/// The parents of one system's resources, by kind and name, as listed.
#[derive(Debug, Default)]
pub(crate) struct Parents<'a> {
    by_resource: HashMap<(&'a str, &'a str), &'a str>,
}

impl<'a> Parents<'a> {
    pub(crate) fn new(records: &'a [ResourceRecord]) -> Self {
        Self {
            by_resource: records
                .iter()
                .filter_map(|r| {
                    Some(((r.kind.as_str(), r.resource.as_str()), r.parent.as_deref()?))
                })
                .collect(),
        }
    }

    /// The parent of `resource`: the listed one, else the path's parent
    /// (`a/b` for `a/b/c`).
    fn parent<'r>(&self, kind: &str, resource: &'r str) -> Option<&'r str>
    where
        'a: 'r,
    {
        if let Some(parent) = self.by_resource.get(&(kind, resource)) {
            return Some(parent);
        }
        resource
            .rsplit_once('/')
            .map(|(parent, _)| parent)
            .filter(|p| !p.is_empty())
    }

    /// Whether a grant in `standing` on an ancestor of `e`'s resource (same system and
    /// scope) gives at least `e`'s role: a higher or equal rank for ordered roles, the
    /// same role otherwise. The ancestors are of `e`'s kind for a
    /// [nested](ResourceKindDescriptor::nested) kind, and of the kind it is
    /// [nested in](ResourceKindDescriptor::nested_in) otherwise (a GitLab project's
    /// group, then that group's parents). `kind_of` gives the system's kinds.
    pub(crate) fn covered<'k>(
        &self,
        kind_of: impl Fn(&str) -> Option<&'k ResourceKindDescriptor>,
        e: &Entitlement,
        standing: &BTreeSet<&Entitlement>,
    ) -> bool {
        let Some(own) = kind_of(&e.kind) else {
            return false;
        };
        let wanted_rank = e.role.as_deref().and_then(|r| own.role_rank(r));
        let mut kind = own;
        let mut at = e.resource.as_str();
        for _ in 0..MAX_DEPTH {
            // Where the parent is: another kind's resource, or one of the same kind.
            let parent_kind = match (&kind.nested_in, kind.nested) {
                (Some(outer), _) => match kind_of(outer) {
                    Some(k) => k,
                    None => return false,
                },
                (None, true) => kind,
                (None, false) => return false,
            };
            let Some(parent) = self.parent(&kind.kind, at) else {
                return false;
            };
            let gives = standing.iter().any(|g| {
                g.system == e.system
                    && g.kind == parent_kind.kind
                    && g.resource == parent
                    && g.scope == e.scope
                    && match (
                        wanted_rank,
                        g.role.as_deref().and_then(|r| parent_kind.role_rank(r)),
                    ) {
                        (Some(want), Some(have)) => have >= want,
                        _ => g.role == e.role,
                    }
            });
            if gives {
                return true;
            }
            kind = parent_kind;
            at = parent;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::RoleModel;

    fn kinds() -> Vec<ResourceKindDescriptor> {
        let roles = ["guest", "developer", "maintainer"];
        vec![
            ResourceKindDescriptor::new("group", &["add_to_group"])
                .with_roles(&roles, None)
                .with_role_model(RoleModel::Ordered)
                .nested(),
            ResourceKindDescriptor::new("project", &["add_to_project"])
                .with_roles(&roles, None)
                .with_role_model(RoleModel::Ordered)
                .nested_in("group"),
        ]
    }

    #[test]
    fn a_group_ancestor_covers_a_project_at_the_same_or_a_lower_role() {
        let kinds = kinds();
        let kind_of = |k: &str| kinds.iter().find(|d| d.kind == k);
        let records = [ResourceRecord::new("project", "acme/eng/api").with_parent("acme/eng")];
        let parents = Parents::new(&records);
        let top = Entitlement::new("gitlab", "group", "acme").with_role("maintainer");
        let standing: BTreeSet<&Entitlement> = [&top].into_iter().collect();
        let project =
            |role: &str| Entitlement::new("gitlab", "project", "acme/eng/api").with_role(role);
        // Two levels up, across kinds: the project's group, then its parent.
        assert!(parents.covered(kind_of, &project("developer"), &standing));
        assert!(parents.covered(kind_of, &project("maintainer"), &standing));
        let low = Entitlement::new("gitlab", "group", "acme").with_role("guest");
        let standing: BTreeSet<&Entitlement> = [&low].into_iter().collect();
        assert!(!parents.covered(kind_of, &project("developer"), &standing));
        // A project of the same name is no parent of a project.
        let sibling = Entitlement::new("gitlab", "project", "acme/eng").with_role("maintainer");
        let standing: BTreeSet<&Entitlement> = [&sibling].into_iter().collect();
        assert!(!parents.covered(kind_of, &project("guest"), &standing));
    }
}
