//! `/v1/posts/{id}/metrics`: how a post performed (insights).
//!
//! Insights keeps samples, not posts: asked about a post it has no samples for, it answers
//! with an empty list, whoever owns the post. The publisher (which owns posts) is asked too,
//! so another tenant's post, or no post at all, is the same uniform 404 as `GET /v1/posts/{id}`.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::web;
use herald_contracts::rpc::insights::{GetPostMetrics, GetPostMetricsRequest, PostMetrics};
use herald_contracts::rpc::publisher::{GetPost, GetPostRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::POST_METRICS, web::get().to(get));
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<PostMetrics>, ApiError> {
    let post_id = path_id(&id)?;
    // Both at once; the post's 404 wins over any samples.
    let (_post, metrics) = futures::try_join!(
        ctx.call::<GetPost>(GetPostRequest { post_id }),
        ctx.call::<GetPostMetrics>(GetPostMetricsRequest { post_id }),
    )?;
    Ok(web::Json(metrics))
}
