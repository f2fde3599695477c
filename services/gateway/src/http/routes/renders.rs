//! `/v1/renders`: queueing designs for rendering, reading jobs and their images (renderer).

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_contracts::rpc::renderer::{
    CreateRender, CreateRenderRequest, GetAsset, GetAssetRequest, GetRender, GetRenderContent,
    GetRenderRequest, RenderView, is_content_hash,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::RENDERS, web::post().to(create))
        .route(paths::RENDER, web::get().to(get))
        .route(paths::RENDER_IMAGE, web::get().to(image))
        .route(paths::MEDIA, web::get().to(media));
}

/// Accepted, not done: the job renders asynchronously; poll the `Location`.
async fn create(ctx: Ctx, body: web::Json<CreateRenderRequest>) -> Result<HttpResponse, ApiError> {
    let render = ctx.call::<CreateRender>(body.into_inner()).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/renders/{}", render.id)))
        .json(render))
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<RenderView>, ApiError> {
    let render_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<GetRender>(GetRenderRequest { render_id })
            .await?,
    ))
}

/// The image types the renderer produces; anything else is served as opaque bytes.
fn safe_content_type(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// `GET /media/<sha256>.png`: the public origin of rendered images. Content-addressed, so the
/// bytes behind a URL never change: cacheable forever.
async fn media(ctx: Ctx, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let hash = file
        .strip_suffix(".png")
        .filter(|hash| is_content_hash(hash))
        .ok_or_else(ApiError::not_found)?;
    let content = ctx
        .call::<GetAsset>(GetAssetRequest {
            content_hash: hash.to_owned(),
        })
        .await?;
    let bytes = STANDARD
        .decode(content.data_base64.as_bytes())
        .map_err(|error| {
            tracing::error!(error = %error, "renderer sent undecodable image data");
            ApiError::internal()
        })?;
    Ok(HttpResponse::Ok()
        .content_type(safe_content_type(&content.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ETAG, format!("\"{hash}\"")))
        .body(bytes))
}

async fn image(ctx: Ctx, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let render_id = path_id(&id)?;
    let content = ctx
        .call::<GetRenderContent>(GetRenderRequest { render_id })
        .await?;
    let bytes = STANDARD.decode(content.data_base64.as_bytes()).map_err(|error| {
        tracing::error!(render.id = %render_id, error = %error, "renderer sent undecodable image data");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type(safe_content_type(&content.content_type))
        .body(bytes))
}
