//! `rpc.billing.usage.get`: the tenant's usage totals.

use crate::repo;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::billing::{GetUsageRequest, UsageView};
use herald_kit::RpcCtx;
use herald_kit::db::Db;

pub async fn handle(db: Db, ctx: RpcCtx, _request: GetUsageRequest) -> Result<UsageView, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let items = repo::usage_totals(&mut conn, tenant)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "usage query failed");
            RpcError::internal()
        })?;
    Ok(UsageView { items })
}
