//! `rpc.insights.posts.metrics`: the samples of one of the caller's tenant's posts. A post of
//! another tenant looks like one without samples: no data, and no hint that it exists.

use crate::repo::samples;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::insights::{GetPostMetricsRequest, PostMetrics};
use herald_kit::RpcCtx;
use herald_kit::db::Db;

pub async fn handle(
    db: Db,
    ctx: RpcCtx,
    request: GetPostMetricsRequest,
) -> Result<PostMetrics, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let samples = samples::of_post(&mut conn, tenant, request.post_id)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "post metrics query failed");
            RpcError::internal()
        })?;
    Ok(PostMetrics {
        post_id: request.post_id,
        samples,
    })
}
