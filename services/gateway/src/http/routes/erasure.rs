//! GDPR erasure, answered by the auth service: `DELETE /v1/me` erases the caller (tenants they
//! solely own whole, their membership elsewhere, then their account) and `DELETE /v1/tenant`
//! the caller's tenant (owners). Both answer 202 with the erasure id and a `Location` to poll;
//! the caller's tokens stop working at once, so `GET /v1/erasures/{id}` is public: the
//! 128-bit random id is the capability, and the answer is status and times only.

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::erasure::{
    EraseMe, EraseRequest, EraseTenant, ErasureStarted, ErasureStatusRequest, ErasureView,
    GetErasure,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ME, web::delete().to(erase_me))
        .route(paths::TENANT, web::delete().to(erase_tenant))
        .route(paths::ERASURE, web::get().to(status));
}

fn accepted(started: ErasureStarted) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Location", format!("/v1/erasures/{}", started.erasure_id)))
        .json(started)
}

async fn erase_me(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    Ok(accepted(ctx.call::<EraseMe>(EraseRequest {}).await?))
}

async fn erase_tenant(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    Ok(accepted(ctx.call::<EraseTenant>(EraseRequest {}).await?))
}

async fn status(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<ErasureView>, ApiError> {
    let erasure_id = id.into_inner();
    // Only the id's own shape is accepted (32 hex digits or a hyphenated UUID), so nothing
    // else reaches auth; anything else is the same 404 as an unknown id.
    if uuid::Uuid::parse_str(&erasure_id).is_err() {
        return Err(ApiError::not_found());
    }
    Ok(web::Json(
        ctx.call::<GetErasure>(ErasureStatusRequest { erasure_id })
            .await?,
    ))
}
