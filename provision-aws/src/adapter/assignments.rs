//! Permission-set account assignments: create, delete, their asynchronous status, and reads.

use super::*;

impl AwsAdapter {
    pub(crate) async fn assignment_request(
        &self,
        target: &AssignmentTarget,
        principal_type: &str,
        principal_id: String,
    ) -> Result<AccountAssignmentRequest, AdapterError> {
        Ok(AccountAssignmentRequest {
            instance_arn: self.instance_arn().await?,
            target_id: target.account_id.clone(),
            target_type: "AWS_ACCOUNT".into(),
            permission_set_arn: self.permission_set_arn(&target.permission_set).await?,
            principal_type: principal_type.into(),
            principal_id,
        })
    }

    /// Turns an assignment status into the operation's outcome, remembering a request
    /// still in progress for [`Adapter::check`].
    pub(crate) fn assignment_outcome(
        &self,
        op: &OperationId,
        deletion: bool,
        status: AssignmentOperationStatus,
    ) -> Result<Applied, AdapterError> {
        let what = if deletion { "deletion" } else { "creation" };
        match status.status.as_deref() {
            Some("SUCCEEDED") => {
                lock(&self.pending).remove(op);
                Ok(Applied::changed())
            }
            Some("FAILED") => {
                lock(&self.pending).remove(op);
                Err(AdapterError::Permanent {
                    error: SystemError::new(
                        None,
                        Some("FAILED".into()),
                        format!(
                            "account assignment {what} request {} failed: {}",
                            status.request_id.as_deref().unwrap_or("(no id)"),
                            status
                                .failure_reason
                                .as_deref()
                                .unwrap_or("no reason given")
                        ),
                    ),
                })
            }
            other => {
                let Some(request_id) = status.request_id else {
                    return Err(AdapterError::Permanent {
                        error: SystemError::message(format!(
                            "account assignment {what} status {} without a request id",
                            other.unwrap_or("(none)")
                        )),
                    });
                };
                lock(&self.pending).insert(
                    op.clone(),
                    PendingRequest {
                        deletion,
                        request_id: request_id.clone(),
                    },
                );
                Err(AdapterError::Pending {
                    recheck_after: self.config.recheck_after,
                    error: SystemError::new(
                        None,
                        Some(other.unwrap_or("IN_PROGRESS").to_owned()),
                        format!("account assignment {what} request {request_id} in progress"),
                    ),
                })
            }
        }
    }

    pub(crate) async fn create_assignment(
        &self,
        op: &OperationId,
        request: &AccountAssignmentRequest,
    ) -> Result<Applied, AdapterError> {
        let r: CreationStatusResponse = self
            .client
            .call(Service::SsoAdmin, "CreateAccountAssignment", request)
            .await?;
        self.assignment_outcome(op, false, r.account_assignment_creation_status)
    }

