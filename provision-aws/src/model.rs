//! Wire types of the Identity Store and SSO Admin operations the adapter calls
//! (AWS JSON 1.1; member names as in the botocore models).
//!
//! Replies are read leniently: absent optional members may be missing (AWS) or
//! `null` (moto), and lists may be `null` too.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads `null` as the type's default (an empty list, an empty string).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---- Identity Store ---------------------------------------------------------------

/// A user's name parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Name {
    /// Given (first) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family (last) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The full name, formatted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
}

/// One email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Email {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `work`, `home`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// The primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// `CreateUser` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The unique user name (our login).
    pub user_name: String,
    /// Display name.
    pub display_name: String,
    /// Name parts (Identity Center requires given and family names).
    pub name: Name,
    /// Email addresses.
    pub emails: Vec<Email>,
}

/// `CreateUser` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserResponse {
    /// The new user's id.
    pub user_id: String,
}

/// A `UniqueAttribute` alternate identifier.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UniqueAttribute {
    /// `userName`, `emails.value`, `displayName`.
    pub attribute_path: String,
    /// The value (a JSON document in the model; a string here).
    pub attribute_value: String,
}

/// An `AlternateIdentifier` (only the unique-attribute form is used).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlternateIdentifier {
    /// The attribute to look up by.
    pub unique_attribute: UniqueAttribute,
}

/// `GetUserId` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserIdRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// How to find the user.
    pub alternate_identifier: AlternateIdentifier,
}

/// `GetUserId` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserIdResponse {
    /// The user's id.
    pub user_id: String,
}

/// `GetGroupId` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupIdRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// How to find the group.
    pub alternate_identifier: AlternateIdentifier,
}

/// `GetGroupId` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupIdResponse {
    /// The group's id.
    pub group_id: String,
}

/// Identity-store id plus one user id (`DeleteUser`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserRef {
    /// The identity store.
    pub identity_store_id: String,
    /// The user.
    pub user_id: String,
}

/// `ListUsers` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// Page size (1–100).
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A user as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    /// The user's id.
    pub user_id: String,
    /// The user name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Name parts.
    #[serde(default)]
    pub name: Option<Name>,
    /// Emails.
    #[serde(default, deserialize_with = "null_default")]
    pub emails: Vec<Email>,
    /// `ENABLED` or `DISABLED` (absent on older replies).
    #[serde(default)]
    pub user_status: Option<String>,
}

/// `ListUsers` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub users: Vec<User>,
    /// The next page's token; absent (or null) on the last page.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A group member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberId {
    /// The member user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `CreateGroupMembership` and `GetGroupMembershipId` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMemberRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The group.
    pub group_id: String,
    /// The member.
    pub member_id: MemberId,
}

/// Output carrying a `MembershipId`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MembershipIdResponse {
    /// The membership's id.
    pub membership_id: String,
}

/// `DeleteGroupMembership` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteGroupMembershipRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The membership (not the user and group).
    pub membership_id: String,
}

/// `ListGroupMemberships` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupMembershipsRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The group.
    pub group_id: String,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One membership as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMembership {
    /// The membership's id.
    #[serde(default)]
    pub membership_id: Option<String>,
    /// The member.
    #[serde(default)]
    pub member_id: Option<MemberId>,
}

/// `ListGroupMemberships` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupMembershipsResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub group_memberships: Vec<GroupMembership>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `GroupMembership` as `ListGroupMembershipsForMember` lists it: with the group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberGroupMembership {
    /// The membership's id.
    #[serde(default)]
    pub membership_id: Option<String>,
    /// The group.
    #[serde(default)]
    pub group_id: Option<String>,
}

/// `ListGroupMembershipsForMember` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupMembershipsForMemberRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The member.
    pub member_id: MemberId,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `ListGroupMembershipsForMember` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupMembershipsForMemberResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub group_memberships: Vec<MemberGroupMembership>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `ListGroups` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A group as listed or described.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    /// The group's id.
    pub group_id: String,
    /// Its display name (how policies name it).
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `ListGroups` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub groups: Vec<Group>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `DescribeGroup` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeGroupRequest {
    /// The identity store.
    pub identity_store_id: String,
    /// The group.
    pub group_id: String,
}

/// An output whose members the adapter does not use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Empty {}

// ---- SSO Admin --------------------------------------------------------------------

/// `ListInstances` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInstancesRequest {
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One Identity Center instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    /// `arn:aws:sso:::instance/ssoins-…`.
    #[serde(default)]
    pub instance_arn: Option<String>,
    /// `d-…`.
    #[serde(default)]
    pub identity_store_id: Option<String>,
}

