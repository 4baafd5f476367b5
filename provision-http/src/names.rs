//! Names: a name → id cache with a TTL (group, channel, project names resolved once
//! per run rather than once per grant), and given/family names for a new account.
//!
//! # The one rule for given and family names
//!
//! 1. The HR record's own fields win: `given_name` (or `first_name`, `givenName`) and
//!    `family_name` (or `last_name`, `familyName`, `surname`). Only HR knows that
//!    "Mary Ann" is one given name or that "García Márquez" is one family name.
//! 2. Otherwise the display name is split at its **first** space: the first word is
//!    the given name, the rest the family name ("Ada King Lovelace" → "Ada",
//!    "King Lovelace"; "Ludwig van Beethoven" → "Ludwig", "van Beethoven"). Family
//!    names of several words (particles, double surnames) are more common than given
//!    names of several words that HR did not send as a field.
//! 3. A one-word display name is both names ("Cher" → "Cher", "Cher"): every system
//!    here requires both to be non-empty, and a placeholder such as `-` would show in
//!    directories and email headers as if it were a name.
//! 4. No display name at all: the login's local part for both.
//!
//! The three adapters had three rules (Okta: 2 and 3 without 1; Google: 1, then the
//! *last* word as the family name and `-` for one word; AWS: 1 to 4). This is AWS's,
//! which is also what Okta's tests expect ("Grace Brewster Hopper" → "Grace",
//! "Brewster Hopper").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use provision_core::model::AccountProfile;

/// HR attributes that hold the given name, in order of preference.
pub const GIVEN_NAME_ATTRIBUTES: [&str; 3] = ["given_name", "first_name", "givenName"];
/// HR attributes that hold the family name, in order of preference.
pub const FAMILY_NAME_ATTRIBUTES: [&str; 4] = ["family_name", "last_name", "familyName", "surname"];

/// A person's given and family name, both non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    /// Given (first) name.
    pub given: String,
    /// Family (last) name.
    pub family: String,
}

impl PersonName {
    /// The names for an account, by the rule in the module docs.
    pub fn from_profile(profile: &AccountProfile) -> Self {
        let attr = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| profile.attributes.get(*k))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let split = Self::split_display_name(&profile.display_name).unwrap_or_else(|| {
            let local = profile
                .login
                .split('@')
                .next()
                .unwrap_or(profile.login.as_str())
                .to_owned();
            Self {
                given: local.clone(),
                family: local,
            }
        });
        Self {
            given: attr(&GIVEN_NAME_ATTRIBUTES).unwrap_or(split.given),
            family: attr(&FAMILY_NAME_ATTRIBUTES).unwrap_or(split.family),
        }
    }

    /// A display name split at its first space (rules 2 and 3); `None` when it is
    /// blank. Runs of spaces count as one.
    pub fn split_display_name(display: &str) -> Option<Self> {
        let mut words = display.split_whitespace();
        let first = words.next()?.to_owned();
        let rest: Vec<&str> = words.collect();
        let family = if rest.is_empty() {
            first.clone()
        } else {
            rest.join(" ")
        };
        Some(Self {
            given: first,
            family,
        })
    }

    /// Both names cut to at most `max_chars` characters (Google allows 60).
    pub fn truncated(self, max_chars: usize) -> Self {
        let cut = |s: String| s.chars().take(max_chars).collect();
        Self {
            given: cut(self.given),
            family: cut(self.family),
        }
    }
}

/// A name → id cache whose entries expire after a TTL, so a group deleted and
/// created again under the same name is found again within the TTL rather than never.
#[derive(Debug)]
pub struct NameCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl NameCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        // A panic while holding the lock cannot leave a half-written entry: recover.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The id of `name`, when cached and not expired.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_at(name, Instant::now())
    }

    /// [`NameCache::get`] as seen at `now`.
    pub fn get_at(&self, name: &str, now: Instant) -> Option<String> {
        let mut entries = self.entries();
        match entries.get(name) {
            Some((id, stored)) if now.saturating_duration_since(*stored) < self.ttl => {
                Some(id.clone())
            }
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    /// Remembers `name` → `id`.
    pub fn insert(&self, name: impl Into<String>, id: impl Into<String>) {
        self.insert_at(name, id, Instant::now());
    }

    /// [`NameCache::insert`] as of `now`.
    pub fn insert_at(&self, name: impl Into<String>, id: impl Into<String>, now: Instant) {
        self.entries().insert(name.into(), (id.into(), now));
    }

    /// Forgets `name` (the system said its id no longer exists).
    pub fn remove(&self, name: &str) {
        self.entries().remove(name);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// (display name, HR attributes, expected given, expected family, why)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
        &'static str,
    );

    const CASES: &[Case] = &[
        (
            "Sarah Connor",
            &[("given_name", "Sara"), ("last_name", "C")],
            "Sara",
            "C",
            "HR fields win",
        ),
        (
            "Mary Ann Smith",
            &[("first_name", "Mary Ann")],
            "Mary Ann",
            "Ann Smith",
            "one field replaces only its half",
        ),
        (
            "Mary Ann Smith",
            &[("givenName", "Mary Ann"), ("surname", "Smith")],
            "Mary Ann",
            "Smith",
            "other field names",
        ),
        (
            "Grace Brewster Hopper",
            &[],
            "Grace",
            "Brewster Hopper",
            "first space",
        ),
        (
            "  Ludwig   van  Beethoven ",
            &[],
            "Ludwig",
            "van Beethoven",
            "runs of spaces",
        ),
        ("Cher", &[], "Cher", "Cher", "one word is both"),
        (
            " ",
            &[],
            "sarah",
            "sarah",
            "no display name: the login's local part",
        ),
        (
            "",
            &[("given_name", " ")],
            "sarah",
            "sarah",
            "a blank HR field is no field",
        ),
    ];

    #[test]
    fn the_one_rule() {
        for (display, attrs, given, family, why) in CASES {
            let profile = AccountProfile {
                login: "sarah@example.com".into(),
                email: "sarah@example.com".into(),
                display_name: (*display).into(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                ..Default::default()
            };
            let name = PersonName::from_profile(&profile);
            assert_eq!(
                (name.given.as_str(), name.family.as_str()),
                (*given, *family),
                "{why}: {display:?} {attrs:?}"
            );
        }
    }

    #[test]
    fn truncation_counts_characters() {
        let n = PersonName::split_display_name("Zoë Ångström")
            .unwrap()
            .truncated(2);
        assert_eq!((n.given.as_str(), n.family.as_str()), ("Zo", "Ån"));
    }

    #[test]
    fn cached_ids_expire_after_the_ttl() {
        let cache = NameCache::new(Duration::from_secs(600));
        let t0 = Instant::now();
        cache.insert_at("engineering", "00g1", t0);
        assert_eq!(
            cache
                .get_at("engineering", t0 + Duration::from_secs(599))
                .as_deref(),
            Some("00g1")
        );
        assert_eq!(
            cache.get_at("engineering", t0 + Duration::from_secs(600)),
            None
        );
        assert_eq!(
            cache.get_at("engineering", t0),
            None,
            "an expired entry is gone"
        );
        cache.insert("sales", "00g2");
        assert_eq!(cache.get("sales").as_deref(), Some("00g2"));
        cache.remove("sales");
        assert_eq!(cache.get("sales"), None);
    }
}
