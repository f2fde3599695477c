//! `rpc.renderer.renders.create`: validate the design, store the job and `render.requested`
//! in one transaction; the render happens on the consumer, off the request path.

use super::{get_render::view, internal};
use crate::State;
use crate::render;
use crate::repo::{self, NewRender};
use diesel_async::AsyncConnection;
use herald_contracts::messages::RenderRequested;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::renderer::{CreateRenderRequest, RenderView};
use herald_contracts::{Envelope, RenderId};
use herald_kit::{Outgoing, RpcCtx, outbox};
use std::sync::Arc;

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: CreateRenderRequest,
) -> Result<RenderView, RpcError> {
    let tenant = ctx.tenant()?;
    render::validate(&request.design).map_err(|error| RpcError::invalid(error.to_string()))?;
    let render_id = RenderId::new();
    let design_hash = render::design_hash(&request.design);
    let design_json = serde_json::to_value(&request.design).map_err(internal)?;
    let event = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        Some(format!("request:{}", ctx.request_id)),
        RenderRequested {
            render_id,
            design: request.design.clone(),
        },
    );
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let created = repo::insert(
                conn,
                tenant,
                NewRender {
                    id: render_id,
                    design: design_json,
                    design_hash: &design_hash,
                    width: request.design.width as i32,
                    height: request.design.height as i32,
                },
            )
            .await?;
            outbox::enqueue(conn, &[Outgoing::message(&event)]).await?;
            Ok(created)
        })
        .await
        .map_err(internal)?;
    state.outbox.wake();
    Ok(view(created))
}