/// `ListInstances` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInstancesResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub instances: Vec<Instance>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `ListPermissionSets` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPermissionSetsRequest {
    /// The instance.
    pub instance_arn: String,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `ListPermissionSets` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPermissionSetsResponse {
    /// Permission set ARNs.
    #[serde(default, deserialize_with = "null_default")]
    pub permission_sets: Vec<String>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `DescribePermissionSet` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePermissionSetRequest {
    /// The instance.
    pub instance_arn: String,
    /// The permission set.
    pub permission_set_arn: String,
}

/// A permission set's details.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionSet {
    /// Its name, as policies write it.
    #[serde(default)]
    pub name: Option<String>,
    /// Its ARN.
    #[serde(default)]
    pub permission_set_arn: Option<String>,
}

/// `DescribePermissionSet` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePermissionSetResponse {
    /// The details.
    pub permission_set: PermissionSet,
}

/// `CreateAccountAssignment` / `DeleteAccountAssignment` input (the same six members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountAssignmentRequest {
    /// The instance.
    pub instance_arn: String,
    /// The 12-digit account id.
    pub target_id: String,
    /// Always `AWS_ACCOUNT`.
    pub target_type: String,
    /// The permission set.
    pub permission_set_arn: String,
    /// `USER` or `GROUP`.
    pub principal_type: String,
    /// The identity-store user or group id.
    pub principal_id: String,
}

/// The status of an asynchronous assignment creation or deletion.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssignmentOperationStatus {
    /// `IN_PROGRESS`, `FAILED` or `SUCCEEDED`.
    #[serde(default)]
    pub status: Option<String>,
    /// The request id to poll with.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Why it failed, when it did.
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// `CreateAccountAssignment` / `DescribeAccountAssignmentCreationStatus` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreationStatusResponse {
    /// The status.
    pub account_assignment_creation_status: AssignmentOperationStatus,
}

/// `DeleteAccountAssignment` / `DescribeAccountAssignmentDeletionStatus` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletionStatusResponse {
    /// The status.
    pub account_assignment_deletion_status: AssignmentOperationStatus,
}

/// `DescribeAccountAssignmentCreationStatus` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCreationStatusRequest {
    /// The instance.
    pub instance_arn: String,
    /// The creation request's id.
    pub account_assignment_creation_request_id: String,
}

/// `DescribeAccountAssignmentDeletionStatus` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDeletionStatusRequest {
    /// The instance.
    pub instance_arn: String,
    /// The deletion request's id.
    pub account_assignment_deletion_request_id: String,
}

/// `ListAccountAssignments` input: the account and the permission set are both required.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccountAssignmentsRequest {
    /// The instance.
    pub instance_arn: String,
    /// The account.
    pub account_id: String,
    /// The permission set.
    pub permission_set_arn: String,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One assignment as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountAssignment {
    /// `USER` or `GROUP`.
    #[serde(default)]
    pub principal_type: Option<String>,
    /// The user or group id.
    #[serde(default)]
    pub principal_id: Option<String>,
}

/// `ListAccountAssignments` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccountAssignmentsResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub account_assignments: Vec<AccountAssignment>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn null_members_read_as_absent() {
        let r: ListUsersResponse = serde_json::from_str(
            r#"{"Users":[{"UserId":"u1","UserName":"a","Emails":null,"Name":null,"UserStatus":null}],"NextToken":null}"#,
        )
        .unwrap();
        assert_eq!(r.users[0].user_id, "u1");
        assert!(r.users[0].emails.is_empty());
        assert!(r.next_token.is_none());
        let r: ListGroupMembershipsResponse =
            serde_json::from_str(r#"{"GroupMemberships":null}"#).unwrap();
        assert!(r.group_memberships.is_empty());
    }
}

/// `ListAccountAssignmentsForPrincipal` input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssignmentsForPrincipalRequest {
    /// The instance.
    pub instance_arn: String,
    /// The user or group id.
    pub principal_id: String,
    /// `USER` or `GROUP`.
    pub principal_type: String,
    /// Page size.
    pub max_results: u32,
    /// The previous page's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One assignment of a principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssignmentForPrincipal {
    /// The 12-digit account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// The permission set.
    #[serde(default)]
    pub permission_set_arn: Option<String>,
    /// The principal.
    #[serde(default)]
    pub principal_id: Option<String>,
    /// `USER` or `GROUP`.
    #[serde(default)]
    pub principal_type: Option<String>,
}

/// `ListAccountAssignmentsForPrincipal` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssignmentsForPrincipalResponse {
    /// The page.
    #[serde(default, deserialize_with = "null_default")]
    pub account_assignments: Vec<AssignmentForPrincipal>,
    /// The next page's token.
    #[serde(default)]
    pub next_token: Option<String>,
}
