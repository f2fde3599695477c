//! `rpc.auth.exports.create|get|archive`: a user asks for a GDPR export of everything they
//! own (answered at once with the pending export; the `auth-exports` consumer assembles it),
//! reads its status, and downloads the archive in chunks. An export is visible only to the
//! user who asked, in the tenant they asked from; anyone else gets "not found".

use super::{Auth, internal, unavailable};
use crate::exports;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel_async::AsyncConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::export::ExportRequested;
use herald_contracts::rpc::privacy::{
    ARCHIVE_CHUNK_BYTES, ArchiveChunk, ExportView, GetArchiveChunkRequest, GetExportRequest,
    RequestExportRequest,
};
use herald_contracts::rpc::{ErrorCode, Identity, RpcError};
use herald_kit::{Outgoing, RpcCtx, outbox};

pub const NO_SUCH_EXPORT: &str = "no such export";
pub const NO_ARCHIVE: &str = "no archive: the export is not complete, or has expired";

/// Exports are a person's: API keys (which act for a tenant, not a person) may not ask. The
/// gateway's policy says so too; checked again here, where the data is.
fn person(ctx: &RpcCtx) -> Result<&Identity, RpcError> {
    let identity = ctx.identity()?;
    if identity.api_key_id.is_some() {
        return Err(RpcError::new(ErrorCode::Forbidden, "sessions only"));
    }
    Ok(identity)
}

pub async fn create(
    auth: Auth,
    ctx: RpcCtx,
    _request: RequestExportRequest,
) -> Result<ExportView, RpcError> {
    let identity = person(&ctx)?;
    let tenant = identity.tenant_id;
    let user = identity.user_id;
    let export_id = uuid::Uuid::new_v4();
    let envelope = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        None,
        ExportRequested {
            export_id,
            user_id: user,
        },
    );
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let view = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            if exports::insert_pending(conn, export_id, tenant, user).await? {
                outbox::enqueue(conn, &[Outgoing::message(&envelope)]).await?;
            }
            exports::pending(conn, tenant, user).await
        })
        .await
        .map_err(|e| internal("recording the export", e))?
        .ok_or_else(|| internal("recording the export", "pending export not found"))?;
    if view.export_id == export_id {
        auth.outbox.wake();
        tracing::info!(tenant.id = %tenant, user.id = %user, export.id = %export_id, "export requested");
    }
    Ok(view)
}

pub async fn get(
    auth: Auth,
    ctx: RpcCtx,
    request: GetExportRequest,
) -> Result<ExportView, RpcError> {
    let identity = person(&ctx)?;
    let mut conn = auth
        .db
        .tenant(identity.tenant_id)
        .await
        .map_err(unavailable)?;
    exports::find(
        &mut conn,
        identity.tenant_id,
        identity.user_id,
        request.export_id,
    )
    .await
    .map_err(|e| internal("reading the export", e))?
    .ok_or_else(|| RpcError::not_found(NO_SUCH_EXPORT))
}

pub async fn archive(
    auth: Auth,
    ctx: RpcCtx,
    request: GetArchiveChunkRequest,
) -> Result<ArchiveChunk, RpcError> {
    let identity = person(&ctx)?;
    let offset =
        i64::try_from(request.offset).map_err(|_| RpcError::invalid("offset out of range"))?;
    let mut conn = auth
        .db
        .tenant(identity.tenant_id)
        .await
        .map_err(unavailable)?;
    let (total, data) = exports::archive_chunk(
        &mut conn,
        identity.tenant_id,
        identity.user_id,
        request.export_id,
        offset,
        ARCHIVE_CHUNK_BYTES as i64,
    )
    .await
    .map_err(|e| internal("reading the archive", e))?
    .ok_or_else(|| RpcError::not_found(NO_ARCHIVE))?;
    let total = u64::try_from(total).unwrap_or(0);
    if request.offset > total {
        return Err(RpcError::invalid("offset past the end of the archive"));
    }
    Ok(ArchiveChunk {
        total_bytes: total,
        offset: request.offset,
        data_base64: STANDARD.encode(data),
    })
}
