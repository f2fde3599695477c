//! Invitations: `rpc.auth.invitations.create|list|revoke` (admins of the tenant) and
//! `rpc.auth.invitations.accept` (public, with the emailed token).
//!
//! Nobody invites above their own role (only an owner invites an owner). Accepting creates the
//! account (its address counts as verified: the link reached it) or, for an address that has
//! one, checks its current password; then the membership is added with the invitation's role.
//! The token is consumed by the same conditional `UPDATE` that accepts, in the transaction
//! that adds the membership, so it works once and never for a rolled-back acceptance.

use super::{Auth, internal, unavailable};
use crate::domain::{Email, Password, password};
use crate::identity::{EmailRequest, email_message};
use crate::repo::{identity, invitations};
use crate::tokens::{RefreshToken, refresh_token_hash};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::messages::identity::EmailKind;
use herald_contracts::rpc::auth::{Done, NoParams};
use herald_contracts::rpc::identity::{
    AcceptInvitationRequest, AcceptInvitationResponse, CreateInvitationRequest, INVALID_TOKEN,
    Invitation, InvitationList, InvitationStatus, RevokeInvitationRequest,
};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_contracts::{TenantId, UserId};
use herald_kit::RpcCtx;

pub const ABOVE_OWN_ROLE: &str = "you cannot grant a role above your own";
pub const ALREADY_MEMBER: &str = "this address is a member of the tenant already";
pub const ALREADY_ACCEPTED: &str = "the invitation was accepted already";
pub const NOT_FOUND: &str = "no such invitation";
pub const WRONG_PASSWORD: &str = "this address has an account: enter its current password";
const LIST_LIMIT: i64 = 200;

fn admin(ctx: &RpcCtx) -> Result<(TenantId, UserId, Role), RpcError> {
    let identity = ctx.identity()?;
    if !identity.role.at_least(Role::Admin) || identity.api_key_id.is_some() {
        return Err(RpcError::new(ErrorCode::Forbidden, "not allowed"));
    }
    Ok((identity.tenant_id, identity.user_id, identity.role))
}

fn event(action: &str, actor: UserId, ctx: &RpcCtx, invitation: uuid::Uuid) -> AuditEvent {
    AuditEvent::new(
        action,
        Actor::User { id: actor },
        Outcome::Success,
        &ctx.request_id,
    )
    .target("invitation", invitation)
}

enum Created {
    Member,
    Done(Invitation),
}

pub async fn create(
    auth: Auth,
    ctx: RpcCtx,
    request: CreateInvitationRequest,
) -> Result<Invitation, RpcError> {
    let (tenant, actor, role) = admin(&ctx)?;
    if !role.at_least(request.role) {
        return Err(RpcError::new(ErrorCode::Forbidden, ABOVE_OWN_ROLE));
    }
    let email = Email::parse(&request.email).map_err(|e| RpcError::invalid(e.0))?;
    let token = RefreshToken::generate();
    let id = uuid::Uuid::now_v7();
    let now = Utc::now();
    let expires_at = auth.identity.expiry(EmailKind::Invitation, now);
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            if identity::is_member_email(conn, tenant, &email).await? {
                return Ok(Created::Member);
            }
            let tenant_name = identity::tenant_name(conn, tenant).await?;
            let invitation = invitations::insert(
                conn,
                tenant,
                invitations::NewInvitation {
                    id,
                    email: email.as_str(),
                    role: request.role,
                    token_hash: &token.hash,
                    invited_by: actor,
                    expires_at,
                },
            )
            .await?;
            let message = email_message(
                &auth.identity,
                tenant,
                &ctx.request_id,
                EmailRequest {
                    email_id: id,
                    kind: EmailKind::Invitation,
                    to: email.as_str(),
                    token: &token.token,
                    expires_at,
                    tenant_name,
                    role: Some(request.role),
                },
                now,
            );
            herald_kit::outbox::enqueue(conn, &[message]).await?;
            let audit = event(actions::INVITATION_CREATED, actor, &ctx, id)
                .reason(format!("role {}", request.role.as_str()));
            herald_kit::audit::record(conn, tenant, audit).await?;
            Ok(Created::Done(invitation))
        })
        .await
        .map_err(|e| internal("creating the invitation", e))?;
    match created {
        Created::Member => Err(RpcError::new(ErrorCode::Conflict, ALREADY_MEMBER)),
        Created::Done(invitation) => {
            auth.outbox.wake();
            tracing::info!(tenant.id = %tenant, user.id = %actor, invitation.id = %id, role = request.role.as_str(), "invitation created");
            Ok(invitation)
        }
    }
}

