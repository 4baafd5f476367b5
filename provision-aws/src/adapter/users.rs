//! Identity-store users: create (adopting an existing user name), update, delete.

use super::*;
use provision_http::names::PersonName;

impl AwsAdapter {
    pub(crate) async fn create_user(
        &self,
        profile: &AccountProfile,
    ) -> Result<Applied, AdapterError> {
        let PersonName { given, family } = PersonName::from_profile(profile);
        let display_name = if profile.display_name.trim().is_empty() {
            format!("{given} {family}")
        } else {
            profile.display_name.clone()
        };
        let request = CreateUserRequest {
            identity_store_id: self.store_id().await?,
            user_name: profile.login.clone(),
            display_name,
            name: Name {
                given_name: Some(given),
                family_name: Some(family),
                formatted: None,
            },
            emails: vec![Email {
                value: Some(profile.email.clone()),
                r#type: Some("work".into()),
                primary: Some(true),
            }],
        };
        match self
            .client
            .call::<_, CreateUserResponse>(Service::IdentityStore, "CreateUser", &request)
            .await
        {
            Ok(r) => {
                self.remember_user(&profile.login, &r.user_id);
                Ok(Applied::changed().with_external_id(r.user_id))
            }
            // The user name is taken: that user is this person's account; adopt it.
            Err(e)
                if e.is("ConflictException")
                    && e.reason.as_deref() != Some("CONCURRENT_MODIFICATION") =>
            {
                match self.find_user(&profile.login).await? {
                    Some(id) => Ok(Applied::already_in_place().with_external_id(id)),
                    // Nothing to adopt: the conflict was about something else (or the
                    // user went between the two calls). Nothing was created: a
                    // conflict for the executor's check to confirm, never "already done".
                    None => {
                        let error = e.system_error();
                        Err(AdapterError::Conflict {
                            error: SystemError::new(
                                error.status,
                                error.code,
                                format!(
                                    "{} (CreateUser conflicted, but GetUserId finds no user named {})",
                                    error.message, profile.login
                                ),
                            ),
                        })
                    }
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn update_user(
        &self,
        account: &AccountRef,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<Applied, AdapterError> {
        let mut operations = Vec::new();
        for (key, value) in attributes {
            let path = match key.as_str() {
                "display_name" => "displayName",
                "given_name" => "name.givenName",
                "family_name" => "name.familyName",
                "title" => "title",
                "nick_name" => "nickName",
                other => {
                    return Err(invalid(format!(
                        "attribute '{other}' cannot be set on an identity-store user (known: display_name, given_name, family_name, title, nick_name)"
                    )));
                }
            };
            operations.push(json!({"AttributePath": path, "AttributeValue": value}));
        }
        if operations.is_empty() {
            return Ok(Applied::already_in_place());
        }
        let user_id = self.user_id(account).await?;
        let request = json!({
            "IdentityStoreId": self.store_id().await?,
            "UserId": user_id,
            "Operations": operations,
        });
        self.client
            .call::<_, Empty>(Service::IdentityStore, "UpdateUser", &request)
            .await?;
        Ok(Applied::changed())
    }

    pub(crate) async fn delete_user(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.config.delete_leavers {
            return Err(AdapterError::Unsupported {
                what: "DeleteUser is not enabled for this system (set delete_leavers: true)".into(),
            });
        }
        let user_id = match &account.external_id {
            Some(id) => id.clone(),
            None => match self.find_user(&account.login).await? {
                Some(id) => id,
                None => return Ok(Applied::already_in_place()),
            },
        };
        let request = UserRef {
            identity_store_id: self.store_id().await?,
            user_id: user_id.clone(),
        };
        let result = self
            .client
            .call::<_, Empty>(Service::IdentityStore, "DeleteUser", &request)
            .await;
        lock(&self.user_ids).remove(&account.login);
        lock(&self.user_logins).remove(&user_id);
        match result {
            Ok(_) => Ok(Applied::changed()),
            Err(e) if e.is_not_found() => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Given and family names: from the attributes `given_name`/`first_name` and
/// `family_name`/`last_name`, else split from the display name (first word, the
/// rest), else the login's local part for both (Identity Center requires both).
pub(crate) fn state_of(status: Option<&str>) -> AccountState {
    match status {
        Some("DISABLED") => AccountState::Suspended,
        _ => AccountState::Active,
    }
}
