//! `rpc.auth.audit.list`: the caller's tenant's audit log, newest first, filtered, one page at
//! a time. The tenant is the verified identity's; owners and admins only (the gateway's route
//! table says the same, this holds if it is ever called another way).

use super::{Auth, internal, unavailable};
use crate::audit::{self, Cursor, Query};
use herald_contracts::rpc::audit::{AuditPage, DEFAULT_PAGE, ListAuditRequest, MAX_PAGE};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_kit::RpcCtx;

pub async fn list(
    auth: Auth,
    ctx: RpcCtx,
    request: ListAuditRequest,
) -> Result<AuditPage, RpcError> {
    let identity = ctx.identity()?;
    if !identity.role.at_least(Role::Admin) {
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            "your role does not allow this",
        ));
    }
    let tenant = identity.tenant_id;
    let limit = request.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(RpcError::invalid(format!(
            "limit: must be between 1 and {MAX_PAGE}"
        )));
    }
    if let (Some(since), Some(until)) = (request.since, request.until)
        && since >= until
    {
        return Err(RpcError::invalid("since: must be before until"));
    }
    let after = request
        .cursor
        .as_deref()
        .map(|raw| {
            Cursor::parse(raw)
                .ok_or_else(|| RpcError::invalid("cursor: not a cursor from this list"))
        })
        .transpose()?;
    let query = Query {
        action: request.action,
        actor: request.actor,
        since: request.since,
        until: request.until,
        after,
        // One more than the page, to know whether there is a next one.
        limit: i64::from(limit) + 1,
    };
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let mut events = audit::list(&mut conn, tenant, &query)
        .await
        .map_err(|e| internal("listing audit events", e))?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = more.then(|| events.last()).flatten().map(|last| {
        Cursor {
            occurred_at: last.occurred_at,
            event_id: last.event_id,
        }
        .encode()
    });
    Ok(AuditPage {
        events,
        next_cursor,
    })
}
