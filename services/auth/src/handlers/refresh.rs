//! `rpc.auth.refresh`: a refresh token for a new access token and a new refresh token in the
//! same family (the session). The presented token is rotated: used once, never again.
//!
//! Presenting a token that was already used or revoked is reuse (a stolen token, or a
//! client that lost the race against its thief): the whole family is revoked, its refresh
//! tokens in the database and its access tokens on every gateway (`sid.<family>`), and the
//! answer is 401. The row is locked for the decision, so of two concurrent uses of one token
//! the second sees the first's rotation and counts as reuse: both never succeed.

use super::{Auth, internal, unavailable};
use crate::repo::{identity, tokens};
use crate::revocations::{self, Entry};
use crate::tokens::{
    ACCESS_TOKEN_TTL_SECS, REFRESH_TOKEN_TTL, RefreshToken, TOKEN_TYPE, TokenIssuer,
    refresh_token_hash,
};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome as AuditOutcome, actions};
use herald_contracts::rpc::auth::{RefreshRequest, TokenResponse};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_contracts::{TenantId, UserId};
use herald_kit::RpcCtx;

pub const INVALID_REFRESH_TOKEN: &str = "invalid or expired refresh token";

fn invalid() -> RpcError {
    RpcError::new(ErrorCode::Unauthenticated, INVALID_REFRESH_TOKEN)
}

enum Outcome {
    Unknown,
    Expired,
    /// Reuse, or the user left the tenant: the family is revoked.
    FamilyRevoked(Vec<Entry>, &'static str),
    /// The new token, and the time the access token is issued at.
    Rotated(Session, RefreshToken, DateTime<Utc>),
}

/// When an access token for `user` in `tenant` is issued: now, or the second a role change
/// took effect if that is later (`roles::change` puts `member.<tenant>.<user>` with the next
/// whole second, so a token minted in the rest of the second, with the new role, is not
/// refused with the old ones). At most a second ahead; gateways allow clock leeway.
pub async fn issue_at(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> diesel::QueryResult<DateTime<Utc>> {
    let key = herald_contracts::rpc::auth::membership_revocation_key(&tenant, &user);
    let revoked = tokens::revocation(conn, &key, now - revocations::retention()).await?;
    Ok(revoked.map_or(now, |revoked_at| revoked_at.max(now)))
}

/// Whose session a token belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
    pub family: uuid::Uuid,
}

/// Stores a new refresh token of `session` (in the caller's transaction).
pub async fn store_refresh_token(
    conn: &mut AsyncPgConnection,
    session: &Session,
    now: DateTime<Utc>,
) -> diesel::QueryResult<RefreshToken> {
    let refresh = RefreshToken::generate();
    tokens::insert_refresh_token(
        conn,
        session.tenant,
        tokens::NewRefreshToken {
            user: session.user,
            family: session.family,
            token_hash: &refresh.hash,
            expires_at: now + REFRESH_TOKEN_TTL,
        },
    )
    .await?;
    Ok(refresh)
}

/// The answer for a session whose refresh token is stored: a signed access token with the
/// session's `sid`.
pub fn token_response(
    auth: &Auth,
    session: &Session,
    refresh: RefreshToken,
    now: DateTime<Utc>,
) -> Result<TokenResponse, RpcError> {
    let claims = TokenIssuer::session_claims(
        session.user,
        session.tenant,
        session.role,
        session.family,
        now,
    );
    let access_token = auth
        .tokens
        .sign(&claims)
        .map_err(|e| internal("signing the access token", e))?;
    Ok(TokenResponse {
        access_token,
        token_type: TOKEN_TYPE.to_owned(),
        expires_in: ACCESS_TOKEN_TTL_SECS,
        refresh_token: refresh.token,
    })
}

pub async fn handle(
    auth: Auth,
    ctx: RpcCtx,
    request: RefreshRequest,
) -> Result<TokenResponse, RpcError> {
    let hash = refresh_token_hash(&request.refresh_token);
    let now = revocations::now();
    // The token is all the caller presents: its row names the tenant, so the look-up cannot
    // be tenant-scoped.
    let mut conn = auth
        .db
        .system("refresh token look-up by hash")
        .await
        .map_err(unavailable)?;
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(stored) = tokens::lock_by_hash(conn, &hash).await? else {
                return Ok(Outcome::Unknown);
            };
            let tenant = TenantId::from_uuid(stored.tenant);
            let user = UserId::from_uuid(stored.user);
            let revoke = async |conn: &mut AsyncPgConnection, reason: &'static str| {
                tokens::revoke_family(conn, tenant, stored.family, now).await?;
                let entries = revocations::sessions(&[stored.family], now);
                revocations::record(conn, &entries).await?;
                // Auth decided it (the presenter may be a thief): the actor is the service.
                let event = AuditEvent::new(
                    actions::TOKEN_FAMILY_REVOKED,
                    Actor::System {
                        service: crate::SERVICE.to_owned(),
                    },
                    AuditOutcome::Success,
                    &ctx.request_id,
                )
                .target("session", stored.family)
                .reason(format!("{reason} (user {user})"));
                herald_kit::audit::record(conn, tenant, event).await?;
                Ok::<_, diesel::result::Error>(Outcome::FamilyRevoked(entries, reason))
            };
            if stored.used_at.is_some() || stored.revoked_at.is_some() {
                return revoke(conn, "refresh token reused").await;
            }
            if stored.expires_at <= now {
                return Ok(Outcome::Expired);
            }
            let Some(role) = identity::membership_role(conn, tenant, user).await? else {
                return revoke(conn, "no longer a member of the tenant").await;
            };
            tokens::mark_used(conn, stored.id, now).await?;
            let session = Session {
                tenant,
                user,
                role,
                family: stored.family,
            };
            let refresh = store_refresh_token(conn, &session, now).await?;
            let issued = issue_at(conn, tenant, user, now).await?;
            Ok(Outcome::Rotated(session, refresh, issued))
        })
        .await
        .map_err(|e| internal("rotating the refresh token", e))?;
    match outcome {
        Outcome::Unknown => {
            tracing::info!("refresh refused: unknown token");
            Err(invalid())
        }
        Outcome::Expired => {
            tracing::info!("refresh refused: token expired");
            Err(invalid())
        }
        Outcome::FamilyRevoked(entries, reason) => {
            auth.outbox.wake();
            tracing::warn!(session.revoked = %entries[0].key, reason, "refresh token family revoked");
            auth.revocations.publish(&entries).await?;
            Err(invalid())
        }
        Outcome::Rotated(session, refresh, issued) => {
            tracing::info!(user.id = %session.user, tenant.id = %session.tenant, "refresh token rotated");
            token_response(&auth, &session, refresh, issued)
        }
    }
}
