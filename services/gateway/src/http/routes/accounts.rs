//! `/v1/accounts`: connecting, listing and disconnecting social accounts (publisher).

use super::path_id;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::publisher::{
    AccountList, ConnectAccount, ConnectAccountRequest, DisconnectAccount,
    DisconnectAccountRequest, Disconnected, ListAccounts, ListAccountsRequest,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ACCOUNTS, web::post().to(connect))
        .route(paths::ACCOUNTS, web::get().to(list))
        .route(paths::ACCOUNT, web::delete().to(disconnect));
}

async fn connect(
    ctx: Ctx,
    body: web::Json<ConnectAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = ctx.call::<ConnectAccount>(body.into_inner()).await?;
    Ok(HttpResponse::Created().json(account))
}

async fn list(ctx: Ctx) -> Result<web::Json<AccountList>, ApiError> {
    Ok(web::Json(
        ctx.call::<ListAccounts>(ListAccountsRequest {}).await?,
    ))
}

async fn disconnect(ctx: Ctx, id: web::Path<String>) -> Result<web::Json<Disconnected>, ApiError> {
    let account_id = path_id(&id)?;
    Ok(web::Json(
        ctx.call::<DisconnectAccount>(DisconnectAccountRequest { account_id })
            .await?,
    ))
}
