//! `/v1/members`: the tenant's members (any member) and removing one (admin and up), answered
//! by the auth service. Removal ends the member's sessions in this tenant on every replica.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::auth::{
    ListMembers, MemberList, NoParams, RemoveMember, RemoveMemberRequest,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::MEMBERS, web::get().to(list))
        .route(paths::MEMBER, web::delete().to(remove));
}

async fn list(ctx: Ctx) -> Result<web::Json<MemberList>, ApiError> {
    Ok(web::Json(ctx.call::<ListMembers>(NoParams {}).await?))
}

async fn remove(ctx: Ctx, user_id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let user_id = path_id(&user_id)?;
    ctx.call::<RemoveMember>(RemoveMemberRequest { user_id })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
