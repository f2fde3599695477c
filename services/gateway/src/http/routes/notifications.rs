//! `/v1/notifications`: the tenant's in-app inbox (notifier).

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::web;
use herald_contracts::rpc::notifier::{
    ListNotifications, ListNotificationsRequest, NotificationList,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::NOTIFICATIONS, web::get().to(list));
}

async fn list(
    ctx: Ctx,
    query: web::Query<ListQuery>,
) -> Result<web::Json<NotificationList>, ApiError> {
    let request = ListNotificationsRequest { limit: query.limit };
    Ok(web::Json(ctx.call::<ListNotifications>(request).await?))
}
