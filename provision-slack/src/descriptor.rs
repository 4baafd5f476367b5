//! What the Slack adapter declares, from which tokens are configured alone (no
//! token is read), so policies validate without secrets: a policy that needs a
//! capability the configured tokens lack names an action the descriptor does not
//! declare, and fails at load.

use provision_core::adapter::{
    PendingDeadline, RateBudget, ResourceKindDescriptor, SystemDescriptor,
};
use provision_core::config::RateLimitConfig;

/// Which tokens a deployment configures (their values are never needed here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    /// A bot token (`xoxb-`): channels and user groups.
    pub bot: bool,
    /// An Enterprise org-admin user token (`xoxp-`): `admin.*`.
    pub admin: bool,
    /// A SCIM token (the `admin` scope): accounts.
    pub scim: bool,
}

/// The channel kind (as the sandbox preset names it).
pub const KIND_CHANNEL: &str = "channel";
/// The user-group kind.
pub const KIND_USERGROUP: &str = "usergroup";
/// Policy actions granting a channel (the sandbox preset's two).
pub const CHANNEL_ACTIONS: &[&str] = &["invite_to_channel", "add_to_channel"];
/// Policy actions granting a user group.
pub const USERGROUP_ACTIONS: &[&str] = &["add_to_usergroup"];

/// Slack's Web API rate-limit tiers, per minute, per method, per workspace and app
/// ((documented) docs.slack.dev/apis/web-api/rate-limits: Tier 2 20+/min, Tier 3 50+/min,
/// Tier 4 100+/min; the documented floor is declared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// 20+ per minute.
    Tier2,
    /// 50+ per minute.
    Tier3,
    /// 100+ per minute.
    Tier4,
}

impl Tier {
    /// Requests per minute (the documented floor).
    pub fn per_minute(self) -> u32 {
        match self {
            Tier::Tier2 => 20,
            Tier::Tier3 => 50,
            Tier::Tier4 => 100,
        }
    }
}

/// Every Web API method the adapter calls, its tier and the token it needs. Each is
/// its own named budget (Slack counts each method separately). Tiers are from each
/// method's documentation page ((documented); `admin.users.deactivate` is not in the 2021
/// spec and its tier is (unverified)).
pub const METHODS: &[(&str, Tier)] = &[
    ("conversations.invite", Tier::Tier3),
    ("conversations.kick", Tier::Tier3),
    ("conversations.members", Tier::Tier4),
    ("conversations.list", Tier::Tier2),
    ("conversations.info", Tier::Tier3),
    ("conversations.join", Tier::Tier3),
    ("users.conversations", Tier::Tier3),
    ("users.list", Tier::Tier2),
    ("users.lookupByEmail", Tier::Tier3),
    ("usergroups.list", Tier::Tier2),
    ("usergroups.users.list", Tier::Tier2),
    ("usergroups.users.update", Tier::Tier2),
    ("admin.conversations.invite", Tier::Tier2),
    ("admin.users.session.reset", Tier::Tier2),
    ("admin.users.deactivate", Tier::Tier2),
];

/// The org-wide SCIM read budget (all SCIM apps together): 1,000/min, burst 1,000.
/// Listings and filters (`GET /Users?…`) count here.
pub const BUDGET_SCIM_READ: &str = "scim_read";
/// The org-wide SCIM write budget: 600/min, burst 180 (writes other than a user's).
pub const BUDGET_SCIM_WRITE: &str = "scim_write";
/// The per-endpoint budget of one user's read (`GET /Users/{id}`): 300/min.
pub const BUDGET_SCIM_USER_READ: &str = "scim_user_read";
/// The per-endpoint budget of user writes (`POST /Users`, `PUT`/`PATCH`/`DELETE
/// /Users/{id}`): 180/min, burst 20 — stricter than the org-wide write budget, so
/// the user writes (all the adapter makes) are paced by it.
pub const BUDGET_SCIM_USER_WRITE: &str = "scim_user_write";

/// The budget a Web API method counts against: its own name.
pub fn budget_of_method(method: &str) -> &str {
    method
}

/// The token (and scope) an action or capability needs, for messages: `None` when
/// the action is not Slack's.
pub fn token_needed(action: &str) -> Option<&'static str> {
    match action {
        a if CHANNEL_ACTIONS.contains(&a) => Some(
            "credentials.bot_token (xoxb-, scopes channels:write/groups:write, channels:read/groups:read, channels:join, users:read, users:read.email)",
        ),
        a if USERGROUP_ACTIONS.contains(&a) => {
            Some("credentials.bot_token (xoxb-, scopes usergroups:read, usergroups:write)")
        }
        "create_account" | "reactivate_account" => {
            Some("credentials.scim_token (the `admin` scope; Business+ or Enterprise)")
        }
        "suspend_account" => Some(
            "credentials.scim_token (the `admin` scope) or credentials.admin_token (Enterprise, admin.users:write)",
        ),
        "revoke_sessions" => {
            Some("credentials.admin_token (xoxp-, Enterprise org admin, admin.users:write)")
        }
        _ => None,
    }
}

fn per_minute(requests: u32, burst: Option<u32>) -> RateLimitConfig {
    RateLimitConfig {
        requests,
        per_seconds: 60,
        burst,
    }
}

