//! GDPR export (auth): `POST /v1/me/export` starts one and answers 202 with its id and a
//! `Location`; `GET /v1/exports/{id}` is its status; `GET /v1/exports/{id}/archive` downloads
//! the archive (gzip-compressed JSON, `herald-export/1`) as an attachment, streamed to the
//! client chunk by chunk as they are fetched from auth, so a large archive never sits whole in
//! the gateway. Only the user who asked sees an export; anyone else gets 404.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_contracts::rpc::privacy::{
    ArchiveChunk, ExportView, GetArchiveChunk, GetArchiveChunkRequest, GetExport, GetExportRequest,
    RequestExport, RequestExportRequest,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ME_EXPORT, web::post().to(create))
        .route(paths::EXPORT, web::get().to(get))
        .route(paths::EXPORT_ARCHIVE, web::get().to(archive));
}

/// Accepted, not done: the archive is assembled asynchronously; poll the `Location`.
async fn create(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let export = ctx.call::<RequestExport>(RequestExportRequest {}).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((
            header::LOCATION,
            format!("/v1/exports/{}", export.export_id),
        ))
        .json(export))
}

async fn get(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<ExportView>, ApiError> {
    let export_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<GetExport>(GetExportRequest { export_id })
            .await?,
    ))
}

fn decode(chunk: &ArchiveChunk) -> Result<web::Bytes, ApiError> {
    STANDARD
        .decode(chunk.data_base64.as_bytes())
        .map(web::Bytes::from)
        .map_err(|error| {
            tracing::error!(error = %error, "auth sent undecodable archive data");
            ApiError::internal()
        })
}

/// The first chunk decides the answer (404 before any byte is sent); the rest follow as the
/// body streams. A chunk that cannot be fetched ends the body short of `Content-Length`, so
/// the client sees a failed download, never a silently truncated archive.
async fn archive(ctx: Ctx, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let export_id = path_id(&id)?;
    let first = ctx
        .call::<GetArchiveChunk>(GetArchiveChunkRequest {
            export_id,
            offset: 0,
        })
        .await?;
    let total = first.total_bytes;
    let first_bytes = decode(&first)?;
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/gzip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"herald-export-{export_id}.json.gz\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if first_bytes.len() as u64 >= total {
        return Ok(response.body(first_bytes));
    }
    let next = first_bytes.len() as u64;
    let rest = futures::stream::unfold(
        (ctx, next, false),
        move |(ctx, offset, failed)| async move {
            if failed || offset >= total {
                return None;
            }
            let chunk = ctx
                .call::<GetArchiveChunk>(GetArchiveChunkRequest { export_id, offset })
                .await;
            match chunk.and_then(|chunk| decode(&chunk)) {
                Ok(bytes) if !bytes.is_empty() => {
                    let offset = offset + bytes.len() as u64;
                    Some((Ok(bytes), (ctx, offset, false)))
                }
                Ok(_) | Err(_) => {
                    tracing::warn!(export.id = %export_id, offset, "archive download cut short");
                    Some((
                        Err(actix_web::error::ErrorServiceUnavailable("archive chunk")),
                        (ctx, offset, true),
                    ))
                }
            }
        },
    );
    let body = futures::stream::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, actix_web::Error>(first_bytes) }),
        rest,
    );
    Ok(response.no_chunking(total).streaming(body))
}
