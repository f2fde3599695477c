//! `/v1/auth`: registration and login (public), answered by the auth service.

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::auth::{Login, LoginRequest, Register, RegisterRequest, TokenResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::REGISTER, web::post().to(register))
        .route(paths::LOGIN, web::post().to(login));
}

async fn register(ctx: Ctx, body: web::Json<RegisterRequest>) -> Result<HttpResponse, ApiError> {
    let registered = ctx.call::<Register>(body.into_inner()).await?;
    Ok(HttpResponse::Created().json(registered))
}

async fn login(
    ctx: Ctx,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(ctx.call::<Login>(body.into_inner()).await?))
}
