//! Publishes the public keys to the `auth-keys` KV bucket (JSON `PublicKey` per kid). Runs at
//! every start and is idempotent: an unchanged key is left alone, and retired keys are
//! withdrawn so gateways stop trusting them.

use crate::repo::keys as signing_keys;
use herald_contracts::rpc::auth::{KEYS_BUCKET, PublicKey};
use herald_kit::KitError;
use herald_kit::async_nats::jetstream::{self, kv};
use herald_kit::db::Db;

pub const ALGORITHM: &str = "EdDSA";

/// Gets the bucket, creating it (history 1) if nobody has yet; a replica or gateway that
/// creates it at the same moment is fine, the second look-up finds theirs.
async fn keys_bucket(js: &jetstream::Context, replicas: usize) -> Result<kv::Store, KitError> {
    if let Ok(store) = js.get_key_value(KEYS_BUCKET).await {
        return Ok(store);
    }
    let created = js
        .create_key_value(kv::Config {
            bucket: KEYS_BUCKET.to_owned(),
            description: "auth's public signing keys (JWKS), by kid".to_owned(),
            history: 1,
            num_replicas: replicas.max(1),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        Err(create_error) => js
            .get_key_value(KEYS_BUCKET)
            .await
            .map_err(|_| KitError::Nats(format!("kv bucket {KEYS_BUCKET}: {create_error}"))),
    }
}

/// Puts every non-retired public key and deletes retired ones; returns the published kids.
pub async fn publish_public_keys(
    js: &jetstream::Context,
    db: &Db,
    replicas: usize,
) -> Result<Vec<String>, KitError> {
    let store = keys_bucket(js, replicas).await?;
    let keys = {
        let mut conn = db.conn().await?;
        signing_keys::all(&mut conn).await?
    };
    let mut published = Vec::new();
    for key in keys {
        if key.retired_at.is_some() {
            if store.get(&key.kid).await.ok().flatten().is_some() {
                store.delete(&key.kid).await.map_err(|error| {
                    KitError::Nats(format!("withdrawing key {}: {error}", key.kid))
                })?;
                tracing::info!(key.kid = %key.kid, "retired public key withdrawn");
            }
            continue;
        }
        let public = PublicKey {
            kid: key.kid.clone(),
            alg: ALGORITHM.to_owned(),
            x: key.public_x,
            created_at: key.created_at,
        };
        let body = serde_json::to_vec(&public)
            .map_err(|error| KitError::Other(format!("public key {}: {error}", key.kid)))?;
        let current = store.get(&key.kid).await.ok().flatten();
        if current.as_deref() == Some(body.as_slice()) {
            published.push(key.kid);
            continue;
        }
        store
            .put(&key.kid, body.into())
            .await
            .map_err(|error| KitError::Nats(format!("publishing key {}: {error}", key.kid)))?;
        published.push(key.kid);
    }
    tracing::info!(
        keys = published.len(),
        bucket = KEYS_BUCKET,
        "public keys published"
    );
    Ok(published)
}
