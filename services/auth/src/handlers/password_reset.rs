//! Password reset: `rpc.auth.password-reset.request` (public) emails a single-use link valid
//! `HERALD_AUTH_RESET_TOKEN_TTL_SECS`; `rpc.auth.password-reset.confirm` (public) sets the new
//! password with it and ends every session of the user, in every tenant.
//!
//! No enumeration: the answer to a request is the same `Done` whether the address is
//! registered or not (the gateway answers 202), and the throttle (per address, stored
//! hashed, and per client IP) refuses registered and unknown addresses alike.

use super::email::admit_email;
use super::{Auth, internal, logout, unavailable};
use crate::domain::{Email, Password};
use crate::identity::{EmailRequest, RESET_EMAIL, RESET_IP, email_message};
use crate::repo::{identity, user_tokens};
use crate::revocations;
use crate::throttle::Key;
use crate::throttle::login::ip_key;
use crate::tokens::{RefreshToken, refresh_token_hash};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::messages::identity::EmailKind;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::auth::Done;
use herald_contracts::rpc::identity::{
    ConfirmPasswordResetRequest, INVALID_TOKEN, PasswordResetRequest,
};
use herald_kit::RpcCtx;
use std::net::IpAddr;

pub async fn request(
    auth: Auth,
    ctx: RpcCtx,
    request: PasswordResetRequest,
) -> Result<Done, RpcError> {
    // Throttled on the address as typed (normalized when it parses), registered or not.
    let parsed = Email::parse(&request.email);
    let account = match &parsed {
        Ok(email) => email.as_str().to_owned(),
        Err(_) => request.email.trim().to_lowercase(),
    };
    let mut keys = vec![Key::hashed(RESET_EMAIL, &account, auth.identity.per_email)];
    if let Some(raw) = request.client_ip.as_deref() {
        let ip: IpAddr = raw
            .parse()
            .map_err(|_| RpcError::invalid("client_ip: not an IP address"))?;
        if let Some(key) = ip_key(ip) {
            keys.push(Key {
                scope: RESET_IP,
                key,
                limit: auth.identity.per_ip,
            });
        }
    }
    admit_email(&auth.db, &keys).await?;
    let Ok(email) = parsed else {
        tracing::info!("password reset: malformed address; nothing sent");
        return Ok(Done {});
    };
    // The user, and the tenant the email goes out in: before sign-in there is none to scope to.
    let found = {
        let mut conn = auth
            .db
            .system("password reset: the user and their tenant, before sign-in")
            .await
            .map_err(unavailable)?;
        match identity::credentials(&mut conn, &email)
            .await
            .map_err(|e| internal("looking up the user", e))?
        {
            Some((user, _)) => identity::login_membership(&mut conn, user)
                .await
                .map_err(|e| internal("finding the membership", e))?
                .map(|(tenant, _)| (user, tenant)),
            None => None,
        }
    };
    let Some((user, tenant)) = found else {
        tracing::info!("password reset: no such account (or no tenant); nothing sent");
        return Ok(Done {});
    };
    let token = RefreshToken::generate();
    let id = uuid::Uuid::now_v7();
    let now = Utc::now();
    let expires_at = auth.identity.expiry(EmailKind::PasswordReset, now);
    let message = email_message(
        &auth.identity,
        tenant,
        &ctx.request_id,
        EmailRequest {
            email_id: id,
            kind: EmailKind::PasswordReset,
            to: email.as_str(),
            token: &token.token,
            expires_at,
            tenant_name: None,
            role: None,
        },
        now,
    );
    let mut conn = auth.db.conn().await.map_err(unavailable)?;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        user_tokens::insert(
            conn,
            user_tokens::NewUserToken {
                id,
                token_hash: &token.hash,
                purpose: user_tokens::Purpose::PasswordReset,
                user,
                email: email.as_str(),
                expires_at,
            },
        )
        .await?;
        herald_kit::outbox::enqueue(conn, &[message]).await?;
        Ok(())
    })
    .await
    .map_err(|e| internal("queueing the reset email", e))?;
    auth.outbox.wake();
    tracing::info!(user.id = %user, "password reset email queued");
    Ok(Done {})
}

pub async fn confirm(
    auth: Auth,
    ctx: RpcCtx,
    request: ConfirmPasswordResetRequest,
) -> Result<Done, RpcError> {
    let password = Password::parse(request.password).map_err(|e| RpcError::invalid(e.0))?;
    let hash = refresh_token_hash(&request.token);
    // Hashed before the transaction and without holding a connection: it takes a while. An
    // invalid token costs the hash too, which the gateway's rate limits bound.
    let new_hash = auth
        .passwords
        .hash(&password)
        .await
        .map_err(|e| internal("hashing the password", e))?;
    let now = revocations::now();
    // The user's sessions and memberships span every tenant.
    let mut conn = auth
        .db
        .system("password reset: ending a user's sessions in every tenant")
        .await
        .map_err(unavailable)?;
    let reset = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some((user, email)) =
                user_tokens::consume(conn, &hash, user_tokens::Purpose::PasswordReset).await?
            else {
                return Ok(None);
            };
            identity::update_password(conn, user, &new_hash).await?;
            // Any other reset link sent earlier dies with this one.
            user_tokens::consume_all(conn, user, user_tokens::Purpose::PasswordReset).await?;
            // The link reached the address: it is verified.
            identity::mark_email_verified(conn, user, &email).await?;
            let entries = logout::end_every_session(conn, user, now).await?;
            revocations::record(conn, &entries).await?;
            // Every tenant the user belongs to sees it in its audit log.
            for (tenant, _, _) in identity::memberships_of(conn, user).await? {
                let event = AuditEvent::new(
                    actions::PASSWORD_RESET,
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
            }
            Ok(Some((user, entries)))
        })
        .await
        .map_err(|e| internal("resetting the password", e))?;
    let Some((user, entries)) = reset else {
        tracing::info!("password reset refused: invalid or expired token");
        return Err(RpcError::invalid(INVALID_TOKEN));
    };
    auth.outbox.wake();
    auth.revocations.publish(&entries).await?;
    tracing::info!(user.id = %user, "password reset; every session ended");
    Ok(Done {})
}
