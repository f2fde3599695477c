//! Queries on renderer's tables; every function takes the tenant.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{RenderId, TenantId};

diesel::table! {
    renders (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        design -> Jsonb,
        design_hash -> Text,
        status -> Text,
        width -> Integer,
        height -> Integer,
        object_key -> Nullable<Text>,
        content_hash -> Nullable<Text>,
        bytes -> Nullable<BigInt>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = renders)]
pub struct Render {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub design: serde_json::Value,
    pub design_hash: String,
    pub status: String,
    pub width: i32,
    pub height: i32,
    pub object_key: Option<String>,
    pub content_hash: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub struct NewRender<'a> {
    pub id: RenderId,
    pub design: serde_json::Value,
    pub design_hash: &'a str,
    pub width: i32,
    pub height: i32,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    new: NewRender<'_>,
) -> QueryResult<Render> {
    diesel::insert_into(renders::table)
        .values((
            renders::id.eq(new.id.as_uuid()),
            renders::tenant_id.eq(tenant.as_uuid()),
            renders::design.eq(new.design),
            renders::design_hash.eq(new.design_hash),
            renders::status.eq("pending"),
            renders::width.eq(new.width),
            renders::height.eq(new.height),
        ))
        .returning(Render::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: RenderId,
) -> QueryResult<Option<Render>> {
    renders::table
        .filter(renders::tenant_id.eq(tenant.as_uuid()))
        .filter(renders::id.eq(id.as_uuid()))
        .select(Render::as_select())
        .first(conn)
        .await
        .optional()
}

/// Where the completed render with this content hash is stored, whichever tenant made it
/// (content-addressed: the same bytes are the same object). Needs a system-scoped connection:
/// under a tenant's scope only that tenant's renders are found.
pub async fn object_by_hash(
    conn: &mut AsyncPgConnection,
    content_hash: &str,
) -> QueryResult<Option<String>> {
    renders::table
        .filter(renders::content_hash.eq(content_hash))
        .filter(renders::status.eq("completed"))
        .select(renders::object_key.assume_not_null())
        .first(conn)
        .await
        .optional()
}

/// pending → completed, once; returns whether this call made the transition.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: RenderId,
    object_key: &str,
    content_hash: &str,
    bytes: i64,
) -> QueryResult<bool> {
    let changed = diesel::update(renders::table)
        .filter(renders::tenant_id.eq(tenant.as_uuid()))
        .filter(renders::id.eq(id.as_uuid()))
        .filter(renders::status.eq("pending"))
        .set((
            renders::status.eq("completed"),
            renders::object_key.eq(object_key),
            renders::content_hash.eq(content_hash),
            renders::bytes.eq(bytes),
            renders::completed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// pending → failed, once.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: RenderId,
    error: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(renders::table)
        .filter(renders::tenant_id.eq(tenant.as_uuid()))
        .filter(renders::id.eq(id.as_uuid()))
        .filter(renders::status.eq("pending"))
        .set((
            renders::status.eq("failed"),
            renders::error.eq(error),
            renders::completed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}
