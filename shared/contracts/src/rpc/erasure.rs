//! auth: GDPR erasure (`DELETE /v1/me`, `DELETE /v1/tenant`) and its status
//! (`GET /v1/erasures/{id}`). The work itself is coordinated by events
//! (`messages::privacy`); these only start it and report on it.

use super::rpc;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    /// Some service has not confirmed every part yet.
    Pending,
    /// Every service confirmed every part; the user row (for `DELETE /v1/me`) is gone.
    Complete,
}

/// The answer to starting an erasure: its id, which is also the only way to read its status
/// afterwards (the caller's tokens are revoked at once). Keep it like a password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureStarted {
    /// 128 random bits, hex (32 characters).
    pub erasure_id: String,
    pub status: ErasureStatus,
}

/// An empty request: the subject (the caller, or the caller's tenant) comes from the verified
/// identity only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureStatusRequest {
    pub erasure_id: String,
}

/// One service's confirmation: when it had erased every part (absent while it has not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfirmation {
    pub service: String,
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What anyone holding the erasure id may see: status and times, nothing personal (no user,
/// tenant or email).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureView {
    pub status: ErasureStatus,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub services: Vec<ServiceConfirmation>,
}

rpc!(
    /// Erase the caller: tenants they solely own whole, their membership elsewhere, then
    /// their user row. Every session ends at once.
    EraseMe, "auth", "erasure.me", true, EraseRequest, ErasureStarted
);
rpc!(
    /// Erase the caller's tenant (owners only). Every member's sessions in it end at once;
    /// members keep their user accounts.
    EraseTenant, "auth", "erasure.tenant", true, EraseRequest, ErasureStarted
);
rpc!(
    /// The status of an erasure, by its id (a capability: no identity needed).
    GetErasure, "auth", "erasure.status", false, ErasureStatusRequest, ErasureView
);
