//! `/v1/posts`: creating and reading posts (publisher).

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::publisher::{
    CreatePost, CreatePostRequest, GetPost, GetPostRequest, PostView,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::POSTS, web::post().to(create))
        .route(paths::POST, web::get().to(get));
}

async fn create(ctx: Ctx, body: web::Json<CreatePostRequest>) -> Result<HttpResponse, ApiError> {
    let post = ctx.call::<CreatePost>(body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/posts/{}", post.id)))
        .json(post))
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<PostView>, ApiError> {
    let post_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<GetPost>(GetPostRequest { post_id }).await?,
    ))
}
