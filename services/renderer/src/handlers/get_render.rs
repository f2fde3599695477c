//! `rpc.renderer.renders.get`, `rpc.renderer.renders.content` and `rpc.renderer.assets.get`.

use super::internal;
use crate::State;
use crate::repo::{self, Render};
use base64::Engine;
use herald_contracts::RenderId;
use herald_contracts::rpc::renderer::{
    GetAssetRequest, GetRenderRequest, RenderContent, RenderStatus, RenderView, is_content_hash,
};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::RpcCtx;
use object_store::ObjectStoreExt;
use std::sync::Arc;

pub(crate) fn view(render: Render) -> RenderView {
    RenderView {
        id: RenderId::from_uuid(render.id),
        status: match render.status.as_str() {
            "completed" => RenderStatus::Completed,
            "failed" => RenderStatus::Failed,
            _ => RenderStatus::Pending,
        },
        width: render.width.max(0) as u32,
        height: render.height.max(0) as u32,
        content_hash: render.content_hash,
        error: render.error,
        created_at: render.created_at,
        completed_at: render.completed_at,
    }
}

async fn load(state: &State, ctx: &RpcCtx, id: RenderId) -> Result<Render, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    repo::find(&mut conn, tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| RpcError::not_found("render not found"))
}

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: GetRenderRequest,
) -> Result<RenderView, RpcError> {
    Ok(view(load(&state, &ctx, request.render_id).await?))
}

pub async fn content(
    state: Arc<State>,
    ctx: RpcCtx,
    request: GetRenderRequest,
) -> Result<RenderContent, RpcError> {
    let render = load(&state, &ctx, request.render_id).await?;
    let Some(key) = render.object_key.filter(|_| render.status == "completed") else {
        return Err(RpcError::new(
            ErrorCode::Conflict,
            "render is not completed",
        ));
    };
    read(&state, key).await
}

/// `rpc.renderer.assets.get`: a rendered image by its content hash. No identity: the hash is
/// the capability (only whoever holds the render knows it), as a public media URL is.
pub async fn asset(
    state: Arc<State>,
    _ctx: RpcCtx,
    request: GetAssetRequest,
) -> Result<RenderContent, RpcError> {
    let hash = request.content_hash;
    if !is_content_hash(&hash) {
        return Err(RpcError::invalid(
            "content_hash must be 64 lowercase hex digits",
        ));
    }
    // Cross-tenant by design: the content hash is the capability, and the same bytes are one
    // object whichever tenant rendered them; only the object key is read.
    let mut conn = state
        .db
        .system("asset by content hash: the hash is the capability")
        .await
        .map_err(|_| RpcError::unavailable())?;
    let key = repo::object_by_hash(&mut conn, &hash)
        .await
        .map_err(internal)?
        .ok_or_else(|| RpcError::not_found("asset not found"))?;
    drop(conn);
    read(&state, key).await
}

async fn read(state: &State, key: String) -> Result<RenderContent, RpcError> {
    let bytes = state
        .store
        .get(&object_store::path::Path::from(key))
        .await
        .map_err(internal)?
        .bytes()
        .await
        .map_err(internal)?;
    Ok(RenderContent {
        content_type: "image/png".into(),
        data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
