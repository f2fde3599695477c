//! auth's own part of an export, read locally: the user's record (without the password hash),
//! the owned tenants' records, and the tables below through the kit's export pager (the same
//! paging and secret handling as every other service's part).

use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::privacy::{ExportItem, ExportPageRequest};
use herald_contracts::{TenantId, UserId};
use herald_kit::db::Db;
use herald_kit::diesel_async::RunQueryDsl;
use herald_kit::privacy_export::{ExportTable, export_page};

/// auth's tenant-owned tables in an export. Hashes of secrets (refresh tokens, API keys,
/// invitations) are never exported, nor are the single-use email tokens. Sessions are each
/// user's own: an owner's export holds their own, not their members'.
pub const TABLES: &[ExportTable] = &[
    ExportTable {
        table: "memberships",
        key: &["tenant_id", "user_id"],
        omit: &[],
        whole_tenant: true,
        personal: Some("t.user_id = $3"),
    },
    ExportTable {
        table: "refresh_tokens",
        key: &["id"],
        omit: &["token_hash"],
        whole_tenant: false,
        personal: Some("t.user_id = $3"),
    },
    ExportTable {
        table: "api_keys",
        key: &["id"],
        omit: &["secret_hash"],
        whole_tenant: true,
        personal: Some("t.created_by = $3"),
    },
    ExportTable {
        table: "invitations",
        key: &["id"],
        omit: &["token_hash"],
        whole_tenant: true,
        personal: Some("t.accepted_by = $3"),
    },
    ExportTable {
        table: "audit_events",
        key: &["event_id"],
        omit: &[],
        whole_tenant: true,
        personal: Some("t.actor_type = 'user' AND t.actor_id = $3::text"),
    },
    ExportTable {
        table: "exports",
        key: &["id"],
        omit: &["archive"],
        whole_tenant: false,
        personal: Some("t.user_id = $3"),
    },
];

#[derive(diesel::QueryableByName)]
struct Json {
    #[diesel(sql_type = diesel::sql_types::Text)]
    json: String,
}

fn internal(what: &str, error: impl std::fmt::Display) -> RpcError {
    tracing::error!(error = %error, "export: {what}");
    RpcError::internal()
}

fn parse(row: Json) -> Result<serde_json::Value, RpcError> {
    serde_json::from_str(&row.json).map_err(|error| internal("row", error))
}

/// Every item of auth's part of `request`.
pub async fn section(db: &Db, request: &ExportPageRequest) -> Result<Vec<ExportItem>, RpcError> {
    let mut items = records(db, request.user_id, &request.owned_tenants).await?;
    let mut page_request = request.clone();
    loop {
        let page = export_page(db, TABLES, &page_request).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => page_request.cursor = Some(cursor),
            None => return Ok(items),
        }
    }
}

/// The user's own record and the owned tenants' records (tables without a `tenant_id`).
async fn records(db: &Db, user: UserId, owned: &[TenantId]) -> Result<Vec<ExportItem>, RpcError> {
    // users and tenants are not tenant-owned rows (a user spans tenants; a tenant is keyed by
    // its own id): the export reads exactly the user's row and the owned tenants' rows.
    let mut conn = db
        .system("export: the user's and the owned tenants' records")
        .await
        .map_err(|_| RpcError::unavailable())?;
    let users: Vec<Json> = diesel::sql_query(
        "SELECT (to_jsonb(u) - 'password_hash')::text AS json FROM users u WHERE u.id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
    .load(&mut conn)
    .await
    .map_err(|error| internal("users", error))?;
    let mut items = Vec::new();
    for row in users {
        items.push(ExportItem {
            tenant_id: None,
            table: "users".into(),
            row: parse(row)?,
        });
    }
    let ids: Vec<uuid::Uuid> = owned.iter().map(TenantId::as_uuid).collect();
    let tenants: Vec<Json> = diesel::sql_query(
        "SELECT to_jsonb(t)::text AS json FROM tenants t WHERE t.id = ANY($1) ORDER BY t.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&ids)
    .load(&mut conn)
    .await
    .map_err(|error| internal("tenants", error))?;
    for row in tenants {
        let value = parse(row)?;
        let tenant = value["id"].as_str().and_then(|id| TenantId::parse(id).ok());
        items.push(ExportItem {
            tenant_id: tenant,
            table: "tenants".into(),
            row: value,
        });
    }
    Ok(items)
}

#[derive(diesel::QueryableByName)]
struct Membership {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    role: String,
}

/// The tenants `user` owns and the other tenants they are a member of, each in a stable order.
pub async fn tenants_of(db: &Db, user: UserId) -> Result<(Vec<TenantId>, Vec<TenantId>), RpcError> {
    // A user's memberships span tenants: which tenants the export covers is decided here, by
    // auth, from every tenant's memberships (the services export what this list names).
    let mut conn = db
        .system("export: the user's memberships in every tenant")
        .await
        .map_err(|_| RpcError::unavailable())?;
    let rows: Vec<Membership> = diesel::sql_query(
        "SELECT tenant_id, role FROM memberships WHERE user_id = $1 ORDER BY tenant_id",
    )
    .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
    .load(&mut conn)
    .await
    .map_err(|error| internal("memberships", error))?;
    let (owned, member): (Vec<_>, Vec<_>) = rows.into_iter().partition(|row| row.role == "owner");
    Ok((
        owned
            .into_iter()
            .map(|row| TenantId::from_uuid(row.tenant_id))
            .collect(),
        member
            .into_iter()
            .map(|row| TenantId::from_uuid(row.tenant_id))
            .collect(),
    ))
}
