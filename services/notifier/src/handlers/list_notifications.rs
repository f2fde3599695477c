//! `rpc.notifier.notifications.list`: the caller's tenant's in-app notifications, newest first.

use crate::repo::notifications;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::notifier::{ListNotificationsRequest, NotificationList};
use herald_kit::RpcCtx;
use herald_kit::db::Db;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

pub async fn handle(
    db: Db,
    ctx: RpcCtx,
    request: ListNotificationsRequest,
) -> Result<NotificationList, RpcError> {
    let tenant = ctx.tenant()?;
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(RpcError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let mut conn = db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let items = notifications::list(&mut conn, tenant, i64::from(limit))
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "notification list query failed");
            RpcError::internal()
        })?;
    Ok(NotificationList { items })
}
