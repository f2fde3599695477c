//! `rpc.auth.register`: a new tenant and its owner. The tenant, the user, the owner
//! membership, the `identity.user-registered` message and the verification email
//! (`identity.email-requested`) commit in one transaction.

use super::{Auth, internal, unavailable};
use crate::domain::{Email, Password, TenantName};
use crate::repo::identity;
use diesel_async::AsyncConnection;
use herald_contracts::messages::UserRegistered;
use herald_contracts::rpc::auth::{RegisterRequest, RegisterResponse};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_contracts::{Envelope, TenantId, UserId};
use herald_kit::{Outgoing, RpcCtx, outbox};

pub const DUPLICATE_EMAIL: &str = "email already registered";

fn duplicate() -> RpcError {
    RpcError::new(ErrorCode::Conflict, DUPLICATE_EMAIL)
}

pub async fn handle(
    auth: Auth,
    ctx: RpcCtx,
    request: RegisterRequest,
) -> Result<RegisterResponse, RpcError> {
    let tenant_name =
        TenantName::parse(&request.tenant_name).map_err(|e| RpcError::invalid(e.0))?;
    let email = Email::parse(&request.email).map_err(|e| RpcError::invalid(e.0))?;
    let password = Password::parse(request.password).map_err(|e| RpcError::invalid(e.0))?;

    // Cheap early answer that saves a hash; the unique index below is the real guard.
    {
        let mut conn = auth.db.conn().await.map_err(unavailable)?;
        if identity::email_registered(&mut conn, &email)
            .await
            .map_err(|e| internal("checking the email", e))?
        {
            return Err(duplicate());
        }
    }
    // Hashed before the transaction (and without holding a connection): it takes a while.
    let password_hash = auth
        .passwords
        .hash(&password)
        .await
        .map_err(|e| internal("hashing the password", e))?;

    let tenant = TenantId::new();
    let user = UserId::new();
    let envelope = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        None,
        UserRegistered {
            user_id: user,
            email: email.as_str().to_owned(),
            role: Role::Owner,
        },
    );
    let now = chrono::Utc::now();
    let verification = super::email::VerificationEmail::new(&auth, user, &email, now);
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let committed = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            identity::insert_tenant(conn, tenant, &tenant_name).await?;
            identity::insert_user(conn, user, &email, &password_hash).await?;
            identity::insert_membership(conn, tenant, user, Role::Owner).await?;
            outbox::enqueue(conn, &[Outgoing::message(&envelope)]).await?;
            // The address is confirmed by the link this sends.
            verification
                .store(conn, tenant, &auth.identity, &ctx.request_id)
                .await?;
            Ok(())
        })
        .await;
    match committed {
        Ok(()) => {}
        Err(error) if identity::is_duplicate_email(&error) => return Err(duplicate()),
        Err(error) => return Err(internal("registering", error)),
    }
    auth.outbox.wake();
    tracing::info!(tenant.id = %tenant, user.id = %user, "tenant registered");
    Ok(RegisterResponse {
        tenant_id: tenant,
        user_id: user,
    })
}
