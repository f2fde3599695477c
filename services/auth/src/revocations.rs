//! Writes revocations to the `auth-revocations` KV bucket that every gateway watches, so an
//! ended session or a "log out everywhere" is refused on every replica within a second, with
//! no database call per request.
//!
//! The database is the record: a handler inserts its `revocations` rows in the transaction
//! that ends the sessions, then puts the entries here after the commit. If a put fails the
//! call fails with `Unavailable` (retrying it puts again), and every start puts every row
//! still inside the retention again, so a lost write heals.

use crate::repo::tokens;
use chrono::{DateTime, TimeDelta, Utc};
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::auth::{REVOCATION_RETENTION_SECS, REVOCATIONS_BUCKET, Revocation};
use herald_kit::KitError;
use herald_kit::async_nats::jetstream::{self, kv};
use herald_kit::db::Db;
use std::time::Duration;

/// How long entries (and rows) are kept: past the life of every token they refuse.
pub fn retention() -> TimeDelta {
    TimeDelta::seconds(REVOCATION_RETENTION_SECS as i64)
}

/// The bucket's settings; the gateway creates it the same way if it starts first.
pub fn bucket_config(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: REVOCATIONS_BUCKET.to_owned(),
        description: "revoked sessions, users and memberships (auth writes, gateways watch)"
            .to_owned(),
        history: 1,
        max_age: Duration::from_secs(REVOCATION_RETENTION_SECS),
        num_replicas: replicas.max(1),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    }
}

/// One entry to put: the bucket key and when the revocation took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub revoked_at: DateTime<Utc>,
}

pub struct Revocations {
    store: kv::Store,
}

impl Revocations {
    /// Gets the bucket, creating it if nobody has yet (a racing creator's bucket is found by
    /// the second look-up).
    pub async fn open(js: &jetstream::Context, replicas: usize) -> Result<Self, KitError> {
        if let Ok(store) = js.get_key_value(REVOCATIONS_BUCKET).await {
            return Ok(Self { store });
        }
        let store = match js.create_key_value(bucket_config(replicas)).await {
            Ok(store) => store,
            Err(create_error) => js.get_key_value(REVOCATIONS_BUCKET).await.map_err(|_| {
                KitError::Nats(format!("kv bucket {REVOCATIONS_BUCKET}: {create_error}"))
            })?,
        };
        Ok(Self { store })
    }

    async fn put(&self, entry: &Entry) -> Result<(), KitError> {
        let body = serde_json::to_vec(&Revocation {
            revoked_at: entry.revoked_at,
        })
        .map_err(|error| KitError::Other(format!("revocation {}: {error}", entry.key)))?;
        self.store
            .put(&entry.key, body.into())
            .await
            .map(drop)
            .map_err(|error| KitError::Nats(format!("revocation {}: {error}", entry.key)))
    }

    /// Puts `entries` after their rows committed; a failure is `Unavailable`: the caller may
    /// retry, and the next start puts them anyway.
    pub async fn publish(&self, entries: &[Entry]) -> Result<(), RpcError> {
        for entry in entries {
            if let Err(error) = self.put(entry).await {
                tracing::error!(revocation.key = %entry.key, error = %error, "revocation not delivered to gateways");
                return Err(RpcError::unavailable());
            }
        }
        Ok(())
    }

    /// At start: forgets rows past the retention and puts the others again.
    pub async fn republish(&self, db: &Db) -> Result<usize, KitError> {
        let since = Utc::now() - retention();
        let rows = {
            let mut conn = db.conn().await?;
            tokens::prune_revocations(&mut conn, since).await?;
            tokens::revocations_since(&mut conn, since).await?
        };
        for (key, revoked_at) in &rows {
            self.put(&Entry {
                key: key.clone(),
                revoked_at: *revoked_at,
            })
            .await?;
        }
        tracing::info!(
            revocations = rows.len(),
            bucket = REVOCATIONS_BUCKET,
            "revocations republished"
        );
        Ok(rows.len())
    }
}

/// Records `entries` in the caller's transaction (the database side of `publish`).
pub async fn record(
    conn: &mut diesel_async::AsyncPgConnection,
    entries: &[Entry],
) -> diesel::QueryResult<()> {
    for entry in entries {
        tokens::record_revocation(conn, &entry.key, entry.revoked_at).await?;
    }
    Ok(())
}

/// The entries that end these sessions.
pub fn sessions(families: &[uuid::Uuid], at: DateTime<Utc>) -> Vec<Entry> {
    families
        .iter()
        .map(|family| Entry {
            key: herald_contracts::rpc::auth::session_revocation_key(family),
            revoked_at: at,
        })
        .collect()
}

/// Now, to the microsecond Postgres keeps, so an entry put now and the row recorded with it
/// carry the same time (the re-publish at start puts the same value again).
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}
