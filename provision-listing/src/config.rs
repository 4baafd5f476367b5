//! What a `listing` system says in `provision.yaml`: the export file, its format,
//! which columns hold the login, the roles, the status and the last sign-in (named
//! by header or key, as the roster's mapping names them), and how often the export
//! is refreshed.

use std::path::PathBuf;

use chrono::Duration;
use provision_core::adapter::{ConfigError, SystemSpec};
use provision_core::config::Enforcement;

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    /// A header row, then one row per user.
    Csv,
    /// An array of objects, one per user.
    Json,
}

/// Which columns hold what. Names are CSV headers or JSON keys, never positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingColumns {
    /// The user's login (matched to an identity's login). Default `email`.
    pub login: String,
    /// The user's roles or groups: a list in JSON, or one cell split on
    /// [`ListingColumns::separator`]. Default `roles`.
    pub grants: String,
    /// What separates roles in one cell. Default `;`.
    pub separator: char,
    /// The account's status, when the export has one; absent: every user is active.
    pub status: Option<String>,
    /// Status values (compared without case) that mean the account cannot sign in.
    pub disabled_values: Vec<String>,
    /// The last sign-in (RFC 3339 or `YYYY-MM-DD`), when the export has one.
    pub last_login: Option<String>,
}

impl Default for ListingColumns {
    fn default() -> Self {
        Self {
            login: "email".into(),
            grants: "roles".into(),
            separator: ';',
            status: None,
            disabled_values: ["disabled", "inactive", "suspended", "locked", "deactivated"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            last_login: None,
        }
    }
}

/// The listing adapter's configuration.
#[derive(Debug, Clone)]
pub struct ListingConfig {
    /// The system's name in the deployment (errors and evidence name it).
    pub system: String,
    /// The export file.
    pub path: PathBuf,
    /// Its format.
    pub format: ListingFormat,
    /// The column mapping.
    pub columns: ListingColumns,
    /// The resource kind the roles are (`role`, `group`).
    pub kind: String,
    /// How often the export is refreshed: an export older than this is stale.
    pub cadence: Duration,
}

impl ListingConfig {
    /// A listing of `path` (format from its extension: `.json` or CSV), with the
    /// default columns, kind `role` and a 7-day cadence.
    pub fn new(system: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let format = format_of(&path);
        Self {
            system: system.into(),
            path,
            format,
            columns: ListingColumns::default(),
            kind: "role".into(),
            cadence: Duration::days(7),
        }
    }

    /// From a deployment's system entry.
    ///
    /// Settings: `path` (required), `format` (`csv`/`json`, from the extension),
    /// `login_column` (`email`), `grants_column` (`roles`), `separator` (`;`),
    /// `status_column`, `disabled_values` (comma separated), `last_login_column`,
    /// `kind` (`role`), `cadence_days` (7). The system's `enforcement` must be
    /// `report`: a listing cannot change anything.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        if spec.config.enforcement != Enforcement::Report {
            return Err(ConfigError::invalid_setting(
                system,
                "enforcement",
                "`report`: a listing is read-only (give the writes to a `jira-tickets` system)",
            ));
        }
        let path = spec.required_setting("path", "the export file (CSV or JSON)")?;
        let mut config = Self::new(system, path);
        if let Some(f) = spec.setting("format") {
            config.format = match f.trim().to_ascii_lowercase().as_str() {
                "csv" => ListingFormat::Csv,
                "json" => ListingFormat::Json,
                other => {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "format",
                        format!("`csv` or `json`, not `{other}`"),
                    ));
                }
            };
        }
        let named = |key: &str| spec.setting(key).map(str::trim).filter(|v| !v.is_empty());
        if let Some(v) = named("login_column") {
            config.columns.login = v.to_owned();
        }
        if let Some(v) = named("grants_column") {
            config.columns.grants = v.to_owned();
        }
        if let Some(v) = spec.setting("separator") {
            let mut chars = v.chars();
            config.columns.separator = match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "separator",
                        format!("one character, not `{v}`"),
                    ));
                }
            };
        }
        config.columns.status = named("status_column").map(str::to_owned);
        if let Some(v) = named("disabled_values") {
            config.columns.disabled_values = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        config.columns.last_login = named("last_login_column").map(str::to_owned);
        if let Some(v) = named("kind") {
            config.kind = v.to_owned();
        }
        if let Some(v) = spec.setting("cadence_days") {
            let days: i64 = v.trim().parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                ConfigError::invalid_setting(
                    system,
                    "cadence_days",
                    format!("a whole number of days above 0, not `{v}`"),
                )
            })?;
            config.cadence = Duration::days(days);
        }
        Ok(config)
    }
}

/// `.json` is JSON; anything else CSV.
pub fn format_of(path: &std::path::Path) -> ListingFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => ListingFormat::Json,
        _ => ListingFormat::Csv,
    }
}
