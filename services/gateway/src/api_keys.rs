//! API keys, mirrored from the `auth-api-keys` KV bucket that auth writes. A watch keeps every
//! replica's copy current (a revocation deletes the entry and reaches every replica within
//! milliseconds), so a request with a key needs no call to auth or the database.
//!
//! A key is `hk_<id>_<secret>`: the id finds the entry, sha256(secret) must equal the entry's
//! hash (compared in constant time), and the entry must not have expired. The caller is the
//! key's tenant and creator, acting with the key's role (never above its creator's) and
//! carrying `api_key_id`. Until the watch has delivered what the bucket held, keys are
//! refused (fail closed). Use is reported to auth (`apikeys.used.<tenant>`) at most once a
//! minute per key from each replica, for the key's `last_used_at`.

use herald_contracts::Envelope;
use herald_contracts::rpc::Identity;
use herald_contracts::rpc::api_keys::{
    API_KEYS_BUCKET, ActiveApiKey, ApiKeyUsed, Scope, api_key_bucket_key, parse_key,
};
use herald_kit::async_nats::{self, jetstream, jetstream::kv};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a request waits for the keys to be loaded (only just after start).
const LOAD_WAIT: Duration = Duration::from_secs(2);
/// Each replica reports a key's use at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Longer than any key string auth issues; refused before parsing.
const MAX_KEY_LEN: usize = 200;

/// Why a key was refused; logged at debug level, never shown beyond "invalid token".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not an API key")]
    Malformed,
    #[error("unknown or revoked key")]
    Unknown,
    #[error("wrong secret")]
    WrongSecret,
    #[error("key expired")]
    Expired,
    #[error("api keys not loaded yet")]
    NotLoaded,
}

/// A verified key: the caller it stands for and what it may do.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub id: uuid::Uuid,
    pub identity: Identity,
    pub scopes: Vec<Scope>,
}

pub struct ApiKeyCache {
    js: jetstream::Context,
    nats: async_nats::Client,
    replicas: usize,
    /// Key id → entry.
    entries: RwLock<HashMap<uuid::Uuid, ActiveApiKey>>,
    ready: watch::Sender<bool>,
    /// When this replica last reported each key's use.
    reported: Mutex<HashMap<uuid::Uuid, Instant>>,
}

/// Whether two byte strings are equal, in time that depends on their length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `value` looks like an API key rather than an access token.
pub fn is_api_key(value: &str) -> bool {
    value.starts_with(herald_contracts::rpc::api_keys::KEY_PREFIX)
}

impl ApiKeyCache {
    pub fn new(js: jetstream::Context, nats: async_nats::Client, replicas: usize) -> Self {
        Self {
            js,
            nats,
            replicas,
            entries: RwLock::default(),
            ready: watch::Sender::new(false),
            reported: Mutex::default(),
        }
    }

    /// The caller `key` stands for.
    pub async fn verify(&self, key: &str) -> Result<VerifiedKey, KeyError> {
        if key.len() > MAX_KEY_LEN {
            return Err(KeyError::Malformed);
        }
        let (id, secret) = parse_key(key).ok_or(KeyError::Malformed)?;
        if !self.ready(LOAD_WAIT).await {
            return Err(KeyError::NotLoaded);
        }
        let entry = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or(KeyError::Unknown)?;
        let presented = hex(&Sha256::digest(secret.as_bytes()));
        if !constant_time_eq(presented.as_bytes(), entry.secret_sha256.as_bytes()) {
            return Err(KeyError::WrongSecret);
        }
        if entry.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
            return Err(KeyError::Expired);
        }
        self.report_use(id, &entry).await;
        Ok(VerifiedKey {
            id,
            identity: Identity {
                tenant_id: entry.tenant_id,
                user_id: entry.created_by,
                role: entry.role,
                api_key_id: Some(id),
            },
            scopes: entry.scopes,
        })
    }

    /// Tells auth the key was used, unless this replica did so within `REPORT_EVERY`.
    async fn report_use(&self, id: uuid::Uuid, entry: &ActiveApiKey) {
        {
            let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if reported
                .get(&id)
                .is_some_and(|at| now.duration_since(*at) < REPORT_EVERY)
            {
                return;
            }
            if reported.len() >= 100_000 {
                reported.retain(|_, at| now.duration_since(*at) < REPORT_EVERY);
            }
            reported.insert(id, now);
        }
        let report = ApiKeyUsed {
            key_id: id,
            used_at: chrono::Utc::now(),
        };
        let envelope = Envelope::new(entry.tenant_id, format!("apikey-use-{id}"), None, report);
        let subject = envelope.subject();
        let Ok(body) = serde_json::to_vec(&envelope) else {
            return;
        };
        // Queued on the connection (no round trip); best effort: a lost report only delays
        // `last_used_at`.
        if let Err(error) = self.nats.publish(subject, body.into()).await {
            tracing::debug!(api_key.id = %id, error = %error, "api key use not reported");
        }
    }

    /// Waits until the watch has delivered the bucket's contents, up to `timeout`.
    pub async fn ready(&self, timeout: Duration) -> bool {
        if *self.ready.borrow() {
            return true;
        }
        let mut ready = self.ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|ready| *ready))
            .await
            .is_ok_and(|outcome| outcome.is_ok())
    }

    fn apply(&self, entry: kv::Entry) {
        let Some(id) = entry
            .key
            .strip_prefix("key.")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .filter(|id| api_key_bucket_key(id) == entry.key)
        else {
            tracing::warn!(api_key.entry = %entry.key, "unexpected api key entry ignored");
            return;
        };
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entry.operation {
            kv::Operation::Put => match serde_json::from_slice::<ActiveApiKey>(&entry.value) {
                Ok(key) => {
                    entries.insert(id, key);
                }
                Err(error) => {
                    // Unreadable: refused, like an unknown key.
                    entries.remove(&id);
                    tracing::warn!(api_key.id = %id, error = %error, "unreadable api key entry ignored");
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                entries.remove(&id);
            }
        }
    }

    /// The bucket, created (as auth creates it) if auth has not yet.
    async fn store(&self) -> Result<kv::Store, String> {
        let config = kv::Config {
            bucket: API_KEYS_BUCKET.to_owned(),
            description: "active API keys (auth writes, gateways watch)".to_owned(),
            history: 1,
            num_replicas: self.replicas.max(1),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        crate::kv_watch::open_or_create(&self.js, config).await
    }

    /// Follows the bucket until `stop`: its contents first, then every change; re-attaches
    /// (and reads everything again) if the watch ends.
    pub async fn watch(self: std::sync::Arc<Self>, stop: CancellationToken) {
        crate::kv_watch::follow_forever(API_KEYS_BUCKET, "api keys", stop, || {
            let this = self.clone();
            async move { this.follow().await }
        })
        .await
    }

    async fn follow(&self) -> Result<(), String> {
        let store = self.store().await?;
        crate::kv_watch::replay_and_follow(&store, &self.ready, |entry| self.apply(entry)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_in_constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
    }

    #[test]
    fn tells_keys_from_tokens() {
        assert!(is_api_key("hk_0123_abc"));
        assert!(!is_api_key("eyJhbGciOiJFZERTQSJ9.x.y"));
    }
}
