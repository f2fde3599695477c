//! A service's part of a GDPR export, implemented once: each service lists the tables it
//! exports ([`ExportTable`]: key columns, secret columns left out, which rows are a user's
//! personal data) and serves its `privacy.export` endpoint with [`serve`]. A page is read
//! tenant by tenant and table by table, through `Db::tenant` (row-level security applies),
//! in key order after the cursor, and filled up to `EXPORT_PAGE_BYTES`.
//!
//! Rows are turned into JSON by Postgres (`to_jsonb(row) - <omitted columns>`), so a column
//! added later is exported without anyone remembering to, and a secret is left out only by
//! naming it in `omit`: a secret column must be named there when it is added.

use crate::App;
use crate::db::Db;
use crate::error::KitError;
use crate::rpc::RpcCtx;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid};
use diesel_async::RunQueryDsl;
use herald_contracts::TenantId;
use herald_contracts::rpc::privacy::{
    EXPORT_PAGE_BYTES, ExportItem, ExportPage, ExportPageRequest,
};
use herald_contracts::rpc::{ErrorCode, Rpc, RpcError};
use serde::{Deserialize, Serialize};

/// Rows read per query while a page fills.
const BATCH: i64 = 200;

/// A single row larger than this cannot travel in a reply under NATS's default 1 MiB
/// `max_payload`; the export fails rather than sending a truncated row.
pub const MAX_ROW_BYTES: usize = 900 * 1024;

/// One exported table of a service's schema. Every exported table has a `tenant_id` column.
#[derive(Debug, Clone, Copy)]
pub struct ExportTable {
    pub table: &'static str,
    /// A unique key, in the order rows are paged (the primary key, so the index serves it).
    pub key: &'static [&'static str],
    /// Columns never exported (secrets such as access tokens).
    pub omit: &'static [&'static str],
    /// In a tenant the user owns: every row (`true`), or only the user's personal rows.
    pub whole_tenant: bool,
    /// SQL condition on the row `t` selecting the user's personal rows (`$3` is the user id,
    /// a uuid); `None`: the table holds no personal data. Used in tenants the user is only a
    /// member of, and in owned tenants when `whole_tenant` is false.
    pub personal: Option<&'static str>,
}

/// Where the next page starts: after row `after` (its key columns as JSON) of `table` in
/// `tenant` (`owned`: exported whole). Opaque to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    tenant: TenantId,
    owned: bool,
    table: String,
    after: Option<serde_json::Value>,
}

/// One (tenant, table) to read, and whether only the user's personal rows are read.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    tenant: TenantId,
    owned: bool,
    table: &'a ExportTable,
    filter: Option<&'static str>,
}

fn units<'a>(tables: &'a [ExportTable], request: &ExportPageRequest) -> Vec<Unit<'a>> {
    let owned = request.owned_tenants.iter().map(|tenant| (*tenant, true));
    let member = request
        .member_tenants
        .iter()
        .filter(|tenant| !request.owned_tenants.contains(tenant))
        .map(|tenant| (*tenant, false));
    let mut units = Vec::new();
    for (tenant, owned) in owned.chain(member) {
        for table in tables {
            let filter = if owned && table.whole_tenant {
                None
            } else if let Some(personal) = table.personal {
                Some(personal)
            } else {
                continue;
            };
            units.push(Unit {
                tenant,
                owned,
                table,
                filter,
            });
        }
    }
    units
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    json: String,
    #[diesel(sql_type = Text)]
    key: String,
}

