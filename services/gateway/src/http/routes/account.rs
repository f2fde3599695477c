//! `/v1/me` (who the caller is) and the account flows that work from an emailed link:
//! verifying the address (`/v1/auth/verify-email`, public; `…/resend`, session) and resetting
//! a forgotten password (`/v1/auth/password-reset`, public, always 202; `…/confirm`, public).
//! Answered by the auth service.

use crate::http::client_ip::ClientIp;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpRequest, HttpResponse, web};
use herald_contracts::rpc::auth::NoParams;
use herald_contracts::rpc::identity::{
    ConfirmPasswordReset, ConfirmPasswordResetRequest, GetMe, Me, PasswordResetRequest,
    RequestPasswordReset, ResendVerification, VerifyEmail, VerifyEmailRequest,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ME, web::get().to(me))
        .route(paths::VERIFY_EMAIL, web::post().to(verify_email))
        .route(
            paths::VERIFY_EMAIL_RESEND,
            web::post().to(resend_verification),
        )
        .route(paths::PASSWORD_RESET, web::post().to(request_reset))
        .route(paths::PASSWORD_RESET_CONFIRM, web::post().to(confirm_reset));
}

async fn me(ctx: Ctx) -> Result<web::Json<Me>, ApiError> {
    Ok(web::Json(ctx.call::<GetMe>(NoParams {}).await?))
}

async fn verify_email(
    ctx: Ctx,
    body: web::Json<VerifyEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    ctx.call::<VerifyEmail>(body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn resend_verification(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.call::<ResendVerification>(NoParams {}).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// 202 whether or not the address is registered: the answer tells nothing about accounts.
async fn request_reset(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Json<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut request = body.into_inner();
    // Auth throttles per IP on this field: only the edge's view counts, never the client's.
    request.client_ip = Some(ClientIp::from_request(&req).0.to_string());
    ctx.call::<RequestPasswordReset>(request).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Every session of the user ends; they log in with the new password.
async fn confirm_reset(
    ctx: Ctx,
    body: web::Json<ConfirmPasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    ctx.call::<ConfirmPasswordReset>(body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
