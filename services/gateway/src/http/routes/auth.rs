//! `/v1/auth` and `/v1/me`: registration, login and refresh (public); logout, logging out
//! everywhere and changing the password (any member), answered by the auth service.

use crate::http::State;
use crate::http::client_ip::ClientIp;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use herald_contracts::rpc::auth::{
    ChangePassword, ChangePasswordRequest, Login, LoginRequest, Logout, LogoutAll, LogoutRequest,
    NoParams, Refresh, RefreshRequest, Register, RegisterRequest, TokenResponse,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::REGISTER, web::post().to(register))
        .route(paths::LOGIN, web::post().to(login))
        .route(paths::REFRESH, web::post().to(refresh))
        .route(paths::LOGOUT, web::post().to(logout))
        .route(paths::LOGOUT_ALL, web::post().to(logout_all))
        .route(paths::ME_PASSWORD, web::post().to(change_password));
}

async fn register(ctx: Ctx, body: web::Json<RegisterRequest>) -> Result<HttpResponse, ApiError> {
    let registered = ctx.call::<Register>(body.into_inner()).await?;
    Ok(HttpResponse::Created().json(registered))
}

async fn login(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let mut request = body.into_inner();
    // Auth throttles per IP on this field: only the edge's view counts, never the client's.
    request.client_ip = Some(ClientIp::from_request(&req).0.to_string());
    Ok(web::Json(ctx.call::<Login>(request).await?))
}

async fn refresh(
    ctx: Ctx,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(ctx.call::<Refresh>(body.into_inner()).await?))
}

/// The session of the caller's token. The edge verified the token already; it is read again
/// here because the identity it passes on carries no session.
async fn session_of(req: &HttpRequest) -> Result<uuid::Uuid, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(ApiError::unauthenticated)?;
    let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
        tracing::error!("gateway state missing");
        ApiError::internal()
    })?;
    let verified = state
        .verifier
        .verify_session(token)
        .await
        .map_err(|error| {
            tracing::debug!(reason = %error, "token refused");
            ApiError::invalid_token()
        })?;
    verified.session.ok_or_else(|| {
        ApiError::bad_request("this token belongs to no session; log out everywhere instead")
    })
}

async fn logout(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session_id = session_of(&req).await?;
    ctx.call::<Logout>(LogoutRequest { session_id }).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn logout_all(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.call::<LogoutAll>(NoParams {}).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every session ends; the answer is the tokens of a new one (see auth's `password`).
async fn change_password(
    ctx: Ctx,
    body: web::Json<ChangePasswordRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(
        ctx.call::<ChangePassword>(body.into_inner()).await?,
    ))
}
