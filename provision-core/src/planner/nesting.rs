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

    /// Whether a grant in `standing` on an ancestor of `e`'s resource (same system,
    /// kind and scope) gives at least `e`'s role: a higher or equal rank for ordered
    /// roles, the same role otherwise.
    pub(crate) fn covered(
        &self,
        kind: &ResourceKindDescriptor,
        e: &Entitlement,
        standing: &BTreeSet<&Entitlement>,
    ) -> bool {
        let wanted_rank = e.role.as_deref().and_then(|r| kind.role_rank(r));
        let mut at = e.resource.as_str();
        for _ in 0..MAX_DEPTH {
            let Some(parent) = self.parent(&e.kind, at) else {
                return false;
            };
            let gives = standing.iter().any(|g| {
                g.system == e.system
                    && g.kind == e.kind
                    && g.resource == parent
                    && g.scope == e.scope
                    && match (
                        wanted_rank,
                        g.role.as_deref().and_then(|r| kind.role_rank(r)),
                    ) {
                        (Some(want), Some(have)) => have >= want,
                        _ => g.role == e.role,
                    }
            });
            if gives {
                return true;
            }
            at = parent;
        }
        false
    }
}
