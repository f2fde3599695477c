//! `rpc.auth.password`: the caller proves the current password and sets a new one (Argon2id
//! with the configured parameters). Every session of the user ends, in every tenant, as for
//! "log out everywhere"; the answer is the tokens of a new session in the caller's tenant,
//! so the client that changed the password stays signed in and every other one is out.

use super::refresh::{Session, store_refresh_token, token_response};
use super::{Auth, internal, logout, unavailable};
use crate::domain::{Password, password};
use crate::repo::{identity, user_tokens};
use crate::revocations;
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::auth::{ChangePasswordRequest, TokenResponse};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::RpcCtx;

pub const WRONG_PASSWORD: &str = "the current password is not correct";

pub async fn handle(
    auth: Auth,
    ctx: RpcCtx,
    request: ChangePasswordRequest,
) -> Result<TokenResponse, RpcError> {
    let identity = ctx.identity()?;
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    let new_password = Password::parse(request.new_password).map_err(|e| RpcError::invalid(e.0))?;
    let stored = {
        let mut conn = auth.db.conn().await.map_err(unavailable)?;
        identity::password_hash(&mut conn, user)
            .await
            .map_err(|e| internal("reading the password hash", e))?
    };
    let too_long = request.current_password.chars().count() > password::MAX_CHARS;
    let candidate = if too_long {
        ""
    } else {
        request.current_password.as_str()
    };
    let matched = auth
        .passwords
        .verify(candidate, stored.as_deref())
        .await
        .map_err(|e| internal("verifying the password", e))?;
    if !matched || too_long {
        tracing::info!(user.id = %user, "password change refused: wrong current password");
        return Err(RpcError::new(ErrorCode::Forbidden, WRONG_PASSWORD));
    }
    // Hashed before the transaction and without holding a connection: it takes a while.
    let new_hash = auth
        .passwords
        .hash(&new_password)
        .await
        .map_err(|e| internal("hashing the password", e))?;

    let now = revocations::now();
    // A user's sessions span every tenant they belong to.
    let mut conn = auth
        .db
        .system("ending a user's sessions in every tenant")
        .await
        .map_err(unavailable)?;
    let (entries, session, refresh) = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            identity::update_password(conn, user, &new_hash).await?;
            let entries = logout::end_every_session(conn, user, now).await?;
            revocations::record(conn, &entries).await?;
            // A reset link still in someone's mailbox must not work after this.
            user_tokens::consume_all(conn, user, user_tokens::Purpose::PasswordReset).await?;
            let event = AuditEvent::new(
                actions::PASSWORD_CHANGED,
                Actor::User { id: user },
                Outcome::Success,
                &ctx.request_id,
            )
            .target("user", user);
            herald_kit::audit::record(conn, tenant, event).await?;
            let role = identity::membership_role(conn, tenant, user).await?;
            let session = role.map(|role| Session {
                tenant,
                user,
                role,
                family: uuid::Uuid::now_v7(),
            });
            let refresh = match &session {
                Some(session) => Some(store_refresh_token(conn, session, now).await?),
                None => None,
            };
            Ok((entries, session, refresh))
        })
        .await
        .map_err(|e| internal("changing the password", e))?;
    auth.outbox.wake();
    auth.revocations.publish(&entries).await?;
    tracing::info!(user.id = %user, tenant.id = %tenant, "password changed; every session ended");
    match (session, refresh) {
        (Some(session), Some(refresh)) => token_response(&auth, &session, refresh, now),
        // Removed from the tenant meanwhile: the password is changed, no new session here.
        _ => Err(RpcError::new(
            ErrorCode::Forbidden,
            "this account is no longer a member of the tenant",
        )),
    }
}
