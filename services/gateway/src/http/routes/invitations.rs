//! `/v1/invitations`: invite someone to the caller's tenant with a role, list and revoke
//! invitations (admins), and accept one with the emailed token (public). Answered by auth.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::auth::NoParams;
use herald_contracts::rpc::identity::{
    AcceptInvitation, AcceptInvitationRequest, AcceptInvitationResponse, CreateInvitation,
    CreateInvitationRequest, InvitationList, ListInvitations, RevokeInvitation,
    RevokeInvitationRequest,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::INVITATION_ACCEPT, web::post().to(accept))
        .route(paths::INVITATIONS, web::post().to(create))
        .route(paths::INVITATIONS, web::get().to(list))
        .route(paths::INVITATION, web::delete().to(revoke));
}

async fn create(
    ctx: Ctx,
    body: web::Json<CreateInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let invitation = ctx.call::<CreateInvitation>(body.into_inner()).await?;
    Ok(HttpResponse::Created().json(invitation))
}

async fn list(ctx: Ctx) -> Result<web::Json<InvitationList>, ApiError> {
    Ok(web::Json(ctx.call::<ListInvitations>(NoParams {}).await?))
}

async fn revoke(ctx: Ctx, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id)?;
    ctx.call::<RevokeInvitation>(RevokeInvitationRequest { id })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn accept(
    ctx: Ctx,
    body: web::Json<AcceptInvitationRequest>,
) -> Result<web::Json<AcceptInvitationResponse>, ApiError> {
    Ok(web::Json(
        ctx.call::<AcceptInvitation>(body.into_inner()).await?,
    ))
}
