//! Email verification (`rpc.auth.email.verify`, public; `rpc.auth.email.resend`, session) and
//! `rpc.auth.me`.
//!
//! Registration sends a verification email (a token valid `HERALD_AUTH_VERIFY_TOKEN_TTL_SECS`);
//! a resend is throttled per account like password-reset emails. A token verifies the address
//! it was sent to, once.

use super::{Auth, internal, unavailable};
use crate::identity::{EmailRequest, IdentityPolicy, VERIFY_RESEND, email_message};
use crate::repo::{identity, user_tokens};
use crate::throttle::{self, Decision, Key};
use crate::tokens::{RefreshToken, refresh_token_hash};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use herald_contracts::messages::identity::EmailKind;
use herald_contracts::rpc::auth::{Done, NoParams};
use herald_contracts::rpc::identity::{INVALID_TOKEN, Me, MembershipView, VerifyEmailRequest};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_contracts::{TenantId, UserId};
use herald_kit::RpcCtx;
use herald_kit::db::Db;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const ALREADY_VERIFIED: &str = "the email address is verified already";
pub const TOO_MANY_EMAILS: &str = "too many emails asked for; try again later";

/// A verification token made for a user, ready to store with its email in a transaction.
pub struct VerificationEmail {
    token: RefreshToken,
    id: uuid::Uuid,
    user: UserId,
    email: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl VerificationEmail {
    pub fn new(
        auth: &Auth,
        user: UserId,
        email: &crate::domain::Email,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            token: RefreshToken::generate(),
            id: uuid::Uuid::now_v7(),
            user,
            email: email.as_str().to_owned(),
            now,
            expires_at: auth.identity.expiry(EmailKind::VerifyEmail, now),
        }
    }

    /// Stores the token's hash and queues the email (in `tenant`'s name) in the caller's
    /// transaction; wake the outbox after commit.
    pub async fn store(
        &self,
        conn: &mut AsyncPgConnection,
        tenant: TenantId,
        policy: &IdentityPolicy,
        request_id: &str,
    ) -> diesel::QueryResult<()> {
        user_tokens::insert(
            conn,
            user_tokens::NewUserToken {
                id: self.id,
                token_hash: &self.token.hash,
                purpose: user_tokens::Purpose::VerifyEmail,
                user: self.user,
                email: &self.email,
                expires_at: self.expires_at,
            },
        )
        .await?;
        let message = email_message(
            policy,
            tenant,
            request_id,
            EmailRequest {
                email_id: self.id,
                kind: EmailKind::VerifyEmail,
                to: &self.email,
                token: &self.token.token,
                expires_at: self.expires_at,
                tenant_name: None,
                role: None,
            },
            self.now,
        );
        herald_kit::outbox::enqueue(conn, &[message]).await?;
        Ok(())
    }
}

pub async fn verify(
    auth: Auth,
    _ctx: RpcCtx,
    request: VerifyEmailRequest,
) -> Result<Done, RpcError> {
    let hash = refresh_token_hash(&request.token);
    // Users and their tokens belong to no tenant.
    let mut conn = auth.db.conn().await.map_err(unavailable)?;
    let verified = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some((user, email)) =
                user_tokens::consume(conn, &hash, user_tokens::Purpose::VerifyEmail).await?
            else {
                return Ok(None);
            };
            identity::mark_email_verified(conn, user, &email).await?;
            Ok(Some(user))
        })
        .await
        .map_err(|e| internal("verifying the email", e))?;
    match verified {
        Some(user) => {
            tracing::info!(user.id = %user, "email verified");
            Ok(Done {})
        }
        None => {
            tracing::info!("email verification refused: invalid or expired token");
            Err(RpcError::invalid(INVALID_TOKEN))
        }
    }
}

/// Counts one email asked for under `keys` (each a counter of "attempts" that never
/// succeed, so the window's allowance is the number of emails), or refuses it.
pub async fn admit_email(db: &Db, keys: &[Key]) -> Result<(), RpcError> {
    let mut conn = db.conn().await.map_err(unavailable)?;
    let decision = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let decision = throttle::admit(conn, keys).await?;
            if decision == Decision::Admitted {
                throttle::failed(conn, keys).await?;
            }
            Ok(decision)
        })
        .await
        .map_err(|e| internal("throttling emails", e))?;
    match decision {
        Decision::Admitted => Ok(()),
        other => Err(RpcError::rate_limited(
            TOO_MANY_EMAILS,
            other.retry_after_secs().unwrap_or(1),
        )),
    }
}

pub async fn resend(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<Done, RpcError> {
    let identity = ctx.identity()?;
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    let profile = {
        let mut conn = auth.db.conn().await.map_err(unavailable)?;
        identity::profile(&mut conn, user)
            .await
            .map_err(|e| internal("reading the user", e))?
    };
    let Some((email, verified_at)) = profile else {
        return Err(RpcError::new(ErrorCode::Unauthenticated, "unknown user"));
    };
    if verified_at.is_some() {
        return Err(RpcError::new(ErrorCode::Conflict, ALREADY_VERIFIED));
    }
    let email = crate::domain::Email::parse(&email).map_err(|e| internal("stored email", e.0))?;
    admit_email(
        &auth.db,
        &[Key::hashed(
            VERIFY_RESEND,
            email.as_str(),
            auth.identity.per_email,
        )],
    )
    .await?;
    let verification = VerificationEmail::new(&auth, user, &email, Utc::now());
    let mut conn = auth.db.conn().await.map_err(unavailable)?;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        verification
            .store(conn, tenant, &auth.identity, &ctx.request_id)
            .await
    })
    .await
    .map_err(|e| internal("queueing the verification email", e))?;
    auth.outbox.wake();
    tracing::info!(user.id = %user, "verification email queued");
    Ok(Done {})
}

pub async fn me(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<Me, RpcError> {
    let identity = ctx.identity()?;
    let (tenant, user) = (identity.tenant_id, identity.user_id);
    // The user's tenants, all of them: the user is the caller, so nothing of another user's.
    let mut conn = auth
        .db
        .system("me: every tenant the caller belongs to")
        .await
        .map_err(unavailable)?;
    let profile = identity::profile(&mut conn, user)
        .await
        .map_err(|e| internal("reading the user", e))?;
    let memberships = identity::memberships_of(&mut conn, user)
        .await
        .map_err(|e| internal("reading memberships", e))?;
    let Some((email, verified_at)) = profile else {
        return Err(RpcError::new(ErrorCode::Unauthenticated, "unknown user"));
    };
    // The role from the database, not the token's (which may predate a change).
    let Some(role) = memberships
        .iter()
        .find(|(id, _, _)| *id == tenant)
        .map(|(_, _, role)| *role)
    else {
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            "this account is no longer a member of the tenant",
        ));
    };
    Ok(Me {
        user_id: user,
        email,
        email_verified: verified_at.is_some(),
        tenant_id: tenant,
        role,
        memberships: memberships
            .into_iter()
            .map(|(tenant_id, tenant_name, role)| MembershipView {
                tenant_id,
                tenant_name,
                role,
            })
            .collect(),
    })
}

/// Deletes long-expired emailed tokens every ten minutes until `stop`.
pub async fn prune_loop(db: Db, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.cancelled() => return,
        }
        let pruned = match db.conn().await {
            Ok(mut conn) => user_tokens::prune(&mut conn)
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match pruned {
            Ok(rows) => tracing::debug!(rows, "expired email tokens pruned"),
            Err(error) => tracing::warn!(error = %error, "email token prune failed; will retry"),
        }
    }
}
