//! Key rotation without downtime. `rpc.auth.keys.rotate` (an operator action; `heraldctl
//! keys rotate`) creates a new key, retires the others and publishes the public half; every
//! replica watches `auth-keys`, and on any change loads the newest active key from the
//! database and signs with it from then on. Retired keys stay published until the tokens
//! they signed have expired, so no token stops verifying early; each replica withdraws keys
//! past that grace every few minutes.

use super::master::MasterKey;
use super::publish::{keys_bucket, publish_public_keys};
use super::signing::{load_active_key, rotate_signing_key};
use crate::tokens::TokenIssuer;
use futures::StreamExt;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::auth::{KEYS_BUCKET, NoParams, RotateKeysResponse};
use herald_kit::async_nats::jetstream::{self, kv};
use herald_kit::db::Db;
use herald_kit::{KitError, RpcCtx};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often each replica withdraws retired keys whose grace has ended.
const WITHDRAW_EVERY: Duration = Duration::from_secs(5 * 60);

/// What rotating and following rotations need.
#[derive(Clone)]
pub struct KeyRing {
    pub db: Db,
    pub js: jetstream::Context,
    pub master: MasterKey,
    pub replicas: usize,
    pub tokens: Arc<TokenIssuer>,
}

/// `rpc.auth.keys.rotate`: new key in the database, public half in `auth-keys`, this replica
/// signing with it; the others follow through their watch.
pub async fn handle(
    ring: KeyRing,
    ctx: RpcCtx,
    _request: NoParams,
) -> Result<RotateKeysResponse, RpcError> {
    let (key, _retired) = rotate_signing_key(&ring.db, &ring.master)
        .await
        .map_err(failed)?;
    let kid = key.kid.clone();
    // Published before this replica signs with it, so gateways can know it first.
    let published = publish_public_keys(&ring.js, &ring.db, ring.replicas)
        .await
        .map_err(failed)?;
    ring.tokens.replace(key);
    // An operator action on the whole fleet, of no tenant: not an event of the per-tenant
    // `AUDIT` stream (tenant admins read that one). Its durable record is `signing_keys`
    // (`created_at`, `retired_at` of every key); this line is the operator's audit trail.
    tracing::warn!(
        audit.action = "auth.signing_key_rotated",
        key.kid = %kid,
        keys.published = published.len(),
        request_id = %ctx.request_id,
        "signing key rotated; now signing with the new key"
    );
    Ok(RotateKeysResponse { kid, published })
}

fn failed(error: KitError) -> RpcError {
    match error {
        KitError::Database(_) | KitError::Nats(_) => {
            tracing::warn!(error = %error, "key rotation failed; retryable");
            RpcError::unavailable()
        }
        other => RpcError::new(
            herald_contracts::rpc::ErrorCode::Internal,
            format!("rotating the signing key: {other}"),
        ),
    }
}

impl KeyRing {
    /// Loads the newest active key and signs with it if it is not the current one.
    async fn reload(&self) -> Result<(), KitError> {
        if let Some(key) = load_active_key(&self.db, &self.master).await? {
            let kid = key.kid.clone();
            if self.tokens.replace(key) {
                tracing::info!(key.kid = %kid, "signing with a rotated key");
            }
        }
        Ok(())
    }

    /// Follows `auth-keys` until `stop`, re-attaching with a backoff if the watch ends.
    pub async fn follow(self, stop: CancellationToken) {
        let mut delay = Duration::from_millis(200);
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                outcome = self.follow_once() => outcome,
            };
            if let Err(error) = outcome {
                tracing::warn!(bucket = KEYS_BUCKET, error = %error, "cannot follow key rotations; retrying");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn follow_once(&self) -> Result<(), KitError> {
        let store = keys_bucket(&self.js, self.replicas).await?;
        let mut watch = store
            .watch(">")
            .await
            .map_err(|error| KitError::Nats(format!("watching {KEYS_BUCKET}: {error}")))?;
        // A rotation between this replica's start (or the last watch) and now.
        self.reload().await?;
        let mut sweep = tokio::time::interval(WITHDRAW_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sweep.tick().await;
        loop {
            tokio::select! {
                entry = watch.next() => {
                    let Some(entry) = entry else { return Ok(()) };
                    let entry = entry.map_err(|error| {
                        KitError::Nats(format!("watching {KEYS_BUCKET}: {error}"))
                    })?;
                    if entry.operation == kv::Operation::Put && entry.key != self.tokens.kid() {
                        self.reload().await?;
                    }
                }
                // Withdraws keys whose grace has ended without waiting for the next rotation
                // or start (idempotent: every replica may do it).
                _ = sweep.tick() => {
                    publish_public_keys(&self.js, &self.db, self.replicas).await?;
                }
            }
        }
    }
}
