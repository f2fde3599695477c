//! Revoked sessions, users and memberships, mirrored from the `auth-revocations` KV bucket
//! that auth writes. A watch keeps every replica's copy current (a put reaches it within
//! milliseconds), so the verifier refuses a revoked token with no call per request.
//!
//! Entries: `sid.<session>` (every token of that session), `user.<user>` and
//! `member.<tenant>.<user>` (tokens issued, `iat`, before the entry's second). An entry older
//! than the retention is forgotten: every token it refused has expired by then. The gateway
//! does not serve until the watch has delivered what the bucket held (see `ready`).

use herald_contracts::rpc::Identity;
use herald_contracts::rpc::auth::{
    REVOCATION_RETENTION_SECS, REVOCATIONS_BUCKET, Revocation, membership_revocation_key,
    session_revocation_key, user_revocation_key,
};
use herald_kit::async_nats::jetstream::{self, kv};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often forgotten entries are swept out of the map.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct RevocationCache {
    js: jetstream::Context,
    replicas: usize,
    /// Bucket key → `revoked_at` in Unix seconds.
    entries: RwLock<HashMap<String, i64>>,
    ready: watch::Sender<bool>,
    pruned: Mutex<Instant>,
}

/// The parts of a verified token a revocation can match.
pub struct TokenFacts<'a> {
    pub identity: &'a Identity,
    pub session: Option<uuid::Uuid>,
    pub issued_at: i64,
}

impl RevocationCache {
    pub fn new(js: jetstream::Context, replicas: usize) -> Self {
        Self {
            js,
            replicas,
            entries: RwLock::default(),
            ready: watch::Sender::new(false),
            pruned: Mutex::new(Instant::now()),
        }
    }

    fn get(&self, key: &str) -> Option<i64> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
    }

    /// Why the token is revoked, if it is.
    pub fn revoked(&self, token: &TokenFacts<'_>) -> Option<&'static str> {
        if let Some(session) = &token.session
            && self.get(&session_revocation_key(session)).is_some()
        {
            return Some("session revoked");
        }
        let user = &token.identity.user_id;
        if self
            .get(&user_revocation_key(user))
            .is_some_and(|before| token.issued_at < before)
        {
            return Some("user's sessions revoked");
        }
        if self
            .get(&membership_revocation_key(&token.identity.tenant_id, user))
            .is_some_and(|before| token.issued_at < before)
        {
            return Some("membership revoked");
        }
        None
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
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entry.operation {
            kv::Operation::Put => match serde_json::from_slice::<Revocation>(&entry.value) {
                Ok(revocation) => {
                    entries.insert(entry.key, revocation.revoked_at.timestamp());
                }
                Err(error) => {
                    tracing::warn!(revocation.key = %entry.key, error = %error, "unreadable revocation ignored");
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                entries.remove(&entry.key);
            }
        }
        drop(entries);
        self.prune_now_and_then();
    }

    fn prune_now_and_then(&self) {
        let mut pruned = self.pruned.lock().unwrap_or_else(PoisonError::into_inner);
        if pruned.elapsed() < PRUNE_EVERY {
            return;
        }
        *pruned = Instant::now();
        let oldest = chrono::Utc::now().timestamp() - REVOCATION_RETENTION_SECS as i64;
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, revoked_at| *revoked_at >= oldest);
    }

    /// The bucket, created (as auth creates it) if auth has not yet.
    async fn store(&self) -> Result<kv::Store, String> {
        let config = kv::Config {
            bucket: REVOCATIONS_BUCKET.to_owned(),
            description: "revoked sessions, users and memberships (auth writes, gateways watch)"
                .to_owned(),
            history: 1,
            max_age: Duration::from_secs(REVOCATION_RETENTION_SECS),
            num_replicas: self.replicas.max(1),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        crate::kv_watch::open_or_create(&self.js, config).await
    }

    /// Follows the bucket until `stop`: its contents first, then every change; re-attaches
    /// (and reads everything again) if the watch ends.
    pub async fn watch(self: std::sync::Arc<Self>, stop: CancellationToken) {
        crate::kv_watch::follow_forever(REVOCATIONS_BUCKET, "revocations", stop, || {
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
