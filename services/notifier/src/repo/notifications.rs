//! The in-app inbox.

use super::schema::notifications;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::TenantId;
use herald_contracts::rpc::notifier::NotificationView;
use uuid::Uuid;

pub struct NewNotification<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub source_message_id: &'a str,
}

/// Inserts the notification; `None` when one for the same source message already exists.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    new: &NewNotification<'_>,
) -> QueryResult<Option<Uuid>> {
    let id = Uuid::now_v7();
    let inserted = diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(id),
            notifications::tenant_id.eq(tenant.as_uuid()),
            notifications::kind.eq(new.kind),
            notifications::title.eq(new.title),
            notifications::body.eq(new.body),
            notifications::source_message_id.eq(new.source_message_id),
        ))
        .on_conflict(notifications::source_message_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok((inserted == 1).then_some(id))
}

/// The tenant's notifications, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    limit: i64,
) -> QueryResult<Vec<NotificationView>> {
    let rows: Vec<(Uuid, String, String, String, chrono::DateTime<chrono::Utc>)> =
        notifications::table
            .filter(notifications::tenant_id.eq(tenant.as_uuid()))
            .order((notifications::created_at.desc(), notifications::id.desc()))
            .limit(limit)
            .select((
                notifications::id,
                notifications::kind,
                notifications::title,
                notifications::body,
                notifications::created_at,
            ))
            .load(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, title, body, created_at)| NotificationView {
            id,
            kind,
            title,
            body,
            created_at,
        })
        .collect())
}

/// How many notifications the tenant has (operators and tests).
pub async fn count(conn: &mut AsyncPgConnection, tenant: TenantId) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::tenant_id.eq(tenant.as_uuid()))
        .count()
        .get_result(conn)
        .await
}