/// The page query of `unit`. Table and column names are the service's constants, never input.
fn page_sql(unit: &Unit<'_>) -> String {
    let table = unit.table.table;
    let columns = unit.table.key.join(", ");
    let row_key = unit
        .table
        .key
        .iter()
        .map(|column| format!("t.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let key_object = unit
        .table
        .key
        .iter()
        .map(|column| format!("'{column}', t.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = unit.filter.unwrap_or("TRUE");
    // The cursor's key is read back into the table's own row type, so the comparison is on
    // the key columns' real types and the primary key's index serves it.
    format!(
        "SELECT (to_jsonb(t) - $4::text[])::text AS json, jsonb_build_object({key_object})::text AS key \
         FROM {table} t \
         WHERE t.tenant_id = $1 AND ({filter}) AND $3::uuid IS NOT NULL \
           AND ($2::jsonb IS NULL OR ({row_key}) > (SELECT {columns} FROM jsonb_populate_record(NULL::{table}, $2::jsonb))) \
         ORDER BY {row_key} LIMIT $5"
    )
}

fn internal(what: &str, error: impl std::fmt::Display) -> RpcError {
    tracing::error!(error = %error, "export: {what}");
    RpcError::internal()
}

/// One page of `tables` for `request`, at most about `EXPORT_PAGE_BYTES` of rows (a single
/// larger row goes alone, up to [`MAX_ROW_BYTES`]).
pub async fn export_page(
    db: &Db,
    tables: &[ExportTable],
    request: &ExportPageRequest,
) -> Result<ExportPage, RpcError> {
    let units = units(tables, request);
    let (mut index, mut after) = match &request.cursor {
        None => (0, None),
        Some(raw) => {
            let cursor: Cursor =
                serde_json::from_str(raw).map_err(|_| RpcError::invalid("malformed cursor"))?;
            let index = units
                .iter()
                .position(|unit| {
                    unit.tenant == cursor.tenant
                        && unit.owned == cursor.owned
                        && unit.table.table == cursor.table
                })
                .ok_or_else(|| RpcError::invalid("cursor does not match the request"))?;
            (index, cursor.after.map(|after| after.to_string()))
        }
    };
    let user = request.user_id.as_uuid();
    let mut items = Vec::new();
    let mut bytes = 0usize;
    while let Some(unit) = units.get(index) {
        let sql = page_sql(unit);
        let omit: Vec<String> = unit.table.omit.iter().map(|c| (*c).to_owned()).collect();
        let mut conn = db
            .tenant(unit.tenant)
            .await
            .map_err(|_| RpcError::unavailable())?;
        loop {
            let rows: Vec<Row> = diesel::sql_query(&sql)
                .bind::<Uuid, _>(unit.tenant.as_uuid())
                .bind::<Nullable<Text>, _>(after.as_deref())
                .bind::<Uuid, _>(user)
                .bind::<Array<Text>, _>(&omit)
                .bind::<BigInt, _>(BATCH)
                .load(&mut conn)
                .await
                .map_err(|error| internal(unit.table.table, error))?;
            let read = rows.len();
            for row in rows {
                let size = row.json.len() + unit.table.table.len() + 80;
                if size > MAX_ROW_BYTES {
                    return Err(internal(unit.table.table, "a row is larger than a reply"));
                }
                if !items.is_empty() && bytes + size > EXPORT_PAGE_BYTES {
                    let cursor = Cursor {
                        tenant: unit.tenant,
                        owned: unit.owned,
                        table: unit.table.table.to_owned(),
                        after: after
                            .as_deref()
                            .map(serde_json::from_str)
                            .transpose()
                            .map_err(|error| internal("cursor", error))?,
                    };
                    let next = serde_json::to_string(&cursor)
                        .map_err(|error| internal("cursor", error))?;
                    return Ok(ExportPage {
                        items,
                        next_cursor: Some(next),
                    });
                }
                let value: serde_json::Value =
                    serde_json::from_str(&row.json).map_err(|error| internal("row", error))?;
                bytes += size;
                after = Some(row.key);
                items.push(ExportItem {
                    tenant_id: Some(unit.tenant),
                    table: unit.table.table.to_owned(),
                    row: value,
                });
            }
            if read < BATCH as usize {
                break;
            }
        }
        index += 1;
        after = None;
    }
    Ok(ExportPage {
        items,
        next_cursor: None,
    })
}

/// Answers a `privacy.export` request. Only auth calls these endpoints, on the internal bus
/// and without a caller identity; a request carrying an identity came the way gateway calls
/// come and is refused.
pub async fn handle(
    db: &Db,
    tables: &[ExportTable],
    ctx: &RpcCtx,
    request: ExportPageRequest,
) -> Result<ExportPage, RpcError> {
    if ctx.identity.is_some() {
        return Err(RpcError::new(
            ErrorCode::Forbidden,
            "an internal endpoint of the export coordinator",
        ));
    }
    tracing::info!(
        export.id = %request.export_id,
        tenants = request.owned_tenants.len() + request.member_tenants.len(),
        first_page = request.cursor.is_none(),
        "export page requested"
    );
    export_page(db, tables, &request).await
}

/// Serves the service's `privacy.export` endpoint `R` over `tables`.
pub async fn serve<R>(app: &mut App, tables: &'static [ExportTable]) -> Result<(), KitError>
where
    R: Rpc<Request = ExportPageRequest, Response = ExportPage>,
{
    let db = app.db()?;
    app.serve::<R>(move |ctx: RpcCtx, request: ExportPageRequest| {
        let db = db.clone();
        async move { handle(&db, tables, &ctx, request).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: &[ExportTable] = &[
        ExportTable {
            table: "accounts",
            key: &["id"],
            omit: &["access_token"],
            whole_tenant: true,
            personal: None,
        },
        ExportTable {
            table: "recipients",
            key: &["tenant_id", "user_id"],
            omit: &[],
            whole_tenant: true,
            personal: Some("t.user_id = $3"),
        },
    ];

    #[test]
    fn member_tenants_export_only_personal_tables() {
        let owned = TenantId::new();
        let member = TenantId::new();
        let request = ExportPageRequest {
            export_id: uuid::Uuid::new_v4(),
            user_id: herald_contracts::UserId::new(),
            owned_tenants: vec![owned],
            member_tenants: vec![member, owned],
            cursor: None,
        };
        let units = units(TABLES, &request);
        let described: Vec<_> = units
            .iter()
            .map(|u| (u.tenant, u.table.table, u.filter.is_some()))
            .collect();
        assert_eq!(
            described,
            [
                (owned, "accounts", false),
                (owned, "recipients", false),
                (member, "recipients", true),
            ]
        );
        let sql = page_sql(&units[2]);
        assert!(sql.contains("(t.user_id = $3)"), "{sql}");
        assert!(sql.contains("ORDER BY t.tenant_id, t.user_id"), "{sql}");
    }
}
