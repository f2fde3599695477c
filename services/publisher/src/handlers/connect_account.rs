//! `rpc.publisher.accounts.connect`: verify the credentials with the platform, then store the
//! account. `accounts.list` and `accounts.disconnect` live here too.

use super::internal;
use crate::State;
use crate::adapters::{ConnectError, ConnectInput};
use crate::domain::parse_instance_url;
use crate::repo::accounts::{self, Account, NewAccount};
use diesel_async::AsyncConnection;
use herald_contracts::AccountId;
use herald_contracts::messages::Platform;
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, actions};
use herald_contracts::rpc::publisher::{
    AccountList, AccountView, ConnectAccountRequest, DisconnectAccountRequest, Disconnected,
    ListAccountsRequest,
};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::{RpcCtx, Secret};
use std::sync::Arc;

const MAX_FIELD: usize = 4096;

/// A credential field: trimmed, non-empty, bounded. The message names the field, never its value.
fn field(name: &str, value: Option<&String>) -> Result<Option<String>, RpcError> {
    let Some(value) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_FIELD {
        return Err(RpcError::invalid(format!(
            "{name}: at most {MAX_FIELD} characters"
        )));
    }
    Ok(Some(value.to_owned()))
}

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: ConnectAccountRequest,
) -> Result<AccountView, RpcError> {
    let tenant = ctx.tenant()?;
    let base_url = match state.platforms.base_url(request.platform) {
        Some(configured) => configured.to_owned(),
        None => {
            let raw = request
                .instance_url
                .as_deref()
                .ok_or_else(|| RpcError::invalid("instance_url: required for Mastodon"))?;
            parse_instance_url(raw, state.allow_private_networks).map_err(RpcError::invalid)?
        }
    };
    let expires_in = request.expires_in;
    if expires_in.is_some_and(|s| !(0..=10 * 365 * 86_400).contains(&s)) {
        return Err(RpcError::invalid(
            "expires_in: must be between 0 and ten years",
        ));
    }
    let input = ConnectInput {
        base_url: base_url.clone(),
        access_token: field("access_token", request.access_token.as_ref())?.map(Secret::new),
        refresh_token: field("refresh_token", request.refresh_token.as_ref())?.map(Secret::new),
        expires_in,
        identifier: field("identifier", request.identifier.as_ref())?,
        password: field("password", request.password.as_ref())?.map(Secret::new),
        account_ref: field("account_ref", request.account_ref.as_ref())?,
    };
    let adapter = state
        .adapters
        .get(request.platform)
        .ok_or_else(|| RpcError::invalid("platform: not supported"))?;
    let connected = adapter.connect(&input).await.map_err(|error| match error {
        ConnectError::Rejected(reason) => RpcError::invalid(reason),
        ConnectError::Unreachable(reason) => {
            tracing::warn!(reason = %reason, "platform unreachable while connecting an account");
            RpcError::new(ErrorCode::Unavailable, "the platform could not be reached")
        }
    })?;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let new = NewAccount {
        platform: request.platform.as_str(),
        instance_url: &base_url,
        remote_account_id: &connected.remote_account_id,
        handle: &connected.handle,
        access_token: connected.tokens.access_token.expose(),
        refresh_token: connected.tokens.refresh_token.as_ref().map(Secret::expose),
        token_expires_at: connected.tokens.expires_at,
    };
    // The account and its audit event commit together.
    let account = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let account = accounts::upsert(conn, &state.tokens, tenant, new).await?;
            let event = audit_event(&ctx, actions::ACCOUNT_CONNECTED, account.id)?;
            herald_kit::audit::record(conn, tenant, event).await?;
            Ok(account)
        })
        .await
        .map_err(internal)?;
    state.outbox.wake();
    tracing::info!(account.id = %account.id, platform = request.platform.as_str(), "account connected");
    Ok(view(account))
}

/// The audit event of connecting or disconnecting `account`, by the verified caller.
fn audit_event(
    ctx: &RpcCtx,
    action: &str,
    account: uuid::Uuid,
) -> Result<AuditEvent, diesel::result::Error> {
    let identity = ctx
        .identity
        .as_ref()
        .ok_or_else(|| diesel::result::Error::QueryBuilderError("no identity to audit".into()))?;
    Ok(AuditEvent::new(
        action,
        Actor::User {
            id: identity.user_id,
        },
        Outcome::Success,
        &ctx.request_id,
    )
    .target("account", account))
}

fn view(account: Account) -> AccountView {
    AccountView {
        id: AccountId::from_uuid(account.id),
        platform: Platform::parse(&account.platform).unwrap_or_default(),
        handle: account.handle,
        remote_account_id: account.remote_account_id,
        created_at: account.created_at,
    }
}

pub async fn list(
    state: Arc<State>,
    ctx: RpcCtx,
    _request: ListAccountsRequest,
) -> Result<AccountList, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let accounts = accounts::list(&mut conn, tenant).await.map_err(internal)?;
    Ok(AccountList {
        accounts: accounts.into_iter().map(view).collect(),
    })
}

pub async fn disconnect(
    state: Arc<State>,
    ctx: RpcCtx,
    request: DisconnectAccountRequest,
) -> Result<Disconnected, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    // The disconnection and its audit event commit together.
    let found = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let found = accounts::disconnect(conn, tenant, request.account_id).await?;
            if found {
                let account = request.account_id.as_uuid();
                let event = audit_event(&ctx, actions::ACCOUNT_DISCONNECTED, account)?;
                herald_kit::audit::record(conn, tenant, event).await?;
            }
            Ok(found)
        })
        .await
        .map_err(internal)?;
    if !found {
        return Err(RpcError::not_found("account not found"));
    }
    state.outbox.wake();
    let open_targets = accounts::open_targets(&mut conn, tenant, request.account_id)
        .await
        .map_err(internal)?;
    tracing::info!(account.id = %request.account_id, open_targets, "account disconnected; its tokens are erased");
    Ok(Disconnected {
        account_id: request.account_id,
        open_targets,
    })
}
