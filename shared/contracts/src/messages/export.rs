//! `IDENTITY` stream: a GDPR export to assemble. Producer and consumer: auth. The message is
//! the durable work item: auth writes it through its outbox in the transaction that records
//! the export, and any auth replica's `auth-exports` consumer assembles the archive; a replica
//! that dies mid-way leaves the message unacknowledged, so another one starts it again.

use crate::envelope::Message;
use crate::ids::{TenantId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const EXPORT_REQUESTED_FILTER: &str = "identity.export-requested.>";

/// The durable consumer that assembles exports.
pub const EXPORT_CONSUMER: &str = "auth-exports";

/// Assemble export `export_id` of `user_id`; the envelope's tenant is the tenant the user
/// asked from (where the export's record lives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequested {
    pub export_id: uuid::Uuid,
    pub user_id: UserId,
}

impl Message for ExportRequested {
    const TYPE: &'static str = "identity.export-requested";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("identity.export-requested.{tenant}.{}", self.export_id)
    }
    fn message_id(&self) -> String {
        format!("identity.export-requested:{}", self.export_id)
    }
}
