//! `rpc.publisher.accounts.connect`: verify the token with the platform, then store the account.

use super::internal;
use crate::State;
use crate::adapters::{ConnectError, ConnectInput};
use crate::domain::parse_instance_url;
use crate::repo::accounts::{self, NewAccount};
use herald_contracts::AccountId;
use herald_contracts::rpc::publisher::{AccountView, ConnectAccountRequest};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::RpcCtx;
use std::sync::Arc;

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: ConnectAccountRequest,
) -> Result<AccountView, RpcError> {
    let tenant = ctx.tenant()?;
    let instance_url = parse_instance_url(&request.instance_url, state.allow_private_networks)
        .map_err(RpcError::invalid)?;
    let token = request.access_token.trim();
    if token.is_empty() || token.len() > 4096 {
        return Err(RpcError::invalid(
            "access_token: must be 1 to 4096 characters",
        ));
    }
    let adapter = state
        .adapters
        .get(request.platform)
        .ok_or_else(|| RpcError::invalid("platform: not supported"))?;
    let input = ConnectInput {
        base_url: instance_url.clone(),
        access_token: Some(herald_kit::Secret::new(token)),
        ..ConnectInput::default()
    };
    let remote = adapter.connect(&input).await.map_err(|error| match error {
        ConnectError::Rejected(reason) => RpcError::invalid(reason),
        ConnectError::Unreachable(reason) => {
            tracing::warn!(reason = %reason, "platform unreachable while connecting an account");
            RpcError::new(ErrorCode::Unavailable, "the platform could not be reached")
        }
    })?;
    let mut conn = state.db.conn().await.map_err(|_| RpcError::unavailable())?;
    let account = accounts::upsert(
        &mut conn,
        tenant,
        NewAccount {
            platform: request.platform.as_str(),
            instance_url: &instance_url,
            remote_account_id: &remote.remote_account_id,
            handle: &remote.handle,
            access_token: token,
        },
    )
    .await
    .map_err(internal)?;
    tracing::info!(account.id = %account.id, platform = request.platform.as_str(), "account connected");
    Ok(AccountView {
        id: AccountId::from_uuid(account.id),
        platform: request.platform,
        handle: account.handle,
        remote_account_id: account.remote_account_id,
        created_at: account.created_at,
    })
}
