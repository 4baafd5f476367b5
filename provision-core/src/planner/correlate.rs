//! Correlation: what the systems returned, attached to the identities it belongs to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::{CorrelationRule, DeploymentConfig};
use crate::model::{
    AccountRecord, ActualAccount, ActualIdentity, ActualState, Ambiguity, Identity, IdentityId,
    SystemName, SystemSnapshot,
};

/// Builds the actual state from one snapshot per system and the HR identities,
/// matching accounts by login (then email) only; see [`correlate_with`].
pub fn correlate(
    identities: &[Identity],
    snapshots: &BTreeMap<SystemName, SystemSnapshot>,
) -> ActualState {
    correlate_with(identities, snapshots, &DeploymentConfig::default())
}

/// Builds the actual state from one snapshot per system and the HR identities.
///
/// * An account belongs to the identity found by the system's
///   [`SystemConfig::correlation`](crate::config::SystemConfig::correlation) rules,
///   tried in order: a rule matches when the account carries the rule's key
///   ([`AccountRecord::correlation`], or its login for key `login`) and an
///   identity's attribute (`email` and `login` name the identity's own fields)
///   has the same value, compared case-insensitively. The first rule whose key the
///   account carries and some identity matches decides. Failing every rule, the
///   identity whose login, or else whose email, equals the account's login
///   (`Sarah@Company.com` is `sarah@company.com`).
/// * Never a guess: when the deciding rule matches several identities, or one
///   identity gets several accounts of one system, none of those accounts is
///   attached to anyone. They stay in [`ActualState::unmatched_accounts`], the
///   case is recorded in [`ActualState::ambiguous`] (and logged as a warning), and
///   each identity involved is marked [`ActualIdentity::ambiguous`] in that system,
///   where the planner then changes nothing for it.
/// * A grant belongs to the identity that owns the account with the grant's
///   `account_external_id` in the same system; failing that (for systems whose
///   members are addressed by email), to the identity whose login or email equals
///   the grant's `login` or its account id, unless that id is an account of the
///   snapshot that belongs to nobody (an orphan's or an ambiguous account's grant).
/// * Accounts that match no identity are kept in
///   [`ActualState::unmatched_accounts`] (orphans, for drift and access reviews).
///   Grants that match no identity are dropped.
///
/// Every identity given gets an entry, even with nothing in any system.
pub fn correlate_with(
    identities: &[Identity],
    snapshots: &BTreeMap<SystemName, SystemSnapshot>,
    config: &DeploymentConfig,
) -> ActualState {
    let logins = LoginIndex::new(identities);
    let mut state = ActualState {
        identities: identities
            .iter()
            .map(|i| (i.id.clone(), ActualIdentity::default()))
            .collect(),
        ..ActualState::default()
    };
    for (system, snapshot) in snapshots {
        let rules: &[CorrelationRule] = config
            .systems
            .get(system)
            .map_or(&[], |s| s.correlation.as_slice());
        let by_rule: Vec<(&CorrelationRule, ValueIndex<'_>)> = rules
            .iter()
            .map(|rule| (rule, ValueIndex::new(identities, &rule.attribute)))
            .collect();
        correlate_system(system, snapshot, &by_rule, &logins, &mut state);
    }
    state
}

/// What one account matched.
enum Match<'a> {
    One(&'a IdentityId),
    Several(Vec<&'a IdentityId>, String),
    None,
}

fn match_account<'a>(
    record: &AccountRecord,
    rules: &[(&CorrelationRule, ValueIndex<'a>)],
    logins: &LoginIndex<'a>,
) -> Match<'a> {
    for (rule, index) in rules {
        let value = if rule.key == "login" {
            Some(record.login.as_str())
        } else {
            record.correlation.get(&rule.key).map(String::as_str)
        };
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        match index.find(value) {
            [] => continue,
            [one] => return Match::One(one),
            several => {
                return Match::Several(
                    several.to_vec(),
                    format!(
                        "{} {value:?} equals the attribute {} of {} identities",
                        rule.key,
                        rule.attribute,
                        several.len()
                    ),
                );
            }
        }
    }
    match logins.find(&record.login) {
        [] => Match::None,
        [one] => Match::One(one),
        several => Match::Several(
            several.to_vec(),
            format!(
                "login {:?} equals the login or email of {} identities",
                record.login,
                several.len()
            ),
        ),
    }
}

fn correlate_system<'a>(
    system: &SystemName,
    snapshot: &SystemSnapshot,
    rules: &[(&CorrelationRule, ValueIndex<'a>)],
    logins: &LoginIndex<'a>,
    state: &mut ActualState,
) {
    // First every account's match, then the identities with several accounts.
    let mut claimed: BTreeMap<&IdentityId, Vec<&AccountRecord>> = BTreeMap::new();
    let mut unmatched: Vec<&AccountRecord> = Vec::new();
    for record in &snapshot.accounts {
        match match_account(record, rules, logins) {
            Match::One(id) => claimed.entry(id).or_default().push(record),
            Match::Several(ids, detail) => {
                note_ambiguity(state, system, vec![record], ids, detail);
                unmatched.push(record);
            }
            Match::None => unmatched.push(record),
        }
    }
    let mut owner_by_account: HashMap<&str, &IdentityId> = HashMap::new();
    for (id, records) in claimed {
        let already_ambiguous = state
            .identities
            .get(id)
            .is_some_and(|e| e.ambiguous.contains(system));
        if already_ambiguous {
            unmatched.extend(records);
            continue;
        }
        if let [record] = records.as_slice() {
            if let Some(entry) = state.identities.get_mut(id) {
                entry
                    .accounts
                    .insert(system.clone(), actual_account(record));
                owner_by_account.insert(record.external_id.as_str(), id);
            }
            continue;
        }
        let detail = format!(
            "{} accounts of {system} match the same identity",
            records.len()
        );
        note_ambiguity(state, system, records.clone(), vec![id], detail);
        unmatched.extend(records);
    }
    let known: BTreeSet<&str> = snapshot
        .accounts
        .iter()
        .map(|a| a.external_id.as_str())
        .collect();
    for record in unmatched {
        state
            .unmatched_accounts
            .entry(system.clone())
            .or_default()
            .push(record.clone());
    }
    for grant in &snapshot.grants {
        let account = grant.account_external_id.as_str();
        let owner = match owner_by_account.get(account) {
            Some(id) => Some(*id),
            // An orphan's (or an ambiguous account's) grant belongs to nobody.
            None if known.contains(account) => None,
            None => grant
                .login
                .as_deref()
                .and_then(|l| logins.find_one(l))
                .or_else(|| logins.find_one(account)),
        };
        if let Some(entry) = owner.and_then(|id| state.identities.get_mut(id)) {
            if entry.ambiguous.contains(system) {
                continue;
            }
            entry.grants.insert(grant.entitlement.clone());
        }
    }
}

fn note_ambiguity(
    state: &mut ActualState,
    system: &SystemName,
    records: Vec<&AccountRecord>,
    identities: Vec<&IdentityId>,
    detail: String,
) {
    let mut accounts: Vec<String> = records.iter().map(|r| r.external_id.clone()).collect();
    accounts.sort();
    let mut ids: Vec<IdentityId> = identities.iter().map(|i| (*i).clone()).collect();
    ids.sort();
    ids.dedup();
    tracing::warn!(
        %system,
        accounts = ?accounts,
        identities = ?ids,
        %detail,
        "ambiguous correlation: no account attached, a person decides"
    );
    for id in &ids {
        if let Some(entry) = state.identities.get_mut(id) {
            entry.ambiguous.insert(system.clone());
            // An account attached earlier in the same system is no longer certain.
            if let Some(account) = entry.accounts.remove(system) {
                state
                    .unmatched_accounts
                    .entry(system.clone())
                    .or_default()
                    .push(account.record);
            }
            entry.grants.retain(|e| &e.system != system);
        }
    }
    state.ambiguous.push(Ambiguity {
        system: system.clone(),
        accounts,
        identities: ids,
        detail,
    });
}

fn actual_account(record: &AccountRecord) -> ActualAccount {
    ActualAccount {
        external_id: record.external_id.clone(),
        state: record.state,
        record: record.clone(),
    }
}

fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

/// The value of `attribute` for an identity: its own `login` and `email` fields,
/// its display name for `display_name`, else its HR attribute.
fn attribute_of<'a>(identity: &'a Identity, attribute: &str) -> Option<&'a str> {
    match attribute {
        "login" => Some(identity.login.as_str()),
        "email" => Some(identity.email.as_str()),
        "display_name" => Some(identity.display_name.as_str()),
        other => identity.attributes.get(other).map(String::as_str),
    }
}

/// One roster attribute's values to the identities holding them.
struct ValueIndex<'a> {
    by_value: HashMap<String, Vec<&'a IdentityId>>,
}

