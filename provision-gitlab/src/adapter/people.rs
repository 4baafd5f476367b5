//! Finding a person's GitLab user on gitlab.com, where no customer is an instance
//! administrator: the members `?query=` filter matches public emails only (GitLab's
//! `User.search` without private emails), and the member entity shows `email` only
//! to the group's Owners and only for enterprise users (members API, "Limitations").
//!
//! So a login is looked up, in order, as
//!
//! 1. the SAML identity the group's identity provider gave the person on their first
//!    SSO login (`GET /groups/:id/saml/:uid`, the NameID; usually the email);
//! 2. an enterprise user's email (`GET /groups/:id/enterprise_users?search=`, Owner
//!    of the top-level group);
//! 3. a username among the top-level group's members (`?query=` matches usernames).
//!
//! The shapes of the SAML and enterprise-user endpoints follow GitLab's REST
//! documentation (`api/saml.md`, `api/group_enterprise_users.md`): they are not in its
//! OpenAPI description and are unverified against a real tenant.

use provision_core::adapter::AdapterError;

use super::GitlabAdapter;
use crate::client::PER_PAGE;
use crate::model::{Member, SamlIdentity, SamlIdentityRecord, User};

impl GitlabAdapter {
    /// The gitlab.com user a login names (see the [module docs](self)).
    pub(super) async fn find_user_on_gitlab_com(
        &self,
        login: &str,
    ) -> Result<Option<User>, AdapterError> {
        let top = &self.config().group;
        match self
            .client
            .get::<SamlIdentityRecord>(self.client.url(&["groups", top, "saml", login]))
            .await
        {
            Ok(identity) => return Ok(Some(user_of_identity(identity))),
            Err(AdapterError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        if login.contains('@') {
            let url = self.client.url_with(
                &["groups", top, "enterprise_users"],
                &[
                    ("search", login.to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            );
            return match self.client.get_page::<User>(url).await {
                Ok((users, _, _)) => Ok(users
                    .into_iter()
                    .find(|u| !u.is_bot() && u.answers_to(login))),
                // Not a Premium/Ultimate top-level group: no enterprise users.
                Err(AdapterError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let url = self.client.url_with(
            &["groups", top, "members"],
            &[
                ("query", login.to_owned()),
                ("per_page", PER_PAGE.to_string()),
            ],
        );
        let (members, _, _) = self.client.get_page::<Member>(url).await?;
        Ok(members
            .into_iter()
            .filter(|m| !m.is_bot())
            .map(|m| m.user())
            .find(|u| u.username.eq_ignore_ascii_case(login)))
    }
}

/// The user a SAML identity names: its id and NameID (nothing else is known).
fn user_of_identity(identity: SamlIdentityRecord) -> User {
    User {
        id: identity.user_id,
        username: String::new(),
        name: None,
        state: None,
        email: None,
        public_email: None,
        last_sign_in_at: None,
        group_saml_identity: Some(SamlIdentity {
            extern_uid: Some(identity.extern_uid),
        }),
        bot: false,
        user_type: None,
    }
}
