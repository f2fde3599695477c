//! auth: members' roles, invitations, email verification, password reset and `GET /v1/me`.
//!
//! Tokens sent by email (verification, reset, invitation) are 256-bit random, base64url,
//! stored only as sha256, single use and expiring; a token that is unknown, used, revoked or
//! expired is the same `invalid_input` "invalid or expired token".

use super::{Role, rpc};
use crate::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What every refused email token is told.
pub const INVALID_TOKEN: &str = "invalid or expired token";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    /// The member (the gateway fills it from the path).
    pub user_id: UserId,
    pub role: Role,
}

rpc!(
    /// Change a member's role in the caller's tenant. Admins manage admins, editors and
    /// viewers; only an owner grants or takes `owner`; the last owner keeps it (409).
    ChangeMemberRole, "auth", "members.role", true, ChangeRoleRequest, super::auth::Member
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email: String,
    /// At most the inviter's own role.
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation as its tenant's admins see it (never its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationList {
    /// Newest first, at most 200.
    pub invitations: Vec<Invitation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInvitationRequest {
    pub id: uuid::Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
    /// A new account's password, or an existing account's current one.
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationResponse {
    /// Log in with this `tenant_id` to act in the tenant joined.
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    /// Whether the account was created by this acceptance.
    pub new_account: bool,
}

rpc!(
    /// Invite someone to the caller's tenant with a role; the link goes out by email.
    CreateInvitation, "auth", "invitations.create", true, CreateInvitationRequest, Invitation
);
rpc!(
    /// The caller's tenant's invitations.
    ListInvitations, "auth", "invitations.list", true, super::auth::NoParams, InvitationList
);
rpc!(
    /// Revoke a pending invitation of the caller's tenant.
    RevokeInvitation, "auth", "invitations.revoke", true, RevokeInvitationRequest, super::auth::Done
);
rpc!(
    /// Accept an invitation with its emailed token (public): creates the account or checks
    /// the existing one's password, and adds the membership. Single use.
    AcceptInvitation, "auth", "invitations.accept", false, AcceptInvitationRequest, AcceptInvitationResponse
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: String,
}

rpc!(
    /// Confirm an email address with its emailed token (public). Single use.
    VerifyEmail, "auth", "email.verify", false, VerifyEmailRequest, super::auth::Done
);
rpc!(
    /// Send the caller a new verification email (throttled per account).
    ResendVerification, "auth", "email.resend", true, super::auth::NoParams, super::auth::Done
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
    /// Set by the gateway only (it overwrites whatever a client sent), for per-IP throttling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetRequest {
    pub token: String,
    pub password: String,
}

rpc!(
    /// Ask for a password-reset email (public). The answer is the same whether or not the
    /// address is registered; throttled per address and per client IP.
    RequestPasswordReset, "auth", "password-reset.request", false, PasswordResetRequest, super::auth::Done
);
rpc!(
    /// Set a new password with an emailed reset token (public); every session of the user ends.
    ConfirmPasswordReset, "auth", "password-reset.confirm", false, ConfirmPasswordResetRequest, super::auth::Done
);

/// A tenant the user belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipView {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub user_id: UserId,
    pub email: String,
    pub email_verified: bool,
    /// The tenant this session acts in, and the caller's role there (from the database).
    pub tenant_id: TenantId,
    pub role: Role,
    /// Every tenant the user belongs to (log in with `tenant_id` to act in another).
    pub memberships: Vec<MembershipView>,
}

rpc!(
    /// Who the caller is.
    GetMe, "auth", "me", true, super::auth::NoParams, Me
);