impl<'a> ValueIndex<'a> {
    fn new(identities: &'a [Identity], attribute: &str) -> Self {
        let mut by_value: HashMap<String, Vec<&'a IdentityId>> = HashMap::new();
        for identity in identities {
            if let Some(value) = attribute_of(identity, attribute).filter(|v| !v.trim().is_empty())
            {
                by_value
                    .entry(normalize(value))
                    .or_default()
                    .push(&identity.id);
            }
        }
        Self { by_value }
    }

    fn find(&self, value: &str) -> &[&'a IdentityId] {
        self.by_value
            .get(&normalize(value))
            .map_or(&[], Vec::as_slice)
    }
}

/// Lower-cased login and email to identities; logins win over emails.
struct LoginIndex<'a> {
    by_login: HashMap<String, Vec<&'a IdentityId>>,
    by_email: HashMap<String, Vec<&'a IdentityId>>,
}

impl<'a> LoginIndex<'a> {
    fn new(identities: &'a [Identity]) -> Self {
        let mut by_login: HashMap<String, Vec<&'a IdentityId>> =
            HashMap::with_capacity(identities.len());
        let mut by_email: HashMap<String, Vec<&'a IdentityId>> =
            HashMap::with_capacity(identities.len());
        for identity in identities {
            by_login
                .entry(identity.login.to_lowercase())
                .or_default()
                .push(&identity.id);
            by_email
                .entry(identity.email.to_lowercase())
                .or_default()
                .push(&identity.id);
        }
        Self { by_login, by_email }
    }

    /// Every identity whose login equals `login`, or else whose email does.
    fn find(&self, login: &str) -> &[&'a IdentityId] {
        let key = login.to_lowercase();
        self.by_login
            .get(&key)
            .or_else(|| self.by_email.get(&key))
            .map_or(&[], Vec::as_slice)
    }

    /// The one identity `login` names, if exactly one.
    fn find_one(&self, login: &str) -> Option<&'a IdentityId> {
        match self.find(login) {
            [one] => Some(one),
            _ => None,
        }
    }
}
