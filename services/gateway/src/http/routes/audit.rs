//! `/v1/audit`: the tenant's audit log (auth), for owners and admins; filterable by action,
//! actor and time, newest first, a page at a time (`next_cursor` → `cursor`).

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::policy::paths;
use actix_web::web;
use chrono::{DateTime, Utc};
use herald_contracts::rpc::audit::{AuditPage, ListAudit, ListAuditRequest};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::AUDIT, web::get().to(list));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    action: Option<String>,
    actor: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(ctx: Ctx, query: web::Query<ListQuery>) -> Result<web::Json<AuditPage>, ApiError> {
    let query = query.into_inner();
    let request = ListAuditRequest {
        action: query.action,
        actor: query.actor,
        since: query.since,
        until: query.until,
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(web::Json(ctx.call::<ListAudit>(request).await?))
}
