//! `rpc.auth.logout` ends the caller's session (its refresh family, and every access token
//! with its `sid`); `rpc.auth.logout-all` ends every session of the caller in every tenant
//! (each family, and `user.<id>`: tokens issued before this second are refused).
//!
//! Both are idempotent: repeating one after an `Unavailable` (the bucket write failed) puts
//! the entries again.

use super::{Auth, internal, unavailable};
use crate::repo::tokens;
use crate::revocations::{self, Entry};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::auth::{Done, LogoutRequest, NoParams, user_revocation_key};
use herald_kit::RpcCtx;

pub async fn handle(auth: Auth, ctx: RpcCtx, request: LogoutRequest) -> Result<Done, RpcError> {
    let identity = ctx.identity()?;
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    let now = revocations::now();
    let entries = revocations::sessions(&[request.session_id], now);
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        // Only the caller's own family is touched. The entry is recorded even when nothing
        // was (a retry, or a family already ended): the sid came from the caller's verified
        // token, so refusing it harms no one else.
        tokens::revoke_session(conn, tenant, user, request.session_id, now).await?;
        revocations::record(conn, &entries).await?;
        Ok(())
    })
    .await
    .map_err(|e| internal("ending the session", e))?;
    auth.revocations.publish(&entries).await?;
    tracing::info!(user.id = %user, tenant.id = %tenant, "logged out");
    Ok(Done {})
}

pub async fn handle_all(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<Done, RpcError> {
    let identity = ctx.identity()?;
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    let now = revocations::now();
    // A user's sessions span every tenant they belong to.
    let mut conn = auth
        .db
        .system("ending a user's sessions in every tenant")
        .await
        .map_err(unavailable)?;
    let entries = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let entries = end_every_session(conn, user, now).await?;
            revocations::record(conn, &entries).await?;
            // Recorded in the tenant the caller acted from.
            let event = AuditEvent::new(
                actions::LOGGED_OUT_EVERYWHERE,
                Actor::User { id: user },
                Outcome::Success,
                &ctx.request_id,
            )
            .target("user", user)
            .reason(format!(
                "{} sessions ended",
                entries.len().saturating_sub(1)
            ));
            herald_kit::audit::record(conn, tenant, event).await?;
            Ok(entries)
        })
        .await
        .map_err(|e| internal("ending every session", e))?;
    auth.outbox.wake();
    auth.revocations.publish(&entries).await?;
    tracing::info!(user.id = %user, sessions = entries.len() - 1, "logged out everywhere");
    Ok(Done {})
}

/// Revokes every family of `user` and returns the entries that refuse their access tokens:
/// one per family (a token issued earlier in this very second is refused by its sid) and
/// the user's `revoked_before`.
pub async fn end_every_session(
    conn: &mut diesel_async::AsyncPgConnection,
    user: herald_contracts::UserId,
    now: chrono::DateTime<Utc>,
) -> diesel::QueryResult<Vec<Entry>> {
    let families = tokens::revoke_user_sessions(conn, user, now).await?;
    let mut entries = revocations::sessions(&families, now);
    entries.push(Entry {
        key: user_revocation_key(&user),
        revoked_at: now,
    });
    Ok(entries)
}
