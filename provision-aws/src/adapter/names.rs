//! Name resolution: the instance, users by login, groups by display name, permission sets by name, and the accounts a scope names.

use super::*;

impl AwsAdapter {
    /// The instance in use: configured, or the only one `ListInstances` returns.
    pub async fn instance(&self) -> Result<&Instance, AdapterError> {
        self.instance
            .get_or_try_init(|| async {
                let mut found = Vec::new();
                let mut token = None;
                loop {
                    let page: ListInstancesResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "ListInstances",
                            &ListInstancesRequest {
                                max_results: PAGE_SIZE,
                                next_token: token.take(),
                            },
                        )
                        .await?;
                    found.extend(page.instances.into_iter().filter_map(|i| {
                        Some(Instance {
                            instance_arn: i.instance_arn?,
                            identity_store_id: i.identity_store_id?,
                        })
                    }));
                    match page.next_token {
                        Some(t) if !t.is_empty() => token = Some(t),
                        _ => break,
                    }
                }
                match found.len() {
                    1 => Ok(found.remove(0)),
                    // An instance lives in one region: none here is most often the
                    // wrong region, a configuration error.
                    0 => Err(AdapterError::Configuration {
                        error: SystemError::message(format!(
                            "ListInstances returned no IAM Identity Center instance in region {}: check the setting `region` (the instance's home region), or configure instance_arn and identity_store_id",
                            self.config.region()
                        )),
                    }),
                    n => Err(invalid(format!(
                        "ListInstances returned {n} IAM Identity Center instances; configure instance_arn and identity_store_id to choose one"
                    ))),
                }
            })
            .await
    }

    pub(crate) async fn store_id(&self) -> Result<String, AdapterError> {
        Ok(self.instance().await?.identity_store_id.clone())
    }

    pub(crate) async fn instance_arn(&self) -> Result<String, AdapterError> {
        Ok(self.instance().await?.instance_arn.clone())
    }

    pub(crate) fn remember_user(&self, login: &str, id: &str) {
        lock(&self.user_ids).insert(login.to_owned(), id.to_owned());
        lock(&self.user_logins).insert(id.to_owned(), login.to_owned());
    }

    /// The user id of a login, `None` when there is no such user.
    pub(crate) async fn find_user(&self, login: &str) -> Result<Option<String>, AdapterError> {
        if let Some(id) = lock(&self.user_ids).get(login) {
            return Ok(Some(id.clone()));
        }
        let request = GetUserIdRequest {
            identity_store_id: self.store_id().await?,
            alternate_identifier: AlternateIdentifier {
                unique_attribute: UniqueAttribute {
                    attribute_path: "userName".into(),
                    attribute_value: login.to_owned(),
                },
            },
        };
        match self
            .client
            .call::<_, GetUserIdResponse>(Service::IdentityStore, "GetUserId", &request)
            .await
        {
            Ok(r) => {
                self.remember_user(login, &r.user_id);
                Ok(Some(r.user_id))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The user id of an account: the known external id, else a look-up by login.
    pub(crate) async fn known_user_id(
        &self,
        account: &AccountRef,
    ) -> Result<Option<String>, AdapterError> {
        match &account.external_id {
            Some(id) => Ok(Some(id.clone())),
            None => self.find_user(&account.login).await,
        }
    }

    pub(crate) async fn user_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
        if let Some(id) = &account.external_id {
            return Ok(id.clone());
        }
        self.find_user(&account.login)
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                error: SystemError::message(format!(
                    "no identity-store user with user name '{}'",
                    account.login
                )),
            })
    }

    /// A group's id by display name, resolved once per run.
    pub(crate) async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
        if let Some(id) = lock(&self.groups).get(name) {
            return Ok(id.clone());
        }
        let request = GetGroupIdRequest {
            identity_store_id: self.store_id().await?,
            alternate_identifier: AlternateIdentifier {
                unique_attribute: UniqueAttribute {
                    attribute_path: "displayName".into(),
                    attribute_value: name.to_owned(),
                },
            },
        };
        let r: GetGroupIdResponse = self
            .client
            .call(Service::IdentityStore, "GetGroupId", &request)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    invalid(format!(
                        "the identity store has no group named '{name}' (policies name groups by display name)"
                    ))
                } else {
                    e.into()
                }
            })?;
        self.remember_group(name, &r.group_id);
        Ok(r.group_id)
    }

    /// Permission-set name → ARN, resolved once per run.
    pub(crate) async fn permission_set_arn(&self, name: &str) -> Result<String, AdapterError> {
        let map = self
            .permission_sets
            .get_or_try_init(|| async {
                let instance_arn = self.instance_arn().await?;
                let mut arns = Vec::new();
                let mut token = None;
                loop {
                    let page: ListPermissionSetsResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "ListPermissionSets",
                            &ListPermissionSetsRequest {
                                instance_arn: instance_arn.clone(),
                                max_results: PAGE_SIZE,
                                next_token: token.take(),
                            },
                        )
                        .await?;
                    arns.extend(page.permission_sets);
                    match page.next_token {
                        Some(t) if !t.is_empty() => token = Some(t),
                        _ => break,
                    }
                }
                let mut map = HashMap::new();
                for arn in arns {
                    let d: DescribePermissionSetResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "DescribePermissionSet",
                            &DescribePermissionSetRequest {
                                instance_arn: instance_arn.clone(),
                                permission_set_arn: arn.clone(),
                            },
                        )
                        .await?;
                    if let Some(n) = d.permission_set.name {
                        lock(&self.permission_set_names).insert(arn.clone(), n.clone());
                        map.insert(n, arn);
                    }
                }
                Ok::<_, AdapterError>(map)
            })
            .await?;
        map.get(name).cloned().ok_or_else(|| {
            invalid(format!(
                "no permission set named '{name}' in the Identity Center instance"
            ))
        })
    }

    /// Parses a `permission_set` entitlement's resource and scope.
    pub(crate) fn assignment_target(
        &self,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<AssignmentTarget, AdapterError> {
        let scope = scope.ok_or_else(|| {
            invalid(format!(
                "permission set '{resource}' needs a scope 'account:<name or 12-digit id>'"
            ))
        })?;
        let account = scope.strip_prefix("account:").ok_or_else(|| {
            invalid(format!(
                "scope '{scope}' of permission set '{resource}' must be 'account:<name or 12-digit id>'"
            ))
        })?;
        let account_id = self.config.account_id(account).ok_or_else(|| {
            invalid(format!(
                "account '{account}' is neither a 12-digit id nor a configured name (settings accounts.{account} = <id>)"
            ))
        })?;
        let (permission_set, principal) = match resource.strip_prefix(GROUP_PRINCIPAL_PREFIX) {
            Some(rest) => {
                let (group, ps) = rest.rsplit_once('/').ok_or_else(|| {
                    invalid(format!(
                        "resource '{resource}' must be 'group:<group>/<permission set>'"
                    ))
                })?;
                if group.is_empty() || ps.is_empty() {
                    return Err(invalid(format!(
                        "resource '{resource}' must be 'group:<group>/<permission set>'"
                    )));
                }
                (ps.to_owned(), Principal::Group(group.to_owned()))
            }
            None => (resource.to_owned(), Principal::User),
        };
        Ok(AssignmentTarget {
            permission_set,
            principal,
            account_id,
        })
    }
}
