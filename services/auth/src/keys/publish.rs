//! Publishes the public keys to the `auth-keys` KV bucket (JSON `PublicKey` per kid). Runs at
//! every start and on every rotation, and is idempotent: an unchanged key is left alone, a
//! retired key stays until the tokens it signed have expired, then it is withdrawn so
//! gateways stop trusting it.

use crate::repo::keys as signing_keys;
use herald_contracts::rpc::auth::{KEYS_BUCKET, PublicKey};
use herald_kit::KitError;
use herald_kit::async_nats::jetstream::{self, kv};
use herald_kit::db::Db;

pub const ALGORITHM: &str = "EdDSA";

/// Gets the bucket, creating it (history 1) if nobody has yet; a replica or gateway that
/// creates it at the same moment is fine, the second look-up finds theirs.
pub(super) async fn keys_bucket(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<kv::Store, KitError> {
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

/// How long a retired key stays published: every token it signed has expired by then (the
/// access-token lifetime, plus a minute for the gateways' clock leeway).
pub const RETIRED_KEY_GRACE: chrono::TimeDelta =
    chrono::TimeDelta::seconds(crate::tokens::ACCESS_TOKEN_TTL_SECS as i64 + 60);

/// Puts every public key still needed for verification (active, or retired within
/// `RETIRED_KEY_GRACE`) and deletes the others; returns the published kids.
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
        let withdraw_before = chrono::Utc::now() - RETIRED_KEY_GRACE;
        if key.retired_at.is_some_and(|at| at < withdraw_before) {
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
