//! Signing keys: the service's own, not a tenant's.

use super::signing_keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Held for the duration of a transaction by whoever checks for (and creates) the active
/// key, so replicas starting together create one key, not one each.
pub async fn lock_for_key_creation(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('herald.auth.signing_keys'))")
        .execute(conn)
        .await
        .map(drop)
}

/// A stored key; `sealed_private_key` is the AEAD-sealed seed.
#[derive(Queryable)]
pub struct StoredKey {
    pub kid: String,
    pub sealed_private_key: Vec<u8>,
    pub public_x: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

// By hand: even sealed, key material stays out of Debug output.
impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// The key new tokens are signed with: the newest one not retired.
pub async fn newest_active(conn: &mut AsyncPgConnection) -> QueryResult<Option<StoredKey>> {
    signing_keys::table
        .filter(signing_keys::retired_at.is_null())
        .order((signing_keys::created_at.desc(), signing_keys::kid))
        .first(conn)
        .await
        .optional()
}

/// Every key, oldest first (retired ones too, so their public entries can be withdrawn).
pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<StoredKey>> {
    signing_keys::table
        .order((signing_keys::created_at, signing_keys::kid))
        .load(conn)
        .await
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    kid: &str,
    sealed_private_key: &[u8],
    public_x: &str,
) -> QueryResult<StoredKey> {
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(kid),
            signing_keys::private_key.eq(sealed_private_key),
            signing_keys::public_x.eq(public_x),
        ))
        .get_result(conn)
        .await
}

/// Retires every key but `kid` (rotation): they stop signing now and stay published until
/// the tokens they signed have expired.
pub async fn retire_all_except(
    conn: &mut AsyncPgConnection,
    kid: &str,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::retired_at.is_null())
            .filter(signing_keys::kid.ne(kid)),
    )
    .set(signing_keys::retired_at.eq(now))
    .returning(signing_keys::kid)
    .get_results(conn)
    .await
}
