//! The public verification keys, mirrored from the `auth-keys` KV bucket. A watch keeps the
//! cache current (new keys on rotation, deleted keys dropped at once); a token whose `kid` is
//! not cached yet triggers one direct read of the bucket before it is rejected.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use herald_contracts::rpc::auth::{KEYS_BUCKET, PublicKey};
use herald_kit::async_nats::jetstream::{self, kv};
use jsonwebtoken::DecodingKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// How long a kid that the bucket did not have is not looked up again, so a flood of tokens
/// with made-up kids costs one KV read per kid, not one per request.
const MISS_TTL: Duration = Duration::from_secs(5);
const MAX_MISSES: usize = 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct KeyCache {
    js: jetstream::Context,
    store: OnceCell<kv::Store>,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    misses: Mutex<HashMap<String, Instant>>,
}

#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("not JSON PublicKey: {0}")]
    Json(#[from] serde_json::Error),
    #[error("kid {0:?} does not match its key name")]
    KidMismatch(String),
    #[error("unsupported alg {0:?}")]
    Alg(String),
    #[error("x is not a base64url 32-byte Ed25519 key")]
    Material,
}

/// Parses a bucket entry into a key usable for EdDSA verification.
fn parse_key(name: &str, value: &[u8]) -> Result<DecodingKey, KeyError> {
    let key: PublicKey = serde_json::from_slice(value)?;
    if key.kid != name {
        return Err(KeyError::KidMismatch(key.kid));
    }
    if key.alg != "EdDSA" {
        return Err(KeyError::Alg(key.alg));
    }
    // The verifier slices the first 32 bytes: anything but exactly 32 must never reach it.
    match URL_SAFE_NO_PAD.decode(key.x.as_bytes()) {
        Ok(raw) if raw.len() == 32 => {
            DecodingKey::from_ed_components(&key.x).map_err(|_| KeyError::Material)
        }
        _ => Err(KeyError::Material),
    }
}

/// A kid that can be a KV key (and so a NATS subject token).
fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
}

impl KeyCache {
    pub fn new(js: jetstream::Context) -> Self {
        Self {
            js,
            store: OnceCell::new(),
            keys: RwLock::default(),
            misses: Mutex::default(),
        }
    }

    async fn store(&self) -> Result<&kv::Store, String> {
        self.store
            .get_or_try_init(|| async {
                self.js
                    .get_key_value(KEYS_BUCKET)
                    .await
                    .map_err(|error| error.to_string())
            })
            .await
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    fn insert(&self, kid: &str, key: DecodingKey) -> Arc<DecodingKey> {
        let key = Arc::new(key);
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kid.to_owned(), key.clone());
        key
    }

    fn remove(&self, kid: &str) {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(kid);
    }

    fn recently_missed(&self, kid: &str) -> bool {
        let misses = self.misses.lock().unwrap_or_else(PoisonError::into_inner);
        misses.get(kid).is_some_and(|at| at.elapsed() < MISS_TTL)
    }

    fn record_miss(&self, kid: &str) {
        let mut misses = self.misses.lock().unwrap_or_else(PoisonError::into_inner);
        if misses.len() >= MAX_MISSES {
            misses.retain(|_, at| at.elapsed() < MISS_TTL);
            if misses.len() >= MAX_MISSES {
                misses.clear();
            }
        }
        misses.insert(kid.to_owned(), Instant::now());
    }

    /// The key for `kid`: from the cache, else one direct read of the bucket.
    pub async fn get(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        if !valid_kid(kid) || self.recently_missed(kid) {
            return None;
        }
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, async {
            let store = self.store().await?;
            store.get(kid).await.map_err(|error| error.to_string())
        })
        .await;
        match fetched {
            Ok(Ok(Some(value))) => match parse_key(kid, &value) {
                Ok(key) => Some(self.insert(kid, key)),
                Err(error) => {
                    tracing::warn!(key.kid = %kid, error = %error, "unusable signing key in bucket");
                    self.record_miss(kid);
                    None
                }
            },
            Ok(Ok(None)) => {
                self.record_miss(kid);
                None
            }
            Ok(Err(error)) => {
                tracing::warn!(key.kid = %kid, error = %error, "signing key lookup failed");
                None
            }
            Err(_) => {
                tracing::warn!(key.kid = %kid, "signing key lookup timed out");
                None
            }
        }
    }

    fn apply(&self, entry: kv::Entry) {
        match entry.operation {
            kv::Operation::Put => match parse_key(&entry.key, &entry.value) {
                Ok(key) => {
                    self.insert(&entry.key, key);
                    tracing::info!(key.kid = %entry.key, "signing key loaded");
                }
                Err(error) => {
                    self.remove(&entry.key);
                    tracing::warn!(key.kid = %entry.key, error = %error, "unusable signing key in bucket");
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                self.remove(&entry.key);
                tracing::info!(key.kid = %entry.key, "signing key removed");
            }
        }
    }

    /// Follows the bucket until `stop`: the current keys first, then every change. Waits for
    /// the bucket if auth has not created it yet, and re-attaches if the watch ends.
    pub async fn watch(self: Arc<Self>, stop: CancellationToken) {
        crate::kv_watch::follow_forever(KEYS_BUCKET, "signing keys", stop, || {
            let this = self.clone();
            async move { this.follow().await }
        })
        .await
    }

    async fn follow(&self) -> Result<(), String> {
        let store = self.store().await?;
        let mut watch = store
            .watch_with_history(">")
            .await
            .map_err(|error| error.to_string())?;
        while let Some(entry) = watch.next().await {
            self.apply(entry.map_err(|error| error.to_string())?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kid: &str, alg: &str, x: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "kid": kid, "alg": alg, "x": x, "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn accepts_only_32_byte_eddsa_keys_named_by_their_kid() {
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert!(parse_key("k1", &entry("k1", "EdDSA", &x)).is_ok());
        assert!(parse_key("k2", &entry("k1", "EdDSA", &x)).is_err());
        assert!(parse_key("k1", &entry("k1", "HS256", &x)).is_err());
        let short = URL_SAFE_NO_PAD.encode([7u8; 16]);
        assert!(parse_key("k1", &entry("k1", "EdDSA", &short)).is_err());
        assert!(parse_key("k1", b"not json").is_err());
    }

    #[test]
    fn kids_must_be_kv_keys() {
        assert!(valid_kid("2026-11-23_abc"));
        assert!(!valid_kid(""));
        assert!(!valid_kid("a.b"));
        assert!(!valid_kid("a>b"));
        assert!(!valid_kid(&"a".repeat(200)));
    }
}
