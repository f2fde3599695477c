//! `IDENTITY` stream: user lifecycle and the emails auth asks the notifier to send. Producer: auth.

use crate::envelope::Message;
use crate::ids::{TenantId, UserId};
use crate::rpc::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const USER_REGISTERED_FILTER: &str = "identity.user-registered.>";

/// A user joined a tenant (the owner, at registration). Carries the email address so the
/// notifier can reach people; it is personal data and is erased with the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
}

impl Message for UserRegistered {
    const TYPE: &'static str = "identity.user-registered";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("identity.user-registered.{tenant}.{}", self.user_id)
    }
    fn message_id(&self) -> String {
        format!("identity.user-registered:{}", self.user_id)
    }
}

pub const EMAIL_REQUESTED_FILTER: &str = "identity.email-requested.>";

/// Why auth asks for an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Confirms the address a user registered with.
    VerifyEmail,
    /// Sets a new password (asked for without being signed in).
    PasswordReset,
    /// Joins a tenant with a role.
    Invitation,
}

impl EmailKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::Invitation => "invitation",
        }
    }
}

/// Auth asks the notifier to send one email that carries a single-use link (verification,
/// password reset, invitation). The link holds a secret token: auth publishes the message
/// with a per-message TTL equal to the token's lifetime, so the `IDENTITY` stream drops it
/// once the link is dead anyway (docs/security.md, "Emails that carry a token").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequested {
    /// Unique per email (the token's row id); the message id is derived from it.
    pub email_id: uuid::Uuid,
    pub kind: EmailKind,
    /// The recipient address (validated by auth).
    pub to: String,
    /// The page of the web app that uses the token, the token included
    /// (`<public app url>/<page>#token=<token>`).
    pub link: String,
    /// When the link stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Invitations: the tenant's name, to say what the invitation is to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    /// Invitations: the role the invitee gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Message for EmailRequested {
    const TYPE: &'static str = "identity.email-requested";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("identity.email-requested.{tenant}.{}", self.email_id)
    }
    fn message_id(&self) -> String {
        format!("identity.email-requested:{}", self.email_id)
    }
}
