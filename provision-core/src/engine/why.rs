//! "Why does Sarah have this?": the policies that give a person an entitlement, where
//! each is written, and the attribute values that made it match.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{PolicySet, Provenance, SourceLocation};

/// One reason a person holds an entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Because {
    /// The policy that gives it.
    pub policy: String,
    /// Where the policy is written (`examples/policies/sales.yaml:3`), when it was
    /// loaded from a file.
    pub source: Option<SourceLocation>,
    /// The person's attribute values that made the policy match.
    pub matched: BTreeMap<String, String>,
}

impl Because {
    pub(crate) fn from_provenance(provenance: &Provenance, policies: &PolicySet) -> Self {
        let name = provenance.name();
        let source = policies
            .policies
            .iter()
            .find(|p| Some(p.name.as_str()) == provenance.policy_name())
            .and_then(|p| p.source.clone());
        Self {
            policy: name.into_owned(),
            source,
            matched: provenance.matched().clone(),
        }
    }
}

impl fmt::Display for Because {
    /// `policy "Sales Access" (policies/sales.yaml:3): department = Sales`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy \"{}\"", self.policy)?;
        if let Some(source) = &self.source {
            write!(f, " ({}:{})", source.file, source.line)?;
        }
        let matched: Vec<String> = self
            .matched
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        if !matched.is_empty() {
            write!(f, ": {}", matched.join(", "))?;
        }
        Ok(())
    }
}
