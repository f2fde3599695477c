//! `IDENTITY` stream: user lifecycle. Producer: auth.

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
