//! `/v1/posts`: creating, listing, reading, editing, rescheduling and cancelling posts
//! (publisher).

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use herald_contracts::AccountId;
use herald_contracts::rpc::publisher::{
    CancelPost, CancelPostRequest, CreatePost, CreatePostRequest, GetPost, GetPostRequest,
    ListPosts, ListPostsRequest, MediaAttachment, PostList, PostStatus, PostView, ReschedulePost,
    ReschedulePostRequest, UpdatePost, UpdatePostRequest,
};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::POSTS, web::post().to(create))
        .route(paths::POSTS, web::get().to(list))
        .route(paths::POST, web::get().to(get))
        .route(paths::POST, web::patch().to(update))
        .route(paths::POST_RESCHEDULE, web::post().to(reschedule))
        .route(paths::POST_CANCEL, web::post().to(cancel));
}

async fn create(ctx: Ctx, body: web::Json<CreatePostRequest>) -> Result<HttpResponse, ApiError> {
    let post = ctx.call::<CreatePost>(body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/posts/{}", post.id)))
        .json(post))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<PostStatus>,
    limit: Option<u32>,
    before: Option<String>,
}

async fn list(ctx: Ctx, query: web::Query<ListQuery>) -> Result<web::Json<PostList>, ApiError> {
    let query = query.into_inner();
    let before = query
        .before
        .as_deref()
        .map(|raw| {
            raw.parse()
                .map_err(|_| ApiError::bad_request("before: not a post id"))
        })
        .transpose()?;
    Ok(web::Json(
        ctx.call::<ListPosts>(ListPostsRequest {
            status: query.status,
            limit: query.limit,
            before,
        })
        .await?,
    ))
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<PostView>, ApiError> {
    let post_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<GetPost>(GetPostRequest { post_id }).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    text: Option<String>,
    account_ids: Option<Vec<AccountId>>,
    media: Option<Vec<MediaAttachment>>,
}

async fn update(
    ctx: Ctx,
    id: web::Path<String>,
    body: web::Json<UpdateBody>,
) -> Result<web::Json<PostView>, ApiError> {
    let post_id = path_id(&id)?;
    let body = body.into_inner();
    Ok(web::Json(
        ctx.call::<UpdatePost>(UpdatePostRequest {
            post_id,
            text: body.text,
            account_ids: body.account_ids,
            media: body.media,
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    scheduled_at: DateTime<Utc>,
}

async fn reschedule(
    ctx: Ctx,
    id: web::Path<String>,
    body: web::Json<RescheduleBody>,
) -> Result<web::Json<PostView>, ApiError> {
    let post_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<ReschedulePost>(ReschedulePostRequest {
            post_id,
            scheduled_at: body.scheduled_at,
        })
        .await?,
    ))
}

async fn cancel(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<PostView>, ApiError> {
    let post_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<CancelPost>(CancelPostRequest { post_id })
            .await?,
    ))
}
