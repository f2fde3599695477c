//! `/v1/api-keys`: the tenant's API keys, managed by admins and owners with a session (keys
//! never manage keys; see the policy table), answered by the auth service. The key string is
//! in the creation response only; a revoked key is refused by every gateway within a second.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::api_keys::{
    ApiKeyList, CreateApiKey, CreateApiKeyRequest, ListApiKeys, RevokeApiKey, RevokeApiKeyRequest,
};
use herald_contracts::rpc::auth::NoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::API_KEYS, web::post().to(create))
        .route(paths::API_KEYS, web::get().to(list))
        .route(paths::API_KEY, web::delete().to(revoke));
}

async fn create(ctx: Ctx, body: web::Json<CreateApiKeyRequest>) -> Result<HttpResponse, ApiError> {
    let created = ctx.call::<CreateApiKey>(body.into_inner()).await?;
    // The secret is in this body only: never cached anywhere.
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(created))
}

async fn list(ctx: Ctx) -> Result<web::Json<ApiKeyList>, ApiError> {
    Ok(web::Json(ctx.call::<ListApiKeys>(NoParams {}).await?))
}

async fn revoke(ctx: Ctx, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id)?;
    ctx.call::<RevokeApiKey>(RevokeApiKeyRequest { id }).await?;
    Ok(HttpResponse::NoContent().finish())
}
