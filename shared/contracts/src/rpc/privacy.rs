//! GDPR export (`POST /v1/me/export`): what the gateway asks auth, and the per-service export
//! RPCs auth fans out to assemble the archive.
//!
//! Who may call the per-service `privacy.export` endpoints: auth only. They take the tenants
//! to export from the request (auth computed which tenants the user owns from its memberships),
//! so they are never reachable through a gateway route (no route forwards to them, and the
//! policy table names every route) and they refuse a request that carries a caller
//! `Identity`: everything the gateway sends on a protected route carries one, auth's internal
//! fan-out carries none. The internal bus itself is the trust boundary, as for
//! `rpc.auth.keys.rotate` (see docs/adr/0009-gdpr-export-and-erasure.md, "Export").

use super::rpc;
use crate::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A service fills a page up to about this many bytes of rows (one row larger than this goes
/// alone), well under NATS's default `max_payload` of 1 MiB.
pub const EXPORT_PAGE_BYTES: usize = 256 * 1024;

/// The archive's format name and version, the document's `format` field.
pub const ARCHIVE_FORMAT: &str = "herald-export/1";

/// Raw archive bytes per `exports.archive` reply (base64 makes it 4/3 larger on the wire).
pub const ARCHIVE_CHUNK_BYTES: u64 = 384 * 1024;

/// One page of a service's part of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportPageRequest {
    pub export_id: uuid::Uuid,
    /// Whose export it is: rows that are this user's personal data are exported from
    /// `member_tenants` too.
    pub user_id: UserId,
    /// Tenants in which the user holds the `owner` role: every row of these is exported.
    pub owned_tenants: Vec<TenantId>,
    /// Other tenants the user is a member of: only the user's personal rows are exported.
    #[serde(default)]
    pub member_tenants: Vec<TenantId>,
    /// `next_cursor` of the previous page; absent for the first.
    pub cursor: Option<String>,
}

/// One exported row: the table it comes from and its columns as JSON (secrets left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportItem {
    /// The tenant the row belongs to; absent for rows of no tenant (the user's own record).
    pub tenant_id: Option<TenantId>,
    pub table: String,
    pub row: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportPage {
    pub items: Vec<ExportItem>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

rpc!(
    /// publisher's part of an export (accounts without their tokens, posts, targets).
    PublisherExport, "publisher", "privacy.export", false, ExportPageRequest, ExportPage
);
rpc!(
    /// renderer's part of an export (render jobs and their designs; image metadata).
    RendererExport, "renderer", "privacy.export", false, ExportPageRequest, ExportPage
);
rpc!(
    /// insights' part of an export (tracked posts, metric samples).
    InsightsExport, "insights", "privacy.export", false, ExportPageRequest, ExportPage
);
rpc!(
    /// billing's part of an export (the usage ledger).
    BillingExport, "billing", "privacy.export", false, ExportPageRequest, ExportPage
);
rpc!(
    /// notifier's part of an export (recipients, notifications, email deliveries).
    NotifierExport, "notifier", "privacy.export", false, ExportPageRequest, ExportPage
);

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Accepted; the archive is being assembled.
    Pending,
    /// The archive is ready for download until `expires_at`.
    Complete,
    /// A service could not deliver its part; nothing is served. Request a new export.
    Failed,
    /// Complete once, and its archive has been deleted.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestExportRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetExportRequest {
    pub export_id: uuid::Uuid,
}

/// An export as its requester sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportView {
    pub export_id: uuid::Uuid,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the archive is deleted (complete exports).
    pub expires_at: Option<DateTime<Utc>>,
    /// Size of the archive (gzip-compressed JSON) in bytes, when complete.
    pub archive_bytes: Option<i64>,
    /// Why it failed (which part could not be collected), safe to show.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArchiveChunkRequest {
    pub export_id: uuid::Uuid,
    /// Byte offset into the archive.
    pub offset: u64,
}

/// A slice of a complete export's archive (`application/gzip`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveChunk {
    pub total_bytes: u64,
    pub offset: u64,
    /// At most `ARCHIVE_CHUNK_BYTES` raw bytes, base64 (standard, padded).
    pub data_base64: String,
}

rpc!(
    /// Start an export of everything the caller owns (202; assembled asynchronously). While
    /// one of the caller's exports is pending, that one is returned instead of a new one.
    RequestExport, "auth", "exports.create", true, RequestExportRequest, ExportView
);
rpc!(
    /// The caller's export, by id (only the user who requested it).
    GetExport, "auth", "exports.get", true, GetExportRequest, ExportView
);
rpc!(
    /// A chunk of the caller's complete export's archive.
    GetArchiveChunk, "auth", "exports.archive", true, GetArchiveChunkRequest, ArchiveChunk
);
