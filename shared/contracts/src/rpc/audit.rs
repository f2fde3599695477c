//! auth: the tenant's audit log (`GET /v1/audit`), newest first, read with a cursor.

use super::rpc;
use crate::messages::audit::{Actor, Outcome, Target};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Events per page unless the caller asks for fewer (or more, up to `MAX_PAGE`).
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// Filters, all optional; the tenant comes from the verified identity only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAuditRequest {
    /// Exact action name, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// The actor's id: a user id, an API key id or a service name.
    pub actor: Option<String>,
    /// Events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Events before this time.
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub event_id: uuid::Uuid,
    pub action: String,
    pub actor: Actor,
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub client_ip: Option<String>,
    pub request_id: String,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

rpc!(
    /// The caller's tenant's audit events (owners and admins).
    ListAudit, "auth", "audit.list", true, ListAuditRequest, AuditPage
);
