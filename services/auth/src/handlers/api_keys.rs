//! `rpc.auth.api-keys.{create,list,revoke}`: the tenant's API keys, managed by its admins and
//! owner (never by a key), and the gateways' reports of key use (`apikeys.used.<tenant>`).
//!
//! Create stores sha256(secret), records `api_key.created` and puts the key into the gateways'
//! bucket before the transaction commits, so a key is never returned that gateways would not
//! know (should the commit then fail, the entry names a secret nobody was given, and the next
//! start removes it). The secret is in the create reply only. Revoke records `api_key.revoked`
//! and deletes the entry after the commit; revoking a revoked key deletes the entry again
//! (a retry after `Unavailable`), without a second event.

use super::{Auth, internal, unavailable};
use crate::api_keys::{active, hash_secret, new_secret, view};
use crate::repo::api_keys::{self as repo, NewApiKey};
use chrono::Utc;
use diesel_async::AsyncConnection;
use futures::StreamExt;
use herald_contracts::Envelope;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::api_keys::{
    API_KEY_USED_FILTER, ApiKeyList, ApiKeyUsed, CreateApiKeyRequest, CreatedApiKey,
    RevokeApiKeyRequest, Scope, format_key,
};
use herald_contracts::rpc::auth::{Done, NoParams};
use herald_contracts::rpc::{ErrorCode, Identity, Role, RpcError};
use herald_kit::RpcCtx;
use herald_kit::async_nats;
use tokio_util::sync::CancellationToken;

pub const NOT_FOUND: &str = "no such API key";
const MAX_NAME: usize = 100;
/// The queue group auth replicas share the use reports in.
const USED_GROUP: &str = "auth";

/// Admins and owners, with a session: a key never manages keys.
fn manager(ctx: &RpcCtx) -> Result<&Identity, RpcError> {
    let identity = ctx.identity()?;
    if identity.api_key_id.is_some() || !identity.role.at_least(Role::Admin) {
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            "your role does not allow this",
        ));
    }
    Ok(identity)
}

fn event(ctx: &RpcCtx, identity: &Identity, action: &str, key: uuid::Uuid) -> AuditEvent {
    AuditEvent::new(
        action,
        Actor::User {
            id: identity.user_id,
        },
        Outcome::Success,
        &ctx.request_id,
    )
    .target("api_key", key)
}

/// The name, trimmed: 1-100 characters, no control characters.
fn valid_name(name: &str) -> Result<&str, RpcError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(RpcError::invalid(format!(
            "name: must be 1 to {MAX_NAME} printable characters"
        )));
    }
    Ok(name)
}

/// The scopes, sorted and without repeats; at least one, none beyond `creator`'s role.
fn valid_scopes(scopes: &[Scope], creator: Role) -> Result<Vec<Scope>, RpcError> {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(RpcError::invalid("scopes: name at least one"));
    }
    if let Some(scope) = scopes.iter().find(|s| !creator.at_least(s.min_role())) {
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            format!("scopes: {scope} is beyond your role"),
        ));
    }
    Ok(scopes)
}

enum TxError {
    Db(diesel::result::Error),
    Rpc(RpcError),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        TxError::Db(error)
    }
}

pub async fn create(
    auth: Auth,
    ctx: RpcCtx,
    request: CreateApiKeyRequest,
) -> Result<CreatedApiKey, RpcError> {
    let identity = manager(&ctx)?;
    let tenant = identity.tenant_id;
    let name = valid_name(&request.name)?;
    let scopes = valid_scopes(&request.scopes, identity.role)?;
    if request.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(RpcError::invalid("expires_at: must be in the future"));
    }
    let id = uuid::Uuid::new_v4();
    let secret = new_secret();
    let hash = hash_secret(&secret);
    let role = Scope::role_of(&scopes);
    let new = NewApiKey {
        id,
        name,
        secret_hash: &hash,
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        role: role.as_str(),
        created_by: identity.user_id,
        expires_at: request.expires_at,
    };
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let stored = conn
        .transaction::<_, TxError, _>(async |conn| {
            let stored = repo::insert(conn, tenant, new).await?;
            let audit = event(&ctx, identity, actions::API_KEY_CREATED, id);
            herald_kit::audit::record(conn, tenant, audit).await?;
            auth.api_keys
                .put(&id, &active(&stored, &hash))
                .await
                .map_err(TxError::Rpc)?;
            Ok(stored)
        })
        .await
        .map_err(|error| match error {
            TxError::Db(error) => internal("creating the api key", error),
            TxError::Rpc(error) => error,
        })?;
    auth.outbox.wake();
    tracing::info!(tenant.id = %tenant, user.id = %identity.user_id, api_key.id = %id, "api key created");
    Ok(CreatedApiKey {
        key: view(stored),
        secret: format_key(&id, &secret),
    })
}

