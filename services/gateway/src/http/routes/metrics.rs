//! `/v1/posts/{id}/metrics`: how a post performed (insights).

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::web;
use herald_contracts::rpc::insights::{GetPostMetrics, GetPostMetricsRequest, PostMetrics};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::POST_METRICS, web::get().to(get));
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<PostMetrics>, ApiError> {
    let post_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<GetPostMetrics>(GetPostMetricsRequest { post_id })
            .await?,
    ))
}
