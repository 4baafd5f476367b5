//! Identity-store groups: memberships (add, remove, read) and the groups themselves.

use super::*;

impl AwsAdapter {
    /// The membership id of (group, user), `None` when the user is not a member.
    pub(crate) async fn membership_id(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, AdapterError> {
        let key = (group_id.to_owned(), user_id.to_owned());
        if let Some(id) = lock(&self.memberships).get(&key) {
            return Ok(Some(id.clone()));
        }
        let request = GroupMemberRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.to_owned(),
            member_id: MemberId {
                user_id: Some(user_id.to_owned()),
            },
        };
        match self
            .client
            .call::<_, MembershipIdResponse>(
                Service::IdentityStore,
                "GetGroupMembershipId",
                &request,
            )
            .await
        {
            Ok(r) => {
                lock(&self.memberships).insert(key, r.membership_id.clone());
                Ok(Some(r.membership_id))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn add_membership(
        &self,
        group: &str,
        user_id: &str,
    ) -> Result<Applied, AdapterError> {
        let group_id = self.group_id(group).await?;
        let request = GroupMemberRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.clone(),
            member_id: MemberId {
                user_id: Some(user_id.to_owned()),
            },
        };
        match self
            .client
            .call::<_, MembershipIdResponse>(
                Service::IdentityStore,
                "CreateGroupMembership",
                &request,
            )
            .await
        {
            Ok(r) => {
                lock(&self.memberships).insert((group_id, user_id.to_owned()), r.membership_id);
                Ok(Applied::changed())
            }
            // The documented duplicate: already a member.
            Err(e)
                if e.is("ConflictException")
                    && e.reason.as_deref() == Some("UNIQUENESS_CONSTRAINT_VIOLATION") =>
            {
                Ok(Applied::already_in_place())
            }
            // A conflict without a reason is a duplicate or a concurrent modification:
            // in place only if the membership is there now (read, not from the cache).
            Err(e) if e.is("ConflictException") && e.reason.is_none() => {
                lock(&self.memberships).remove(&(group_id.clone(), user_id.to_owned()));
                match self.membership_id(&group_id, user_id).await? {
                    Some(_) => Ok(Applied::already_in_place()),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn remove_membership(
        &self,
        group: &str,
        user_id: &str,
    ) -> Result<Applied, AdapterError> {
        let group_id = self.group_id(group).await?;
        let Some(membership_id) = self.membership_id(&group_id, user_id).await? else {
            return Ok(Applied::already_in_place());
        };
        let request = DeleteGroupMembershipRequest {
            identity_store_id: self.store_id().await?,
            membership_id,
        };
        let result = self
            .client
            .call::<_, Empty>(Service::IdentityStore, "DeleteGroupMembership", &request)
            .await;
        lock(&self.memberships).remove(&(group_id, user_id.to_owned()));
        match result {
            Ok(_) => Ok(Applied::changed()),
            Err(e) if e.is_not_found() => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }

    /// One page of a group's members (`ListGroupMemberships`), as grants of
    /// `entitlement`; remembers each membership id for a later revoke.
    pub(crate) async fn group_members_page(
        &self,
        group: &str,
        entitlement: &Entitlement,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let group_id = self.group_id(group).await?;
        let request = ListGroupMembershipsRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.clone(),
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        let page: ListGroupMembershipsResponse = self
            .client
            .call(Service::IdentityStore, "ListGroupMemberships", &request)
            .await?;
        let mut items = Vec::new();
        for m in page.group_memberships {
            let Some(user_id) = m.member_id.and_then(|m| m.user_id) else {
                continue;
            };
            if let Some(mid) = m.membership_id {
                lock(&self.memberships).insert((group_id.clone(), user_id.clone()), mid);
            }
            items.push(GrantRecord {
                entitlement: entitlement.clone(),
                login: lock(&self.user_logins).get(&user_id).cloned(),
                account_external_id: user_id,
            });
        }
        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
    }

    /// A group's display name by id: from the names seen this run, else `DescribeGroup`.
    pub(crate) async fn group_name(&self, group_id: &str) -> Result<Option<String>, AdapterError> {
        if let Some(name) = lock(&self.group_names).get(group_id) {
            return Ok(Some(name.clone()));
        }
        let request = DescribeGroupRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.to_owned(),
        };
        match self
            .client
            .call::<_, Group>(Service::IdentityStore, "DescribeGroup", &request)
            .await
        {
            Ok(group) => {
                let name = group.display_name.clone();
                if let Some(n) = &name {
                    self.remember_group(n, &group.group_id);
                }
                Ok(name)
            }
            // the group went away between the two reads: nothing to name
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers a group's name and id both ways.
    pub(crate) fn remember_group(&self, name: &str, group_id: &str) {
        lock(&self.groups).insert(name.to_owned(), group_id.to_owned());
        lock(&self.group_names).insert(group_id.to_owned(), name.to_owned());
    }

    /// One page of the identity store's groups (`ListGroups`, 100 a page).
    pub(crate) async fn groups_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let request = ListGroupsRequest {
            identity_store_id: self.store_id().await?,
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        let page: ListGroupsResponse = self
            .client
            .call(Service::IdentityStore, "ListGroups", &request)
            .await?;
        let mut items = Vec::with_capacity(page.groups.len());
        for group in page.groups {
            // a group without a display name cannot be named in a policy
            let Some(name) = group.display_name else {
                continue;
            };
            self.remember_group(&name, &group.group_id);
            items.push(ResourceRecord::new(KIND_GROUP, name).with_external_id(group.group_id));
        }
        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
    }

    /// One page of a user's group memberships (`ListGroupMembershipsForMember`), as
    /// `group` grants named by the group's display name.
    pub(crate) async fn user_memberships_page(
        &self,
        system: &SystemName,
        user_id: &str,
        login: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<GrantRecord>, Option<String>), AdapterError> {
        let request = ListGroupMembershipsForMemberRequest {
            identity_store_id: self.store_id().await?,
            member_id: MemberId {
                user_id: Some(user_id.to_owned()),
            },
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        let page: ListGroupMembershipsForMemberResponse = self
            .client
            .call(
                Service::IdentityStore,
                "ListGroupMembershipsForMember",
                &request,
            )
            .await?;
        let mut items = Vec::with_capacity(page.group_memberships.len());
        for membership in page.group_memberships {
            let Some(group_id) = membership.group_id else {
                continue;
            };
            let Some(name) = self.group_name(&group_id).await? else {
                continue;
            };
            if let Some(mid) = membership.membership_id {
                lock(&self.memberships).insert((group_id.clone(), user_id.to_owned()), mid);
            }
            items.push(GrantRecord {
                entitlement: Entitlement::new(system.as_str(), KIND_GROUP, name),
                account_external_id: user_id.to_owned(),
                login: Some(login.to_owned()),
            });
        }
        Ok((items, page.next_token.filter(|t| !t.is_empty())))
    }
}