    pub(crate) async fn delete_assignment(
        &self,
        op: &OperationId,
        request: &AccountAssignmentRequest,
    ) -> Result<Applied, AdapterError> {
        match self
            .client
            .call::<_, DeletionStatusResponse>(
                Service::SsoAdmin,
                "DeleteAccountAssignment",
                request,
            )
            .await
        {
            Ok(r) => {
                match self.assignment_outcome(op, true, r.account_assignment_deletion_status) {
                    // A deletion that ends FAILED while the assignment is gone is done.
                    Err(failed @ AdapterError::Permanent { .. }) => {
                        if self.request_listed(request).await? {
                            Err(failed)
                        } else {
                            Ok(Applied::changed())
                        }
                    }
                    other => other,
                }
            }
            // The assignment is not there (instance and permission set were resolved).
            Err(e) if e.is_not_found() => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the assignment a request names is listed now (every page of its
    /// account and permission set).
    pub(crate) async fn request_listed(
        &self,
        request: &AccountAssignmentRequest,
    ) -> Result<bool, AdapterError> {
        let mut cursor: Option<String> = None;
        loop {
            let page: ListAccountAssignmentsResponse = self
                .client
                .call(
                    Service::SsoAdmin,
                    "ListAccountAssignments",
                    &ListAccountAssignmentsRequest {
                        instance_arn: request.instance_arn.clone(),
                        account_id: request.target_id.clone(),
                        permission_set_arn: request.permission_set_arn.clone(),
                        max_results: PAGE_SIZE,
                        next_token: cursor.clone(),
                    },
                )
                .await?;
            if page.account_assignments.iter().any(|a| {
                a.principal_type.as_deref() == Some(request.principal_type.as_str())
                    && a.principal_id.as_deref() == Some(request.principal_id.as_str())
            }) {
                return Ok(true);
            }
            match page.next_token {
                Some(t) if !t.is_empty() && Some(&t) != cursor.as_ref() => cursor = Some(t),
                _ => return Ok(false),
            }
        }
    }

    /// One page of an (account, permission set) pair's assignments.
    pub(crate) async fn list_assignments(
        &self,
        target: &AssignmentTarget,
        cursor: Option<&str>,
    ) -> Result<ListAccountAssignmentsResponse, AdapterError> {
        let request = ListAccountAssignmentsRequest {
            instance_arn: self.instance_arn().await?,
            account_id: target.account_id.clone(),
            permission_set_arn: self.permission_set_arn(&target.permission_set).await?,
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        Ok(self
            .client
            .call(Service::SsoAdmin, "ListAccountAssignments", &request)
            .await?)
    }

    /// Whether a principal holds an assignment (reads every page).
    pub(crate) async fn holds_assignment(
        &self,
        target: &AssignmentTarget,
        principal_type: &str,
        principal_id: &str,
    ) -> Result<bool, AdapterError> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_assignments(target, cursor.as_deref()).await?;
            if page.account_assignments.iter().any(|a| {
                a.principal_type.as_deref() == Some(principal_type)
                    && a.principal_id.as_deref() == Some(principal_id)
            }) {
                return Ok(true);
            }
            match page.next_token {
                Some(t) if !t.is_empty() && Some(&t) != cursor.as_ref() => cursor = Some(t),
                _ => return Ok(false),
            }
        }
    }

    pub(crate) async fn check_assignment(
        &self,
        op: &Operation,
        entitlement: &Entitlement,
        account: &AccountRef,
        granting: bool,
    ) -> Result<CheckStatus, AdapterError> {
        let pending = lock(&self.pending).get(&op.id).cloned();
        if let Some(p) = pending {
            let instance_arn = self.instance_arn().await?;
            let status = if p.deletion {
                let r: DeletionStatusResponse = self
                    .client
                    .call(
                        Service::SsoAdmin,
                        "DescribeAccountAssignmentDeletionStatus",
                        &DescribeDeletionStatusRequest {
                            instance_arn,
                            account_assignment_deletion_request_id: p.request_id.clone(),
                        },
                    )
                    .await?;
                r.account_assignment_deletion_status
            } else {
                let r: CreationStatusResponse = self
                    .client
                    .call(
                        Service::SsoAdmin,
                        "DescribeAccountAssignmentCreationStatus",
                        &DescribeCreationStatusRequest {
                            instance_arn,
                            account_assignment_creation_request_id: p.request_id.clone(),
                        },
                    )
                    .await?;
                r.account_assignment_creation_status
            };
            let status = AssignmentOperationStatus {
                request_id: status.request_id.or(Some(p.request_id)),
                ..status
            };
            let failed_deletion = p.deletion && status.status.as_deref() == Some("FAILED");
            return match self.assignment_outcome(&op.id, p.deletion, status) {
                Ok(_) => Ok(CheckStatus::Done { external_id: None }),
                Err(AdapterError::Pending { recheck_after, .. }) => {
                    Ok(CheckStatus::Pending { recheck_after })
                }
                // A deletion that ends FAILED while the assignment is in fact gone is
                // done: list again before reporting the failure.
                Err(e) if failed_deletion => {
                    if self.assignment_present(entitlement, account, false).await? {
                        Err(e)
                    } else {
                        Ok(CheckStatus::Done { external_id: None })
                    }
                }
                Err(e) => Err(e),
            };
        }
        let present = self
            .assignment_present(entitlement, account, granting)
            .await?;
        Ok(if present == granting {
            CheckStatus::Done { external_id: None }
        } else {
            CheckStatus::NotDone
        })
    }

    /// Whether the person holds the assignment now, read from the state: a direct
    /// assignment listed, or (group principal) membership of the group and, when
    /// `granting`, the group's assignment.
    async fn assignment_present(
        &self,
        entitlement: &Entitlement,
        account: &AccountRef,
        granting: bool,
    ) -> Result<bool, AdapterError> {
        // Nothing under way that we know of (e.g. after a restart): look at the state.
        let target = self.assignment_target(&entitlement.resource, entitlement.scope.as_deref())?;
        let Some(user_id) = self.known_user_id(account).await? else {
            return Ok(false);
        };
        Ok(match &target.principal {
            Principal::User => self.holds_assignment(&target, "USER", &user_id).await?,
            Principal::Group(group) => {
                let group_id = self.group_id(group).await?;
                self.membership_id(&group_id, &user_id).await?.is_some()
                    && (!granting || self.holds_assignment(&target, "GROUP", &group_id).await?)
            }
        })
    }

    /// A permission set's name by ARN: from the names resolved this run, else
    /// `DescribePermissionSet`.
    pub(crate) async fn permission_set_name(
        &self,
        arn: &str,
    ) -> Result<Option<String>, AdapterError> {
        if let Some(name) = lock(&self.permission_set_names).get(arn) {
            return Ok(Some(name.clone()));
        }
        let described: DescribePermissionSetResponse = match self
            .client
            .call(
                Service::SsoAdmin,
                "DescribePermissionSet",
                &DescribePermissionSetRequest {
                    instance_arn: self.instance_arn().await?,
                    permission_set_arn: arn.to_owned(),
                },
            )
            .await
        {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let name = described.permission_set.name;
        if let Some(n) = &name {
            lock(&self.permission_set_names).insert(arn.to_owned(), n.clone());
        }
        Ok(name)
    }

    /// One page of the instance's permission sets (`ListPermissionSets`, 100 a page),
    /// each named with `DescribePermissionSet`.
    pub(crate) async fn permission_sets_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let page: ListPermissionSetsResponse = self
            .client
            .call(
                Service::SsoAdmin,
                "ListPermissionSets",
                &ListPermissionSetsRequest {
                    instance_arn: self.instance_arn().await?,
                    max_results: PAGE_SIZE,
                    next_token: cursor.map(str::to_owned),
                },
            )
            .await?;
        let mut items = Vec::with_capacity(page.permission_sets.len());
        for arn in page.permission_sets {
            if let Some(name) = self.permission_set_name(&arn).await? {
                items.push(ResourceRecord::new(KIND_PERMISSION_SET, name).with_external_id(arn));
            }
        }
        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
    }

    /// One page of the account assignments made to a user directly
    /// (`ListAccountAssignmentsForPrincipal`, `USER`), as `permission_set` grants named
    /// by the permission set's name and scoped `account:<configured name or id>`.
    pub(crate) async fn user_assignments_page(
        &self,
        system: &SystemName,
        user_id: &str,
        login: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<GrantRecord>, Option<String>), AdapterError> {
        let page: ListAssignmentsForPrincipalResponse = self
            .client
            .call(
                Service::SsoAdmin,
                "ListAccountAssignmentsForPrincipal",
                &ListAssignmentsForPrincipalRequest {
                    instance_arn: self.instance_arn().await?,
                    principal_id: user_id.to_owned(),
                    principal_type: "USER".into(),
                    max_results: PAGE_SIZE,
                    next_token: cursor.map(str::to_owned),
                },
            )
            .await?;
        let mut items = Vec::with_capacity(page.account_assignments.len());
        for assignment in page.account_assignments {
            if assignment
                .principal_type
                .as_deref()
                .is_some_and(|t| t != "USER")
            {
                continue;
            }
            let (Some(account_id), Some(arn)) =
                (assignment.account_id, assignment.permission_set_arn)
            else {
                continue;
            };
            let Some(name) = self.permission_set_name(&arn).await? else {
                continue;
            };
            let account = self.config.account_name(&account_id).unwrap_or(account_id);
            items.push(GrantRecord {
                entitlement: Entitlement::new(system.as_str(), KIND_PERMISSION_SET, name)
                    .with_scope(format!("account:{account}")),
                account_external_id: user_id.to_owned(),
                login: Some(login.to_owned()),
            });
        }
        Ok((items, page.next_token.filter(|t| !t.is_empty())))
    }
}
