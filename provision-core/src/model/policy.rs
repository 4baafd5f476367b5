//! Policies: who should have what, chosen by identity attributes.
//!
//! This module holds the resolved, validated form the planner works on.
//! Loading from YAML (with file/line errors) lives in `crate::policy`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entitlement::{Entitlement, Validity};
use super::identity::Identity;

/// Where something was written: for errors and for provenance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceLocation {
    /// The file, as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A test over identity attributes.
///
/// Matching is exact and case-sensitive unless `case_insensitive` is set on the
/// leaf. A missing attribute never equals anything (so `Not(Equals)` matches it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// Every identity.
    Everyone,
    /// All of these hold (an empty list holds).
    All(Vec<Selector>),
    /// At least one of these holds (an empty list does not).
    Any(Vec<Selector>),
    /// This does not hold.
    Not(Box<Selector>),
    /// The attribute equals one of `values` (one value: plain equality).
    OneOf {
        /// Attribute name.
        attribute: String,
        /// Accepted values.
        values: Vec<String>,
        /// Compare ignoring ASCII/Unicode case.
        #[serde(default)]
        case_insensitive: bool,
    },
    /// The attribute is present (non-empty) when `present` is true, absent or empty otherwise.
    Present {
        /// Attribute name.
        attribute: String,
        /// Whether presence or absence is required.
        present: bool,
    },
}

impl Selector {
    /// Plain case-sensitive equality.
    pub fn equals(attribute: impl Into<String>, value: impl Into<String>) -> Self {
        Selector::OneOf {
            attribute: attribute.into(),
            values: vec![value.into()],
            case_insensitive: false,
        }
    }

    /// Tests an identity. On a match returns the attribute values that made it
    /// match (for provenance); `None` when it does not match.
    pub fn matches(&self, identity: &Identity) -> Option<BTreeMap<String, String>> {
        let mut evidence = BTreeMap::new();
        if self.collect(identity, &mut evidence) {
            Some(evidence)
        } else {
            None
        }
    }

    fn collect(&self, identity: &Identity, evidence: &mut BTreeMap<String, String>) -> bool {
        match self {
            Selector::Everyone => true,
            Selector::All(items) => items.iter().all(|s| s.collect(identity, evidence)),
            Selector::Any(items) => {
                // The first matching branch supplies the evidence; a branch that
                // matched only in part leaves nothing behind.
                for item in items {
                    let mut branch = BTreeMap::new();
                    if item.collect(identity, &mut branch) {
                        evidence.extend(branch);
                        return true;
                    }
                }
                false
            }
            Selector::Not(inner) => {
                let mut scratch = BTreeMap::new();
                !inner.collect(identity, &mut scratch)
            }
            Selector::OneOf {
                attribute,
                values,
                case_insensitive,
            } => {
                let Some(actual) = identity.attribute(attribute) else {
                    return false;
                };
                let hit = if *case_insensitive {
                    let a = actual.to_lowercase();
                    values.iter().any(|v| v.to_lowercase() == a)
                } else {
                    values.iter().any(|v| v == actual)
                };
                if hit {
                    evidence.insert(attribute.clone(), actual.to_owned());
                }
                hit
            }
            Selector::Present { attribute, present } => {
                let value = identity.attribute(attribute).filter(|v| !v.is_empty());
                if let (Some(v), true) = (value, *present) {
                    evidence.insert(attribute.clone(), v.to_owned());
                }
                value.is_some() == *present
            }
        }
    }
}

/// One entitlement a policy grants, with its validity window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyGrant {
    /// What is granted (system already resolved from aliases).
    pub entitlement: Entitlement,
    /// When it applies.
    #[serde(default)]
    pub validity: Validity,
    /// Where the provision was written, when loaded from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLocation>,
}

/// A named rule: identities the selector matches get the grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Unique name, used in provenance and audit ("why does Sarah have this?").
    pub name: String,
    /// Which identities it applies to.
    pub selector: Selector,
    /// What it grants.
    pub grants: Vec<PolicyGrant>,
    /// Where the policy was written, when loaded from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLocation>,
}

/// A validated set of policies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicySet {
    /// The policies, in load order.
    pub policies: Vec<Policy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_names_only_the_branch_that_matched() {
        let sarah = Identity::new("e1", "sarah@example.com", "Sarah")
            .with_attribute("department", "Sales")
            .with_attribute("title", "Sales Engineer");
        let selector = Selector::Any(vec![
            Selector::All(vec![
                Selector::equals("department", "Sales"),
                Selector::equals("title", "Account Executive"),
            ]),
            Selector::equals("title", "Sales Engineer"),
        ]);
        let evidence = selector.matches(&sarah).expect("second branch matches");
        assert_eq!(evidence.len(), 1);
        assert_eq!(
            evidence.get("title").map(String::as_str),
            Some("Sales Engineer")
        );
    }

    #[test]
    fn missing_attribute_never_equals_and_not_matches_it() {
        let bob = Identity::new("e2", "bob@example.com", "Bob");
        assert!(
            Selector::equals("department", "Sales")
                .matches(&bob)
                .is_none()
        );
        assert!(
            Selector::Not(Box::new(Selector::equals("department", "Sales")))
                .matches(&bob)
                .is_some()
        );
        let present = Selector::Present {
            attribute: "manager".into(),
            present: false,
        };
        assert!(present.matches(&bob).is_some());
    }
}
