//! `PRIVACY` stream: GDPR erasure, coordinated by events. Producer of requests and consumer of
//! confirmations: auth (the coordinator); every service that holds data consumes the requests,
//! erases, and confirms through its outbox.
//!
//! An erasure is split into parts, one per tenant it touches, each its own message whose
//! envelope tenant is that tenant: every service erases a part inside that tenant's
//! row-level-security scope (the kit's group commit acts for the envelope's tenant), and the
//! coordinator counts one confirmation per part and service. Message ids are deterministic
//! per part (and service), so a re-publish is deduplicated by the stream and a redelivery by
//! the consumers' inboxes; handling a part twice deletes nothing more and confirms again.
//! See docs/adr/0009-gdpr-export-and-erasure.md.

use crate::envelope::Message;
use crate::ids::{TenantId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const ERASURE_REQUESTED_FILTER: &str = "privacy.erasure-requested.>";
pub const ERASURE_CONFIRMED_FILTER: &str = "privacy.erasure-confirmed.>";

/// Every service that must confirm each part before an erasure is complete.
pub const ERASING_SERVICES: &[&str] = &[
    "auth",
    "publisher",
    "renderer",
    "insights",
    "billing",
    "notifier",
];

/// The durable consumer of erasure requests of `service` (`<service>-erasure`).
pub fn erasure_consumer(service: &str) -> String {
    format!("{service}-erasure")
}

/// What goes in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ErasureScope {
    /// Every row of the tenant, in every service (tenant deletion, or a tenant whose sole
    /// owner is erased). Held schedules of its posts are purged and its account tokens go.
    Tenant,
    /// Only the user's personal rows in a tenant that survives: the membership and sessions,
    /// the recipient rows and the deliveries addressed to them; audit events they acted in
    /// are pseudonymised.
    Member { user_id: UserId },
}

/// One part of an erasure: erase `scope` in tenant `tenant_id` (the envelope's tenant too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequested {
    /// The erasure this part belongs to (random, 128 bits; also the status capability, so it
    /// is never logged by services).
    pub erasure_id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub scope: ErasureScope,
}

impl Message for ErasureRequested {
    const TYPE: &'static str = "privacy.erasure-requested";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("privacy.erasure-requested.{tenant}")
    }
    fn message_id(&self) -> String {
        format!(
            "privacy.erasure-requested:{}:{}",
            self.erasure_id, self.tenant_id
        )
    }
}

/// `service` has erased part `tenant_id` of erasure `erasure_id` (or had nothing to erase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureConfirmed {
    pub erasure_id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub service: String,
}

impl Message for ErasureConfirmed {
    const TYPE: &'static str = "privacy.erasure-confirmed";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("privacy.erasure-confirmed.{tenant}.{}", self.service)
    }
    fn message_id(&self) -> String {
        format!(
            "privacy.erasure-confirmed:{}:{}:{}",
            self.erasure_id, self.tenant_id, self.service
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_per_part_and_service() {
        let tenant = TenantId::new();
        let erasure_id = uuid::Uuid::new_v4();
        let requested = ErasureRequested {
            erasure_id,
            tenant_id: tenant,
            scope: ErasureScope::Tenant,
        };
        assert_eq!(
            requested.subject(tenant),
            format!("privacy.erasure-requested.{tenant}")
        );
        let other = ErasureRequested {
            tenant_id: TenantId::new(),
            ..requested.clone()
        };
        assert_ne!(requested.message_id(), other.message_id());
        let confirmed = ErasureConfirmed {
            erasure_id,
            tenant_id: tenant,
            service: "billing".into(),
        };
        assert_eq!(
            confirmed.subject(tenant),
            format!("privacy.erasure-confirmed.{tenant}.billing")
        );
        assert!(confirmed.message_id().ends_with(":billing"));
        let scope = serde_json::to_value(ErasureScope::Member {
            user_id: UserId::new(),
        })
        .unwrap();
        assert_eq!(scope["kind"], "member");
    }
}
