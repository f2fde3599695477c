//! `/v1/accounts`: connecting social accounts (publisher).

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::{HttpResponse, web};
use herald_contracts::rpc::publisher::{ConnectAccount, ConnectAccountRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ACCOUNTS, web::post().to(connect));
}

async fn connect(
    ctx: Ctx,
    body: web::Json<ConnectAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = ctx.call::<ConnectAccount>(body.into_inner()).await?;
    Ok(HttpResponse::Created().json(account))
}
