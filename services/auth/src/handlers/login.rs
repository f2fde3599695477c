//! `rpc.auth.login`: email and password for an access token and a refresh token.
//!
//! Every failure is the same `Unauthenticated` "invalid email or password", and an unknown
//! email costs one Argon2id verification like a known one, so neither the answer nor its
//! timing tells whether an email is registered.
//!
//! Attempts are throttled per account and per client IP before the password is verified
//! (`crate::throttle::login`): a locked login is `rate_limited` with `retry_after_secs`, and
//! logins, failures and lockouts of registered users are audit events of their tenant.

use super::{Auth, internal, unavailable};
use crate::domain::{Email, password};
use crate::repo::{identity, tokens};
use crate::throttle::login::LoginAttempt;
use crate::tokens::{
    ACCESS_TOKEN_TTL_SECS, REFRESH_TOKEN_TTL, RefreshToken, TOKEN_TYPE, TokenIssuer,
};
use chrono::Utc;
use herald_contracts::rpc::auth::{LoginRequest, TokenResponse};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::RpcCtx;

pub const INVALID_CREDENTIALS: &str = "invalid email or password";

fn invalid_credentials() -> RpcError {
    RpcError::new(ErrorCode::Unauthenticated, INVALID_CREDENTIALS)
}

pub async fn handle(
    auth: Auth,
    ctx: RpcCtx,
    request: LoginRequest,
) -> Result<TokenResponse, RpcError> {
    // An email that does not parse cannot be registered: it takes the unknown-user path.
    let stored = match Email::parse(&request.email) {
        Ok(email) => {
            let mut conn = auth.db.conn().await.map_err(unavailable)?;
            identity::credentials(&mut conn, &email)
                .await
                .map_err(|e| internal("looking up the user", e))?
        }
        Err(_) => None,
    };
    // Throttled before the password is verified: a locked account or IP costs no hash.
    let attempt = LoginAttempt::new(
        &auth.login,
        &request.email,
        request.client_ip.as_deref(),
        &ctx.request_id,
        stored.as_ref().map(|(user, _)| *user),
    )?;
    attempt.admit(&auth.db, &auth.outbox).await?;
    // Registration refuses longer passwords, so a longer one cannot match; verifying an empty
    // one instead keeps the cost the same.
    let too_long = request.password.chars().count() > password::MAX_CHARS;
    let candidate = if too_long {
        ""
    } else {
        request.password.as_str()
    };
    let matched = auth
        .passwords
        .verify(candidate, stored.as_ref().map(|(_, hash)| hash.as_str()))
        .await
        .map_err(|e| internal("verifying the password", e))?;
    let user = match stored {
        Some((user, _)) if matched && !too_long => user,
        Some((user, _)) => {
            tracing::info!(user.id = %user, "login refused: wrong password");
            attempt
                .failed(&auth.db, &auth.outbox, "wrong password")
                .await?;
            return Err(invalid_credentials());
        }
        None => {
            tracing::info!("login refused: unknown email");
            attempt
                .failed(&auth.db, &auth.outbox, "unknown email")
                .await?;
            return Err(invalid_credentials());
        }
    };

    let membership = {
        // Before sign-in there is no tenant to scope the look-up to: that is what it finds.
        let mut conn = auth
            .db
            .system("login: the membership a user lands in")
            .await
            .map_err(unavailable)?;
        match request.tenant_id {
            Some(tenant) => identity::membership_role(&mut conn, tenant, user)
                .await
                .map(|role| role.map(|role| (tenant, role))),
            None => identity::login_membership(&mut conn, user).await,
        }
        .map_err(|e| internal("finding the membership", e))?
    };
    let Some((tenant, role)) = membership else {
        tracing::warn!(user.id = %user, tenant_chosen = request.tenant_id.is_some(), "login refused: no such membership");
        attempt
            .failed(&auth.db, &auth.outbox, "no membership")
            .await?;
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            if request.tenant_id.is_some() {
                "this account is not a member of that tenant"
            } else {
                "this account is not a member of any tenant"
            },
        ));
    };
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let now = super::refresh::issue_at(&mut conn, tenant, user, Utc::now())
        .await
        .map_err(|e| internal("reading revocations", e))?;
    // The session id (`sid`) is the refresh family: ending the family ends its access tokens.
    let family = uuid::Uuid::now_v7();
    let claims = TokenIssuer::session_claims(user, tenant, role, family, now);
    let access_token = auth
        .tokens
        .sign(&claims)
        .map_err(|e| internal("signing the access token", e))?;
    let refresh = RefreshToken::generate();
    tokens::insert_refresh_token(
        &mut conn,
        tenant,
        tokens::NewRefreshToken {
            user,
            family,
            token_hash: &refresh.hash,
            expires_at: now + REFRESH_TOKEN_TTL,
        },
    )
    .await
    .map_err(|e| internal("storing the refresh token", e))?;
    tracing::info!(user.id = %user, tenant.id = %tenant, token.jti = %claims.jti, "logged in");
    attempt
        .succeeded(&auth.db, &auth.outbox, tenant, user)
        .await?;
    Ok(TokenResponse {
        access_token,
        token_type: TOKEN_TYPE.to_owned(),
        expires_in: ACCESS_TOKEN_TTL_SECS,
        refresh_token: refresh.token,
    })
}
