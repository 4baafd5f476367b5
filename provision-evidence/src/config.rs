//! The deployment's `evidence:` section: the control mapping, staleness thresholds
//! and the deprovisioning target.
//!
//! ```yaml
//! evidence:
//!   controls:                     # evidence kind -> control ids (replaces that kind's default)
//!     okta.mfa_enrollment: [SOC2-CC6.1, SOX-ITGC-ACCESS]
//!     custom.badge_access: [SOC2-CC6.1]
//!   stale_after: 6h               # default for every system (s, m, h or d)
//!   systems:
//!     okta: {stale_after: 2h}
//!   deprovisioning_target: 15m
//! ```
//!
//! Every field is optional; without the section the defaults apply
//! ([`ControlMapping::defaults`], 6 hours, 15 minutes). A control id that is not in
//! the [catalogue](crate::controls::CATALOGUE) is an error naming the file, line and
//! field.
//!
//! The kernel does not read this section: it keeps it as an
//! [extension section](provision_core::config::ExtensionSection), and
//! [`EvidenceConfig::from_deployment`] reads it with the kernel's YAML reader, so its
//! diagnostics carry file:line:column like the core sections'.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::controls::{ControlMapping, known_ids};
use provision_core::config::ConfigError;
use provision_core::config::DeploymentConfig;
use provision_core::model::SystemName;
use provision_core::yaml::{Node, Reader};

/// The name of the section in `provision.yaml`.
pub const SECTION: &str = "evidence";

/// Evidence older than this degrades its controls' coverage, unless a system says otherwise.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(6 * 3600);
/// The time a leaver's access must be gone within, from the termination's effective time.
pub const DEFAULT_DEPROVISIONING_TARGET: Duration = Duration::from_secs(15 * 60);

/// What the evidence module is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceConfig {
    /// Evidence kind -> controls.
    pub mapping: ControlMapping,
    /// The staleness threshold of systems without their own.
    #[serde(with = "secs")]
    pub stale_after: Duration,
    /// Per-system staleness thresholds.
    #[serde(default)]
    pub system_stale_after: BTreeMap<SystemName, u64>,
    /// The leaver target.
    #[serde(with = "secs")]
    pub deprovisioning_target: Duration,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            mapping: ControlMapping::defaults(),
            stale_after: DEFAULT_STALE_AFTER,
            system_stale_after: BTreeMap::new(),
            deprovisioning_target: DEFAULT_DEPROVISIONING_TARGET,
        }
    }
}

impl EvidenceConfig {
    /// The deployment's `evidence:` section, read and checked; the defaults when the
    /// file has none. Every problem comes back at once, each with file:line:column
    /// and field (`evidence.controls.okta.mfa_enrollment[1]: unknown control id …`).
    ///
    /// ```
    /// use provision_core::config::DeploymentConfig;
    /// use provision_evidence::EvidenceConfig;
    /// let config = EvidenceConfig::from_deployment(&DeploymentConfig::default()).unwrap();
    /// assert_eq!(config, EvidenceConfig::default());
    /// ```
    pub fn from_deployment(deployment: &DeploymentConfig) -> Result<Self, ConfigError> {
        match deployment.extension(SECTION) {
            Some(section) => section.read(read_evidence_section),
            None => Ok(Self::default()),
        }
    }

    /// The staleness threshold of `system`.
    pub fn stale_after(&self, system: &SystemName) -> Duration {
        self.system_stale_after
            .get(system)
            .map_or(self.stale_after, |s| Duration::from_secs(*s))
    }
}

const FIELDS: &[&str] = &[
    "controls",
    "stale_after",
    "systems",
    "deprovisioning_target",
];

/// Reads the `evidence:` section; every problem is recorded in `r` with its place
/// (what [`EvidenceConfig::from_deployment`] runs on the section).
pub fn read_evidence_section(r: &mut Reader, node: &Node) -> Option<EvidenceConfig> {
    let mut f = r.fields(node, "evidence")?;
    let mut config = EvidenceConfig::default();
    if let Some(controls) = f.get("controls")
        && let Some(mut kinds) = r.fields(controls, "evidence.controls")
    {
        for (kind, _, value) in kinds.all() {
            let field = format!("evidence.controls.{kind}");
            let Some(items) = r.items(value, &field) else {
                continue;
            };
            let mut ids = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_field = format!("{field}[{i}]");
                if let Some(id) = r.nonempty_text(item, &item_field) {
                    if crate::controls::control(&id).is_none() {
                        r.error(
                            item,
                            &item_field,
                            format!("unknown control id `{id}`; known: {}", known_ids()),
                        );
                    } else {
                        ids.push(id);
                    }
                }
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            // Every id was checked above.
            let _ = config.mapping.set_checked(kind, &refs);
        }
    }
    if let Some(n) = f.get("stale_after")
        && let Some(d) = duration(r, n, "evidence.stale_after")
    {
        config.stale_after = d;
    }
    if let Some(n) = f.get("deprovisioning_target")
        && let Some(d) = duration(r, n, "evidence.deprovisioning_target")
    {
        config.deprovisioning_target = d;
    }
    if let Some(systems) = f.get("systems")
        && let Some(mut sf) = r.fields(systems, "evidence.systems")
    {
        for (name, _, value) in sf.all() {
            let path = format!("evidence.systems.{name}");
            let Some(mut fields) = r.fields(value, &path) else {
                continue;
            };
            if let Some(n) = fields.get("stale_after")
                && let Some(d) = duration(r, n, &format!("{path}.stale_after"))
            {
                config
                    .system_stale_after
                    .insert(SystemName::new(name.clone()), d.as_secs());
            }
            fields.finish(r, &["stale_after"]);
        }
    }
    f.finish(r, FIELDS);
    Some(config)
}

/// `90s`, `15m`, `6h`, `1d`; a positive whole number with one unit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    (n > 0).then(|| Duration::from_secs(n.saturating_mul(seconds)))
}

fn duration(r: &mut Reader, node: &Node, field: &str) -> Option<Duration> {
    let text = r.nonempty_text(node, field)?;
    let parsed = parse_duration(&text);
    if parsed.is_none() {
        r.error(
            node,
            field,
            format!(
                "`{text}` is not a duration; expected a positive number with s, m, h or d (`6h`)"
            ),
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("6"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
