//! Refresh tokens, stored only as sha256 hashes, and the revocations gateways enforce.
//!
//! A refresh token is looked up by its hash alone: presenting it is what identifies the
//! tenant and user, so that one query takes no `TenantId`. Ending sessions is written with
//! the tenant where there is one; "log out everywhere" is the user's, across tenants.

use super::refresh_tokens;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{TenantId, UserId};

// Kept here rather than beside the identity tables: only this module reads or writes it.
diesel::table! {
    revocations (key) {
        key -> Text,
        revoked_at -> Timestamptz,
    }
}

pub struct NewRefreshToken<'a> {
    pub user: UserId,
    pub family: uuid::Uuid,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    token: NewRefreshToken<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(uuid::Uuid::now_v7()),
            refresh_tokens::tenant_id.eq(tenant.as_uuid()),
            refresh_tokens::user_id.eq(token.user.as_uuid()),
            refresh_tokens::family_id.eq(token.family),
            refresh_tokens::token_hash.eq(token.token_hash),
            refresh_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .await
}

/// A stored refresh token, without its hash.
#[derive(Debug, Queryable)]
pub struct StoredRefreshToken {
    pub id: uuid::Uuid,
    pub tenant: uuid::Uuid,
    pub user: uuid::Uuid,
    pub family: uuid::Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The token with this hash, locked until the transaction ends, so two concurrent uses of
/// one token are decided one after the other.
pub async fn lock_by_hash(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<StoredRefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::tenant_id,
            refresh_tokens::user_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            refresh_tokens::revoked_at,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Marks a token rotated: it must never be accepted again.
pub async fn mark_used(
    conn: &mut AsyncPgConnection,
    id: uuid::Uuid,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table.filter(refresh_tokens::id.eq(id)))
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)
        .await
}

/// Revokes every token of a family (the one found by its token's hash).
pub async fn revoke_family(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    family: uuid::Uuid,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant.as_uuid()))
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await
}

/// Revokes the caller's own session; a family that is not theirs is left alone (0 rows).
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    family: uuid::Uuid,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant.as_uuid()))
            .filter(refresh_tokens::user_id.eq(user.as_uuid()))
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await
}

/// Revokes every live family of the user in every tenant; returns the families.
pub async fn revoke_user_sessions(
    conn: &mut AsyncPgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Vec<uuid::Uuid>> {
    let families = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user.as_uuid()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .returning(refresh_tokens::family_id)
    .get_results(conn)
    .await?;
    Ok(distinct(families))
}

/// Revokes every live family of the user in one tenant; returns the families.
pub async fn revoke_member_sessions(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Vec<uuid::Uuid>> {
    let families = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant.as_uuid()))
            .filter(refresh_tokens::user_id.eq(user.as_uuid()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .returning(refresh_tokens::family_id)
    .get_results(conn)
    .await?;
    Ok(distinct(families))
}

fn distinct(mut families: Vec<uuid::Uuid>) -> Vec<uuid::Uuid> {
    families.sort_unstable();
    families.dedup();
    families
}

/// Records a revocation (a later one for the same key replaces the earlier one).
pub async fn record_revocation(
    conn: &mut AsyncPgConnection,
    key: &str,
    revoked_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(revocations::table)
        .values((
            revocations::key.eq(key),
            revocations::revoked_at.eq(revoked_at),
        ))
        .on_conflict(revocations::key)
        .do_update()
        .set(revocations::revoked_at.eq(revoked_at))
        .execute(conn)
        .await
}

/// Revocations recorded at or after `since`, oldest first.
pub async fn revocations_since(
    conn: &mut AsyncPgConnection,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(String, DateTime<Utc>)>> {
    revocations::table
        .filter(revocations::revoked_at.ge(since))
        .order(revocations::revoked_at)
        .select((revocations::key, revocations::revoked_at))
        .load(conn)
        .await
}

/// Forgets revocations older than `before`: every token they refused has expired.
pub async fn prune_revocations(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(revocations::table.filter(revocations::revoked_at.lt(before)))
        .execute(conn)
        .await
}

/// When the revocation `key` was recorded, if it was on or after `since`.
pub async fn revocation(
    conn: &mut AsyncPgConnection,
    key: &str,
    since: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    revocations::table
        .filter(revocations::key.eq(key))
        .filter(revocations::revoked_at.ge(since))
        .select(revocations::revoked_at)
        .first(conn)
        .await
        .optional()
}
