//! API keys, stored with only the sha256 of their secret. Tenant-owned (row-level security):
//! every query here runs on a connection acting for the key's tenant, except the start-up
//! republish, which reads every tenant's active keys on a system connection.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{TenantId, UserId};

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        role -> Text,
        created_by -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

pub struct NewApiKey<'a> {
    pub id: uuid::Uuid,
    pub name: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: Vec<String>,
    pub role: &'a str,
    pub created_by: UserId,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored key: everything but the secret's hash (see [`StoredApiKeyWithHash`]).
#[derive(Debug, Clone, Queryable)]
pub struct StoredApiKey {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub role: String,
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A stored key and its hash: what the gateways' bucket is built from.
#[derive(Debug, Clone, Queryable)]
pub struct StoredApiKeyWithHash {
    pub key: StoredApiKey,
    pub secret_hash: Vec<u8>,
}

type Columns = (
    api_keys::id,
    api_keys::tenant_id,
    api_keys::name,
    api_keys::scopes,
    api_keys::role,
    api_keys::created_by,
    api_keys::created_at,
    api_keys::expires_at,
    api_keys::revoked_at,
    api_keys::last_used_at,
);

const COLUMNS: Columns = (
    api_keys::id,
    api_keys::tenant_id,
    api_keys::name,
    api_keys::scopes,
    api_keys::role,
    api_keys::created_by,
    api_keys::created_at,
    api_keys::expires_at,
    api_keys::revoked_at,
    api_keys::last_used_at,
);

pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    key: NewApiKey<'_>,
) -> QueryResult<StoredApiKey> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(key.id),
            api_keys::tenant_id.eq(tenant.as_uuid()),
            api_keys::name.eq(key.name),
            api_keys::secret_hash.eq(key.secret_hash),
            api_keys::scopes.eq(key.scopes),
            api_keys::role.eq(key.role),
            api_keys::created_by.eq(key.created_by.as_uuid()),
            api_keys::expires_at.eq(key.expires_at),
        ))
        .returning(COLUMNS)
        .get_result(conn)
        .await
}

/// The tenant's keys, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Vec<StoredApiKey>> {
    api_keys::table
        .filter(api_keys::tenant_id.eq(tenant.as_uuid()))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select(COLUMNS)
        .load(conn)
        .await
}

/// The key, with its hash, locked until the transaction ends.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: uuid::Uuid,
) -> QueryResult<Option<StoredApiKeyWithHash>> {
    api_keys::table
        .filter(api_keys::tenant_id.eq(tenant.as_uuid()))
        .filter(api_keys::id.eq(id))
        .select((COLUMNS, api_keys::secret_hash))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Marks the key revoked (if it is not already).
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: uuid::Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::tenant_id.eq(tenant.as_uuid()))
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(at))
    .execute(conn)
    .await
}

/// Revokes every active key `creator` made in the tenant (the creator left it); their ids.
pub async fn revoke_created_by(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    creator: UserId,
    at: DateTime<Utc>,
) -> QueryResult<Vec<uuid::Uuid>> {
    diesel::update(
        api_keys::table
            .filter(api_keys::tenant_id.eq(tenant.as_uuid()))
            .filter(api_keys::created_by.eq(creator.as_uuid()))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(at))
    .returning(api_keys::id)
    .get_results(conn)
    .await
}

/// Records a use reported by a gateway: the later of the stored time and `at`.
pub async fn touch(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: uuid::Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE api_keys SET last_used_at = greatest(last_used_at, $3)
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .execute(conn)
    .await
}

/// Every tenant's keys that are not revoked (expired ones too: gateways refuse those by their
/// `expires_at`), with their hashes. On a system connection.
pub async fn all_active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<StoredApiKeyWithHash>> {
    api_keys::table
        .filter(api_keys::revoked_at.is_null())
        .select((COLUMNS, api_keys::secret_hash))
        .load(conn)
        .await
}