pub async fn list(auth: Auth, ctx: RpcCtx, _request: NoParams) -> Result<ApiKeyList, RpcError> {
    let tenant = manager(&ctx)?.tenant_id;
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let rows = repo::list(&mut conn, tenant)
        .await
        .map_err(|e| internal("listing api keys", e))?;
    Ok(ApiKeyList {
        keys: rows.into_iter().map(view).collect(),
    })
}

pub async fn revoke(
    auth: Auth,
    ctx: RpcCtx,
    request: RevokeApiKeyRequest,
) -> Result<Done, RpcError> {
    let identity = manager(&ctx)?;
    let tenant = identity.tenant_id;
    let id = request.id;
    let now = crate::revocations::now();
    let mut conn = auth.db.tenant(tenant).await.map_err(unavailable)?;
    let found = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(key) = repo::lock(conn, tenant, id).await? else {
                return Ok(false);
            };
            if key.key.revoked_at.is_none() {
                repo::revoke(conn, tenant, id, now).await?;
                let audit = event(&ctx, identity, actions::API_KEY_REVOKED, id);
                herald_kit::audit::record(conn, tenant, audit).await?;
            }
            Ok(true)
        })
        .await
        .map_err(|e| internal("revoking the api key", e))?;
    if !found {
        return Err(RpcError::not_found(NOT_FOUND));
    }
    auth.outbox.wake();
    auth.api_keys.delete(&[id]).await?;
    tracing::info!(tenant.id = %tenant, user.id = %identity.user_id, api_key.id = %id, "api key revoked");
    Ok(Done {})
}

/// Revokes, in the caller's transaction, every key `member` created in `tenant` (they are
/// leaving it), with an `api_key.revoked` event each; the ids, for [`ApiKeyBucket::delete`]
/// after the commit.
///
/// [`ApiKeyBucket::delete`]: crate::api_keys::ApiKeyBucket::delete
pub async fn revoke_created_by(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: herald_contracts::TenantId,
    member: herald_contracts::UserId,
    actor: Actor,
    request_id: &str,
    at: chrono::DateTime<Utc>,
    reason: &'static str,
) -> diesel::QueryResult<Vec<uuid::Uuid>> {
    let ids = repo::revoke_created_by(conn, tenant, member, at).await?;
    for id in &ids {
        let audit = AuditEvent::new(
            actions::API_KEY_REVOKED,
            actor.clone(),
            Outcome::Success,
            request_id,
        )
        .target("api_key", id)
        .reason(reason);
        herald_kit::audit::record(conn, tenant, audit).await?;
    }
    Ok(ids)
}

/// Follows the gateways' use reports until `stop`: `last_used_at` becomes the later of the
/// stored time and the report's (never in the future). Reports are best effort.
pub async fn follow_use(auth: Auth, nats: async_nats::Client, stop: CancellationToken) {
    let mut subscription = match nats
        .queue_subscribe(API_KEY_USED_FILTER, USED_GROUP.to_owned())
        .await
    {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::error!(error = %error, "cannot subscribe to api key use reports");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        let report = match serde_json::from_slice::<Envelope<ApiKeyUsed>>(&message.payload) {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(error = %error, "unreadable api key use report ignored");
                continue;
            }
        };
        let tenant = report.tenant_id;
        let used_at = report.data.used_at.min(Utc::now());
        let touched = async {
            let mut conn = auth.db.tenant(tenant).await.map_err(|e| e.to_string())?;
            repo::touch(&mut conn, tenant, report.data.key_id, used_at)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(error) = touched {
            tracing::warn!(api_key.id = %report.data.key_id, error = %error, "api key use not recorded");
        }
    }
    let _ = subscription.unsubscribe().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_scopes_are_checked() {
        assert_eq!(valid_name("  ci  ").unwrap(), "ci");
        assert!(valid_name(" ").is_err());
        assert!(valid_name("a\nb").is_err());
        assert!(valid_name(&"x".repeat(101)).is_err());
        assert_eq!(
            valid_scopes(
                &[Scope::PostsWrite, Scope::PostsRead, Scope::PostsWrite],
                Role::Admin
            )
            .unwrap(),
            [Scope::PostsRead, Scope::PostsWrite]
        );
        assert!(valid_scopes(&[], Role::Owner).is_err());
        let beyond = valid_scopes(&[Scope::AuditRead], Role::Editor).unwrap_err();
        assert_eq!(beyond.code, ErrorCode::Forbidden);
    }
}
