//! What the manual system holds, as its finished tickets tell it: every done (not
//! rejected) ticket's operations applied in the order the tickets were resolved.
//! A system without an API has no other record of its state (a `listing` export, when
//! there is one, is the better read).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use provision_core::model::{AccountState, Entitlement};

use super::config::TicketConfig;
use super::issue::Issue;

/// Where a ticket stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not finished.
    Open,
    /// Finished: the work was done.
    Done,
    /// Finished with a resolution that refuses the work (the resolution's name).
    Rejected(String),
}

/// Where `issue` stands under `config`'s done statuses and rejected resolutions.
pub fn verdict(config: &TicketConfig, issue: &Issue) -> Verdict {
    let status = issue.fields.status.clone().unwrap_or_default();
    let finished = if config.done_statuses.is_empty() {
        status
            .status_category
            .as_ref()
            .is_some_and(|c| c.key.eq_ignore_ascii_case("done"))
    } else {
        config
            .done_statuses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&status.name))
    };
    if !finished {
        return Verdict::Open;
    }
    match &issue.fields.resolution {
        Some(r)
            if config
                .rejected_resolutions
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&r.name)) =>
        {
            Verdict::Rejected(r.name.clone())
        }
        _ => Verdict::Done,
    }
}

/// One person's account in the manual system, as tickets made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccount {
    /// The person's identity id.
    pub identity: String,
    /// Its state.
    pub state: AccountState,
    /// What it holds.
    pub grants: BTreeSet<Entitlement>,
}

/// The manual system's state: accounts by login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Accounts by login.
    pub accounts: BTreeMap<String, LedgerAccount>,
}

impl Ledger {
    /// Folds the done tickets among `issues` in the order they were resolved.
    pub fn fold(config: &TicketConfig, issues: &[Issue]) -> Self {
        let mut done: Vec<&Issue> = issues
            .iter()
            .filter(|i| verdict(config, i) == Verdict::Done)
            .collect();
        done.sort_by_key(|i| (i.resolved(), i.created()));
        let mut ledger = Ledger::default();
        for issue in done {
            let Some(record) = issue.record() else {
                tracing::warn!(issue = %issue.key, "a provision ticket without its record; ignored");
                continue;
            };
            for op in &record.operations {
                ledger.apply(
                    &record.identity,
                    &record.login,
                    &op.verb,
                    op.entitlement.as_ref(),
                );
            }
        }
        ledger
    }

    fn apply(
        &mut self,
        identity: &str,
        login: &str,
        verb: &str,
        entitlement: Option<&Entitlement>,
    ) {
        fn entry<'a>(ledger: &'a mut Ledger, identity: &str, login: &str) -> &'a mut LedgerAccount {
            ledger
                .accounts
                .entry(login.to_owned())
                .or_insert_with(|| LedgerAccount {
                    identity: identity.to_owned(),
                    state: AccountState::Active,
                    grants: BTreeSet::new(),
                })
        }
        match (verb, entitlement) {
            ("create_account" | "reactivate_account", _) => {
                entry(self, identity, login).state = AccountState::Active
            }
            ("suspend_account", _) => entry(self, identity, login).state = AccountState::Suspended,
            ("delete_account", _) => {
                self.accounts.remove(login);
            }
            ("grant", Some(e)) => {
                entry(self, identity, login).grants.insert(held(e));
            }
            ("revoke", Some(e)) => {
                if let Some(a) = self.accounts.get_mut(login) {
                    a.grants.remove(&held(e));
                }
            }
            _ => {}
        }
    }

    /// Whether `login` holds `entitlement`.
    pub fn holds(&self, login: &str, entitlement: &Entitlement) -> bool {
        self.accounts
            .get(login)
            .is_some_and(|a| a.grants.contains(&held(entitlement)))
    }
}

/// An entitlement as the ledger keys it (without the system's name, which a
/// deployment may change).
pub fn held(e: &Entitlement) -> Entitlement {
    let mut e = e.clone();
    e.system = provision_core::model::SystemName::new("");
    e
}

/// Whether a ticket opened at `created` is past `business_days` working days (Monday
/// to Friday) at `now`.
pub fn overdue(created: DateTime<Utc>, now: DateTime<Utc>, business_days: u32) -> bool {
    if business_days == 0 {
        return false;
    }
    let mut due = created;
    let mut left = business_days;
    while left > 0 {
        due += Duration::days(1);
        if !matches!(due.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    now > due
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn two_business_days_skip_the_weekend() {
        // Thursday 10:00 → due Monday 10:00.
        let thu = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let sat = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
        let mon_early = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let mon_late = Utc.with_ymd_and_hms(2026, 12, 7, 11, 0, 0).unwrap();
        assert!(!overdue(thu, sat, 2));
        assert!(!overdue(thu, mon_early, 2));
        assert!(overdue(thu, mon_late, 2));
        assert!(!overdue(thu, mon_late, 0), "0 is no deadline");
    }
}
