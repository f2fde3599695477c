//! `/v1/usage`: the tenant's metered usage (billing).

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::web;
use herald_contracts::rpc::billing::{GetUsage, GetUsageRequest, UsageView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::USAGE, web::get().to(get));
}

async fn get(ctx: Ctx) -> Result<web::Json<UsageView>, ApiError> {
    Ok(web::Json(ctx.call::<GetUsage>(GetUsageRequest {}).await?))
}
