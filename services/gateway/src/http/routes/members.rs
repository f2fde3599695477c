//! `/v1/members`: the tenant's members (any member), changing a role and removing one (admin
//! and up; the owner rules are auth's), answered by the auth service. Removal ends the
//! member's sessions in this tenant on every replica; a role change, their old-role tokens.

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::Role;
use herald_contracts::rpc::auth::{
    ListMembers, Member, MemberList, NoParams, RemoveMember, RemoveMemberRequest,
};
use herald_contracts::rpc::identity::{ChangeMemberRole, ChangeRoleRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::MEMBERS, web::get().to(list))
        .route(paths::MEMBER, web::delete().to(remove))
        .route(paths::MEMBER, web::patch().to(change_role));
}

async fn list(ctx: Ctx) -> Result<web::Json<MemberList>, ApiError> {
    Ok(web::Json(ctx.call::<ListMembers>(NoParams {}).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

/// The member as they are now; their tokens with the old role stop working within a second.
async fn change_role(
    ctx: Ctx,
    user_id: web::Path<String>,
    body: web::Json<RoleBody>,
) -> Result<web::Json<Member>, ApiError> {
    let user_id = path_id(&user_id)?;
    let request = ChangeRoleRequest {
        user_id,
        role: body.into_inner().role,
    };
    Ok(web::Json(ctx.call::<ChangeMemberRole>(request).await?))
}

async fn remove(ctx: Ctx, user_id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let user_id = path_id(&user_id)?;
    ctx.call::<RemoveMember>(RemoveMemberRequest { user_id })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