pub async fn list(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<InvitationList, RpcError> {
    let (tenant, _, _) = admin(&ctx)?;
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let invitations = invitations::list(&mut conn, tenant, LIST_LIMIT)
        .await
        .map_err(|e| internal("listing invitations", e))?;
    Ok(InvitationList { invitations })
}

enum Revoked {
    NotFound,
    AboveRole,
    Accepted,
    /// Revoked now (audited), or already revoked or expired (nothing to do).
    Done(bool),
}

pub async fn revoke(
    auth: Auth,
    ctx: RpcCtx,
    request: RevokeInvitationRequest,
) -> Result<Done, RpcError> {
    let (tenant, actor, role) = admin(&ctx)?;
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let revoked = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(invitation) = invitations::lock(conn, tenant, request.id).await? else {
                return Ok(Revoked::NotFound);
            };
            if !role.at_least(invitation.role) {
                return Ok(Revoked::AboveRole);
            }
            match invitation.status {
                InvitationStatus::Accepted => return Ok(Revoked::Accepted),
                InvitationStatus::Revoked | InvitationStatus::Expired => {
                    return Ok(Revoked::Done(false));
                }
                InvitationStatus::Pending => {}
            }
            invitations::revoke(conn, tenant, request.id).await?;
            let audit = event(actions::INVITATION_REVOKED, actor, &ctx, request.id);
            herald_kit::audit::record(conn, tenant, audit).await?;
            Ok(Revoked::Done(true))
        })
        .await
        .map_err(|e| internal("revoking the invitation", e))?;
    match revoked {
        Revoked::NotFound => Err(RpcError::not_found(NOT_FOUND)),
        Revoked::AboveRole => Err(RpcError::new(ErrorCode::Forbidden, ABOVE_OWN_ROLE)),
        Revoked::Accepted => Err(RpcError::new(ErrorCode::Conflict, ALREADY_ACCEPTED)),
        Revoked::Done(now) => {
            if now {
                auth.outbox.wake();
                tracing::info!(tenant.id = %tenant, invitation.id = %request.id, "invitation revoked");
            }
            Ok(Done {})
        }
    }
}

enum Accepted {
    /// Unknown, used, revoked or expired (now or since the look-up).
    Invalid,
    Member,
    Duplicate,
    Done(AcceptInvitationResponse),
}

pub async fn accept(
    auth: Auth,
    ctx: RpcCtx,
    request: AcceptInvitationRequest,
) -> Result<AcceptInvitationResponse, RpcError> {
    let hash = refresh_token_hash(&request.token);
    // The token is all the caller presents; it names the tenant, so the look-up is cross-tenant.
    let pending = {
        let mut conn = auth
            .db
            .system("invitation acceptance: the token names the tenant")
            .await
            .map_err(unavailable)?;
        invitations::pending_by_token(&mut conn, &hash)
            .await
            .map_err(|e| internal("finding the invitation", e))?
    };
    let Some(pending) = pending else {
        tracing::info!("invitation refused: invalid or expired token");
        return Err(RpcError::invalid(INVALID_TOKEN));
    };
    let email = Email::parse(&pending.email).map_err(|e| internal("invited address", e.0))?;
    let existing = {
        let mut conn = auth.db.conn().await.map_err(unavailable)?;
        identity::credentials(&mut conn, &email)
            .await
            .map_err(|e| internal("looking up the user", e))?
    };
    // The slow part (Argon2id) before the transaction, without a connection held.
    let new_account = match &existing {
        Some((user, stored)) => {
            let too_long = request.password.chars().count() > password::MAX_CHARS;
            let candidate = if too_long {
                ""
            } else {
                request.password.as_str()
            };
            let matched = auth
                .passwords
                .verify(candidate, Some(stored))
                .await
                .map_err(|e| internal("verifying the password", e))?;
            if !matched || too_long {
                tracing::info!(user.id = %user, "invitation refused: wrong password");
                return Err(RpcError::new(ErrorCode::Forbidden, WRONG_PASSWORD));
            }
            None
        }
        None => {
            let password = Password::parse(request.password).map_err(|e| RpcError::invalid(e.0))?;
            let hash = auth
                .passwords
                .hash(&password)
                .await
                .map_err(|e| internal("hashing the password", e))?;
            Some(hash)
        }
    };
    let user = existing
        .as_ref()
        .map_or_else(UserId::new, |(user, _)| *user);
    let tenant = pending.tenant;
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let accepted = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // Checked before the token is consumed: a member keeps the invitation pending.
            if new_account.is_none()
                && identity::membership_role(conn, tenant, user)
                    .await?
                    .is_some()
            {
                return Ok(Accepted::Member);
            }
            // The account first (the invitation records who accepted it).
            match &new_account {
                Some(password_hash) => {
                    identity::insert_verified_user(conn, user, &email, password_hash).await?;
                }
                // The link reached the address.
                None => {
                    identity::mark_email_verified(conn, user, email.as_str()).await?;
                }
            }
            let Some(invitation) = invitations::accept(conn, &hash, user).await? else {
                // Used or revoked meanwhile: nothing of this acceptance stays.
                return Err(diesel::result::Error::RollbackTransaction);
            };
            identity::insert_membership(conn, tenant, user, invitation.role).await?;
            let audit = event(actions::INVITATION_ACCEPTED, user, &ctx, invitation.id)
                .reason(format!("role {}", invitation.role.as_str()));
            herald_kit::audit::record(conn, tenant, audit).await?;
            Ok(Accepted::Done(AcceptInvitationResponse {
                tenant_id: tenant,
                user_id: user,
                role: invitation.role,
                new_account: new_account.is_some(),
            }))
        })
        .await
        .or_else(|error| match error {
            diesel::result::Error::RollbackTransaction => Ok(Accepted::Invalid),
            error if identity::is_duplicate_email(&error) => Ok(Accepted::Duplicate),
            error => Err(internal("accepting the invitation", error)),
        })?;
    match accepted {
        Accepted::Invalid => Err(RpcError::invalid(INVALID_TOKEN)),
        // Nothing written: the invitation stays pending.
        Accepted::Member => Err(RpcError::new(ErrorCode::Conflict, ALREADY_MEMBER)),
        // An account with this address was created meanwhile: try again with its password.
        Accepted::Duplicate => Err(RpcError::new(ErrorCode::Conflict, WRONG_PASSWORD)),
        Accepted::Done(response) => {
            auth.outbox.wake();
            tracing::info!(tenant.id = %tenant, user.id = %user, role = response.role.as_str(), new_account = response.new_account, "invitation accepted");
            Ok(response)
        }
    }
}
