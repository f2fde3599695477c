//! Email deliveries: `pending → sent`, claimed by the delivery worker with row locks.

use super::schema::email_deliveries;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::TenantId;
use uuid::Uuid;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";

pub struct NewDelivery {
    pub message_id: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
}

/// A pending email, locked by the claiming transaction.
#[derive(Debug, Clone, Queryable)]
pub struct PendingDelivery {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub message_id: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Queues one email per item; an item whose Message-ID exists already is skipped.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    notification_id: Uuid,
    items: &[NewDelivery],
) -> QueryResult<usize> {
    if items.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = items
        .iter()
        .map(|item| {
            (
                email_deliveries::id.eq(Uuid::now_v7()),
                email_deliveries::tenant_id.eq(tenant.as_uuid()),
                email_deliveries::notification_id.eq(notification_id),
                email_deliveries::message_id.eq(&item.message_id),
                email_deliveries::to_address.eq(&item.to_address),
                email_deliveries::subject.eq(&item.subject),
                email_deliveries::body.eq(&item.body),
            )
        })
        .collect();
    diesel::insert_into(email_deliveries::table)
        .values(rows)
        .on_conflict(email_deliveries::message_id)
        .do_nothing()
        .execute(conn)
        .await
}

/// Queues one email that belongs to no in-app notification (auth's verification, reset and
/// invitation emails), its body blanked once sent; skipped if its Message-ID exists already.
pub async fn insert_single(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    item: &NewDelivery,
) -> QueryResult<usize> {
    diesel::insert_into(email_deliveries::table)
        .values((
            email_deliveries::id.eq(Uuid::now_v7()),
            email_deliveries::tenant_id.eq(tenant.as_uuid()),
            email_deliveries::message_id.eq(&item.message_id),
            email_deliveries::to_address.eq(&item.to_address),
            email_deliveries::subject.eq(&item.subject),
            email_deliveries::body.eq(&item.body),
            email_deliveries::redact_after_send.eq(true),
        ))
        .on_conflict(email_deliveries::message_id)
        .do_nothing()
        .execute(conn)
        .await
}

/// Locks up to `limit` pending emails of any tenant, oldest first; rows another worker holds
/// are skipped, so replicas never deliver the same row at once.
pub async fn claim_pending(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<PendingDelivery>> {
    email_deliveries::table
        .filter(email_deliveries::state.eq(PENDING))
        .order(email_deliveries::created_at)
        .limit(limit)
        .select((
            email_deliveries::id,
            email_deliveries::tenant_id,
            email_deliveries::message_id,
            email_deliveries::to_address,
            email_deliveries::subject,
            email_deliveries::body,
            email_deliveries::attempts,
            email_deliveries::created_at,
        ))
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Marks claimed rows delivered (one more attempt each).
pub async fn mark_sent(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sent = diesel::update(email_deliveries::table)
        .filter(email_deliveries::id.eq_any(ids))
        .filter(email_deliveries::state.eq(PENDING))
        .set((
            email_deliveries::state.eq(SENT),
            email_deliveries::sent_at.eq(diesel::dsl::now),
            email_deliveries::attempts.eq(email_deliveries::attempts + 1),
        ))
        .execute(conn)
        .await?;
    // Single-use links leave the database once they have left in the email.
    diesel::update(email_deliveries::table)
        .filter(email_deliveries::id.eq_any(ids))
        .filter(email_deliveries::redact_after_send)
        .set(email_deliveries::body.eq(""))
        .execute(conn)
        .await?;
    Ok(sent)
}

/// Counts a failed attempt on claimed rows; they stay pending for the next sweep.
pub async fn record_failed_attempt(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(email_deliveries::table)
        .filter(email_deliveries::id.eq_any(ids))
        .set(email_deliveries::attempts.eq(email_deliveries::attempts + 1))
        .execute(conn)
        .await
}

/// How many of the tenant's emails are in `state` (operators and tests).
pub async fn count(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    state: &str,
) -> QueryResult<i64> {
    email_deliveries::table
        .filter(email_deliveries::tenant_id.eq(tenant.as_uuid()))
        .filter(email_deliveries::state.eq(state))
        .count()
        .get_result(conn)
        .await
}
