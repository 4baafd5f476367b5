//! Changes made behind the SDK's back, as an administrator in the system's own
//! console would make them: for drift tests. Seeding accounts and grants is
//! [`SandboxSystem::with_account`] and [`SandboxSystem::with_grant`]; these take
//! things away or flip an account's state. None of them counts as a request.

use provision_core::model::{AccountState, Entitlement};

use super::SandboxSystem;

impl SandboxSystem {
    /// Removes a grant by hand; `false` when the account did not hold it.
    pub fn revoke_by_hand(&self, login: &str, entitlement: &Entitlement) -> bool {
        self.state()
            .grants
            .remove(&(login.to_owned(), entitlement.clone()))
    }

    /// Sets an account's state by hand (an admin suspends or re-enables it);
    /// `false` when no account has this login.
    pub fn set_account_state_by_hand(&self, login: &str, state: AccountState) -> bool {
        match self.state().accounts.get_mut(login) {
            Some(account) => {
                account.state = state;
                true
            }
            None => false,
        }
    }
}
