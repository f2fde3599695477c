//! Queries on billing's tables; every function takes the tenant.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::TenantId;
use herald_contracts::rpc::billing::UsageItem;

diesel::table! {
    usage_ledger (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        metric -> Text,
        quantity -> BigInt,
        source_message_id -> Text,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
    }
}

pub async fn record_usage(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    metric: &str,
    quantity: i64,
    source_message_id: &str,
    occurred_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(usage_ledger::table)
        .values((
            usage_ledger::id.eq(uuid::Uuid::now_v7()),
            usage_ledger::tenant_id.eq(tenant.as_uuid()),
            usage_ledger::metric.eq(metric),
            usage_ledger::quantity.eq(quantity),
            usage_ledger::source_message_id.eq(source_message_id),
            usage_ledger::occurred_at.eq(occurred_at),
        ))
        .on_conflict((usage_ledger::metric, usage_ledger::source_message_id))
        .do_nothing()
        .execute(conn)
        .await
}

pub async fn usage_totals(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Vec<UsageItem>> {
    // sum(bigint) is numeric in Postgres; the cast keeps money-style integers integral.
    let rows: Vec<(String, i64)> = usage_ledger::table
        .filter(usage_ledger::tenant_id.eq(tenant.as_uuid()))
        .group_by(usage_ledger::metric)
        .select((
            usage_ledger::metric,
            diesel::dsl::sql::<diesel::sql_types::BigInt>("sum(quantity)::bigint"),
        ))
        .order(usage_ledger::metric)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(metric, quantity)| UsageItem { metric, quantity })
        .collect())
}