/// The Slack system's descriptor for the configured tokens.
///
/// * bot token → `channel` (`invite_to_channel`, `add_to_channel`) and `usergroup`
///   (`add_to_usergroup`), both enumerable. `usergroup` is
///   [whole-list](ResourceKindDescriptor::whole_list_membership):
///   `usergroups.users.update` replaces the list, so the executor never runs two
///   changes to one group at once and hands queued ones to
///   [`provision_core::adapter::Adapter::execute_batch`] together. `channel` is not
///   whole-list (Slack adds and removes members one by one) but declares
///   [`max_batch`](ResourceKindDescriptor::max_batch) 1,000: the executor batches the
///   joiners of one channel into one `conversations.invite`.
/// * SCIM token → accounts (create, deactivate, reactivate); a deactivated account
///   keeps its channel memberships, which Slack hides while it is deactivated.
/// * admin token → deactivation (`admin.users.deactivate`) and session reset; with
///   the bot token too but no SCIM token, accounts are read with `users.list` and
///   appear on first SSO sign-in (a joiner's create is pending until then).
/// * Slack accounts are never deleted (`can_delete` is false, always).
pub fn slack_descriptor(tokens: Tokens) -> SystemDescriptor {
    let mut d = SystemDescriptor::new("slack").with_correlation_keys(&["email", "user_id"]);
    if tokens.bot {
        d = d
            .with_kind(
                // Channel members are added and removed one by one (not a whole list),
                // but `conversations.invite` takes up to 1,000 users: the executor hands
                // one channel's joiners to `execute_batch` together.
                ResourceKindDescriptor::new(KIND_CHANNEL, CHANNEL_ACTIONS)
                    .enumerable()
                    .with_max_batch(1000),
            )
            .with_kind(
                ResourceKindDescriptor::new(KIND_USERGROUP, USERGROUP_ACTIONS)
                    .enumerable()
                    .whole_list_membership(),
            );
    }
    if !tokens.bot {
        for action in CHANNEL_ACTIONS.iter().chain(USERGROUP_ACTIONS) {
            if let Some(needs) = token_needed(action) {
                d = d.with_unavailable_action(*action, needs);
            }
        }
    }
    if tokens.scim {
        d = d.with_accounts();
    } else if tokens.admin && tokens.bot {
        // Enterprise without SCIM: accounts are read (`users.list`) and deactivated
        // (`admin.users.deactivate`), but created by Slack on the person's first SSO
        // sign-in; a joiner's create waits for that.
        d = d
            .with_accounts()
            .accounts_created_on_first_login()
            .with_pending_deadline(PendingDeadline::FirstLogin);
    }
    if tokens.scim || tokens.admin {
        d = d.can_suspend(true);
    }
    if tokens.admin {
        d = d.can_revoke_sessions();
    }
    for (method, tier) in METHODS {
        d = d.with_rate_budget(RateBudget::new(
            *method,
            Some(per_minute(tier.per_minute(), None)),
        ));
    }
    if tokens.scim {
        d = d
            .with_rate_budget(RateBudget::new(
                BUDGET_SCIM_READ,
                Some(per_minute(1000, Some(1000))),
            ))
            .with_rate_budget(RateBudget::new(
                BUDGET_SCIM_WRITE,
                Some(per_minute(600, Some(180))),
            ))
            .with_rate_budget(RateBudget::new(
                BUDGET_SCIM_USER_READ,
                Some(per_minute(300, None)),
            ))
            .with_rate_budget(RateBudget::new(
                BUDGET_SCIM_USER_WRITE,
                Some(per_minute(180, Some(20))),
            ));
    }
    d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_token_brings_its_capabilities() {
        let bot = slack_descriptor(Tokens {
            bot: true,
            ..Tokens::default()
        });
        assert!(bot.kind_for_action("invite_to_channel").is_some());
        assert!(bot.kind(KIND_USERGROUP).unwrap().whole_list_membership);
        assert!(!bot.has_accounts && !bot.can_suspend && !bot.can_revoke_sessions);

        let scim = slack_descriptor(Tokens {
            scim: true,
            ..Tokens::default()
        });
        assert!(scim.kind_for_action("invite_to_channel").is_none());
        assert!(scim.has_accounts && scim.can_suspend && !scim.can_revoke_sessions);
        assert!(
            scim.rate_budgets
                .iter()
                .any(|b| b.name == BUDGET_SCIM_WRITE)
        );

        let all = slack_descriptor(Tokens {
            bot: true,
            admin: true,
            scim: true,
        });
        assert!(all.can_revoke_sessions && !all.can_delete);
        assert!(
            all.rate_budgets
                .iter()
                .any(|b| b.name == "conversations.invite")
        );
    }

    #[test]
    fn the_token_an_action_needs_is_named() {
        assert!(
            token_needed("invite_to_channel")
                .unwrap()
                .contains("bot_token")
        );
        assert!(
            token_needed("revoke_sessions")
                .unwrap()
                .contains("admin_token")
        );
        assert!(
            token_needed("create_account")
                .unwrap()
                .contains("scim_token")
        );
    }
}
