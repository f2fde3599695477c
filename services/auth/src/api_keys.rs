//! API key secrets and the `auth-api-keys` KV bucket every gateway watches.
//!
//! A key is `hk_<id>_<secret>`, the secret 32 random bytes in base64url; the database keeps
//! sha256(secret) (a fast hash is right for a 256-bit random secret: there is nothing to
//! guess). The database is the record: a handler changes its rows in a transaction, then puts
//! (or deletes) the bucket entry after the commit. A failed bucket write makes the call fail
//! with `Unavailable` (retrying writes again), and every start puts every active key again and
//! deletes entries of keys that are no longer active, so a lost write heals.

use crate::repo::api_keys::{self as repo, StoredApiKey, StoredApiKeyWithHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use herald_contracts::rpc::api_keys::{
    API_KEYS_BUCKET, ActiveApiKey, ApiKey, Scope, api_key_bucket_key, key_prefix,
};
use herald_contracts::rpc::{Role, RpcError};
use herald_contracts::{TenantId, UserId};
use herald_kit::KitError;
use herald_kit::async_nats::jetstream::{self, kv};
use herald_kit::db::Db;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// A new secret: 32 random bytes, base64url without padding (43 characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database and the bucket hold for a secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bucket's settings; the gateway creates it the same way if it starts first.
pub fn bucket_config(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: API_KEYS_BUCKET.to_owned(),
        description: "active API keys (auth writes, gateways watch)".to_owned(),
        history: 1,
        num_replicas: replicas.max(1),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    }
}

/// Scopes as stored (contract names); unknown names (from a newer version) are skipped.
pub fn scopes_of(stored: &[String]) -> Vec<Scope> {
    stored
        .iter()
        .filter_map(|name| Scope::parse(name))
        .collect()
}

/// The listed form of a stored key.
pub fn view(key: StoredApiKey) -> ApiKey {
    ApiKey {
        prefix: key_prefix(&key.id),
        id: key.id,
        name: key.name,
        scopes: scopes_of(&key.scopes),
        role: Role::parse(&key.role).unwrap_or(Role::Viewer),
        created_by: UserId::from_uuid(key.created_by),
        created_at: key.created_at,
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
        last_used_at: key.last_used_at,
    }
}

/// The bucket entry of an active key.
pub fn active(key: &StoredApiKey, secret_hash: &[u8]) -> ActiveApiKey {
    ActiveApiKey {
        tenant_id: TenantId::from_uuid(key.tenant_id),
        created_by: UserId::from_uuid(key.created_by),
        secret_sha256: hex(secret_hash),
        scopes: scopes_of(&key.scopes),
        role: Role::parse(&key.role).unwrap_or(Role::Viewer),
        expires_at: key.expires_at,
    }
}

pub struct ApiKeyBucket {
    store: kv::Store,
}

impl ApiKeyBucket {
    /// Gets the bucket, creating it if nobody has yet (a racing creator's bucket is found by
    /// the second look-up).
    pub async fn open(js: &jetstream::Context, replicas: usize) -> Result<Self, KitError> {
        if let Ok(store) = js.get_key_value(API_KEYS_BUCKET).await {
            return Ok(Self { store });
        }
        let store = match js.create_key_value(bucket_config(replicas)).await {
            Ok(store) => store,
            Err(create_error) => js.get_key_value(API_KEYS_BUCKET).await.map_err(|_| {
                KitError::Nats(format!("kv bucket {API_KEYS_BUCKET}: {create_error}"))
            })?,
        };
        Ok(Self { store })
    }

    async fn try_put(&self, id: &uuid::Uuid, entry: &ActiveApiKey) -> Result<(), KitError> {
        let body = serde_json::to_vec(entry)
            .map_err(|error| KitError::Other(format!("api key {id}: {error}")))?;
        self.store
            .put(api_key_bucket_key(id), body.into())
            .await
            .map(drop)
            .map_err(|error| KitError::Nats(format!("api key {id}: {error}")))
    }

    async fn try_delete(&self, id: &uuid::Uuid) -> Result<(), KitError> {
        self.store
            .delete(api_key_bucket_key(id))
            .await
            .map_err(|error| KitError::Nats(format!("api key {id}: {error}")))
    }

    /// Puts a key after its row committed; a failure is `Unavailable`.
    pub async fn put(&self, id: &uuid::Uuid, entry: &ActiveApiKey) -> Result<(), RpcError> {
        self.try_put(id, entry).await.map_err(|error| {
            tracing::error!(api_key.id = %id, error = %error, "api key not delivered to gateways");
            RpcError::unavailable()
        })
    }

    /// Deletes revoked keys' entries after their rows committed; a failure is `Unavailable`.
    pub async fn delete(&self, ids: &[uuid::Uuid]) -> Result<(), RpcError> {
        for id in ids {
            if let Err(error) = self.try_delete(id).await {
                tracing::error!(api_key.id = %id, error = %error, "api key revocation not delivered to gateways");
                return Err(RpcError::unavailable());
            }
        }
        Ok(())
    }

    /// At start: puts every active key and deletes every other entry.
    pub async fn republish(&self, db: &Db) -> Result<usize, KitError> {
        let rows: Vec<StoredApiKeyWithHash> = {
            // Every tenant's keys: the bucket is one for the fleet.
            let mut conn = db.system("api key bucket republish at start").await?;
            repo::all_active(&mut conn)
                .await
                .map_err(herald_kit::db::db_error)?
        };
        let mut wanted = HashSet::new();
        for row in &rows {
            self.try_put(&row.key.id, &active(&row.key, &row.secret_hash))
                .await?;
            wanted.insert(api_key_bucket_key(&row.key.id));
        }
        let mut keys = self
            .store
            .keys()
            .await
            .map_err(|error| KitError::Nats(format!("kv bucket {API_KEYS_BUCKET}: {error}")))?;
        let mut stale = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key
                .map_err(|error| KitError::Nats(format!("kv bucket {API_KEYS_BUCKET}: {error}")))?;
            if !wanted.contains(&key) {
                stale.push(key);
            }
        }
        for key in &stale {
            self.store
                .delete(key)
                .await
                .map_err(|error| KitError::Nats(format!("api key entry {key}: {error}")))?;
        }
        tracing::info!(
            api_keys = rows.len(),
            removed = stale.len(),
            bucket = API_KEYS_BUCKET,
            "api keys republished"
        );
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_and_hashed() {
        let secret = new_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
        assert_ne!(secret, new_secret());
        assert_eq!(hash_secret(&secret), hash_secret(&secret));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
